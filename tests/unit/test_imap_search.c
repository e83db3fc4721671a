/*
 * SEARCH evaluation against a fake message through the accessor interface: flags,
 * sets, dates in their zones, sizes, WITHIN, header and body substrings with case
 * folding, AND/OR/NOT, cheap keys before content, accessor errors; the matcher on its
 * own; RFC 5322 dates.
 */
#include <stdio.h>
#include <string.h>

#include "imap_search.h"
#include "util.h"
#include "t.h"

static struct imap_cmd cmd;
static struct imap_args args;
static struct imap_err err;
static struct imap_match m;

/* The fake message. */
static const char *hdr_subject = "Re: Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\x96LN";
static const char *hdr_from = "Alice Example <alice@example.org>";
static const char *body = "Hello Bob,\r\nthe \xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 "
    "meeting is at noon.\r\n";
static int text_calls, fail_accessors;

static int
acc_keyword(void *ctx, const char *kw, int *has)
{
	(void)ctx;
	*has = str_ieq(kw, "$Work");
	return fail_accessors ? -1 : 0;
}

static int
acc_sent(void *ctx, struct imap_time *t, int *have)
{
	(void)ctx;
	*have = imap_rfc5322_date("Sun, 31 Mar 2024 23:30:00 -0200", 31, t) == 0;
	return fail_accessors ? -1 : 0;
}

static int
acc_header(void *ctx, const char *field, struct imap_match *mm)
{
	(void)ctx;
	if (strcmp(field, "SUBJECT") == 0) {
		imap_match_reset(mm);
		imap_match_feed(mm, hdr_subject, strlen(hdr_subject));
	} else if (strcmp(field, "FROM") == 0) {
		imap_match_reset(mm);
		imap_match_feed(mm, hdr_from, strlen(hdr_from));
	}
	return fail_accessors ? -1 : 0;
}

static int
acc_text(void *ctx, int whole, struct imap_match *mm)
{
	size_t i;

	(void)ctx;
	text_calls++;
	if (whole) {
		imap_match_feed(mm, hdr_subject, strlen(hdr_subject));
	}
	/* Byte by byte: UTF-8 sequences and matches cut at every point. */
	for (i = 0; body[i] != '\0'; i++) {
		imap_match_feed(mm, body + i, 1);
	}
	return fail_accessors ? -1 : 0;
}

static const struct imap_search_ops ops = { acc_keyword, acc_sent, acc_header, acc_text };

/* Evaluate the SEARCH keys in text against the fake message. */
static int
search(const char *keys)
{
	struct imap_search_msg msg;
	struct imap_search_env env = { 10, 500, 1712000000, NULL };
	static char text[4096];
	int n;

	n = snprintf(text, sizeof(text), " %s", keys);
	cmd.text = text;
	cmd.cap = sizeof(text);
	cmd.len = (size_t)n;
	cmd.args = cmd.pos = cmd.used[0] = cmd.used[1] = 0;
	if (imap_parse_search(&cmd, 0, &args, &err) != IMAP_OK) {
		printf("# parse failed: %s: %s\n", keys, err.text);
		return -2;
	}
	msg.seq = 3;
	msg.uid = 300;
	msg.size = 2048;
	msg.flags = STORE_SEEN | STORE_FLAGGED | IMAP_F_RECENT;
	/* 2024-04-01 01:30 +0200, i.e. 2024-03-31 23:30 UTC. */
	msg.internal.t = 1711927800;
	msg.internal.zone = 120;
	return imap_search_eval(args.search.key, &msg, &env, &ops, NULL);
}

