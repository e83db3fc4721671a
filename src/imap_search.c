/*
 * SEARCH evaluation (RFC 3501 section 6.4.4, RFC 5032 WITHIN): one message against a
 * parsed key tree, cheap keys before those that read the message; a streaming
 * case-insensitive substring matcher over UTF-8; RFC 5322 Date: parsing. No root, no I/O.
 */
#include <stdlib.h>
#include <string.h>

#include "imap_search.h"

#include "date.h"
#include "util.h"

/* Invalid UTF-8 bytes become code points of their own that no valid text produces. */
#define RAW_BYTE(b) (0x110000u + (b))

/*
 * Simple case folding for the scripts mail clients mostly search in: ASCII, Latin-1,
 * Latin Extended-A, Greek and Cyrillic. Other scripts compare exactly.
 */
static uint32_t
fold(uint32_t c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x391 && c <= 0x3ab && c != 0x3a2) || (c >= 0x410 && c <= 0x42f)) {
		return c + 32;
	}
	if (c >= 0x400 && c <= 0x40f) {
		return c + 80;
	}
	if ((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177)) {
		return c | 1;
	}
	if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) && (c & 1)) {
		return c + 1;
	}
	if (c == 0x178) {
		return 0xff;
	}
	return c == 0x3c2 ? 0x3c3 : c;
}

/*
 * One byte into the UTF-8 assembler: the code points it completes (0 to 2: a broken
 * sequence yields its first byte raw and restarts at b) go to out.
 */
