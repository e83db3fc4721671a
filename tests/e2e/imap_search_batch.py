"""SEARCH BODY / TEXT over more messages than one read-lock batch (STORE_READ_BATCH_MSGS),
in one real session, while a second session expunges a large part of the folder (its
compaction runs whenever the searching session lets go of the mbox between batches or
commands) and a delivery waits for the mbox write lock. Every answer is exact: a message
the other session left alone always matches, one compacted away never does, the delivery
gets in, and once the compaction has surely run (the searching session idle) searches
and FETCH BODY[] follow the moved bytes. Counted with strace: a search takes the mbox
lock once per batch and reads each (small) message with one pread."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from imapc import Session  # noqa: E402
from lib import Env, check, done, free_port, make_msg  # noqa: E402
from crashlib import IMAP as TracedIMAP, Session as Traced, param  # noqa: E402

BATCH = param("STORE_READ_BATCH_MSGS")
N = BATCH * 2 + BATCH // 2  # three batches
GONE = set(range(300, 900)) | set(range(1500, 2100))  # UIDs; half the folder
LATE = N  # UID expunged once the searching session is idle


def message(i):
    head = ("From: s%d@example.org\nTo: alice@test.example\nSubject: batch %d\n\n"
            % (i, i)).encode()
    body = b"".join(b"%04d line of message %06d w%06d common text to fill it\n"
                    % (j, i, i) for j in range(14))
    return head + body


FROM = b"From s%d@example.org Sat Nov 28 10:00:00 2026\n"
env = Env()
env.add_user("alice", "secret")
env.deliver("alice", make_msg(0, "first"))  # UID 1; creates the folder's side files
# Written straight into the mbox as any MDA would: message i gets UID i + 1.
with open(env.inbox("alice"), "ab") as f:
    for i in range(1, N + 1):
        f.write(FROM % i + message(i) + b"\n")
ALL = set(range(2, N + 2))
IMAP = free_port()
env.serve("listen=127.0.0.1:%d imap" % IMAP)


def uids(lines):
    out = set()
    for ln in lines:
        if ln.startswith(b"* SEARCH"):
            out |= {int(x) for x in ln.split()[2:]}
    return out


def send_all(c, cmds):
    """Send all commands at once (pipelined); their tags."""
    tags = ["p%d" % k for k in range(len(cmds))]
    c.send("".join("%s %s\r\n" % (t, x) for t, x in zip(tags, cmds)))
    return tags


def replies(c, tags):
    """(untagged, tagged) of each command sent by send_all, in order."""
    out = []
    for t in tags:
        untagged = []
        while True:
            ln = c.line()
            if ln.startswith(t.encode() + b" "):
                out.append((untagged, ln))
                break
            untagged.append(ln)
    return out


def stored_len(i):
    """Bytes message i takes in the mbox: From_ line, content, separator."""
    return len(FROM % i) + len(message(i)) + 1


a = Session(IMAP)
b = Session(IMAP)
check("searching session selects all %d messages" % (N + 1),
      b"* %d EXISTS" % (N + 1) in a.ok("SELECT INBOX")[0])
b.ok("SELECT INBOX")
size0 = os.path.getsize(env.inbox("alice"))

# The searches go out first; the other session and the delivery run while they are read.
SEARCHES = ["UID SEARCH BODY common", "UID SEARCH TEXT w%06d" % (N - 1),
            "UID SEARCH BODY common", "UID SEARCH BODY w%06d" % 1600,
            "UID SEARCH TEXT common", "UID SEARCH BODY w%06d" % 5]
tags = send_all(a, SEARCHES)
NEW = make_msg(99, "late", body_lines=2).replace(b"line 0", b"common w999999")
dlv = subprocess.Popen(env.cmd("deliver", "alice"), stdin=subprocess.PIPE,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
b.ok("UID STORE %s +FLAGS.SILENT (\\Deleted)" % ",".join(
    "%d:%d" % (min(r), max(r)) for r in (range(300, 900), range(1500, 2100))))
_, t = b.cmd("EXPUNGE")
check("the other session's EXPUNGE succeeds while the searches run", b" OK " in t, t)
dlv.communicate(NEW)
check("a delivery during the searches gets the write lock", dlv.returncode == 0,
      dlv.returncode)
replies = replies(a, tags)
check("every search answers OK", all(b" OK " in r[1] for r in replies),
      [r[1] for r in replies])
KEEP = ALL - GONE
common = [uids(replies[k][0]) for k in (0, 2, 4)]
check("BODY/TEXT common during the expunge: every message left alone, nothing but the "
      "folder's", all(KEEP <= r <= ALL | {N + 2} for r in common),
      [(len(KEEP - r), sorted(r - ALL)[:5]) for r in common])
check("unique words found in the last batch and the first", uids(replies[1][0]) == {N}
      and uids(replies[5][0]) == {6}, (uids(replies[1][0]), uids(replies[5][0])))
check("a word of an expunged message matches nothing or that message",
      uids(replies[3][0]) <= {1601}, uids(replies[3][0]))

# The searching session is idle now (holds no lock): this expunge's compaction runs if
# the first one did not (it alone is not worth one: it may stay as dead bytes).
b.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % LATE)
b.ok("EXPUNGE")
size1 = os.path.getsize(env.inbox("alice"))
dead = sum(stored_len(u - 1) for u in GONE)
check("the expunged messages are compacted away (%d -> %d bytes)" % (size0, size1),
      size0 - dead - stored_len(LATE - 1) < size1 <= size0 - dead + 1024,
      (size0, size1, dead))

r = uids(a.ok("UID SEARCH BODY common")[0]) - {N + 2, LATE}
check("a search right after the compaction follows the moved bytes: exactly the "
      "messages left", r == KEEP - {LATE}, (len(r), len(KEEP), sorted(r ^ KEEP)[:5]))
KEEP -= {LATE}
a.ok("NOOP")
r = uids(a.ok("UID SEARCH TEXT common")[0])
check("after NOOP, TEXT common is exactly the messages left plus the delivered one",
      r == KEEP | {N + 2}, sorted(r ^ (KEEP | {N + 2}))[:5])
check("BODY w999999 finds the delivered message",
      uids(a.ok("UID SEARCH BODY w999999")[0]) == {N + 2})
check("a compacted-away message's word matches nothing",
      uids(a.ok("UID SEARCH BODY w%06d" % 700)[0]) == set())
for u in (2, 299, 900, 2100, N - 1):
    got = a.ok("UID FETCH %d BODY.PEEK[]" % u)[0]
    want = message(u - 1).replace(b"\n", b"\r\n")
    check("FETCH BODY[] of UID %d after the compaction is its bytes" % u,
          len(got) == 1 and got[0].endswith(want + b")"), got[:1])
a.close()
b.close()


def mbox_calls(log):
    """{call: n} of the calls in an strace -y log made on the mbox itself."""
    out = {}
    for ln in open(log, errors="replace"):
        parts = ln.split("(", 1)
        if len(parts) == 2 and parts[1].startswith(tuple("0123456789")) and \
                parts[1].split(",", 1)[0].endswith("<%s>" % env.inbox("alice")):
            call = parts[0].split()[-1]
            out[call] = out.get(call, 0) + 1
    return out


log = os.path.join(env.dir, "strace.search")
t = Traced(env, "imap", trace=("fcntl", "pread64"), out=log)
m = TracedIMAP(t)
m.login("alice", "secret")
count = int(m.select("INBOX")[1][0])
typ, data = m.uid("SEARCH", "BODY", "w%06d" % 1000)
m.logout()
t.wait()
calls = mbox_calls(log)
check("traced session found the message among %d" % count,
      typ == "OK" and data[0].split() == [b"1001"] and count == len(KEEP) + 2, (typ, data))
check("one pread per message searched, not two (%s)" % calls,
      count <= calls.get("pread64", 0) <= count + 20, calls)
check("the mbox lock taken once per batch, not once per message (%s)" % calls,
      0 < calls.get("fcntl", 0) <= 2 * (count // BATCH + 1) + 10, calls)
done()
