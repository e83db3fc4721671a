"""A session that changes nothing writes nothing: counted with strace on the session
process (writes to files under the mail root, fsync/fdatasync, rename, link, unlink,
ftruncate) and by comparing every file's size and mtime before and after. POP3
USER/PASS/STAT/QUIT and IMAP SELECT/FETCH/LOGOUT, each on an unchanged INBOX, several
times in a row (the first open of a fresh folder builds its index: not counted)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, make_msg  # noqa: E402
from crashlib import IMAP, MUTATING, POP3, Session, count_calls, tree_state  # noqa: E402

env = Env()
env.add_user("alice", "secret")
for i in range(5):
    env.deliver("alice", make_msg(i, "read only %d" % i))


def pop3_session(s):
    p = POP3(s)
    p.user("alice")
    p.pass_("secret")
    n = p.stat()[0]
    p.quit()
    return n


def imap_session(s):
    m = IMAP(s)
    m.login("alice", "secret")
    typ, data = m.select("INBOX")
    n = int(data[0])
    typ, data = m.fetch("1:*", "(FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    m.logout()
    return n if typ == "OK" else -1


def counted(proto, run):
    log = os.path.join(env.dir, "strace.%s" % proto)
    before = tree_state(env.mail)
    s = Session(env, proto, trace=MUTATING, out=log)
    try:
        n = run(s)
    finally:
        rc = s.wait()
    return n, rc, count_calls(log, env.mail), before, tree_state(env.mail)


# Index the folder first (the first open of new mail records it).
for proto, run in (("pop3", pop3_session), ("imap", imap_session)):
    s = Session(env, proto)
    run(s)
    s.wait()

for rnd in range(2):
    for proto, run, what in (("pop3", pop3_session, "POP3 USER/PASS/STAT/QUIT"),
                             ("imap", imap_session, "IMAP LOGIN/SELECT/FETCH/LOGOUT")):
        n, rc, calls, before, after = counted(proto, run)
        check("%s #%d: session saw 5 messages and ended cleanly" % (what, rnd + 1),
              n == 5 and rc == 0, (n, rc))
        check("%s #%d: no write, sync, rename, link, unlink or truncate under the mail root"
              % (what, rnd + 1), calls == {}, calls)
        check("%s #%d: every file as before (size and mtime)" % (what, rnd + 1),
              before == after, set(before.items()) ^ set(after.items()))

env.close()
done()
