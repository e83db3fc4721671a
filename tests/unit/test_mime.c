/*
 * MIME structure: exact ENVELOPE/BODYSTRUCTURE text for hand-made messages, sections and
 * header-field copies, and the part tree of a corpus (Python's email test messages and
 * tests/fixtures/mime) against what Python's email package says (tests/mime_ref.py).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_envelope.h"
#include "mbox.h"
#include "mime.h"
#include "params.h"
#include "store.h"
#include "util.h"
#include "t.h"

/* The MIME source over a reader (one in use at a time). */
static const struct mime_src *
src_of(struct mbox_reader *r)
{
	static struct mime_src src;

	src = store_msg_src(r);
	return &src;
}

#define PYDATA "/usr/lib/python3.11/test/test_email/data"
#define FIXDIR "tests/fixtures/mime"

/* A message stored in a fresh unlinked mbox, ready to read. */
struct stored {
	int fd;
	struct mbox_entry e;
};

static int
tmpfd(void)
{
	char path[] = "/tmp/test_mime.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	return fd;
}

static int
first_entry(void *ctx, const struct mbox_entry *e)
{
	*(struct mbox_entry *)ctx = *e;
	return 1;
}

static void
store_msg(const char *data, size_t n, struct stored *s)
{
	struct mbox_in in = { tmpfd(), data, n };	/* all of it read ahead, then EOF */
	uint64_t written;
	struct mbox_scan_stats st;

	s->fd = tmpfd();
	if (mbox_write_message(s->fd, &in, "a@example.org", 0, 1 << 30, &written) != 0 ||
	    mbox_scan(s->fd, 0, written, 1, first_entry, &s->e, &st) != 1) {
		fprintf(stderr, "cannot store message\n");
		exit(2);
	}
	close(in.fd);
}

static void
parse_stored(struct stored *s, struct mime_msg *m)
{
	struct mbox_reader r;

	mbox_reader_init(&r, s->fd, &s->e, 1);
	if (mime_parse(m, src_of(&r), NULL, NULL) != 0) {
		fprintf(stderr, "parse failed\n");
		exit(2);
	}
}

static char *
text_of(const struct mime_msg *m, int what)
{
	struct imap_buf b;
	static char out[65536];

	imap_buf_init(&b, MIME_WIRE_MAX);
	if (what == 0) {
		imap_envelope(&b, m, 0);
	} else {
		imap_bodystructure(&b, m, 0, what == 2);
	}
	out[0] = '\0';
	if (!b.err && b.len < sizeof(out)) {
		memcpy(out, b.p, b.len);
		out[b.len] = '\0';
	}
	imap_buf_free(&b);
	return out;
}

struct strsink {
	char buf[65536];
	size_t n;
};

static int
to_str(void *ctx, const char *p, size_t n)
{
	struct strsink *s = ctx;

	if (s->n + n >= sizeof(s->buf)) {
		return -1;
	}
	memcpy(s->buf + s->n, p, n);
	s->n += n;
	s->buf[s->n] = '\0';
	return 0;
}

/* BODY[section] text of a stored message, or "(none)". */
static const char *
section(struct stored *s, const struct mime_msg *m, const uint32_t *path, size_t depth,
    enum mime_sect kind)
{
	static struct strsink out;
	struct mime_span sp[MIME_PARTS_MAX];
	struct mime_range rg;
	struct mbox_reader r;

	for (uint16_t i = 0; i < m->nparts; i++) {
		sp[i] = m->parts[i].s;
	}
	out.n = 0;
	out.buf[0] = '\0';
	if (mime_section(sp, m->nparts, path, depth, kind, &rg) != 0) {
		return "(none)";
	}
	mbox_reader_init(&r, s->fd, &s->e, 1);
	if (mime_copy_range(src_of(&r), rg, to_str, &out) != 0) {
		return "(error)";
	}
	return out.buf;
}

#define SIMPLE \
	"From: \"Doe, John\" <john@example.org>\n" \
	"To: a@b.example, Group: c@d.example, <e@f.example>;, =?utf-8?q?J=C3=BCrgen?= <j@x>\n" \
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n" \
	"  and more\n" \
	"Date: Sat, 28 Nov 2026 10:00:00 +0000\n" \
	"Message-ID: <1@example.org>\n" \
	"\n" \
	"Hello\n" \
	"world\n"

