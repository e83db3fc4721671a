/*
 * ENVELOPE, BODY and BODYSTRUCTURE wire text (RFC 3501 7.4.2) from a parsed message:
 * RFC 5322 address lists (groups, routes, quoted phrases; comments dropped) and MIME
 * parameters, every string as NIL, a quoted string or a literal. Runs unprivileged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_envelope.h"
#include "imap_string.h"
#include "params.h"
#include "util.h"

void
imap_buf_init(struct imap_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
imap_buf_free(struct imap_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

int
imap_buf_add(struct imap_buf *b, const char *s, size_t n)
{
	if (b->err) {
		return -1;
	}
	if (n > b->max || b->len > b->max - n) {
		b->err = 1;
		return -1;
	}
	if (array_grow(&b->p, &b->cap, b->len + n, 1, 256, b->max) < 0) {
		b->err = 1;
		return -1;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	return 0;
}

static int
imap_buf_str(struct imap_buf *b, const char *s)
{
	return imap_buf_add(b, s, strlen(s));
}

static void
buf_sink(void *ctx, const char *s, size_t n)
{
	(void)imap_buf_add(ctx, s, n);
}

int
imap_buf_nstring(struct imap_buf *b, const char *s, size_t n)
{
	imap_string_nstring(buf_sink, b, s, n);
	return b->err ? -1 : 0;
}

static int
imap_buf_cstr(struct imap_buf *b, const char *s)
{
	return imap_buf_nstring(b, s, s == NULL ? 0 : strlen(s));
}

/* ---- address lists (RFC 5322 3.4, obsolete forms tolerated) ---- */

enum { TK_WORD, TK_QUOTED, TK_SPECIAL };

struct imap_tok {
	int type;
	char c;			/* the special character */
	size_t off, len;	/* word text in the scratch copy */
	size_t coff, clen;	/* text of a comment right after the token (clen 0: none) */
};

struct imap_addrs {
	struct imap_tok *t;
	size_t n, i;
	char *text;		/* unquoted words and comment texts */
	/* the parts of the address being written, each of cap bytes (none is longer than v) */
	char *name, *adl, *local, *host;
	size_t cap;
	imap_addr_fn fn;
	void *ctx;
	int rc;			/* the first nonzero return of fn */
};

/* Index just past the (nested) comment starting at v[j]. */
static size_t
imap_skip_comment(const char *v, size_t len, size_t j)
{
	int depth = 0;

	for (; j < len; j++) {
		if (v[j] == '\\' && j + 1 < len) {
			j++;
		} else if (v[j] == '(') {
			depth++;
		} else if (v[j] == ')' && --depth == 0) {
			break;
		}
	}
	return j + 1;
}

/*
 * Keep the text of the comment at v[j] (outer parentheses and quoting backslashes
 * dropped, NUL-terminated) as the comment of the last token; the index after it.
 */
static size_t
imap_comment(const char *v, size_t len, size_t j, struct imap_addrs *a, size_t *w)
{
	size_t end = imap_skip_comment(v, len, j), stop = end - 1 < len ? end - 1 : len;
	struct imap_tok *t = a->n > 0 ? &a->t[a->n - 1] : NULL;

	if (t == NULL || t->clen > 0) {
		return end;	/* only the first comment after a token can be a name */
	}
	t->coff = *w;
	for (j++; j < stop; j++) {
		if (v[j] == '\\' && j + 1 < stop) {
			j++;
		}
		a->text[(*w)++] = v[j];
	}
	t->clen = *w - t->coff;
	a->text[(*w)++] = '\0';
	return end;
}

/* The specials that separate the parts of an address (RFC 5322 3.2.3, less those of comments). */
static int
imap_addr_special(char c)
{
	return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':';
}

