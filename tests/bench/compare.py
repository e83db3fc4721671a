"""Side-by-side costs of mailnook and Dovecot on the same mail, all on loopback.

Both run as full network servers with private configs in a temp dir: `mailnook serve -f`
and `dovecot -c CONF -F` (master, login, auth and one mail process per session, the way
Dovecot is deployed), as root dropping to `nobody` for mail. Dovecot runs twice: with mbox
(mail_location=mbox:~/mail:INBOX=~/INBOX) on byte-identical mbox files, and with maildir on
the same messages, one file each. Prints one table: both columns and mailnook / Dovecot.

Bytes written to the store are the results of write/pwrite64/writev/pwritev calls on files
under the store directory, counted by `strace -f -ff --seccomp-bpf -y` around the whole
server (restarted under it once the timings are taken) or the delivery agent: sessions
exit at LOGOUT/QUIT, where most writes happen, before /proc/PID/io could be read, and
write_bytes counts whole pages; it is shown next to the flag change, where the session
lives on. Folders are made fresh (no side files, no index) just before the cold SELECT;
the page cache is warm for both servers (nothing here reads the disk).
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

# lib.py takes the binary from the environment; here it is the first argument
os.environ.setdefault("MAILNOOK", os.path.realpath(sys.argv[1]))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from lib import free_port, wait_port  # noqa: E402

QUICK = os.environ.get("QUICK") == "1"
SIZES = (2000, 5000) if QUICK else (20000, 50000)
# The memory rows name a folder of this many messages too (a user of its own when SIZES
# has none that size).
SMALL = 2000
BIG = 10 * 1024 * 1024
MAILNOOK = os.path.realpath(sys.argv[1])
T = sys.argv[2]
NOBODY = 65534
# seccomp-bpf: only the traced calls stop the process, so a traced server keeps its speed
STRACE = ["strace", "-f", "--seccomp-bpf", "-qq", "-y", "-s", "0", "-e",
          "trace=write,pwrite64,writev,pwritev,pwritev2"]


def ms_since(t0):
    return (time.monotonic() - t0) * 1000


# --- mail -------------------------------------------------------------------------------

def message(i):
    """About 1 KiB; every tenth is multipart/alternative so BODYSTRUCTURE has work."""
    head = ("From: Sender %d <s%d@example.org>\nTo: Bench <u@bench.example>\n"
            "Cc: other%d@example.net\nSubject: message %d about the bench\n"
            "Date: Sat, 28 Nov 2026 10:%02d:00 +0000\nMessage-ID: <%d.bench@example.org>\n"
            "MIME-Version: 1.0\n" % (i, i, i, i, i % 60, i))
    text = b"".join(b"%04d line of message %08d with text to fill it up\n" % (j, i)
                    for j in range(14))
    if i % 10:
        return head.encode() + b"Content-Type: text/plain; charset=us-ascii\n\n" + text
    return (head.encode() + b'Content-Type: multipart/alternative; boundary="b%d"\n\n'
            b"--b%d\nContent-Type: text/plain\n\n%s--b%d\nContent-Type: text/html\n\n"
            b"<p>html</p>\n--b%d--\n" % (i, i, text[:300], i, i))


def big_message():
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n"
    return (b"From: big@example.org\nTo: u@bench.example\nSubject: ten megabytes\n"
            b"Message-ID: <big.bench@example.org>\n\n" + line * (BIG // len(line)))


MBOX_FROM = b"From bench@example.org Sat Nov 28 10:00:00 2026\n"


def mbox_file(path, msgs):
    with open(path, "wb") as f:
        for m in msgs:
            f.write(MBOX_FROM + m + b"\n")


def maildir(path, msgs):
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, d))
    for i, m in enumerate(msgs, 1):
        with open(os.path.join(path, "cur", "1795860000.M%dP1.bench:2," % i), "wb") as f:
            f.write(m)


def chown_tree(path):
    for root, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(root, n), NOBODY, NOBODY)
    os.chown(path, NOBODY, NOBODY)


# --- processes ----------------------------------------------------------------------------

def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(x) for x in f.read().split()]


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def proc_exe(pid):
    try:
        return os.path.realpath("/proc/%d/exe" % pid)
    except OSError:
        return ""


def start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def mem_kb(pid):
    """(VmRSS, Pss) in KiB."""
    rss = pss = 0
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                rss = int(ln.split()[1])
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for ln in f:
            if ln.startswith("Pss:"):
                pss = int(ln.split()[1])
    return rss, pss


def dirty_kb(pid):
    """Private dirty KiB: the memory a process costs on its own (heap, stack, written data)."""
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for ln in f:
            if ln.startswith("Private_Dirty:"):
                return int(ln.split()[1])
    return 0


def io_write_bytes(pid):
    with open("/proc/%d/io" % pid) as f:
        for ln in f:
            if ln.startswith("write_bytes:"):
                return int(ln.split()[1])
    return 0


WRITE = re.compile(r"(?:write|pwrite64|writev|pwritev2?)\(\d+<([^>]*)>.*\)\s+=\s+(\d+)")


def written(lines, roots):
    """Bytes written to files under roots, from lines of strace -y output."""
    total = 0
    for ln in lines:
        m = WRITE.search(ln)
        if m and any(m.group(1).startswith(r) for r in roots):
            total += int(m.group(2))
    return total


def written_log(log, roots):
    with open(log, errors="replace") as f:
        return written(f, roots)


class Ledger:
    """Bytes written under roots, from the per-process files of a traced server, counted
    once each: every call returns what was written since the last call."""

    def __init__(self, prefix, roots):
        self.prefix = prefix
        self.roots = roots
        self.seen = {}

    def take(self):
        time.sleep(0.3)
        d, base = os.path.split(self.prefix)
        total = 0
        for name in os.listdir(d):
            if not name.startswith(base + "."):
                continue
            path = os.path.join(d, name)
            with open(path, "rb") as f:
                f.seek(self.seen.get(path, 0))
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.seen[path] = self.seen.get(path, 0) + end
            total += written(data[:end].decode(errors="replace").splitlines(), self.roots)
        return total


# --- protocol clients ---------------------------------------------------------------------

class Imap:
    def __init__(self, port, user):
        self.s = socket.create_connection(("127.0.0.1", port), 300)
        self.f = self.s.makefile("rb", buffering=1 << 20)
        self.n = 0
        self.untagged = []
        self.f.readline()
        self.cmd("LOGIN %s secret" % user)

    def cmd(self, c):
        """Run one command; returns the number of untagged responses."""
        self.n += 1
        tag = b"a%d " % self.n
        self.s.sendall(tag + c.encode() + b"\r\n")
        count = 0
        self.untagged = []
        while True:
            ln = self.f.readline()
            while True:
                m = re.search(rb"\{(\d+)\}\r\n$", ln)
                if not m:
                    break
                self.f.read(int(m.group(1)))
                ln = self.f.readline()
            if ln.startswith(tag):
                if not ln[len(tag):].startswith(b"OK"):
                    raise RuntimeError("%s: %r" % (c, ln))
                return count
            if not ln:
                raise RuntimeError("%s: connection closed" % c)
            count += ln.startswith(b"* ")
            if len(self.untagged) < 16:
                self.untagged.append(ln)

    def close(self):
        self.cmd("LOGOUT")
        self.s.close()


class Pop:
    def __init__(self, port, user):
        self.s = socket.create_connection(("127.0.0.1", port), 300)
        self.f = self.s.makefile("rb", buffering=1 << 20)
        self.f.readline()
        r = self.cmd("USER " + user, "PASS secret")
        if not r[1].startswith(b"+OK"):
            raise RuntimeError("POP3 login: %r" % r)

    def cmd(self, *cmds):
        self.s.sendall(b"".join(c.encode() + b"\r\n" for c in cmds))
        return [self.f.readline() for _ in cmds]

    def multi(self, c):
        """Multi-line command; returns the bytes of the body."""
        self.s.sendall(c.encode() + b"\r\n")
        if not self.f.readline().startswith(b"+OK"):
            raise RuntimeError(c)
        n = 0
        while True:
            ln = self.f.readline()
            if ln == b".\r\n":
                return n
            n += len(ln)

    def close(self):
        self.cmd("QUIT")
        self.s.close()


# --- servers ------------------------------------------------------------------------------

class Server:
    """Common parts: a store under self.root, a master pid, session lookup."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(T, name)
        os.makedirs(self.dir)
        self.imap_port = free_port()
        self.pop3_port = free_port()
        self.proc = None

    def session(self, proto, known=()):
        """Pid of the newest session process serving proto, not in known."""
        for _ in range(100):
            pids = [p for p in self.sessions(proto) if p not in known]
            if pids:
                return max(pids, key=start_time)
            time.sleep(0.02)
        raise RuntimeError("%s: no %s session process" % (self.name, proto))

    def sessions(self, proto):
        return [p for p in children(self.pid) if self.is_session(p, proto)]

    def wait_quiet(self, proto, left=0):
        for _ in range(250):
            if len(self.sessions(proto)) <= left:
                return
            time.sleep(0.02)
        raise RuntimeError("%s: %s session still running" % (self.name, proto))

    def rest(self):
        """(RSS, PSS) summed over the server's processes with no session open."""
        pids = [self.pid] + children(self.pid)
        tot = [0, 0]
        for p in pids:
            r = mem_kb(p)
            tot[0] += r[0]
            tot[1] += r[1]
        return tuple(tot), len(pids)

    def stop(self):
        os.kill(self.pid, 15)
        self.proc.wait(20)

    def start(self, argv, trace):
        """Run the server; under strace -ff writing trace.PID files when trace is set."""
        exe = os.path.realpath(argv[0])
        if trace:
            argv = STRACE + ["-ff", "-o", trace, "--"] + argv
        self.proc = subprocess.Popen(argv, stdout=open(os.path.join(self.dir, "log"), "ab"),
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        for port in (self.imap_port, self.pop3_port):
            if not wait_port(port, timeout=10):
                raise RuntimeError("nothing listens on %d" % port)
        if trace:
            # strace forks a short-lived child of its own to probe seccomp; the server is
            # the child running argv's program once the ports answer
            kids = [p for p in children(self.proc.pid) if proc_exe(p) == exe]
            if len(kids) != 1:
                raise RuntimeError("%s: server process under strace: %r" % (self.name, kids))
            self.pid = kids[0]
        time.sleep(0.3)


class Mailnook(Server):
    def __init__(self):
        super().__init__("mailnook")
        self.root = os.path.join(self.dir, "mail")
        self.roots = [self.root]
        os.makedirs(self.root)
        os.makedirs(os.path.join(self.dir, "run"))
        os.chown(self.root, NOBODY, NOBODY)
        os.chown(os.path.join(self.dir, "run"), NOBODY, NOBODY)
        self.conf = os.path.join(self.dir, "conf")
        with open(self.conf, "w") as f:
            f.write("mail_root %s\npasswd_file %s/passwd\nruntime_dir %s/run\nuser nobody\n"
                    "log stderr\nhostname bench.example\n" % (self.root, self.dir, self.dir))

    def add(self, user, mbox_src, msgs):
        subprocess.run([MAILNOOK, "-c", self.conf, "passwd", user], input=b"secret\n",
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        d = os.path.join(self.root, user)
        os.makedirs(d)
        shutil.copyfile(mbox_src, os.path.join(d, "INBOX"))
        chown_tree(d)

    def run(self, trace=None):
        self.start([MAILNOOK, "-c", self.conf,
                    "-o", "listen=127.0.0.1:%d imap" % self.imap_port,
                    "-o", "listen=127.0.0.1:%d pop3" % self.pop3_port, "serve", "-f"], trace)

    def is_session(self, pid, proto):
        return True

    def deliver(self, user):
        return [MAILNOOK, "-c", self.conf, "deliver", "-f", "bench@example.org", user]

    def compact(self, user):
        return [MAILNOOK, "-c", self.conf, "check", "--compact", user]


DOVECOT_CONF = """base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%u
}}
mail_location = {loc}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
pop3_uidl_format = %08Xu%08Xv
"""


class Dovecot(Server):
    def __init__(self, kind):
        super().__init__("dovecot-" + kind)
        self.kind = kind
        self.root = os.path.join(self.dir, "home")
        self.roots = [self.root]
        os.makedirs(self.root)
        for d in ("run", "state"):
            os.makedirs(os.path.join(self.dir, d))
        loc = "mbox:~/mail:INBOX=~/INBOX" if kind == "mbox" else "maildir:~/Maildir"
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=self.dir, loc=loc, imap=self.imap_port,
                                        pop3=self.pop3_port))

    def add(self, user, mbox_src, msgs):
        with open(os.path.join(self.dir, "passwd"), "a") as f:
            f.write("%s:{PLAIN}secret\n" % user)
        d = os.path.join(self.root, user)
        os.makedirs(d)
        if self.kind == "mbox":
            shutil.copyfile(mbox_src, os.path.join(d, "INBOX"))
        else:
            maildir(os.path.join(d, "Maildir"), msgs)
        chown_tree(d)

    def run(self, trace=None):
        self.start(["/usr/sbin/dovecot", "-c", self.conf, "-F"], trace)

    def is_session(self, pid, proto):
        return comm(pid) == proto

    def deliver(self, user):
        return ["/usr/lib/dovecot/dovecot-lda", "-c", self.conf, "-d", user,
                "-f", "bench@example.org"]

    compact = None


