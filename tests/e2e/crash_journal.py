"""Recovery from compaction journals written here by hand from the layout in
doc/store.md, with a round minimum of 16 KiB (this build's is larger: a journal left by
another build is finished with the sizes it names, not taken as damage), one crash state
for each kind of round in flight:
- journal-free (gap larger than the round): round 1 half written, in any order;
- overlap copied into the journal, whole: round 1's writes landed out of order, the second
  half (which overwrites the copied sources) before the first;
- overlap copy torn (its record landed, the copy did not): round 1 not begun.
The next `check` must finish each: the live messages whole under their UIDs, the
expunged one gone, the mbox exactly as compacted, and `check` clean afterwards."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import crc32c, expunge_kept, imap_login  # noqa: E402

ROUND_MIN = 16384
SECTOR = 512


def folder(env, user, gap_lines):
    """Four messages, the second (gap_lines long) expunged but not compacted."""
    env.add_user(user, "secret")
    msgs = [make_msg(1, "one"), make_msg(2, "gap", body_lines=gap_lines),
            make_msg(3, "moved", body_lines=5000), make_msg(4, "last")]
    for m in msgs:
        env.deliver(user, m)
    expunge_kept(env, "2", user)
    box = env.inbox(user)
    data = open(box, "rb").read()
    offs = [i for i in range(len(data)) if data.startswith(b"From ", i) and
            (i == 0 or data[i - 1:i] == b"\n")]
    check("%s: four messages in the mbox" % user, len(offs) == 4, offs)
    return msgs, box, data, offs[2], offs[1]


def write_journal(env, user, data, src, dst, seq, rec, copy):
    """One move src -> dst of the rest of the mbox; progress record seq = rec (copy
    length, round start, round length), its copy in the paired slot."""
    side = os.path.join(env.mail, user, ".mailnook", "INBOX")
    generation = struct.unpack_from("<Q", open(side + ".idx", "rb").read(128), 32)[0]
    length, shift = len(data) - src, src - dst
    head = bytearray(64)
    head[0:8] = b"mnkJNL\r\n"
    struct.pack_into("<IIQQQQI", head, 8, 2, 1, generation, len(data), len(data) - shift,
                     len(data) - shift, ROUND_MIN)
    moves = struct.pack("<QQQ", src, dst, length)
    struct.pack_into("<I", head, 60, crc32c(moves, crc32c(bytes(head[:60]))))
    prog_off = (64 + 24 + SECTOR - 1) // SECTOR * SECTOR
    prog = bytearray(32)
    clen, t, rlen = rec
    good = data[src + t:src + t + clen]
    struct.pack_into("<IIQQI", prog, 0, seq, clen, t, rlen, crc32c(good))
    struct.pack_into("<I", prog, 28, crc32c(bytes(prog[:28])))
    jnl = bytearray(prog_off + 2 * SECTOR + 2 * ROUND_MIN)
    jnl[:64] = head
    jnl[64:88] = moves
    jnl[prog_off + (seq % 2) * SECTOR:prog_off + (seq % 2) * SECTOR + 32] = prog
    slot = prog_off + 2 * SECTOR + (seq % 2) * ROUND_MIN
    jnl[slot:slot + clen] = copy
    st = os.stat(env.inbox(user))
    with open(side + ".jnl", "wb") as f:
        f.write(jnl)
    os.chown(side + ".jnl", st.st_uid, st.st_gid)
    return side


def place(buf, data, src, dst, a, b):
    """Stream bytes [a, b) of the move written to their destination."""
    buf[dst + a:dst + b] = data[src + a:src + b]


def finish_and_check(env, user, msgs, box, side, data, src, dst):
    r = subprocess.run(env.cmd("check", user), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = r.stdout.decode() + r.stderr.decode()
    check("%s: check finishes the interrupted compaction" % user,
          "interrupted compaction" in out and not os.path.exists(side + ".jnl"), out)
    check("%s: ... not as a damaged journal" % user, "journal damaged" not in out, out)
    got = open(box, "rb").read()
    check("%s: ... the mbox exactly as compacted" % user, got == data[:dst] + data[src:], len(got))
    s, m = imap_login(env, user)
    m.select("INBOX")
    typ, resp = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
    fetched = {int(d[0].split(b"UID ")[1].split()[0]): d[1].replace(b"\r\n", b"\n")
               for d in resp if isinstance(d, tuple)}
    m.logout()
    s.wait()
    check("%s: UIDs 1, 3 and 4 whole, 2 gone" % user,
          fetched == {1: msgs[0], 3: msgs[2], 4: msgs[3]}, sorted(fetched))
    r = subprocess.run(env.cmd("check", user), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("%s: check clean afterwards" % user,
          r.returncode == 0 and b"result: consistent" in r.stdout, r.stdout.decode())


env = Env()
try:
    # Journal-free: the gap is over the round minimum, so rounds are as long as the gap
    # and never overwrite their own sources; record "round 1 in flight, no copy".
    msgs, box, data, src, dst = folder(env, "alice", 2000)
    shift = src - dst
    check("alice: the gap is over the journal's round minimum", shift > ROUND_MIN, shift)
    side = write_journal(env, "alice", data, src, dst, 3, (0, shift, shift), b"")
    half = bytearray(data)
    place(half, data, src, dst, 0, shift)
    place(half, data, src, dst, shift + shift // 2, 2 * shift)
    open(box, "r+b").write(half)
    finish_and_check(env, "alice", msgs, box, side, data, src, dst)

    # Overlap copied: a gap under the round minimum; round 1 copies its first
    # ROUND_MIN - gap bytes, and its later writes overwrite exactly those sources.
    msgs, box, data, src, dst = folder(env, "bob", 20)
    shift = src - dst
    over = ROUND_MIN - shift
    check("bob: the gap is under the journal's round minimum", 0 < over < ROUND_MIN, shift)
    t = ROUND_MIN
    side = write_journal(env, "bob", data, src, dst, 6, (over, t, ROUND_MIN),
                         data[src + t:src + t + over])
    half = bytearray(data)
    place(half, data, src, dst, 0, t)
    place(half, data, src, dst, t + ROUND_MIN // 2, t + ROUND_MIN)
    check("bob: the writes that landed overwrote copied sources",
          half[src + t:src + t + over] != data[src + t:src + t + over])
    open(box, "r+b").write(half)
    finish_and_check(env, "bob", msgs, box, side, data, src, dst)

    # Copy torn: the record is whole, the slot is not (zeros); the round's writes never
    # began, so it is redone from its sources.
    msgs, box, data, src, dst = folder(env, "carol", 20)
    shift = src - dst
    over = ROUND_MIN - shift
    side = write_journal(env, "carol", data, src, dst, 7, (over, ROUND_MIN, ROUND_MIN),
                         bytes(over // 2))
    half = bytearray(data)
    place(half, data, src, dst, 0, ROUND_MIN)
    open(box, "r+b").write(half)
    finish_and_check(env, "carol", msgs, box, side, data, src, dst)
finally:
    env.close()
done()
