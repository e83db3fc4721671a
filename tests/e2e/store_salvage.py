"""A damaged state file (a header byte flipped, records flipped, a zeroed stretch, the
file cut in the middle of a record, the header zeroed): the next IMAP or POP3 open and
`check --repair` keep UIDVALIDITY (unless the header and its copy are both lost), keep
the UID of every message, and never serve again a message expunged (POP3 DELE) whose
record survived."""
import os
import poplib
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

import imaplib  # noqa: E402

HDR, REC = 128, 64
env = Env()


def pop3(port, dele=()):
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    p.user("alice")
    p.pass_("secret")
    subjects = []
    for n in range(1, len(p.list()[1]) + 1):
        subjects.append([x for x in p.top(n, 0)[1] if x.startswith(b"Subject: ")][0][9:])
    for n in dele:
        p.dele(n)
    p.quit()
    return subjects


def imap_state(port):
    """UIDVALIDITY and {subject: uid} as IMAP serves them."""
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login("alice", "secret")
    c.select("INBOX", readonly=True)
    uv = int(c.untagged_responses["UIDVALIDITY"][0])
    typ, data = c.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    uids = {}
    for item in data:
        if isinstance(item, tuple):
            uid = int(item[0].split(b"UID ")[1].split()[0])
            uids[item[1].strip().split(b": ", 1)[1]] = uid
    c.logout()
    return uv, uids


def damage(path, how):
    with open(path, "r+b") as f:
        if how[0] == "cut":
            f.truncate(how[1])
            return
        off, data = how
        if data is None:
            f.seek(off)
            b = f.read(1)
            data = bytes([b[0] ^ 0x41])
        f.seek(off)
        f.write(data)


try:
    env.add_user("alice", "secret")
    for i in range(1, 25):
        env.deliver("alice", make_msg(i, "salvage %d" % i, 20))
    pport = env.serve()
    iport = free_port()
    env.serve("listen=127.0.0.1:%d imap" % iport)
    side = os.path.join(env.mail, "alice", ".mailnook", "INBOX")
    inbox = env.inbox("alice")
    uv, uids = imap_state(iport)
    # Two DELEs (messages 3 and 17) + QUIT: expunged, too few dead bytes to compact.
    pop3(pport, dele=(3, 17))
    gone = {b"salvage 3", b"salvage 17"}
    # The same bytes under a new inode: the next open rescans and writes a fresh state
    # file whose base records carry the expunged state (as a checkpoint would).
    st = os.stat(inbox)
    shutil.copy(inbox, inbox + ".new")
    os.chown(inbox + ".new", st.st_uid, st.st_gid)
    os.rename(inbox + ".new", inbox)
    live = pop3(pport)
    check("two of 24 messages expunged, their bytes still there",
          len(live) == 22 and not gone & set(live) and
          open(inbox, "rb").read().count(b"\nSubject: salvage 17\n") == 1, live)
    saved = os.path.join(env.dir, "idx.saved")
    shutil.copy(side + ".idx", saved)
    cases = [
        ("a header byte flipped", (24, None), True, "imap"),
        ("two records flipped", (HDR + 5 * REC + 9, None), True, "pop3"),
        ("six records zeroed", (HDR + 8 * REC + 20, bytes(6 * REC)), True, "imap"),
        ("cut in the middle of record 20", ("cut", HDR + 20 * REC + 30), True, "check"),
        ("the header zeroed", (0, bytes(HDR)), False, "pop3"),
    ]
    for what, how, same_uv, opener in cases:
        shutil.copy(saved, side + ".idx")
        damage(side + ".idx", how)
        if what == "two records flipped":
            damage(side + ".idx", (HDR + 6 * REC + 40, None))
        if opener == "check":
            r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE)
            check("%s: check reports it (exit 1)" % what, r.returncode == 1 and
                  b"problem: index damaged" in r.stdout, r.stdout)
            r = subprocess.run(env.cmd("check", "--repair", "alice"), stdout=subprocess.PIPE)
            check("%s: check --repair" % what, r.returncode == 1 and b"rebuilt: 22 messages"
                  in r.stdout, r.stdout)
        elif opener == "pop3":
            served = pop3(pport)
            check("%s: POP3 serves the 22 live messages, no expunged one" % what,
                  sorted(served) == sorted(live), served)
        nuv, nuids = imap_state(iport)
        check("%s: UIDVALIDITY %s" % (what, "kept" if same_uv else "new"),
              (nuv == uv) == same_uv, (uv, nuv))
        check("%s: expunged messages stay expunged" % what, not gone & set(nuids), nuids)
        check("%s: every live message keeps its UID" % what,
              nuids == {s: u for s, u in uids.items() if s not in gone}, (uids, nuids))
    r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE)
    check("consistent after the last salvage", r.returncode == 0, r.stdout)
finally:
    env.close()
done()
