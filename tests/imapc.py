"""A small raw IMAP client for tests that need every untagged line of every reply:
Session(port).cmd("STORE 1 +FLAGS (\\Seen)") -> (untagged lines, tagged line).
Literals in replies are read and kept inline; APPEND sends its message as a LITERAL+.
Parsers for the replies the multi-session tests look at."""
import re
import socket

FETCH_RE = re.compile(rb"^\* (\d+) FETCH \((.*)\)$", re.S)
FLAGS_RE = re.compile(rb"FLAGS \(([^)]*)\)")
UID_RE = re.compile(rb"UID (\d+)")
CODE_RE = re.compile(rb"\[(COPYUID|APPENDUID) (\d+) ([0-9:,]+)(?: ([0-9:,]+))?\]")
SUBJ_RE = re.compile(rb"^\* \d+ FETCH \(.*UID (\d+).*Subject: (\S+)", re.S)


class Session:
    def __init__(self, port, user="alice", password="secret"):
        self.sock = socket.create_connection(("127.0.0.1", port), 30)
        self.f = self.sock.makefile("rb")
        self.n = 0
        greeting = self.line()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError("no greeting: %r" % greeting)
        tagged = self.cmd("LOGIN %s %s" % (user, password))[1]
        if b" OK " not in tagged:
            raise RuntimeError("login failed: %r" % tagged)

    def line(self):
        """One response line with its literals inline, without the final CRLF."""
        out = b""
        while True:
            ln = self.f.readline()
            if not ln:
                raise EOFError("connection closed")
            out += ln
            m = re.search(rb"\{(\d+)\}\r\n$", ln)
            if not m:
                return out.rstrip(b"\r\n")
            out += self.f.read(int(m.group(1)))

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def cmd(self, text, literal=None):
        """Run one command; literal (bytes) is appended as {n+} (LITERAL+)."""
        self.n += 1
        tag = b"t%d" % self.n
        data = tag + b" " + (text.encode() if isinstance(text, str) else text)
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal
        self.send(data + b"\r\n")
        untagged = []
        while True:
            ln = self.line()
            if ln.startswith(tag + b" "):
                return untagged, ln
            untagged.append(ln)

    def ok(self, text, literal=None):
        """cmd() that must answer OK; returns (untagged, tagged)."""
        u, t = self.cmd(text, literal)
        if not t.split(b" ")[1:2] == [b"OK"]:
            raise RuntimeError("%s -> %r" % (text, t))
        return u, t

    def close(self):
        try:
            self.cmd("LOGOUT")
        except (OSError, EOFError):
            pass
        self.sock.close()


def stored(port, folder="INBOX", user="alice"):
    """{uid: (flags without \\Recent, subject)} of a folder as a fresh session reads it."""
    c = Session(port, user)
    c.ok("EXAMINE %s" % folder)
    u, t = c.ok("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.close()
    out = {}
    for ln in u:
        m = SUBJ_RE.match(ln)
        fl = fetches([ln])
        if m and fl:
            out[int(m.group(1))] = (fl[0][2] - {"\\Recent"}, m.group(2).decode())
    return out


def flagset(raw):
    return frozenset(x.decode() for x in raw.split())


def fetches(lines):
    """[(seq, uid or None, flags or None)] of the untagged FETCH lines."""
    out = []
    for ln in lines:
        m = FETCH_RE.match(ln)
        if not m:
            continue
        fl = FLAGS_RE.search(m.group(2))
        uid = UID_RE.search(m.group(2))
        out.append((int(m.group(1)), int(uid.group(1)) if uid else None,
                    flagset(fl.group(1)) if fl else None))
    return out


def numbers(lines, word):
    """The n of every '* n WORD' line (EXISTS, EXPUNGE, RECENT), in order."""
    out = []
    for ln in lines:
        p = ln.split()
        if len(p) == 3 and p[0] == b"*" and p[2] == word.encode():
            out.append(int(p[1]))
    return out


def expand(s):
    """'1:3,7' -> [1, 2, 3, 7] (ascending as written)."""
    out = []
    for part in s.split(b","):
        if b":" in part:
            a, b = (int(x) for x in part.split(b":"))
            step = 1 if b >= a else -1
            out += list(range(a, b + step, step))
        else:
            out.append(int(part))
    return out


def uid_code(line):
    """(kind, uidvalidity, source uids, destination uids) of a COPYUID/APPENDUID code."""
    m = CODE_RE.search(line)
    if not m:
        return None
    if m.group(1) == b"APPENDUID":
        return ("APPENDUID", int(m.group(2)), [], expand(m.group(3)))
    return ("COPYUID", int(m.group(2)), expand(m.group(3)), expand(m.group(4)))


class View:
    """A client's sequence-number view of the selected folder: UIDs by sequence number,
    kept up to date from the EXPUNGE and EXISTS responses of every reply (apply). A
    message the server announced but no longer shows (expunged meanwhile, not yet told)
    is None until its EXPUNGE comes."""

    def __init__(self, c, select_lines):
        self.c = c
        self.uids = []
        self.apply(select_lines)

    UNKNOWN = object()

    def apply(self, lines):
        """Follow one reply's EXPUNGE and EXISTS lines in order, then ask for the UIDs of
        the messages the EXISTS lines added."""
        for ln in lines:
            p = ln.split()
            if len(p) == 3 and p[0] == b"*" and p[2] == b"EXPUNGE":
                del self.uids[int(p[1]) - 1]
            elif len(p) == 3 and p[0] == b"*" and p[2] == b"EXISTS":
                self.uids += [self.UNKNOWN] * (int(p[1]) - len(self.uids))
        while self.UNKNOWN in self.uids:
            lo = self.uids.index(self.UNKNOWN) + 1
            u, t = self.c.ok("FETCH %d:%d (UID)" % (lo, len(self.uids)))
            got = {seq: uid for seq, uid, fl in fetches(u) if uid is not None}
            for k in range(lo, len(self.uids) + 1):
                if self.uids[k - 1] is self.UNKNOWN:
                    self.uids[k - 1] = got.get(k)
            self.apply(u)

    def run(self, text, literal=None):
        """c.cmd(), keeping the view; returns (untagged, tagged)."""
        u, t = self.c.cmd(text, literal)
        self.apply(u)
        return u, t
