/*
 * The mbox format: the streaming scanner (From_ lines, Content-Length, NUL garbage),
 * sizes and fingerprints, the unquoting reader and the mboxrd writer. Runs unprivileged
 * in sessions and verbs; never locks, syncs or truncates (lock.c and the callers do).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "date.h"
#include "log.h"
#include "mbox.h"
#include "params.h"
#include "util.h"

/* ---- shared line rules ---- */

/*
 * mboxrd quoted From line: ^>+"From ". Decided on the first MBOX_LINE_MAX bytes of the
 * line only, by the scanner (sizes) and the reader (content) alike, so both agree.
 */
static int
mbox_quoted_from(const char *p, size_t n)
{
	size_t i = 0;

	if (n > MBOX_LINE_MAX) {
		n = MBOX_LINE_MAX;
	}
	while (i < n && p[i] == '>') {
		i++;
	}
	return i > 0 && n - i >= 5 && memcmp(p + i, "From ", 5) == 0;
}

static int
mbox_is_from(const char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

/* ---- From_ line dates ---- */

struct mbox_tok {
	const char *p;
	size_t n;
};

/* "h:mm", "hh:mm" or "hh:mm:ss" into seconds of the day; -1 if malformed. */
static int64_t
mbox_parse_time(const struct mbox_tok *t)
{
	const char *c1 = memchr(t->p, ':', t->n);
	const char *c2;
	uint32_t h, m, s = 0;
	size_t rest;

	if (c1 == NULL || parse_u32(t->p, (size_t)(c1 - t->p), 23, &h) != 0 || c1 - t->p > 2) {
		return -1;
	}
	rest = t->n - (size_t)(c1 + 1 - t->p);
	c2 = memchr(c1 + 1, ':', rest);
	if (c2 == NULL) {
		if (rest != 2 || parse_u32(c1 + 1, 2, 59, &m) != 0) {
			return -1;
		}
	} else if (c2 - (c1 + 1) != 2 || parse_u32(c1 + 1, 2, 59, &m) != 0 ||
	    rest != 5 || parse_u32(c2 + 1, 2, 60, &s) != 0) {
		return -1;
	}
	return (int64_t)h * 3600 + m * 60 + s;
}

/*
 * asctime date at t[0..n): "Www Mmm dd hh:mm[:ss] [zone] yyyy" (the zone form is what
 * some MDAs write). The date is taken as UTC. -1 if it does not parse.
 */
static int64_t
mbox_try_date(const struct mbox_tok *t, size_t n)
{
	int mon;
	uint32_t day, year;
	int64_t secs, days;
	size_t yi = 4;

	if (n < 5 || t[0].n != 3 || date_wday(t[0].p) < 0 || t[1].n != 3) {
		return -1;
	}
	mon = date_month(t[1].p);
	if (mon < 0 || t[2].n > 2 || parse_u32(t[2].p, t[2].n, 31, &day) != 0 || day == 0) {
		return -1;
	}
	secs = mbox_parse_time(&t[3]);
	if (secs < 0) {
		return -1;
	}
	if (t[4].n != 4 && n >= 6) {
		yi = 5;
	}
	if (t[yi].n != 4 || parse_u32(t[yi].p, 4, 9999, &year) != 0 || year < 1970) {
		return -1;
	}
	days = date_days(year, (unsigned)mon + 1, day);
	return days == INT64_MIN ? -1 : days * 86400 + secs;
}

/* Date of a From_ line (without LF); the sender may hold spaces, so try every position. */
static int64_t
mbox_from_date(const char *p, size_t n)
{
	struct mbox_tok t[16];
	size_t nt = 0, i = 5;
	int64_t d;

	while (i < n && nt < ARRAY_LEN(t)) {
		size_t j = i;

		while (j < n && p[j] != ' ' && p[j] != '\t' && p[j] != '\r') {
			j++;
		}
		if (j > i) {
			t[nt].p = p + i;
			t[nt].n = j - i;
			nt++;
		}
		i = j + 1;
	}
	for (i = 0; i < nt; i++) {
		d = mbox_try_date(t + i, nt - i);
		if (d >= 0) {
			return d;
		}
	}
	return -1;
}

/* ---- the scanner ---- */

/* Big-buffer line source: pieces of lines, a line's first piece holds at least
 * min(line length, MBOX_LINE_MAX) bytes. */
struct mbox_src {
	int fd;
	uint64_t base;		/* file offset of buf[0] */
	uint64_t end;
	size_t off, len;
	int line_start;
	char *buf;		/* MBOX_IO_BUF bytes, for the scan only (not the stack's for life) */
};

struct mbox_piece {
	const char *p;
	size_t len;		/* without the LF */
	uint64_t at;		/* file offset of p[0] */
	int nl;			/* ended by an LF */
	int first;		/* first piece of its line */
};

/* Keep the unread bytes, moved to the front, and read after them; -1 on error. */
static int
mbox_src_fill(struct mbox_src *s)
{
	size_t keep = s->len - s->off;
	uint64_t at = s->base + s->len;
	uint64_t want = s->end - at;
	ssize_t r;

	memmove(s->buf, s->buf + s->off, keep);
	s->base += s->off;
	s->off = 0;
	s->len = keep;
	if (want > MBOX_IO_BUF - keep) {
		want = MBOX_IO_BUF - keep;
	}
	r = pread_full(s->fd, s->buf + keep, (size_t)want, (off_t)at);
	if (r < 0) {
		return -1;
	}
	if ((uint64_t)r < want) {
		/* Shorter than the caller saw: scan what is there. */
		s->end = at + (uint64_t)r;
	}
	s->len += (size_t)r;
	return 0;
}

/* Next piece: 1, 0 at the end of the range, -1 on read error. */
static int
mbox_src_next(struct mbox_src *s, struct mbox_piece *pc)
{
	const char *q;
	size_t avail;

	for (;;) {
		avail = s->len - s->off;
		q = memchr(s->buf + s->off, '\n', avail);
		if (q != NULL || s->base + s->len >= s->end || avail == MBOX_IO_BUF) {
			break;
		}
		if (mbox_src_fill(s) != 0) {
			return -1;
		}
	}
	if (avail == 0) {
		return 0;
	}
	pc->p = s->buf + s->off;
	pc->at = s->base + s->off;
	pc->first = s->line_start;
	pc->nl = q != NULL;
	pc->len = q != NULL ? (size_t)(q - pc->p) : avail;
	s->off += pc->len + (size_t)pc->nl;
	s->line_start = pc->nl;
	return 1;
}

/* The message being measured. */
struct mbox_cur {
	uint64_t offset, from_len;
	uint64_t hdr_end;	/* just past the blank line ending the header, 0 before */
	uint64_t lfs, quoted;	/* LFs and mboxrd-quoted lines in the content */
	uint64_t blank_off;	/* offset of the last line when it was blank */
	uint64_t cl_until;	/* Content-Length landed: no split before this offset */
	uint64_t cl_from;	/* ... and a From_ line is taken as is at this offset */
	uint64_t cl;
	int64_t date;
	int in_from, in_hdr, skip_hdr, have_cl, after_blank, last_nl;
	br_sha256_context sha;
};

/* Header lines other tools rewrite: left out of the fingerprint. */
static const char *const mbox_volatile_hdrs[] = {
	"Status", "X-Status", "X-Keywords", "X-UID", "X-IMAP", "X-IMAPbase",
	"Content-Length", "Lines"
};

static int
mbox_hdr_is(const char *p, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n > k && p[k] == ':' && str_ieq_n(p, name, k);
}

static int
mbox_volatile(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(mbox_volatile_hdrs); i++) {
		if (mbox_hdr_is(p, n, mbox_volatile_hdrs[i])) {
			return 1;
		}
	}
	return 0;
}

