"""Golden POP3 transcripts: each tests/transcripts/pop3/*.txt is fed to `mailnook pop3`
over a pipe (or a socketpair with @socket) and the replies compared line by line.

File format, one directive per line:
  # comment
  @user NAME PASSWORD        create a user
  @msg USER TEXT             deliver TEXT (Python escapes: \\n, \\x00 ...) to USER
  @big USER LINES            deliver a message with LINES numbered body lines
  @mbox USER TEXT            write TEXT as USER's INBOX file as another tool would
  @conf key=value            -o override for this session and the later ones
  @env NAME=VALUE            environment, likewise (TCPREMOTEIP=192.0.2.1)
  @socket                    likewise: a socketpair instead of pipes
  @next                      end this session; the next lines are a new one
  C: text                    client line (Python escapes), CRLF appended
  R: text                    raw client bytes (Python escapes), nothing appended
  S: text                    expected server line; {*} matches any text, {=name}
                             a token that must be the same wherever name is used and
                             different from every other name's token
  L: regex                   a line matching regex must be in the session's log
Every client line of a session is sent at once (pipelining), then the client side is
closed; after the last S: line the server must have closed with nothing more to say.
"""
import codecs
import glob
import os
import re
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done  # noqa: E402

HERE = os.path.join(os.path.dirname(__file__), "..", "transcripts", "pop3")
# The session verb; imap_transcripts.py reuses this runner with "imap".
VERB = "pop3"


def unescape(text):
    return codecs.escape_decode(text.encode("utf-8"))[0]


def expand(text):
    """{rep:N:TEXT} repeats TEXT N times, for over-long lines."""
    return re.sub(r"\{rep:(\d+):([^}]*)\}", lambda m: m.group(2) * int(m.group(1)), text)


def pattern(expected, names):
    out, pos = "", 0
    for m in re.finditer(r"\{\*\}|\{=(\w+)\}", expected):
        out += re.escape(expected[pos:m.start()])
        if m.group(0) == "{*}":
            out += ".*"
        elif m.group(1) in names:
            out += re.escape(names[m.group(1)])
        else:
            out += "(?P<%s>\\S+)" % m.group(1)
        pos = m.end()
    return "^" + out + re.escape(expected[pos:]) + "$"


def compare(expected, got, names):
    """Match server lines (names: {=name} tokens seen so far in this file); returns
    an error text or None."""
    for i, exp in enumerate(expected):
        if i >= len(got):
            return "line %d: expected %r, server closed" % (i + 1, exp)
        m = re.match(pattern(exp, names), got[i])
        if not m:
            return "line %d: expected %r, got %r" % (i + 1, exp, got[i])
        for k, v in m.groupdict().items():
            if v in names.values() and names.get(k) != v:
                return "line %d: {=%s} = %r repeats another token" % (i + 1, k, v)
            names[k] = v
    if len(got) > len(expected):
        return "unexpected extra line %d: %r" % (len(expected) + 1, got[len(expected)])
    return None


def session(env, sess):
    argv = env.cmd(*sum((["-o", o] for o in sess["conf"]), [])) + [VERB]
    envvars = dict(os.environ, **sess["env"])
    if not sess["socket"]:
        p = subprocess.run(argv, input=sess["input"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=envvars, timeout=30)
        return p.stdout, p.stderr.decode("latin-1")
    a, b = socket.socketpair()
    p = subprocess.Popen(argv, stdin=b, stdout=b, stderr=subprocess.PIPE, env=envvars)
    b.close()
    a.sendall(sess["input"])
    a.shutdown(socket.SHUT_WR)
    a.settimeout(30)
    out = b""
    while True:
        data = a.recv(65536)
        if not data:
            break
        out += data
    a.close()
    err = p.stderr.read().decode("latin-1")
    p.wait(10)
    return out, err


def write_mbox(env, user, text):
    d = os.path.join(env.mail, user)
    os.makedirs(d, exist_ok=True)
    with open(env.inbox(user), "wb") as f:
        f.write(text)
    if os.getuid() == 0:
        for p in (d, env.inbox(user)):
            shutil.chown(p, env.run_user)


def parse(path):
    t = {"users": [], "msgs": [], "mboxes": [],
         "sessions": [{"input": b"", "expect": [], "logs": [], "conf": [], "env": {},
                       "socket": False}]}
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            kind, _, rest = line.partition(" ")
            if kind == "@user":
                t["users"].append(rest.split(" ", 1))
            elif kind == "@msg":
                user, text = rest.split(" ", 1)
                t["msgs"].append((user, unescape(text)))
            elif kind == "@big":
                user, n = rest.split()
                body = "".join("body line %d\n" % i for i in range(int(n)))
                t["msgs"].append((user, ("Subject: big\n\n" + body).encode()))
            elif kind == "@conf":
                t["sessions"][-1]["conf"].append(rest)
            elif kind == "@env":
                k, v = rest.split("=", 1)
                t["sessions"][-1]["env"][k] = v
            elif kind == "@mbox":
                user, text = rest.split(" ", 1)
                t["mboxes"].append((user, unescape(text)))
            elif kind == "@socket":
                t["sessions"][-1]["socket"] = True
            elif kind == "@next":
                last = t["sessions"][-1]
                t["sessions"].append({"input": b"", "expect": [], "logs": [],
                                      "conf": list(last["conf"]), "env": dict(last["env"]),
                                      "socket": last["socket"]})
            elif kind == "C:":
                t["sessions"][-1]["input"] += unescape(expand(rest)) + b"\r\n"
            elif kind == "R:":
                t["sessions"][-1]["input"] += unescape(expand(rest))
            elif kind == "S:":
                t["sessions"][-1]["expect"].append(rest)
            elif kind == "L:":
                t["sessions"][-1]["logs"].append(rest)
            else:
                raise ValueError("%s: bad line %r" % (path, line))
    return t


def run(path):
    name = os.path.basename(path)
    t = parse(path)
    env = Env()
    try:
        for user, pw in t["users"]:
            env.add_user(user, pw)
        for user, text in t["mboxes"]:
            write_mbox(env, user, text)
        for user, text in t["msgs"]:
            if env.deliver(user, text) != 0:
                check(name + ": deliver", False)
        names = {}
        for i, sess in enumerate(t["sessions"]):
            what = "%s#%d" % (name, i + 1)
            out, err = session(env, sess)
            bare = re.search(rb"(?<!\r)\n", out)
            check(what + ": every reply line ends in CRLF", bare is None, out[:200])
            got = out.decode("latin-1").split("\r\n")
            if got and got[-1] == "":
                got.pop()
            problem = compare(sess["expect"], got, names)
            check(what + ": replies", problem is None, "%s\n--- log:\n%s" % (problem, err))
            for rx in sess["logs"]:
                check(what + ": log has /%s/" % rx, re.search(rx, err, re.M), err)
            check(what + ": no sanitizer report", "Sanitizer" not in err, err)
    finally:
        env.close()


def main(here):
    for p in sorted(glob.glob(os.path.join(here, "*.txt"))):
        if len(sys.argv) < 2 or any(a in p for a in sys.argv[1:]):
            run(p)
    done()


if __name__ == "__main__":
    main(HERE)
