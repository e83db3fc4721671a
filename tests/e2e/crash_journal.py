"""Recovery from compaction journals written here by hand from the layout in
doc/store.md, with a round minimum of 16 KiB (this build's is larger: a journal left by
another build is finished with the sizes it names, not taken as damage), one crash state
for each kind of round in flight:
- journal-free (gap larger than the round): round 1 half written, in any order;
- overlap copied into the journal, whole: round 1's writes landed out of order, the second
  half (which overwrites the copied sources) before the first;
- overlap copy torn (its record landed, the copy did not): round 1 not begun.
And a journal of format 1 (an older build's: 16 KiB chunks, 4 KiB direct pieces, a
chunk copied whole into one data slot when it overlaps), as an upgrade may find it:
- pieces as long as a large gap, killed after chunk 2 of them;
- chunks of a small gap copied whole, chunk 1's copy durable and its writes landed out
  of order.
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
V1_CHUNK, V1_DIRECT = 16384, 4096
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


def write_journal(env, user, data, src, dst, version, sizes, seq, prog, slots):
    """A journal of one move src -> dst of the rest of the mbox: header with the two
    sizes at 48 and 52, progress record seq (prog: its first 28 bytes) in slot seq % 2,
    and the copy slots' bytes (slots) after the two progress sectors."""
    side = os.path.join(env.mail, user, ".mailnook", "INBOX")
    generation = struct.unpack_from("<Q", open(side + ".idx", "rb").read(128), 32)[0]
    shift = src - dst
    head = bytearray(64)
    head[0:8] = b"mnkJNL\r\n"
    struct.pack_into("<IIQQQQII", head, 8, version, 1, generation, len(data),
                     len(data) - shift, len(data) - shift, *sizes)
    moves = struct.pack("<QQQ", src, dst, len(data) - src)
    struct.pack_into("<I", head, 60, crc32c(moves, crc32c(bytes(head[:60]))))
    prog_off = (64 + 24 + SECTOR - 1) // SECTOR * SECTOR
    jnl = bytearray(prog_off + 2 * SECTOR)
    jnl[:88] = bytes(head) + moves
    at = prog_off + (seq % 2) * SECTOR
    jnl[at:at + 32] = prog + struct.pack("<I", crc32c(prog))
    st = os.stat(env.inbox(user))
    with open(side + ".jnl", "wb") as f:
        f.write(bytes(jnl) + slots)
    os.chown(side + ".jnl", st.st_uid, st.st_gid)
    return side


def write_v2(env, user, data, src, dst, seq, rec, copy):
    """Format 2: progress record seq = rec (copy length, round start, round length) with
    the CRC of the true overlap, copy in its paired slot."""
    clen, t, rlen = rec
    prog = struct.pack("<IIQQI", seq, clen, t, rlen, crc32c(data[src + t:src + t + clen]))
    slots = bytearray(2 * ROUND_MIN)
    slots[(seq % 2) * ROUND_MIN:(seq % 2) * ROUND_MIN + len(copy)] = copy
    return write_journal(env, user, data, src, dst, 2, (ROUND_MIN, 0), seq, prog, bytes(slots))


def write_v1(env, user, data, src, dst, seq, k, copy):
    """Format 1: progress record seq "chunk k", with copy as its data if any."""
    prog = struct.pack("<IIQIII", seq, 1 if copy else 0, k, len(copy), crc32c(copy), 0)
    return write_journal(env, user, data, src, dst, 1, (V1_CHUNK, V1_DIRECT), seq, prog, copy)


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
    side = write_v2(env, "alice", data, src, dst, 3, (0, shift, shift), b"")
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
    side = write_v2(env, "bob", data, src, dst, 6, (over, t, ROUND_MIN),
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
    side = write_v2(env, "carol", data, src, dst, 7, (over, ROUND_MIN, ROUND_MIN),
                         bytes(over // 2))
    half = bytearray(data)
    place(half, data, src, dst, 0, ROUND_MIN)
    open(box, "r+b").write(half)
    finish_and_check(env, "carol", msgs, box, side, data, src, dst)

    # Format 1, pieces as long as the gap (>= direct, < chunk): 3 moved, "chunk 3 next".
    msgs, box, data, src, dst = folder(env, "dave", 400)
    shift = src - dst
    check("dave: the gap is a format 1 direct piece", V1_DIRECT <= shift < V1_CHUNK, shift)
    side = write_v1(env, "dave", data, src, dst, 4, 3, b"")
    half = bytearray(data)
    place(half, data, src, dst, 0, 3 * shift)
    open(box, "r+b").write(half)
    finish_and_check(env, "dave", msgs, box, side, data, src, dst)

    # Format 1, a small gap: chunk 1 copied whole, its second half written first.
    msgs, box, data, src, dst = folder(env, "erin", 20)
    shift = src - dst
    check("erin: the gap is under format 1's direct minimum", shift < V1_DIRECT, shift)
    c1 = data[src + V1_CHUNK:src + 2 * V1_CHUNK]
    side = write_v1(env, "erin", data, src, dst, 3, 1, c1)
    half = bytearray(data)
    place(half, data, src, dst, 0, V1_CHUNK)
    place(half, data, src, dst, V1_CHUNK + V1_CHUNK // 2, 2 * V1_CHUNK)
    check("erin: the writes that landed overwrote chunk 1's sources",
          half[src + V1_CHUNK:src + 2 * V1_CHUNK] != c1)
    open(box, "r+b").write(half)
    finish_and_check(env, "erin", msgs, box, side, data, src, dst)
finally:
    env.close()
done()
