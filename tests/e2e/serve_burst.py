"""serve under bursts: 200 simultaneous connects all get a greeting (the listener empties
its queue on each wake-up, with a deep listen queue), and connections over the caps end
in an orderly close, never a TCP reset, also when the client has already sent its
ClientHello or pipelined commands."""
import os
import select
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port  # noqa: E402

BURST = 200


def burst(port):
    """Connect BURST sockets at once; return how many got a greeting within 120 s."""
    socks = []
    for i in range(BURST):
        s = socket.socket()
        s.setblocking(False)
        s.bind(("127.0.%d.%d" % (1 + i // 200, 10 + i % 200), 0))
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    pending = {s: b"" for s in socks}
    greeted = 0
    end = time.time() + 120
    while pending and time.time() < end:
        r, _, _ = select.select(list(pending), [], [], 1)
        for s in r:
            try:
                data = s.recv(512)
            except OSError:
                data = b""
            pending[s] += data
            if b"\r\n" in pending[s] or not data:
                greeted += pending[s].startswith(b"* OK")
                del pending[s]
    for s in socks:
        s.close()
    return greeted


def listen_queue(port):
    out = subprocess.run(["ss", "-ltnH", "sport = :%d" % port], stdout=subprocess.PIPE).stdout
    fields = out.split()
    return int(fields[2]) if len(fields) > 2 else -1


def refused_cleanly(port, data, tls=False):
    """Connect while the caps are full, send data at once, read to the end: the bytes
    read, or the name of the error (a reset is the failure)."""
    s = socket.create_connection(("127.0.0.1", port), 30)
    s.settimeout(30)
    s.sendall(data)
    got = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return got
            got += chunk
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()


def client_hello():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


env = Env("max_children 400\nmax_per_ip 400\nmax_unauth 400\n")
try:
    port = free_port()
    env.serve("listen=127.0.0.1:%d imap" % port)
    env.wait_idle()
    check("listen queue is deep (%d)" % listen_queue(port), listen_queue(port) >= 512)
    n = burst(port)
    check("%d simultaneous connects: every one greeted (%d)" % (BURST, n), n == BURST)
finally:
    env.close()

env = Env("max_children 1\n")
try:
    cert = os.path.join(env.dir, "cert.pem")
    key = os.path.join(env.dir, "key.pem")
    subprocess.run(env.cmd("cert", "--cert", cert, "--key", key, "localhost"), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tls = free_port()
    pop3 = env.serve("tls_cert=" + cert, "tls_key=" + key, "listen=127.0.0.1:%d pop3 tls" % tls)
    env.wait_idle()
    hold = socket.create_connection(("127.0.0.1", pop3), 30)
    hold.recv(512)
    hello = client_hello()
    results = [refused_cleanly(tls, hello) for _ in range(20)]
    check("over max_children, 20 TLS clients whose ClientHello was sent: orderly close, no "
          "reset", all(r == b"" for r in results), results)
    results = [refused_cleanly(pop3, b"CAPA\r\n" * 50) for _ in range(20)]
    check("20 POP3 clients that pipelined commands: the refusal, then an orderly close",
          all(r == b"-ERR [SYS/TEMP] too many connections\r\n" for r in results), results)
    check("serve still serves", hold.send(b"QUIT\r\n") == 6 and hold.recv(512).startswith(b"+OK"))
    hold.close()
finally:
    env.close()
done()
