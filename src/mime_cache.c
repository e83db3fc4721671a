/*
 * The per-folder structure cache <side_base>.mime: a 32-byte header (magic, version,
 * UIDVALIDITY, CRC-32C) then append-only records, each CRC-32C checked, queued and
 * written a window at a time under an exclusive flock, read back through a window. A
 * record that fails its check is a miss, a torn tail is cut, never synced: the file can
 * always be rebuilt from the mbox. Runs unprivileged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap_envelope.h"
#include "log.h"
#include "mime_cache.h"
#include "mime_cached.h"
#include "imap_string.h"
#include "side.h"
#include "util.h"

#define MC_MAGIC	"MNKMIME1"
#define MC_VERSION	6
#define MC_HEAD		32
/*
 * Record: magic, len, uid, fingerprint, size, nspans, pad, three text lengths (ENVELOPE,
 * BODYSTRUCTURE, search fields); CRC at the end. BODY is BODYSTRUCTURE less its
 * extension data, derived when asked (imap_body_of).
 */
#define MC_REC_MAGIC	0x3252434du
#define MC_REC_HEAD	40
#define MC_SPAN		16
#define MC_REC_MIN	(MC_REC_HEAD + 4)
#define MC_REC_MAX	(MC_REC_MIN + MIME_PARTS_MAX * MC_SPAN + 3 * MIME_WIRE_MAX)
/* First size of the record buffer: most records fit. */
#define MC_REC_FIRST	4096
/* Record flags (the u16 at 26). */
#define MC_SENDER_FROM	1
/* Slot offsets: the file's size limit, and the bit for a record already checked. */
#define MC_FILE_MAX	0x7fffffffu
#define MC_CHECKED	0x80000000u
/* Prune only files with at least this many records: rewriting small ones gains nothing. */
#define MC_PRUNE_MIN	64

static void
mc_head(unsigned char *h, uint32_t uidvalidity)
{
	memset(h, 0, MC_HEAD);
	memcpy(h, MC_MAGIC, 8);
	put_le32(h + 8, MC_VERSION);
	put_le32(h + 12, uidvalidity);
	put_le32(h + 28, crc32c(0, h, 28));
}

/* Is the file's header ours, for this UIDVALIDITY? */
static int
mc_head_ok(int fd, uint32_t uidvalidity)
{
	unsigned char h[MC_HEAD], want[MC_HEAD];

	mc_head(want, uidvalidity);
	return pread_full(fd, h, MC_HEAD, 0) == MC_HEAD && memcmp(h, want, MC_HEAD) == 0;
}

/* Index of the first slot whose uid is not below uid (nslot if none). */
static size_t
mc_slot_lower(const struct mime_cache *c, uint32_t uid)
{
	if (c->nslot > 0 && c->slot[c->nslot - 1].uid < uid) {
		return c->nslot;	/* appends come mostly in UID order */
	}
	return uid_lower(c->slot, c->nslot, sizeof(*c->slot), uid);
}

/* Insert or replace the slot of uid (kept sorted). */
static int
mc_slot_set(struct mime_cache *c, uint32_t uid, uint32_t off)
{
	size_t lo = mc_slot_lower(c, uid);

	if (lo < c->nslot && c->slot[lo].uid == uid) {
		c->slot[lo].off = off;
		return 0;
	}
	if (array_grow(&c->slot, &c->slot_cap, c->nslot + 1, sizeof(*c->slot), 256,
	    FOLDER_MSGS_MAX) < 0) {
		return -1;
	}
	memmove(c->slot + lo + 1, c->slot + lo, (c->nslot - lo) * sizeof(*c->slot));
	c->slot[lo].uid = uid;
	c->slot[lo].off = off;
	c->nslot++;
	return 0;
}

static long
mc_slot_find(const struct mime_cache *c, uint32_t uid)
{
	size_t lo = mc_slot_lower(c, uid);

	return lo < c->nslot && c->slot[lo].uid == uid ? (long)lo : -1;
}

/* Total length a record head announces, 0 if the head is not a record's. */
static uint32_t
mc_rec_len(const unsigned char *h)
{
	uint64_t want;
	uint32_t len = get_le32(h + 4);

	if (get_le32(h) != MC_REC_MAGIC || get_le16(h + 24) > MIME_PARTS_MAX) {
		return 0;
	}
	want = (uint64_t)MC_REC_MIN + (uint64_t)get_le16(h + 24) * MC_SPAN;
	for (int k = 0; k < MIME_CACHE_TEXTS; k++) {
		want += get_le32(h + 28 + 4 * k);
	}
	return want == len && len <= MC_REC_MAX ? len : 0;
}

