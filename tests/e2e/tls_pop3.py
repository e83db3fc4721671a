"""POP3 over TLS with python's ssl module against `mailnook serve`: implicit TLS (995
style) and STLS on the cleartext port, full sessions over both, the plaintext-auth
policy, STLS command injection, and hostile handshakes (garbage, a truncated
ClientHello, a client that stalls) ending cleanly while serve keeps working."""
import os
import re
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

env = Env()
cert = os.path.join(env.dir, "cert.pem")
key = os.path.join(env.dir, "key.pem")
r = subprocess.run(env.cmd("cert", "--cert", cert, "--key", key, "localhost", "127.0.0.1"),
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
check("mailnook cert made a key and certificate", r.returncode == 0, r.stderr)
env.add_user("alice", "secret")
for i in range(2):
    env.deliver("alice", make_msg(i, "tls message %d" % i))

tls_port = free_port()
plain_port = env.serve("tls_cert=" + cert, "tls_key=" + key, "plaintext_auth=never",
                       "preauth_timeout=2", "listen=127.0.0.1:%d pop3 tls" % tls_port)

ctx = ssl.create_default_context(cafile=cert)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2


class Pop:
    """A line-oriented POP3 client over a plain or TLS socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise EOFError(self.buf)
            self.buf += data
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("latin-1")

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()

    def multi(self):
        lines = []
        while True:
            ln = self.line()
            if ln == ".":
                return lines
            lines.append(ln[1:] if ln.startswith("..") else ln)


def tls_connect(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    return ctx.wrap_socket(s, server_hostname="test.example")


def full_session(p, what):
    """USER/PASS, STAT, RETR, DELE, QUIT: the mailbox shrinks by one."""
    check(what + ": USER accepted", p.cmd("USER alice").startswith("+OK"))
    check(what + ": PASS accepted", p.cmd("PASS secret").startswith("+OK"))
    stat = p.cmd("STAT")
    count = int(stat.split()[1]) if stat.startswith("+OK") else -1
    check(what + ": STAT", count >= 1, stat)
    check(what + ": RETR 1", p.cmd("RETR 1").startswith("+OK"))
    body = p.multi()
    check(what + ": message text intact", any(re.match(r"Subject: tls message", ln)
                                              for ln in body), body[:5])
    check(what + ": DELE 1", p.cmd("DELE 1").startswith("+OK"))
    check(what + ": QUIT", p.cmd("QUIT").startswith("+OK"))
    return count


# Implicit TLS: the handshake comes first, then the greeting.
t = tls_connect(tls_port)
check("implicit TLS negotiates TLS 1.2", t.version() == "TLSv1.2", t.version())
check("suite is ECDHE with an AEAD", re.match(r"ECDHE-ECDSA-(AES|CHACHA)", t.cipher()[0]),
      t.cipher())
p = Pop(t)
check("greeting over TLS", p.line().startswith("+OK"))
p.cmd("CAPA")
capa = p.multi()
check("no STLS offered inside TLS", "STLS" not in capa, capa)
check("USER offered inside TLS", "USER" in capa, capa)
before = full_session(p, "pop3s")
t.close()

# STLS on the cleartext port: plaintext USER refused first (plaintext_auth=never).
s = socket.create_connection(("127.0.0.1", plain_port), 5)
p = Pop(s)
p.line()
check("plaintext USER refused before STLS", p.cmd("USER alice").startswith("-ERR"))
p.cmd("CAPA")
capa = p.multi()
check("STLS offered in cleartext", "STLS" in capa, capa)
check("STLS accepted", p.cmd("STLS").startswith("+OK"))
t = ctx.wrap_socket(s, server_hostname="test.example")
check("STLS negotiates TLS 1.2", t.version() == "TLSv1.2", t.version())
p = Pop(t)
after = full_session(p, "stls")
check("STLS session saw the first session's deletion", after == before - 1,
      (before, after))
t.close()

# Injection: a command pipelined behind STLS in the same packet must not run.
s = socket.create_connection(("127.0.0.1", plain_port), 5)
p = Pop(s)
p.line()
s.sendall(b"STLS\r\nUSER alice\r\n")
reply = p.line()
check("STLS with pipelined plaintext refused", reply.startswith("-ERR"), reply)
s.close()


def ended_within(sock, seconds):
    """True if the server closes (EOF or reset) within seconds."""
    sock.settimeout(seconds)
    t0 = time.time()
    try:
        while sock.recv(4096):
            pass
    except socket.timeout:
        return False
    except OSError:
        pass
    return time.time() - t0 <= seconds


# Hostile handshakes on the implicit port.
s = socket.create_connection(("127.0.0.1", tls_port), 5)
s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
check("garbage ends the session", ended_within(s, 2))
s.close()

inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out, server_hostname="test.example")
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = out.read()
s = socket.create_connection(("127.0.0.1", tls_port), 5)
s.sendall(hello[:len(hello) // 2])
s.shutdown(socket.SHUT_WR)
check("truncated ClientHello ends the session", ended_within(s, 2))
s.close()

s = socket.create_connection(("127.0.0.1", tls_port), 5)
s.sendall(hello[:5])
t0 = time.time()
check("client stalling mid-handshake dropped at preauth_timeout (2 s)",
      ended_within(s, 4) and time.time() - t0 >= 1.5, time.time() - t0)
s.close()

# Inside an established session: a forged record, then a record cut short.
for what, junk, hang_up in (("forged record after the handshake",
                             b"\x17\x03\x03\x00\x20" + os.urandom(32), False),
                            ("truncated record after the handshake",
                             b"\x17\x03\x03\x01\x00" + os.urandom(10), True)):
    t = tls_connect(tls_port)
    Pop(t).line()
    raw = socket.socket(fileno=os.dup(t.fileno()))
    raw.sendall(junk)
    if hang_up:
        raw.shutdown(socket.SHUT_WR)
    check(what + " ends the session", ended_within(raw, 2))
    raw.close()
    t.close()

t = tls_connect(tls_port)
check("serve still answers after the bad clients", Pop(t).line().startswith("+OK"))
t.close()

# The sessions log as they end: wait for the lines this looks at, not for a time.
end = time.time() + 10
while time.time() < end and not (
        re.search(r"tls TLSv1\.2 ECDHE-ECDSA-\S+ from 127\.0\.0\.1", env.log()) and
        len(re.findall(r"TLS handshake failed from 127\.0\.0\.1", env.log())) >= 3):
    time.sleep(0.05)
log = env.log()
check("log names the session's protocol and suite",
      re.search(r"tls TLSv1\.2 ECDHE-ECDSA-\S+ from 127\.0\.0\.1", log), log[-2000:])
fails = re.findall(r"TLS handshake failed from 127\.0\.0\.1: (.*)", log)
check("handshake failures logged", len(fails) >= 3, fails)
check("failure reasons are names, not numbers",
      all(not re.match(r"^(engine error|\d)", f) for f in fails), fails)
check("stalled client logged as timeout", "timeout" in fails, fails)
check("forged record logged by name",
      re.search(r"TLS read failed from 127\.0\.0\.1: bad_mac", log), log[-1500:])
check("no sanitizer report from any session", "Sanitizer" not in log and
      "runtime error" not in log)
env.close()
done()