/* Split value v into words, quoted strings and specials; blanks dropped, comments noted. */
static int
imap_tokenize(const char *v, struct imap_addrs *a)
{
	size_t len = strlen(v), j = 0, w = 0;

	a->t = calloc(len + 1, sizeof(*a->t));
	/* words and comments with a NUL after each comment, then the four parts */
	a->text = malloc(6 * (len + 1));
	if (a->t == NULL || a->text == NULL) {
		return -1;
	}
	a->cap = len + 1;
	a->name = a->text + 2 * a->cap;
	a->adl = a->name + a->cap;
	a->local = a->adl + a->cap;
	a->host = a->local + a->cap;
	while (j < len) {
		struct imap_tok *t = &a->t[a->n];
		char c = v[j];

		if (c == '(') {
			j = imap_comment(v, len, j, a, &w);
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			j++;
			continue;
		}
		t->off = w;
		if (imap_addr_special(c)) {
			t->type = TK_SPECIAL;
			t->c = c;
			j++;
		} else if (c == '"') {
			t->type = TK_QUOTED;
			for (j++; j < len && v[j] != '"'; j++) {
				if (v[j] == '\\' && j + 1 < len) {
					j++;
				}
				a->text[w++] = v[j];
			}
			j++;
		} else {
			t->type = TK_WORD;
			for (; j < len && !imap_addr_special(v[j]) && v[j] != '"' && v[j] != '(' &&
			    v[j] != ' ' && v[j] != '\t' && v[j] != '\r' && v[j] != '\n'; j++) {
				a->text[w++] = v[j];
			}
		}
		t->len = w - t->off;
		a->n++;
	}
	return 0;
}

static int
imap_is(const struct imap_addrs *a, size_t i, char c)
{
	return i < a->n && a->t[i].type == TK_SPECIAL && a->t[i].c == c;
}

/* Join the words of tokens [from, to) into out with sep between them. */
static void
imap_join(const struct imap_addrs *a, size_t from, size_t to, const char *sep, char *out,
    size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = from; i < to; i++) {
		const struct imap_tok *t = &a->t[i];
		size_t sl = (i > from && t->type != TK_SPECIAL) ? strlen(sep) : 0;

		if (t->type == TK_SPECIAL) {
			if (n + 1 < cap) {
				out[n++] = t->c;
			}
			continue;
		}
		if (n + sl + t->len >= cap) {
			break;
		}
		memcpy(out + n, sep, sl);
		memcpy(out + n + sl, a->text + t->off, t->len);
		n += sl + t->len;
	}
	out[n] = '\0';
}

static void
imap_addr_out(struct imap_addrs *a, const char *name, const char *adl, const char *mbox,
    const char *host)
{
	if (a->rc == 0) {
		a->rc = a->fn(a->ctx, name, adl, mbox, host);
	}
}

/*
 * Words [from, to) as local-part@domain (no '@': mailbox only, empty host). Without a
 * name, the comment after the last word is one (the old form "user@host (Real Name)").
 */
static void
imap_addr_spec(struct imap_addrs *a, size_t from, size_t to, const char *name,
    const char *adl)
{
	char *local = a->local, *host = a->host;
	size_t at = from;

	while (at < to && !imap_is(a, at, '@')) {
		at++;
	}
	imap_join(a, from, at, "", local, a->cap);
	imap_join(a, at < to ? at + 1 : to, to, "", host, a->cap);
	if (name == NULL && to > from && a->t[to - 1].clen > 0) {
		name = a->text + a->t[to - 1].coff;
	}
	if (local[0] == '\0' && host[0] == '\0' && (name == NULL || name[0] == '\0')) {
		return;
	}
	imap_addr_out(a, name != NULL && name[0] != '\0' ? name : NULL,
	    adl != NULL && adl[0] != '\0' ? adl : NULL, local, host);
}

/* One mailbox or group member at a->i; stops at ',' ';' or the end. */
static void
imap_mailbox(struct imap_addrs *a, int in_group)
{
	char *name = a->name, *adl = a->adl;
	size_t s = a->i, j = a->i;

	while (j < a->n && !imap_is(a, j, '<') && !imap_is(a, j, ',') &&
	    !imap_is(a, j, ';') && !(imap_is(a, j, ':') && !in_group)) {
		j++;
	}
	if (!imap_is(a, j, '<')) {
		imap_addr_spec(a, s, j, NULL, NULL);
		a->i = j;
		return;
	}
	imap_join(a, s, j, " ", name, a->cap);
	s = ++j;
	adl[0] = '\0';
	while (j < a->n && !imap_is(a, j, '>')) {
		if (imap_is(a, j, ':')) {
			/* obsolete source route "@a,@b:" before the address */
			imap_join(a, s, j, "", adl, a->cap);
			s = j + 1;
		}
		j++;
	}
	imap_addr_spec(a, s, j, name, adl);
	/* anything after '>' up to the next separator is junk */
	while (j < a->n && !imap_is(a, j, ',') && !imap_is(a, j, ';')) {
		j++;
	}
	a->i = j;
}

