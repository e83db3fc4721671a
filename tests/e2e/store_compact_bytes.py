"""Exact bytes a compaction writes (`check --compact` under strace, write and pwrite64
summed per file): the mbox gets exactly the bytes moved, and the journal exactly its
header and move table, one 32-byte progress record per round plus the first and the
last, and each round's overlap (the bytes of it whose source lies below its destination
end, doc/store.md). With a gap of a round's minimum or more no byte of mail goes to the
journal; with one small message expunged, exactly the overlaps do."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, fail, make_msg  # noqa: E402
from crashlib import compaction_plan, compaction_rounds, expunge_kept, param  # noqa: E402

RMIN = param("COMPACT_ROUND_MIN")
LINES = RMIN // 22  # make_msg body lines are about 22 bytes


def written(log):
    """{path: bytes} written by write/pwrite64, from strace -y output."""
    out = {}
    pat = re.compile(r'(?:write|pwrite64)\(\d+<([^>]*)>,.*\)\s+=\s+(\d+)')
    for ln in open(log, errors="replace"):
        m = pat.search(ln)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + int(m.group(2))
    return out


def case(env, user, sizes, dele):
    env.add_user(user, "secret")
    for i, lines in enumerate(sizes, 1):
        env.deliver(user, make_msg(i, "%s %d" % (user, i), body_lines=lines))
    expunge_kept(env, ",".join(str(u) for u in dele), user)
    box = env.inbox(user)
    data = open(box, "rb").read()
    offs = [i for i in range(len(data)) if data.startswith(b"From ", i) and
            (i == 0 or data[i - 1:i] == b"\n")]
    moves = compaction_plan(offs, [i + 1 in dele for i in range(len(offs))], len(data))
    rounds = compaction_rounds(moves, RMIN)
    log = os.path.join(env.dir, user + ".strace")
    r = subprocess.run(["strace", "-f", "-qq", "-y", "-s", "0", "-e", "trace=write,pwrite64",
                        "-o", log] + env.cmd("check", "--compact", user),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("%s: check --compact ran" % user, r.returncode == 0, r.stdout.decode()[-300:])
    w = written(log)
    moved = sum(m[2] for m in moves)
    copies = sum(c for _t, _l, c in rounds)
    jnl = sum(v for k, v in w.items() if ".mailnook/INBOX.jnl" in k)
    total = sum(v for k, v in w.items() if k.startswith(env.mail))
    print("# measure: %s: %d bytes moved in %d rounds, journal %d bytes (%d copied), "
          "%d written in all (%.3f x the bytes moved; state file %d)"
          % (user, moved, len(rounds), jnl, copies, total, total / moved,
             w.get(os.path.join(env.mail, user, ".mailnook", "INBOX.idx.new"), 0)), flush=True)
    check("%s: the mbox got exactly the %d bytes moved" % (user, moved), w.get(box) == moved,
          w.get(box))
    want = 64 + 24 * len(moves) + 32 * (len(rounds) + 2) + copies
    check("%s: the journal got exactly header, moves, %d records and %d bytes of overlap"
          % (user, len(rounds) + 2, copies), jnl == want, (jnl, want))
    check("%s: the mbox as compacted" % user, open(box, "rb").read() ==
          data[:moves[0][1]] + b"".join(data[s:s + n] for s, _d, n in moves),
          os.path.getsize(box))
    return moves, rounds


def main():
    if shutil.which("strace") is None or subprocess.run(
            ["strace", "-o", os.devnull, "true"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode != 0:
        fail("strace missing or not permitted here: no byte counts (tests/deps.sh installs it)")
        done()
        return
    env = Env()
    try:
        # A gap over the round minimum (a large message), then 1.5 MB to move: rounds
        # as long as the gap, none copying anything.
        _moves, rounds = case(env, "alice", [20, LINES + LINES // 4] + [LINES // 5] * 15, [2])
        check("alice: several rounds, all journal-free", len(rounds) >= 2 and
              all(c == 0 for _t, _l, c in rounds), rounds)
        # One small message expunged: every full round copies round minimum - gap.
        moves, rounds = case(env, "bob", [20, 40] + [LINES // 5] * 12, [2])
        gap = moves[0][0] - moves[0][1]
        check("bob: full rounds copy the round minimum less the gap, the last its overlap",
              len(rounds) >= 2 and all(c == RMIN - gap for _t, ln, c in rounds[:-1]) and
              rounds[-1][2] == max(0, rounds[-1][1] - gap), rounds)
    finally:
        env.close()
    done()


main()