/* Remember the first Content-Length header's value when it is a clean decimal. */
static void
mbox_parse_cl(struct mbox_cur *m, const char *p, size_t n)
{
	size_t i = sizeof("Content-Length:") - 1, j;

	while (i < n && (p[i] == ' ' || p[i] == '\t')) {
		i++;
	}
	j = n;
	while (j > i && (p[j - 1] == ' ' || p[j - 1] == '\t' || p[j - 1] == '\r')) {
		j--;
	}
	if (!m->have_cl && parse_u64(p + i, j - i, MESSAGE_HARD_MAX, &m->cl) == 0) {
		m->have_cl = 1;
	}
}

/*
 * Trust Content-Length only when it lands exactly on EOF or on a "From " line (directly
 * or after one blank line): then From lines inside the body do not split the message.
 */
static int
mbox_check_cl(struct mbox_cur *m, struct mbox_src *s)
{
	uint64_t t = m->hdr_end + m->cl;
	char b[7];
	ssize_t r;

	if (!m->have_cl || t > s->end) {
		return 0;
	}
	r = pread_full(s->fd, b, sizeof(b), (off_t)(t - 1));
	if (r < 0) {
		return -1;
	}
	if (t == s->end || (t + 1 == s->end && b[1] == '\n')) {
		m->cl_until = t;
	} else if (r == 7 && b[0] == '\n' && memcmp(b + 1, "From ", 5) == 0) {
		m->cl_until = t;
		m->cl_from = t;
	} else if (r == 7 && b[1] == '\n' && memcmp(b + 2, "From ", 5) == 0) {
		m->cl_until = t;
		m->cl_from = t + 1;
	}
	return 0;
}