static void
buf_out(void *ctx, const char *s, size_t n)
{
	imap_buf_add(ctx, s, n);
}

/*
 * Invariants any message must satisfy, whatever Python says; BODY derived from the
 * BODYSTRUCTURE text (as the structure cache does) is BODY built directly.
 */
static int
sane(const struct mime_msg *m)
{
	struct imap_buf b, body, derived;
	int ok = m->size > 0;

	for (uint16_t p = 1; p < m->nparts && ok; p++) {
		const struct mime_span *c = &m->parts[p].s, *par = &m->parts[c->parent].s;

		ok = c->parent < p && c->hdr_off >= par->body_off && c->hdr_off <= c->body_off &&
		    c->body_off + c->body_len <= par->body_off + par->body_len;
	}
	imap_buf_init(&b, MIME_WIRE_MAX);
	imap_buf_init(&body, MIME_WIRE_MAX);
	imap_buf_init(&derived, MIME_WIRE_MAX);
	ok = ok && imap_bodystructure(&b, m, 0, 1) == 0 && imap_bodystructure(&body, m, 0, 0) == 0 &&
	    imap_body_of(b.p, b.len, buf_out, &derived) == 0 && derived.len == body.len &&
	    memcmp(derived.p, body.p, body.len) == 0 && imap_envelope(&b, m, 0) == 0;
	imap_buf_free(&b);
	imap_buf_free(&body);
	imap_buf_free(&derived);
	return ok;
}

static void
test_simple(void)
{
	struct stored s;
	struct mime_msg m;

	store_msg(SIMPLE, strlen(SIMPLE), &s);
	parse_stored(&s, &m);
	CHECK(m.nparts == 1 && m.size == s.e.wire_size, "simple: one part, size %u", m.size);
	CHECK(strcmp(text_of(&m, 0),
	    "(\"Sat, 28 Nov 2026 10:00:00 +0000\" \"=?utf-8?q?Gr=C3=BC=C3=9Fe?=  and more\" "
	    "((\"Doe, John\" NIL \"john\" \"example.org\")) "
	    "((\"Doe, John\" NIL \"john\" \"example.org\")) "
	    "((\"Doe, John\" NIL \"john\" \"example.org\")) "
	    "((NIL NIL \"a\" \"b.example\")(NIL NIL \"Group\" NIL)(NIL NIL \"c\" \"d.example\")"
	    "(NIL NIL \"e\" \"f.example\")(NIL NIL NIL NIL)"
	    "(\"=?utf-8?q?J=C3=BCrgen?=\" NIL \"j\" \"x\")) "
	    "NIL NIL NIL \"<1@example.org>\")") == 0, "simple: envelope %s", text_of(&m, 0));
	CHECK(strcmp(text_of(&m, 1),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2)") == 0,
	    "simple: body %s", text_of(&m, 1));
	CHECK(strcmp(text_of(&m, 2),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 14 2 NIL NIL NIL NIL)")
	    == 0, "simple: bodystructure %s", text_of(&m, 2));
	CHECK(strcmp(section(&s, &m, NULL, 0, MIME_SECT_TEXT), "Hello\r\nworld\r\n") == 0,
	    "simple: TEXT");
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 1 }, 1, MIME_SECT_PART),
	    "Hello\r\nworld\r\n") == 0, "simple: BODY[1] is the body");
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 2 }, 1, MIME_SECT_PART), "(none)") == 0,
	    "simple: BODY[2] does not exist");
	CHECK(strlen(section(&s, &m, NULL, 0, MIME_SECT_PART)) == s.e.wire_size,
	    "simple: BODY[] is wire_size octets");
	mime_msg_free(&m);
	close(s.fd);
}

#define NESTED \
	"From: a@example.org\n" \
	"Subject: nested\n" \
	"MIME-Version: 1.0\n" \
	"Content-Type: multipart/mixed; boundary=\"outer\"\n" \
	"\n" \
	"preamble\n" \
	"--outer\n" \
	"Content-Type: text/plain; charset=utf-8\n" \
	"Content-Transfer-Encoding: quoted-printable\n" \
	"\n" \
	"caf=C3=A9\n" \
	"--outer\n" \
	"Content-Type: message/rfc822\n" \
	"Content-Disposition: attachment; filename=\"m.eml\"\n" \
	"\n" \
	"From: b@example.org\n" \
	"Subject: inner\n" \
	"Content-Type: multipart/alternative; boundary=inner\n" \
	"\n" \
	"--inner\n" \
	"\n" \
	"plain\n" \
	"--inner\n" \
	"Content-Type: text/html\n" \
	"\n" \
	"<p>html</p>\n" \
	"--inner--\n" \
	"--outer--\n" \
	"epilogue\n"

