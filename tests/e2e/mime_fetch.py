"""MIME over the wire: every message of tests/fixtures/mime and Python's email test corpus
is delivered, then fetched with imaplib. For each one, BODYSTRUCTURE and ENVELOPE must be
well-formed, every part's BODY.PEEK[path] must be exactly as long as BODYSTRUCTURE says
and byte-equal to the part Python's email package finds in BODY[]; BODY[path.MIME] must
lie within BODY[] and BODY[HEADER] must start it."""
import email
import email.errors
import email.policy
import glob
import imaplib
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from lib import Env, check, done, free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = sorted(glob.glob(os.path.join(HERE, "..", "fixtures", "mime", "*"))) + \
    sorted(glob.glob("/usr/lib/python3.11/test/test_email/data/msg_*.txt"))


def strip_from(data):
    """A leading From_ line is an mbox envelope, not content (Python skips it too)."""
    if data.startswith(b"From "):
        return data.split(b"\n", 1)[1]
    return data


def segments_to_tokens(segs):
    """imaplib's FETCH data (bytes and (prefix, literal) tuples) as a token list:
    '(' ')' and values (bytes for strings and literals, None for NIL, int for numbers)."""
    toks = []
    for seg in segs:
        lit = None
        if isinstance(seg, tuple):
            seg, lit = seg
        text = seg
        if lit is not None:
            text = re.sub(rb"\{\d+\}$", b"", seg)
        i = 0
        while i < len(text):
            c = text[i:i + 1]
            if c in (b"(", b")"):
                toks.append(c.decode())
                i += 1
            elif c == b" ":
                i += 1
            elif c == b'"':
                j, out = i + 1, b""
                while text[j:j + 1] != b'"':
                    if text[j:j + 1] == b"\\":
                        j += 1
                    out += text[j:j + 1]
                    j += 1
                toks.append(out)
                i = j + 1
            else:
                m = re.match(rb"[^ ()]+", text[i:])
                w = m.group(0)
                toks.append(None if w == b"NIL" else int(w) if w.isdigit() else w)
                i += len(w)
        if lit is not None:
            toks.append(lit)
    return toks


def parse_list(toks, i):
    out = []
    while toks[i] != ")":
        if toks[i] == "(":
            sub, i = parse_list(toks, i + 1)
            out.append(sub)
        else:
            out.append(toks[i])
            i += 1
    return out, i + 1


def fetch_items(c, num, items):
    typ, data = c.fetch(str(num), items)
    toks = segments_to_tokens([d for d in data if d != b")"] + [b")"])
    top, _ = parse_list(toks, toks.index("(") + 1)
    return dict(zip([k.decode().upper() if isinstance(k, bytes) else k for k in top[0::2]],
                    top[1::2]))


def imap_parts(bs, path):
    """(path, body) for every part IMAP numbers, as BODYSTRUCTURE describes them."""
    if isinstance(bs[0], list):
        n = 0
        for sub in bs:
            if not isinstance(sub, list):
                break
            n += 1
            yield from imap_parts(sub, path + [n])
        return
    path = path or [1]
    yield path, bs
    if bs[0].lower() == b"message" and bs[1].lower() == b"rfc822":
        inner = bs[8]
        yield from imap_parts(inner, path if isinstance(inner[0], list) else path + [1])


def python_parts(msg, path, ends_nl, open_end=False):
    """The same walk over Python's view: (path, raw bytes, or None where not compared).
    open_end: the last part of a multipart whose close delimiter never came; Python
    drops its last line end, which belongs to no delimiter (RFC 2046 5.1.1), so it is
    put back when the message ends with one."""
    if msg.is_multipart() and msg.get_content_maintype() == "multipart":
        kids = msg.get_payload()
        unclosed = (open_end or not path) and any(
            isinstance(d, email.errors.CloseBoundaryNotFoundDefect) for d in msg.defects)
        for n, sub in enumerate(kids, 1):
            yield from python_parts(sub, path + [n], ends_nl, unclosed and n == len(kids))
        return
    path = path or [1]
    if msg.get_content_type() == "message/rfc822" and msg.is_multipart():
        yield path, None
        inner = msg.get_payload()[0]
        yield from python_parts(inner, path if inner.is_multipart() and
                                inner.get_content_maintype() == "multipart" else path + [1],
                                ends_nl)
        return
    raw = msg._payload
    # a multipart without parts is a defect Python keeps its own way: no bytes compared
    if not isinstance(raw, str) or msg.get_content_maintype() == "multipart":
        raw = None
    if raw is not None and open_end and ends_nl:
        raw += "\n"
    yield path, (raw.encode("ascii", "surrogateescape").replace(b"\n", b"\r\n")
                 if raw is not None else None)


env = Env()
env.add_user("alice", "secret")
for f in FILES:
    with open(f, "rb") as fh:
        env.deliver("alice", strip_from(fh.read()))
PORT = free_port()
env.serve("listen=127.0.0.1:%d imap" % PORT)

try:
    c = imaplib.IMAP4("127.0.0.1", PORT)
    c.login("alice", "secret")
    typ, data = c.select("INBOX", readonly=True)
    count = int(data[0])
    check("all %d corpus messages delivered" % len(FILES), count == len(FILES), data)
    sizes_ok = same_as_python = compared = headers_ok = 0
    for num in range(1, count + 1):
        name = os.path.basename(FILES[num - 1])
        it = fetch_items(c, num, "(BODYSTRUCTURE ENVELOPE RFC822.SIZE BODY.PEEK[])")
        whole = it["BODY[]"]
        ours = list(imap_parts(it["BODYSTRUCTURE"], []))
        good = len(whole) == it["RFC822.SIZE"] and len(it["ENVELOPE"]) == 10
        for path, bs in ours:
            sect = ".".join(map(str, path))
            got = fetch_items(c, num, "(BODY.PEEK[%s] BODY.PEEK[%s.MIME])" % (sect, sect))
            body, mime = got["BODY[%s]" % sect], got["BODY[%s.MIME]" % sect]
            good = good and len(body) == bs[6] and whole.find(body) >= 0 and \
                whole.find(mime) >= 0
        sizes_ok += good
        if not good:
            print("# %s: a part's size or MIME header is off" % name)
        hdr = fetch_items(c, num, "(BODY.PEEK[HEADER])")["BODY[HEADER]"]
        headers_ok += whole.startswith(hdr)
        py = list(python_parts(email.message_from_bytes(whole.replace(b"\r\n", b"\n"),
                                                         policy=email.policy.compat32), [],
                               whole.endswith(b"\r\n")))
        if [p for p, _ in py] == [p for p, _ in ours]:
            compared += 1
            match = True
            for path, raw in py:
                if raw is None:
                    continue
                sect = ".".join(map(str, path))
                body = fetch_items(c, num, "(BODY.PEEK[%s])" % sect)["BODY[%s]" % sect]
                match = match and body == raw
            same_as_python += match
            if not match:
                print("# %s: a part differs from Python's" % name)
    check("every part's literal is as long as BODYSTRUCTURE says (%d of %d messages)"
          % (sizes_ok, count), sizes_ok == count)
    check("BODY[HEADER] starts BODY[] (%d of %d)" % (headers_ok, count), headers_ok == count)
    check("parts numbered as Python finds them in %d of %d messages" % (compared, count),
          compared >= count - 3)
    check("those parts byte-equal to Python's (%d of %d)" % (same_as_python, compared),
          same_as_python == compared)
    c.logout()
finally:
    env.close()
done()