/* Is the address at a->i a group ("name:")? 1 with its ':' index in *colon, else 0. */
static int
imap_group_at(const struct imap_addrs *a, size_t *colon)
{
	for (size_t j = a->i; j < a->n; j++) {
		if (a->t[j].type == TK_SPECIAL) {
			*colon = j;
			return a->t[j].c == ':';
		}
	}
	return 0;
}

static void
imap_group(struct imap_addrs *a, size_t colon)
{
	/* written before the members, so their name may reuse the buffer */
	imap_join(a, a->i, colon, " ", a->name, a->cap);
	imap_addr_out(a, NULL, NULL, a->name, NULL);
	a->i = colon + 1;
	while (a->i < a->n && !imap_is(a, a->i, ';')) {
		if (imap_is(a, a->i, ',')) {
			a->i++;
			continue;
		}
		imap_mailbox(a, 1);
	}
	a->i += a->i < a->n;
	imap_addr_out(a, NULL, NULL, NULL, NULL);
}

int
imap_addr_each(const char *v, imap_addr_fn fn, void *ctx)
{
	struct imap_addrs a;
	int rc = 0;

	memset(&a, 0, sizeof(a));
	a.fn = fn;
	a.ctx = ctx;
	if (v != NULL && imap_tokenize(v, &a) != 0) {
		rc = -1;
	}
	while (rc == 0 && a.rc == 0 && a.i < a.n) {
		size_t colon;

		if (imap_is(&a, a.i, ',') || imap_is(&a, a.i, ';') || imap_is(&a, a.i, '>')) {
			a.i++;
		} else if (imap_group_at(&a, &colon)) {
			imap_group(&a, colon);
		} else {
			imap_mailbox(&a, 0);
		}
	}
	free(a.t);
	free(a.text);
	return rc != 0 ? rc : a.rc;
}

struct imap_addr_wire {
	struct imap_buf *b;
	int any;		/* an address was written */
};

static int
imap_addr_wire(void *ctx, const char *name, const char *adl, const char *mbox,
    const char *host)
{
	struct imap_addr_wire *w = ctx;
	struct imap_buf *b = w->b;

	imap_buf_add(b, w->any ? "(" : "((", w->any ? 1 : 2);
	w->any = 1;
	imap_buf_cstr(b, name);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, adl);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, mbox);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, host);
	return imap_buf_add(b, ")", 1) != 0 ? -1 : 0;
}

static int
imap_addr_list(struct imap_buf *b, const char *v)
{
	struct imap_addr_wire w = { b, 0 };

	if (imap_addr_each(v, imap_addr_wire, &w) != 0) {
		b->err = 1;
		return -1;
	}
	return imap_buf_str(b, w.any ? ")" : "NIL");
}

int
imap_envelope(struct imap_buf *b, const struct mime_msg *m, uint16_t p)
{
	const char *from = mime_field(m, p, MIME_F_FROM);
	static const enum mime_field order[] = { MIME_F_DATE, MIME_F_SUBJECT, MIME_F_FROM,
	    MIME_F_SENDER, MIME_F_REPLY_TO, MIME_F_TO, MIME_F_CC, MIME_F_BCC,
	    MIME_F_IN_REPLY_TO, MIME_F_MESSAGE_ID };

	imap_buf_add(b, "(", 1);
	for (size_t k = 0; k < ARRAY_LEN(order); k++) {
		const char *v = mime_field(m, p, order[k]);

		if (k > 0) {
			imap_buf_add(b, " ", 1);
		}
		if (order[k] < MIME_F_FROM || order[k] > MIME_F_BCC) {
			imap_buf_cstr(b, v);
			continue;
		}
		/* RFC 3501: an absent or empty Sender or Reply-To is the From list */
		if ((order[k] == MIME_F_SENDER || order[k] == MIME_F_REPLY_TO) &&
		    (v == NULL || v[0] == '\0')) {
			v = from;
		}
		imap_addr_list(b, v);
	}
	return imap_buf_add(b, ")", 1);
}

/* ---- BODYSTRUCTURE ---- */

/*
 * Is there a parameter in v between from and to named name (ext: name with an RFC 2231
 * suffix, the form "name*..."; else exactly name)?
 */
static int
imap_param_in(const char *v, size_t from, size_t to, const char *name, int ext)
{
	char n[80], val[8];
	size_t l = strlen(name);

	while (from < to && mime_param_next(v, &from, n, sizeof(n), val, sizeof(val)) == 1) {
		if (strncmp(n, name, l) == 0 && (ext ? n[l] == '*' : n[l] == '\0')) {
			return 1;
		}
	}
	return 0;
}

