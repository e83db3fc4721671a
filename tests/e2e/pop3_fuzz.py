"""Random POP3 sessions (fixed seed) against `mailnook pop3`: valid verbs with hostile
arguments, random bytes, case games. Every command must get exactly one reply in order
(one status line, plus a dot-terminated block after +OK for the multi-line ones), every
line must end in CRLF, the session must exit 0 with no sanitizer report, and the
maildrop must still hold every message (the sessions end without QUIT)."""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402

SESSIONS = 60
rng = random.Random(1939)
NUMS = ["0", "1", "2", "3", "4", "01", "-1", "+1", "4294967295", "4294967296",
        "4294967297", "99999999999999999999", "1x", "", " ", "1 1", "2 0", "1 99999999"]
VERBS = ["STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "NOOP", "RSET", "CAPA", "USER",
         "PASS", "AUTH", "STLS", "APOP", "XTND", "list", "Retr", "uidl"]


def command():
    verb = rng.choice(VERBS)
    r = rng.random()
    if r < 0.1:
        return bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))).replace(
            b"\n", b"").replace(b"\r", b"") or b"X"
    if verb.upper() == "AUTH":
        # A bare "AUTH PLAIN" would read the next line as its response.
        return rng.choice([b"AUTH", b"AUTH X", b"AUTH PLAIN =", b"AUTH PLAIN !!",
                           b"AUTH PLAIN AGFsaWNlAHNlY3JldA=="])
    if r < 0.5:
        return verb.encode()
    return ("%s %s" % (verb, rng.choice(NUMS))).encode()


def multiline(cmd):
    words = cmd.decode("latin-1").split(" ")
    v = words[0].upper()
    return (v in ("CAPA", "RETR", "TOP") or (v in ("LIST", "UIDL") and len(words) == 1)
            or cmd == b"AUTH")


def replies(out, cmds):
    """Walk the output against the commands; returns an error text or None."""
    lines = out.split(b"\r\n")
    if lines[-1] != b"":
        return "output does not end in CRLF"
    lines.pop()
    if any(b"\n" in ln or b"\r" in ln for ln in lines):
        return "bare CR or LF inside a line"
    if not lines or not lines[0].startswith(b"+OK"):
        return "no greeting"
    cut = lines[-1].startswith(b"-ERR too many bad commands")
    if cut:
        lines.pop()  # the farewell after the last reply it gave
    i = 1
    for c in cmds:
        if i >= len(lines):
            return None if cut else "no reply to %r" % c
        st = lines[i]
        i += 1
        if not (st.startswith(b"+OK") or st.startswith(b"-ERR")):
            return "reply to %r is %r" % (c, st)
        if st.startswith(b"+OK") and multiline(c):
            while i < len(lines) and lines[i] != b".":
                i += 1
            if i == len(lines):
                return "unterminated block after %r" % c
            i += 1
    if i != len(lines):
        return "extra lines: %r" % lines[i:i + 3]
    return None


env = Env()
try:
    env.add_user("alice", "secret")
    for n in range(3):
        env.deliver("alice", make_msg(n, "fuzz", 5, extra_headers=".dot: x\n"))
    bad = []
    for s in range(SESSIONS):
        cmds = [command() for _ in range(rng.randrange(1, 25))]
        if rng.random() < 0.7:
            cmds = [b"USER alice", b"PASS secret"] + cmds
        p = subprocess.run(env.cmd("pop3"), input=b"".join(c + b"\r\n" for c in cmds),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        err = replies(p.stdout, cmds)
        if err or p.returncode != 0 or b"Sanitizer" in p.stderr:
            bad.append((s, err, p.returncode, cmds, p.stderr[-500:]))
    check("%d random sessions: one well-formed reply per command, exit 0" % SESSIONS,
          not bad, bad[:1])
    p = subprocess.run(env.cmd("pop3"), input=b"USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("no session without QUIT deleted anything", b"+OK 3 " in p.stdout, p.stdout)
finally:
    env.close()
done()
