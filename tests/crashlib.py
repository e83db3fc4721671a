"""Helpers for the store's crash and write-count tests (tests/e2e/crash_*.py).

A session is one `mailnook imap` or `mailnook pop3` process (the inetd way) whose stdin
and stdout are the server end of a real loopback TCP connection, so the peer is
127.0.0.1 as under any launcher; it can run under strace, which counts its system calls
or kills it with SIGKILL at the N-th call of one kind (deterministic, whatever the load).
"""
import fcntl
import imaplib
import os
import poplib
import re
import socket
import subprocess

from lib import MAILNOOK

# The calls that change files: a kill at each of them is a crash point.
MUTATING = ("write", "pwrite64", "writev", "fsync", "fdatasync", "ftruncate", "rename",
            "unlink", "link", "openat")


def tcp_pair():
    """(client, server) ends of one loopback TCP connection."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    cli = socket.create_connection(lst.getsockname(), 10)
    srv, _ = lst.accept()
    lst.close()
    return cli, srv


def strace_prefix(trace=None, kill=None, out="/dev/null"):
    """strace arguments: trace a list of calls into out, and kill=(call, n) injects
    SIGKILL on entry to the n-th call of that kind (before it runs)."""
    if trace is None and kill is None:
        return []
    args = ["strace", "-f", "-qq", "-y", "-o", out]
    calls = list(trace or ())
    if kill is not None:
        calls.append(kill[0])
        args += ["-e", "inject=%s:signal=KILL:when=%d" % kill]
    return args + ["-e", "trace=" + ",".join(sorted(set(calls)))]


class Session:
    """One protocol session process; .client is the socket to speak to it."""

    def __init__(self, env, proto, trace=None, kill=None, out="/dev/null"):
        self.client, srv = tcp_pair()
        err = open(os.path.join(env.dir, "session.log"), "ab")
        self.proc = subprocess.Popen(strace_prefix(trace, kill, out) +
                                     env.cmd(proto), stdin=srv, stdout=srv, stderr=err)
        srv.close()
        err.close()

    def wait(self, timeout=30):
        """Exit status (negative: signal; strace passes a kill on as 128 + 9)."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.client.close()
        return rc

    def killed(self):
        return self.wait() in (-9, 137)


class IMAP(imaplib.IMAP4):
    """imaplib over a Session's socket."""

    def __init__(self, session):
        self._given = session.client
        imaplib.IMAP4.__init__(self, "127.0.0.1", 0, timeout=30)

    def _create_socket(self, timeout=None):
        return self._given


class POP3(poplib.POP3):
    """poplib over a Session's socket."""

    def __init__(self, session):
        self._given = session.client
        poplib.POP3.__init__(self, "127.0.0.1", 0, timeout=30)

    def _create_socket(self, timeout):
        return self._given


def count_calls(path, mail_dir):
    """From an strace -y log: {call: n} of the calls that change something under
    mail_dir (writes to files there, syncs, renames, links, unlinks, truncations), not
    counting the socket and the log."""
    counts = {}
    for line in open(path, errors="replace"):
        m = re.match(r"(?:\d+ +)?(\w+)\((.*)\) += (-?\d+)", line)
        if not m:
            continue
        call, args, ret = m.group(1), m.group(2), int(m.group(3))
        if ret < 0:
            continue
        if call in ("write", "pwrite64", "writev", "fsync", "fdatasync", "ftruncate"):
            fd = re.match(r"\d+<([^>]*)>", args)
            if not fd or not fd.group(1).startswith(mail_dir):
                continue
        elif call == "openat" or mail_dir not in args:
            continue
        counts[call] = counts.get(call, 0) + 1
    return counts


def tree_state(top):
    """{path: (size, mtime_ns)} of every file under top: equal before and after means
    nothing was created, removed or written."""
    st = {}
    for d, _dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            try:
                s = os.lstat(p)
            except OSError:
                continue
            st[p] = (s.st_size, s.st_mtime_ns)
    return st


def imap_login(env, user="alice", password="secret", **session_args):
    """(Session, IMAP) logged in as user."""
    s = Session(env, "imap", **session_args)
    m = IMAP(s)
    m.login(user, password)
    return s, m


def pop3_login(env, user="alice", password="secret", **session_args):
    """(Session, POP3) logged in as user."""
    s = Session(env, "pop3", **session_args)
    p = POP3(s)
    p.user(user)
    p.pass_(password)
    return s, p