static void
mbox_begin(struct mbox_cur *m, const struct mbox_piece *pc)
{
	memset(m, 0, sizeof(*m));
	m->offset = pc->at;
	m->from_len = pc->len + (uint64_t)pc->nl;
	m->in_from = !pc->nl;
	m->in_hdr = 1;
	m->cl_from = UINT64_MAX;
	m->date = mbox_from_date(pc->p, pc->len);
	br_sha256_init(&m->sha);
	br_sha256_update(&m->sha, pc->p, pc->len);
	if (pc->nl) {
		br_sha256_update(&m->sha, "\n", 1);
	}
}

/* Account one piece of a message's content (or of a long From_ line). */
static int
mbox_line(struct mbox_cur *m, const struct mbox_piece *pc, struct mbox_src *s, int mboxrd)
{
	int blank = pc->first && pc->nl && (pc->len == 0 || (pc->len == 1 && pc->p[0] == '\r'));

	if (m->in_from) {
		m->from_len += pc->len + (uint64_t)pc->nl;
		m->in_from = !pc->nl;
		br_sha256_update(&m->sha, pc->p, pc->len);
		if (pc->nl) {
			br_sha256_update(&m->sha, "\n", 1);
		}
		return 0;
	}
	m->lfs += (uint64_t)pc->nl;
	m->last_nl = pc->nl;
	m->after_blank = blank;
	if (blank) {
		m->blank_off = pc->at;
	}
	if (pc->first && mboxrd && mbox_quoted_from(pc->p, pc->len)) {
		m->quoted++;
	}
	if (!m->in_hdr) {
		return 0;
	}
	if (blank) {
		m->in_hdr = 0;
		m->hdr_end = pc->at + pc->len + 1;
		return mbox_check_cl(m, s);
	}
	if (pc->first && pc->len > 0 && pc->p[0] != ' ' && pc->p[0] != '\t') {
		m->skip_hdr = mbox_volatile(pc->p, pc->len);
		if (mbox_hdr_is(pc->p, pc->len, "Content-Length")) {
			mbox_parse_cl(m, pc->p, pc->len);
		}
	}
	if (!m->skip_hdr) {
		br_sha256_update(&m->sha, pc->p, pc->len);
		if (pc->nl) {
			br_sha256_update(&m->sha, "\n", 1);
		}
	}
	return 0;
}

/*
 * Close the message at stop (where the next From_ line or garbage starts) and fill e.
 * The one blank line before stop is the separator, not content.
 */