/*
 * An RFC 2231 value as IMAP sends parameters: ASCII as is, other bytes as an RFC 2047
 * encoded word in the declared charset (UTF-8 when none is), which clients decode.
 */
static void
imap_2231_value(struct imap_buf *b, const char *val, const char *cs)
{
	static const char hex[] = "0123456789ABCDEF";
	struct imap_buf w;
	size_t i;

	for (i = 0; val[i] != '\0' && (unsigned char)val[i] < 0x80; i++) {
	}
	if (val[i] == '\0') {
		imap_buf_cstr(b, val);
		return;
	}
	imap_buf_init(&w, MIME_FIELD_MAX);
	imap_buf_add(&w, "=?", 2);
	imap_buf_add(&w, cs[0] != '\0' ? cs : "utf-8", strlen(cs[0] != '\0' ? cs : "utf-8"));
	imap_buf_add(&w, "?Q?", 3);
	for (i = 0; val[i] != '\0'; i++) {
		unsigned char c = (unsigned char)val[i];
		char q[3] = { '=', hex[c >> 4], hex[c & 15] };

		if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
		    c == '.' || c == '-') {
			imap_buf_add(&w, val + i, 1);
		} else {
			imap_buf_add(&w, q, 3);
		}
	}
	imap_buf_add(&w, "?=", 2);
	if (w.err) {
		imap_buf_cstr(b, val);
	} else {
		imap_buf_nstring(b, w.p, w.len);
	}
	imap_buf_free(&w);
}

/*
 * "(name value ...)" of the parameters of v from i, or NIL. RFC 2231 pieces (name*0*,
 * name*1...) become one name with its value decoded; a text part without a charset
 * says us-ascii, its default (RFC 2045 5.2).
 */
static void
imap_params(struct imap_buf *b, const char *v, size_t i, int charset_default)
{
	char name[80], val[MIME_FIELD_MAX / 4], cs[48];
	size_t start = i, at = i;
	int any = 0, charset = 0;

	while (v != NULL && mime_param_next(v, &i, name, sizeof(name), val, sizeof(val)) == 1) {
		char *star = strchr(name, '*');

		if (star != NULL) {
			*star = '\0';
			/* once, at its first piece, and not at all beside a plain one */
			if (imap_param_in(v, start, at, name, 1) ||
			    imap_param_in(v, start, strlen(v), name, 0) ||
			    !mime_param_2231(v, start, name, val, sizeof(val), cs, sizeof(cs))) {
				at = i;
				continue;
			}
		}
		at = i;
		imap_buf_add(b, any ? " " : "(", 1);
		imap_buf_cstr(b, name);
		imap_buf_add(b, " ", 1);
		if (star != NULL) {
			imap_2231_value(b, val, cs);
		} else {
			imap_buf_cstr(b, val);
		}
		any = 1;
		charset |= strcmp(name, "charset") == 0;
	}
	if (charset_default && !charset) {
		imap_buf_str(b, any ? " \"charset\" \"us-ascii\")" : "(\"charset\" \"us-ascii\")");
	} else {
		imap_buf_str(b, any ? ")" : "NIL");
	}
}

static void
imap_disposition(struct imap_buf *b, const char *v)
{
	char w[64];
	size_t i = 0;

	if (v == NULL || mime_word(v, &i, w, sizeof(w), 1) <= 0) {
		imap_buf_str(b, "NIL");
		return;
	}
	imap_buf_add(b, "(", 1);
	imap_buf_cstr(b, w);
	imap_buf_add(b, " ", 1);
	imap_params(b, v, i, 0);
	imap_buf_add(b, ")", 1);
}

static void
imap_language(struct imap_buf *b, const char *v)
{
	char w[4][64];
	size_t i = 0, n = 0;

	while (v != NULL && n < ARRAY_LEN(w)) {
		if (mime_word(v, &i, w[n], sizeof(w[n]), 0) > 0) {
			n++;
		} else if (v[i] == ',') {
			i++;
		} else {
			break;
		}
	}
	if (n == 0) {
		imap_buf_str(b, "NIL");
		return;
	}
	if (n > 1) {
		imap_buf_add(b, "(", 1);
	}
	for (size_t k = 0; k < n; k++) {
		if (k > 0) {
			imap_buf_add(b, " ", 1);
		}
		imap_buf_cstr(b, w[k]);
	}
	if (n > 1) {
		imap_buf_add(b, ")", 1);
	}
}

