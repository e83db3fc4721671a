"""Two to five real IMAP sessions (and POP3) on one folder: every STORE applies its change to
the flags as stored at that moment, keywords and their names reach the other sessions,
replies that name UIDs or sequence numbers after another session's expunge name the right
messages, and EXAMINE reports \\Recent without taking it. After each step the stored
flags (read by a fresh session) and every session's view are compared. Races are made
deterministic by holding a folder's state-file lock from the test and letting go once the
kernel's lock table shows the commands waiting for it."""
import fcntl
import os
import poplib
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import imapc  # noqa: E402
from imapc import SUBJ_RE, Session, View, fetches, numbers, uid_code  # noqa: E402
from lib import Env, check, done, free_port, make_msg  # noqa: E402

env = Env()
env.add_user("alice", "secret")
for i in range(10):
    env.deliver("alice", make_msg(i, "m%d" % i))
IMAP = free_port()
POP = free_port()
env.serve("listen=127.0.0.1:%d imap" % IMAP, port=POP)


def login():
    return Session(IMAP)


def stored(folder="INBOX"):
    return imapc.stored(IMAP, folder)


def flags_of(store):
    return {uid: v[0] for uid, v in store.items()}


def uid_of(store, subject):
    return [uid for uid, v in store.items() if v[1] == subject][0]


def view(c):
    """{uid: flags} of session c after a NOOP (its own view of the folder)."""
    c.ok("NOOP")
    u, t = c.ok("FETCH 1:* (UID FLAGS)")
    return {uid: fl - {"\\Recent"} for seq, uid, fl in fetches(u)}


def flags_reply(lines, seq):
    """Flags of the last FETCH for seq among the reply lines."""
    got = [fl for s, uid, fl in fetches(lines) if s == seq and fl is not None]
    return got[-1] if got else None


def all_agree(what, sessions):
    truth = flags_of(stored())
    views = [view(c) for c in sessions]
    check(what + ": every session sees the stored flags", all(v == truth for v in views),
          (truth, views))


def lock_waited(ino, n=1, seconds=30):
    """Wait until n processes wait for a lock on inode ino (/proc/locks '->' lines)."""
    end = time.time() + seconds
    while time.time() < end:
        with open("/proc/locks") as f:
            if sum(1 for ln in f if "->" in ln and ln.split()[-3].endswith(":%d" % ino)) >= n:
                return True
        time.sleep(0.01)
    return False


def held(folder):
    """An exclusive lock on a folder's state file, as a session in the middle of a write."""
    fd = os.open(os.path.join(env.mail, "alice", ".mailnook", folder + ".idx"), os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)
    return fd


def release(fd):
    fcntl.lockf(fd, fcntl.LOCK_UN)
    os.close(fd)


def racing(c1, cmd1, c2, cmd2):
    """Run cmd1 on c1 and cmd2 on c2 both waiting for INBOX's state lock, then let them
    go (in whichever order the kernel picks); returns both replies."""
    lockfd = held("INBOX")
    ino = os.fstat(lockfd).st_ino
    c1.send("r1 %s\r\n" % cmd1)
    ok = lock_waited(ino, 1)
    c2.send("r2 %s\r\n" % cmd2)
    check("%s and %s wait for the state lock together" % (cmd1, cmd2), ok and lock_waited(ino, 2))
    release(lockfd)
    u1, u2 = reply(c1, b"r1"), reply(c2, b"r2")
    return u1, u2


def reply(c, tag):
    u = []
    while not u or not u[-1].startswith(tag + b" "):
        u.append(c.line())
    return u


def consistent(view):
    """Does the server's numbering (FETCH 1:* UID, no expunge told) match the client's?
    A message expunged elsewhere and not yet told may be left out of the FETCH."""
    u, t = view.c.ok("FETCH 1:* (UID)")
    got = {seq: uid for seq, uid, fl in fetches(u)}
    live = stored()
    good = all(0 < seq <= len(view.uids) and view.uids[seq - 1] == uid
               for seq, uid in got.items()) and \
        all(uid not in live for seq, uid in enumerate(view.uids, 1) if seq not in got)
    return good, (got, view.uids)