static void
test_nested(void)
{
	struct stored s;
	struct mime_msg m;
	struct strsink out;
	struct mbox_reader r;
	struct mime_range hdr;
	struct mime_span sp[MIME_PARTS_MAX];
	const char *names[] = { "subject", "FROM" };

	store_msg(NESTED, strlen(NESTED), &s);
	parse_stored(&s, &m);
	CHECK(m.nparts == 6, "nested: 6 parts (%u)", m.nparts);
	CHECK(strcmp(text_of(&m, 1),
	    "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" 9 1)"
	    "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 168 "
	    "(NIL \"inner\" ((NIL NIL \"b\" \"example.org\")) ((NIL NIL \"b\" \"example.org\")) "
	    "((NIL NIL \"b\" \"example.org\")) NIL NIL NIL NIL NIL) "
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1)"
	    "(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 11 1) \"alternative\") 12) "
	    "\"mixed\")") == 0,
	    "nested: body %s", text_of(&m, 1));
	CHECK(strstr(text_of(&m, 2), "\"7bit\" 168 ") != NULL &&
	    strstr(text_of(&m, 2), "(\"attachment\" (\"filename\" \"m.eml\")) NIL NIL) \"mixed\" "
	    "(\"boundary\" \"outer\") NIL NIL NIL)") != NULL,
	    "nested: extension data %s", text_of(&m, 2));
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 1 }, 1, MIME_SECT_PART), "caf=C3=A9") == 0,
	    "nested: BODY[1]");
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 1 }, 1, MIME_SECT_MIME),
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n") == 0, "nested: BODY[1.MIME]");
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 2 }, 1, MIME_SECT_HEADER),
	    "From: b@example.org\r\nSubject: inner\r\n"
	    "Content-Type: multipart/alternative; boundary=inner\r\n\r\n") == 0,
	    "nested: BODY[2.HEADER]");
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 2, 2 }, 2, MIME_SECT_PART),
	    "<p>html</p>") == 0, "nested: BODY[2.2]");
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 2, 1 }, 2, MIME_SECT_PART), "plain") == 0,
	    "nested: BODY[2.1]");
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 1 }, 1, MIME_SECT_HEADER), "(none)") == 0,
	    "nested: BODY[1.HEADER] of a text part does not exist");
	CHECK(strcmp(section(&s, &m, (const uint32_t[]){ 3 }, 1, MIME_SECT_PART), "(none)") == 0,
	    "nested: BODY[3] does not exist");
	CHECK(strlen(section(&s, &m, (const uint32_t[]){ 2 }, 1, MIME_SECT_PART)) == 168,
	    "nested: BODY[2] is the size BODYSTRUCTURE gives");
	for (uint16_t i = 0; i < m.nparts; i++) {
		sp[i] = m.parts[i].s;
	}
	mime_section(sp, m.nparts, NULL, 0, MIME_SECT_HEADER, &hdr);
	out.n = 0;
	mbox_reader_init(&r, s.fd, &s.e, 1);
	CHECK(mime_copy_fields(src_of(&r), hdr, names, 2, 0, to_str, &out) == 0 &&
	    strcmp(out.buf, "From: a@example.org\r\nSubject: nested\r\n\r\n") == 0,
	    "nested: HEADER.FIELDS (subject FROM)");
	out.n = 0;
	mbox_reader_init(&r, s.fd, &s.e, 1);
	CHECK(mime_copy_fields(src_of(&r), hdr, names, 2, 1, to_str, &out) == 0 &&
	    strcmp(out.buf, "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n") == 0,
	    "nested: HEADER.FIELDS.NOT (subject FROM)");
	mime_msg_free(&m);
	close(s.fd);
}

