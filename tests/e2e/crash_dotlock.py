"""Dotlocks that no live writer holds never stall anyone for long, and ours are never
seen empty: an empty INBOX.lock (`touch`, or another tool killed between create and
write) is stale after a few seconds, so deliver, SELECT, EXPUNGE and LOGOUT finish (the
bound, 15 s, is generous: the old behaviour was 60 s and more per command); a deliver
killed right before writing its dotlock's contents leaves no dotlock at all (the
contents are written before the lock file appears); a session with nothing to compact
takes no lock at close even while another program's live dotlock is there."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import imap_login, strace_prefix  # noqa: E402

BOUND = 15.0
env = Env()
env.add_user("alice", "secret")
box = env.inbox("alice")
lock = box + ".lock"
for i in range(6):
    env.deliver("alice", make_msg(i, "dotlock %d" % i, body_lines=50))


def timed(fn):
    t0 = time.monotonic()
    r = fn()
    t = time.monotonic() - t0
    print("# took %.1f s" % t, flush=True)
    return r, t


def touch_lock(text=b""):
    with open(lock, "wb") as f:
        f.write(text)
    os.chown(lock, *owner())


def owner():
    st = os.stat(box)
    return st.st_uid, st.st_gid


# deliver with an empty dotlock
touch_lock()
rc, t = timed(lambda: env.deliver("alice", make_msg(10, "past an empty dotlock")))
check("deliver past an empty dotlock: exit 0 within %.0f s" % BOUND, rc == 0 and t < BOUND,
      (rc, round(t, 1)))
check("... the empty dotlock is gone", not os.path.exists(lock))

# IMAP SELECT, EXPUNGE (compacts: dead bytes over a quarter), LOGOUT with one
touch_lock(b"garbage\n")


def expunge_session():
    s, m = imap_login(env)
    typ, data = m.select("INBOX")
    n = int(data[0])
    m.store("1:4", "+FLAGS", "(\\Deleted)")
    typ2, _ = m.expunge()
    m.logout()
    return n, typ, typ2, s.wait()


(n, typ, typ2, rc), t = timed(expunge_session)
check("SELECT, STORE, EXPUNGE, LOGOUT past an unparseable dotlock within %.0f s" % BOUND,
      typ == "OK" and typ2 == "OK" and rc == 0 and t < BOUND, (typ, typ2, rc, round(t, 1)))
check("... 7 messages selected", n == 7, n)

# Our dotlock is complete or absent: a kill before its contents are written leaves none.
# (the automatic compaction gave up on the lock after a short wait: it stays meanwhile)
os.unlink(lock)
snap = open(box, "rb").read()
r = subprocess.run(strace_prefix(kill=("write", 1)) + env.cmd("deliver", "alice"),
                   input=make_msg(11, "killed"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
check("deliver killed before its dotlock's contents", r.returncode in (-9, 137), r.returncode)
check("... left no dotlock", not os.path.exists(lock))
check("... and the INBOX as it was", open(box, "rb").read() == snap)
rc, t = timed(lambda: env.deliver("alice", make_msg(12, "after the kill")))
check("next deliver: exit 0 within %.0f s" % BOUND, rc == 0 and t < BOUND, (rc, round(t, 1)))

# A live program's dotlock: a session with nothing to compact is not held up by it.
r = subprocess.run(env.cmd("check", "--compact", "alice"), stdout=subprocess.PIPE)
check("the dead bytes of the EXPUNGE compacted first",
      r.returncode == 0 and b"compacted:" in r.stdout, r.stdout)
sleeper = subprocess.Popen(["sleep", "120"])
touch_lock(b"%d\n" % sleeper.pid)


def readonly_session():
    s, m = imap_login(env)
    typ, data = m.select("INBOX")
    m.fetch("1:*", "(FLAGS)")
    m.logout()
    return typ, s.wait()


# The new mail of the last deliver gets indexed by a first session (read lock only).
(typ, rc), t = timed(readonly_session)
check("SELECT/FETCH/LOGOUT while a live process holds the dotlock: within %.0f s" % BOUND,
      typ == "OK" and rc == 0 and t < BOUND, (typ, rc, round(t, 1)))
(typ, rc), t = timed(readonly_session)
check("... and again on the unchanged folder", typ == "OK" and rc == 0 and t < BOUND,
      (typ, rc, round(t, 1)))
check("... the live dotlock left alone", os.path.exists(lock))
sleeper.kill()
sleeper.wait()
os.unlink(lock)

env.close()
done()