static int
mbox_finish(struct mbox_cur *m, uint64_t stop, struct mbox_entry *e)
{
	uint64_t content = m->offset + m->from_len;
	uint64_t raw_end = stop, lfs = m->lfs, raw, body = 0, wire;
	unsigned char d[32], len8[8];
	int open_line;

	if (!m->in_from && m->after_blank) {
		raw_end = m->blank_off;
		lfs--;
	}
	raw = raw_end - content;
	/* A last line without LF is served with CRLF all the same, and counts in the body
	 * length as if it had its LF: appending a separator later must not change the
	 * fingerprint. */
	open_line = raw > 0 && raw_end == stop && !m->last_nl;
	wire = raw + lfs - m->quoted + 2 * (uint64_t)open_line;
	if (m->hdr_end != 0 && raw_end > m->hdr_end) {
		body = raw_end - m->hdr_end + (uint64_t)open_line;
	}
	if (m->from_len > UINT32_MAX || raw > UINT32_MAX || wire > UINT32_MAX) {
		log_warnx("mbox: message at offset %llu is larger than 4 GB",
		    (unsigned long long)m->offset);
		errno = EFBIG;
		return -1;
	}
	put_le64(len8, body);
	br_sha256_update(&m->sha, len8, sizeof(len8));
	br_sha256_out(&m->sha, d);
	e->offset = m->offset;
	e->from_len = (uint32_t)m->from_len;
	e->raw_len = (uint32_t)raw;
	e->wire_size = (uint32_t)wire;
	e->date = m->date;
	e->fingerprint = get_le64(d);
	return 0;
}

enum mbox_mode { MBOX_EXPECT, MBOX_GARBAGE, MBOX_MSG };

struct mbox_scanner {
	struct mbox_src src;
	struct mbox_cur cur;
	enum mbox_mode mode;
	uint64_t garbage_at;
	int mboxrd;
	int (*cb)(void *ctx, const struct mbox_entry *e);
	void *ctx;
	struct mbox_scan_stats *st;
};

static void
mbox_garbage_done(struct mbox_scanner *sc, uint64_t at)
{
	sc->st->skipped_garbage++;
	log_warnx("mbox: skipped %llu bytes of garbage at offset %llu",
	    (unsigned long long)(at - sc->garbage_at), (unsigned long long)sc->garbage_at);
}

/* End the current message at stop and hand it to the callback. */
static int
mbox_emit(struct mbox_scanner *sc, uint64_t stop)
{
	struct mbox_entry e;
	int rc;

	if (mbox_finish(&sc->cur, stop, &e) != 0) {
		return -1;
	}
	sc->st->messages++;
	sc->st->end = stop;
	rc = sc->cb(sc->ctx, &e);
	return rc;
}

/* Does this line end the current message (next From_ line, or NULs after a blank)? */
static int
mbox_boundary(const struct mbox_cur *m, const struct mbox_piece *pc, int *garbage)
{
	int open = m->after_blank && pc->at >= m->cl_until;

	*garbage = 0;
	if (!pc->first || m->in_from) {
		return 0;
	}
	if (mbox_is_from(pc->p, pc->len) &&
	    (pc->at == m->cl_from || (open && mbox_from_date(pc->p, pc->len) >= 0))) {
		return 1;
	}
	if (open && pc->len > 0 && pc->p[0] == '\0') {
		*garbage = 1;
		return 1;
	}
	return 0;
}

/* One piece in the scanner's state machine; nonzero stops the scan. */
static int
mbox_step(struct mbox_scanner *sc, const struct mbox_piece *pc)
{
	int garbage, rc;

	if (sc->mode == MBOX_MSG) {
		if (!mbox_boundary(&sc->cur, pc, &garbage)) {
			return mbox_line(&sc->cur, pc, &sc->src, sc->mboxrd);
		}
		rc = mbox_emit(sc, pc->at);
		if (rc != 0) {
			return rc;
		}
		sc->mode = garbage ? MBOX_GARBAGE : MBOX_EXPECT;
		sc->garbage_at = pc->at;
	}
	if (sc->mode == MBOX_EXPECT && pc->first && pc->nl &&
	    (pc->len == 0 || (pc->len == 1 && pc->p[0] == '\r'))) {
		return 0;
	}
	if (pc->first && mbox_is_from(pc->p, pc->len)) {
		if (sc->mode == MBOX_GARBAGE) {
			mbox_garbage_done(sc, pc->at);
		}
		mbox_begin(&sc->cur, pc);
		sc->mode = MBOX_MSG;
		return 0;
	}
	if (sc->mode == MBOX_EXPECT) {
		sc->mode = MBOX_GARBAGE;
		sc->garbage_at = pc->at;
	}
	return 0;
}