/* Read the window at off; -1 on a read error. */
static int
mc_fill(struct mime_cache *c, uint32_t off)
{
	ssize_t got;

	c->win_len = 0;
	if (c->win == NULL && (c->win = malloc(MIME_CACHE_WINDOW)) == NULL) {
		return -1;
	}
	if ((got = pread_full(c->fd, c->win, MIME_CACHE_WINDOW, off)) < 0) {
		return -1;
	}
	c->win_at = off;
	c->win_len = (uint32_t)got;
	return 0;
}

/*
 * Index records appended since c->seen (caller holds the flock); cut a torn tail.
 * Heads are picked out of the read window: one system call per ~40 records at SELECT.
 */
static int
mc_catch_up(struct mime_cache *c)
{
	struct stat st;
	int rc = 0;

	if (fstat(c->fd, &st) != 0) {
		return -1;
	}
	while (rc == 0 && (uint64_t)c->seen + MC_REC_HEAD <= (uint64_t)st.st_size) {
		const unsigned char *h;
		uint32_t len;

		if (c->win_len < MC_REC_HEAD || c->seen < c->win_at ||
		    (uint64_t)c->seen + MC_REC_HEAD > (uint64_t)c->win_at + c->win_len) {
			if (mc_fill(c, c->seen) != 0 || c->win_len < MC_REC_HEAD) {
				rc = -1;
				break;
			}
		}
		h = c->win + (c->seen - c->win_at);
		len = mc_rec_len(h);
		if (len == 0 || (uint64_t)c->seen + len > (uint64_t)st.st_size) {
			break;
		}
		rc = mc_slot_set(c, get_le32(h + 8), c->seen);
		c->seen += len;
	}
	if (rc != 0) {
		return -1;
	}
	if ((uint64_t)c->seen < (uint64_t)st.st_size && ftruncate(c->fd, c->seen) != 0) {
		log_warn("mime cache %s: truncate", c->path);
		return -1;
	}
	return 0;
}

static int
mc_lock(struct mime_cache *c, int op)
{
	while (flock(c->fd, op) != 0) {
		if (errno != EINTR) {
			log_warn("mime cache %s: flock", c->path);
			return -1;
		}
	}
	return 0;
}

/* Open path, start it afresh if it is not ours, and index it. */
static int
mc_load(struct mime_cache *c)
{
	unsigned char h[MC_HEAD];
	int rc = -1;

	c->fd = open(c->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (c->fd < 0) {
		log_warn("mime cache %s: open", c->path);
		return -1;
	}
	if (mc_lock(c, LOCK_EX) != 0) {
		return -1;
	}
	if (!mc_head_ok(c->fd, c->uidvalidity)) {
		mc_head(h, c->uidvalidity);
		if (ftruncate(c->fd, 0) != 0 || pwrite_all(c->fd, h, MC_HEAD, 0) != 0) {
			log_warn("mime cache %s: reset", c->path);
			goto out;
		}
	}
	c->nslot = 0;
	c->win_len = 0;
	c->seen = MC_HEAD;
	rc = mc_catch_up(c);
out:
	flock(c->fd, LOCK_UN);
	return rc;
}

int
mime_cache_open(struct mime_cache *c, const char *side_base, uint32_t uidvalidity)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->uidvalidity = uidvalidity;
	if (side_path(c->path, sizeof(c->path), side_base, SIDE_MIME) < 0) {
		return -1;
	}
	if (mc_load(c) != 0) {
		mime_cache_close(c);
		return -1;
	}
	return 0;
}

void
mime_cache_close(struct mime_cache *c)
{
	mime_cache_flush(c);
	free(c->pend);
	c->pend = NULL;
	c->pend_cap = 0;
	if (c->fd >= 0) {
		close(c->fd);
	}
	free(c->slot);
	free(c->rec);
	free(c->win);
	free(c->spans);
	mime_parser_free(c->ps);
	mime_msg_free(&c->m);
	for (int k = 0; k < MIME_CACHE_TEXTS; k++) {
		imap_buf_free(&c->t[k]);
	}
	free(c->dec);
	c->ps = NULL;
	c->dec = NULL;
	c->fd = -1;
	c->slot = NULL;
	c->rec = NULL;
	c->win = NULL;
	c->win_len = 0;
	c->spans = NULL;
	c->nslot = c->slot_cap = c->rec_cap = c->spans_cap = 0;
}

