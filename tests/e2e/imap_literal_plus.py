"""LITERAL+ (RFC 7888) over a real socket: a large APPEND sent as {n+} without waiting for
"+" is stored byte-exact, a {n+} over the APPEND limit is read, dropped and answered
BAD [TOOBIG], and the session stays in step for the next command."""
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port  # noqa: E402

env = Env("max_message 300000\n")
env.add_user("alice", "secret")
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT)


def until(sock, tag):
    data = b""
    while not re.search(rb"(^|\r\n)" + tag + rb" [A-Z]+ [^\r\n]*\r\n", data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


try:
    s = socket.create_connection(("127.0.0.1", PORT), 10)
    greeting = until(s, b"\\*")
    check("LITERAL+ advertised", b"LITERAL+" in greeting, greeting)
    s.sendall(b"a LOGIN alice secret\r\n")
    until(s, b"a")
    body = b"".join(b"Subject: big\r\n\r\n" if i == 0 else b"line %06d of a large message\r\n" % i
                    for i in range(6000))
    # Command, literal and the next command in one send: no wait for "+".
    s.sendall(b"b APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\nc NOOP\r\n")
    r = until(s, b"c")
    check("no continuation request for {n+}", b"+ Ready" not in r, r[:200])
    check("APPEND with a %d-byte {n+} literal accepted" % len(body), b"b OK [APPENDUID" in r, r[:300])
    s.sendall(b"d SELECT INBOX\r\ne FETCH 1 BODY.PEEK[]\r\n")
    r = until(s, b"e")
    m = re.search(rb"BODY\[\] \{(\d+)\}\r\n", r)
    got = r[m.end():m.end() + int(m.group(1))] if m else b""
    check("stored message fetched byte-exact", got == body, (len(got), len(body)))
    big = b"x" * 400000
    s.sendall(b"f APPEND INBOX {%d+}\r\n" % len(big) + big + b"\r\ng NOOP\r\n")
    r = until(s, b"g")
    check("{n+} over the APPEND limit answered BAD [TOOBIG]", b"f BAD [TOOBIG]" in r, r[:300])
    check("session in step after the dropped literal", b"g OK" in r, r[-200:])
    s.sendall(b"h STATUS INBOX (MESSAGES)\r\n")
    r = until(s, b"h")
    check("refused literal stored nothing", b"MESSAGES 1)" in r, r)
    s.close()
finally:
    env.close()
done()
