"""Compaction while sessions stay open: a long-lived IMAP session (as Thunderbird keeps
all day) and a POP3 session hold INBOX while another IMAP session expunges half of it.
The expunge compacts the mbox at once (it shrinks); then the long-lived session FETCHes
BODY[] of every remaining message and the POP3 session RETRs every message of its
snapshot: all byte-identical, the compacted-away ones answered as gone. The sizes make
the compaction move in rounds of both kinds: first over a small gap (rounds that copy
their overlap into the journal), then over an expunged message larger than a round's
minimum (journal-free rounds)."""
import imaplib
import os
import poplib
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402
from crashlib import compaction_plan, compaction_rounds, param  # noqa: E402

N = 12
GONE = (2, 3, 5, 8, 9, 11)

env = Env()
env.add_user("alice", "secret")
RMIN = param("COMPACT_ROUND_MIN")
LINES = {3: RMIN // 44, 4: RMIN // 44, 5: RMIN // 16, 6: RMIN // 22, 7: RMIN // 22,
         10: RMIN // 22, 12: RMIN // 22}  # body lines are about 22 bytes
MSGS = [make_msg(i, "open %d" % i, body_lines=LINES.get(i, 40 + i)) for i in range(1, N + 1)]
for m in MSGS:
    env.deliver("alice", m)
IMAP = free_port()
POP = env.serve("listen=127.0.0.1:%d imap" % IMAP)
inbox = env.inbox("alice")


def crlf(m):
    return m.replace(b"\n", b"\r\n")


def login():
    c = imaplib.IMAP4("127.0.0.1", IMAP)
    c.login("alice", "secret")
    c.select("INBOX")
    return c


def bodies(c):
    """{uid: BODY[]} of every message the session lists."""
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
    out = {}
    for d in data:
        if isinstance(d, tuple):
            m = re.search(rb"UID (\d+)", d[0])
            out[int(m.group(1))] = d[1]
    return typ, out


try:
    longlived = login()
    typ, first = bodies(longlived)
    check("long-lived session reads all %d first" % N,
          typ == "OK" and first == {i + 1: crlf(MSGS[i]) for i in range(N)}, sorted(first))
    pop = poplib.POP3("127.0.0.1", POP, timeout=20)
    pop.user("alice")
    pop.pass_("secret")
    check("POP3 snapshot of %d" % N, pop.stat()[0] == N, pop.stat())

    size = os.path.getsize(inbox)
    with open(inbox, "rb") as f:
        data = f.read()
    offs = [i for i in range(len(data)) if data.startswith(b"From ", i) and
            (i == 0 or data[i - 1:i] == b"\n")]
    rounds = compaction_rounds(compaction_plan(offs, [i + 1 in GONE for i in range(N)],
                                               len(data)), RMIN)
    check("the compaction to come has rounds of both kinds (copies %s)"
          % [c for _t, _l, c in rounds], any(c for _t, _l, c in rounds) and
          len([1 for _t, _l, c in rounds if not c]) >= 2, rounds)
    other = login()
    other.uid("STORE", ",".join(str(u) for u in GONE), "+FLAGS", "(\\Deleted)")
    typ, _ = other.expunge()
    other.logout()
    shrunk = os.path.getsize(inbox)
    check("expunge with two sessions open compacted the mbox (%d -> %d bytes)" % (size, shrunk),
          typ == "OK" and shrunk < size - sum(len(MSGS[u - 1]) for u in GONE), shrunk)
    with open(inbox, "rb") as f:
        left = f.read()
    check("compacted mbox holds no expunged message",
          not any(b"Subject: open %d\n" % u in left for u in GONE), len(left))

    typ, after = bodies(longlived)
    want = {i + 1: crlf(MSGS[i]) for i in range(N) if i + 1 not in GONE}
    check("long-lived session: BODY[] of every remaining message byte-identical",
          typ == "OK" and after == want, sorted(after))
    typ, data = longlived.noop()
    check("long-lived session keeps working (NOOP)", typ == "OK", data)

    ok, bad = 0, []
    for n in range(1, N + 1):
        try:
            lines = pop.retr(n)[1]
            got = b"".join(line + b"\n" for line in lines)
            if n in GONE or got != MSGS[n - 1]:
                bad.append(n)
            else:
                ok += 1
        except poplib.error_proto:
            if n not in GONE:
                bad.append(n)
    check("POP3 RETR after the compaction: survivors byte-identical, compacted ones -ERR",
          not bad and ok == N - len(GONE), bad)
    pop.quit()
    longlived.logout()

    res = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("check: folder consistent afterwards", res.returncode == 0, res.stdout.decode())
finally:
    env.close()
done()