/* A prune by another session replaced the file (ours has no name left): follow it. */
static int
mc_follow(struct mime_cache *c)
{
	struct stat st;

	if (fstat(c->fd, &st) != 0 || st.st_nlink > 0) {
		return 0;
	}
	close(c->fd);
	return mc_load(c);
}

/* Point out at the record c->cur (already checked). */
static int
mc_decode(struct mime_cache *c, struct mime_cached *out)
{
	const unsigned char *r = c->cur, *q;
	uint16_t n = get_le16(r + 24);

	if (array_grow(&c->spans, &c->spans_cap, n == 0 ? 1 : n, sizeof(*c->spans), 8,
	    MIME_PARTS_MAX) != 0) {
		return -1;
	}
	q = r + MC_REC_HEAD;
	for (uint16_t i = 0; i < n; i++, q += MC_SPAN) {
		c->spans[i].hdr_off = get_le32(q);
		c->spans[i].body_off = get_le32(q + 4);
		c->spans[i].body_len = get_le32(q + 8);
		c->spans[i].parent = get_le16(q + 12);
		c->spans[i].kind = q[14];
		c->spans[i].enc = q[15];
	}
	out->spans = c->spans;
	out->nspans = n;
	out->size = get_le32(r + 20);
	out->envelope = (const char *)q;
	out->envelope_len = get_le32(r + 28);
	out->sender_from = get_le16(r + 26) & MC_SENDER_FROM;
	out->bodystructure = out->envelope + out->envelope_len;
	out->bodystructure_len = get_le32(r + 32);
	out->search = out->bodystructure + out->bodystructure_len;
	out->search_len = get_le32(r + 36);
	return 0;
}

/*
 * The record at off as the window holds it (one longer than the window: c->rec); 1 if
 * it is uid's. *checked in: its CRC was checked already; out: checked in the window.
 */
static int
mc_look(struct mime_cache *c, uint32_t off, uint32_t uid, uint64_t fp, int *checked)
{
	const unsigned char *r = c->win + (off - c->win_at);
	uint64_t end = (uint64_t)c->win_at + c->win_len;
	uint32_t len;

	if ((len = mc_rec_len(r)) == 0 || get_le32(r + 8) != uid || get_le64(r + 12) != fp) {
		return 0;
	}
	if (off + (uint64_t)len > end && len <= MIME_CACHE_WINDOW) {
		if (mc_fill(c, off) != 0) {
			return -1;
		}
		r = c->win;
		end = (uint64_t)off + c->win_len;
	}
	if (off + (uint64_t)len > end) {
		if (array_grow(&c->rec, &c->rec_cap, len, 1, MC_REC_FIRST, MC_REC_MAX) != 0 ||
		    pread_full(c->fd, c->rec, len, off) != (ssize_t)len) {
			return -1;
		}
		r = c->rec;
		*checked = 0;	/* the window may still hold an older state of these bytes */
	}
	c->cur = r;
	if (!*checked && get_le32(r + len - 4) != crc32c(0, r, len - 4)) {
		return 0;
	}
	*checked = r != c->rec;
	return 1;
}

/*
 * Read and check the record at off; 1 if it is uid's with fingerprint fp. Records come
 * from the window; a miss there is read again, since the window may show a torn tail
 * that another session has cut and written over. A record once checked in the window
 * is not checked again: the bytes of a record never change, and every later window
 * was read after that check.
 */
static int
mc_read(struct mime_cache *c, uint32_t off, uint32_t uid, uint64_t fp, int *checked)
{
	int rc = 0, was = *checked;

	if (c->win_len >= MC_REC_HEAD && off >= c->win_at &&
	    (uint64_t)off + MC_REC_HEAD <= (uint64_t)c->win_at + c->win_len &&
	    (rc = mc_look(c, off, uid, fp, checked)) != 0) {
		return rc;
	}
	if (mc_fill(c, off) != 0) {
		return -1;
	}
	*checked = was;
	return c->win_len >= MC_REC_HEAD ? mc_look(c, off, uid, fp, checked) : 0;
}

uint64_t
mime_cache_key(const struct mbox_entry *e)
{
	/* an odd 64-bit constant (2^64 / golden ratio) spreads the size over all bits */
	return e->fingerprint ^ ((uint64_t)e->wire_size * 0x9e3779b97f4a7c15u);
}

