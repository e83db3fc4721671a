"""The first open of a folder that an MDA filled (no index yet) writes its state file
once: exactly the 128-byte header and one 64-byte record per message, renamed into
place once. Counted with strace on the session process, for IMAP SELECT and for a
POP3 login, each on its own user."""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import imap_login, pop3_login  # noqa: E402

N = 3000
IDX_HDR_LEN, IDX_REC_LEN = 128, 64

env = Env()


def fill(user):
    env.add_user(user, "secret")
    udir = os.path.join(env.mail, user)
    os.makedirs(udir)
    with open(os.path.join(udir, "INBOX"), "wb") as f:
        for i in range(N):
            f.write(b"From s%d@example.org Sat Nov 28 10:00:00 2026\n" % i)
            f.write(make_msg(i, "first open %d" % i) + b"\n")
    if os.getuid() == 0:
        for p in (udir, os.path.join(udir, "INBOX")):
            shutil.chown(p, env.run_user)


def idx_writes(log, idx):
    """(bytes written to idx or its temp files, renames onto idx) from an strace -y log."""
    written = renames = 0
    wr = re.compile(r'(?:\d+ +)?p?write(?:64)?\(\d+<([^>]*)>.*\) += (\d+)')
    for line in open(log, errors="replace"):
        m = wr.match(line)
        if m and m.group(1).startswith(idx):
            written += int(m.group(2))
        elif re.match(r'(?:\d+ +)?rename(?:at2?)?\(.*"%s"(?:, [^)"]*)?\) += 0' % re.escape(idx),
                      line):
            renames += 1
    return written, renames


def imap_open(user, **trace):
    s, m = imap_login(env, user, **trace)
    typ, data = m.select("INBOX")
    m.logout()
    return s, int(data[0]) if typ == "OK" else -1


def pop3_open(user, **trace):
    s, p = pop3_login(env, user, **trace)
    n = p.stat()[0]
    p.quit()
    return s, n


for proto, user, run in (("imap", "imapuser", imap_open), ("pop3", "popuser", pop3_open)):
    fill(user)
    log = os.path.join(env.dir, "strace.%s" % proto)
    # rename or renameat(2), whichever the C library (or an emulator) uses.
    s, n = run(user, trace=("write", "pwrite64", "rename", "renameat", "renameat2"), out=log)
    rc = s.wait()
    idx = os.path.join(env.mail, user, ".mailnook", "INBOX.idx")
    written, renames = idx_writes(log, idx)
    check("%s: first open sees all %d messages and ends cleanly" % (proto, N),
          n == N and rc == 0, (n, rc))
    check("%s: the state file is written once: header + %d records" % (proto, N),
          written == IDX_HDR_LEN + N * IDX_REC_LEN, written)
    check("%s: one rename puts it in place" % proto, renames == 1, renames)
    check("%s: the file holds exactly that" % proto,
          os.path.getsize(idx) == IDX_HDR_LEN + N * IDX_REC_LEN, os.path.getsize(idx))

env.close()
done()
