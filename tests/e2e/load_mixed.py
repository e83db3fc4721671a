"""Bounded mixed load against serve, with accounting: for about 12 s, IMAP sessions
(plain and TLS) read, search and flag, POP3 sessions (plain and TLS) list and retrieve,
IDLE sessions wait, and deliveries arrive several a second. Then: no protocol errors,
every delivered message present exactly once (IMAP and POP3 agree), every IDLE session
saw every delivery to its user, and `check` finds every folder consistent. Nothing is
timed: the work done is counted and printed."""
import imaplib
import os
import poplib
import random
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

ACTIVE = 12                                   # seconds of mixed traffic
IMAP_USERS = ["imap%d" % i for i in range(6)]  # IDLE watchers and IMAP readers
POP_USERS = ["pop%d" % i for i in range(6)]    # one POP3 worker each (exclusive lock)
IMAP_WORKERS = 80
TIMEOUT = 120

env = Env("max_children 300\nmax_per_ip 300\nmax_unauth 300\n")
lock = threading.Lock()
errors = []
count = {"imap": 0, "imaps": 0, "pop3": 0, "pop3s": 0, "deliveries": 0}
delivered = {u: [] for u in IMAP_USERS + POP_USERS}
stop = threading.Event()


def error(what):
    with lock:
        errors.append(what)


def bump(kind):
    with lock:
        count[kind] += 1


def ok_or_error(what, typ, data=None):
    if typ != "OK":
        error("%s: %s %s" % (what, typ, data))
    return typ == "OK"


def imap_connect(tls):
    if tls:
        c = imaplib.IMAP4_SSL("127.0.0.1", PORTS["imaps"], ssl_context=CTX, timeout=TIMEOUT)
    else:
        c = imaplib.IMAP4("127.0.0.1", PORTS["imap"], timeout=TIMEOUT)
    return c


def imap_worker(n):
    rnd = random.Random(n)
    tls = n % 4 == 0
    while not stop.is_set():
        user = rnd.choice(IMAP_USERS)
        try:
            c = imap_connect(tls)
            c.login(user, "pw")
            typ, data = c.select("INBOX")
            ok_or_error("SELECT", typ, data)
            exists = int(data[0])
            if exists:
                ok_or_error("FETCH", *c.fetch("1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS "
                                                     "(MESSAGE-ID SUBJECT)])"))
                ok_or_error("SEARCH", *c.search(None, "TEXT", "line"))
                ok_or_error("STORE", *c.store(str(rnd.randint(1, exists)), "+FLAGS", "(\\Seen)"))
            ok_or_error("NOOP", *c.noop())
            c.logout()
            bump("imaps" if tls else "imap")
        except Exception as e:  # noqa: BLE001 - every failure is counted
            error("imap worker %d: %r" % (n, e))


def pop_worker(n):
    user = POP_USERS[n]
    tls = n % 2 == 1
    while not stop.is_set():
        try:
            if tls:
                p = poplib.POP3_SSL("127.0.0.1", PORTS["pop3s"], context=CTX, timeout=TIMEOUT)
            else:
                p = poplib.POP3("127.0.0.1", PORTS["pop3"], timeout=TIMEOUT)
            p.user(user)
            p.pass_("pw")
            num, _ = p.stat()
            uidls = p.uidl()[1]
            if len(uidls) != num:
                error("pop3 %s: STAT %d but %d UIDLs" % (user, num, len(uidls)))
            if num:
                lines = p.retr(num)[1]
                if not any(ln.startswith(b"Message-ID: <load-") for ln in lines):
                    error("pop3 %s: RETR %d without its Message-ID" % (user, num))
            p.quit()
            bump("pop3s" if tls else "pop3")
        except Exception as e:  # noqa: BLE001
            error("pop worker %d: %r" % (n, e))


class RawImap:
    """A line reader on a plain socket that can wait for a line with a short timeout."""

    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORTS["imap"]), TIMEOUT)
        self.buf = b""

    def line(self, wait):
        """The next line, or None when none arrived within wait seconds."""
        while b"\r\n" not in self.buf:
            r, _, _ = select.select([self.s], [], [], wait)
            if not r:
                return None
            chunk = self.s.recv(4096)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def command(self, tag, text):
        self.s.sendall(b"%s %s\r\n" % (tag, text))
        while True:
            ln = self.line(TIMEOUT)
            if ln is None or ln.startswith(tag + b" "):
                return ln


def idle_worker(user, ready, seen):
    try:
        c = RawImap()
        c.line(TIMEOUT)
        for tag, cmd in ((b"l", b"LOGIN %s pw" % user.encode()), (b"s", b"SELECT INBOX")):
            r = c.command(tag, cmd)
            if r is None or not r.startswith(tag + b" OK"):
                error("IDLE session of %s: %s" % (user, r))
                return
        c.s.sendall(b"i IDLE\r\n")
        if not (c.line(TIMEOUT) or b"").startswith(b"+"):
            error("IDLE not accepted for " + user)
            return
        ready.release()
        end = time.time() + ACTIVE + TIMEOUT
        while time.time() < end:
            ln = c.line(0.5)
            m = re.match(rb"\* (\d+) EXISTS", ln or b"")
            if m:
                seen[user] = int(m.group(1))
            with lock:
                want = len(delivered[user])
            if FINISHED.is_set() and seen.get(user, 0) >= want:
                break
        c.s.sendall(b"DONE\r\n")
        while not (c.line(TIMEOUT) or b"i ").startswith(b"i "):
            pass
        c.command(b"o", b"LOGOUT")
        c.s.close()
    except Exception as e:  # noqa: BLE001
        error("idle %s: %r" % (user, e))


