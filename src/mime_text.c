/*
 * Decoded text of a message for SEARCH: RFC 2047 encoded words, quoted-printable and
 * base64 bodies, ISO-8859-1 / windows-1252 to UTF-8, handed out line by line while
 * mime_parse walks the message once. Runs in the unprivileged session process.
 */
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "params.h"
#include "util.h"

enum { CS_ASIS, CS_LATIN1 };

/* Charsets whose bytes we turn into UTF-8 (windows-1252's 0x80-0x9f taken as Latin-1). */
static int
mime_charset(const char *cs)
{
	static const char *const latin[] = { "iso-8859-1", "iso8859-1", "latin1", "latin-1",
	    "windows-1252", "cp1252", "iso-8859-15", "us-ascii", "ascii" };

	for (size_t k = 0; cs != NULL && k < ARRAY_LEN(latin); k++) {
		if (str_ieq(cs, latin[k])) {
			return CS_LATIN1;
		}
	}
	return CS_ASIS;
}

/* Append src (n bytes in charset cs) to dst as UTF-8; returns the new length (cut at cap). */
static size_t
mime_to_utf8(int cs, const unsigned char *src, size_t n, char *dst, size_t at, size_t cap)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = src[i];

		if (cs == CS_LATIN1 && c >= 0x80) {
			if (at + 2 > cap) {
				break;
			}
			dst[at++] = (char)(0xc0 | (c >> 6));
			dst[at++] = (char)(0x80 | (c & 0x3f));
		} else if (at < cap) {
			dst[at++] = (char)c;
		}
	}
	return at;
}

