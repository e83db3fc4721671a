"""Other tools sharing the mbox, seen through POP3: a foreign MDA appending without our
locks, a mutt-style rewrite (Status headers added, one message removed, new inode), an
expunged message kept by such a rewrite (it must not come back), and a session-held
folder that is not compacted under it. UIDL never changes for a message."""
import fcntl
import os
import poplib
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402

env = Env()


def login(port):
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    p.user("alice")
    p.pass_("secret")
    return p


def uidls(port):
    p = login(port)
    out = [u.split()[1] for u in p.uidl()[1]]
    p.quit()
    return out


def split_mbox(data):
    """Messages as stored (From_ line through the blank line before the next one)."""
    parts = re.split(rb"(?m)^(?=From )", data)
    return [x for x in parts if x]


def rewrite(path, transform):
    """What mutt does: write a new file with the changed messages, rename it over."""
    with open(path, "rb") as f:
        msgs = split_mbox(f.read())
    tmp = path + ".mutt"
    with open(tmp, "wb") as f:
        for i, m in enumerate(msgs):
            m = transform(i, m)
            if m is not None:
                f.write(m)
    st = os.stat(path)
    os.chown(tmp, st.st_uid, st.st_gid)
    os.rename(tmp, path)


def add_status(i, m):
    head, sep, body = m.partition(b"\n\n")
    return head + b"\nStatus: RO\nX-Status: A" + sep + body


try:
    env.add_user("alice", "secret")
    for i in range(1, 6):
        env.deliver("alice", make_msg(i, "outside %d" % i, 10))
    port = env.serve()
    inbox = env.inbox("alice")
    u5 = uidls(port)
    check("five messages, five distinct UIDLs", len(set(u5)) == 5, u5)

    with open(inbox, "ab") as f:
        f.write(b"From foreign@example.org Sat Nov 28 11:00:00 2026\n" + make_msg(6, "foreign") +
                b"\n")
    u6 = uidls(port)
    check("foreign MDA append seen as new mail", len(u6) == 6 and u6[:5] == u5, u6)

    rewrite(inbox, lambda i, m: None if i == 2 else add_status(i, m))
    u = uidls(port)
    check("mutt rewrite (Status added, message 3 removed): other UIDLs unchanged",
          u == u6[:2] + u6[3:], u)
    p = login(port)
    _, lines, _ = p.retr(2)
    check("rewritten message served with its new headers",
          b"Status: RO" in lines and b"Subject: outside 2" in lines, lines[:6])
    p.dele(1)
    p.quit()

    # An open session in the middle of reading the mbox (held here through its lock file
    # and the mbox read lock) keeps compaction away; mutt then rewrites the file still
    # holding the expunged message's bytes.
    side = os.path.join(env.mail, "alice", ".mailnook", "INBOX")
    with open(side + ".ses", "rb") as hold, open(inbox, "rb") as reading:
        fcntl.flock(hold, fcntl.LOCK_SH)
        fcntl.lockf(reading, fcntl.LOCK_SH)
        size = os.path.getsize(inbox)
        u = uidls(port)
        check("DELE+QUIT: message gone", u == u6[1:2] + u6[3:], u)
        check("not compacted while another session holds the folder",
              os.path.getsize(inbox) == size)
        rewrite(inbox, lambda i, m: m.replace(b"X-Status: A", b"X-Status: AF"))
        u = uidls(port)
        check("expunged message kept by a rewrite does not come back", u == u6[1:2] + u6[3:], u)
    r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("check: consistent after all that", r.returncode == 0, r.stdout.decode())
    r = subprocess.run(env.cmd("check", "--compact", "alice"), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    with open(inbox, "rb") as f:
        left = split_mbox(f.read())
    check("compaction removed the expunged message's bytes", r.returncode == 0 and
          len(left) == 4 and not any(b"Subject: outside 1\n" in m for m in left), r.stdout)
    check("UIDLs survive compaction", uidls(port) == u6[1:2] + u6[3:])
finally:
    env.close()
done()