def expunge_kept(env, uids, user="alice"):
    """STORE \\Deleted + EXPUNGE of uids in user's INBOX while another session has the
    folder open and is reading the mbox: the bytes stay, dead, for a compaction to come."""
    udir = os.path.join(env.mail, user)
    s, m = imap_login(env, user)
    m.select("INBOX")
    m.uid("STORE", uids, "+FLAGS", "(\\Deleted)")
    with open(os.path.join(udir, ".mailnook", "INBOX.ses"), "rb") as hold, \
            open(os.path.join(udir, "INBOX"), "rb") as reading:
        fcntl.flock(hold, fcntl.LOCK_SH)
        fcntl.lockf(reading, fcntl.LOCK_SH)
        m.expunge()
        m.logout()
        s.wait()


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), as the state file and the journal use it."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def param(name):
    """A numeric constant of src/params.h (e.g. COMPACT_ROUND_MIN)."""
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src",
                            "params.h")).read()
    m = re.search(r"#define\s+%s\s+\(?([\d\s*]+)\)?" % name, src)
    val = 1
    for f in m.group(1).split("*"):
        val *= int(f)
    return val


def compaction_plan(offsets, dead, size):
    """Moves (src, dst, len) of a compaction, from the messages' offsets in file order,
    which of them are expunged and the mbox size (doc/store.md, Compaction)."""
    moves, w, gap = [], size, False
    for i, off in enumerate(offsets):
        end = offsets[i + 1] if i + 1 < len(offsets) else size
        if dead[i]:
            if not gap:
                w, gap = off, True
        elif gap:
            if moves and moves[-1][0] + moves[-1][2] == off and moves[-1][1] + moves[-1][2] == w:
                moves[-1] = (moves[-1][0], moves[-1][1], moves[-1][2] + end - off)
            else:
                moves.append((off, w, end - off))
            w += end - off
    return moves


def compaction_rounds(moves, round_min):
    """[(start, length, copy)] of the rounds a plan is moved in: max(shift at the start,
    round_min) bytes of the moves end to end; copy = the bytes among them whose source
    lies below the round's destination end (doc/store.md, Compaction)."""
    total = sum(m[2] for m in moves)
    rounds, t = [], 0
    while t < total:
        mi, inn = 0, t
        while inn >= moves[mi][2]:
            inn -= moves[mi][2]
            mi += 1
        src, dst, _ = moves[mi]
        length = min(max(src - dst, round_min), total - t)
        end = dst + inn + length
        copy = 0
        for s, _d, n in moves[mi:]:
            s, n = s + inn, n - inn
            inn = 0
            if s + n > end:
                copy += max(0, end - s)
                break
            copy += n
        rounds.append((t, length, copy))
        t += length
    return rounds


def journal_round(path):
    """(round_min, moves, newest progress record (seq, copy, start, length), its copy
    slot's bytes) of a compaction journal, or None without one."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        return None
    n = int.from_bytes(data[12:16], "little")
    round_min = int.from_bytes(data[48:52], "little")
    moves = [tuple(int.from_bytes(data[64 + 24 * i + 8 * k:72 + 24 * i + 8 * k], "little")
                   for k in range(3)) for i in range(n)]
    prog = (64 + 24 * n + 511) // 512 * 512
    best = None
    for s in range(2):
        q = data[prog + 512 * s:prog + 512 * s + 32]
        if len(q) == 32 and int.from_bytes(q[28:32], "little") == crc32c(q[:28]):
            rec = (int.from_bytes(q[0:4], "little"), int.from_bytes(q[4:8], "little"),
                   int.from_bytes(q[8:16], "little"), int.from_bytes(q[16:24], "little"))
            if best is None or rec[0] > best[0]:
                best = rec
    if best is None:
        return round_min, moves, None, b""
    slot = prog + 1024 + (best[0] % 2) * round_min
    return round_min, moves, best, data[slot:slot + best[1]]


def stream_bytes(data, moves, start, n):
    """Bytes [start, start + n) of the moves end to end, read from the mbox data."""
    out = b""
    for s, _d, ln in moves:
        if start < ln and n > 0:
            take = min(ln - start, n)
            out += data[s + start:s + start + take]
            n -= take
            start = 0
        else:
            start -= ln
    return out