def deliverer():
    n = 0
    while not stop.is_set():
        user = (IMAP_USERS + POP_USERS)[n % (len(IMAP_USERS) + len(POP_USERS))]
        msg = make_msg(n, "load %d" % n).replace(b"Message-ID: <%d." % n,
                                                  b"Message-ID: <load-%d." % n)
        if env.deliver(user, msg) == 0:
            with lock:
                delivered[user].append(n)
                count["deliveries"] += 1
        else:
            error("deliver %d to %s failed" % (n, user))
        n += 1
        time.sleep(0.1)
    FINISHED.set()


FINISHED = threading.Event()
try:
    cert = os.path.join(env.dir, "cert.pem")
    key = os.path.join(env.dir, "key.pem")
    subprocess.run(env.cmd("cert", "--cert", cert, "--key", key, "localhost", "127.0.0.1"),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    CTX = ssl.create_default_context(cafile=cert)
    for u in IMAP_USERS + POP_USERS:
        env.add_user(u, "pw")
    PORTS = {k: free_port() for k in ("imap", "imaps", "pop3s")}
    PORTS["pop3"] = env.serve("tls_cert=" + cert, "tls_key=" + key,
                              "listen=127.0.0.1:%d imap" % PORTS["imap"],
                              "listen=127.0.0.1:%d imap tls" % PORTS["imaps"],
                              "listen=127.0.0.1:%d pop3 tls" % PORTS["pop3s"])
    ready = threading.Semaphore(0)
    seen = {}
    idlers = [threading.Thread(target=idle_worker, args=(u, ready, seen)) for u in IMAP_USERS]
    for t in idlers:
        t.start()
    for _ in IMAP_USERS:
        ready.acquire(timeout=TIMEOUT)
    workers = [threading.Thread(target=imap_worker, args=(i,)) for i in range(IMAP_WORKERS)]
    workers += [threading.Thread(target=pop_worker, args=(i,)) for i in range(len(POP_USERS))]
    workers.append(threading.Thread(target=deliverer))
    for t in workers:
        t.start()
    time.sleep(ACTIVE)
    stop.set()
    for t in workers + idlers:
        t.join(ACTIVE + 2 * TIMEOUT)
    total = sum(count.values()) - count["deliveries"]
    print("# load: %d sessions (%d imap, %d imaps, %d pop3, %d pop3s), %d deliveries, "
          "%d IDLE sessions" % (total, count["imap"], count["imaps"], count["pop3"],
                                count["pop3s"], count["deliveries"], len(IMAP_USERS)))
    check("no protocol errors or failed sessions (%d)" % len(errors), not errors, errors[:10])
    check("every kind of session ran", all(count[k] > 0 for k in count), count)
    check("%d concurrent clients were served (%d sessions in all)" %
          (IMAP_WORKERS + len(POP_USERS) + len(IMAP_USERS), total),
          total >= IMAP_WORKERS + len(POP_USERS))
    lost = dup = 0
    for u in IMAP_USERS:
        c = imap_connect(False)
        c.login(u, "pw")
        typ, data = c.select("INBOX", readonly=True)
        ids = []
        if int(data[0]):
            typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            ids = [int(m) for m in re.findall(rb"<load-(\d+)\.", b"".join(
                x[1] for x in data if isinstance(x, tuple)))]
        c.logout()
        lost += len(set(delivered[u]) - set(ids))
        dup += len(ids) - len(set(ids))
    for u in POP_USERS:
        p = poplib.POP3("127.0.0.1", PORTS["pop3"], timeout=TIMEOUT)
        p.user(u)
        p.pass_("pw")
        ids = []
        for i in range(1, p.stat()[0] + 1):
            ids += [int(m) for m in re.findall(rb"<load-(\d+)\.", b"\n".join(p.top(i, 0)[1]))]
        p.quit()
        lost += len(set(delivered[u]) - set(ids))
        dup += len(ids) - len(set(ids))
    check("all %d deliveries present once: %d lost, %d duplicated" %
          (count["deliveries"], lost, dup), lost == 0 and dup == 0 and count["deliveries"] > 0)
    missed = {u: (seen.get(u, 0), len(delivered[u])) for u in IMAP_USERS
              if seen.get(u, 0) != len(delivered[u])}
    check("every IDLE session saw every delivery to its user", not missed, missed)
    bad = []
    for u in IMAP_USERS + POP_USERS:
        if not delivered[u] and not os.path.exists(env.inbox(u)):
            # Nothing delivered and no session made the INBOX (a slow run, e.g. under an
            # emulator): there is no folder for check to look at.
            continue
        r = subprocess.run(env.cmd("check", u), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            bad.append((u, r.returncode, r.stdout.decode(errors="replace")[-300:]))
    check("check: every folder consistent", not bad, bad)
    check("serve logged no killed session", "killed by signal" not in env.log(),
          [ln for ln in env.log().splitlines() if "killed" in ln][:5])
finally:
    stop.set()
    env.close()
done()