int
mime_cache_get(struct mime_cache *c, uint32_t uid, uint64_t fp, struct mime_cached *out)
{
	long i = mc_slot_find(c, uid);
	int rc, checked;

	if (c->fd < 0) {
		return 0;	/* no usable file: every message is parsed */
	}
	if (i < 0) {
		if (mc_follow(c) != 0 || mc_lock(c, LOCK_EX) != 0) {
			return -1;
		}
		rc = mc_catch_up(c);
		flock(c->fd, LOCK_UN);
		if (rc != 0 || (i = mc_slot_find(c, uid)) < 0) {
			return rc;
		}
	}
	checked = (c->slot[i].off & MC_CHECKED) != 0;
	rc = mc_read(c, c->slot[i].off & MC_FILE_MAX, uid, fp, &checked);
	if (rc == 1 && checked) {
		c->slot[i].off |= MC_CHECKED;
	}
	if (rc == 1 && mc_decode(c, out) != 0) {
		rc = -1;
	}
	return rc;
}

/* Search field builder: the entries go to b, decoded text through dec (c->dec). */
struct mc_sf {
	struct imap_buf *b;
	char *dec;		/* MIME_FIELD_MAX bytes */
	uint8_t f;
	size_t val, vlen;	/* the field's decoded value in b */
};

/*
 * One entry of field sf->f: s[0..n) with its RFC 2047 encoded words decoded. A parsed
 * address or name found as is in the field's value is left out: whatever matches it
 * matches the value.
 */
static int
mc_sf_put(struct mc_sf *sf, const char *s, size_t n, int parsed)
{
	unsigned char h[MIME_CACHED_SF_HEAD];
	size_t len = mime_decode_words(s, n, sf->dec, MIME_FIELD_MAX);

	if (parsed && sf->b->err == 0 && len > 0 &&
	    memmem(sf->b->p + sf->val, sf->vlen, sf->dec, len) != NULL) {
		return 0;
	}
	if (!parsed) {
		sf->val = sf->b->len + MIME_CACHED_SF_HEAD;
		sf->vlen = len < UINT16_MAX ? len : UINT16_MAX;
	}
	h[0] = sf->f;
	put_le16(h + 1, (uint16_t)(len < UINT16_MAX ? len : UINT16_MAX));
	imap_buf_add(sf->b, (const char *)h, MIME_CACHED_SF_HEAD);
	return imap_buf_add(sf->b, sf->dec, get_le16(h + 1));
}

/* An address as two more entries: local@domain and the name, so SEARCH sees them parsed. */
static int
mc_sf_addr(void *ctx, const char *name, const char *adl, const char *mbox, const char *host)
{
	struct mc_sf *sf = ctx;
	struct imap_buf *b = sf->b;
	unsigned char h[MIME_CACHED_SF_HEAD];
	size_t at = b->len, ml, hl;

	(void)adl;
	if (mbox == NULL || host == NULL) {
		return 0;	/* a group's start or end */
	}
	ml = strlen(mbox);
	hl = strlen(host);
	if (ml + 1 + hl <= UINT16_MAX && ml + hl > 0) {
		h[0] = sf->f;
		put_le16(h + 1, (uint16_t)(ml + (hl > 0) + hl));
		imap_buf_add(b, (const char *)h, MIME_CACHED_SF_HEAD);
		imap_buf_add(b, mbox, ml);
		imap_buf_add(b, "@", hl > 0);
		imap_buf_add(b, host, hl);
		/* as in mc_sf_put: not again when the value holds it as is */
		if (b->err == 0 && memmem(b->p + sf->val, sf->vlen, b->p + at + MIME_CACHED_SF_HEAD,
		    b->len - at - MIME_CACHED_SF_HEAD) != NULL) {
			b->len = at;
		}
	}
	return b->err ? -1 : name != NULL ? mc_sf_put(sf, name, strlen(name), 1) : 0;
}

/*
 * The header fields SEARCH asks most (RFC 3501 6.4.4 FROM, TO, CC, BCC, SUBJECT and the
 * SENT* dates), decoded: each field's value, then for address fields each address.
 */