static void
test_words(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "=?utf-8?q?Gr=C3=BC=C3=9Fe?= =?ISO-8859-1?Q?J=FCrgen?=", "Gr\xc3\xbc\xc3\x9f" "eJ\xc3\xbcrgen" },
		{ "a =?utf-8?b?w6k=?= b", "a \xc3\xa9 b" },
		{ "=?utf-8?q?a_b?=  c", "a b  c" },
		{ "plain  text", "plain  text" },
		{ "=?broken", "=?broken" },
		{ "=?x?z?y?=", "=?x?z?y?=" },
		{ "=?utf-8*en?Q?hi?=", "hi" },
		{ "", "" },
	};
	char out[256];

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		size_t n = mime_decode_words(cases[i].in, strlen(cases[i].in), out, sizeof(out) - 1);

		out[n] = '\0';
		CHECK(strcmp(out, cases[i].out) == 0, "encoded words \"%s\" -> \"%s\"", cases[i].in,
		    out);
	}
	CHECK(mime_decode_words("=?utf-8?q?abcdef?=", 18, out, 3) == 3, "decoding stops at cap");
}

#define WALK \
	"From: =?iso-8859-1?q?Andr=E9?= <a@example.org>\n" \
	"Subject: long\n" \
	" folded =?utf-8?b?w6lsw6k=?=\n" \
	"Content-Type: multipart/mixed; boundary=zz\n" \
	"\n" \
	"--zz\n" \
	"Content-Type: text/plain; charset=iso-8859-1\n" \
	"Content-Transfer-Encoding: quoted-printable\n" \
	"\n" \
	"caf=E9 cr=\n" \
	"=E8me\n" \
	"--zz\n" \
	"Content-Type: text/plain; charset=utf-8\n" \
	"Content-Transfer-Encoding: base64\n" \
	"\n" \
	"bGluZSBvbmUKbGluZSB0d28K\n" \
	"--zz\n" \
	"Content-Type: image/png\n" \
	"Content-Transfer-Encoding: base64\n" \
	"\n" \
	"c2VjcmV0\n" \
	"--zz\n" \
	"Content-Type: message/rfc822\n" \
	"Content-Disposition: attachment; filename=\"forwarded.eml\"\n" \
	"\n" \
	"Subject: inner subject\n" \
	"\n" \
	"inner body\n" \
	"--zz--\n"

static int
walk_hdr(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
	struct strsink *s = ctx;

	return to_str(s, "H:", 2) || to_str(s, name, nlen) || to_str(s, "=", 1) ||
	    to_str(s, val, vlen) || to_str(s, "\n", 1);
}

static int
walk_text(void *ctx, const char *p, size_t n)
{
	return to_str(ctx, "T:", 2) || to_str(ctx, p, n) || to_str(ctx, "\n", 1);
}

static int
walk_stop(void *ctx, const char *p, size_t n)
{
	(void)ctx;
	return memmem(p, n, "two", 3) != NULL ? 7 : 0;
}

static void
test_walk(void)
{
	static struct strsink out;
	struct stored s;
	struct mbox_reader r;

	store_msg(WALK, strlen(WALK), &s);
	mbox_reader_init(&r, s.fd, &s.e, 1);
	out.n = 0;
	CHECK(mime_search_walk(NULL, src_of(&r), walk_hdr, walk_text, &out) == 0, "walk: runs to the end");
	CHECK(strstr(out.buf, "H:From=Andr\xc3\xa9 <a@example.org>\n") != NULL,
	    "walk: Latin-1 encoded word in From");
	CHECK(strstr(out.buf, "H:Subject=long folded \xc3\xa9l\xc3\xa9\n") != NULL,
	    "walk: folded Subject with a base64 word");
	CHECK(strstr(out.buf, "T:caf\xc3\xa9 cr\xc3\xa8me\n") != NULL,
	    "walk: quoted-printable with a soft break, Latin-1 to UTF-8");
	CHECK(strstr(out.buf, "T:line oneline two\n") != NULL,
	    "walk: base64 text, lines joined into one piece");
	CHECK(strstr(out.buf, "secret") == NULL && strstr(out.buf, "c2VjcmV0") == NULL,
	    "walk: non-text parts are not text");
	CHECK(strstr(out.buf, "image/png") == NULL && strstr(out.buf, "forwarded.eml") == NULL &&
	    strstr(out.buf, "Content-Transfer-Encoding") == NULL,
	    "walk: MIME part headers are not text");
	CHECK(strstr(out.buf, "T:Subject: inner subject\n") != NULL &&
	    strstr(out.buf, "T:inner body\n") != NULL,
	    "walk: an enclosed message's header and body are text");
	mbox_reader_init(&r, s.fd, &s.e, 1);
	out.n = 0;
	CHECK(mime_search_walk(NULL, src_of(&r), walk_hdr, NULL, &out) == MIME_WALK_DONE &&
	    strstr(out.buf, "H:Subject=long folded") != NULL,
	    "walk: header fields only, it stops at the end of the header");
	mbox_reader_init(&r, s.fd, &s.e, 1);
	CHECK(mime_search_walk(NULL, src_of(&r), NULL, walk_stop, NULL) == 7, "walk: a callback stops it");
	close(s.fd);
}