static int
utf8_step(uint32_t *cp, unsigned *need, unsigned char b, uint32_t out[2])
{
	int n = 0;

	if (*need > 0) {
		if ((b & 0xc0) == 0x80) {
			*cp = *cp << 6 | (b & 0x3fu);
			if (--*need == 0) {
				out[n++] = *cp;
			}
			return n;
		}
		out[n++] = 0xfffd;
		*need = 0;
	}
	if (b < 0x80) {
		out[n++] = b;
	} else if (b >= 0xc2 && b <= 0xf4) {
		*need = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1;
		*cp = b & (0x3fu >> *need);
	} else {
		out[n++] = RAW_BYTE(b);
	}
	return n;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Horspool's shifts for the lowercased ASCII needle. */
static void
ascii_init(struct imap_match *m, const char *s, size_t len)
{
	size_t i;

	m->n = len < IMAP_SEARCH_STR_MAX ? len : IMAP_SEARCH_STR_MAX;
	for (i = 0; i < m->n; i++) {
		m->low[i] = lower((unsigned char)s[i]);
	}
	for (i = 0; i < 256; i++) {
		m->shift[i] = (uint16_t)m->n;
	}
	for (i = 0; i + 1 < m->n; i++) {
		m->shift[m->low[i]] = (uint16_t)(m->n - 1 - i);
	}
}

void
imap_match_init(struct imap_match *m, const char *s, size_t len)
{
	uint32_t cp[2], acc = 0;
	unsigned need = 0;
	size_t i, k, q;
	int got;

	m->key = NULL;
	m->found = 0;
	m->ascii = 1;
	for (i = 0; i < len && m->ascii; i++) {
		m->ascii = (unsigned char)s[i] < 0x80;
	}
	if (m->ascii) {
		ascii_init(m, s, len);
		imap_match_reset(m);
		return;
	}
	m->n = 0;
	for (i = 0; i < len && m->n < IMAP_SEARCH_STR_MAX; i++) {
		got = utf8_step(&acc, &need, (unsigned char)s[i], cp);
		for (k = 0; k < (size_t)got && m->n < IMAP_SEARCH_STR_MAX; k++) {
			m->needle[m->n++] = fold(cp[k]);
		}
	}
	if (need > 0 && m->n < IMAP_SEARCH_STR_MAX) {
		m->needle[m->n++] = 0xfffd;
	}
	/* Knuth-Morris-Pratt: fail[i] is the longest proper border of needle[0..i]. */
	m->fail[0] = 0;
	for (i = 1, q = 0; i < m->n; i++) {
		while (q > 0 && m->needle[i] != m->needle[q]) {
			q = m->fail[q - 1];
		}
		q += m->needle[i] == m->needle[q];
		m->fail[i] = (uint16_t)q;
	}
	m->found = 0;
	imap_match_reset(m);
}

void
imap_match_reset(struct imap_match *m)
{
	m->q = 0;
	m->cp = 0;
	m->need = 0;
	m->tl = 0;
}

/* Does t[0..len) hold the ASCII needle (n >= 1)? Horspool, compared lowercased. */
static int
ascii_find(const struct imap_match *m, const unsigned char *t, size_t len)
{
	size_t n = m->n, i, j;

	for (i = 0; i + n <= len; i += m->shift[lower(t[i + n - 1])]) {
		for (j = n; j > 0 && lower(t[i + j - 1]) == m->low[j - 1]; j--) {
		}
		if (j == 0) {
			return 1;
		}
	}
	return 0;
}

/* Bytes in blocks: the n - 1 bytes kept from before are searched joined to the new ones. */
static int
ascii_feed(struct imap_match *m, const unsigned char *s, size_t len)
{
	size_t keep = m->n - 1, k = len < keep ? len : keep;

	if (m->tl > 0) {
		memcpy(m->buf + m->tl, s, k);
		if (ascii_find(m, m->buf, m->tl + k)) {
			return m->found = 1;
		}
	}
	if (ascii_find(m, s, len)) {
		return m->found = 1;
	}
	if (len >= keep) {
		memcpy(m->buf, s + len - keep, keep);
		m->tl = keep;
	} else if (m->tl + len > keep) {
		memmove(m->buf, m->buf + m->tl + len - keep, keep);
		m->tl = keep;
	} else {
		memcpy(m->buf + m->tl, s, len);
		m->tl += len;
	}
	return 0;
}

static void
match_cp(struct imap_match *m, uint32_t c)
{
	c = fold(c);
	while (m->q > 0 && m->needle[m->q] != c) {
		m->q = m->fail[m->q - 1];
	}
	if (m->needle[m->q] == c && ++m->q == m->n) {
		m->found = 1;
	}
}

int
imap_match_feed(struct imap_match *m, const char *s, size_t len)
{
	uint32_t cp[2];
	size_t i;
	int k, got;

	/* An empty needle matches whatever is fed, even nothing (HEADER name ""). */
	if (m->n == 0) {
		m->found = 1;
	}
	if (m->found || len == 0) {
		return m->found;
	}
	if (m->ascii) {
		return ascii_feed(m, (const unsigned char *)s, len);
	}
	for (i = 0; i < len && !m->found; i++) {
		got = utf8_step(&m->cp, &m->need, (unsigned char)s[i], cp);
		for (k = 0; k < got && !m->found; k++) {
			match_cp(m, cp[k]);
		}
	}
	return m->found;
}

int
imap_search_needs_content(const struct imap_skey *key)
{
	const struct imap_skey *k;

	switch (key->kind) {
	case IMAP_SK_AND:
		for (k = key->a; k != NULL; k = k->next) {
			if (imap_search_needs_content(k)) {
				return 1;
			}
		}
		return 0;
	case IMAP_SK_OR:
		return imap_search_needs_content(key->a) || imap_search_needs_content(key->b);
	case IMAP_SK_NOT:
		return imap_search_needs_content(key->a);
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
	case IMAP_SK_HEADER:
	case IMAP_SK_BODY:
	case IMAP_SK_TEXT:
		return 1;
	default:
		return 0;
	}
}

struct ev {
	const struct imap_search_msg *msg;
	const struct imap_search_env *env;
	const struct imap_search_ops *ops;
	void *ctx;
	struct imap_match *m;
};

static int eval(struct ev *e, const struct imap_skey *k);

/* Day number of a time in the zone it was given in. */
static int64_t
local_day(const struct imap_time *t)
{
	int64_t s = t->t + (int64_t)t->zone * 60;

	return date_floor_div(s, 86400);
}

static int
cmp_day(enum imap_skey_kind kind, int64_t have, int64_t want)
{
	switch (kind) {
	case IMAP_SK_BEFORE:
	case IMAP_SK_SENTBEFORE:
		return have < want;
	case IMAP_SK_ON:
	case IMAP_SK_SENTON:
		return have == want;
	default:
		return have >= want;
	}
}

/* AND: keys that need no message content first, each pass stopping at a miss. */
static int
eval_and(struct ev *e, const struct imap_skey *first)
{
	const struct imap_skey *k;
	int pass, rc;

	for (pass = 0; pass < 2; pass++) {
		for (k = first; k != NULL; k = k->next) {
			if (imap_search_needs_content(k) != pass) {
				continue;
			}
			if ((rc = eval(e, k)) != 1) {
				return rc;
			}
		}
	}
	return 1;
}

static int
eval_or(struct ev *e, const struct imap_skey *k)
{
	const struct imap_skey *x = k->a, *y = k->b;
	int rc;

	if (imap_search_needs_content(x) && !imap_search_needs_content(y)) {
		x = k->b;
		y = k->a;
	}
	rc = eval(e, x);
	return rc != 0 ? rc : eval(e, y);
}

static int
eval_text(struct ev *e, const struct imap_skey *k)
{
	int rc;

	/* the matcher is set up once per key for the whole command */
	if (e->m->key != k) {
		imap_match_init(e->m, k->str.s, k->str.len);
		e->m->key = k;
	}
	e->m->found = 0;
	imap_match_reset(e->m);
	if (k->kind == IMAP_SK_HEADER) {
		rc = e->ops->header(e->ctx, k->field.s, e->m);
	} else if (k->str.len == 0) {
		return 1;
	} else {
		rc = e->ops->text(e->ctx, k->kind == IMAP_SK_TEXT, e->m);
	}
	return rc < 0 ? -1 : e->m->found;
}

static int
eval_sent(struct ev *e, const struct imap_skey *k)
{
	struct imap_time t;
	int have = 0;

	if (e->ops->sent(e->ctx, &t, &have) < 0) {
		return -1;
	}
	return have && cmp_day(k->kind, local_day(&t), k->day);
}

/* One case per key kind: a flat dispatch is easier to check against RFC 3501 6.4.4. */
static int
eval(struct ev *e, const struct imap_skey *k)
{
	const struct imap_search_msg *msg = e->msg;
	int rc = 0;

	switch (k->kind) {
	case IMAP_SK_AND:
		return eval_and(e, k->a);
	case IMAP_SK_OR:
		return eval_or(e, k);
	case IMAP_SK_NOT:
		rc = eval(e, k->a);
		return rc < 0 ? rc : !rc;
	case IMAP_SK_ALL:
		return 1;
	case IMAP_SK_SEQ:
		return imap_seq_contains(&k->set, msg->seq, e->env->max_seq);
	case IMAP_SK_UID:
		return imap_seq_contains(&k->set, msg->uid, e->env->max_uid);
	case IMAP_SK_FLAG:
		return (msg->flags & k->flag) != 0;
	case IMAP_SK_UNFLAG:
		return (msg->flags & k->flag) == 0;
	case IMAP_SK_NEW:
		return (msg->flags & (IMAP_F_RECENT | STORE_SEEN)) == IMAP_F_RECENT;
	case IMAP_SK_OLD:
		return (msg->flags & IMAP_F_RECENT) == 0;
	case IMAP_SK_BEFORE:
	case IMAP_SK_ON:
	case IMAP_SK_SINCE:
		return cmp_day(k->kind, local_day(&msg->internal), k->day);
	case IMAP_SK_SENTBEFORE:
	case IMAP_SK_SENTON:
	case IMAP_SK_SENTSINCE:
		return eval_sent(e, k);
	case IMAP_SK_LARGER:
		return msg->size > k->num;
	case IMAP_SK_SMALLER:
		return msg->size < k->num;
	case IMAP_SK_KEYWORD:
	case IMAP_SK_UNKEYWORD:
		if (e->ops->keyword(e->ctx, k->str.s, &rc) < 0) {
			return -1;
		}
		return rc == (k->kind == IMAP_SK_KEYWORD);
	case IMAP_SK_OLDER:
		return e->env->now - msg->internal.t >= (int64_t)k->num;
	case IMAP_SK_YOUNGER:
		return e->env->now - msg->internal.t < (int64_t)k->num;
	default:
		return eval_text(e, k);
	}
}

int
imap_search_eval(const struct imap_skey *key, const struct imap_search_msg *msg,
    const struct imap_search_env *env, const struct imap_search_ops *ops, void *ctx)
{
	struct ev e;
	int rc;

	e.msg = msg;
	e.env = env;
	e.ops = ops;
	e.ctx = ctx;
	e.m = env->m != NULL ? env->m : calloc(1, sizeof(*e.m));
	if (e.m == NULL) {
		return -1;
	}
	rc = eval(&e, key);
	if (env->m == NULL) {
		free(e.m);
	}
	return rc;
}

/* ---- RFC 5322 dates ---- */

/* Obsolete zone names (RFC 5322 4.3); other alphabetic names mean +0000. */
static int
zone_name(const char *s, size_t n, int *zone)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "Z", 0 }, { "EST", -5 }, { "EDT", -4 },
		{ "CST", -6 }, { "CDT", -5 }, { "MST", -7 }, { "MDT", -6 }, { "PST", -8 },
		{ "PDT", -7 },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(zones); i++) {
		if (strlen(zones[i].name) == n && str_ieq_n(s, zones[i].name, n)) {
			*zone = zones[i].hours * 60;
			return 0;
		}
	}
	/* Other names (military letters, local abbreviations) carry no usable offset. */
	*zone = 0;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z'))) {
			return -1;
		}
	}
	return n > 0 && n <= 5 ? 0 : -1;
}