static int
mc_search_fields(struct mime_cache *c, struct imap_buf *b, const struct mime_msg *m)
{
	static const enum mime_field kept[] = { MIME_F_DATE, MIME_F_SUBJECT, MIME_F_FROM,
	    MIME_F_TO, MIME_F_CC, MIME_F_BCC };
	struct mc_sf sf = { b, NULL, 0, 0, 0 };
	int rc;

	if (c->dec == NULL) {
		c->dec = malloc(MIME_FIELD_MAX);
	}
	sf.dec = c->dec;
	rc = sf.dec == NULL ? -1 : 0;

	for (size_t k = 0; k < ARRAY_LEN(kept) && rc == 0; k++) {
		const char *v = mime_field(m, 0, kept[k]);

		sf.f = (uint8_t)kept[k];
		/* a plain ASCII date or subject is in the ENVELOPE text as it is: read there */
		if (v == NULL || (k < 2 && strstr(v, "=?") == NULL &&
		    imap_string_quotable(v, strlen(v), 0))) {
			continue;
		}
		rc = mc_sf_put(&sf, v, strlen(v), 0);
		if (rc == 0 && kept[k] >= MIME_F_FROM) {
			rc = imap_addr_each(v, mc_sf_addr, &sf);
		}
	}
	return rc != 0 || b->err ? -1 : 0;
}

/*
 * Most messages have no Sender or Reply-To, and ENVELOPE repeats the From list for both:
 * when both equal it, cut them out of the text t (a third of it) and say so.
 */
static int
mc_sender_from(struct imap_buf *t)
{
	size_t end[4], fl;

	if (mime_cached_env_lists(t->p, t->len, end) != 0) {
		return 0;
	}
	fl = end[1] - end[0];	/* " (from list)", its space included */
	if (end[2] - end[1] != fl || end[3] - end[2] != fl ||
	    memcmp(t->p + end[0], t->p + end[1], fl) != 0 ||
	    memcmp(t->p + end[0], t->p + end[2], fl) != 0) {
		return 0;
	}
	memmove(t->p + end[1], t->p + end[3], t->len - end[3]);
	t->len -= end[3] - end[1];
	return 1;
}

/* Build the record of message m into c->rec; its length, 0 on failure. */
static uint32_t
mc_build(struct mime_cache *c, const struct mime_msg *m, uint32_t uid, uint64_t fp)
{
	struct imap_buf *t = c->t;
	unsigned char *r, *q;
	uint64_t len = MC_REC_MIN + (uint64_t)m->nparts * MC_SPAN;

	for (int k = 0; k < MIME_CACHE_TEXTS; k++) {
		t[k].len = 0;
		t[k].err = 0;
		t[k].max = MIME_WIRE_MAX;
	}
	if (imap_envelope(&t[0], m, 0) != 0 || imap_bodystructure(&t[1], m, 0, 1) != 0 ||
	    mc_search_fields(c, &t[2], m) != 0 ||
	    array_grow(&c->rec, &c->rec_cap, len + t[0].len + t[1].len + t[2].len, 1,
	    MC_REC_FIRST, MC_REC_MAX) != 0) {
		return 0;
	}
	r = c->rec;
	c->cur = r;
	put_le32(r, MC_REC_MAGIC);
	put_le32(r + 8, uid);
	put_le64(r + 12, fp);
	put_le32(r + 20, m->size);
	put_le16(r + 24, m->nparts);
	put_le16(r + 26, mc_sender_from(&t[0]) ? MC_SENDER_FROM : 0);
	q = r + MC_REC_HEAD;
	for (uint16_t i = 0; i < m->nparts; i++, q += MC_SPAN) {
		const struct mime_span *s = &m->parts[i].s;

		put_le32(q, s->hdr_off);
		put_le32(q + 4, s->body_off);
		put_le32(q + 8, s->body_len);
		put_le16(q + 12, s->parent);
		q[14] = s->kind;
		q[15] = s->enc;
	}
	for (int k = 0; k < MIME_CACHE_TEXTS; k++) {
		put_le32(r + 28 + 4 * k, (uint32_t)t[k].len);
		if (t[k].len > 0) {
			memcpy(q, t[k].p, t[k].len);
		}
		q += t[k].len;
		len += t[k].len;
	}
	put_le32(r + 4, (uint32_t)len);
	put_le32(r + len - 4, crc32c(0, r, (size_t)len - 4));
	return (uint32_t)len;
}