# --- measurements -------------------------------------------------------------------------

def timed(fn):
    t0 = time.monotonic()
    fn()
    return ms_since(t0)


def putter(res, name):
    """A function storing one row's value for server name in res."""
    def put(row, val):
        res.setdefault(row, {})[name] = val
    return put


SEARCHES = (("FROM", "FROM s{k}@example.org"), ("SUBJECT", "SUBJECT \"message {k} about\""),
            ("BODY", "BODY \"of message {k:08d} with\""))


def measure_search(c, n, put):
    """SEARCH of one header or body string that one message has, first and warm."""
    k = n * 2 // 3 + 1
    for name, key in SEARCHES:
        q = "SEARCH " + key.format(k=k)
        for which in ("first", "warm"):
            t = timed(lambda: c.cmd(q))
            if not any(ln.split()[2:] == [b"%d" % k] for ln in c.untagged):
                raise RuntimeError("%s: %r" % (q, c.untagged))
            put(("time", "SEARCH %s %d, %s, ms" % (name, n, which)), t)


def measure_small(srv, put):
    """Private dirty memory of an IMAP session after SELECT and of a POP3 session after
    login, on the SMALL folder."""
    user = "u%d" % SMALL
    seen = srv.sessions("imap")
    c = Imap(srv.imap_port, user)
    c.cmd("SELECT INBOX")
    put(("mem", "private dirty KiB of an IMAP session after SELECT %d (cold)" % SMALL),
        dirty_kb(srv.session("imap", seen)))
    c.close()
    srv.wait_quiet("imap")
    seen = srv.sessions("pop3")
    p = Pop(srv.pop3_port, user)
    time.sleep(0.3)
    put(("mem", "private dirty KiB of a POP3 session after login (%d msgs)" % SMALL),
        dirty_kb(srv.session("pop3", seen)))
    p.close()
    srv.wait_quiet("pop3")


