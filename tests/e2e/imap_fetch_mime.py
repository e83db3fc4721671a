"""FETCH of MIME details over IMAP (imaplib), checked against Python's email package:
BODYSTRUCTURE gives a text part without a charset ("charset" "us-ascii") (RFC 2045 5.2),
joins and decodes RFC 2231 parameters (the value Python's get_filename() finds, as an RFC
2047 word where it is not ASCII); BODY[HEADER.FIELDS.NOT (...)] of a message that is
only a header, without a blank line, adds no blank line BODY[HEADER] does not have; a
multipart without its close delimiter keeps its last line end in the last part."""
import email
import email.header
import email.policy
import email.utils
import imaplib
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port  # noqa: E402

MSGS = [
    # 1: text without charset, a PDF named in RFC 2231 pieces with a charset
    b"From: a@example.org\nSubject: params\nMIME-Version: 1.0\n"
    b"Content-Type: multipart/mixed; boundary*0=\"two-\"; boundary*1=\"pieces\"\n\n"
    b"--two-pieces\nContent-Type: text/plain; format=flowed\n\nhello\n"
    b"--two-pieces\nContent-Type: application/pdf;\n name*0*=utf-8''r%C3%A9sum;\n"
    b" name*1*=%C3%A9.pdf\nContent-Disposition: attachment;\n"
    b" filename*0=\"long-file\"; filename*1=\"name.pdf\"\n"
    b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--two-pieces--\n",
    # 2: only a header, no blank line
    b"From: h@example.org\nSubject: header only\nX-Note: yes",
    # 3: no close delimiter
    b"From: c@example.org\nSubject: unclosed\nContent-Type: multipart/mixed; boundary=u\n\n"
    b"--u\nContent-Type: text/plain\n\nfirst\n--u\nContent-Type: text/html\n\n"
    b"<b>never closed</b>\n",
]


def fetch(c, num, item):
    typ, data = c.fetch(str(num), "(%s)" % item)
    for d in data:
        if isinstance(d, tuple):
            return d[1]
    return data[0]


env = Env()
env.add_user("alice", "secret")
for m in MSGS:
    env.deliver("alice", m)
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT)
try:
    c = imaplib.IMAP4("127.0.0.1", PORT)
    c.login("alice", "secret")
    typ, data = c.select("INBOX", readonly=True)
    check("three messages", data == [b"3"], data)

    bs = fetch(c, 1, "BODYSTRUCTURE").decode()
    check("text part without a charset: format kept, charset us-ascii added",
          '("text" "plain" ("format" "flowed" "charset" "us-ascii")' in bs, bs)
    check("RFC 2231 boundary pieces joined", '("boundary" "two-pieces")' in bs, bs)
    py = email.message_from_bytes(MSGS[0], policy=email.policy.compat32)
    pdf = py.get_payload()[1]
    m = re.search(r'"application" "pdf" \("name" "([^"]*)"\)', bs)
    ours = str(email.header.make_header(email.header.decode_header(m.group(1)))) if m else None
    want = email.utils.collapse_rfc2231_value(pdf.get_param("name"))
    check("RFC 2231 name with a charset decodes to what Python finds (%r, %r)" % (ours, want),
          ours == want == "r\u00e9sum\u00e9.pdf", bs)
    check("RFC 2231 filename continuations joined as Python joins them",
          '("filename" "%s")' % pdf.get_filename() in bs, bs)

    body = fetch(c, 1, "BODY").decode()
    check("BODY is BODYSTRUCTURE without extension data",
          body.endswith('("text" "plain" ("format" "flowed" "charset" "us-ascii") NIL NIL '
                        '"7bit" 5 1)("application" "pdf" ("name" "=?utf-8?Q?r=C3=A9sum=C3=A9'
                        '.pdf?=") NIL NIL "base64" 12) "mixed"))'), body)

    head = fetch(c, 2, "BODY.PEEK[HEADER]")
    notx = fetch(c, 2, "BODY.PEEK[HEADER.FIELDS.NOT (X-Note)]")
    only = fetch(c, 2, "BODY.PEEK[HEADER.FIELDS (Subject)]")
    check("header-only message: BODY[HEADER] has no blank line", not head.endswith(b"\r\n\r\n"),
          head)
    check("HEADER.FIELDS.NOT adds no blank line BODY[HEADER] lacks",
          notx == b"From: h@example.org\r\nSubject: header only\r\n", notx)
    check("HEADER.FIELDS likewise", only == b"Subject: header only\r\n", only)
    with_blank = fetch(c, 1, "BODY.PEEK[HEADER.FIELDS (Subject)]")
    check("a header with a blank line keeps it in HEADER.FIELDS",
          with_blank == b"Subject: params\r\n\r\n", with_blank)

    last = fetch(c, 3, "BODY.PEEK[2]")
    bs3 = fetch(c, 3, "BODYSTRUCTURE").decode()
    check("no close delimiter: the last part keeps its line end", last == b"<b>never closed</b>\r\n",
          last)
    check("and BODYSTRUCTURE counts it", '"7bit" 21 1' in bs3, bs3)
    c.logout()
finally:
    env.close()
done()