void
mime_cache_flush(struct mime_cache *c)
{
	size_t at;

	if (c->pend_len == 0 || c->fd < 0 || mc_follow(c) != 0 || mc_lock(c, LOCK_EX) != 0) {
		c->pend_len = 0;
		return;
	}
	if (mc_catch_up(c) == 0 && (uint64_t)c->seen + c->pend_len <= MC_FILE_MAX) {
		if (pwrite_all(c->fd, c->pend, c->pend_len, c->seen) == 0) {
			for (at = 0; at < c->pend_len; at += get_le32(c->pend + at + 4)) {
				if (mc_slot_set(c, get_le32(c->pend + at + 8), c->seen + (uint32_t)at) != 0) {
					break;	/* out of memory: those records are a miss here only */
				}
			}
			c->seen += (uint32_t)c->pend_len;
		} else {
			log_warn("mime cache %s: append", c->path);
			if (ftruncate(c->fd, c->seen) != 0) {
				log_warn("mime cache %s: truncate", c->path);
			}
		}
	}
	flock(c->fd, LOCK_UN);
	c->pend_len = 0;
}

/*
 * Queue the record in c->rec, written with those before it once they fill a window
 * (one lock and one write for ~40 records); failures only cost a later reparse.
 */
static void
mc_append(struct mime_cache *c, uint32_t len)
{
	if (array_grow(&c->pend, &c->pend_cap, c->pend_len + len, 1, MIME_CACHE_WINDOW,
	    MC_REC_MAX + MIME_CACHE_WINDOW) != 0) {
		return;
	}
	memcpy(c->pend + c->pend_len, c->rec, len);
	c->pend_len += len;
	if (c->pend_len >= MIME_CACHE_WINDOW) {
		mime_cache_flush(c);
	}
}

int
mime_cache_put(struct mime_cache *c, uint32_t uid, uint64_t fp, const struct mime_src *r,
    struct mime_cached *out)
{
	uint32_t len;

	if (c->ps == NULL && (c->ps = mime_parser_new()) == NULL) {
		return -1;
	}
	if (mime_parse_with(c->ps, &c->m, r, NULL, NULL) != 0) {
		return -1;
	}
	len = mc_build(c, &c->m, uid, fp);
	if (len == 0) {
		log_warnx("mime cache %s: uid %u too large to describe", c->path, uid);
		return -1;
	}
	if (c->fd >= 0) {
		mc_append(c, len);
	}
	return mc_decode(c, out);
}

/* Copy the live records into a new file at path + ".new" and rename it over path. */
static int
mc_rewrite(struct mime_cache *c, const uint32_t *uids, size_t n)
{
	char tmp[PATH_LEN + 8];
	unsigned char h[MC_REC_HEAD];
	uint32_t at = MC_HEAD;
	size_t j = 0;
	int fd, rc = -1;

	if (str_fmt(tmp, sizeof(tmp), "%s.new", c->path) < 0 ||
	    (fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		return -1;
	}
	mc_head(h, c->uidvalidity);
	if (pwrite_all(fd, h, MC_HEAD, 0) != 0) {
		goto out;
	}
	for (size_t i = 0; i < c->nslot; i++) {
		uint32_t len, off = c->slot[i].off & MC_FILE_MAX;
		int checked = 0;

		while (j < n && uids[j] < c->slot[i].uid) {
			j++;
		}
		if (j == n || uids[j] != c->slot[i].uid ||
		    pread_full(c->fd, h, MC_REC_HEAD, off) != MC_REC_HEAD ||
		    mc_read(c, off, c->slot[i].uid, get_le64(h + 12), &checked) != 1) {
			continue;
		}
		len = get_le32(c->cur + 4);
		if (pwrite_all(fd, c->cur, len, at) != 0) {
			goto out;
		}
		at += len;
	}
	rc = rename(tmp, c->path);
out:
	close(fd);
	if (rc != 0) {
		unlink(tmp);
	}
	return rc;
}

int
mime_cache_prune(struct mime_cache *c, const uint32_t *uids, size_t n)
{
	size_t live = 0, j = 0;
	int rc;

	for (size_t i = 0; i < c->nslot; i++) {
		while (j < n && uids[j] < c->slot[i].uid) {
			j++;
		}
		live += j < n && uids[j] == c->slot[i].uid;
	}
	mime_cache_flush(c);
	if (c->fd < 0 || c->nslot < MC_PRUNE_MIN || live * 2 >= c->nslot) {
		return 0;
	}
	if (mc_lock(c, LOCK_EX) != 0) {
		return -1;
	}
	rc = mc_catch_up(c) == 0 ? mc_rewrite(c, uids, n) : -1;
	flock(c->fd, LOCK_UN);
	if (rc != 0) {
		log_warn("mime cache %s: prune", c->path);
		return -1;
	}
	close(c->fd);
	return mc_load(c);
}
