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
	mime_hdr_fn hdr;
	mime_sink_fn text;
	void *ctx;
	int top_done;		/* the top-level header is over */
	int cont;		/* the last piece was partial */
	uint16_t part;		/* body being decoded, MIME_NONE between bodies */
	int active, enc, cs, soft;
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
	size_t n = mime_to_utf8(w->cs, (const unsigned char *)w->line, w->llen, w->out, 0,
	    sizeof(w->out));

	w->llen = 0;
	return n > 0 && w->text != NULL ? w->text(w->ctx, w->out, n) : 0;
}

static int
mw_byte(struct mime_walk *w, char c)
{
	int rc = 0;

	if (c == '\n') {
		return mw_emit(w);
	}
	if (c == '\r') {
		return 0;
	}
	if (w->llen == sizeof(w->line)) {
		rc = mw_emit(w);
	}
	w->line[w->llen++] = c;
	return rc;
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
	w->soft = 0;
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

static int
mw_body(struct mime_walk *w, const char *s, size_t len, int partial)
{
	int rc = 0;

	for (size_t i = 0; i < len && rc == 0; i++) {
		int h1, h2, v;

		if (w->enc == MIME_ENC_BASE64) {
			if ((v = b64_value((unsigned char)s[i])) >= 0) {
				w->bits = w->bits << 6 | (uint32_t)v;
				if ((w->nb += 6) >= 8) {
					w->nb -= 8;
					rc = mw_byte(w, (char)(w->bits >> w->nb));
				}
			}
		} else if (w->enc == MIME_ENC_QP && s[i] == '=') {
			if (i + 2 < len && (h1 = mime_hex(s[i + 1])) >= 0 && (h2 = mime_hex(s[i + 2])) >= 0) {
				rc = mw_byte(w, (char)(h1 * 16 + h2));
				i += 2;
			} else if (i + 1 == len || (i + 2 == len && s[i + 1] == '\r')) {
				w->soft = 1;	/* soft line break */
				break;
			} else {
				rc = mw_byte(w, s[i]);
			}
		} else {
			rc = mw_byte(w, s[i]);
		}
	}
	if (rc == 0 && !partial && w->enc != MIME_ENC_BASE64 && !w->soft) {
		rc = mw_emit(w);
	}
	if (!partial) {
		w->soft = 0;
	}
	return rc;
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
			return rc;
		}
		w->top_done = 1;
		if ((rc = mw_field_flush(w)) != 0) {
			return rc;
		}
	}
	if (in_hdr != 0 || part != w->part) {
		if (w->part != MIME_NONE && (rc = mw_emit(w)) != 0) {
			return rc;
		}
		w->part = MIME_NONE;
	}
	if (in_hdr == 1) {
		/* an enclosed message's header or a part's MIME header: searchable text */
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
	return w->active ? mw_body(w, s, len, partial) : 0;
}

int
mime_search_walk(struct mbox_reader *r, mime_hdr_fn hdr, mime_sink_fn text, void *ctx)
{
	struct mime_walk *w = calloc(1, sizeof(*w));
	struct mime_msg m;
	int rc;

	if (w == NULL) {
		return -1;
	}
	w->hdr = hdr;
	w->text = text;
	w->ctx = ctx;
	w->part = MIME_NONE;
	rc = mime_parse(&m, r, mw_hook, w);
	if (rc == 0 && !w->top_done) {
		rc = mw_field_flush(w);
	}
	if (rc == 0 && w->part != MIME_NONE) {
		rc = mw_emit(w);
	}
	mime_msg_free(&m);
	free(w);
	return rc;
}
