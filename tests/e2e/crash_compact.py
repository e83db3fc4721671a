"""Compaction killed with SIGKILL at every durable step (MAILNOOK_CRASH_STEP=N on
`check --compact`) and at random instants on a larger mbox. One folder is moved in
rounds of both kinds (a small gap: rounds that copy their overlap into the journal
first; then a gap over the round minimum: journal-free rounds), and each kill is matched
to the round the journal names: the rounds are the ones doc/store.md's rule gives, every
round is killed at both its steps (record, mbox), and a durable copy holds exactly the
round's overlapping source bytes. After each kill the next
`check` must recover by itself, and then: every live message is present and
byte-identical to what was delivered, nothing expunged came back, survivors keep their
UIDs and the UIDVALIDITY. The state file is decoded here independently of the C code,
from the byte layout in doc/store.md."""
import fcntl
import os
import poplib
import random
import re
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import (compaction_plan, compaction_rounds, crc32c, journal_round,  # noqa: E402
                      param, strace_prefix, stream_bytes)

EXPUNGED = 0x80000000
HDR, REC = 128, 64


def decode_idx(path):
    """(uidvalidity, {uid: [flags, offset, from_len, raw_len]}) from a state file."""
    with open(path, "rb") as f:
        data = f.read()
    h = data[:HDR]
    assert h[:8] == b"mnkIDX\r\n", "bad magic"
    assert struct.unpack_from("<I", h, 124)[0] == crc32c(h[:124]), "bad header crc"
    uidv, _uidnext = struct.unpack_from("<II", h, 20)
    count = struct.unpack_from("<I", h, 40)[0]
    msgs = {}
    for i in range(count):
        r = data[HDR + i * REC:HDR + (i + 1) * REC]
        assert struct.unpack_from("<I", r, 60)[0] == crc32c(r[:60]), "bad record crc"
        uid, flags, _kw, off, fl, rl = struct.unpack_from("<IIQQII", r, 0)
        msgs[uid] = [flags, off, fl, rl]
    pos = HDR + count * REC
    while pos + 4 <= len(data):
        typ, zero, plen = struct.unpack_from("<BBH", data, pos)
        end = pos + 4 + plen
        if typ not in (1, 2, 3, 4) or zero or end + 4 > len(data) or \
                struct.unpack_from("<I", data, end)[0] != crc32c(data[pos:end]):
            break
        p = data[pos + 4:end]
        if typ == 1:
            uid, flags, _kw, off, fl, rl = struct.unpack_from("<IIQQII", p, 0)
            msgs[uid] = [flags, off, fl, rl]
        elif typ == 2:
            uid, flags = struct.unpack_from("<II", p, 0)
            if uid in msgs:
                msgs[uid][0] = flags | (msgs[uid][0] & EXPUNGED)
        elif typ == 3:
            a, b = struct.unpack_from("<II", p, 0)
            for uid in msgs:
                if a <= uid <= b:
                    msgs[uid][0] |= EXPUNGED
        pos = end + 4
    return uidv, msgs