/* Extension data common to every body: disposition, language, location. */
static void
imap_ext_tail(struct imap_buf *b, const struct mime_msg *m, uint16_t p)
{
	imap_buf_add(b, " ", 1);
	imap_disposition(b, mime_field(m, p, MIME_F_CDISP));
	imap_buf_add(b, " ", 1);
	imap_language(b, mime_field(m, p, MIME_F_CLANG));
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, mime_field(m, p, MIME_F_CLOC));
}

static void
imap_multipart(struct imap_buf *b, const struct mime_msg *m, uint16_t p, int ext)
{
	const char *ct = mime_field(m, p, MIME_F_CTYPE);
	char type[32], sub[64];
	size_t i = 0;

	imap_buf_add(b, "(", 1);
	for (uint16_t c = p + 1; c < m->nparts; c++) {
		if (m->parts[c].s.parent == p) {
			imap_bodystructure(b, m, c, ext);
		}
	}
	/* a multipart part has a parsable Content-Type with a boundary */
	mime_ctype_split(ct, type, sizeof(type), sub, sizeof(sub), &i);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, sub);
	if (ext) {
		imap_buf_add(b, " ", 1);
		imap_params(b, ct, i, 0);
		imap_ext_tail(b, m, p);
	}
	imap_buf_add(b, ")", 1);
}

/*
 * Type of a non-multipart part: its Content-Type, or the default for its place; types
 * that would promise structure the part lacks (a multipart without parts, a message we
 * did not open) are sent as text/plain and application/octet-stream.
 */
static const char *
imap_leaf_type(const struct mime_msg *m, uint16_t p, char *type, size_t tcap, char *sub,
    size_t scap, size_t *params)
{
	const struct mime_part *q = &m->parts[p];
	const char *ct = mime_field(m, p, MIME_F_CTYPE);

	*params = 0;
	if (ct == NULL || mime_ctype_split(ct, type, tcap, sub, scap, params) != 0) {
		str_copy(type, tcap, q->in_digest ? "message" : "text");
		str_copy(sub, scap, q->in_digest ? "rfc822" : "plain");
		return NULL;
	}
	if (strcmp(type, "multipart") == 0) {
		str_copy(type, tcap, "text");
		str_copy(sub, scap, "plain");
		return NULL;
	}
	if (strcmp(type, "message") == 0 && q->s.kind != MIME_MESSAGE && strcmp(sub, "rfc822") == 0) {
		str_copy(type, tcap, "application");
		str_copy(sub, scap, "octet-stream");
	}
	return ct;
}

static void
imap_basic(struct imap_buf *b, const struct mime_msg *m, uint16_t p, int ext)
{
	const struct mime_part *q = &m->parts[p];
	const char *cte = mime_field(m, p, MIME_F_CTE);
	char type[32], sub[64], num[48], enc[64];
	size_t i, k = 0;
	const char *ct = imap_leaf_type(m, p, type, sizeof(type), sub, sizeof(sub), &i);

	imap_buf_add(b, "(", 1);
	imap_buf_cstr(b, type);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, sub);
	imap_buf_add(b, " ", 1);
	imap_params(b, ct, i, strcmp(type, "text") == 0);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, mime_field(m, p, MIME_F_CID));
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, mime_field(m, p, MIME_F_CDESC));
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, cte != NULL && mime_word(cte, &k, enc, sizeof(enc), 0) > 0 ? enc : "7bit");
	str_fmt(num, sizeof(num), " %u", q->s.body_len);
	imap_buf_str(b, num);
	if (q->s.kind == MIME_MESSAGE) {
		imap_buf_add(b, " ", 1);
		imap_envelope(b, m, p + 1);
		imap_buf_add(b, " ", 1);
		imap_bodystructure(b, m, p + 1, ext);
	}
	if (q->s.kind == MIME_MESSAGE || strcmp(type, "text") == 0) {
		str_fmt(num, sizeof(num), " %u", q->lines);
		imap_buf_str(b, num);
	}
	if (ext) {
		imap_buf_add(b, " ", 1);
		imap_buf_cstr(b, mime_field(m, p, MIME_F_CMD5));
		imap_ext_tail(b, m, p);
	}
	imap_buf_add(b, ")", 1);
}