/*
 * Rules (see mbox.h): a From_ line starts the scan range or follows a blank line and
 * carries a parsable asctime date (as mutt requires), or is where Content-Length lands;
 * NULs or junk where a message should start are skipped to the next "\nFrom ".
 */
int
mbox_scan(int fd, uint64_t start, uint64_t end, int mboxrd,
    int (*cb)(void *ctx, const struct mbox_entry *e), void *ctx,
    struct mbox_scan_stats *st)
{
	struct mbox_scanner sc;
	struct mbox_piece pc;
	int rc;

	memset(st, 0, sizeof(*st));
	st->end = start;
	sc.src.buf = malloc(MBOX_IO_BUF);
	if (sc.src.buf == NULL) {
		return -1;
	}
	sc.src.fd = fd;
	sc.src.base = start;
	sc.src.end = end;
	sc.src.off = 0;
	sc.src.len = 0;
	sc.src.line_start = 1;
	sc.mode = MBOX_EXPECT;
	sc.mboxrd = mboxrd;
	sc.cb = cb;
	sc.ctx = ctx;
	sc.st = st;
	while ((rc = mbox_src_next(&sc.src, &pc)) == 1 && (rc = mbox_step(&sc, &pc)) == 0) {
	}
	if (rc == 0 && sc.mode == MBOX_MSG) {
		rc = mbox_emit(&sc, sc.src.end);
	} else if (rc == 0) {
		if (sc.mode == MBOX_GARBAGE) {
			mbox_garbage_done(&sc, sc.src.end);
		}
		st->end = sc.src.end;
	}
	free(sc.src.buf);
	return rc;
}

/* Do the n bytes read at off - lead (lead 1: the byte before off) show a From_ line at off? */
static int
mbox_from_seen(const char *b, size_t n, size_t lead)
{
	return n >= lead + 5 && (lead == 0 || b[0] == '\n') && memcmp(b + lead, "From ", 5) == 0;
}

int
mbox_from_at(int fd, uint64_t off)
{
	char b[6];
	size_t lead = off > 0;
	ssize_t r = pread_full(fd, b, lead + 5, (off_t)(off - lead));

	return r < 0 ? -1 : mbox_from_seen(b, (size_t)r, lead);
}

/* ---- the reader ---- */

void
mbox_reader_init(struct mbox_reader *r, int fd, const struct mbox_entry *e, int mboxrd)
{
	r->fd = fd;
	r->mboxrd = mboxrd;
	r->pos = e->offset + e->from_len;
	r->end = r->pos + e->raw_len;
	r->at_line_start = 1;
	r->bpos = 0;
	r->blen = 0;
}

int
mbox_reader_open(struct mbox_reader *r, int fd, const struct mbox_entry *e, int mboxrd)
{
	size_t lead = e->offset > 0, skip = lead + e->from_len;
	uint64_t want = skip + e->raw_len;
	ssize_t n;

	mbox_reader_init(r, fd, e, mboxrd);
	if (want > sizeof(r->buf)) {
		want = sizeof(r->buf);
	}
	n = pread_full(fd, r->buf, (size_t)want, (off_t)(e->offset - lead));
	if (n < 0 || !mbox_from_seen(r->buf, (size_t)n, lead)) {
		return n < 0 ? -1 : 0;
	}
	/* keep what was read past the From_ line (none when that line fills the buffer) */
	if ((size_t)n > skip) {
		r->bpos = skip;
		r->blen = (size_t)n;
		r->pos = e->offset - lead + (uint64_t)n;
	}
	return 1;
}

/* Move unread bytes to the front and read more; -1 on error or a file gone short. */
static int
mbox_reader_fill(struct mbox_reader *r)
{
	size_t keep = r->blen - r->bpos;
	size_t want = sizeof(r->buf) - keep;
	ssize_t n;

	memmove(r->buf, r->buf + r->bpos, keep);
	r->bpos = 0;
	r->blen = keep;
	if (want > r->end - r->pos) {
		want = (size_t)(r->end - r->pos);
	}
	n = pread_full(r->fd, r->buf + keep, want, (off_t)r->pos);
	if (n < 0) {
		return -1;
	}
	if ((size_t)n != want) {
		errno = EIO;
		return -1;
	}
	r->pos += (uint64_t)n;
	r->blen += (size_t)n;
	return 0;
}

