"""A session's view of a folder reads each message's size, date and fingerprint from the
state file when a command needs them, through the file it last followed: it must stay
exact while other sessions rewrite that file. An IMAP session and a POP3 session stay
open while a third session makes the state file be replaced twice (a checkpoint of many
flag changes, then an expunge whose compaction moves the survivors): afterwards every
RFC822.SIZE, INTERNALDATE, UID, FLAGS, LIST size and UIDL is the same as before for
every surviving message, and their bytes read back identical."""
import imaplib
import os
import poplib
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

N = 30
GONE = (3, 4, 10, 11, 12, 20, 25, 26, 27, 29)

env = Env()
env.add_user("alice", "secret")
IMAP = free_port()
POP = env.serve("listen=127.0.0.1:%d imap" % IMAP)
inbox = env.inbox("alice")
idx = os.path.join(env.mail, "alice", ".mailnook", "INBOX.idx")
MSGS = [make_msg(i, "view %d" % i, body_lines=5 + 3 * i).replace(b"\n", b"\r\n")
        for i in range(1, N + 1)]
DATES = ["%02d-Mar-2021 %02d:%02d:07 +0000" % (1 + i % 28, i % 24, (7 * i) % 60)
         for i in range(1, N + 1)]


def login():
    c = imaplib.IMAP4("127.0.0.1", IMAP)
    c.login("alice", "secret")
    c.select("INBOX")
    return c


def attrs(c):
    """{uid: (RFC822.SIZE, INTERNALDATE, FLAGS)} of every FETCH response to 1:*."""
    typ, data = c.fetch("1:*", "(UID RFC822.SIZE INTERNALDATE FLAGS)")
    out = {}
    for d in data:
        m = re.search(rb'UID (\d+)', d) if isinstance(d, bytes) else None
        if m:
            size = int(re.search(rb"RFC822.SIZE (\d+)", d).group(1))
            date = re.search(rb'INTERNALDATE "([^"]+)"', d).group(1).decode()
            flags = set(re.search(rb"FLAGS \(([^)]*)\)", d).group(1).decode().split())
            flags = frozenset(flags - {"\\Recent"})
            out[int(m.group(1))] = (size, date, flags)
    return typ, out


def bodies(c):
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
    return {int(re.search(rb"UID (\d+)", d[0]).group(1)): d[1]
            for d in data if isinstance(d, tuple)}


def pop_lists(p):
    sizes = {int(n): int(s) for n, s in (x.split() for x in p.list()[1])}
    uidls = {int(n): u for n, u in (x.split() for x in p.uidl()[1])}
    return sizes, uidls


try:
    setup = imaplib.IMAP4("127.0.0.1", IMAP)
    setup.login("alice", "secret")
    for m, d in zip(MSGS, DATES):
        setup.append("INBOX", None, '"%s"' % d, m)
    setup.logout()

    a = login()
    typ, before = attrs(a)
    want = {i + 1: (len(MSGS[i]), DATES[i], frozenset()) for i in range(N)}
    check("IMAP view: RFC822.SIZE and INTERNALDATE of all %d as appended" % N,
          typ == "OK" and before == want, before)
    p = poplib.POP3("127.0.0.1", POP, timeout=20)
    p.user("alice")
    p.pass_("secret")
    sizes0, uidls0 = pop_lists(p)
    check("POP3 view: LIST sizes of all %d exact" % N,
          sizes0 == {i + 1: len(MSGS[i]) for i in range(N)}, sizes0)

    b = login()
    ino = os.stat(idx).st_ino
    rounds = 0
    while os.stat(idx).st_ino == ino and rounds < 80:
        b.store("1:*", "+FLAGS" if rounds % 2 == 0 else "-FLAGS", "(\\Flagged)")
        rounds += 1
    b.store("1:*", "+FLAGS", "(\\Answered)")
    check("flag changes by another session replaced the state file (checkpoint after %d STOREs)"
          % rounds, os.stat(idx).st_ino != ino, rounds)
    ino = os.stat(idx).st_ino
    size = os.path.getsize(inbox)
    b.store(",".join(str(u) for u in GONE), "+FLAGS", "(\\Deleted)")
    typ, _ = b.expunge()
    b.logout()
    check("its expunge compacted the mbox and replaced the state file again",
          typ == "OK" and os.path.getsize(inbox) < size and os.stat(idx).st_ino != ino,
          (size, os.path.getsize(inbox)))

    # The POP3 session never refreshes: its view still reads the first file.
    sizes1, uidls1 = pop_lists(p)
    check("POP3 view after both rewrites: LIST and UIDL unchanged",
          sizes1 == sizes0 and uidls1 == uidls0, (sizes1, uidls1))
    bad = []
    for n in range(1, N + 1):
        try:
            got = b"".join(line + b"\r\n" for line in p.retr(n)[1])
            if n in GONE or got != MSGS[n - 1]:
                bad.append(n)
        except poplib.error_proto:
            if n not in GONE:
                bad.append(n)
    check("POP3 RETR: survivors byte-identical at their moved offsets, compacted ones -ERR",
          not bad, bad)
    sizes2, uidls2 = pop_lists(p)
    check("POP3 view after following the compaction: LIST and UIDL unchanged",
          sizes2 == sizes0 and uidls2 == uidls0, (sizes2, uidls2))
    p.quit()

    # the last round set \Flagged when rounds is odd
    flags = frozenset(["\\Answered"] + (["\\Flagged"] if rounds % 2 else []))
    survivors = {u: (s, d, flags) for u, (s, d, _) in want.items() if u not in GONE}
    typ, after = attrs(a)
    check("IMAP view in the same selection: every survivor's UID, size, date and new FLAGS "
          "exact, nothing for the expunged", typ == "OK" and after == survivors, after)
    typ, data = a.noop()
    typ, again = attrs(a)
    check("after the EXPUNGE responses: the same for the %d left" % len(survivors),
          typ == "OK" and again == survivors and len(a.fetch("1:*", "(UID)")[1]) == len(survivors),
          again)
    check("their bytes read back identical",
          bodies(a) == {u: MSGS[u - 1] for u in survivors}, sorted(bodies(a)))
    a.logout()

    res = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check("check: folder consistent afterwards", res.returncode == 0, res.stdout.decode())
finally:
    env.close()
done()
