/*
 * ENVELOPE, BODY and BODYSTRUCTURE wire text (RFC 3501 7.4.2) from a parsed message:
 * RFC 5322 address lists (groups, routes, quoted phrases; comments dropped) and MIME
 * parameters, every string as NIL, a quoted string or a literal. Runs unprivileged.
 */
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
};

struct imap_addrs {
	struct imap_tok *t;
	size_t n, i;
	char *text;		/* unquoted words */
	int any;		/* an address was written */
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

/* Split value v into words, quoted strings and specials; comments and blanks dropped. */
static int
imap_tokenize(const char *v, struct imap_addrs *a)
{
	size_t len = strlen(v), j = 0, w = 0;

	a->t = calloc(len + 1, sizeof(*a->t));
	a->text = malloc(len + 1);
	if (a->t == NULL || a->text == NULL) {
		return -1;
	}
	while (j < len) {
		struct imap_tok *t = &a->t[a->n];
		char c = v[j];

		if (c == '(') {
			j = imap_skip_comment(v, len, j);
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			j++;
			continue;
		}
		t->off = w;
		if (strchr("<>@,;:", c) != NULL) {
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
			for (; j < len && strchr("<>@,;:\"( \t\r\n", v[j]) == NULL; j++) {
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
imap_addr_out(struct imap_buf *b, const char *name, const char *adl, const char *mbox,
    const char *host)
{
	imap_buf_add(b, "(", 1);
	imap_buf_cstr(b, name != NULL && name[0] != '\0' ? name : NULL);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, adl != NULL && adl[0] != '\0' ? adl : NULL);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, mbox);
	imap_buf_add(b, " ", 1);
	imap_buf_cstr(b, host);
	imap_buf_add(b, ")", 1);
}

static void
imap_open_list(struct imap_buf *b, struct imap_addrs *a)
{
	if (!a->any) {
		imap_buf_add(b, "(", 1);
		a->any = 1;
	}
}

/* Words [from, to) as local-part@domain (no '@': mailbox only, empty host). */
static void
imap_addr_spec(struct imap_buf *b, struct imap_addrs *a, size_t from, size_t to,
    const char *name, const char *adl)
{
	char local[MIME_FIELD_MAX / 4], host[MIME_FIELD_MAX / 4];
	size_t at = from;

	while (at < to && !imap_is(a, at, '@')) {
		at++;
	}
	imap_join(a, from, at, "", local, sizeof(local));
	imap_join(a, at < to ? at + 1 : to, to, "", host, sizeof(host));
	if (local[0] == '\0' && host[0] == '\0' && (name == NULL || name[0] == '\0')) {
		return;
	}
	imap_open_list(b, a);
	imap_addr_out(b, name, adl, local, host);
}

/* One mailbox or group member at a->i; stops at ',' ';' or the end. */
static void
imap_mailbox(struct imap_buf *b, struct imap_addrs *a, int in_group)
{
	char name[MIME_FIELD_MAX / 4], adl[256];
	size_t s = a->i, j = a->i;

	while (j < a->n && !imap_is(a, j, '<') && !imap_is(a, j, ',') &&
	    !imap_is(a, j, ';') && !(imap_is(a, j, ':') && !in_group)) {
		j++;
	}
	if (!imap_is(a, j, '<')) {
		imap_addr_spec(b, a, s, j, NULL, NULL);
		a->i = j;
		return;
	}
	imap_join(a, s, j, " ", name, sizeof(name));
	s = ++j;
	adl[0] = '\0';
	while (j < a->n && !imap_is(a, j, '>')) {
		if (imap_is(a, j, ':')) {
			/* obsolete source route "@a,@b:" before the address */
			imap_join(a, s, j, "", adl, sizeof(adl));
			s = j + 1;
		}
		j++;
	}
	imap_addr_spec(b, a, s, j, name, adl);
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
imap_group(struct imap_buf *b, struct imap_addrs *a, size_t colon)
{
	char name[MIME_FIELD_MAX / 4];

	imap_join(a, a->i, colon, " ", name, sizeof(name));
	imap_open_list(b, a);
	imap_addr_out(b, NULL, NULL, name, NULL);
	a->i = colon + 1;
	while (a->i < a->n && !imap_is(a, a->i, ';')) {
		if (imap_is(a, a->i, ',')) {
			a->i++;
			continue;
		}
		imap_mailbox(b, a, 1);
	}
	a->i += a->i < a->n;
	imap_addr_out(b, NULL, NULL, NULL, NULL);
}

static int
imap_addr_list(struct imap_buf *b, const char *v)
{
	struct imap_addrs a;
	int rc = 0;

	memset(&a, 0, sizeof(a));
	if (v != NULL && imap_tokenize(v, &a) != 0) {
		rc = -1;
	}
	while (rc == 0 && a.i < a.n) {
		size_t colon;

		if (imap_is(&a, a.i, ',') || imap_is(&a, a.i, ';') || imap_is(&a, a.i, '>')) {
			a.i++;
		} else if (imap_group_at(&a, &colon)) {
			imap_group(b, &a, colon);
		} else {
			imap_mailbox(b, &a, 0);
		}
	}
	free(a.t);
	free(a.text);
	if (rc != 0) {
		b->err = 1;
		return -1;
	}
	return imap_buf_str(b, a.any ? ")" : "NIL");
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

/* "(name value ...)" of the parameters of v from i, or NIL. */
static void
imap_params(struct imap_buf *b, const char *v, size_t i, int charset_default)
{
	char name[80], val[MIME_FIELD_MAX / 4];
	int any = 0;

	while (v != NULL && mime_param_next(v, &i, name, sizeof(name), val, sizeof(val)) == 1) {
		imap_buf_add(b, any ? " " : "(", 1);
		imap_buf_cstr(b, name);
		imap_buf_add(b, " ", 1);
		imap_buf_cstr(b, val);
		any = 1;
	}
	if (!any && charset_default) {
		imap_buf_str(b, "(\"charset\" \"us-ascii\")");
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
	imap_params(b, ct, i, ct == NULL && strcmp(type, "text") == 0);
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
