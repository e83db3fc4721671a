"""A full disk: the mail root on a 3 MiB tmpfs (mounted here: root is required; without
it this test fails, it does not skip), filled to the last byte. Then:
- deliver exits 75 (the MTA retries) and leaves the INBOX as it was;
- IMAP APPEND, COPY and STORE of a new keyword answer NO [OVERQUOTA] saying the disk is
  full, and the session log says so too;
- `check --compact` of a compaction that has to move bytes says it cannot run for want
  of space and exits non-zero, the folder unharmed;
- POP3 DELE of every message + QUIT empties the INBOX although no byte was free: a
  compaction that only shortens the mbox needs no space; also when the state file has
  no room left for the EXPUNGE record (it ends at a page boundary): the messages at the
  end are cut first;
- afterwards deliver works again and `check` is clean."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, fail, make_msg  # noqa: E402
from crashlib import imap_login, pop3_login  # noqa: E402

env = Env()
if os.getuid() != 0:
    fail("mounting a small tmpfs needs root (run make check as root, as in CI)")
    env.close()
    done()
r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0755", "tmpfs", env.mail],
                   stderr=subprocess.PIPE)
if not check("a 3 MiB tmpfs mounted for the mail root", r.returncode == 0, r.stderr):
    env.close()
    done()
try:
    os.chown(env.mail, *(lambda st: (st.st_uid, st.st_gid))(os.stat(env.run)))
    env.add_user("alice", "secret")
    box = env.inbox("alice")
    msgs = [make_msg(i, "full disk %d" % i, body_lines=1500) for i in range(40)]
    for m in msgs:
        env.deliver("alice", m)

    s, m = imap_login(env)
    m.create("Club")
    m.select("INBOX")
    m.logout()
    s.wait()

    # bob's state file ends exactly at a page boundary: on the full disk, the record of
    # his DELE + QUIT cannot be appended until the mbox gives space back. It grows by
    # 108 bytes per new message indexed, by 32 per flag change: solve for both.
    env.add_user("bob", "secret")
    bidx = os.path.join(env.mail, "bob", ".mailnook", "INBOX.idx")
    bmsgs = [make_msg(i, "bob %d" % i, body_lines=1200) for i in range(8)]
    for msg in bmsgs:
        env.deliver("bob", msg)
    s, m = imap_login(env, "bob")
    m.select("INBOX")
    d = -os.path.getsize(bidx) % 4096
    news = next(a for a in range(8) if (d - 108 * a) % 32 == 0)
    if d < 108 * news:
        d += 4096
    m.logout()
    s.wait()
    for a in range(news):
        msg = make_msg(50 + a, "bob padding %d" % a, body_lines=1200)
        bmsgs.append(msg)
        env.deliver("bob", msg)
    s, m = imap_login(env, "bob")
    m.select("INBOX")
    for b in range((d - 108 * news) // 32):
        m.uid("STORE", "1", "+FLAGS" if b % 2 == 0 else "-FLAGS", "(\\Flagged)")
    m.logout()
    s.wait()
    check("bob's state file ends at a page boundary", os.path.getsize(bidx) % 4096 == 0,
          os.path.getsize(bidx))
    # Fill the file system to the last byte.
    def fill(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        for piece in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * piece)
            except OSError:
                pass
        os.close(fd)

    fill(os.path.join(env.mail, "filler"))
    st = os.statvfs(env.mail)
    check("the file system is full", st.f_bavail == 0, st.f_bavail)
    size = os.path.getsize(box)
    snap = open(box, "rb").read()

    r = subprocess.run(env.cmd("deliver", "alice"), input=make_msg(100, "no room"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("deliver on a full disk exits 75 saying so", r.returncode == 75 and
          b"no space left" in r.stderr, (r.returncode, r.stderr))
    check("... the INBOX as it was", open(box, "rb").read() == snap)

    s, m = imap_login(env)
    typ, data = m.append("INBOX", None, None, make_msg(101, "append no room", body_lines=100))
    check("APPEND answers NO [OVERQUOTA] saying the disk is full",
          typ == "NO" and data[0].startswith(b"[OVERQUOTA]") and b"disk is full" in data[0],
          (typ, data))
    m.select("INBOX")
    typ, data = m.uid("COPY", "1:3", "Club")
    check("COPY answers NO [OVERQUOTA] saying the disk is full",
          typ == "NO" and data[0].startswith(b"[OVERQUOTA]") and b"disk is full" in data[0],
          (typ, data))
    typ, data = m.uid("STORE", "1", "+FLAGS", "(BrandNewKeyword)")
    check("STORE of a new keyword answers NO [OVERQUOTA] saying the disk is full",
          typ == "NO" and data[0].startswith(b"[OVERQUOTA]") and b"disk is full" in data[0],
          (typ, data))
    m.logout()
    s.wait()
    log = open(os.path.join(env.dir, "session.log"), errors="replace").read()
    check("the session log says the disk is full", "disk full" in log, log[-500:])
    check("the INBOX as it was after APPEND, COPY and STORE", open(box, "rb").read() == snap)

    bbox = env.inbox("bob")
    sp, p = pop3_login(env, "bob")
    n = p.stat()[0]
    for i in range(1, n + 1):
        p.dele(i)
    try:
        quit_ok = p.quit()
    except Exception as e:  # -ERR
        quit_ok = repr(e).encode()
    sp.wait()
    check("bob: POP3 DELE of all %d + QUIT with no room for its record" % n,
          n == len(bmsgs) and quit_ok.startswith(b"+OK"), (n, quit_ok))
    check("... empties his INBOX", os.path.getsize(bbox) == 0, os.path.getsize(bbox))
    r = subprocess.run(env.cmd("check", "bob"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("... and check is clean for him", r.returncode == 0 and
          b"result: consistent" in r.stdout, r.stdout)
    # Fill again what that gave back.
    fill(os.path.join(env.mail, "filler2"))

    # A compaction that moves bytes needs room for its journal: none.
    sp, p = pop3_login(env)
    p.dele(1)
    quit_ok = p.quit()
    sp.wait()
    check("POP3 DELE 1 + QUIT", quit_ok.startswith(b"+OK"), quit_ok)
    r = subprocess.run(env.cmd("check", "--compact", "alice"), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    out = r.stdout.decode() + r.stderr.decode()
    check("check --compact that cannot run exits non-zero", r.returncode != 0, out)
    check("... and says there is no room", "result: no space left" in out and
          "not enough free space" in out, out)
    check("... the INBOX as it was", open(box, "rb").read() == snap)

    sp, p = pop3_login(env)
    n = p.stat()[0]
    for i in range(1, n + 1):
        p.dele(i)
    quit_ok = p.quit()
    sp.wait()
    check("POP3 DELE of all %d messages + QUIT on the full disk" % n,
          n == len(msgs) - 1 and quit_ok.startswith(b"+OK"), (n, quit_ok))
    check("... empties the INBOX (a truncation needs no space)",
          os.path.getsize(box) == 0, os.path.getsize(box))
    check("... which frees the space", os.statvfs(env.mail).f_bavail > size // 4096 // 2)
    rc = env.deliver("alice", make_msg(102, "room again"))
    check("deliver works again", rc == 0, rc)
    r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("check clean", r.returncode == 0 and b"result: consistent" in r.stdout, r.stdout)
finally:
    subprocess.run(["umount", "-l", env.mail])
env.close()
done()
