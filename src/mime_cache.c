/*
 * The per-folder structure cache <side_base>.mime: a 32-byte header (magic, version,
 * UIDVALIDITY, CRC-32C) then append-only records, each CRC-32C checked, written under an
 * exclusive flock in one pwrite. A record that fails its check is a miss, a torn tail is
 * cut, never synced: the file can always be rebuilt from the mbox. Runs unprivileged.
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
#include "side.h"
#include "util.h"

#define MC_MAGIC	"MNKMIME1"
#define MC_VERSION	1
#define MC_HEAD		32
/* Record: magic, len, uid, fingerprint, size, nspans, pad, three text lengths; CRC at the end. */
#define MC_REC_MAGIC	0x3152434du
#define MC_REC_HEAD	40
#define MC_SPAN		16
#define MC_REC_MIN	(MC_REC_HEAD + 4)
#define MC_REC_MAX	(MC_REC_MIN + MIME_PARTS_MAX * MC_SPAN + 2 * MIME_WIRE_MAX)
/* First read of a record: most ENVELOPE + BODY + BODYSTRUCTURE texts fit. */
#define MC_READ		4096
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
	want = (uint64_t)MC_REC_MIN + (uint64_t)get_le16(h + 24) * MC_SPAN + get_le32(h + 28) +
	    get_le32(h + 32) + get_le32(h + 36);
	return want == len && len <= MC_REC_MAX ? len : 0;
}

/*
 * Index records appended since c->seen (caller holds the flock); cut a torn tail.
 * Heads are picked out of MBOX_IO_BUF reads: one system call per ~50 records at SELECT.
 */
