"""IMAP with python's imaplib against `mailnook serve`: login rules, special-use folders,
SELECT data, FETCH items byte-exact (literal counts equal the bytes), \\Seen by non-PEEK
bodies, STORE with keywords, SEARCH and ESEARCH, APPEND/COPY/MOVE with UIDPLUS codes,
EXPUNGE, folder management with hierarchy and modified UTF-7 names, IDLE seeing mail
delivered meanwhile, several sessions on one folder, and errors in every state."""
import imaplib
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port, make_msg  # noqa: E402

env = Env()
env.add_user("alice", "secret")
env.add_user("bob", "pw")
MSGS = [make_msg(1, "first"), make_msg(2, "second message", 10),
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\nSubject: mixed\n"
        b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=XX\n\n"
        b"--XX\nContent-Type: text/plain\n\nhello part one\n--XX\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        b"AAECAw==\n--XX--\n"]
for m in MSGS:
    env.deliver("alice", m)
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT)


def crlf(b):
    return b.replace(b"\n", b"\r\n")


def login(user="alice", pw="secret"):
    c = imaplib.IMAP4("127.0.0.1", PORT)
    c.login(user, pw)
    return c


try:
    # --- not authenticated ---
    c = imaplib.IMAP4("127.0.0.1", PORT)
    check("greeting carries capabilities", b"IMAP4rev1" in c.welcome, c.welcome)
    typ, data = c.capability()
    check("CAPABILITY before login offers AUTH=PLAIN", b"AUTH=PLAIN" in data[0], data)
    try:
        c.login("alice", "wrong")
        check("wrong password refused", False)
    except imaplib.IMAP4.error as e:
        check("wrong password refused with AUTHENTICATIONFAILED", "AUTHENTICATIONFAILED" in str(e), e)
    typ, data = c.login("alice", "secret")
    check("LOGIN", typ == "OK", data)
    typ, data = c.capability()
    for cap in (b"IDLE", b"UIDPLUS", b"MOVE", b"SPECIAL-USE", b"LIST-STATUS", b"ESEARCH"):
        check("capability %s after login" % cap.decode(), cap in data[0], data)

    # --- folders ---
    typ, data = c.list()
    names = {re.search(rb'"/" "?([^"]*)"?$', l).group(1): l for l in data}
    for n, su in ((b"INBOX", None), (b"Sent", b"\\Sent"), (b"Drafts", b"\\Drafts"),
                  (b"Trash", b"\\Trash"), (b"Junk", b"\\Junk"), (b"Archive", b"\\Archive")):
        check("LIST shows %s" % n.decode(), n in names, data)
        if su and n in names:
            check("%s is %s" % (n.decode(), su.decode()), su in names[n], names[n])
    typ, data = c.lsub()
    check("special folders subscribed at first login", len(data) >= 6, data)
    typ, data = c.list('""', '""')
    check("LIST \"\" \"\" gives the delimiter", b'(\\Noselect) "/" ""' in data[0], data)

    # --- SELECT ---
    typ, data = c.select("INBOX")
    check("SELECT INBOX: 3 EXISTS", typ == "OK" and data == [b"3"], data)
    check("SELECT gives UIDVALIDITY", c.untagged_responses.get("UIDVALIDITY") is not None,
          c.untagged_responses)
    typ, data = c.fetch("1:*", "(UID FLAGS RFC822.SIZE)")
    sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d).group(1)) for d in data]
    check("RFC822.SIZE is the CRLF size", sizes == [len(crlf(m)) for m in MSGS], (sizes, data))
    typ, data = c.fetch("2", "(BODY.PEEK[])")
    check("BODY.PEEK[] is the message with CRLF", data[0][1] == crlf(MSGS[1]), data)
    typ, data = c.fetch("2", "(FLAGS)")
    check("PEEK leaves \\Seen unset", b"\\Seen" not in data[0], data)
    typ, data = c.fetch("2", "(BODY[TEXT])")
    check("BODY[TEXT]", data[0][1] == crlf(MSGS[1].split(b"\n\n", 1)[1]), data)
    flat = b"".join(x if isinstance(x, bytes) else x[0] for x in data)
    check("non-PEEK body sets \\Seen (FLAGS in the same response)", b"\\Seen" in flat, data)
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check("HEADER.FIELDS", data[0][1] == b"Subject: first\r\n\r\n", data)
    typ, data = c.fetch("1", "(BODY.PEEK[]<0.10>)")
    check("partial BODY[]<0.10>", data[0][1] == crlf(MSGS[0])[:10] and b"<0>" in data[0][0], data)
    typ, data = c.fetch("1", "(ENVELOPE)")
    check("ENVELOPE subject", b'"first"' in data[0], data)
    typ, data = c.fetch("3", "(BODYSTRUCTURE)")
    check("BODYSTRUCTURE multipart", b'"MIXED"' in data[0].upper() and b"BASE64" in data[0].upper(), data)
    typ, data = c.fetch("3", "(BODY.PEEK[2])")
    check("BODY[2] of a multipart", data[0][1] == b"AAECAw==", data)
    typ, data = c.fetch("1", "(INTERNALDATE)")
    check("INTERNALDATE", re.search(rb'INTERNALDATE "\d\d-\w\w\w-\d{4} \d\d:\d\d:\d\d [+-]\d{4}"', data[0]) is not None, data)

    # --- STORE and SEARCH ---
    typ, data = c.store("1", "+FLAGS", "(\\Flagged $Label1)")
    check("STORE +FLAGS with a keyword", typ == "OK" and b"$Label1" in data[0] and b"\\Flagged" in data[0], data)
    typ, data = c.store("1", "-FLAGS.SILENT", "($Label1)")
    check("STORE -FLAGS.SILENT answers nothing", data == [None], data)
    typ, data = c.search(None, "SUBJECT", '"second"')
    check("SEARCH SUBJECT", data == [b"2"], data)
    typ, data = c.search(None, "UNSEEN")
    check("SEARCH UNSEEN", data == [b"1 3"], data)
    typ, data = c.search(None, "FLAGGED")
    check("SEARCH FLAGGED", data == [b"1"], data)
    typ, data = c.search(None, "BODY", "\"part one\"")
    check("SEARCH BODY in a MIME part", data == [b"3"], data)
    c.literal = "J\u00fcrgen".encode()
    typ, data = c.search("UTF-8", "FROM")
    check("SEARCH FROM decodes encoded words", data == [b"3"], data)
    typ, data = c.uid("SEARCH", "ALL")
    uids = [int(x) for x in data[0].split()]
    check("UID SEARCH ALL", len(uids) == 3 and uids == sorted(uids), data)
    typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
    es = c.untagged_responses.pop("ESEARCH", [b""])[0]
    check("ESEARCH MIN MAX COUNT", b"MIN 1" in es and b"MAX 3" in es and b"COUNT 3" in es, es)
    typ, data = c.search(None, "NOT", "OR", "SEEN", "FLAGGED")
    check("SEARCH NOT OR", data == [b"3"], data)

    # --- APPEND, COPY, MOVE ---
    new = b"From: me@example.org\r\nSubject: draft\r\n\r\nbody of the draft\r\n"
    typ, data = c.append("Drafts", "(\\Draft $Todo)", '"01-Jan-2025 10:00:00 +0000"', new)
    check("APPEND with APPENDUID", typ == "OK" and b"APPENDUID" in data[0], data)
    typ, data = c.status("Drafts", "(MESSAGES UIDNEXT UNSEEN SIZE)")
    check("STATUS after APPEND", b"MESSAGES 1" in data[0] and b"SIZE %d" % len(new) in data[0], data)
    typ, data = c.append("NoSuchFolder", None, None, new)
    check("APPEND to a missing folder: TRYCREATE", typ == "NO" and b"TRYCREATE" in data[0], data)
    typ, data = c.copy("1:2", "Trash")
    check("COPY with COPYUID", typ == "OK" and b"COPYUID" in data[0], data)
    typ, data = c._simple_command("MOVE", "3", "Archive")
    check("MOVE", typ == "OK", data)
    check("MOVE expunged the source", c.untagged_responses.pop("EXPUNGE", None) == [b"3"], c.untagged_responses)
    typ, data = c.status("Archive", "(MESSAGES)")
    check("moved message arrived", b"MESSAGES 1" in data[0], data)
    c.select("Drafts")
    typ, data = c.fetch("1", "(FLAGS INTERNALDATE BODY.PEEK[])")
    head = data[0][0] if isinstance(data[0], tuple) else data[0]
    check("APPENDed flags and date", b"\\Draft" in head and b"$Todo" in head and
          b"01-Jan-2025 10:00:00" in head, data)
    check("APPENDed bytes", isinstance(data[0], tuple) and data[0][1] == new, data)

    # --- EXPUNGE ---
    c.select("Trash")
    c.store("1", "+FLAGS", "\\Deleted")
    typ, data = c.expunge()
    check("EXPUNGE", data == [b"1"], data)
    typ, data = c.select("Trash")
    check("one message left in Trash", data == [b"1"], data)
    c.close()

    # --- folder management ---
    check("CREATE Work/Q1", c.create("Work/Q1")[0] == "OK")
    typ, data = c.list('""', "Work*")
    check("hierarchy listed", any(b"\\HasChildren" in l and l.endswith(b" Work") for l in data) and
          any(b"Work/Q1" in l for l in data), data)
    check("RENAME Work/Q1 Work/Q2", c.rename("Work/Q1", "Work/Q2")[0] == "OK")
    typ, data = c.list("Work/", "%")
    check("renamed", len(data) == 1 and b"Work/Q2" in data[0], data)
    check("DELETE Work/Q2", c.delete("Work/Q2")[0] == "OK")
    check("CREATE existing: NO", c.create("Sent")[0] == "NO")
    check("DELETE INBOX: NO", c.delete("INBOX")[0] == "NO")
    check("CREATE ../escape refused", c.create("../escape")[0] in ("NO", "BAD"))
    check("CREATE .hidden refused", c.create(".hidden")[0] in ("NO", "BAD"))
    check("CREATE modified UTF-7 name", c.create("&AOk-t&AOk-")[0] == "OK")
    typ, data = c.list('""', "*t&AOk-")
    check("LIST returns modified UTF-7", len(data) == 1 and b"&AOk-t&AOk-" in data[0], data)
    check("the folder is UTF-8 on disk", os.path.exists(os.path.join(env.mail, "alice", "\u00e9t\u00e9")))
    typ, data = c.subscribe("Archive")
    check("SUBSCRIBE", typ == "OK")
    typ, data = c._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
    lst = c.untagged_responses.pop("LIST", [])
    check("LIST (SPECIAL-USE) lists the five", len(lst) == 5, lst)
    typ, data = c._simple_command("LIST", '""', "%", "RETURN", "(STATUS (MESSAGES))")
    st = c.untagged_responses.pop("STATUS", [])
    c.untagged_responses.pop("LIST", None)
    check("LIST-STATUS", any(b"Drafts" in s and b"MESSAGES 1" in s for s in st), st)
    typ, data = c._simple_command("NAMESPACE")
    check("NAMESPACE", typ == "OK")
    c.logout()

    # --- several sessions on one folder ---
    a = login()
    b = login()
    a.select("INBOX")
    b.select("INBOX")
    b.store("1", "+FLAGS", "\\Answered")
    a.noop()
    fl = a.untagged_responses.pop("FETCH", [])
    check("flag change seen by the other session", any(b"\\Answered" in x for x in fl), fl)
    b.store("1", "+FLAGS", "\\Deleted")
    b.expunge()
    typ, data = a.fetch("1:*", "(FLAGS)")
    check("no EXPUNGE during FETCH", a.untagged_responses.pop("EXPUNGE", None) is None, data)
    a.noop()
    check("EXPUNGE announced at NOOP", a.untagged_responses.pop("EXPUNGE", None) == [b"1"])
    a.untagged_responses.pop("EXISTS", None)
    env.deliver("alice", make_msg(9, "late"))
    a.noop()
    ex = a.untagged_responses.pop("EXISTS", None)
    check("new mail seen as EXISTS", ex == [b"2"], (ex, a.untagged_responses))
    a.logout()
    b.logout()

    # --- IDLE over a raw socket ---
    s = socket.create_connection(("127.0.0.1", PORT))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc IDLE\r\n")
    line = b""
    while not line.startswith(b"+"):
        line = f.readline()
    env.deliver("alice", make_msg(10, "idle"))
    s.settimeout(10)
    got = f.readline()
    check("IDLE reports new mail", got == b"* 3 EXISTS\r\n", got)
    check("IDLE claims the new mail as \\Recent", f.readline() == b"* 1 RECENT\r\n")
    s.sendall(b"DONE\r\n")
    check("IDLE ends at DONE", f.readline().startswith(b"c OK"))
    s.sendall(b"d LOGOUT\r\n")
    s.close()

    # --- bad input ---
    s = socket.create_connection(("127.0.0.1", PORT))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"x SELECT INBOX\r\n")
    got = f.readline()
    check("SELECT before login: BAD", got.startswith(b"x BAD"), got)
    s.sendall(b"y FROB\r\n")
    got = f.readline()
    check("unknown command before login: BAD", got.startswith(b"y BAD"), got)
    s.sendall(b"a LOGIN alice secret\r\n")
    f.readline()
    s.sendall(b"b APPEND INBOX {999999999}\r\n")
    got = f.readline()
    check("too big literal refused before +", got.startswith(b"b NO") and b"TOOBIG" in got, got)
    s.sendall(b"c FETCH 1 FLAGS\r\n")
    got = f.readline()
    check("FETCH without a selected folder: BAD", got.startswith(b"c BAD"), got)
    s.sendall(b"d SEARCH " + b"(" * 10000 + b"ALL" + b")" * 10000 + b"\r\n")
    got = f.readline()
    check("10,000 nested parentheses refused", got.startswith(b"d BAD") or got.startswith(b"* BAD")
          or got.startswith(b"* BYE"), got)
    s.close()
    s = socket.create_connection(("127.0.0.1", PORT))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"a LOGIN bob pw\r\nb SELECT INBOX\r\nc FETCH 1:4294967295 FLAGS\r\n"
              b"d UID FETCH 1:4294967295 FLAGS\r\ne FROB\r\nf LOGOUT\r\n")
    out = b""
    s.settimeout(5)
    while not out.endswith(b"f OK LOGOUT completed\r\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    check("SELECT of a user's INBOX never delivered to", b"b OK [READ-WRITE]" in out, out)
    check("1:4294967295 on an empty folder: BAD", b"c BAD" in out, out)
    check("UID FETCH 1:4294967295 on an empty folder: OK", b"d OK" in out, out)
    check("unknown command: BAD", b"e BAD" in out, out)
    s.close()

    # --- idle before login: the preauth timeout ends the session with BYE ---
    a, b = socket.socketpair()
    p = subprocess.Popen(env.cmd("-o", "preauth_timeout=1", "imap"), stdin=b, stdout=b,
                         stderr=subprocess.PIPE)
    b.close()
    a.settimeout(10)
    f = a.makefile("rb")
    f.readline()
    t0 = time.time()
    got = f.readline()
    check("preauth timeout: BYE after about 1 s", got.startswith(b"* BYE") and
          0.5 < time.time() - t0 < 5, got)
    check("preauth timeout: connection closed", f.readline() == b"")
    p.wait(5)
    check("preauth timeout logged", b"timeout from" in p.stderr.read())
    a.close()
finally:
    env.close()
done()
