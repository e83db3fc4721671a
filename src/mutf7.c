/*
 * Modified UTF-7 (RFC 3501 section 5.1.3) <-> UTF-8 for mailbox names, strict UTF-8
 * validation, and the name rules that keep a folder inside its owner's tree: relative,
 * no dot levels, no control characters, bounded length and depth. No root, no I/O.
 */
#include <string.h>

#include "mutf7.h"
#include "params.h"
#include "util.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* One code point from s[*i..len), strictly (shortest form, no surrogates); 0 or -1. */
static int
utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
	static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
	unsigned char b = s[*i];
	size_t n, k;
	uint32_t v;

	if (b < 0x80) {
		*cp = b;
		(*i)++;
		return 0;
	}
	n = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0;
	if (n == 0 || b >= 0xf8 || len - *i <= n) {
		return -1;
	}
	v = b & (0x3fu >> n);
	for (k = 1; k <= n; k++) {
		if ((s[*i + k] & 0xc0) != 0x80) {
			return -1;
		}
		v = v << 6 | (s[*i + k] & 0x3fu);
	}
	if (v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
		return -1;
	}
	*i += n + 1;
	*cp = v;
	return 0;
}

/* Append code point cp as UTF-8 at out[*n] (room for the NUL kept); 0 or -1. */
static int
utf8_put(uint32_t cp, char *out, size_t cap, size_t *n)
{
	unsigned char tmp[4];
	size_t k, len;

	if (cp < 0x80) {
		tmp[0] = (unsigned char)cp;
		len = 1;
	} else if (cp < 0x800) {
		tmp[0] = (unsigned char)(0xc0 | cp >> 6);
		tmp[1] = (unsigned char)(0x80 | (cp & 0x3f));
		len = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (unsigned char)(0xe0 | cp >> 12);
		tmp[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		tmp[2] = (unsigned char)(0x80 | (cp & 0x3f));
		len = 3;
	} else {
		tmp[0] = (unsigned char)(0xf0 | cp >> 18);
		tmp[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		tmp[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		tmp[3] = (unsigned char)(0x80 | (cp & 0x3f));
		len = 4;
	}
	if (cap - *n <= len) {
		return -1;
	}
	for (k = 0; k < len; k++) {
		out[(*n)++] = (char)tmp[k];
	}
	return 0;
}

int
mutf7_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		if (utf8_next((const unsigned char *)s, len, &i, &cp) < 0) {
			return 0;
		}
	}
	return 1;
}

/*
 * One "&...-" run starting after the "&" at in[*i]: UTF-16 in modified base64 to UTF-8.
 * Canonical only: NUL, printable ASCII, unpaired surrogates or leftover bits refused.
 */
static int
decode_run(const char *in, size_t len, size_t *i, char *out, size_t cap, size_t *n)
{
	uint32_t bits = 0, hi = 0, u;
	unsigned nbits = 0;
	const char *p;

	for (; *i < len && in[*i] != '-'; (*i)++) {
		if (in[*i] == '\0' || (p = strchr(b64, in[*i])) == NULL) {
			return -1;
		}
		bits = (bits << 6 | (uint32_t)(p - b64)) & 0xffffff;
		if ((nbits += 6) < 16) {
			continue;
		}
		nbits -= 16;
		u = bits >> nbits & 0xffff;
		if (u >= 0xd800 && u <= 0xdbff && hi == 0) {
			hi = u;
			continue;
		}
		/* NUL would cut the name short; printable ASCII must not be encoded. */
		if ((hi != 0) != (u >= 0xdc00 && u <= 0xdfff) || u == 0 ||
		    (u >= 0x20 && u <= 0x7e)) {
			return -1;
		}
		u = hi != 0 ? 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00) : u;
		hi = 0;
		if (utf8_put(u, out, cap, n) < 0) {
			return -1;
		}
	}
	if (*i == len || hi != 0 || nbits >= 6 || (bits & ((1u << nbits) - 1)) != 0) {
		return -1;
	}
	(*i)++;
	return 0;
}

int
mutf7_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, n = 0, start;

	if (cap == 0) {
		return -1;
	}
	while (i < len) {
		if (in[i] < 0x20 || in[i] > 0x7e) {
			return -1;
		}
		if (in[i] != '&') {
			if (n + 1 >= cap) {
				return -1;
			}
			out[n++] = in[i++];
			continue;
		}
		start = ++i;
		if (i < len && in[i] == '-') {
			if (utf8_put('&', out, cap, &n) < 0) {
				return -1;
			}
			i++;
			continue;
		}
		if (decode_run(in, len, &i, out, cap, &n) < 0 || i == start + 1) {
			return -1;
		}
		/* Two runs back to back should have been one. */
		if (i + 1 < len && in[i] == '&' && in[i + 1] != '-') {
			return -1;
		}
	}
	out[n] = '\0';
	return 0;
}

