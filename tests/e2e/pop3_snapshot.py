"""The POP3 maildrop snapshot: message numbers after a message expunged over IMAP name the
right messages, identical messages get UIDLs with "-2", "-3" in maildrop order, and
DELE/RSET marks hold across many messages."""
import imaplib
import os
import poplib
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

env = Env()
env.add_user("dora", "pw")
TWIN = make_msg(0, "twin")
# 1..20, with 3, 9 and 17 the same message; 5 is expunged below
msgs = [TWIN if n in (3, 9, 17) else make_msg(n, "message %d" % n) for n in range(1, 21)]
# written as an mbox: the fingerprint covers the From_ line, which deliver dates
os.makedirs(os.path.dirname(env.inbox("dora")))
with open(env.inbox("dora"), "wb") as f:
    for m in msgs:
        f.write(b"From twin@example.org Sat Nov 28 10:00:00 2026\n" + m + b"\n")
if os.getuid() == 0:
    for d in (os.path.dirname(env.inbox("dora")), env.inbox("dora")):
        shutil.chown(d, "nobody")
imap_port = free_port()
port = env.serve("listen=127.0.0.1:%d imap" % imap_port)

c = imaplib.IMAP4("127.0.0.1", imap_port)
c.login("dora", "pw")
c.select("INBOX")
c.store("5", "+FLAGS", "\\Deleted")
check("IMAP expunges message 5", c.expunge()[1] == [b"5"])
c.logout()
left = msgs[:4] + msgs[5:]


def login():
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    p.user("dora")
    p.pass_("pw")
    return p


def subject(lines):
    return [ln for ln in lines if ln.startswith(b"Subject:")]


p = login()
check("STAT counts 19 messages", p.stat()[0] == 19, p.stat())
sizes = [int(ln.split()[1]) for ln in p.list()[1]]
check("LIST sizes are those of the messages left, in order",
      sizes == [len(m) + m.count(b"\n") for m in left], sizes)
ok_retr = all(subject(p.retr(i + 1)[1]) == subject(m.split(b"\n")) for i, m in enumerate(left))
check("RETR of every message after the gap returns that message", ok_retr)
uidl = [ln.split()[1] for ln in p.uidl()[1]]
base = uidl[2]
check("identical messages: UIDL, UIDL-2, UIDL-3 in maildrop order",
      uidl[7] == base + b"-2" and uidl[15] == base + b"-3" and b"-" not in base, uidl)
check("every other UIDL has no suffix and all are unique",
      len(set(uidl)) == 19 and sum(b"-" in u for u in uidl) == 2, uidl)
check("UIDL 16 names the third copy", p.uidl(16).split()[2] == base + b"-3")
for n in (1, 8, 9, 16, 19):
    p.dele(n)
check("five DELEs: STAT counts 14", p.stat()[0] == 14, p.stat())
try:
    p.retr(9)
    check("RETR of a deleted message is refused", False)
except poplib.error_proto as e:
    check("RETR of a deleted message is refused", b"already deleted" in e.args[0], e)
check("LIST leaves the deleted out",
      [int(ln.split()[0]) for ln in p.list()[1]] == [n for n in range(1, 20)
                                                       if n not in (1, 8, 9, 16, 19)])
p.rset()
check("RSET brings all 19 back", p.stat()[0] == 19, p.stat())
for n in (2, 9, 10):
    p.dele(n)
p.quit()

p = login()
gone = (left[1], left[8], left[9])
rest = [m for m in left if all(m is not g for g in gone)]
check("QUIT removed exactly messages 2, 9 and 10", p.stat()[0] == 16 and all(
    subject(p.retr(i + 1)[1]) == subject(m.split(b"\n")) for i, m in enumerate(rest)))
uidl2 = [ln.split()[1] for ln in p.uidl()[1]]
check("the twins keep their UIDLs", [u for u in uidl2 if u.startswith(base)] ==
      [base, base + b"-2", base + b"-3"], uidl2)
p.quit()
env.close()
done()
