"""POP3 with python's poplib against `mailnook serve` and against `mailnook pop3` run
per connection on an accepted socket (as inetd/tcpsvd do): sizes equal the bytes
received, a multi-megabyte message, dot-stuffing, 8-bit content, UIDL stability, DELE
only at QUIT, [IN-USE] for a second session, a dropped connection deletes nothing,
deliver during an open session is not blocked, and a client that never reads is
dropped. Prints the session RSS and RETR throughput as "# measure" lines."""
import fcntl
import os
import poplib
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, emulated, make_msg  # noqa: E402

env = Env()
env.add_user("alice", "secret")
env.add_user("carol", "pw")

BIG = b"Subject: big\n\n" + b"".join(b"%07d big body line with some text to fill it up\n" % i
                                      for i in range(60000))
DOTS = b"Subject: dots\n\n.\n..\n.leading dot\nmiddle\n.\n"
EIGHT = b"Subject: 8bit \xe9\n\nbytes \x80\x81\xfe\xff and latin-1 \xe9\xe8\n"
MSGS = [make_msg(1, "first"), DOTS, EIGHT, BIG, make_msg(5, "last")]
for m in MSGS:
    env.deliver("alice", m)


def wire(msg):
    """What RETR must return (poplib unstuffs, strips CRLF): the lines of msg."""
    return msg.rstrip(b"\n").split(b"\n")


class Inetd:
    """Accept on loopback and run `mailnook pop3` with the socket on fds 0 and 1."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.procs = []
        self.log = open(os.path.join(env.dir, "inetd.log"), "ab")
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.procs.append(subprocess.Popen(env.cmd("-o", "timeout=2", "-o",
                                                       "preauth_timeout=1", "pop3"), stdin=c,
                                               stdout=c, stderr=self.log))
            c.close()


def login(port, user="alice", pw="secret"):
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    p.user(user)
    p.pass_(pw)
    return p


def session_pids(parent):
    with open("/proc/%d/task/%d/children" % (parent, parent)) as f:
        return [int(x) for x in f.read().split()]


def vmrss(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return -1


def basic(port, what):
    p = login(port)
    count, total = p.stat()
    check(what + ": STAT counts every message", count == len(MSGS), (count, total))
    sizes = {int(a): int(b) for a, b in (ln.split() for ln in p.list()[1])}
    check(what + ": LIST sums to STAT", sum(sizes.values()) == total, sizes)
    for n, msg in enumerate(MSGS, 1):
        resp, lines, octets = p.retr(n)
        check(what + ": RETR %d octets == LIST size" % n, octets == sizes[n],
              (octets, sizes[n]))
        check(what + ": RETR %d content intact" % n, lines == wire(msg),
              (lines[:4], wire(msg)[:4]))
        check(what + ": RETR %d announces its size" % n,
              resp.decode().startswith("+OK %d " % sizes[n]), resp)
    resp, lines, _ = p.top(4, 2)
    check(what + ": TOP 4 2 on the big message", lines == wire(BIG)[:4], lines)
    resp, lines, _ = p.top(4, 99999999)
    check(what + ": TOP 4 99999999 is the whole message", lines == wire(BIG), len(lines))
    uidl = p.uidl()[1]
    p.dele(1)
    p.dele(2)
    check(what + ": STAT after DELE", p.stat()[0] == len(MSGS) - 2)
    p.rset()
    check(what + ": RSET undeletes", p.stat()[0] == len(MSGS))
    p.quit()
    p = login(port)
    check(what + ": UIDL stable across sessions", p.uidl()[1] == uidl, uidl)
    p.quit()
    return uidl


def in_use(port, what):
    p = login(port)
    try:
        login(port).quit()
        check(what + ": second session gets [IN-USE]", False, "login succeeded")
    except poplib.error_proto as e:
        check(what + ": second session gets [IN-USE]", b"[IN-USE]" in e.args[0], e)
    p.quit()
    p = login(port)
    check(what + ": lock released at QUIT", p.stat()[0] >= 1)
    p.quit()


def dropped(port, what):
    p = login(port)
    n = p.stat()[0]
    p.dele(1)
    p.sock.shutdown(socket.SHUT_RDWR)
    p.close()
    # The session is over once it lets go of the folder's POP3 lock.
    with open(os.path.join(env.mail, "alice", ".mailnook", "INBOX.pop3"), "rb") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
    p = login(port)
    check(what + ": a dropped connection deletes nothing", p.stat()[0] == n)
    p.quit()


def deliver_during(port, what):
    p = login(port)
    n = p.stat()[0]
    t0 = time.time()
    rc = env.deliver("alice", make_msg(9, "during session"))
    took = time.time() - t0
    check(what + ": deliver during a session succeeds", rc == 0, rc)
    check(what + ": and is not blocked (%.2fs)" % took, took < 5)
    check(what + ": the session keeps its snapshot", p.stat()[0] == n)
    p.quit()
    p = login(port)
    check(what + ": the next session sees the new mail", p.stat()[0] == n + 1)
    last = p.retr(n + 1)[1]
    check(what + ": and it is the delivered message", b"Subject: during session" in last)
    p.dele(n + 1)
    p.quit()
    p = login(port)
    check(what + ": DELE + QUIT removed it", p.stat()[0] == n)
    p.quit()


TEN = b"Subject: ten megabytes\n\n" + (b"z" * 99 + b"\n") * (10 * 1024 * 1024 // 100)
env.deliver("carol", TEN)


def throughput(port, what):
    s = socket.create_connection(("127.0.0.1", port), 20)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"USER carol\r\nPASS pw\r\n")
    f.readline()
    f.readline()
    t0 = time.time()
    s.sendall(b"RETR 1\r\n")
    first = f.readline()
    size = int(first.split()[1])
    got = 0
    while True:
        chunk = f.read1(1 << 20)
        if not chunk:
            break
        got += len(chunk)
        if chunk.endswith(b"\r\n.\r\n"):
            break
    took = time.time() - t0
    s.sendall(b"QUIT\r\n")
    s.close()
    check(what + ": 10 MB RETR complete", got - 3 == size and first.startswith(b"+OK")
          and size == len(TEN) + TEN.count(b"\n"), (got, size))
    print("# measure: %s RETR of %d bytes in %.3f s = %.1f MB/s"
          % (what, size, took, size / took / 1e6 if took else 0))


def never_reads(port, what, logf):
    """Log in, ask for the big message, read nothing: the session must give up."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"USER carol\r\nPASS pw\r\nRETR 1\r\n")
    t0 = time.time()
    found = False
    while time.time() - t0 < 15 and not found:
        time.sleep(0.25)
        found = "client stopped reading" in open(logf, errors="replace").read()
    check(what + ": a client that never reads is dropped (%.1fs)" % (time.time() - t0), found)
    s.close()