int
imap_bodystructure(struct imap_buf *b, const struct mime_msg *m, uint16_t p, int ext)
{
	if (m->parts[p].s.kind == MIME_MULTI) {
		imap_multipart(b, m, p, ext);
	} else {
		imap_basic(b, m, p, ext);
	}
	return b->err ? -1 : 0;
}

/* ---- BODY from BODYSTRUCTURE ---- */

/* A BODYSTRUCTURE text being read: s[0..n), at i. */
struct imap_bs {
	const char *s;
	size_t n, i;
	imap_sink_fn *out;
	void *ctx;
};

size_t
imap_elem_end(const char *s, size_t n, size_t i)
{
	size_t depth = 0;

	i += i < n && s[i] == ' ';
	do {
		char c = i < n ? s[i] : '\0';

		if (c == '\0' || (c == ')' && depth == 0)) {
			return SIZE_MAX;
		}
		if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				i += s[i] == '\\';
			}
			i++;
		} else if (c == '{') {
			uint32_t len = 0;

			for (i++; i < n && s[i] >= '0' && s[i] <= '9' && len < UINT32_MAX / 10; i++) {
				len = len * 10 + (uint32_t)(s[i] - '0');
			}
			i += 3 + (size_t)len;	/* "}\r\n" and the bytes */
		} else if (c == '(' || c == ')') {
			depth += c == '(' ? 1 : (size_t)-1;
			i++;
		} else if (c == ' ') {
			i++;
		} else {
			while (i < n && s[i] != ' ' && s[i] != '(' && s[i] != ')') {
				i++;
			}
		}
		if (i > n) {
			return SIZE_MAX;
		}
	} while (depth > 0);
	return i;
}

/* Pass over one element at bs->i (imap_elem_end), sending it if keep. */
static int
imap_bs_elem(struct imap_bs *bs, int keep)
{
	size_t a = bs->i, end = imap_elem_end(bs->s, bs->n, bs->i);

	if (end == SIZE_MAX) {
		return -1;
	}
	bs->i = end;
	if (keep) {
		bs->out(bs->ctx, bs->s + a, bs->i - a);
	}
	return 0;
}

/* Is the element at bs->i (after a space) the quoted string want? */
static int
imap_bs_is(const struct imap_bs *bs, const char *want)
{
	size_t l = strlen(want), i = bs->i + (bs->i < bs->n && bs->s[bs->i] == ' ');

	return i + l + 2 <= bs->n && bs->s[i] == '"' && memcmp(bs->s + i + 1, want, l) == 0 &&
	    bs->s[i + 1 + l] == '"';
}

/*
 * One body at bs->i: a multipart keeps its parts and subtype, a leaf its seven basic
 * fields, then the envelope, body and lines of a message/rfc822 or the lines of a text;
 * extension data is dropped (RFC 3501 7.4.2 BODY).
 */
static int
imap_bs_body(struct imap_bs *bs)
{
	int keep = 7, text, msg;

	if (bs->i >= bs->n || bs->s[bs->i] != '(') {
		return -1;
	}
	bs->out(bs->ctx, "(", 1);
	bs->i++;
	if (bs->i < bs->n && bs->s[bs->i] == '(') {
		while (bs->i < bs->n && bs->s[bs->i] == '(') {
			if (imap_bs_body(bs) != 0) {
				return -1;
			}
		}
		keep = 1;	/* the subtype */
	}
	text = imap_bs_is(bs, "text");
	msg = imap_bs_is(bs, "message");
	for (int k = 0; bs->i < bs->n && bs->s[bs->i] != ')'; k++) {
		if (k == 1 && msg && !imap_bs_is(bs, "rfc822")) {
			msg = 0;
		}
		if (k == 7 && (msg || text)) {
			keep += msg ? 3 : 1;
		}
		if (k == 8 && msg) {
			bs->i++;	/* the space before the enclosed body */
			bs->out(bs->ctx, " ", 1);
			if (imap_bs_body(bs) != 0) {
				return -1;
			}
			continue;
		}
		if (imap_bs_elem(bs, k < keep) != 0) {
			return -1;
		}
	}
	if (bs->i >= bs->n) {
		return -1;
	}
	bs->i++;
	bs->out(bs->ctx, ")", 1);
	return 0;
}

int
imap_body_of(const char *bodystructure, size_t n, imap_sink_fn *out, void *ctx)
{
	struct imap_bs bs = { bodystructure, n, 0, out, ctx };

	return imap_bs_body(&bs) == 0 && bs.i == n ? 0 : -1;
}