static int
mime_hex(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* ---- RFC 2047 ---- */

/* Decode one encoded word at s (len bytes from "=?"); its length, 0 if it is none. */
static size_t
mime_word_at(const char *s, size_t len, char *dst, size_t *at, size_t cap)
{
	unsigned char raw[MIME_FIELD_MAX / 4];
	char cs[48];
	const char *q1, *text, *end;
	size_t n = 0, csl;
	uint32_t bits = 0;
	int nb = 0, b64;

	/* "=?" charset "?" B|Q "?" text "?=" */
	if (len < 8 || s[0] != '=' || s[1] != '?' || (q1 = memchr(s + 2, '?', len - 2)) == NULL ||
	    (size_t)(q1 - s) + 3 > len || q1[2] != '?') {
		return 0;
	}
	text = q1 + 3;
	end = memmem(text, (size_t)(s + len - text), "?=", 2);
	csl = (size_t)(q1 - s - 2);
	if (end == NULL || csl == 0 || csl >= sizeof(cs) ||
	    ((q1[1] | 0x20) != 'b' && (q1[1] | 0x20) != 'q')) {
		return 0;
	}
	memcpy(cs, s + 2, csl);
	cs[csl] = '\0';
	if (strchr(cs, '*') != NULL) {
		*strchr(cs, '*') = '\0';	/* RFC 2231 language suffix */
	}
	b64 = (q1[1] | 0x20) == 'b';
	for (const char *p = text; p < end && n < sizeof(raw); p++) {
		int h1, h2, v;

		if (b64) {
			if ((v = b64_value((unsigned char)*p)) < 0) {
				continue;
			}
			bits = bits << 6 | (uint32_t)v;
			if ((nb += 6) >= 8) {
				nb -= 8;
				raw[n++] = (unsigned char)(bits >> nb);
			}
		} else if (*p == '=' && p + 2 < end && (h1 = mime_hex(p[1])) >= 0 &&
		    (h2 = mime_hex(p[2])) >= 0) {
			raw[n++] = (unsigned char)(h1 * 16 + h2);
			p += 2;
		} else {
			raw[n++] = (unsigned char)(*p == '_' ? ' ' : *p);
		}
	}
	*at = mime_to_utf8(mime_charset(cs), raw, n, dst, *at, cap);
	return (size_t)(end + 2 - s);
}

size_t
mime_decode_words(const char *src, size_t len, char *dst, size_t cap)
{
	size_t at = 0, i = 0, ws = 0;
	int after_word = 0;

	while (i < len && at < cap) {
		size_t w = src[i] == '=' ? mime_word_at(src + i, len - i, dst, &(size_t){ at }, 0) : 0;

		if (w > 0) {
			if (!after_word) {
				at = mime_to_utf8(CS_ASIS, (const unsigned char *)src + ws, i - ws, dst, at,
				    cap);
			}
			mime_word_at(src + i, len - i, dst, &at, cap);
			i += w;
			ws = i;
			after_word = 1;
			continue;
		}
		if (src[i] != ' ' && src[i] != '\t') {
			/* plain text: the blanks held since the last word are text too */
			at = mime_to_utf8(CS_ASIS, (const unsigned char *)src + ws, i + 1 - ws, dst, at,
			    cap);
			ws = i + 1;
			after_word = 0;
		}
		i++;
	}
	if (!after_word && ws < len) {
		at = mime_to_utf8(CS_ASIS, (const unsigned char *)src + ws, len - ws, dst, at, cap);
	}
	return at;
}

/* ---- the walker ---- */

struct mime_walk {
	struct mime_parser *ps;
	struct mime_msg m;
	mime_hdr_fn hdr;
	mime_sink_fn text;
	void *ctx;
	int top_done;		/* the top-level header is over */
	int cont;		/* the last piece was partial */
	uint16_t part;		/* body being decoded, MIME_NONE between bodies */
	int active, enc, cs;
	uint32_t bits;
	int nb;
	size_t flen, llen;
	char fld[MIME_FIELD_MAX];
	char dec[MIME_FIELD_MAX];	/* fld with encoded words decoded */
	char line[MIME_TEXT_LINE_MAX / 2];	/* Latin-1 doubles in UTF-8 */
	char out[MIME_TEXT_LINE_MAX];
};

static int
mw_emit(struct mime_walk *w)
{
	const char *p = w->line;
	size_t n = w->llen, i = w->cs == CS_ASIS ? n : 0;

	/* most lines are ASCII, which every charset here leaves as it is */
	while (i < n && (unsigned char)p[i] < 0x80) {
		i++;
	}
	if (i < n) {
		n = mime_to_utf8(w->cs, (const unsigned char *)w->line, w->llen, w->out, 0,
		    sizeof(w->out));
		p = w->out;
	}
	w->llen = 0;
	return n > 0 && w->text != NULL ? w->text(w->ctx, p, n) : 0;
}

/*
 * Decoded bytes into the text buffer in blocks, line ends dropped: lines are searched
 * as one run of text, handed on when the buffer is full or the part ends.
 */
static int
mw_text(struct mime_walk *w, const char *s, size_t len)
{
	int rc = 0;

	while (len > 0 && rc == 0) {
		size_t room = sizeof(w->line) - w->llen, k = len < room ? len : room;
		const char *nl = memchr(s, '\n', k), *cr;

		if (room == 0) {
			rc = mw_emit(w);
			continue;
		}
		k = nl != NULL ? (size_t)(nl - s) : k;
		cr = memchr(s, '\r', k);
		k = cr != NULL ? (size_t)(cr - s) : k;
		memcpy(w->line + w->llen, s, k);
		w->llen += k;
		s += k;
		len -= k;
		if (len > 0 && (*s == '\n' || *s == '\r')) {
			s++;
			len--;
		}
	}
	return rc;
}

/* Base64 in blocks of decoded bytes. */
static int
mw_base64(struct mime_walk *w, const char *s, size_t len)
{
	char out[256];
	size_t n = 0;
	int rc = 0, v;

	for (size_t i = 0; i < len && rc == 0; i++) {
		if ((v = b64_value((unsigned char)s[i])) < 0) {
			continue;
		}
		w->bits = w->bits << 6 | (uint32_t)v;
		if ((w->nb += 6) >= 8) {
			w->nb -= 8;
			out[n++] = (char)(w->bits >> w->nb);
			if (n == sizeof(out)) {
				rc = mw_text(w, out, n);
				n = 0;
			}
		}
	}
	return rc == 0 ? mw_text(w, out, n) : rc;
}

/* Top-level header: unfold and hand each field to w->hdr, encoded words decoded. */
static int
mw_field_flush(struct mime_walk *w)
{
	const char *colon = memchr(w->fld, ':', w->flen);
	size_t nl, v, n;

	if (w->flen == 0 || colon == NULL || w->hdr == NULL) {
		w->flen = 0;
		return 0;
	}
	nl = (size_t)(colon - w->fld);
	v = nl + 1;
	while (nl > 0 && (w->fld[nl - 1] == ' ' || w->fld[nl - 1] == '\t')) {
		nl--;
	}
	while (v < w->flen && (w->fld[v] == ' ' || w->fld[v] == '\t')) {
		v++;
	}
	n = mime_decode_words(w->fld + v, w->flen - v, w->dec, sizeof(w->dec));
	w->flen = 0;
	return w->hdr(w->ctx, w->fld, nl, w->dec, n);
}

static int
mw_top_line(struct mime_walk *w, const char *s, size_t len)
{
	int rc = 0;

	if (len > 0 && s[len - 1] == '\r') {
		len--;
	}
	if (!w->cont && (len == 0 || (s[0] != ' ' && s[0] != '\t'))) {
		rc = mw_field_flush(w);
	}
	if (len > sizeof(w->fld) - w->flen) {
		len = sizeof(w->fld) - w->flen;
	}
	memcpy(w->fld + w->flen, s, len);
	w->flen += len;
	return rc;
}

/* Start decoding part p's body: is it text, in which encoding and charset? */
static void
mw_start(struct mime_walk *w, const struct mime_msg *m, uint16_t p)
{
	const char *ct = mime_field(m, p, MIME_F_CTYPE);
	char type[32], sub[64], cs[48];
	size_t i;

	w->part = p;
	w->bits = 0;
	w->nb = 0;
	w->enc = m->parts[p].s.enc;
	w->cs = CS_ASIS;
	if (ct == NULL || mime_ctype_split(ct, type, sizeof(type), sub, sizeof(sub), &i) != 0) {
		w->active = !m->parts[p].in_digest;
		return;
	}
	w->active = m->parts[p].s.kind == MIME_LEAF && strcmp(type, "text") == 0;
	if (mime_param_find(ct, i, "charset", cs, sizeof(cs))) {
		w->cs = mime_charset(cs);
	}
}

/* Quoted-printable: runs between '=' go in blocks. */
static int
mw_qp(struct mime_walk *w, const char *s, size_t len)
{
	int rc = 0, h1, h2;

	while (len > 0 && rc == 0) {
		const char *eq = memchr(s, '=', len);
		size_t k = eq != NULL ? (size_t)(eq - s) : len;
		char c;

		if ((rc = mw_text(w, s, k)) != 0 || k == len) {
			break;
		}
		s += k;
		len -= k;
		if (len >= 3 && (h1 = mime_hex(s[1])) >= 0 && (h2 = mime_hex(s[2])) >= 0) {
			c = (char)(h1 * 16 + h2);
			rc = mw_text(w, &c, 1);
			s += 3;
			len -= 3;
		} else if (len == 1 || (len == 2 && s[1] == '\r')) {
			break;	/* a soft line break: dropped like every line end */
		} else {
			rc = mw_text(w, s, 1);
			s++;
			len--;
		}
	}
	return rc;
}

static int
mw_body(struct mime_walk *w, const char *s, size_t len)
{
	if (w->enc == MIME_ENC_BASE64) {
		return mw_base64(w, s, len);
	}
	return w->enc == MIME_ENC_QP ? mw_qp(w, s, len) : mw_text(w, s, len);
}

static int
mw_hook(void *ctx, const struct mime_msg *m, uint16_t part, int in_hdr, const char *s,
    size_t len, int partial)
{
	struct mime_walk *w = ctx;
	int rc = 0;

	if (!w->top_done) {
		if (part == 0 && in_hdr == 1) {
			rc = mw_top_line(w, s, len);
			w->top_done = !w->cont && (len == 0 || (len == 1 && s[0] == '\r'));
			w->cont = partial;
			/* header keys only: the body is never parsed */
			return rc != 0 ? rc : w->top_done && w->text == NULL ? MIME_WALK_DONE : 0;
		}
		w->top_done = 1;
		if ((rc = mw_field_flush(w)) != 0 || w->text == NULL) {
			return rc != 0 ? rc : MIME_WALK_DONE;
		}
	}
	if (in_hdr != 0 || part != w->part) {
		if (w->part != MIME_NONE && (rc = mw_emit(w)) != 0) {
			return rc;
		}
		w->part = MIME_NONE;
	}
	if (in_hdr == 1) {
		/* an enclosed message's header is text of the body; a part's MIME header is not */
		if (part == 0 || m->parts[m->parts[part].s.parent].s.kind != MIME_MESSAGE) {
			return 0;
		}
		w->llen = mime_decode_words(s, len, w->line, sizeof(w->line));
		w->cs = CS_ASIS;
		return mw_emit(w);
	}
	if (in_hdr == 2) {
		return 0;
	}
	if (w->part == MIME_NONE) {
		mw_start(w, m, part);
	}
	return w->active ? mw_body(w, s, len) : 0;
}

struct mime_walk *
mime_walk_new(void)
{
	struct mime_walk *w = malloc(sizeof(*w));

	if (w != NULL) {
		memset(&w->m, 0, sizeof(w->m));
		if ((w->ps = mime_parser_new()) == NULL) {
			free(w);
			w = NULL;
		}
	}
	return w;
}

void
mime_walk_free(struct mime_walk *w)
{
	if (w != NULL) {
		mime_parser_free(w->ps);
		mime_msg_free(&w->m);
		free(w);
	}
}

int
mime_search_walk(struct mime_walk *w, const struct mime_src *r, mime_hdr_fn hdr,
    mime_sink_fn text, void *ctx)
{
	struct mime_walk *own = w == NULL ? mime_walk_new() : NULL;
	int rc;

	if (w == NULL && (w = own) == NULL) {
		return -1;
	}
	w->top_done = w->cont = w->active = w->nb = 0;
	w->flen = w->llen = 0;
	w->bits = 0;
	w->enc = MIME_ENC_7BIT;
	w->cs = CS_ASIS;
	w->hdr = hdr;
	w->text = text;
	w->ctx = ctx;
	w->part = MIME_NONE;
	rc = mime_parse_with(w->ps, &w->m, r, mw_hook, w);
	if (rc == 0 && !w->top_done) {
		rc = mw_field_flush(w);
	}
	if (rc == 0 && w->part != MIME_NONE) {
		rc = mw_emit(w);
	}
	mime_walk_free(own);
	return rc;
}