struct enc {
	char *out;
	size_t cap, n;
	uint32_t bits;
	unsigned nbits;
	int open;
};

static int
enc_char(struct enc *e, char ch)
{
	if (e->cap - e->n <= 1) {
		return -1;
	}
	e->out[e->n++] = ch;
	return 0;
}

static int
enc_close(struct enc *e)
{
	if (!e->open) {
		return 0;
	}
	e->open = 0;
	if (e->nbits > 0 && enc_char(e, b64[(e->bits << (6 - e->nbits)) & 0x3f]) < 0) {
		return -1;
	}
	e->nbits = 0;
	return enc_char(e, '-');
}

static int
enc_unit(struct enc *e, uint32_t u)
{
	if (!e->open && enc_char(e, '&') < 0) {
		return -1;
	}
	e->open = 1;
	e->bits = (e->bits << 16 | u) & 0xffffff;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		if (enc_char(e, b64[e->bits >> e->nbits & 0x3f]) < 0) {
			return -1;
		}
	}
	return 0;
}

int
mutf7_encode(const char *utf8, char *out, size_t cap)
{
	struct enc e = { out, cap, 0, 0, 0, 0 };
	size_t i = 0, len = strlen(utf8);
	uint32_t cp;
	int rc = 0;

	if (cap == 0) {
		return -1;
	}
	while (i < len && rc == 0) {
		if (utf8_next((const unsigned char *)utf8, len, &i, &cp) < 0) {
			return -1;
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			rc = enc_close(&e) < 0 || enc_char(&e, (char)cp) < 0 ||
			    (cp == '&' && enc_char(&e, '-') < 0) ? -1 : 0;
		} else if (cp >= 0x10000) {
			cp -= 0x10000;
			rc = enc_unit(&e, 0xd800 + (cp >> 10)) < 0 ||
			    enc_unit(&e, 0xdc00 + (cp & 0x3ff)) < 0 ? -1 : 0;
		} else {
			rc = enc_unit(&e, cp);
		}
	}
	if (rc < 0 || enc_close(&e) < 0) {
		return -1;
	}
	out[e.n] = '\0';
	return 0;
}

/* Per-character rule: no C0/C1 controls, DEL, wildcards or backslash. */
static const char *
name_char_why(uint32_t cp)
{
	if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
		return "control character";
	}
	if (cp == '*' || cp == '%') {
		return "wildcard character";
	}
	return cp == '\\' ? "backslash" : NULL;
}

int
mutf7_name_check(char *name, const char **why)
{
	size_t len = strlen(name), i = 0, level = 0, levels = 0;
	uint32_t cp;

	*why = len == 0 ? "empty name" : len > IMAP_MAILBOX_MAX ? "name too long" : NULL;
	while (*why == NULL && i <= len) {
		if (i == len || name[i] == '/') {
			*why = i == level ? "empty level" : name[level] == '.' ?
			    "level starts with a dot" : ++levels > IMAP_MAILBOX_DEPTH_MAX ?
			    "too many levels" : NULL;
			level = ++i;
			continue;
		}
		if (utf8_next((const unsigned char *)name, len, &i, &cp) < 0) {
			*why = "not UTF-8";
		} else {
			*why = name_char_why(cp);
		}
	}
	if (*why != NULL) {
		return -1;
	}
	/* INBOX is case-insensitive (RFC 3501 5.1): one spelling, also as a parent. */
	if ((len == 5 || (len > 5 && name[5] == '/')) && str_ieq_n(name, "INBOX", 5)) {
		memcpy(name, "INBOX", 5);
	}
	return 0;
}

int
mutf7_mailbox(const char *wire, size_t len, int utf8, char *out, size_t cap,
    const char **why)
{
	if (memchr(wire, '\0', len) != NULL) {
		*why = "NUL in name";
		return -1;
	}
	if (utf8) {
		if (!mutf7_utf8_valid(wire, len) || len >= cap) {
			*why = len >= cap ? "name too long" : "not UTF-8";
			return -1;
		}
		memcpy(out, wire, len);
		out[len] = '\0';
	} else if (mutf7_decode(wire, len, out, cap) < 0) {
		*why = "not modified UTF-7 or too long";
		return -1;
	}
	/* RFC 3501 CREATE: a trailing separator only declares future children; ignore it. */
	len = strlen(out);
	if (len > 1 && out[len - 1] == '/') {
		out[len - 1] = '\0';
	}
	return mutf7_name_check(out, why);
}
