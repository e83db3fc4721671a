"""No message is ever served under another message's number. The state an APPEND
killed between syncing its index record and removing its dotlock used to leave (the
record names bytes that the next writer's undo of the "interrupted append" cuts, and a
new delivery then fills) is built here by hand: the index lists UID 5, and a dotlock of
a dead writer of ours names the mbox size before UID 5. Then:
- `check` reports it (not "consistent");
- a session that listed UID 5 before a deliver ran must answer it as gone afterwards,
  never with the newly delivered message's bytes;
- afterwards POP3 and IMAP agree and `check` is clean;
- and a message still there is served after such a check: a POP3 session open across a
  delivery that completed another tool's last line still reads it.
That an APPEND no longer leaves this state, killed at any of its system calls, is
tests/e2e/crash_harness.py's part."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import imap_login, pop3_login  # noqa: E402

env = Env()
env.add_user("alice", "secret")
box = env.inbox("alice")
msgs = [make_msg(i, "wrong message %d" % i) for i in range(1, 5)]
for m in msgs:
    env.deliver("alice", m)


def body(m, uid):
    typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
    for d in data:
        if isinstance(d, tuple):
            return typ, d[1].replace(b"\r\n", b"\n")
    return typ, None


def uids(m):
    typ, data = m.uid("SEARCH", "ALL")
    return [int(x) for x in data[0].split()]


def run_check():
    r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode()


s, m = imap_login(env)
m.select("INBOX")
size_before = os.path.getsize(box)
fifth = make_msg(5, "appended fifth")
typ, data = m.append("INBOX", None, None, fifth)
check("APPEND of UID 5 acknowledged", typ == "OK" and b"APPENDUID" in data[0], data)
m.logout()
s.wait()

# A dead writer of ours: a process that has exited.
p = subprocess.Popen(["true"])
p.wait()
boot = open("/proc/sys/kernel/random/boot_id").read().strip()
with open(box + ".lock", "w") as f:
    f.write("%d %d %s\n" % (p.pid, size_before, boot))
st = os.stat(box)
os.chown(box + ".lock", st.st_uid, st.st_gid)

rc, out = run_check()
check("check reports an indexed message inside an interrupted append", rc == 1 and
      "indexed message in the bytes of an interrupted append (uid 5)" in out, out)

sb, b = imap_login(env)
b.select("INBOX")
listed = uids(b)
check("a session open before the next write lists UIDs 1-5", listed == [1, 2, 3, 4, 5], listed)
other = make_msg(99, "delivered later", body_lines=3)
check("deliver after it: exit 0", env.deliver("alice", other) == 0)
typ, got = body(b, 5)
check("that session never serves the new message's bytes under UID 5",
      got is None or other[:len(got)] != got, got)
check("... it answers UID 5 as gone", got is None, (typ, got))
for u in (1, 2, 3, 4):
    typ, got = body(b, u)
    check("... UID %d still its own message" % u, got == msgs[u - 1], got)
b.noop()
after = uids(b)
b.logout()
sb.wait()
check("after NOOP: UID 5 gone, the new message under a new UID",
      after[:4] == [1, 2, 3, 4] and len(after) == 5 and after[4] > 5, after)

s, m = imap_login(env)
m.select("INBOX")
imap_bodies = [body(m, u)[1] for u in uids(m)]
m.logout()
s.wait()
sp, p3 = pop3_login(env)
n = p3.stat()[0]
pop_bodies = [b"\n".join(p3.retr(i)[1]) + b"\n" for i in range(1, n + 1)]
p3.quit()
sp.wait()
check("POP3 and IMAP list the same messages", pop_bodies == imap_bodies,
      (len(pop_bodies), len(imap_bodies)))
check("... the four first and the new one", imap_bodies == msgs + [other], len(imap_bodies))
rc, out = run_check()
check("check clean afterwards", rc == 0 and "result: consistent" in out, out)

# The other way round: a message that is still there is served, also when the mbox
# changed since the session looked. The hard case: another tool's last message without
# a final LF, which the next delivery's separator completes.
env.add_user("bob", "secret")
bbox = env.inbox("bob")
os.makedirs(os.path.dirname(bbox), exist_ok=True)
with open(bbox, "wb") as f:
    f.write(b"From tool@example.org Sat Nov 28 12:00:00 2026\nSubject: no final LF\n\n"
            b"last line without its LF")
st = os.stat(env.mail)
os.chown(os.path.dirname(bbox), st.st_uid, st.st_gid)
os.chown(bbox, st.st_uid, st.st_gid)
# POP3: the session never re-reads the index, so the message is checked again.
s, p = pop3_login(env, "bob")
before = p.retr(1)[1]
check("bob: deliver after the open line", env.deliver("bob", make_msg(7, "next")) == 0)
try:
    after = p.retr(1)[1]
except Exception as e:  # -ERR: answered as gone
    after = repr(e)
check("a POP3 session open across it still serves the message without a final LF",
      after == before and after[-1] == b"last line without its LF", (before, after))
p.quit()
s.wait()
env.close()
done()
