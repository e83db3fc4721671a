#!/usr/bin/env python3
"""Reference MIME structure of messages, as Python's email package sees it.

Usage: mime_ref.py FILE...   For each file prints "== FILE", then one line per part in preorder:
"<depth> <type/subtype>" and, for leaves, " <size> <lines>" with the body size counted
in CRLF octets as IMAP sends it. test_mime.c prints the same from mailnook's parser.
"""
import email
import email.policy
import sys


def leaf_numbers(part):
    raw = part._payload  # the bytes as parsed: get_payload() would recode 8-bit text
    if isinstance(raw, list):
        return None
    data = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return len(data) + data.count(b"\n"), lines


def dump(msg, depth, out):
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
        out.append("%d %s" % (depth, ctype))
        for k in kids:
            dump(k, depth + 1, out)
        return
    nums = leaf_numbers(msg)
    out.append("%d %s %d %d" % ((depth, ctype) + nums))


def main():
    for name in sys.argv[1:]:
        with open(name, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.compat32)
        out = ["== " + name]
        dump(msg, 0, out)
        print("\n".join(out))


if __name__ == "__main__":
    main()