int
mbox_reader_next(struct mbox_reader *r, const char **line, size_t *len, int *partial, int *nl)
{
	const char *p, *q;
	size_t avail;

	for (;;) {
		avail = r->blen - r->bpos;
		p = r->buf + r->bpos;
		q = memchr(p, '\n', avail);
		if (q != NULL || r->pos >= r->end || avail == sizeof(r->buf)) {
			break;
		}
		if (mbox_reader_fill(r) != 0) {
			return -1;
		}
	}
	if (avail == 0) {
		return 0;
	}
	*len = q != NULL ? (size_t)(q - p) : avail;
	*nl = q != NULL;
	*partial = q == NULL && r->pos < r->end;
	r->bpos += *len + (size_t)*nl;
	if (r->at_line_start && r->mboxrd && mbox_quoted_from(p, *len)) {
		p++;
		(*len)--;
	}
	r->at_line_start = !*partial;
	*line = p;
	return 1;
}

/* ---- the writer ---- */

struct mbox_out {
	int fd;
	size_t len;
	uint64_t total;
	int last;		/* last byte put, -1 none */
	/* one allocation for the write: MBOX_IO_BUF bytes, then the input's MBOX_IN_CHUNK */
	char *buf;
};

/* Input read per step, with a byte in front for a CR left over from the step before. */
#define MBOX_IN_CHUNK	(MBOX_IO_BUF / 4 + 1)

static int
mbox_out_flush(struct mbox_out *o)
{
	if (o->len > 0 && write_all(o->fd, o->buf, o->len) != 0) {
		return -1;
	}
	o->len = 0;
	return 0;
}

static int
mbox_out_put(struct mbox_out *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t k = MBOX_IO_BUF - o->len;

		if (k == 0) {
			if (mbox_out_flush(o) != 0) {
				return -1;
			}
			continue;
		}
		if (k > n) {
			k = n;
		}
		memcpy(o->buf + o->len, p, k);
		o->len += k;
		o->total += k;
		o->last = (unsigned char)p[k - 1];
		p += k;
		n -= k;
	}
	return 0;
}

static int
mbox_out_gts(struct mbox_out *o, uint64_t n)
{
	while (n-- > 0) {
		if (mbox_out_put(o, ">", 1) != 0) {
			return -1;
		}
	}
	return 0;
}

/* mboxrd quoting at line starts: ">"* "From " is held until decided. */
struct mbox_quoter {
	int mid;		/* inside a line, past the decision */
	uint64_t gts;		/* '>' held at the line start */
	size_t matched;		/* bytes of "From " held after them */
};

static int
mbox_quote_release(struct mbox_out *o, struct mbox_quoter *q, int add_one)
{
	if ((add_one && mbox_out_put(o, ">", 1) != 0) || mbox_out_gts(o, q->gts) != 0 ||
	    mbox_out_put(o, "From ", q->matched) != 0) {
		return -1;
	}
	q->mid = 1;
	q->gts = 0;
	q->matched = 0;
	return 0;
}

