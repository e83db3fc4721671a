"""SEARCH on header fields and text over IMAP (imaplib): FROM/TO/CC match the parsed
addresses as well as the field text, repeated To/Cc fields are searched whole, subjects
decoded; BODY and TEXT look at decoded part contents (base64, quoted-printable, Latin-1),
not at the words of MIME part headers; TEXT includes the top header. Each search runs
before the structure cache exists, after FETCH ENVELOPE filled it, and after the cache
file was removed, with the same answers. ENVELOPE takes the old-style trailing comment
as the personal name and merges repeated To fields."""
import glob
import imaplib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port  # noqa: E402

MSGS = [
    # 1: address with comments inside, old-style name, repeated To and Cc
    b"From: <user (comment)@ (comment) domain.org>\n"
    b"To: first@to.example\nTo: Second Person <second@to.example>\n"
    b"Cc: cc-one@cc.example\nCc: cc-two@cc.example\n"
    b"Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus Bern\n"
    b"Date: Sat, 28 Nov 2026 10:00:00 +0000\n\nplain body about tulips\n",
    # 2: old-style personal name; multipart with QP, base64 and an attachment name
    b"From: someone@old.example (Real Name)\nTo: u@test.example\nSubject: parts\n"
    b"Date: Sun, 29 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
    b"--b1\nContent-Type: text/plain; charset=iso-8859-1\n"
    b"Content-Transfer-Encoding: quoted-printable\n\ncaf=E9 cr=\n=E8me and sunflow=\ners\n"
    b"--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
    + __import__("base64").encodebytes("hidden daffodils here\n".encode()) +
    b"--b1\nContent-Type: application/octet-stream; name=\"orchid-report.pdf\"\n"
    b"Content-Disposition: attachment; filename=\"orchid-report.pdf\"\n"
    b"Content-Transfer-Encoding: base64\n\nAAAA\n--b1--\n",
    # 3: an unrelated message
    b"From: Other <other@else.example>\nTo: u@test.example\nSubject: nothing\n"
    b"Date: Mon, 30 Nov 2026 10:00:00 +0000\n\nnothing to see\n",
]

SEARCHES = [
    ("FROM parsed address through comments", ["FROM", "user@domain.org"], [1]),
    ("FROM raw field text", ["FROM", '"(comment)"'], [1]),
    ("FROM old-style name", ["FROM", '"Real Name"'], [2]),
    ("FROM address of the old style", ["FROM", "someone@old.example"], [2]),
    ("TO second of two To fields", ["TO", "second@to.example"], [1]),
    ("TO name in the second To field", ["TO", '"second person"'], [1]),
    ("CC second of two Cc fields", ["CC", "cc-two@cc"], [1]),
    ("SUBJECT decoded, case-insensitive", ["CHARSET", "UTF-8", "SUBJECT", '"GR\xc3\x9c\xc3\x9fe"'],
     [1]),
    ("HEADER on a field outside the cache", ["HEADER", "MIME-Version", '"1.0"'], [2]),
    ("SENTON from the Date field", ["SENTON", "29-Nov-2026"], [2]),
    ("BODY plain text", ["BODY", "TULIPS"], [1]),
    ("BODY quoted-printable with soft breaks", ["BODY", "sunflowers"], [2]),
    ("BODY Latin-1 decoded", ["CHARSET", "UTF-8", "BODY", '"caf\xc3\xa9 cr\xc3\xa8me"'], [2]),
    ("BODY base64 decoded", ["BODY", "daffodils"], [2]),
    ("BODY not in an attachment's file name", ["BODY", "orchid"], []),
    ("BODY not in a part's Content-Type", ["BODY", "octet-stream"], []),
    ("TEXT includes the top header", ["TEXT", "parts"], [2]),
    ("TEXT not in a part's Content-Disposition", ["TEXT", "orchid-report"], []),
    ("FROM and BODY together", ["FROM", "other", "BODY", "see"], [3]),
    ("NOT FROM", ["NOT", "FROM", "domain.org"], [2, 3]),
]


def search(c, key):
    args = [a.encode("latin-1") if isinstance(a, str) else a for a in key]
    if args[0] == b"CHARSET":
        typ, data = c.search(args[1].decode(), *args[2:])
    else:
        typ, data = c.search(None, *args)
    return [int(x) for x in data[0].split()] if typ == "OK" else typ


env = Env()
env.add_user("alice", "secret")
for m in MSGS:
    env.deliver("alice", m)
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT)
try:
    c = imaplib.IMAP4("127.0.0.1", PORT)
    c.login("alice", "secret")
    typ, data = c.select("INBOX")
    check("three messages", data == [b"3"], data)
    for when in ("before the structure cache", "from the structure cache",
                 "with the cache file removed"):
        if when == "from the structure cache":
            c.fetch("1:*", "(ENVELOPE)")
        if when == "with the cache file removed":
            c.logout()
            for f in glob.glob(os.path.join(env.mail, "alice", "**", "*.mime"),
                               recursive=True):
                os.unlink(f)
            c = imaplib.IMAP4("127.0.0.1", PORT)
            c.login("alice", "secret")
            c.select("INBOX")
        for what, key, want in SEARCHES:
            got = search(c, key)
            check("%s (%s)" % (what, when), got == want, "%r, want %r" % (got, want))
    typ, data = c.fetch("1:2", "(ENVELOPE)")
    env1 = data[0].decode("latin-1")
    env2 = data[1].decode("latin-1")
    check("ENVELOPE: repeated To fields merged",
          '((NIL NIL "first" "to.example")("Second Person" NIL "second" "to.example"))' in env1,
          env1)
    check("ENVELOPE: repeated Cc fields merged",
          '((NIL NIL "cc-one" "cc.example")(NIL NIL "cc-two" "cc.example"))' in env1, env1)
    check("ENVELOPE: address with comments parsed",
          '((NIL NIL "user" "domain.org"))' in env1, env1)
    check("ENVELOPE: old-style trailing comment is the personal name",
          '(("Real Name" NIL "someone" "old.example"))' in env2, env2)
    c.logout()
finally:
    env.close()
done()