static void
test_keys(void)
{
	static const struct {
		const char *keys;
		int want;
	} cases[] = {
		{ "ALL", 1 }, { "SEEN", 1 }, { "UNSEEN", 0 }, { "FLAGGED DELETED", 0 },
		{ "UNDELETED UNANSWERED UNDRAFT", 1 }, { "RECENT", 1 }, { "NEW", 0 }, { "OLD", 0 },
		{ "3", 1 }, { "1,2,4:*", 0 }, { "*", 0 }, { "2:5", 1 }, { "UID 300", 1 },
		{ "UID 301:*", 0 }, { "UID 1:299", 0 }, { "UID 600:*", 0 }, { "UID *:250", 1 },
		{ "LARGER 2047", 1 }, { "LARGER 2048", 0 }, { "SMALLER 2049", 1 },
		{ "SMALLER 2048", 0 },
		/* Internal date: 1 April in its own zone, 31 March in UTC. */
		{ "ON 1-Apr-2024", 1 }, { "ON 31-Mar-2024", 0 }, { "SINCE 1-Apr-2024", 1 },
		{ "BEFORE 1-Apr-2024", 0 }, { "BEFORE 2-Apr-2024", 1 }, { "SINCE 2-Apr-2024", 0 },
		/* Date: header: 31 March -0200 (1 April 01:30 UTC). */
		{ "SENTON 31-Mar-2024", 1 }, { "SENTBEFORE 1-Apr-2024", 1 },
		{ "SENTSINCE 1-Apr-2024", 0 },
		/* now - internal = 72200 seconds */
		{ "OLDER 72200", 1 }, { "OLDER 72201", 0 }, { "YOUNGER 72201", 1 },
		{ "YOUNGER 72200", 0 },
		{ "KEYWORD $work", 1 }, { "UNKEYWORD $Work", 0 }, { "KEYWORD $Junk", 0 },
		{ "SUBJECT \"gr\xc3\x9c\xc3\x9f" "e\"", 1 }, { "SUBJECT \"k\xc3\xb6ln\"", 1 },
		{ "SUBJECT koeln", 0 }, { "FROM ALICE@EXAMPLE", 1 }, { "TO alice", 0 },
		{ "HEADER From \"\"", 1 }, { "HEADER X-Missing \"\"", 0 },
		{ "BODY \"bob,\"", 1 }, { "BODY \"\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 meet\"", 1 },
		{ "BODY KOLN", 0 }, { "TEXT \"k\xc3\xb6ln\"", 1 }, { "BODY \"\"", 1 },
		{ "OR UNSEEN FROM alice", 1 }, { "OR UNSEEN FROM bob", 0 }, { "NOT SEEN", 0 },
		{ "NOT (UNSEEN OR DELETED DRAFT)", 1 }, { "(SEEN (FLAGGED (RECENT)))", 1 },
		{ "NOT NOT NOT ALL", 0 }, { "SEEN NOT FLAGGED", 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		CHECK(search(cases[i].keys) == cases[i].want, "SEARCH %s -> %d", cases[i].keys,
		    cases[i].want);
	}
}

static void
test_order(void)
{
	text_calls = 0;
	CHECK(search("BODY noon UNSEEN") == 0 && text_calls == 0, "cheap key decides first");
	CHECK(search("OR BODY noon SEEN") == 1 && text_calls == 0, "OR tries the cheap side");
	CHECK(search("BODY noon SEEN") == 1 && text_calls == 1, "content read when needed");
	CHECK(!imap_search_needs_content(args.search.key->a->next) &&
	    imap_search_needs_content(args.search.key), "needs_content");
	fail_accessors = 1;
	CHECK(search("BODY noon") == -1 && search("SUBJECT x") == -1 &&
	    search("SENTON 1-Jan-2024") == -1 && search("KEYWORD x") == -1,
	    "accessor errors reach the caller");
	CHECK(search("SEEN") == 1, "no accessor, no error");
	fail_accessors = 0;
}

static void
test_matcher(void)
{
	static const char hay[] = "xxaabaabaaabx";

	imap_match_init(&m, "aabaaab", 7);
	CHECK(imap_match_feed(&m, hay, sizeof(hay) - 1), "KMP border case");
	imap_match_init(&m, "aabaaac", 7);
	CHECK(!imap_match_feed(&m, hay, sizeof(hay) - 1), "near miss");
	imap_match_init(&m, "abc", 3);
	imap_match_feed(&m, "ab", 2);
	imap_match_reset(&m);
	CHECK(!imap_match_feed(&m, "c", 1), "reset forgets the partial match");
	imap_match_init(&m, "\xc3\x84PFEL", 6);
	CHECK(imap_match_feed(&m, "rote \xc3\xa4pfel", 12), "Latin-1 folding");
	imap_match_init(&m, "\xc5\x81\xc3\xb3" "d\xc5\xba", 7);
	CHECK(imap_match_feed(&m, "\xc5\x82\xc3\x93" "D\xc5\xb9", 7), "Latin Extended-A folding");
	imap_match_init(&m, "\xce\xa3\xce\x9f\xce\xa6", 6);
	CHECK(imap_match_feed(&m, "\xcf\x83\xce\xbf\xcf\x86", 6), "Greek folding");
	imap_match_init(&m, "\xff" "ab", 3);
	CHECK(imap_match_feed(&m, "z\xff" "AB", 4), "raw bytes match themselves");
	imap_match_init(&m, "ab", 2);
	CHECK(!imap_match_feed(&m, "a\xe6" "b", 3), "broken sequence is not skipped");
	imap_match_init(&m, "", 0);
	CHECK(!m.found && imap_match_feed(&m, "", 0), "empty needle matches at first feed");
}

/* Naive reference: does hay contain needle, ASCII case-insensitive? */
static int
naive(const char *hay, size_t hl, const char *nd, size_t nl)
{
	for (size_t i = 0; i + nl <= hl; i++) {
		size_t j = 0;

		while (j < nl && (hay[i + j] | 0x20) == (nd[j] | 0x20)) {
			j++;
		}
		if (j == nl) {
			return 1;
		}
	}
	return 0;
}

/* ASCII needles against random text fed in random pieces, as the bytewise search sees it. */
static void
test_matcher_blocks(void)
{
	static const char abc[] = "abAB";
	char hay[200], nd[12];
	unsigned seed = 12345;
	int agree = 0, found = 0, rounds = 4000;

	for (int r = 0; r < rounds; r++) {
		size_t hl = (seed = seed * 1103515245 + 12345) % sizeof(hay), nl;
		size_t at = 0;
		int got = 0;

		for (size_t i = 0; i < hl; i++) {
			hay[i] = abc[(seed = seed * 1103515245 + 12345) >> 16 & 3];
		}
		nl = 1 + ((seed = seed * 1103515245 + 12345) >> 16) % (sizeof(nd) - 1);
		for (size_t i = 0; i < nl; i++) {
			nd[i] = abc[(seed = seed * 1103515245 + 12345) >> 16 & 3];
		}
		imap_match_init(&m, nd, nl);
		while (at < hl && !got) {
			size_t k = 1 + ((seed = seed * 1103515245 + 12345) >> 16) % 7;

			k = k > hl - at ? hl - at : k;
			got = imap_match_feed(&m, hay + at, k);
			at += k;
		}
		agree += got == naive(hay, hl, nd, nl);
		found += got;
	}
	CHECK(agree == rounds && found > rounds / 10 && found < rounds - rounds / 10,
	    "bytewise search agrees with a naive one over split feeds (%d of %d, %d found)",
	    agree, rounds, found);
	imap_match_init(&m, "Needle", 6);
	CHECK(!imap_match_feed(&m, "a ne", 4) && !imap_match_feed(&m, "E", 1) &&
	    imap_match_feed(&m, "dLe b", 5), "a match across three feeds");
	imap_match_init(&m, "Needle", 6);
	imap_match_feed(&m, "a nee", 5);
	imap_match_reset(&m);
	CHECK(!imap_match_feed(&m, "dle", 3), "reset forgets the bytes kept");
}

static void
test_dates(void)
{
	static const struct {
		const char *s;
		int64_t t;
		int zone;
	} ok[] = {
		{ "Tue, 1 Jul 2003 10:52:37 +0200", 1057049557, 120 },
		{ "1 Jul 03 10:52 GMT", 1057056720, 0 },
		{ "Tue,  1 Jul 2003 10:52:37 +0200 (CEST)", 1057049557, 120 },
		{ "Tue, 01 Jul 2003 03:52:37 PDT", 1057056757, -420 },
		{ "1 Jul 103 10:52:37 -0000", 1057056757, 0 },
		{ "Tue (day), 1 (of) Jul 2003 10:52:37", 1057056757, 0 },
	};
	static const char *const bad[] = {
		"", "garbage", "Tue, 32 Jul 2003 10:52:37 +0200", "1 Foo 2003 10:52 +0000",
		"1 Jul 2003 25:00 +0000", "1 Jul 2003 10:52 +02", "1 Jul 2003",
	};
	struct imap_time t;
	size_t i;

	for (i = 0; i < ARRAY_LEN(ok); i++) {
		CHECK(imap_rfc5322_date(ok[i].s, strlen(ok[i].s), &t) == 0 && t.t == ok[i].t &&
		    t.zone == ok[i].zone, "date %s", ok[i].s);
	}
	for (i = 0; i < ARRAY_LEN(bad); i++) {
		CHECK(imap_rfc5322_date(bad[i], strlen(bad[i]), &t) < 0, "refuse date \"%s\"",
		    bad[i]);
	}
}

int
main(void)
{
	test_keys();
	test_order();
	test_matcher();
	test_matcher_blocks();
	test_dates();
	return t_done();
}
