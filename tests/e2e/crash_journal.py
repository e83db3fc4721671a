"""A compaction journal written with other chunk sizes than this build's (an older or
differently configured build, then an upgrade, then the crash recovery) is finished
with the sizes it names, not taken as damage. The journal is written here by hand from
the layout in doc/store.md: 16 KiB chunks and 4 KiB direct pieces (this build: 256 KiB
and 64 KiB), killed after chunk 2 of a 40 KiB gap, the mbox half moved. The next
`check` must finish it: the three live messages whole under their UIDs, the expunged one
gone, nothing else, and `check` clean afterwards."""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import crc32c, expunge_kept, imap_login  # noqa: E402

CHUNK, DIRECT = 16384, 4096


env = Env()
env.add_user("alice", "secret")
box = env.inbox("alice")
side = os.path.join(env.mail, "alice", ".mailnook", "INBOX")
msgs = [make_msg(1, "one"), make_msg(2, "gap", body_lines=2000),
        make_msg(3, "moved", body_lines=5000), make_msg(4, "last")]
for m in msgs:
    env.deliver("alice", m)


# Expunge message 2 while another session is open and reading: no compaction yet.
expunge_kept(env, "2")

data = open(box, "rb").read()
offs = [i for i in range(len(data)) if data.startswith(b"From ", i) and
        (i == 0 or data[i - 1:i] == b"\n")]
check("four messages in the mbox", len(offs) == 4, offs)
hdr = open(side + ".idx", "rb").read(128)
generation = struct.unpack_from("<Q", hdr, 32)[0]
src, dst = offs[2], offs[1]
length = len(data) - src
shift = src - dst
check("the gap is over a chunk and the journal's direct size", shift > CHUNK > DIRECT, shift)

# Journal: one move, pieces of CHUNK (shift >= CHUNK), no data copies; progress "3 next".
head = bytearray(64)
head[0:8] = b"mnkJNL\r\n"
struct.pack_into("<IIQQQQII", head, 8, 1, 1, generation, len(data), len(data) - shift,
                 len(data) - shift, CHUNK, DIRECT)
moves = struct.pack("<QQQ", src, dst, length)
struct.pack_into("<I", head, 60, crc32c(moves, crc32c(bytes(head[:60]))))
prog_off = (64 + 24 + 511) // 512 * 512
prog = bytearray(32)
seq, done_chunks = 4, 3
struct.pack_into("<IIQII", prog, 0, seq, 0, done_chunks, 0, 0)
struct.pack_into("<I", prog, 28, crc32c(bytes(prog[:28])))
jnl = bytearray(prog_off + 1024)
jnl[:64] = head
jnl[64:88] = moves
jnl[prog_off + (seq % 2) * 512:prog_off + (seq % 2) * 512 + 32] = prog
st = os.stat(box)
with open(side + ".jnl", "wb") as f:
    f.write(jnl)
os.chown(side + ".jnl", st.st_uid, st.st_gid)

# The first three pieces were moved before the crash.
half = bytearray(data)
for k in range(done_chunks):
    half[dst + k * CHUNK:dst + (k + 1) * CHUNK] = data[src + k * CHUNK:src + (k + 1) * CHUNK]
with open(box, "r+b") as f:
    f.write(half)

r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out = r.stdout.decode() + r.stderr.decode()
check("check finishes the interrupted compaction", "interrupted compaction" in out and
      not os.path.exists(side + ".jnl"), out)
check("... not as a damaged journal", "journal damaged" not in out, out)
check("... the mbox as compacted", open(box, "rb").read() == data[:dst] + data[src:],
      len(open(box, "rb").read()))
s, m = imap_login(env)
m.select("INBOX")
typ, resp = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
got = {int(d[0].split(b"UID ")[1].split()[0]): d[1].replace(b"\r\n", b"\n")
       for d in resp if isinstance(d, tuple)}
m.logout()
s.wait()
check("UIDs 1, 3 and 4 whole, 2 gone", got == {1: msgs[0], 3: msgs[2], 4: msgs[3]},
      sorted(got))
r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
check("check clean afterwards", r.returncode == 0 and b"result: consistent" in r.stdout,
      r.stdout.decode())
env.close()
done()
