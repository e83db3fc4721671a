"""Folder trees over IMAP with python's imaplib: every folder holds mail and subfolders
(INBOX and the special-use folders included) in every CREATE order, LIST/LSUB
attributes of every node, CREATE with a trailing separator, DELETE and RENAME of
subtrees with their side files and subscriptions, RENAME INBOX with children, reserved
names refused, LIST pattern and option errors, a store written by 0.1.0 (UIDs, flags,
folders kept; its broken INBOX mended by `check --repair`), and INBOX children on an
account that never had mail (SELECT/APPEND/STATUS, POP3 and deliver keep working),
also with the INBOX in a spool directory."""
import imaplib
import os
import poplib
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "store_v1")
env = Env()
for u in ("fresh", "mail", "tree", "alice", "bob"):
    env.add_user(u, "secret")
PORT = free_port()
POP = env.serve("listen=127.0.0.1:%d imap" % PORT)
LINE = re.compile(rb'^\(([^)]*)\) "/" (.*)$')


def login(user):
    c = imaplib.IMAP4("127.0.0.1", PORT)
    c.login(user, "secret")
    return c


def unquote(b):
    return b[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\") if b.startswith(b'"') else b


def listing(c, cmd="LIST", *args):
    """{name: set of attributes} from LIST/LSUB "" * (or args)."""
    typ, _ = c._simple_command(cmd, *(args or ('""', "*")))
    out = {}
    for line in c.untagged_responses.pop(cmd, []):
        if line is None:
            continue
        m = LINE.match(line)
        if m:
            out[unquote(m.group(2)).decode()] = set(m.group(1).decode().split())
    return typ, out


def tree_ok(c, what, expect):
    """LIST "" * must give exactly expect {name: attrs}, and never \\Noinferiors."""
    typ, got = listing(c)
    check(what, typ == "OK" and got == expect, (got, expect))
    check(what + ": no \\Noinferiors", not any("\\Noinferiors" in a for a in got.values()), got)


def raw(c, *args):
    """A command's tagged status and its whole text (for response codes)."""
    try:
        typ, data = c._simple_command(*args)
    except c.error as e:
        return "BAD", str(e)
    return typ, b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace")


def status(c, name, items="(MESSAGES UIDVALIDITY UIDNEXT)"):
    typ, data = c.status(name, items)
    if typ != "OK":
        return None
    return dict((k.decode(), int(v)) for k, v in re.findall(rb"(\w+) (\d+)", data[0]))


def append(c, name, n, subject):
    return c.append(name, None, None, make_msg(n, subject).replace(b"\n", b"\r\n"))[0]


def uid_flags(c, name):
    c.select(name)
    typ, data = c.uid("FETCH", "1:*", "(FLAGS)")
    c.close()
    out = {}
    for d in data:
        if isinstance(d, bytes):
            m = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", d)
            if m:
                uid, fl = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
                out[int(uid)] = set(fl.decode().split()) - {"\\Recent"}
    return out


def pop3_stat(user):
    p = poplib.POP3("127.0.0.1", POP, timeout=10)
    p.user(user)
    p.pass_("secret")
    st = p.stat()
    p.quit()
    return st


SPECIAL = {"Archive": "\\Archive", "Drafts": "\\Drafts", "Junk": "\\Junk", "Sent": "\\Sent",
           "Trash": "\\Trash"}
try:
    # --- a fresh account, INBOX children first: INBOX never written ---
    c = login("fresh")
    check("CREATE INBOX/Receipts before any mail", c.create("INBOX/Receipts")[0] == "OK")
    check("INBOX is still a file", os.path.isfile(env.inbox("fresh")) or
          not os.path.exists(env.inbox("fresh")))
    check("SELECT INBOX after CREATE INBOX/Receipts", c.select("INBOX")[0] == "OK")
    c.close()
    check("STATUS INBOX", status(c, "INBOX") is not None)
    check("APPEND INBOX", append(c, "INBOX", 1, "appended") == "OK")
    check("deliver to INBOX exits 0", env.deliver("fresh", make_msg(2, "delivered")) == 0)
    check("POP3 login sees both messages", pop3_stat("fresh")[0] == 2)
    check("APPEND INBOX/Receipts", append(c, "INBOX/Receipts", 3, "receipt") == "OK")
    check("INBOX/Receipts holds its message", status(c, "INBOX/Receipts")["MESSAGES"] == 1)
    check("INBOX keeps its messages", status(c, "INBOX")["MESSAGES"] == 2)
    exp = {"INBOX": {"\\HasChildren"}, "INBOX/Receipts": {"\\HasNoChildren"}}
    exp.update((k, {"\\HasNoChildren", v}) for k, v in SPECIAL.items())
    tree_ok(c, "LIST of a fresh account with INBOX children", exp)
    check("children of inbox are INBOX's (case)", c.create("inbox/Receipts")[0] == "NO")
    c.logout()

    # --- an account with mail: subfolders under folders that hold mail ---
    for i in range(2):
        env.deliver("mail", make_msg(i, "inbox %d" % i))
    c = login("mail")
    check("APPEND Archive (mail before children)", append(c, "Archive", 5, "arch") == "OK")
    for name in ("Archive/2025", "Archive/2025/Q1", "Sent/2026", "INBOX/Receipts",
                 "Work/2026", "Drafts/Old"):
        typ, text = raw(c, "CREATE", name)
        check("CREATE %s under a folder" % name, typ == "OK", text)
    for n, name in enumerate(("Archive/2025", "Archive/2025/Q1", "Sent/2026", "Work/2026",
                              "INBOX/Receipts", "Sent")):
        check("APPEND %s" % name, append(c, name, 10 + n, name) == "OK")
    # Thunderbird's yearly archiving: MOVE from INBOX into Archive/2025 (made above)
    c.select("INBOX")
    typ, text = raw(c, "UID", "MOVE", "1", "Archive/2025")
    oks = c.untagged_responses.pop("OK", [])
    check("UID MOVE INBOX -> Archive/2025 with COPYUID",
          typ == "OK" and any(b"COPYUID" in x for x in oks), (text, oks))
    c.close()
    check("Archive keeps its message", status(c, "Archive")["MESSAGES"] == 1)
    check("Archive/2025 holds its own", status(c, "Archive/2025")["MESSAGES"] == 2)
    check("SELECT Archive (a parent)", c.select("Archive")[0] == "OK")
    c.close()
    exp = {"INBOX": {"\\HasChildren"}, "INBOX/Receipts": {"\\HasNoChildren"},
           "Archive": {"\\HasChildren", "\\Archive"}, "Archive/2025": {"\\HasChildren"},
           "Archive/2025/Q1": {"\\HasNoChildren"}, "Drafts": {"\\HasChildren", "\\Drafts"},
           "Drafts/Old": {"\\HasNoChildren"}, "Junk": {"\\HasNoChildren", "\\Junk"},
           "Sent": {"\\HasChildren", "\\Sent"}, "Sent/2026": {"\\HasNoChildren"},
           "Trash": {"\\HasNoChildren", "\\Trash"}, "Work": {"\\Noselect", "\\HasChildren"},
           "Work/2026": {"\\HasNoChildren"}}
    tree_ok(c, "LIST attributes of every node of a nested tree", exp)
    typ, got = listing(c, "LIST", '""', "%")
    check("LIST % lists the top level only", set(got) == {k for k in exp if "/" not in k}, got)
    typ, got = listing(c, "LIST", "Archive/", "%")
    check("LIST Archive/ % lists Archive/2025", set(got) == {"Archive/2025"}, got)
    # the parent of a \Noselect name becomes a folder of its own later
    check("CREATE Work (was \\Noselect)", c.create("Work")[0] == "OK")
    check("APPEND Work", append(c, "Work", 30, "work") == "OK")
    typ, got = listing(c, "LIST", '""', "Work*")
    check("Work selectable with children", got.get("Work") == {"\\HasChildren"} and
          got.get("Work/2026") == {"\\HasNoChildren"}, got)
    check("Work/2026 kept its message", status(c, "Work/2026")["MESSAGES"] == 1)
    # a trailing separator makes a folder that takes children (RFC 3501 6.3.3)
    check("CREATE Trips/", c.create("Trips/")[0] == "OK")
    typ, got = listing(c, "LIST", '""', "Trips*")
    check("Trips/ is a normal folder", got == {"Trips": {"\\HasNoChildren"}}, got)
    check("CREATE Trips/ again: ALREADYEXISTS", "ALREADYEXISTS" in raw(c, "CREATE", "Trips/")[1])
    check("CREATE Trips/Rome", c.create("Trips/Rome")[0] == "OK")
    check("APPEND Trips", append(c, "Trips", 31, "trip") == "OK")
    # each folder's messages stay a plain mbox file
    home = os.path.join(env.mail, "mail")
    with open(os.path.join(home, "Archive.sbd", "2025")) as f:
        check("Archive/2025 is a plain mbox", f.read().startswith("From "))
    with open(os.path.join(home, "Archive")) as f:
        check("Archive is still the mbox file it was", f.read().startswith("From "))
    r = subprocess.run(env.cmd("check", os.path.join(home, "Sent.sbd", "2026")),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check("check PATH of a subfolder finds its side files",
          r.returncode == 0 and b"/.mailnook/Sent.sbd/2026.*" in r.stdout and
          b"messages: 1" in r.stdout, r.stdout)
    for name in ("x.sbd", "Archive/y.sbd", "c.lock", "c.lock/d"):
        typ, text = raw(c, "CREATE", name)
        check("CREATE %s refused (reserved suffix)" % name, typ == "NO" and "CANNOT" in text, text)
    # names like side files and the side directory's own files take children too
    for name in ("Notes.idx", "Notes.idx/x", "Notes/y", "subscriptions/2026",
                 "uidvalidity/2026"):
        check("CREATE %s" % name, c.create(name)[0] == "OK")
        check("APPEND %s" % name, append(c, name, 20, name) == "OK")
    typ, got = listing(c, "LIST", '""', "Notes*")
    check("Notes and Notes.idx are distinct parents", got == {
        "Notes": {"\\Noselect", "\\HasChildren"}, "Notes/y": {"\\HasNoChildren"},
        "Notes.idx": {"\\HasChildren"}, "Notes.idx/x": {"\\HasNoChildren"}}, got)
    typ, got = listing(c, "LSUB", '""', "*")
    check("the subscription file is intact", "Sent" in got and "INBOX" in got, got)
    for name in ("Notes.idx/x", "Notes.idx", "Notes/y", "Notes", "subscriptions/2026",
                 "subscriptions", "uidvalidity/2026", "uidvalidity"):
        check("DELETE %s" % name, c.delete(name)[0] == "OK")
    check("SELECT Archive.sbd refused", c.select("Archive.sbd")[0] == "NO")

    # --- DELETE of a folder with children (RFC 3501 6.3.4) ---
    check("DELETE Archive (has children)", c.delete("Archive")[0] == "OK")
    typ, got = listing(c, "LIST", '""', "Archive*")
    check("Archive is \\Noselect with its children kept",
          got.get("Archive") == {"\\Noselect", "\\HasChildren", "\\Archive"} and
          "Archive/2025/Q1" in got, got)
    check("Archive's messages are gone", not os.path.exists(os.path.join(home, "Archive")))
    left = os.listdir(os.path.join(home, ".mailnook"))
    check("Archive's side files are gone",
          not any(f.startswith("Archive.") and f != "Archive.sbd" for f in left), left)
    check("SELECT of the \\Noselect Archive: NO", c.select("Archive")[0] == "NO")
    check("Archive/2025/Q1 kept its message", status(c, "Archive/2025/Q1")["MESSAGES"] == 1)
    typ, text = raw(c, "DELETE", "Archive")
    check("DELETE of a \\Noselect name with children: NO", typ == "NO", text)
    check("DELETE Archive/2025/Q1", c.delete("Archive/2025/Q1")[0] == "OK")
    check("DELETE Archive/2025", c.delete("Archive/2025")[0] == "OK")
    typ, got = listing(c, "LIST", '""', "Archive*")
    check("Archive without children: \\Noselect \\HasNoChildren",
          got == {"Archive": {"\\Noselect", "\\HasNoChildren", "\\Archive"}}, got)
    check("DELETE of a \\Noselect name without children", c.delete("Archive")[0] == "OK")
    typ, got = listing(c, "LIST", '""', "Archive*")
    check("Archive vanished", got == {}, got)
    check("no directory left", not os.path.exists(os.path.join(home, "Archive.sbd")))
    check("CREATE Archive again", c.create("Archive")[0] == "OK")
    typ, text = raw(c, "DELETE", "Sent/nothing")
    check("DELETE of a missing name below a file: NONEXISTENT",
          typ == "NO" and "NONEXISTENT" in text, text)
    typ, text = raw(c, "DELETE", "Nowhere/nothing")
    check("DELETE of a missing name: NONEXISTENT", typ == "NO" and "NONEXISTENT" in text, text)

    # --- RENAME of a subtree with side files and subscriptions ---
    check("CREATE Proj/A/B", c.create("Proj/A/B")[0] == "OK")
    check("CREATE Proj", c.create("Proj")[0] == "OK")
    check("CREATE Proj/A", c.create("Proj/A")[0] == "OK")
    for n, name in enumerate(("Proj", "Proj/A", "Proj/A", "Proj/A/B")):
        append(c, name, 40 + n, name)
    c.select("Proj/A")
    c.store("2", "+FLAGS", "(\\Flagged $Todo)")
    c.close()
    before = {n: status(c, n) for n in ("Proj", "Proj/A", "Proj/A/B")}
    flags_before = uid_flags(c, "Proj/A")
    c.subscribe("Proj/A")
    c.subscribe("Proj/A/B")
    c.select("Proj/A/B")
    typ, text = raw(c, "RENAME", "Proj", "Elsewhere")
    check("RENAME of the selected folder's parent: INUSE", typ == "NO" and "INUSE" in text, text)
    c.close()
    typ, text = raw(c, "RENAME", "Proj", "Proj/A/C")
    check("RENAME under itself: NO", typ == "NO", text)
    typ, text = raw(c, "RENAME", "Proj", "Trips")
    check("RENAME onto an existing folder: ALREADYEXISTS", "ALREADYEXISTS" in text, text)
    typ, text = raw(c, "RENAME", "Proj", "Done/2026/Proj")
    check("RENAME Proj Done/2026/Proj", typ == "OK", text)
    typ, got = listing(c, "LIST", '""', "*Proj*")
    check("the subtree moved", set(got) == {"Done/2026/Proj", "Done/2026/Proj/A",
                                           "Done/2026/Proj/A/B"}, got)
    typ, got = listing(c, "LIST", '""', "Done*")
    check("Done and Done/2026 are \\Noselect parents",
          got.get("Done") == {"\\Noselect", "\\HasChildren"} and
          got.get("Done/2026") == {"\\Noselect", "\\HasChildren"} and
          got.get("Done/2026/Proj") == {"\\HasChildren"} and
          got.get("Done/2026/Proj/A/B") == {"\\HasNoChildren"}, got)
    after = {n: status(c, "Done/2026/" + n) for n in ("Proj", "Proj/A", "Proj/A/B")}
    check("UIDVALIDITY, UIDNEXT and counts kept by RENAME", after == before, (before, after))
    check("flags and keywords kept by RENAME",
          uid_flags(c, "Done/2026/Proj/A") == flags_before, flags_before)
    typ, got = listing(c, "LSUB", '""', "*Proj*")
    check("subscriptions renamed", set(got) == {"Done/2026/Proj/A", "Done/2026/Proj/A/B"}, got)
    typ, got = listing(c, "LSUB", '""', "%")
    check("LSUB % gives the unsubscribed parent as \\Noselect (RFC 3501 6.3.9)",
          got.get("Done") == {"\\Noselect"} and "Sent" in got and
          not any("/" in n for n in got), got)
    typ, got = listing(c, "LSUB", '""', "Done/2026/Proj/%")
    check("LSUB of the subscribed level gives it as it is",
          got == {"Done/2026/Proj/A": set()}, got)
    side = os.path.join(home, ".mailnook")
    check("no side files left under the old name",
          not any(f.startswith("Proj") for f in os.listdir(side)), os.listdir(side))
    check("RENAME a leaf back to the top", c.rename("Done/2026/Proj/A/B", "B")[0] == "OK")
    typ, got = listing(c, "LIST", '""', "Done/2026/Proj*")
    check("Proj/A has no children now", got.get("Done/2026/Proj/A") == {"\\HasNoChildren"}, got)

    # --- RENAME INBOX with children: messages move, INBOX and its children stay ---
    n_inbox = status(c, "INBOX")["MESSAGES"]
    check("RENAME INBOX Old", c.rename("INBOX", "Old")[0] == "OK")
    check("INBOX empty after RENAME", status(c, "INBOX")["MESSAGES"] == 0)
    check("Old holds INBOX's messages", status(c, "Old")["MESSAGES"] == n_inbox)
    check("INBOX/Receipts untouched", status(c, "INBOX/Receipts")["MESSAGES"] == 1)
    typ, got = listing(c, "LIST", '""', "INBOX*")
    check("INBOX still \\HasChildren", got.get("INBOX") == {"\\HasChildren"}, got)
    check("RENAME INBOX/Receipts Receipts",
          c.rename("INBOX/Receipts", "Receipts")[0] == "OK")
    typ, got = listing(c, "LIST", '""', "INBOX*")
    check("INBOX now \\HasNoChildren", got == {"INBOX": {"\\HasNoChildren"}}, got)

    # --- LIST points ---
    typ, text = raw(c, "LIST", '""', "&AOk")
    check("LIST with invalid modified UTF-7: OK", typ == "OK", text)
    check("... and no match", not c.untagged_responses.pop("LIST", None))
    typ, text = raw(c, "LIST", "(RECURSIVEMATCH REMOTE)", '""', '""')
    check("LIST (RECURSIVEMATCH REMOTE): BAD", typ == "BAD", text)
    c.subscribe("Gone/Away")
    typ, got = listing(c, "LIST", "(SUBSCRIBED)", '""', "Gone*")
    check("\\NonExistent without \\Noselect",
          got == {"Gone/Away": {"\\NonExistent", "\\Subscribed"}}, got)
    c.logout()

    # --- every CREATE order on a fresh account: child, then parent, then mail ---
    c = login("tree")
    for name in ("A/B/C", "A/B", "A", "INBOX/X/Y", "Sent/2026/Q1"):
        check("fresh CREATE %s" % name, c.create(name)[0] == "OK")
    for name in ("A", "A/B", "A/B/C", "INBOX", "INBOX/X/Y", "Sent", "Sent/2026/Q1"):
        check("APPEND %s" % name, append(c, name, 50, name) == "OK")
    check("deliver after INBOX/X/Y exits 0", env.deliver("tree", make_msg(60, "d")) == 0)
    exp = {"INBOX": {"\\HasChildren"}, "INBOX/X": {"\\Noselect", "\\HasChildren"},
           "INBOX/X/Y": {"\\HasNoChildren"}, "A": {"\\HasChildren"}, "A/B": {"\\HasChildren"},
           "A/B/C": {"\\HasNoChildren"}, "Sent": {"\\HasChildren", "\\Sent"},
           "Sent/2026": {"\\Noselect", "\\HasChildren"}, "Sent/2026/Q1": {"\\HasNoChildren"}}
    exp.update((k, {"\\HasNoChildren", v}) for k, v in SPECIAL.items() if k != "Sent")
    tree_ok(c, "LIST after children-first CREATEs", exp)
    typ, got = listing(c, "LSUB", '""', "*")
    check("LSUB of the special-use folders", set(got) == {"INBOX"} | set(SPECIAL), got)
    c.logout()

    # --- a store written by 0.1.0 opens unchanged ---
    for u in ("alice", "bob"):
        shutil.rmtree(os.path.join(env.mail, u), ignore_errors=True)
        shutil.copytree(os.path.join(FIXTURE, u), os.path.join(env.mail, u), symlinks=True)
        if os.getuid() == 0:
            subprocess.run(["chown", "-R", env.run_user, os.path.join(env.mail, u)], check=True)
    c = login("alice")
    exp = {"INBOX": {"\\HasNoChildren"}, "Club": {"\\Noselect", "\\HasChildren"},
           "Club/Q1": {"\\HasNoChildren"}, "Work": {"\\Noselect", "\\HasChildren"},
           "Work/Projects": {"\\Noselect", "\\HasChildren"},
           "Work/Projects/2026": {"\\HasNoChildren"}}
    exp.update((k, {"\\HasNoChildren", v}) for k, v in SPECIAL.items())
    tree_ok(c, "0.1.0 store: the same folders", exp)
    st = status(c, "INBOX")
    check("0.1.0 store: INBOX UIDVALIDITY and UIDNEXT kept",
          st == {"MESSAGES": 2, "UIDVALIDITY": 1796602431, "UIDNEXT": 4}, st)
    fl = uid_flags(c, "INBOX")
    check("0.1.0 store: INBOX UIDs and flags kept",
          fl == {1: {"\\Seen", "\\Flagged"}, 2: {"\\Answered", "$Label1"}}, fl)
    st = status(c, "Club/Q1")
    check("0.1.0 store: Club/Q1 kept",
          st == {"MESSAGES": 2, "UIDVALIDITY": 1796602428, "UIDNEXT": 3}, st)
    fl = uid_flags(c, "Club/Q1")
    check("0.1.0 store: Club/Q1 flags kept", fl == {1: set(), 2: {"\\Seen", "$Work"}}, fl)
    typ, got = listing(c, "LSUB", '""', "Club*")
    check("0.1.0 store: subscription kept", set(got) == {"Club/Q1"}, got)
    check("0.1.0 store: CREATE Club (a bare directory before)", c.create("Club")[0] == "OK")
    check("0.1.0 store: APPEND Club", append(c, "Club", 70, "club") == "OK")
    check("0.1.0 store: CREATE Club/Q1/Notes", c.create("Club/Q1/Notes")[0] == "OK")
    check("0.1.0 store: CREATE Archive/2025", c.create("Archive/2025")[0] == "OK")
    st = status(c, "Club/Q1")
    check("0.1.0 store: Club/Q1 still kept after its parent became a folder",
          st == {"MESSAGES": 2, "UIDVALIDITY": 1796602428, "UIDNEXT": 3}, st)
    check("0.1.0 store: Club/Q1 flags still kept",
          uid_flags(c, "Club/Q1") == {1: set(), 2: {"\\Seen", "$Work"}})
    typ, got = listing(c, "LIST", '""', "Club*")
    check("0.1.0 store: Club is dual-use now", got == {
        "Club": {"\\HasChildren"}, "Club/Q1": {"\\HasChildren"},
        "Club/Q1/Notes": {"\\HasNoChildren"}}, got)
    check("0.1.0 store: Work/Projects/2026 kept",
          status(c, "Work/Projects/2026")["MESSAGES"] == 1)
    c.logout()
    r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    check("check alice: consistent after the conversions", r.returncode == 0, r.stdout)
    os.makedirs(os.path.join(env.mail, "alice", "Work.sbd", "x"))
    r = subprocess.run(env.cmd("check", "alice"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    check("check reports a plain directory shadowed by its .sbd twin",
          r.returncode == 1 and b"/alice/Work is not read" in r.stdout, r.stdout)
    os.rmdir(os.path.join(env.mail, "alice", "Work.sbd", "x"))
    os.rmdir(os.path.join(env.mail, "alice", "Work.sbd"))

    # --- bob's INBOX was made a directory by 0.1.0: check --repair mends it ---
    c = login("bob")
    check("broken 0.1.0 INBOX: SELECT fails before repair", c.select("INBOX")[0] == "NO")
    c.logout()
    r = subprocess.run(env.cmd("check", "bob"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check("check reports the INBOX directory", r.returncode == 1 and b"directory" in r.stdout,
          r.stdout)
    r = subprocess.run(env.cmd("check", "--repair", "bob"), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    check("check --repair bob: exit 1, repaired", r.returncode == 1 and b"repaired" in r.stdout and
          b"result: consistent" in r.stdout, r.stdout)
    r = subprocess.run(env.cmd("check", "bob"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check("check bob consistent after repair", r.returncode == 0, r.stdout)
    check("deliver to the mended INBOX exits 0", env.deliver("bob", make_msg(80, "hi")) == 0)
    check("POP3 login after repair", pop3_stat("bob")[0] == 1)
    c = login("bob")
    check("SELECT INBOX after repair", c.select("INBOX")[0] == "OK")
    c.close()
    st = status(c, "INBOX/Receipts")
    check("INBOX/Receipts kept its message and UIDVALIDITY",
          st == {"MESSAGES": 1, "UIDVALIDITY": 1796602431, "UIDNEXT": 2}, st)
    typ, got = listing(c, "LIST", '""', "INBOX*")
    check("INBOX has its child", got == {"INBOX": {"\\HasChildren"},
                                         "INBOX/Receipts": {"\\HasNoChildren"}}, got)
    c.logout()
    # --- an INBOX outside the user directory: its children stay in the user directory ---
    env2 = Env()
    spool = os.path.join(env2.dir, "spool")
    with open(env2.conf, "a") as f:
        f.write("inbox %s/%%u\n" % spool)
    os.makedirs(spool)
    if os.getuid() == 0:
        shutil.chown(spool, env2.run_user)
    env2.add_user("sp", "secret")
    port2 = free_port()
    env2.serve("listen=127.0.0.1:%d imap" % port2)
    try:
        c = imaplib.IMAP4("127.0.0.1", port2)
        c.login("sp", "secret")
        check("spool INBOX: CREATE INBOX/Receipts", c.create("INBOX/Receipts")[0] == "OK")
        check("spool INBOX: children in the user directory",
              os.path.isdir(os.path.join(env2.mail, "sp", "INBOX.sbd")) and
              not os.path.exists(os.path.join(spool, "sp.sbd")))
        check("spool INBOX: deliver exits 0", env2.deliver("sp", make_msg(90, "spool")) == 0)
        check("spool INBOX: the mbox is in the spool", os.path.isfile(os.path.join(spool, "sp")))
        typ, got = listing(c, "LIST", '""', "INBOX*")
        check("spool INBOX: LIST", got == {"INBOX": {"\\HasChildren"},
                                           "INBOX/Receipts": {"\\HasNoChildren"}}, got)
        check("spool INBOX: SELECT", c.select("INBOX") == ("OK", [b"1"]))
        c.logout()
    finally:
        env2.close()
except Exception as e:  # a protocol error is a failure, not a crash of the runner
    check("no exception", False, repr(e))
finally:
    env.close()
done()