static int
mc_catch_up(struct mime_cache *c)
{
	struct stat st;
	unsigned char *buf;
	uint32_t at = 0, got = 0;	/* buf holds file bytes [at, at + got) */
	int rc = 0;

	if (fstat(c->fd, &st) != 0 || (buf = malloc(MBOX_IO_BUF)) == NULL) {
		return -1;
	}
	while (rc == 0 && (uint64_t)c->seen + MC_REC_HEAD <= (uint64_t)st.st_size) {
		uint32_t len;
		ssize_t n;

		if (c->seen < at || c->seen + MC_REC_HEAD > at + got) {
			if ((n = pread_full(c->fd, buf, MBOX_IO_BUF, c->seen)) < MC_REC_HEAD) {
				rc = -1;
				break;
			}
			at = c->seen;
			got = (uint32_t)n;
		}
		len = mc_rec_len(buf + (c->seen - at));
		if (len == 0 || (uint64_t)c->seen + len > (uint64_t)st.st_size) {
			break;
		}
		rc = mc_slot_set(c, get_le32(buf + (c->seen - at) + 8), c->seen);
		c->seen += len;
	}
	free(buf);
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
	struct stat st;
	int rc = -1;

	c->fd = open(c->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
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
	c->seen = MC_HEAD;
	if (fstat(c->fd, &st) == 0 && mc_catch_up(c) == 0) {
		c->ino = (uint64_t)st.st_ino;
		rc = 0;
	}
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
	if (c->fd >= 0) {
		close(c->fd);
	}
	free(c->slot);
	free(c->rec);
	free(c->spans);
	c->fd = -1;
	c->slot = NULL;
	c->rec = NULL;
	c->spans = NULL;
	c->nslot = c->slot_cap = c->rec_cap = c->spans_cap = 0;
}

/* A prune by another session replaced the file: follow it. */
static int
mc_follow(struct mime_cache *c)
{
	struct stat st;

	if (stat(c->path, &st) != 0 || (uint64_t)st.st_ino == c->ino) {
		return 0;
	}
	close(c->fd);
	return mc_load(c);
}

/* Point out at the record in c->rec (already checked). */
static int
mc_decode(struct mime_cache *c, struct mime_cached *out)
{
	const unsigned char *r = c->rec, *q;
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
	out->body = out->envelope + out->envelope_len;
	out->body_len = get_le32(r + 32);
	out->bodystructure = out->body + out->body_len;
	out->bodystructure_len = get_le32(r + 36);
	return 0;
}

/*
 * Read and check the record at off; 1 if it is uid's with fingerprint fp. One read
 * of MC_READ bytes gets most records whole.
 */
static int
mc_read(struct mime_cache *c, uint32_t off, uint32_t uid, uint64_t fp)
{
	ssize_t got = -1;
	uint32_t len;

	if (array_grow(&c->rec, &c->rec_cap, MC_READ, 1, MC_READ, MC_REC_MAX) != 0 ||
	    (got = pread_full(c->fd, c->rec, MC_READ, off)) < MC_REC_HEAD) {
		return got < 0 ? -1 : 0;
	}
	if ((len = mc_rec_len(c->rec)) == 0 || get_le32(c->rec + 8) != uid ||
	    get_le64(c->rec + 12) != fp) {
		return 0;
	}
	if (len > (uint32_t)got &&
	    (array_grow(&c->rec, &c->rec_cap, len, 1, MC_READ, MC_REC_MAX) != 0 ||
	    pread_full(c->fd, c->rec + got, len - (size_t)got, off + (off_t)got) !=
	    (ssize_t)(len - (size_t)got))) {
		return -1;
	}
	return get_le32(c->rec + len - 4) == crc32c(0, c->rec, len - 4);
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
	int rc;

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
	rc = mc_read(c, c->slot[i].off, uid, fp);
	if (rc == 1 && mc_decode(c, out) != 0) {
		rc = -1;
	}
	return rc;
}

/* Build the record of message m into c->rec; its length, 0 on failure. */
static uint32_t
mc_build(struct mime_cache *c, const struct mime_msg *m, uint32_t uid, uint64_t fp)
{
	struct imap_buf t[3];
	unsigned char *r, *q;
	uint64_t len = MC_REC_MIN + (uint64_t)m->nparts * MC_SPAN;

	for (int k = 0; k < 3; k++) {
		imap_buf_init(&t[k], MIME_WIRE_MAX);
	}
	if (imap_envelope(&t[0], m, 0) != 0 || imap_bodystructure(&t[1], m, 0, 0) != 0 ||
	    imap_bodystructure(&t[2], m, 0, 1) != 0 ||
	    array_grow(&c->rec, &c->rec_cap, len + t[0].len + t[1].len + t[2].len, 1,
	    MC_READ, MC_REC_MAX) != 0) {
		len = 0;
		goto out;
	}
	r = c->rec;
	put_le32(r, MC_REC_MAGIC);
	put_le32(r + 8, uid);
	put_le64(r + 12, fp);
	put_le32(r + 20, m->size);
	put_le16(r + 24, m->nparts);
	put_le16(r + 26, 0);
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
	for (int k = 0; k < 3; k++) {
		put_le32(r + 28 + 4 * k, (uint32_t)t[k].len);
		memcpy(q, t[k].p, t[k].len);
		q += t[k].len;
		len += t[k].len;
	}
	put_le32(r + 4, (uint32_t)len);
	put_le32(r + len - 4, crc32c(0, r, (size_t)len - 4));
out:
	for (int k = 0; k < 3; k++) {
		imap_buf_free(&t[k]);
	}
	return (uint32_t)len;
}

/* Append the record in c->rec; failures only cost a later reparse, so they are logged. */
static void
mc_append(struct mime_cache *c, uint32_t uid, uint32_t len)
{
	if (mc_follow(c) != 0 || mc_lock(c, LOCK_EX) != 0) {
		return;
	}
	if (mc_catch_up(c) == 0 && (uint64_t)c->seen + len <= UINT32_MAX) {
		if (pwrite_all(c->fd, c->rec, len, c->seen) == 0 &&
		    mc_slot_set(c, uid, c->seen) == 0) {
			c->seen += len;
		} else {
			log_warn("mime cache %s: append", c->path);
			if (ftruncate(c->fd, c->seen) != 0) {
				log_warn("mime cache %s: truncate", c->path);
			}
		}
	}
	flock(c->fd, LOCK_UN);
}

int
mime_cache_put(struct mime_cache *c, uint32_t uid, uint64_t fp, struct mbox_reader *r,
    struct mime_cached *out)
{
	struct mime_msg m;
	uint32_t len;

	if (mime_parse(&m, r, NULL, NULL) != 0) {
		mime_msg_free(&m);
		return -1;
	}
	len = mc_build(c, &m, uid, fp);
	mime_msg_free(&m);
	if (len == 0) {
		log_warnx("mime cache %s: uid %u too large to describe", c->path, uid);
		return -1;
	}
	if (c->fd >= 0) {
		mc_append(c, uid, len);
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
	    (fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		return -1;
	}
	mc_head(h, c->uidvalidity);
	if (pwrite_all(fd, h, MC_HEAD, 0) != 0) {
		goto out;
	}
	for (size_t i = 0; i < c->nslot; i++) {
		uint32_t len;

		while (j < n && uids[j] < c->slot[i].uid) {
			j++;
		}
		if (j == n || uids[j] != c->slot[i].uid ||
		    pread_full(c->fd, h, MC_REC_HEAD, c->slot[i].off) != MC_REC_HEAD ||
		    mc_read(c, c->slot[i].off, c->slot[i].uid, get_le64(h + 12)) != 1) {
			continue;
		}
		len = get_le32(c->rec + 4);
		if (pwrite_all(fd, c->rec, len, at) != 0) {
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
