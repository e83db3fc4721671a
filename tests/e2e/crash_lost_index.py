"""`check` with a missing state file: for a folder never opened it is normal (deliver
does not index; exit 0); for one that sessions opened before, flags, keywords and
deletions not yet compacted were lost with it: check says so, exits 1, and
`check --repair` indexes the mbox anew (then clean)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import imap_login  # noqa: E402

env = Env()
env.add_user("alice", "secret")
for i in range(3):
    env.deliver("alice", make_msg(i, "lost index %d" % i))
idx = os.path.join(env.mail, "alice", ".mailnook", "INBOX.idx")


def run_check(*args):
    r = subprocess.run(env.cmd("check", *args, "alice"), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode()


rc, out = run_check()
check("never opened: no index yet is no problem (exit 0)", rc == 0 and
      "index: none yet" in out and "result: consistent" in out, out)

s, m = imap_login(env)
m.select("INBOX")
m.uid("STORE", "1", "+FLAGS", "(\\Flagged \\Seen)")
m.logout()
s.wait()
os.unlink(idx)

rc, out = run_check()
check("opened before, index gone: check exits 1", rc == 1, (rc, out))
check("... and says flags, keywords and pending deletions were lost",
      "index missing: flags, keywords and pending deletions lost" in out and
      "flags and keywords of every message" in out and "expunged but not yet compacted" in out
      and "new UIDVALIDITY" in out, out)
check("... without making an index (that is --repair's or the next open's)",
      not os.path.exists(idx))
rc, out = run_check("--repair")
check("check --repair indexes the mbox anew", rc == 1 and "rebuilt: 3 messages" in out and
      os.path.exists(idx), out)
rc, out = run_check()
check("then clean", rc == 0 and "result: consistent" in out, out)
env.close()
done()