/* ENVELOPE's To list for a To header value. */
static const char *
to_list(const char *to)
{
	static char msg[4096], out[4096];
	struct stored s;
	struct mime_msg m;
	const char *env, *p;
	int k = 0;

	str_fmt(msg, sizeof(msg), "From: f@x.example\nTo: %s\n\nb\n", to);
	store_msg(msg, strlen(msg), &s);
	parse_stored(&s, &m);
	env = text_of(&m, 0);
	/* skip date, subject, from, sender, reply-to: the To list follows the 5th space at depth 1 */
	for (p = env + 1; *p != '\0' && k < 5; p++) {
		int depth = 0;

		for (; *p != '\0' && (depth > 0 || *p != ' '); p++) {
			depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
			if (*p == '"') {
				for (p++; *p != '\0' && *p != '"'; p++) {
					p += *p == '\\';
				}
			}
		}
		k++;
	}
	str_copy(out, sizeof(out), p);
	if ((p = strstr(out, " NIL NIL NIL NIL)")) != NULL) {
		out[p - out] = '\0';
	}
	mime_msg_free(&m);
	close(s.fd);
	return out;
}

static void
test_addresses(void)
{
	static const struct {
		const char *to, *list;
	} cases[] = {
		{ "undisclosed-recipients:;", "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))" },
		{ "<@a.example,@b.example:c@d.example>",
		    "((NIL \"@a.example,@b.example\" \"c\" \"d.example\"))" },
		/* the old form: a comment after the address is the personal name */
		{ "a@b.example (Comment Name)", "((\"Comment Name\" NIL \"a\" \"b.example\"))" },
		{ "a@b.example (A \\(x\\)) (second), c@d.example (C)",
		    "((\"A (x)\" NIL \"a\" \"b.example\")(\"C\" NIL \"c\" \"d.example\"))" },
		{ "<user (comment)@ (comment) domain.org>", "((NIL NIL \"user\" \"domain.org\"))" },
		{ "Name <n@x.example> (not a name)", "((\"Name\" NIL \"n\" \"x.example\"))" },
		/* repeated To fields are one list */
		{ "a@x.example\nTo: B <b@y.example>",
		    "((NIL NIL \"a\" \"x.example\")(\"B\" NIL \"b\" \"y.example\"))" },
		{ "\"q \\\" d\" <q@x.example>", "((\"q \\\" d\" NIL \"q\" \"x.example\"))" },
		{ "Joe Q. Public <jqp@x.example>", "((\"Joe Q. Public\" NIL \"jqp\" \"x.example\"))" },
		{ "localonly", "((NIL NIL \"localonly\" \"\"))" },
		{ "", "NIL" },
		{ ",,,", "NIL" },
		{ "a@x.example,, b@y.example", "((NIL NIL \"a\" \"x.example\")(NIL NIL \"b\" \"y.example\"))" },
		{ "<broken@x.example", "((NIL NIL \"broken\" \"x.example\"))" },
		{ "G: ;", "((NIL NIL \"G\" NIL)(NIL NIL NIL NIL))" },
		{ ": x@y", "((NIL NIL \"\" NIL)(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL))" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *got = to_list(cases[i].to);

		CHECK(strcmp(got, cases[i].list) == 0, "address list '%s' -> %s", cases[i].to, got);
	}
}

/* BODYSTRUCTURE (without extensions) of a one-part message with this Content-Type. */
static const char *
body_of(const char *ctype)
{
	static char msg[4096], out[4096];
	struct stored s;
	struct mime_msg m;

	str_fmt(msg, sizeof(msg), "From: f@x.example\nContent-Type: %s\n\nb\n", ctype);
	store_msg(msg, strlen(msg), &s);
	parse_stored(&s, &m);
	str_copy(out, sizeof(out), text_of(&m, 1));
	mime_msg_free(&m);
	close(s.fd);
	return out;
}

static void
test_params(void)
{
	static const struct {
		const char *ctype, *params;
	} cases[] = {
		/* RFC 2045 5.2 / RFC 2046 4.1.2: text without a charset is us-ascii */
		{ "text/plain", "(\"charset\" \"us-ascii\")" },
		{ "text/plain; format=flowed", "(\"format\" \"flowed\" \"charset\" \"us-ascii\")" },
		{ "text/html; charset=utf-8", "(\"charset\" \"utf-8\")" },
		{ "application/pdf", "NIL" },
		/* RFC 2231: continuations joined, %XX decoded, charset kept in an RFC 2047 word */
		{ "application/pdf; name*0=\"long-\"; name*1=\"name.pdf\"",
		    "(\"name\" \"long-name.pdf\")" },
		{ "application/pdf; name*=utf-8''r%C3%A9sum%C3%A9.pdf",
		    "(\"name\" \"=?utf-8?Q?r=C3=A9sum=C3=A9.pdf?=\")" },
		{ "application/pdf; name*1*=%E9.pdf; name*0*=iso-8859-1'fr'caf; x=1",
		    "(\"name\" \"=?iso-8859-1?Q?caf=E9.pdf?=\" \"x\" \"1\")" },
		{ "application/pdf; name*=us-ascii''a%20b.pdf", "(\"name\" \"a b.pdf\")" },
		/* a plain parameter beside an extended one of the same name wins */
		{ "application/pdf; name=\"plain.pdf\"; name*=utf-8''x.pdf",
		    "(\"name\" \"plain.pdf\")" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *got = body_of(cases[i].ctype), *p = got;

		/* the parameter list follows type and subtype */
		for (int k = 0; k < 3 && p != NULL; k++) {
			p = strchr(p + 1, k < 2 ? '"' : ' ');
			p = p != NULL && k < 2 ? strchr(p + 1, '"') : p;
		}
		CHECK(p != NULL && strncmp(p + 1, cases[i].params, strlen(cases[i].params)) == 0 &&
		    p[1 + strlen(cases[i].params)] == ' ',
		    "parameters of '%s': %s", cases[i].ctype, got);
	}
}

/* Build a message by repeating a piece n times between head and tail. */
static char *
repeat(const char *head, const char *fmt, int n, const char *tail, size_t *len)
{
	size_t cap = strlen(head) + strlen(tail) + (size_t)n * (strlen(fmt) + 16) + 1, at;
	char *b = malloc(cap);

	at = (size_t)str_fmt(b, cap, "%s", head);
	for (int i = 0; i < n; i++) {
		at += (size_t)str_fmt(b + at, cap - at, fmt, i, i);
	}
	at += (size_t)str_fmt(b + at, cap - at, "%s", tail);
	*len = at;
	return b;
}

static void
check_bomb(const char *what, char *data, size_t n, unsigned want_parts)
{
	struct stored s;
	struct mime_msg m;
	unsigned depth = 0;

	store_msg(data, n, &s);
	free(data);
	parse_stored(&s, &m);
	for (uint16_t p = 0; p < m.nparts; p++) {
		unsigned d = 0;

		for (uint16_t a = p; m.parts[a].s.parent != MIME_NONE; a = m.parts[a].s.parent) {
			d++;
		}
		depth = d > depth ? d : depth;
	}
	CHECK(m.truncated && depth < MIME_DEPTH_MAX && m.nparts <= MIME_PARTS_MAX &&
	    (want_parts == 0 || m.nparts == want_parts) && m.size == s.e.wire_size && sane(&m),
	    "%s: %u parts, depth %u, still described", what, m.nparts, depth);
	mime_msg_free(&m);
	close(s.fd);
}

static void
test_limits(void)
{
	size_t n;
	char *d;
	struct stored s;
	struct mime_msg m;

	d = repeat("From: a@x\n", "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", 10000,
	    "\ntext\n", &n);
	check_bomb("10,000 nested multiparts", d, n, 0);
	d = repeat("From: a@x\n", "Content-Type: message/rfc822\n\nSubject: %d%d\n", 10000,
	    "\ntext\n", &n);
	check_bomb("10,000 nested messages", d, n, 0);
	d = repeat("Content-Type: multipart/mixed; boundary=z\n\n", "--z\nX-N: %d%d\n\nx\n", 5000,
	    "--z--\n", &n);
	check_bomb("5,000 parts", d, n, MIME_PARTS_MAX);

	d = repeat("From: a@x\nSubject: ", "%d%d", 20000, "\n\nbody", &n);
	store_msg(d, n, &s);
	free(d);
	parse_stored(&s, &m);
	CHECK(m.truncated && strlen(mime_field(&m, 0, MIME_F_SUBJECT)) <= MIME_FIELD_MAX &&
	    strstr(text_of(&m, 0), "{") != NULL && m.parts[0].lines == 1 &&
	    m.parts[0].s.body_len == 6, "a 150 KB Subject is cut and sent as a literal");
	mime_msg_free(&m);
	close(s.fd);

	d = repeat("Subject: a \"q\" and \x80\n\n", "%d%d", 100000, "", &n);
	store_msg(d, n, &s);
	free(d);
	parse_stored(&s, &m);
	CHECK(strncmp(text_of(&m, 0), "(NIL {11}\r\na \"q\" and \x80 NIL", 25) == 0,
	    "8-bit Subject as a literal, quotes kept");
	CHECK(m.parts[0].lines == 1 && m.parts[0].s.body_len == s.e.wire_size - 24,
	    "a 1 MB line: one line, %u octets", m.parts[0].s.body_len);
	mime_msg_free(&m);
	close(s.fd);
}

/* ---- corpus against Python ---- */

/* Our dump in mime_ref.py's format. */
static void
dump_ours(const struct mime_msg *m, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (uint16_t p = 0; p < m->nparts; p++) {
		const struct mime_part *q = &m->parts[p];
		const char *ct = mime_field(m, p, MIME_F_CTYPE);
		char type[64], sub[64];
		size_t i, d = 0;
		int w;

		for (uint16_t a = p; m->parts[a].s.parent != MIME_NONE; a = m->parts[a].s.parent) {
			d++;
		}
		if (ct == NULL || mime_ctype_split(ct, type, sizeof(type), sub, sizeof(sub), &i)) {
			str_copy(type, sizeof(type), q->in_digest ? "message" : "text");
			str_copy(sub, sizeof(sub), q->in_digest ? "rfc822" : "plain");
		}
		if (q->s.kind == MIME_LEAF && p > 0 && q->s.hdr_off == q->s.body_off &&
		    q->s.body_len == 0) {
			continue;	/* Python drops parts with neither header nor body */
		}
		if (q->s.kind == MIME_LEAF && (strcmp(type, "multipart") == 0 ||
		    (strcmp(type, "message") == 0 && strcmp(sub, "rfc822") != 0))) {
			w = str_fmt(out + n, cap - n, "%zu %s/%s -\n", d, type, sub);
		} else if (q->s.kind == MIME_LEAF) {
			w = str_fmt(out + n, cap - n, "%zu %s/%s %u %u\n", d, type, sub, q->s.body_len,
			    q->lines);
		} else {
			w = str_fmt(out + n, cap - n, "%zu %s/%s\n", d, type, sub);
		}
		if (w < 0) {
			return;
		}
		n += (size_t)w;
	}
}

/* One corpus message: our dump, and where its content went for Python. */
struct corpus_item {
	char name[PATH_LEN];
	char tmp[32];
	char *ours;
	int fixture;
};

#define CORPUS_MAX 256

static struct corpus_item items[CORPUS_MAX];
static int nitems;

/* Write the content we stored, LF-terminated, to a file Python will read. */
static int
write_content(struct stored *s, char *path)
{
	int fd = mkstemp(path);
	struct mbox_reader r;
	const char *line;
	size_t len;
	int partial, nl, ok = fd >= 0;

	mbox_reader_init(&r, s->fd, &s->e, 1);
	while (ok && mbox_reader_next(&r, &line, &len, &partial, &nl) == 1) {
		ok = write_all(fd, line, len) == 0 && (!nl || write_all(fd, "\n", 1) == 0);
	}
	if (fd >= 0) {
		close(fd);
	}
	return ok ? 0 : -1;
}

static void
corpus_file(const char *path, int fixture)
{
	static char data[1 << 20], ours[1 << 16];
	struct corpus_item *it = &items[nitems];
	struct stored s;
	struct mime_msg m;
	ssize_t n;
	size_t skip = 0;
	const char *eol;
	FILE *f = fopen(path, "rb");

	if (f == NULL || nitems == CORPUS_MAX) {
		if (f != NULL) {
			fclose(f);
		}
		return;
	}
	n = (ssize_t)fread(data, 1, sizeof(data), f);
	fclose(f);
	if (n <= 0) {
		return;
	}
	/* a leading From_ line is the envelope (Python skips it too), not content */
	if (n > 5 && memcmp(data, "From ", 5) == 0 && (eol = memchr(data, '\n', (size_t)n)) != NULL) {
		skip = (size_t)(eol + 1 - data);
	}
	store_msg(data + skip, (size_t)n - skip, &s);
	parse_stored(&s, &m);
	CHECK(sane(&m), "corpus %s: spans nest, BODYSTRUCTURE and ENVELOPE build, BODY derives", path);
	dump_ours(&m, ours, sizeof(ours));
	str_copy(it->name, sizeof(it->name), path);
	str_copy(it->tmp, sizeof(it->tmp), "/tmp/test_mime_py.XXXXXX");
	if (write_content(&s, it->tmp) == 0 && (it->ours = strdup(ours)) != NULL) {
		it->fixture = fixture;
		nitems++;
	}
	mime_msg_free(&m);
	close(s.fd);
}

static void
corpus_dir(const char *dir, const char *prefix, int fixture)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	char path[PATH_LEN];

	for (int i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    strncmp(ents[i]->d_name, prefix, strlen(prefix)) == 0 &&
		    str_fmt(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) > 0) {
			corpus_file(path, fixture);
		}
		free(ents[i]);
	}
	if (n >= 0) {
		free(ents);
	}
}