/* Body bytes (LF line ends) through the quoter into the output. */
static int
mbox_quote(struct mbox_out *o, struct mbox_quoter *q, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (q->mid) {
			const char *nl = memchr(p + i, '\n', n - i);
			size_t k = nl != NULL ? (size_t)(nl - (p + i)) + 1 : n - i;

			if (mbox_out_put(o, p + i, k) != 0) {
				return -1;
			}
			i += k;
			q->mid = nl == NULL;
		} else if (q->matched == 0 && p[i] == '>') {
			q->gts++;
			i++;
		} else if (p[i] == "From "[q->matched]) {
			i++;
			if (++q->matched == 5 && mbox_quote_release(o, q, 1) != 0) {
				return -1;
			}
		} else if (mbox_quote_release(o, q, 0) != 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * The incoming header's Content-Length lines (with continuations) are dropped: the
 * scanner trusts a Content-Length that lands on a From_ line, and a sender must not be
 * able to make its message swallow the next one. Dovecot drops them too.
 */
#define MBOX_CL_HDR	"content-length:"

struct mbox_hdrf {
	int body;		/* past the header: pass everything */
	int mid;		/* inside a line, decided */
	int dropping;		/* the current header line is dropped */
	size_t held;		/* bytes of MBOX_CL_HDR matched at the line start */
	char hold[sizeof(MBOX_CL_HDR)];
};

static int
mbox_hdrf_release(struct mbox_out *o, struct mbox_quoter *q, struct mbox_hdrf *h)
{
	size_t n = h->held;

	h->held = 0;
	h->mid = 1;
	return mbox_quote(o, q, h->hold, n);
}

/* LF-only input through the header filter and the quoter into the output. */
static int
mbox_hdrf(struct mbox_out *o, struct mbox_quoter *q, struct mbox_hdrf *h, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !h->body) {
		char c = p[i];

		if (h->mid) {
			const char *nl = memchr(p + i, '\n', n - i);
			size_t k = nl != NULL ? (size_t)(nl - (p + i)) + 1 : n - i;

			if (!h->dropping && mbox_quote(o, q, p + i, k) != 0) {
				return -1;
			}
			i += k;
			h->mid = nl == NULL;
		} else if (h->held == 0 && (c == '\n' || ((c == ' ' || c == '\t') && h->dropping))) {
			h->body = c == '\n';
			h->mid = !h->body;
		} else if (h->held < sizeof(MBOX_CL_HDR) - 1 &&
		    (c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c) == MBOX_CL_HDR[h->held]) {
			h->hold[h->held++] = c;
			i++;
			h->dropping = h->held == sizeof(MBOX_CL_HDR) - 1;
			h->mid = h->dropping;
			h->held = h->dropping ? 0 : h->held;
		} else {
			h->dropping = 0;
			if (mbox_hdrf_release(o, q, h) != 0) {
				return -1;
			}
		}
	}
	return i < n ? mbox_quote(o, q, p + i, n - i) : 0;
}

/* Drop the CR of every CRLF in p[0..n) in place; a CR ending the chunk is held in
 * *cr unless at_eof. Returns the new length. */
static size_t
mbox_crlf(char *p, size_t n, int at_eof, int *cr)
{
	size_t i = 0, j = 0;

	*cr = 0;
	while (i < n) {
		const char *c = memchr(p + i, '\r', n - i);
		size_t k = c != NULL ? (size_t)(c - (p + i)) : n - i;

		memmove(p + j, p + i, k);
		j += k;
		i += k;
		if (c == NULL) {
			break;
		}
		if (i + 1 == n && !at_eof) {
			*cr = 1;
		} else if (i + 1 == n || p[i + 1] != '\n') {
			p[j++] = '\r';
		}
		i++;
	}
	return j;
}

/*
 * NUL is not allowed in mail (RFC 5322) and a line starting with NULs after a blank line
 * is where the scanner sees an interrupted append: store each NUL as 0x80, as Dovecot
 * does, so that no accepted message can ever look like garbage.
 */
static void
mbox_no_nul(char *p, size_t n)
{
	char *z;

	while ((z = memchr(p, '\0', n)) != NULL) {
		*z = (char)0x80;
		n -= (size_t)(z + 1 - p);
		p = z + 1;
	}
}

/* "From SENDER DATE\n": sender without spaces or controls, MAILER-DAEMON if empty. */
static int
mbox_from_line(char *buf, size_t cap, const char *sender, int64_t date)
{
	char s[MBOX_SENDER_MAX + 1];
	size_t i, n = 0;
	struct date_civil when;

	for (i = 0; sender != NULL && sender[i] != '\0' && n < MBOX_SENDER_MAX; i++) {
		unsigned char c = (unsigned char)sender[i];

		if ((c == '<' && i == 0) || (c == '>' && sender[i + 1] == '\0')) {
			continue;
		}
		s[n++] = c <= ' ' || c == 0x7f ? '_' : (char)c;
	}
	s[n] = '\0';
	date_from_time(date >= 0 ? date : (int64_t)time(NULL), &when);
	return str_fmt(buf, cap, "From %s %s %s %2u %02u:%02u:%02u %lld\n",
	    n > 0 ? s : "MAILER-DAEMON", date_wday_names[when.wday],
	    date_month_names[when.month - 1], when.day, when.hour, when.min, when.sec,
	    (long long)when.year);
}

/* Up to n bytes of input: the head first, then the fd. 0 at EOF, -1 on error. */
static ssize_t
mbox_in_read(struct mbox_in *in, char *buf, size_t n)
{
	if (in->head_len == 0) {
		return read_full(in->fd, buf, n);
	}
	if (n > in->head_len) {
		n = in->head_len;
	}
	memcpy(buf, in->head, n);
	in->head += n;
	in->head_len -= n;
	return (ssize_t)n;
}

/* Copy the input through CRLF->LF and the quoter; -1 with errno EFBIG once the output
 * passes limit bytes, EINVAL when the input holds nothing but line ends. */
static int
mbox_copy_body(struct mbox_out *o, struct mbox_in *in, uint64_t limit)
{
	char *buf = o->buf + MBOX_IO_BUF;
	struct mbox_quoter q = { 0, 0, 0 };
	struct mbox_hdrf h;
	int cr = 0, content = 0;
	ssize_t got;
	size_t n, i;
	char *p;

	memset(&h, 0, sizeof(h));
	do {
		/* buf[0] holds a CR that ended the previous chunk, when there was one. */
		buf[0] = '\r';
		got = mbox_in_read(in, buf + 1, MBOX_IN_CHUNK - 1);
		if (got < 0) {
			return -1;
		}
		p = buf + !cr;
		n = mbox_crlf(p, (size_t)got + (size_t)cr, got == 0, &cr);
		mbox_no_nul(p, n);
		for (i = 0; i < n && !content; i++) {
			content = p[i] != '\n' && p[i] != '\r';
		}
		if (mbox_hdrf(o, &q, &h, p, n) != 0) {
			return -1;
		}
		if (o->total > limit) {
			errno = EFBIG;
			return -1;
		}
	} while (got > 0);
	if (!content) {
		errno = EINVAL;
		return -1;
	}
	if ((h.held > 0 && mbox_hdrf_release(o, &q, &h) != 0) ||
	    (!q.mid && mbox_quote_release(o, &q, 0) != 0)) {
		return -1;
	}
	return 0;
}

int
mbox_write_message(int out_fd, struct mbox_in *in, const char *sender, int64_t date,
    uint64_t max_size, uint64_t *written)
{
	struct mbox_out o;
	char from[MBOX_SENDER_MAX + 64];
	int n = mbox_from_line(from, sizeof(from), sender, date);
	int rc = -1;

	o.fd = out_fd;
	o.len = 0;
	o.total = 0;
	o.last = -1;
	o.buf = malloc(MBOX_IO_BUF + MBOX_IN_CHUNK);
	if (o.buf == NULL || n < 0 || mbox_out_put(&o, from, (size_t)n) != 0) {
		goto out;
	}
	if (mbox_copy_body(&o, in, max_size + (uint64_t)n) != 0) {
		goto out;
	}
	/* A final line without LF gets one, then the blank separator line. */
	if ((o.last != '\n' && mbox_out_put(&o, "\n", 1) != 0) ||
	    mbox_out_put(&o, "\n", 1) != 0 || mbox_out_flush(&o) != 0) {
		goto out;
	}
	rc = 0;
out:
	free(o.buf);
	*written = o.total - o.len;
	return rc;
}

int
mbox_prepare_append(int fd, uint64_t size, uint64_t *new_size)
{
	char b[2];
	ssize_t r;
	size_t add = 0;

	*new_size = size;
	if (size == 0) {
		return 0;
	}
	r = pread_full(fd, b, size >= 2 ? 2 : 1, (off_t)(size >= 2 ? size - 2 : 0));
	if (r != (size >= 2 ? 2 : 1)) {
		if (r >= 0) {
			errno = EIO;
		}
		return -1;
	}
	if (b[r - 1] != '\n') {
		add = 2;
	} else if (r == 2 && b[0] != '\n') {
		add = 1;
	}
	if (add > 0 && pwrite_all(fd, "\n\n", add, (off_t)size) != 0) {
		return -1;
	}
	*new_size = size + add;
	return 0;
}