def measure(srv, mail, res):
    """Memory and times for one server, untraced; fills res[(section, label)][name]."""
    put = putter(res, srv.name)

    (rss, pss), nproc = srv.rest()
    put(("rest", "server at rest: processes"), nproc)
    put(("rest", "server at rest: RSS, kB (all processes)"), rss)
    put(("rest", "server at rest: PSS, kB (all processes)"), pss)
    n1 = SIZES[0]
    for n in SIZES:
        user = "u%d" % n
        seen = srv.sessions("imap")
        t0 = time.monotonic()
        c = Imap(srv.imap_port, user)
        t1 = time.monotonic()
        if n == n1:
            put(("mem", "private dirty KiB of an IMAP session after LOGIN"),
                dirty_kb(srv.session("imap", seen)))
        t1 = time.monotonic() - t1
        c.cmd("SELECT INBOX")
        put(("time", "LOGIN+SELECT %d, cold (no index), ms" % n), ms_since(t0 + t1))
        put(("mem", "private dirty KiB of an IMAP session after SELECT %d (cold)" % n),
            dirty_kb(srv.session("imap", seen)))
        c.close()
        best = None
        for i in range(3):
            srv.wait_quiet("imap")
            t0 = time.monotonic()
            c = Imap(srv.imap_port, user)
            c.cmd("SELECT INBOX")
            best = min(best or 1e9, ms_since(t0))
            if i < 2:
                c.close()
        put(("time", "LOGIN+SELECT %d, warm, ms (best of 3)" % n), best)
        # back to back: the next session logs in the moment the last one's LOGOUT answered
        best = None
        for i in range(3):
            c.close()
            t0 = time.monotonic()
            c = Imap(srv.imap_port, user)
            c.cmd("SELECT INBOX")
            best = min(best or 1e9, ms_since(t0))
        put(("time", "LOGIN+SELECT %d, warm, right after a LOGOUT, ms (best of 3)" % n), best)
        srv.wait_quiet("imap", 1)
        if n == n1:
            time.sleep(0.3)
            rss, pss = mem_kb(srv.session("imap", seen))
            put(("mem", "idle IMAP session after SELECT %d: RSS, kB" % n), rss)
            put(("mem", "idle IMAP session after SELECT %d: PSS, kB" % n), pss)
        got = []
        put(("time", "FETCH 1:* (FLAGS ENVELOPE) %d, first, ms" % n),
            timed(lambda: got.append(c.cmd("FETCH 1:* (FLAGS ENVELOPE)"))))
        put(("time", "FETCH 1:* (FLAGS ENVELOPE) %d, again, ms" % n),
            timed(lambda: got.append(c.cmd("FETCH 1:* (FLAGS ENVELOPE)"))))
        put(("time", "FETCH 1:* (BODYSTRUCTURE) %d, first, ms" % n),
            timed(lambda: got.append(c.cmd("FETCH 1:* (BODYSTRUCTURE)"))))
        if got != [n, n, n]:
            raise RuntimeError("%s: FETCH answered %r for %d messages" % (srv.name, got, n))
        if n == n1:
            measure_search(c, n, put)
        c.close()
        srv.wait_quiet("imap")
        t0 = time.monotonic()
        p = Pop(srv.pop3_port, user)
        stat = p.cmd("STAT")[0]
        p.multi("UIDL")
        put(("time", "POP3 login+STAT+UIDL %d, ms" % n), ms_since(t0))
        if int(stat.split()[1]) != n:
            raise RuntimeError("%s: STAT %r" % (srv.name, stat))
        p.close()
        srv.wait_quiet("pop3")
    if SMALL not in SIZES:
        measure_small(srv, put)
    # idle POP3 session after login, on the smaller folder
    seen = srv.sessions("pop3")
    p = Pop(srv.pop3_port, "u%d" % n1)
    time.sleep(0.3)
    rss, pss = mem_kb(srv.session("pop3", seen))
    put(("mem", "idle POP3 session after login (%d msgs): RSS, kB" % n1), rss)
    put(("mem", "idle POP3 session after login (%d msgs): PSS, kB" % n1), pss)
    put(("mem", "private dirty KiB of a POP3 session after login (%d msgs)" % n1),
        dirty_kb(srv.session("pop3", seen)))
    p.close()
    srv.wait_quiet("pop3")

    # RETR of a 10 MB message
    best = None
    for _ in range(3):
        p = Pop(srv.pop3_port, "ubig")
        t0 = time.monotonic()
        got = p.multi("RETR 1")
        t = ms_since(t0)
        p.close()
        best = t if best is None else min(best, t)
    put(("speed", "POP3 RETR of a 10 MB message, MB/s (best of 3)"), got / 1000.0 / best)
    srv.wait_quiet("pop3")

    # delivery of one 10 KB message into the smaller folder (runs as root, drops)
    put(("time", "deliver one %d-byte message, ms" % len(DELIVERED)),
        timed(lambda: subprocess.run(srv.deliver("u%d" % n1), input=DELIVERED, check=True,
                                     stderr=subprocess.DEVNULL)))


