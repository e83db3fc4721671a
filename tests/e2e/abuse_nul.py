"""A NUL byte never shortens a name: LOGIN literals, AUTHENTICATE PLAIN, POP3 USER/PASS and
AUTH PLAIN, and mailbox names with NUL are refused over raw sockets (a NUL inside a LOGIN
literal logged in as the name before it)."""
import base64
import os
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402


class Raw:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 30)
        self.buf = b""
        self.greeting = self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                out, self.buf = self.buf, b""
                return out
            self.buf += chunk
        out, self.buf = self.buf.split(b"\r\n", 1)
        return out + b"\r\n"

    def until(self, prefix):
        """Lines up to and including the first starting with prefix (or EOF)."""
        lines = []
        while True:
            ln = self.line()
            lines.append(ln)
            if not ln or ln.startswith(prefix):
                return b"".join(lines)

    def send(self, data):
        self.s.sendall(data)


env = Env()
try:
    env.add_user("alice", "secret")
    env.deliver("alice", make_msg(1))
    imap = free_port()
    pop3 = env.serve("listen=127.0.0.1:%d imap" % imap)

    c = Raw(imap)
    c.send(b"a LOGIN {9+}\r\nalice\0bob secret\r\n")
    r = c.until(b"a ")
    check("IMAP LOGIN literal alice\\0bob refused", r.startswith(b"a BAD") or
          r.startswith(b"a NO"), r)
    c.send(b"b LOGIN alice {7+}\r\nsecret\0\r\n")
    r = c.until(b"b ")
    check("IMAP LOGIN password literal with a trailing NUL refused", not r.startswith(b"b OK"), r)
    c.send(b"c LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n")
    r = c.until(b"c ")
    check("IMAP LOGIN with clean literals still works", r.startswith(b"c OK"), r)
    c.send(b"d SELECT {7+}\r\nINBOX\0x\r\n")
    r = c.until(b"d ")
    check("IMAP SELECT of a name with NUL refused", not r.startswith(b"d OK"), r)
    c.s.close()

    c = Raw(imap)
    for resp, what in ((b"\0alice\0secret\0x", "a third NUL"),
                       (b"alice\0bob\0alice\0secret", "four fields"),
                       (b"\0alice\0sec\0ret", "NUL inside the password")):
        c.send(b"e AUTHENTICATE PLAIN " + base64.b64encode(resp) + b"\r\n")
        r = c.until(b"e ")
        check("IMAP AUTHENTICATE PLAIN with %s refused" % what, not r.startswith(b"e OK"), r)
    c.s.close()

    p = Raw(pop3)
    p.send(b"USER alice\0bob\r\n")
    r = p.line()
    check("POP3 USER alice\\0bob refused", r.startswith(b"-ERR"), r)
    p = Raw(pop3)
    p.send(b"USER alice\r\nPASS secret\0junk\r\n")
    r = p.line() + p.line()
    check("POP3 PASS with NUL refused", b"maildrop" not in r and r.count(b"+OK") <= 1 and
          b"-ERR" in r, r)
    p = Raw(pop3)
    p.send(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0secret\0x") + b"\r\n")
    r = p.line()
    check("POP3 AUTH PLAIN with a third NUL refused", r.startswith(b"-ERR"), r)
    p.send(b"AUTH PLAIN " + base64.b64encode(b"\0alice\0secret") + b"\r\n")
    r = p.line()
    check("POP3 AUTH PLAIN clean still works", r.startswith(b"+OK"), r)
    check("no login as alice through a NUL in the log",
          env.log().count("login user=alice") == 2, env.log())
finally:
    env.close()
done()