def idle(port, what, login_first):
    """Say nothing: the session ends with -ERR autologout; a DELE before is not applied."""
    s = socket.create_connection(("127.0.0.1", port), 20)
    f = s.makefile("rb")
    f.readline()
    if login_first:
        s.sendall(b"USER alice\r\nPASS secret\r\nSTAT\r\nDELE 1\r\n")
        for _ in range(4):
            f.readline()
    t0 = time.time()
    last = f.readline()
    took = time.time() - t0
    check(what + ": idle session gets -ERR autologout (%.1fs)" % took,
          last.startswith(b"-ERR autologout") and took < 5, last)
    check(what + ": and is closed", f.readline() == b"")
    s.close()


def rss(port, parent, what):
    p = login(port, "carol", "pw")
    time.sleep(0.2)
    pids = session_pids(parent())
    if check(what + ": one session process", len(pids) == 1, pids):
        print("# measure: %s idle session after login VmRSS %d kB%s"
              % (what, vmrss(pids[0]), emulated()))
    p.quit()


try:
    port = env.serve("timeout=2")
    env.wait_idle()
    serve_pid = env.procs[-1].pid
    basic(port, "serve")
    in_use(port, "serve")
    dropped(port, "serve")
    deliver_during(port, "serve")
    throughput(port, "serve")
    rss(port, lambda: serve_pid, "serve")
    p = login(port)
    n = p.stat()[0]
    p.quit()
    idle(port, "serve after login", True)
    p = login(port)
    check("serve: the DELE of the timed-out session was not applied", p.stat()[0] == n)
    p.quit()
    never_reads(port, "serve", os.path.join(env.dir, "serve.log"))

    inetd = Inetd()
    basic(inetd.port, "pop3 verb")
    in_use(inetd.port, "pop3 verb")
    dropped(inetd.port, "pop3 verb")
    idle(inetd.port, "pop3 verb before login", False)
    throughput(inetd.port, "pop3 verb")
    never_reads(inetd.port, "pop3 verb", os.path.join(env.dir, "inetd.log"))
    log = env.log() + open(os.path.join(env.dir, "inetd.log"), errors="replace").read()
    check("log: login lines", re.search(r"login user=alice from 127\.0\.0\.1", log), log[-500:])
    check("log: logout lines with counts",
          re.search(r"logout user=alice retr=\d+ dele=\d+ in=\d+ out=\d+", log), log[-500:])
    check("no sanitizer report", "Sanitizer" not in log, log[-2000:])
finally:
    env.close()
done()
