"""Store costs on a large folder (MEASURE_MSGS messages of ~1 KiB, default 50000 = 50 MB,
written straight into the mbox as any MDA would): time and peak RSS of a POP3 session
opening it cold (no index) and warm; bytes written to the store (counted with strace)
for expunging one message from the middle plus `check --compact`, and for POP3
delete-all. Prints "# measure" lines; asserts the results are right, not how fast."""
import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, emulated, free_port, wait_port  # noqa: E402

# The sanitizer build runs every test too: a smaller folder keeps it to seconds there.
N = int(os.environ.get("MEASURE_MSGS",
                       "10000" if os.environ.get("MAILNOOK_VARIANT") == "asan" else "50000"))


def message(i):
    head = ("From: s%d@example.org\nTo: big@test.example\nSubject: message %d\n"
            "Message-ID: <%d.measure@example.org>\n\n" % (i, i, i)).encode()
    body = b"".join(b"%04d line of message %08d with text to fill it up\n" % (j, i)
                    for j in range(16))
    return head + body


def closed(env):
    """Wait until big's POP3 session has closed the folder (compaction at close
    included): it holds the folder's POP3 lock until then."""
    with open(os.path.join(env.mail, "big", ".mailnook", "INBOX.pop3"), "rb") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)


def write_mbox(path, n):
    with open(path, "wb") as f:
        for i in range(1, n + 1):
            f.write(b"From s%d@example.org Sat Nov 28 10:00:00 2026\n" % i)
            f.write(message(i))
            f.write(b"\n")


class Pop:
    """A raw POP3 client that can pipeline thousands of commands."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 120)
        self.f = self.s.makefile("rb")
        self.line()

    def line(self):
        return self.f.readline().rstrip(b"\r\n")

    def cmd(self, *cmds):
        self.s.sendall(b"".join(c.encode() + b"\r\n" for c in cmds))
        return [self.line() for _ in cmds]

    def multi(self, c):
        first = self.cmd(c)[0]
        out = []
        while True:
            ln = self.line()
            if ln == b".":
                return first, out
            out.append(ln)


def session_child(serve_pid):
    with open("/proc/%d/task/%d/children" % (serve_pid, serve_pid)) as f:
        kids = [int(x) for x in f.read().split()]
    return kids[-1] if kids else None


def hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmHWM:"):
                return int(ln.split()[1])
    return -1


def login(port, serve_pid, what):
    t0 = time.monotonic()
    p = Pop(port)
    r = p.cmd("USER big", "PASS secret")
    ms = (time.monotonic() - t0) * 1000
    kid = session_child(serve_pid)
    print("# measure: %s open of %d messages: %.0f ms, session peak RSS %d KiB%s"
          % (what, N, ms, hwm_kb(kid) if kid else -1, emulated()), flush=True)
    check(what + " login opens the folder", r[1].startswith(b"+OK"), r)
    return p


def strace_bytes(log, root):
    """Bytes written by write/pwrite64 to files under root, from strace -y output."""
    total = 0
    pat = re.compile(r'(?:write|pwrite64)\((\d+)<([^>]*)>,.*\)\s+=\s+(\d+)')
    with open(log, errors="replace") as f:
        for ln in f:
            m = pat.search(ln)
            if m and m.group(2).startswith(root):
                total += int(m.group(3))
    return total


def traced_serve(env, log):
    port = free_port()
    p = subprocess.Popen(["strace", "-f", "-qq", "-y", "-s", "0", "-e",
                          "trace=write,pwrite64", "-o", log] +
                         env.cmd("-o", "listen=127.0.0.1:%d pop3" % port, "serve", "-f"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env.procs.append(p)
    if not wait_port(port):
        raise RuntimeError("traced serve did not start")
    return port


def stop(env):
    """Stop serve (the traced one through its tracer's child) and wait for it."""
    for p in env.procs:
        kid = session_child(p.pid) if p.args[0] == "strace" else None
        if kid:
            os.kill(kid, 15)
        else:
            p.terminate()
        p.wait(10)
    env.procs = []


def main():
    env = Env()
    try:
        env.add_user("big", "secret")
        udir = os.path.join(env.mail, "big")
        os.makedirs(udir)
        inbox = os.path.join(udir, "INBOX")
        write_mbox(inbox, N)
        size = os.path.getsize(inbox)
        if os.getuid() == 0:
            shutil.chown(udir, env.run_user)
            shutil.chown(inbox, env.run_user)
        port = env.serve()
        serve_pid = env.procs[-1].pid
        p = login(port, serve_pid, "cold")
        n, total = (int(x) for x in p.cmd("STAT")[0].split()[1:3])
        check("all %d messages listed" % N, n == N, n)
        _, uidl = p.multi("UIDL")
        p.cmd("QUIT")
        closed(env)
        p = login(port, serve_pid, "warm")
        p.cmd("QUIT")
        stop(env)
        if shutil.which("strace") is None or subprocess.run(
                ["strace", "-o", os.devnull, "true"], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL).returncode != 0:
            fail("strace missing or not permitted here: no byte counts "
                 "(tests/deps.sh installs it)")
            return
        log = os.path.join(env.dir, "strace.log")
        port = traced_serve(env, log)
        mid = N // 2
        p = Pop(port)
        p.cmd("USER big", "PASS secret")
        r = p.cmd("DELE %d" % mid, "QUIT")
        check("DELE one in the middle", r[0].startswith(b"+OK"), r)
        closed(env)
        stop(env)
        exp = strace_bytes(log, env.mail)
        clog = os.path.join(env.dir, "check.log")
        r = subprocess.run(["strace", "-f", "-qq", "-y", "-s", "0", "-e", "trace=write,pwrite64",
                            "-o", clog] + env.cmd("check", "--compact", "big"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        comp = strace_bytes(clog, env.mail)
        moved = size - os.path.getsize(inbox)
        print("# measure: expunge 1 from the middle of %d bytes: %d bytes at QUIT, %d by "
              "compaction (%d bytes of mbox freed)" % (size, exp, comp, moved), flush=True)
        check("compaction freed exactly one message", moved > 900 and moved < 1200, moved)
        # Live bytes after the gap move once, and all but the 1 KiB gap of each round are
        # copied into the journal first (each round overwrites them); then the index.
        # Exact counts: tests/e2e/store_compact_bytes.py.
        check("compaction wrote at most twice the bytes after the gap, plus the index",
              size // 2 < comp < size + N * 64 + (1 << 20), comp)
        port = traced_serve(env, log + "2")
        p = Pop(port)
        p.cmd("USER big", "PASS secret")
        _, uidl2 = p.multi("UIDL")
        want = [u.split()[1] for u in uidl if int(u.split()[0]) != mid]
        check("UIDL of every survivor unchanged", [u.split()[1] for u in uidl2] == want)
        r = p.cmd(*["DELE %d" % i for i in range(1, N)])
        check("DELE of all pipelined", all(x.startswith(b"+OK") for x in r))
        r = p.cmd("QUIT")
        closed(env)
        stop(env)
        dall = strace_bytes(log + "2", env.mail)
        print("# measure: POP3 delete-all of %d messages: %d bytes written" % (N - 1, dall),
              flush=True)
        check("delete-all leaves an empty mbox", os.path.getsize(inbox) == 0,
              os.path.getsize(inbox))
    finally:
        env.close()
    done()


main()