class Folder:
    def __init__(self, env, name, msgs, dele):
        self.env = env
        self.msgs = msgs
        self.dele = dele
        self.udir = os.path.join(env.mail, name)
        self.inbox = os.path.join(self.udir, "INBOX")
        self.side = os.path.join(self.udir, ".mailnook", "INBOX")
        self.pristine = os.path.join(env.dir, name + ".pristine")
        env.add_user(name, "secret")
        self.name = name
        for m in msgs:
            env.deliver(name, m)
        self.check()
        self.uidv = decode_idx(self.side + ".idx")[0]

    def check(self, *args, crash=None):
        e = dict(os.environ)
        if crash is not None:
            e["MAILNOOK_CRASH_STEP"] = str(crash)
        return subprocess.run(self.env.cmd("check", *args, self.name), env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def expunge(self, port):
        """POP3 DELE + QUIT while another session holds the folder and is reading the
        mbox (its read lock): no compaction yet."""
        with open(self.side + ".ses", "rb") as hold, open(self.inbox, "rb") as reading:
            fcntl.flock(hold, fcntl.LOCK_SH)
            fcntl.lockf(reading, fcntl.LOCK_SH)
            p = poplib.POP3("127.0.0.1", port, timeout=20)
            p.user(self.name)
            p.pass_("secret")
            for n in self.dele:
                p.dele(n)
            p.quit()
            # The session is closed once it lets go of its POP3 lock.
            with open(self.side + ".pop3", "rb") as pop3:
                fcntl.flock(pop3, fcntl.LOCK_EX)
        subprocess.run(["cp", "-a", self.udir, self.pristine], check=True)

    def restore(self):
        """The pristine folder back, the mbox rewritten in place with its mtime: its inode
        stays the one the state file names, so no restore looks like an outside change
        (a resync first would add steps, more or fewer as inode numbers get reused)."""
        for name in os.listdir(self.udir):
            p = os.path.join(self.udir, name)
            if name != "INBOX":
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        for name in os.listdir(self.pristine):
            if name != "INBOX":
                subprocess.run(["cp", "-a", os.path.join(self.pristine, name), self.udir],
                               check=True)
        src = os.path.join(self.pristine, "INBOX")
        with open(src, "rb") as f, open(self.inbox, "r+b") as g:
            g.write(f.read())
            g.truncate()
        st = os.stat(src)
        os.utime(self.inbox, ns=(st.st_atime_ns, st.st_mtime_ns))

    def verify(self, late=None):
        """'' if the folder is whole (with late, a message appended after delivery, under
        the next UID), else what is wrong."""
        uidv, recs = decode_idx(self.side + ".idx")
        if uidv != self.uidv:
            return "uidvalidity changed"
        with open(self.inbox, "rb") as f:
            mbox = f.read()
        live = {u: r for u, r in recs.items() if not r[0] & EXPUNGED}
        want = set(range(1, len(self.msgs) + 1)) - set(self.dele)
        msgs = dict(enumerate(self.msgs, 1))
        if late is not None:
            extra = sorted(set(live) - want)
            if len(extra) != 1:
                return "uids besides the delivered ones: %s, want one" % extra
            want.add(extra[0])
            msgs[extra[0]] = late
        if set(live) != want:
            return "live uids %s, want %s" % (sorted(live), sorted(want))
        for u, (_fl, off, fl, rl) in live.items():
            if mbox[off:off + 5] != b"From " or mbox[off + fl:off + fl + rl] != msgs[u]:
                return "uid %d not byte-identical" % u
        return ""

    def recover_and_verify(self, late=None):
        r = self.check()
        if r.returncode not in (0, 1):
            return "check exited %d: %s" % (r.returncode, r.stdout.decode()[-300:])
        r = self.check()
        if r.returncode != 0:
            return "second check not consistent: " + r.stdout.decode()[-300:]
        if os.path.exists(self.side + ".jnl"):
            return "journal left behind"
        return self.verify(late)


def every_step(f, min_steps, want_rounds=None):
    """Kill at step 1, 2, ... until the compaction completes; recover and verify each
    time. want_rounds: also check what the journal says at each kill."""
    step, bad, last, kills = 0, [], None, set()
    with open(os.path.join(f.pristine, "INBOX"), "rb") as fh:
        pristine = fh.read()
    while step < 1000:
        step += 1
        f.restore()
        r = f.check("--compact", crash=step)
        last = r.returncode
        if last not in (0, -9):
            print("# step %d: check exited %d:\n%s%s" % (step, last, r.stdout.decode(),
                                                          r.stderr.decode()[-2000:]))
        j = journal_round(f.side + ".jnl") if want_rounds is not None else None
        if j is not None and j[2] is not None and j[2][3] > 0:
            _rmin, moves, (_seq, copy, t, length), slot = j
            with open(f.inbox, "rb") as fh:
                now = fh.read()
            dst = moves[0][1] + t
            placed = now[dst:dst + length] == stream_bytes(pristine, moves, t, length)
            kills.add((t, length, copy, placed))
            if copy and slot != stream_bytes(pristine, moves, t, copy):
                bad.append("step %d: the copy of round %d is not its overlap" % (step, t))
        what = f.recover_and_verify()
        if what:
            bad.append("step %d: %s" % (step, what))
        if last != -9:
            break
    check("compaction finished on its own after %d kills" % (step - 1), last == 0, last)
    check("enough durable steps exercised (%d)" % (step - 1), step > min_steps)
    check("recovered and intact after a kill at every step", not bad, bad[:3])
    size = os.path.getsize(f.inbox)
    check("mbox compacted", size < os.path.getsize(os.path.join(f.pristine, "INBOX")), size)
    if want_rounds is None:
        return
    copied = [r for r in want_rounds if r[2] > 0]
    free = [r for r in want_rounds if r[2] == 0]
    check("rounds of both kinds planned (%d copying %s bytes, %d journal-free)"
          % (len(copied), [r[2] for r in copied], len(free)), len(copied) >= 2 and len(free) >= 2)
    check("killed at both steps of every round (record; mbox written), the rounds as the "
          "rule gives them", kills == {r + (p,) for r in want_rounds for p in (False, True)},
          sorted(kills))


def append_after_kill(f, dotlock):
    """Kill at every step, then let another MDA append a message before any mailnook
    process runs again; recovery must keep it, also when the kill came after the mbox
    was cut to its new size. dotlock: the MDA honours dotlocks, and breaks the dead
    compaction's once it is old; else it takes fcntl locks only and appends under it."""
    late = make_msg(999, "appended after the crash", 5)
    pristine = os.path.getsize(os.path.join(f.pristine, "INBOX"))
    step, bad, cut, last = 0, [], 0, None
    while step < 1000:
        step += 1
        f.restore()
        last = f.check("--compact", crash=step).returncode
        if last != -9:
            break
        cut += os.path.exists(f.side + ".jnl") and os.path.getsize(f.inbox) < pristine
        if dotlock and os.path.exists(f.inbox + ".lock"):
            os.unlink(f.inbox + ".lock")
        with open(f.inbox, "ab") as fh:
            fh.write(b"From late@example.org Sat Nov 28 11:00:00 2026\n" + late + b"\n")
        what = f.recover_and_verify(late)
        if what:
            bad.append("step %d: %s" % (step, what))
    how = "dotlock broken" if dotlock else "fcntl only"
    check("append after a kill (%s): compaction finished on its own after %d kills"
          % (how, step - 1), last == 0, last)
    check("a kill came after the mbox was cut, before the compaction ended (%d)" % cut,
          cut >= 1)
    check("mail appended (%s) after a kill at any step is kept, the rest intact" % how,
          not bad, bad[:3])


def random_kills(f, rounds):
    """Kill inside the I/O rather than at the durable steps: SIGKILL injected (strace) on
    entry to the k-th pwrite64 or write for k drawn with a seed from the calls one whole
    compaction makes, so every run is reproducible from its seed."""
    f.restore()
    log = os.path.join(f.env.dir, "compact.writes")
    subprocess.run(strace_prefix(trace=("pwrite64", "write"), out=log) +
                   f.env.cmd("check", "--compact", f.name),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(log, errors="replace") as fh:
        calls = sum(1 for ln in fh if re.match(r"(?:\d+ +)?p?write(?:64)?\(", ln))
    print("# measure: check --compact of %d bytes made %d write calls" %
          (os.path.getsize(os.path.join(f.pristine, "INBOX")), calls), flush=True)
    seed = int(os.environ.get("SEED", time.time()))
    rnd = random.Random(seed)
    bad, killed = [], 0
    for i in range(rounds):
        f.restore()
        k = rnd.randint(1, max(calls, 1))
        r = subprocess.run(strace_prefix(kill=("pwrite64", k)) +
                           f.env.cmd("check", "--compact", f.name),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed += r.returncode in (-9, 137)
        what = f.recover_and_verify()
        if what:
            bad.append("round %d (pwrite64 #%d): %s" % (i, k, what))
    check("kill -9 inside the writes (seed %d, %d of %d landed): always recovered intact"
          % (seed, killed, rounds), not bad, bad[:3])
    check("the injected kills landed", killed > 0, killed)


def main():
    env = Env()
    try:
        port = env.serve()
        small = [make_msg(i, "crash %d" % i, 3000 if i % 4 == 0 else 40) for i in range(1, 25)]
        f = Folder(env, "alice", small, [2, 3, 8, 13, 14, 24])
        f.expunge(port)
        every_step(f, 5)
        append_after_kill(f, True)
        append_after_kill(f, False)
        # A gap of one small message, a megabyte moved in rounds that copy their overlap,
        # then a gap over the round minimum and journal-free rounds as long as it.
        rmin = param("COMPACT_ROUND_MIN")
        lines = rmin // 22
        mixed = [make_msg(i, "mixed %d" % i, 100 if i in (1, 2) else
                          (lines + lines // 4 if i == 13 else lines // 5)) for i in range(1, 29)]
        h = Folder(env, "carol", mixed, [2, 13])
        h.expunge(port)
        data = open(os.path.join(h.pristine, "INBOX"), "rb").read()
        _uv, recs = decode_idx(os.path.join(h.pristine, ".mailnook", "INBOX.idx"))
        offs = [recs[u][1] for u in sorted(recs)]
        rounds = compaction_rounds(compaction_plan(offs, [u in h.dele for u in sorted(recs)],
                                                   len(data)), rmin)
        every_step(h, 2 * len(rounds) + 4, rounds)
        big = [make_msg(i, "big %d" % i, 2000 + (i * 37) % 3000) for i in range(1, 61)]
        g = Folder(env, "bob", big, [1, 5, 6, 7, 30, 31, 59])
        g.expunge(port)
        random_kills(g, 20)
    finally:
        env.close()
    done()


main()
