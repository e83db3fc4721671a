#!/usr/bin/env python3
"""Reference MIME structure of messages, as Python's email package sees it.

Usage: mime_ref.py FILE...   For each file prints "== FILE", then one line per part in preorder:
"<depth> <type/subtype>" and, for leaves, " <size> <lines>" with the body size counted
in CRLF octets as IMAP sends it. test_mime.c prints the same from mailnook's parser.
"""
import email
import email.errors
import email.policy
import sys


SOURCE = b""


def leaf_numbers(part):
    raw = part._payload  # the bytes as parsed: get_payload() would recode 8-bit text
    if isinstance(raw, list):
        return None
    data = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return len(data) + data.count(b"\n"), lines


def dump(msg, depth, out, open_end=False):
    """open_end: msg is the last part of a multipart whose close delimiter never came
    before the end of the message: Python drops its last line end, which then belongs to
    no delimiter and stays in the part (RFC 2046 5.1.1), as mailnook and IMAP count it."""
    ctype = msg.get_content_type()
    maintype = msg.get_content_maintype()
    # IMAP4rev1 opens only multipart/* with parts and message/rfc822; Python also
    # splits message/delivery-status and the like into header blocks: no sizes compared.
    if (maintype == "message" and ctype != "message/rfc822") or \
            (maintype == "multipart" and not msg.is_multipart()):
        out.append("%d %s -" % (depth, ctype))
        return
    if msg.is_multipart():
        kids = msg.get_payload()
        unclosed = (open_end or depth == 0) and any(
            isinstance(d, email.errors.CloseBoundaryNotFoundDefect) for d in msg.defects)
        out.append("%d %s" % (depth, ctype))
        for i, k in enumerate(kids):
            dump(k, depth + 1, out, unclosed and i == len(kids) - 1)
        return
    size, lines = leaf_numbers(msg)
    if open_end and SOURCE.endswith(b"\n"):
        size += 2
    out.append("%d %s %d %d" % (depth, ctype, size, lines))


def main():
    for name in sys.argv[1:]:
        global SOURCE
        with open(name, "rb") as f:
            SOURCE = f.read()
        msg = email.message_from_bytes(SOURCE, policy=email.policy.compat32)
        out = ["== " + name]
        dump(msg, 0, out)
        print("\n".join(out))


if __name__ == "__main__":
    main()