static int
num_token(const char *s, size_t n, int *v)
{
	uint32_t u;

	if (parse_u32(s, n, 99999, &u) < 0) {
		return -1;
	}
	*v = (int)u;
	return 0;
}

/* "hh:mm" or "hh:mm:ss" into seconds of the day. */
static int
time_token(const char *s, size_t n, int *secs)
{
	int hh, mm, ss = 0;

	if ((n != 5 && n != 8) || s[2] != ':' || (n == 8 && s[5] != ':') ||
	    num_token(s, 2, &hh) < 0 || num_token(s + 3, 2, &mm) < 0 ||
	    (n == 8 && num_token(s + 6, 2, &ss) < 0) || hh > 23 || mm > 59 || ss > 60) {
		return -1;
	}
	*secs = hh * 3600 + mm * 60 + ss;
	return 0;
}

static int
zone_token(const char *s, size_t n, int *zone)
{
	int v;

	if (n == 5 && (s[0] == '+' || s[0] == '-') && num_token(s + 1, 4, &v) == 0 &&
	    v % 100 < 60) {
		*zone = (s[0] == '-' ? -1 : 1) * (v / 100 * 60 + v % 100);
		return 0;
	}
	return zone_name(s, n, zone);
}

/* Split a Date: value into at most 8 words: comments dropped, commas as spaces. */
static size_t
date_words(const char *s, size_t len, char *buf, size_t cap, const char *w[8], size_t wl[8])
{
	size_t i, n = 0, nw = 0;
	int depth = 0;

	for (i = 0; i < len && n + 1 < cap; i++) {
		depth += s[i] == '(';
		buf[n++] = depth > 0 || s[i] == ',' || s[i] == '\t' || s[i] == '\r' ||
		    s[i] == '\n' ? ' ' : s[i];
		depth -= s[i] == ')' && depth > 0;
	}
	buf[n] = '\0';
	for (i = 0; i < n && nw < 8; ) {
		while (i < n && buf[i] == ' ') {
			i++;
		}
		if (i == n) {
			break;
		}
		w[nw] = buf + i;
		while (i < n && buf[i] != ' ') {
			i++;
		}
		wl[nw] = (size_t)(buf + i - w[nw]);
		nw++;
	}
	return nw;
}