DELIVERED = message(1)[:400] + b"".join(b"%05d delivered body line to make ten kilobytes...\n"
                                        % j for j in range(184))


def traced(cmd, log, roots):
    """Bytes cmd writes under roots."""
    subprocess.run(STRACE + ["-o", log, "--"] + cmd, input=DELIVERED, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return written_log(log, roots)


def measure_bytes(srv, mail, res, ledger):
    """Bytes written per operation; srv runs under strace, ledger reads its files."""
    put = putter(res, srv.name)

    n1 = SIZES[0]
    ledger.take()
    c = Imap(srv.imap_port, "ufresh")
    c.cmd("SELECT INBOX")
    c.close()
    srv.wait_quiet("imap")
    put(("bytes", "first open of a %d MB mbox (SELECT, LOGOUT)" % (mail["size%d" % SIZES[-1]]
                                                                  // 1000000)), ledger.take())
    c = Imap(srv.imap_port, "ufresh")
    c.cmd("SELECT INBOX")
    ledger.take()
    c.cmd("FETCH 1:* (FLAGS ENVELOPE)")
    c.close()
    srv.wait_quiet("imap")
    put(("bytes", "  then its first FETCH 1:* ENVELOPE (the structure/header cache)"),
        ledger.take())
    for which in ("first", "second"):
        seen = srv.sessions("imap")
        c = Imap(srv.imap_port, "u%d" % n1)
        c.cmd("SELECT INBOX")
        pid = srv.session("imap", seen)
        ledger.take()
        w0 = io_write_bytes(pid)
        c.cmd("STORE %d +FLAGS (\\Seen)" % (n1 // 2 + (which == "second")))
        c.cmd("NOOP")
        w1 = io_write_bytes(pid)
        c.close()
        srv.wait_quiet("imap")
        put(("bytes", "flag change (STORE +FLAGS \\Seen, LOGOUT), %s" % which), ledger.take())
        put(("bytes", "  /proc/PID/io write_bytes of that STORE+NOOP, %s" % which), w1 - w0)

    put(("bytes", "deliver one %d-byte message" % len(DELIVERED)),
        traced(srv.deliver("u%d" % n1), os.path.join(srv.dir, "deliver.strace"), srv.roots))

    n = SIZES[-1]
    user = "u%d" % n
    c = Imap(srv.imap_port, user)
    c.cmd("SELECT INBOX")
    ledger.take()
    c.cmd("STORE %d +FLAGS (\\Deleted)" % (n // 2))
    c.cmd("EXPUNGE")
    c.close()
    srv.wait_quiet("imap")
    put(("bytes", "expunge 1 from the middle of %d MB (STORE, EXPUNGE, LOGOUT)"
         % (mail["size%d" % n] // 1000000)), ledger.take())
    if srv.compact:
        put(("bytes", "  mailnook: then check --compact (deferred space reclaim)"),
            traced(srv.compact(user), os.path.join(srv.dir, "compact.strace"), srv.roots))
    put(("bytes", "  the bytes after that message (what a rewrite of the mbox moves)"),
        mail["tail%d" % n])

    # A batch spread through the file: every tenth message of the rest, one EXPUNGE.
    c = Imap(srv.imap_port, user)
    c.cmd("SELECT INBOX")
    ledger.take()
    batch = range(10, n, 10)
    c.cmd("STORE %s +FLAGS (\\Deleted)" % ",".join(str(i) for i in batch))
    c.cmd("EXPUNGE")
    c.close()
    srv.wait_quiet("imap")
    put(("bytes", "expunge every 10th of the rest (%d, STORE, EXPUNGE, LOGOUT)" % len(batch)),
        ledger.take())
    if srv.compact:
        put(("bytes", "  mailnook: then check --compact"),
            traced(srv.compact(user), os.path.join(srv.dir, "compact2.strace"), srv.roots))
    put(("bytes", "  the live bytes after the first of them (what compaction moves)"),
        mail["batch%d" % n])

    p = Pop(srv.pop3_port, user)
    left = int(p.cmd("STAT")[0].split()[1])
    ledger.take()
    r = p.cmd(*["DELE %d" % i for i in range(1, left + 1)])
    if not all(x.startswith(b"+OK") for x in r):
        raise RuntimeError("%s: DELE failed" % srv.name)
    p.close()
    srv.wait_quiet("pop3")
    put(("bytes", "POP3 delete-all of %d + QUIT" % left), ledger.take())


# --- sizes on disk ------------------------------------------------------------------------

DOVECOT_BINS = ["/usr/sbin/dovecot"] + ["/usr/lib/dovecot/" + b for b in (
    "anvil", "log", "config", "stats", "auth", "imap", "imap-login", "pop3", "pop3-login",
    "dovecot-lda")]


def dovecot_sizes():
    """(bytes of Dovecot's own binaries and libraries, bytes of the system libraries)."""
    own, system = set(DOVECOT_BINS), set()
    for b in DOVECOT_BINS:
        out = subprocess.run(["ldd", b], stdout=subprocess.PIPE, text=True).stdout
        for m in re.finditer(r"(/\S+) \(0x", out):
            lib = os.path.realpath(m.group(1))
            (own if "dovecot" in lib else system).add(lib)
    return disk_usage(own), disk_usage(system)


def disk_usage(paths):
    """Bytes the files take on disk, as du counts them."""
    return sum(os.stat(f).st_blocks * 512 for f in paths)


NOTES = """
notes:
- both run as full network servers on loopback, root dropping to nobody: `mailnook serve -f`
  and `dovecot -c CONF -F` (private base_dir and config in a temp dir, its default services:
  master, anvil, log, config, stats, auth, a login process per connection, one imap/pop3
  process per session); Dovecot with mbox (mbox:~/mail:INBOX=~/INBOX) on the same mbox
  bytes, and with maildir (maildir:~/Maildir) on the same messages, one file each.
- session memory is the session process alone (Dovecot's login process has handed the
  connection over and exited); PSS splits shared pages among the processes mapping them.
- cold: a fresh store with no side files or index; the page cache is warm for all (nothing
  reads the disk). Single runs unless marked: expect some noise on a busy machine. FETCH "first" builds mailnook's .mime cache and Dovecot's index cache.
- bytes written: sum of write/pwrite64/writev/pwritev results on files under the store,
  from `strace -f -ff --seccomp-bpf -y` around the whole server (restarted under it after
  the timings) or the delivery agent (mailnook deliver, dovecot-lda -d); /proc/PID/io
  write_bytes counts whole pages when they are first dirtied (0: page already dirty) and
  the sessions write at LOGOUT/QUIT, after which it can no longer be read.
- the first flag change on a Dovecot mbox adds X-IMAPbase/X-UID headers to every message
  (mbox_lazy_writes), once per folder; mailnook never writes the mbox for flags. mailnook
  expunges by logging and reclaims the space by compaction later (at the last logout once
  dead bytes pass a threshold, or check --compact, shown on its own row).
"""


# --- table --------------------------------------------------------------------------------

def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.1f" % v if v < 100 else "%.0f" % v
    return str(v)


def ratio(a, b):
    if a is None or b is None:
        return "-"
    if b == 0:
        return "-" if a else "1.00"
    r = a / b
    return "%.2f" % r if r >= 0.1 or r == 0 else "%.2g" % r


def table(rows, names):
    w = max(len(r[0][1]) for r in rows) + 1
    head = "%-*s %12s" % (w, "", names[0])
    for n in names[1:]:
        head += " %15s %7s" % (n, "ratio")
    lines = [head]
    section = None
    titles = {"rest": "footprint", "mem": "memory of one idle session (kB = KiB)",
              "time": "time (ms; lower is better)", "bytes": "bytes written to the store",
              "speed": "throughput (higher is better)", "size": "size on disk"}
    for (sec, label), vals in rows:
        if sec != section:
            lines.append("")
            lines.append("-- " + titles[sec])
            section = sec
        m = vals.get(names[0])
        line = "%-*s %12s" % (w, label, fmt(m))
        for n in names[1:]:
            line += " %15s %7s" % (fmt(vals.get(n)), ratio(m, vals.get(n)))
        lines.append(line)
    return "\n".join(lines)


def main():
    mail = {}
    print("building the mail (%s messages of about 1 KiB, one of 10 MB)..."
          % " and ".join(str(n) for n in SIZES), file=sys.stderr, flush=True)
    sizes = sorted(set(SIZES) | {SMALL})
    msgs = {n: [message(i) for i in range(1, n + 1)] for n in sizes}
    bigmsg = [big_message()]
    for n in sizes:
        mail["mbox%d" % n] = os.path.join(T, "src%d.mbox" % n)
        mbox_file(mail["mbox%d" % n], msgs[n])
        mail["size%d" % n] = os.path.getsize(mail["mbox%d" % n])
        mail["tail%d" % n] = sum(len(MBOX_FROM) + len(m) + 1 for m in msgs[n][n // 2:])
        rest = [len(MBOX_FROM) + len(m) + 1 for k, m in enumerate(msgs[n]) if k != n // 2 - 1]
        mail["batch%d" % n] = sum(x for k, x in enumerate(rest, 1) if k > 10 and k % 10)
    mail["mboxbig"] = os.path.join(T, "srcbig.mbox")
    mbox_file(mail["mboxbig"], bigmsg)
    res = {}
    load = [os.getloadavg()]
    servers = [Mailnook(), Dovecot("mbox"), Dovecot("maildir")]
    for srv in servers:
        t0 = time.monotonic()
        for n in sizes:
            srv.add("u%d" % n, mail["mbox%d" % n], msgs[n])
        srv.add("ubig", mail["mboxbig"], bigmsg)
        srv.add("ufresh", mail["mbox%d" % SIZES[-1]], msgs[SIZES[-1]])
        srv.run()
        try:
            measure(srv, mail, res)
        finally:
            srv.stop()
        prefix = os.path.join(srv.dir, "trace")
        srv.run(prefix)
        try:
            measure_bytes(srv, mail, res, Ledger(prefix, srv.roots))
        finally:
            srv.stop()
        print("%s done in %.0f s" % (srv.name, ms_since(t0) / 1000), file=sys.stderr, flush=True)
    own, system = dovecot_sizes()
    size = disk_usage([MAILNOOK])
    res[("size", "du: mailnook static binary vs Dovecot's binaries+libdovecot*, KB")] = {
        "mailnook": size // 1000, "dovecot-mbox": own // 1000, "dovecot-maildir": own // 1000}
    res[("size", "  with the system libraries Dovecot links (libc, ssl...), KB")] = {
        "mailnook": size // 1000, "dovecot-mbox": (own + system) // 1000,
        "dovecot-maildir": (own + system) // 1000}
    order = ["rest", "mem", "time", "bytes", "speed", "size"]
    rows = sorted(res.items(), key=lambda kv: order.index(kv[0][0]))
    ver = subprocess.run(["/usr/sbin/dovecot", "--version"], stdout=subprocess.PIPE,
                         text=True).stdout.split()[0]
    print("mailnook vs Dovecot %s, same mail, loopback; ratio = mailnook / Dovecot" % ver)
    print(table(rows, [s.name for s in servers]))
    load.append(os.getloadavg())
    print("\nmachine load (1/5/15 min averages, %d CPUs): %s at the start, %s at the end"
          % (os.cpu_count(), " ".join("%.2f" % x for x in load[0]),
             " ".join("%.2f" % x for x in load[1])))
    print(NOTES)


main()