try:
    # ---- 1: a STORE changes the stored flags, never a stale copy ----
    a, b = login(), login()
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    a.ok("STORE 1 FLAGS (\\Seen)")
    b.ok("NOOP")
    a.ok("STORE 1 +FLAGS (\\Answered)")
    u, t = b.ok("STORE 1 -FLAGS (\\Seen)")
    check("stale -FLAGS: the reply shows the other's \\Answered", flags_reply(u, 1) == {"\\Answered"}, u)
    check("stale -FLAGS: \\Answered stays stored", flags_of(stored())[1] == {"\\Answered"}, stored())
    all_agree("stale -FLAGS", [a, b])

    # two STOREs waiting for the state lock at once, each from a view older than the
    # other's change: whichever goes first, the second applies to its result
    a.ok("STORE 1 FLAGS (\\Seen)")
    b.ok("NOOP")
    u = racing(a, "STORE 1 +FLAGS (\\Answered $Both)", b, "STORE 1 -FLAGS (\\Seen)")
    check("two STOREs racing: both changes stored", flags_of(stored())[1] == {"\\Answered", "$Both"},
          (u, stored()))
    all_agree("two STOREs racing", [a, b])
    u = racing(a, "FETCH 1 (BODY[TEXT])", b, "STORE 1 +FLAGS (\\Flagged)")
    check("FETCH BODY[] racing STORE: \\Seen and \\Flagged both stored",
          flags_of(stored())[1] == {"\\Answered", "$Both", "\\Seen", "\\Flagged"}, (u, stored()))
    all_agree("FETCH racing STORE", [a, b])

    a.ok("STORE 2 +FLAGS ($Work)")
    u, t = b.ok("STORE 2 +FLAGS ($Home \\Flagged)")
    check("stale +FLAGS keyword: the reply holds both keywords",
          flags_reply(u, 2) == {"$Work", "$Home", "\\Flagged"}, u)
    a.ok("STORE 2 -FLAGS ($Home)")
    u, t = b.ok("STORE 2 -FLAGS ($Work)")
    check("stale -FLAGS keyword: only the named one goes", flags_reply(u, 2) == {"\\Flagged"}, u)
    check("stale keywords: stored as the sum of both sessions' changes",
          flags_of(stored())[2] == {"\\Flagged"}, stored())
    a.ok("STORE 2 +FLAGS (\\Draft)")
    u, t = b.ok("STORE 2 FLAGS ($Only)")
    check("FLAGS replaces whatever is stored", flags_reply(u, 2) == {"$Only"}, u)
    u, t = b.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
    check(".SILENT with no other change: no FETCH", flags_reply(u, 2) is None, u)
    a.ok("STORE 2 +FLAGS (\\Answered)")
    u, t = b.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    check(".SILENT: the other's change is still told",
          "\\Answered" in (flags_reply(u, 2) or ()), u)
    check(".SILENT: stored with both changes",
          flags_of(stored())[2] == {"$Only", "\\Seen", "\\Answered", "\\Flagged"}, stored())
    all_agree("keywords from two sessions", [a, b])

    a.ok("STORE 3 +FLAGS (\\Flagged)")
    u, t = b.ok("FETCH 3 (BODY[TEXT])")
    check("FETCH BODY[] sets \\Seen onto the stored flags",
          flags_of(stored())[3] == {"\\Flagged", "\\Seen"}, stored())
    all_agree("\\Seen by FETCH", [a, b])

    # three sessions adding different flags to one message, each with a stale view
    c = login()
    c.ok("SELECT INBOX")
    for k, (s, fl) in enumerate([(a, "$A"), (b, "$B"), (c, "$C"), (a, "\\Seen"), (b, "\\Draft"),
                                 (c, "\\Flagged")]):
        s.ok("STORE 4 +FLAGS (%s)" % fl)
    check("3 sessions: every +FLAGS kept",
          flags_of(stored())[4] == {"$A", "$B", "$C", "\\Seen", "\\Draft", "\\Flagged"}, stored())
    c.ok("STORE 4 -FLAGS ($A)")
    a.ok("STORE 4 -FLAGS ($B)")
    b.ok("STORE 4 -FLAGS (\\Draft)")
    check("3 sessions: every -FLAGS kept",
          flags_of(stored())[4] == {"$C", "\\Seen", "\\Flagged"}, stored())
    all_agree("3 sessions", [a, b, c])

    # COPY takes the flags as stored, not as the copying session last heard them
    a.ok("CREATE Dest")
    a.ok("STORE 5 +FLAGS (\\Flagged $Copied)")
    u, t = b.ok("COPY 5 Dest")
    st = stored("Dest")
    check("COPY from a stale session keeps the flags stored at that moment",
          list(st.values()) == [({"\\Flagged", "$Copied"}, "m4")], st)
    # a client without MOVE: COPY, STORE \Deleted, EXPUNGE while the other undeletes
    b.ok("STORE 5 +FLAGS (\\Deleted)")
    a.ok("NOOP")
    b.ok("STORE 5 -FLAGS (\\Deleted)")
    u, t = a.ok("EXPUNGE")
    check("EXPUNGE skips a message another session undeleted meanwhile",
          numbers(u, "EXPUNGE") == [] and 5 in stored(), (u, stored()))
    a.ok("STORE 5 +FLAGS (\\Deleted)")
    u, t = b.ok("EXPUNGE")
    check("EXPUNGE takes a message another session deleted meanwhile",
          numbers(u, "EXPUNGE") == [5] and 5 not in stored(), (u, stored()))
    all_agree("EXPUNGE by current flags", [a, b, c])
    # EXPUNGE and an undelete waiting for the lock together: the message goes exactly
    # when the EXPUNGE ran first (then the STORE's reply still shows \Deleted)
    victim = sorted(stored())[-1]
    a.ok("UID STORE %d +FLAGS (\\Deleted)" % victim)
    b.ok("NOOP")
    u1, u2 = racing(a, "EXPUNGE", b, "UID STORE %d -FLAGS (\\Deleted)" % victim)
    fl = [x[2] for x in fetches(u2) if x[1] == victim and x[2] is not None]
    check("EXPUNGE racing an undelete: removed exactly when it went first",
          fl and ("\\Deleted" in fl[-1]) == (victim not in stored()), (u1, u2, stored()))
    all_agree("EXPUNGE racing an undelete", [a, b, c])

    # POP3 DELE and QUIT while IMAP sessions flag and expunge the same messages
    before = stored()
    p = poplib.POP3("127.0.0.1", POP)
    p.user("alice")
    p.pass_("secret")
    n_pop = len(p.list()[1])
    a.ok("STORE 1 +FLAGS (\\Flagged)")
    a.ok("STORE 2 +FLAGS ($Pop)")
    a.ok("STORE 3 +FLAGS (\\Deleted)")
    a.ok("EXPUNGE")
    p.dele(1)
    p.dele(4)
    b.ok("STORE 1:2 +FLAGS (\\Answered)")
    p.quit()
    after = stored()
    uids = sorted(before)
    gone = {uids[0], uids[2], uids[3]}
    check("POP3 DELE 1 and 4 of its snapshot removed those two (and IMAP's expunge the third)",
          set(after) == set(before) - gone and n_pop == len(before), (before, after))
    check("POP3 DELE racing IMAP: no flag update lost",
          after[uids[1]][0] == before[uids[1]][0] | {"$Pop", "\\Answered"}, after)
    all_agree("POP3 and IMAP", [a, b, c])

    # POP3's QUIT and an IMAP STORE waiting for the state lock together
    before = stored()
    uids = sorted(before)
    p = socket.create_connection(("127.0.0.1", POP))
    pf = p.makefile("rb")
    pf.readline()
    for line in (b"USER alice", b"PASS secret", b"DELE 1"):
        p.sendall(line + b"\r\n")
        pf.readline()
    lockfd = held("INBOX")
    ino = os.fstat(lockfd).st_ino
    p.sendall(b"QUIT\r\n")
    ok1 = lock_waited(ino, 1)
    a.send("r1 STORE 1:2 +FLAGS ($PopRace)\r\n")
    check("POP3 QUIT and IMAP STORE wait for the state lock together", ok1 and lock_waited(ino, 2))
    release(lockfd)
    quit_reply = pf.readline()
    reply(a, b"r1")
    p.close()
    after = stored()
    check("POP3 QUIT racing STORE: DELE 1 removed message 1",
          quit_reply.startswith(b"+OK") and set(after) == set(uids[1:]), (quit_reply, after))
    check("POP3 QUIT racing STORE: the STORE kept on message 2",
          after[uids[1]][0] == before[uids[1]][0] | {"$PopRace"}, after)
    all_agree("POP3 QUIT racing STORE", [a, b, c])
    for s in (a, b, c):
        s.close()

    # ---- 2: keywords set elsewhere reach an open session ----
    a, b = login(), login()
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    a.ok("STORE 1 +FLAGS ($Fresh1)")
    u, t = b.ok("NOOP")
    check("new keyword: NOOP tells FLAGS with its name",
          any(x.startswith(b"* FLAGS (") and b"$Fresh1" in x for x in u), u)
    check("new keyword: and PERMANENTFLAGS", any(b"PERMANENTFLAGS" in x and b"$Fresh1" in x for x in u), u)
    check("new keyword: and the message's FETCH", "$Fresh1" in (flags_reply(u, 1) or ()), u)
    a.ok("STORE 2 +FLAGS ($Fresh2)")
    u, t = b.ok("FETCH 2 (FLAGS)")
    check("new keyword: FETCH FLAGS shows it at once", flags_reply(u, 2) is not None and
          "$Fresh2" in flags_reply(u, 2), u)
    a.ok("STORE 1 +FLAGS ($Fresh3)")
    u, t = b.ok("STORE 2 +FLAGS (\\Seen)")
    u2, t = b.ok("NOOP")
    check("new keyword caught up by the session's own STORE still reaches FLAGS",
          any(x.startswith(b"* FLAGS (") and b"$Fresh3" in x for x in u + u2), u + u2)
    check("and the message's FETCH", "$Fresh3" in (flags_reply(u + u2, 1) or ()), u + u2)
    b.send("i1 IDLE\r\n")
    check("IDLE starts", b.line().startswith(b"+"))
    a.ok("STORE 3 +FLAGS ($Idle)")
    got = []
    while not any(fl and "$Idle" in fl for s, uid, fl in fetches(got)):
        got.append(b.line())
    check("IDLE: the keyword's name reaches FLAGS",
          any(x.startswith(b"* FLAGS (") and b"$Idle" in x for x in got), got)
    b.send("DONE\r\n")
    while not b.line().startswith(b"i1 "):
        pass
    all_agree("keywords", [a, b])
    # a message b only counted in EXISTS: its flag changes wait until b fetched it
    u, t = a.ok("APPEND INBOX", make_msg(700, "fresh"))
    fresh = uid_code(t)[3][0]
    u, t = b.ok("NOOP")
    check("new message told by EXISTS", numbers(u, "EXISTS") != [], u)
    a.ok("UID STORE %d +FLAGS ($Unasked)" % fresh)
    u, t = b.ok("UID FETCH 1:%d (FLAGS)" % (fresh - 1))
    check("no unasked FETCH for a message the client never fetched",
          all(uid != fresh for seq, uid, fl in fetches(u)), u)
    u, t = b.ok("UID FETCH %d (FLAGS)" % fresh)
    check("its FETCH shows the flags", fetches(u)[-1][2] == {"$Unasked"}, u)
    a.ok("UID STORE %d +FLAGS (\\Flagged)" % fresh)
    u, t = b.ok("NOOP")
    check("once fetched, its changes are told", [fl for seq, uid, fl in fetches(u) if uid is None
                                                 or uid == fresh] == [{"$Unasked", "\\Flagged"}], u)
    u, t = b.ok("SEARCH KEYWORD $Idle")
    check("SEARCH KEYWORD finds another session's keyword", u == [b"* SEARCH 3"], u)
    a.close()
    b.close()

    # ---- 5: replies that name UIDs or sequence numbers after another's expunge ----
    x, y = login(), login()
    x.ok("SELECT INBOX")
    for k in range(6):
        x.ok("APPEND INBOX", make_msg(100 + k, "n%d" % k))
    x.ok("NOOP")
    ty = View(y, y.ok("SELECT INBOX")[0])
    y.ok("CREATE Load")
    st = stored()
    n0, n1, n2, n3 = (uid_of(st, "n%d" % k) for k in range(4))
    x.ok("UID STORE %d +FLAGS (\\Deleted)" % n0)
    x.ok("UID EXPUNGE %d" % n0)
    u, t = ty.run("UID COPY %d:%d Load" % (n0, n1))
    code = uid_code(t) or uid_code(b"\n".join(u))
    load = stored("Load")
    pairs = list(zip(code[2], code[3])) if code else []
    check("UID COPY after another's expunge: COPYUID names what was copied",
          code is not None and all(st[s][1] == load[d][1] for s, d in pairs) and
          len(pairs) == len(load), (t, pairs, load))
    check("UID COPY: the expunged source was announced", consistent(ty)[0], consistent(ty)[1])
    x.ok("UID STORE %d +FLAGS (\\Deleted)" % n1)
    x.ok("UID EXPUNGE %d" % n1)
    u, t = ty.run("COPY 1:* Load")
    code = uid_code(t)
    load2 = stored("Load")
    pairs = list(zip(code[2], code[3])) if code else []
    check("COPY 1:* after another's expunge: every COPYUID pair is the same message",
          code is not None and all(st.get(s, (0, "?"))[1] == load2[d][1] for s, d in pairs), (t, pairs))
    check("COPY: no EXPUNGE told during COPY, numbering unchanged",
          numbers(u, "EXPUNGE") == [] and consistent(ty)[0], (u, consistent(ty)[1]))
    u, t = ty.run("NOOP")
    check("NOOP then tells the expunge, numbering consistent", consistent(ty)[0], consistent(ty)[1])

    st = stored()
    x.ok("UID STORE %d +FLAGS (\\Deleted)" % n2)
    x.ok("UID EXPUNGE %d" % n2)
    u, t = ty.run("UID MOVE %d:%d Load" % (n2, n3))
    code = uid_code(b"\n".join(u))
    load3 = stored("Load")
    pairs = list(zip(code[2], code[3])) if code else []
    check("UID MOVE after another's expunge: COPYUID names what moved",
          code is not None and pairs and all(st[s][1] == load3[d][1] for s, d in pairs), (u, pairs))
    check("UID MOVE: EXPUNGE responses keep the numbering", consistent(ty)[0], consistent(ty)[1])
    check("UID MOVE: the moved source is gone", n3 not in stored())

    st = stored()
    last = ty.uids[-1]
    x.ok("UID STORE %d +FLAGS (\\Deleted)" % ty.uids[0])
    x.ok("EXPUNGE")
    u, t = ty.run("MOVE %d Load" % len(ty.uids))
    code = uid_code(b"\n".join(u))
    check("MOVE by sequence after another's expunge: the right message moved",
          code is not None and code[2] == [last] and last not in stored() and
          stored("Load")[code[3][0]][1] == st[last][1], (u, code))
    check("MOVE: numbering consistent", consistent(ty)[0], consistent(ty)[1])

    st = stored()
    x.ok("UID STORE %d +FLAGS (\\Deleted)" % ty.uids[0])
    x.ok("EXPUNGE")
    u, t = ty.run("APPEND INBOX", make_msg(200, "appended"))
    code = uid_code(t)
    st2 = stored()
    check("APPENDUID after another's expunge names the new message",
          code is not None and st2[code[3][0]][1] == "appended", (t, st2))
    # FETCH and SEARCH by sequence number before the expunge is told
    target = ty.uids[2]
    x.ok("UID STORE %d +FLAGS (\\Deleted)" % ty.uids[1])
    x.ok("EXPUNGE")
    u, t = ty.run("FETCH 3 (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    m = [SUBJ_RE.match(ln) for ln in u if SUBJ_RE.match(ln)]
    check("FETCH by sequence after another's expunge: the client's message 3",
          len(m) == 1 and int(m[0].group(1)) == target and m[0].group(2).decode() == st2[target][1], u)
    subj = st2[target][1]
    u, t = ty.run("SEARCH SUBJECT %s" % subj)
    check("SEARCH after another's expunge: the client's sequence number", u == [b"* SEARCH 3"], u)
    u, t = ty.run("UID SEARCH SUBJECT %s" % subj)
    check("UID SEARCH after another's expunge: the UID", u[-1:] == [b"* SEARCH %d" % target], u)
    check("UID SEARCH: the expunge was told first, numbering consistent", consistent(ty)[0],
          consistent(ty)[1])
    # EXPUNGE and UID EXPUNGE responses while another session expunges too
    st = stored()
    u1, u2, u3 = ty.uids[0], ty.uids[2], ty.uids[-1]
    y.ok("UID STORE %d,%d,%d +FLAGS (\\Deleted)" % (u1, u2, u3))
    x.ok("UID STORE %d +FLAGS (\\Deleted)" % ty.uids[1])
    x.ok("UID EXPUNGE %d" % ty.uids[1])
    u, t = ty.run("UID EXPUNGE %d" % u2)
    check("UID EXPUNGE: responses number every expunge right", consistent(ty)[0] and
          u2 not in ty.uids and u1 in ty.uids, consistent(ty)[1])
    x.ok("UID EXPUNGE %d" % u1)
    u, t = ty.run("EXPUNGE")
    check("EXPUNGE: responses number every expunge right", consistent(ty)[0] and
          u1 not in ty.uids and u3 not in ty.uids, consistent(ty)[1])
    check("EXPUNGE: the session's view is what is stored", ty.uids == sorted(stored()),
          (ty.uids, sorted(stored())))

    # UID COPY held up by the destination's lock while another session expunges below
    # the copied message: the expunge is told when the COPY ends, and COPYUID must still
    # name the message copied (the kernel's lock table shows when the COPY waits)
    for k in range(3):
        x.ok("APPEND INBOX", make_msg(450 + k, "w%d" % k))
    ty.run("NOOP")
    st = stored()
    x.ok("CREATE Wait")
    x.ok("STATUS Wait (MESSAGES)")
    low, mid = sorted(st)[0], sorted(st)[2]
    lockfd = held("Wait")
    y.send("w1 UID COPY %d Wait\r\n" % mid)
    check("UID COPY waits for the destination's lock", lock_waited(os.fstat(lockfd).st_ino))
    x.ok("UID STORE %d +FLAGS (\\Deleted)" % low)
    x.ok("UID EXPUNGE %d" % low)
    release(lockfd)
    u = reply(y, b"w1")
    ty.apply(u)
    code = uid_code(u[-1])
    check("COPYUID after an expunge told at the COPY's end names the message copied",
          code is not None and code[2] == [mid] and
          list(stored("Wait").values()) == [(st[mid][0], st[mid][1])], (u, stored("Wait")))
    check("and the EXPUNGE keeps the numbering", consistent(ty)[0], consistent(ty)[1])
    x.close()
    y.close()

    # a folder deleted under a session that then runs a message command
    x, y = login(), login()
    x.ok("CREATE Brief")
    x.ok("APPEND Brief", make_msg(400, "brief"))
    y.ok("SELECT Brief")
    x.ok("DELETE Brief")
    u, t = y.cmd("UID FETCH 1:* (FLAGS)")
    check("a message command on a folder deleted elsewhere: BYE, then NO, no FETCH",
          any(x.startswith(b"* BYE") for x in u) and t.split()[1] == b"NO" and not fetches(u), (u, t))
    x.close()

    # ---- 7: EXAMINE reports \Recent without taking it ----
    env.deliver("alice", make_msg(300, "r1"))
    env.deliver("alice", make_msg(301, "r2"))
    c = login()
    u, t = c.ok("STATUS INBOX (RECENT)")
    check("STATUS: 2 recent", any(b"RECENT 2" in x for x in u), u)
    u, t = c.ok("EXAMINE INBOX")
    check("EXAMINE: 2 RECENT", numbers(u, "RECENT") == [2], u)
    u, t = c.ok("FETCH 1:* (FLAGS)")
    check("EXAMINE: the two show \\Recent",
          sum(1 for s, uid, fl in fetches(u) if "\\Recent" in fl) == 2, u)
    d = login()
    u, t = d.ok("EXAMINE INBOX")
    check("a second EXAMINE: still 2 RECENT", numbers(u, "RECENT") == [2], u)
    u, t = c.ok("STATUS INBOX (RECENT)")
    check("STATUS after EXAMINE: still 2", any(b"RECENT 2" in x for x in u), u)
    env.deliver("alice", make_msg(302, "r3"))
    u, t = d.ok("NOOP")
    check("EXAMINE: new mail counts as recent", numbers(u, "RECENT") == [3], u)
    u, t = c.ok("SELECT INBOX")
    check("SELECT after EXAMINE: 3 RECENT", numbers(u, "RECENT") == [3], u)
    u, t = d.ok("NOOP")
    u, t = d.ok("EXAMINE INBOX")
    check("EXAMINE after SELECT took them: 0 RECENT", numbers(u, "RECENT") == [0], u)
    c.close()
    d.close()
finally:
    env.close()
done()