/* Run tests/mime_ref.py once over every item; its output, one "== n" line before each. */
static char *
python_dumps(void)
{
	static char cmd[CORPUS_MAX * 40 + 64];
	size_t cap = 1 << 20, n = 0, got;
	char *out = malloc(cap);
	size_t at = (size_t)str_fmt(cmd, sizeof(cmd), "python3 tests/mime_ref.py");
	FILE *p;

	for (int i = 0; i < nitems; i++) {
		at += (size_t)str_fmt(cmd + at, sizeof(cmd) - at, " %s", items[i].tmp);
	}
	p = popen(cmd, "r");
	while (p != NULL && n + 1 < cap && (got = fread(out + n, 1, cap - n - 1, p)) > 0) {
		n += got;
	}
	out[n] = '\0';
	if (p == NULL || pclose(p) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void
test_corpus(void)
{
	int same[2] = { 0, 0 }, total[2] = { 0, 0 };
	char *py, *at;

	corpus_dir(PYDATA, "msg_", 0);
	corpus_dir(FIXDIR, "", 1);
	py = python_dumps();
	at = py;
	for (int i = 0; i < nitems; i++) {
		char *next = at != NULL ? strstr(at + 1, "\n== ") : NULL;
		char *body = at != NULL ? strchr(at, '\n') : NULL;

		if (next != NULL) {
			*++next = '\0';
		}
		total[items[i].fixture]++;
		if (body != NULL && strcmp(body + 1, items[i].ours) == 0) {
			same[items[i].fixture]++;
		} else {
			printf("# %s differs\n# ours:\n%s# python:\n%s", items[i].name, items[i].ours,
			    body != NULL ? body + 1 : "(none)\n");
		}
		if (next != NULL) {
			*next = '=';
		}
		at = next;
		unlink(items[i].tmp);
		free(items[i].ours);
	}
	free(py);
	if (total[0] == 0) {
		printf("# %s missing (tests/deps.sh installs libpython3.11-testsuite)\n", PYDATA);
	}
	CHECK(total[1] > 0 && same[1] == total[1], "fixtures: %d of %d part trees as Python sees them",
	    same[1], total[1]);
	CHECK(total[0] > 0 && same[0] == total[0], "python corpus: %d of %d part trees as Python sees them",
	    same[0], total[0]);
}

int
main(void)
{
	test_simple();
	test_nested();
	test_words();
	test_addresses();
	test_params();
	test_limits();
	test_walk();
	test_corpus();
	return t_done();
}