int
imap_rfc5322_date(const char *s, size_t len, struct imap_time *out)
{
	char buf[128];
	const char *w[8];
	size_t wl[8], nw, i = 0;
	int d, m, y, secs, zone = 0;
	int64_t day;

	nw = date_words(s, len, buf, sizeof(buf), w, wl);
	/* An optional day name first. */
	if (nw > 0 && !(w[0][0] >= '0' && w[0][0] <= '9')) {
		i = 1;
	}
	if (nw < i + 4 || num_token(w[i], wl[i], &d) < 0 || wl[i + 1] < 3 ||
	    (m = date_month(w[i + 1])) < 0 || num_token(w[i + 2], wl[i + 2], &y) < 0 ||
	    time_token(w[i + 3], wl[i + 3], &secs) < 0 ||
	    (nw > i + 4 && zone_token(w[i + 4], wl[i + 4], &zone) < 0)) {
		return -1;
	}
	/* RFC 5322 4.3: two-digit years below 50 are 20xx, three-digit ones add 1900. */
	if (wl[i + 2] <= 3) {
		y += y < 50 && wl[i + 2] == 2 ? 2000 : 1900;
	}
	if ((day = date_days(y, (unsigned)m + 1, (unsigned)d)) == INT64_MIN) {
		return -1;
	}
	out->zone = zone;
	out->t = day * 86400 + secs - (int64_t)zone * 60;
	return 0;
}
