"""serve before login, with real idle sockets: the login phase has one deadline however
many NOOPs arrive; idle sessions from a few addresses cannot keep others out (the
busiest address loses its oldest pre-login session instead); and sessions asleep after
a failed login do not hold pre-login places."""
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402


def connect(port, src):
    s = socket.socket()
    s.settimeout(30)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s, s.recv(512)


def chatter_until_closed(port, src, line, bound=60):
    """Send line every 0.5 s while reading the answers; returns (closed, last data, s)."""
    s, g = connect(port, src)
    end = time.time() + bound
    data = g
    while time.time() < end:
        try:
            s.sendall(line)
            chunk = s.recv(4096)
        except OSError:
            return True, data, time.time()
        if not chunk:
            return True, data, time.time()
        data = chunk
        time.sleep(0.5)
    s.close()
    return False, data, time.time()


def deadline():
    env = Env("preauth_timeout 3\n")
    try:
        imap = free_port()
        pop3 = env.serve("listen=127.0.0.1:%d imap" % imap)
        start = time.time()
        closed, last, at = chatter_until_closed(imap, "127.0.0.2", b"a NOOP\r\n")
        check("IMAP NOOPs before login do not extend the 3 s login deadline (closed after "
              "%.1f s)" % (at - start), closed and b"BYE" in last, last)
        start = time.time()
        closed, last, at = chatter_until_closed(pop3, "127.0.0.2", b"CAPA\r\n")
        check("POP3 CAPA before login does not extend it either (closed after %.1f s)" %
              (at - start), closed and b"-ERR" in last, last)
        s, g = connect(pop3, "127.0.0.3")
        s.sendall(b"USER x\r\n")
        s.recv(512)
        s.settimeout(60)
        check("an idle pre-login session ends at the deadline", s.recv(512).startswith(b"-ERR"))
        s.close()
    finally:
        env.close()


def eviction():
    env = Env("max_unauth 10\nmax_per_ip 8\nmax_children 32\n")
    try:
        port = env.serve()
        env.wait_idle()
        idle = {}
        for src in ("127.0.0.2", "127.0.0.3"):
            idle[src] = [connect(port, src) for _ in range(5)]
        check("10 idle sessions from 2 addresses greeted",
              all(g.startswith(b"+OK") for v in idle.values() for _, g in v))
        s, g = connect(port, "127.0.0.9")
        check("with max_unauth full, a newcomer from another address is served",
              g.startswith(b"+OK"), g)
        check("the busiest address's oldest session was evicted, and logged",
              "evicted the oldest session not logged in from 127.0.0.2 (max_unauth full)" in
              env.log(), env.log()[-1500:])
        first = idle["127.0.0.2"][0][0]
        first.settimeout(30)
        try:
            gone = first.recv(512) == b""
        except socket.timeout:
            gone = False
        except OSError:
            gone = True
        check("that session is closed", gone)
        others = [x for src in idle for x, _ in idle[src] if x is not first]
        r, _, _ = select.select(others, [], [], 0.5)
        check("the other nine stay", r == [], len(r))
        t, g = connect(port, "127.0.0.3")
        check("a newcomer from the busiest address itself is refused (max_unauth)",
              g.startswith(b"-ERR [SYS/TEMP]"), g)
        for x in others + [s, t]:
            x.close()
    finally:
        env.close()


def sleeping_failures():
    env = Env("max_unauth 2\nmax_per_ip 8\n")
    try:
        env.add_user("bob", "secret")
        port = env.serve()
        env.wait_idle()
        guessers = []
        for src in ("127.0.0.4", "127.0.0.5"):
            s, g = connect(port, src)
            s.sendall(b"USER bob\r\nPASS wrong\r\n" * 3)
            guessers.append(s)
        served = False
        tries = 0
        while not served and tries < 500:
            tries += 1
            c, g = connect(port, "127.0.0.6")
            c.close()
            served = g.startswith(b"+OK")
            if not served:
                time.sleep(0.05)
        replies = b""
        for s in guessers:
            s.setblocking(False)
            try:
                replies += s.recv(4096)
            except BlockingIOError:
                pass
        check("while both guessers sleep after failed logins, a third address is served "
              "(max_unauth 2; %d tries)" % tries, served)
        check("before the guessers have had all their answers", replies.count(b"-ERR") < 6,
              replies)
        for s in guessers:
            s.close()
    finally:
        env.close()


deadline()
eviction()
sleeping_failures()
done()
