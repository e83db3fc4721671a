/*
 * Modified UTF-7 both ways (RFC 3501 5.1.3 examples, surrogate pairs, canonical form
 * only), strict UTF-8, and the folder name rules: no way out of the user's tree.
 */
#include <stdio.h>
#include <string.h>

#include "mutf7.h"
#include "params.h"
#include "t.h"

static const struct {
	const char *utf8, *wire;
} pairs[] = {
	{ "INBOX", "INBOX" },
	{ "\xc3\xa4", "&AOQ-" },
	{ "Entw\xc3\xbcrfe", "Entw&APw-rfe" },
	{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "&ZeVnLIqe-" },
	{ "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
	  "~peter/mail/&U,BTFw-/&ZeVnLIqe-" },
	{ "\xf0\x9f\x98\x80", "&2D3eAA-" },
	{ "a&b", "a&-b" },
	{ "\xc3\x9c/\xc3\x96", "&ANw-/&ANY-" },
	{ "\x7f", "&AH8-" },
	{ "", "" },
};

static void
test_pairs(void)
{
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		CHECK(mutf7_encode(pairs[i].utf8, buf, sizeof(buf)) == 0 &&
		    strcmp(buf, pairs[i].wire) == 0, "encode %s -> %s", pairs[i].wire, buf);
		CHECK(mutf7_decode(pairs[i].wire, strlen(pairs[i].wire), buf, sizeof(buf)) == 0 &&
		    strcmp(buf, pairs[i].utf8) == 0, "decode %s", pairs[i].wire);
	}
}

static void
test_bad(void)
{
	static const char *const bad[] = {
		"&AOQ",		/* unterminated */
		"&AGE-",	/* 'a' encoded: not canonical */
		"&AOQ-&AOQ-",	/* two runs that should be one */
		"\xc3\xa4",	/* raw 8-bit */
		"&Jjo!-",	/* not base64 */
		"&AOR-",	/* leftover bits not zero */
		"&2D0-",	/* lone high surrogate */
		"&3gA-",	/* lone low surrogate */
		"a\tb",		/* control character */
		"&A-",		/* too few bits for a unit */
		"&AAA-",	/* NUL */
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(mutf7_decode(bad[i], strlen(bad[i]), buf, sizeof(buf)) < 0, "refuse %zu", i);
	}
	CHECK(mutf7_encode("\xc3", buf, sizeof(buf)) < 0, "encode refuses broken UTF-8");
	CHECK(mutf7_encode("\xe6\x97\xa5", buf, 4) < 0, "encode: short buffer");
	CHECK(mutf7_decode("abcdef", 6, buf, 6) < 0, "decode: short buffer");
	CHECK(mutf7_decode("abcde", 5, buf, 6) == 0, "decode: exact buffer");
}

static void
test_utf8(void)
{
	CHECK(mutf7_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10), "valid");
	CHECK(!mutf7_utf8_valid("\xc0\x80", 2), "overlong NUL");
	CHECK(!mutf7_utf8_valid("\xe0\x80\xaf", 3), "overlong slash");
	CHECK(!mutf7_utf8_valid("\xed\xa0\x80", 3), "surrogate");
	CHECK(!mutf7_utf8_valid("\xf4\x90\x80\x80", 4), "above U+10FFFF");
	CHECK(!mutf7_utf8_valid("\xe6\x97", 2), "truncated");
	CHECK(!mutf7_utf8_valid("\x80", 1), "lone continuation");
}

static int
check(const char *in, char *out)
{
	const char *why;

	snprintf(out, IMAP_MAILBOX_MAX + 64, "%s", in);
	return mutf7_name_check(out, &why);
}

static void
test_names(void)
{
	static const char *const bad[] = {
		"", "/abs", "a/", "a//b", "..", "a/../b", ".", "a/.", ".mailnook", "x/.hidden",
		"a\x01", "tab\there", "a*", "a%b", "a\\b", "del\x7f", "c1\xc2\x85", "bad\xff",
	};
	char name[IMAP_MAILBOX_MAX + 64], deep[IMAP_MAILBOX_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(check(bad[i], name) < 0, "refuse name %zu", i);
	}
	CHECK(check("Sent", name) == 0 && strcmp(name, "Sent") == 0, "plain name");
	CHECK(check("a b/c.d/e..f", name) == 0, "dots and spaces inside levels");
	CHECK(check("inbox", name) == 0 && strcmp(name, "INBOX") == 0, "inbox -> INBOX");
	CHECK(check("Inbox/Sub", name) == 0 && strcmp(name, "INBOX/Sub") == 0, "INBOX parent");
	CHECK(check("inboxes", name) == 0 && strcmp(name, "inboxes") == 0, "not INBOX");
	CHECK(check("caf\xc3\xa9", name) == 0, "UTF-8 name");
	memset(deep, 'x', IMAP_MAILBOX_MAX + 1);
	deep[IMAP_MAILBOX_MAX + 1] = '\0';
	CHECK(check(deep, name) < 0, "too long");
	deep[IMAP_MAILBOX_MAX] = '\0';
	CHECK(check(deep, name) == 0, "longest");
	for (i = 0; i < IMAP_MAILBOX_DEPTH_MAX; i++) {
		memcpy(deep + 2 * i, "a/", 2);
	}
	deep[2 * IMAP_MAILBOX_DEPTH_MAX - 1] = '\0';
	CHECK(check(deep, name) == 0, "deepest (%d levels)", IMAP_MAILBOX_DEPTH_MAX);
	memcpy(deep + 2 * IMAP_MAILBOX_DEPTH_MAX - 1, "/a", 3);
	CHECK(check(deep, name) < 0, "one level too deep");
}

static void
test_wire(void)
{
	char out[IMAP_MAILBOX_MAX + 1];
	const char *why = NULL;

	CHECK(mutf7_mailbox("&AOQ-/x", 7, 0, out, sizeof(out), &why) == 0 &&
	    strcmp(out, "\xc3\xa4/x") == 0, "wire name decoded");
	CHECK(mutf7_mailbox("\xc3\xa4", 2, 1, out, sizeof(out), &why) == 0, "UTF-8 wire name");
	CHECK(mutf7_mailbox("Work/", 5, 0, out, sizeof(out), &why) == 0 &&
	    strcmp(out, "Work") == 0, "trailing separator dropped (CREATE)");
	CHECK(mutf7_mailbox("Work//", 6, 0, out, sizeof(out), &why) < 0, "only one");
	CHECK(mutf7_mailbox("/", 1, 0, out, sizeof(out), &why) < 0, "root refused");
	CHECK(mutf7_mailbox("\xc3\xa4", 2, 0, out, sizeof(out), &why) < 0, "8-bit needs UTF8");
	CHECK(mutf7_mailbox("&AC4ALg-", 8, 0, out, sizeof(out), &why) < 0,
	    "encoded dots are still refused");
	CHECK(mutf7_mailbox("&AC4-&AC4-", 10, 0, out, sizeof(out), &why) < 0, "split dots");
	CHECK(mutf7_mailbox("a\0b", 3, 1, out, sizeof(out), &why) < 0 && why != NULL, "NUL");
	CHECK(mutf7_mailbox("..", 2, 1, out, sizeof(out), &why) < 0 &&
	    strcmp(why, "level starts with a dot") == 0, "reason given: %s", why);
}

int
main(void)
{
	test_pairs();
	test_bad();
	test_utf8();
	test_names();
	test_wire();
	return t_done();
}
