/*
 * In-place compaction with a redo journal. Live bytes slide down in rounds; before a
 * round's first write its position (and a copy of the bytes it will overwrite in its own
 * source, if any) is made durable in <side>.jnl, so a redo from the journal is always
 * possible. Never root.
 */
#include "compact.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "log.h"
#include "side.h"
#include "util.h"

#define JNL_MAGIC	"mnkJNL\r\n"
#define JNL_VERSION	2
#define JNL_HDR_LEN	64
#define JNL_MOVE_LEN	24
#define JNL_SECTOR	512	/* progress slots sit in separate sectors */
#define PROG_LEN	32
/* Dead bytes past the new end that the "all moved" record checksums (was_truncated). */
#define LEFTOVER_LEN	4096

/* A compaction in progress. */
struct cjob {
	int mbox_fd;
	int jfd;
	struct mbox_lock *lock;
	struct compact_plan p;
	uint64_t prog_off;	/* progress slot 0; slot 1 a sector on, then the copy slots */
	uint32_t seq;		/* last progress sequence number written */
	uint32_t v1_chunk;	/* a format 1 journal's chunk size and direct piece */
	uint32_t v1_direct;	/* minimum; 0 for this format */
	unsigned char *buf;	/* COMPACT_BUF bytes */
	char jnl[PATH_LEN];
	char idx[PATH_LEN];
};

/* A place in the plan's stream (the moves' bytes end to end): offset t, in moves[mi] at in. */
struct cursor {
	uint64_t t;
	uint32_t mi;
	uint64_t in;
};

/* One round: stream bytes [t, t + len); the first `copy` of them go to the journal first. */
struct round {
	uint64_t t, len, copy;
};

/* Where a pass reads from or writes to. */
enum { AT_MBOX, AT_JNL, AT_NONE };

/* End of msgs[i]'s bytes: the next message's start or the indexed end of the mbox. */
static uint64_t
msg_end(const struct idx_set *img, uint32_t i)
{
	return i + 1 < img->count ? img->msgs[i + 1].e.offset : img->ms.size;
}

uint64_t
compact_dead(const struct idx_set *img)
{
	uint64_t dead = 0;
	uint32_t i;

	for (i = 0; i < img->count; i++) {
		if (img->msgs[i].flags & STORE_EXPUNGED) {
			dead += msg_end(img, i) - img->msgs[i].e.offset;
		}
	}
	return dead;
}

/* Append one move as is: stream offsets of the moves before it stay the same. */
static int
plan_push(struct compact_plan *p, uint64_t src, uint64_t dst, uint64_t len)
{
	/* Runs alternate with expunged messages: never more moves than messages. */
	if (array_grow(&p->moves, &p->cap, (size_t)p->n + 1, sizeof(*p->moves), 16,
	    FOLDER_MSGS_MAX) < 0) {
		return -1;
	}
	p->moves[p->n].src = src;
	p->moves[p->n].dst = dst;
	p->moves[p->n].len = len;
	p->n++;
	return 0;
}

/* Add a run to a plan being built, joining it to the previous run when they touch. */
static int
plan_add(struct compact_plan *p, uint64_t src, uint64_t dst, uint64_t len)
{
	struct compact_move *m = p->n > 0 ? &p->moves[p->n - 1] : NULL;

	if (m != NULL && m->src + m->len == src && m->dst + m->len == dst) {
		m->len += len;
		return 0;
	}
	return plan_push(p, src, dst, len);
}

int
compact_make_plan(const struct idx_set *img, struct compact_plan *p)
{
	uint64_t w = img->ms.size;
	uint32_t i;
	int dead = 0;

	memset(p, 0, sizeof(*p));
	p->generation = img->generation;
	p->old_size = img->ms.size;
	p->round_min = COMPACT_ROUND_MIN;
	for (i = 0; i < img->count; i++) {
		const struct store_msg *m = &img->msgs[i];
		uint64_t len = msg_end(img, i) - m->e.offset;

		if (m->flags & STORE_EXPUNGED) {
			if (!dead) {
				w = m->e.offset;
				dead = 1;
			}
		} else if (dead) {
			if (plan_add(p, m->e.offset, w, len) < 0) {
				compact_free_plan(p);
				return -1;
			}
			w += len;
		}
	}
	p->new_size = w;
	p->idx_end = w;
	return 0;
}

void
compact_free_plan(struct compact_plan *p)
{
	free(p->moves);
	p->moves = NULL;
	p->n = 0;
	p->cap = 0;
}

static uint64_t
stream_len(const struct compact_plan *p)
{
	uint64_t t = 0;
	uint32_t i;

	for (i = 0; i < p->n; i++) {
		t += p->moves[i].len;
	}
	return t;
}

/* Advance c by n bytes of the stream; it never rests at the end of a move. */
static void
cur_skip(const struct compact_plan *p, struct cursor *c, uint64_t n)
{
	c->t += n;
	while (c->mi < p->n && n >= p->moves[c->mi].len - c->in) {
		n -= p->moves[c->mi].len - c->in;
		c->mi++;
		c->in = 0;
	}
	c->in += n;
}

/*
 * The round starting at c (before the end of the stream): max(shift, round_min) bytes, or
 * what is left. Its writes end at the destination of its last byte; sources ascend, so
 * the bytes it overwrites in its own source (its copy) are a prefix of it, and none when
 * the round is no longer than the shift. Bytes whose source lies past that end stay put.
 */
static void
round_cut(const struct compact_plan *p, const struct cursor *c, uint64_t total, struct round *r)
{
	const struct compact_move *m = &p->moves[c->mi];
	uint64_t shift = m->src - m->dst, end;
	struct cursor w = *c;

	r->t = c->t;
	r->len = shift > p->round_min ? shift : p->round_min;
	if (r->len > total - c->t) {
		r->len = total - c->t;
	}
	end = m->dst + c->in + r->len;
	r->copy = 0;
	while (w.mi < p->n) {
		const struct compact_move *q = &p->moves[w.mi];
		uint64_t src = q->src + w.in, left = q->len - w.in;

		if (src + left > end) {
			r->copy += src < end ? end - src : 0;
			break;
		}
		r->copy += left;
		cur_skip(p, &w, left);
	}
}

/*
 * Carry n stream bytes from c in ascending order, a buffer at a time: read each from its
 * source in the mbox or from the journal at off + its place, write it to its destination
 * in the mbox, to the journal at off + its place, or nowhere; *crc (if not NULL) takes
 * in what was read. Ascending order never reads a byte this pass has overwritten.
 */
static int
pass(struct cjob *j, struct cursor c, uint64_t n, uint64_t off, int from, int to, uint32_t *crc)
{
	uint64_t done = 0;

	while (done < n) {
		const struct compact_move *m = &j->p.moves[c.mi];
		size_t len = COMPACT_BUF;
		ssize_t r;

		if (len > n - done) {
			len = (size_t)(n - done);
		}
		if (len > m->len - c.in) {
			len = (size_t)(m->len - c.in);
		}
		r = from == AT_JNL ? pread_full(j->jfd, j->buf, len, (off_t)(off + done)) :
		    pread_full(j->mbox_fd, j->buf, len, (off_t)(m->src + c.in));
		if (r != (ssize_t)len) {
			if (r >= 0) {
				errno = EIO;
			}
			return -1;
		}
		if (crc != NULL) {
			*crc = crc32c(*crc, j->buf, len);
		}
		if ((to == AT_MBOX && pwrite_all(j->mbox_fd, j->buf, len, (off_t)(m->dst + c.in)) < 0) ||
		    (to == AT_JNL && pwrite_all(j->jfd, j->buf, len, (off_t)(off + done)) < 0)) {
			return -1;
		}
		done += len;
		cur_skip(&j->p, &c, len);
	}
	return 0;
}

static uint64_t
journal_prog_off(uint32_t n)
{
	uint64_t end = JNL_HDR_LEN + (uint64_t)n * JNL_MOVE_LEN;

	return (end + JNL_SECTOR - 1) / JNL_SECTOR * JNL_SECTOR;
}

/* The copy slot of progress record seq: slot seq % 2, like its progress slot. */
static uint64_t
copy_off(const struct cjob *j, uint32_t seq)
{
	return j->prog_off + 2 * JNL_SECTOR + (uint64_t)(seq % 2) * j->p.round_min;
}

static void
put_progress(unsigned char *b, uint32_t seq, const struct round *r, uint32_t crc)
{
	memset(b, 0, PROG_LEN);
	put_le32(b, seq);
	put_le32(b + 4, (uint32_t)r->copy);
	put_le64(b + 8, r->t);
	put_le64(b + 16, r->len);
	put_le32(b + 24, crc);
	put_le32(b + 28, crc32c(0, b, 28));
}

/* Make "round r in flight, every byte before it done" durable, with its copy if any. */
static int
write_progress(struct cjob *j, const struct round *r, uint32_t crc)
{
	unsigned char b[PROG_LEN];

	j->seq++;
	put_progress(b, j->seq, r, crc);
	if (pwrite_all(j->jfd, b, PROG_LEN, (off_t)(j->prog_off + (j->seq % 2) * JNL_SECTOR)) < 0 ||
	    fdatasync(j->jfd) < 0) {
		return -1;
	}
	idx_crash_point();
	return 0;
}

/* Encode the plan header and moves into a new buffer of *len bytes. */
static unsigned char *
journal_encode(const struct compact_plan *p, size_t *len)
{
	size_t n = JNL_HDR_LEN + (size_t)p->n * JNL_MOVE_LEN;
	unsigned char *b = calloc(1, n);
	uint32_t i, crc;

	if (b == NULL) {
		return NULL;
	}
	memcpy(b, JNL_MAGIC, 8);
	put_le32(b + 8, JNL_VERSION);
	put_le32(b + 12, p->n);
	put_le64(b + 16, p->generation);
	put_le64(b + 24, p->old_size);
	put_le64(b + 32, p->new_size);
	put_le64(b + 40, p->idx_end);
	put_le32(b + 48, p->round_min);
	for (i = 0; i < p->n; i++) {
		unsigned char *q = b + JNL_HDR_LEN + (size_t)i * JNL_MOVE_LEN;

		put_le64(q, p->moves[i].src);
		put_le64(q + 8, p->moves[i].dst);
		put_le64(q + 16, p->moves[i].len);
	}
	crc = crc32c(0, b, 60);
	put_le32(b + 60, crc32c(crc, b + JNL_HDR_LEN, n - JNL_HDR_LEN));
	*len = n;
	return b;
}

/* Write the journal for j->p with progress "stream offset t next": temp, fsync, rename. */
static int
journal_create(struct cjob *j, uint64_t t)
{
	char tmp[PATH_LEN];
	unsigned char prog[PROG_LEN];
	struct round none = { t, 0, 0 };
	size_t len;
	unsigned char *b = journal_encode(&j->p, &len);
	int fd = -1, rc = -1;

	if (b == NULL || str_fmt(tmp, sizeof(tmp), "%s.new", j->jnl) < 0) {
		free(b);
		return -1;
	}
	j->prog_off = journal_prog_off(j->p.n);
	j->seq++;
	put_progress(prog, j->seq, &none, 0);
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && write_all(fd, b, len) == 0 &&
	    pwrite_all(fd, prog, PROG_LEN, (off_t)(j->prog_off + (j->seq % 2) * JNL_SECTOR)) == 0 &&
	    fsync(fd) == 0 && rename(tmp, j->jnl) == 0 && fsync_parent(j->jnl) == 0) {
		rc = 0;
	}
	free(b);
	if (rc < 0) {
		if (fd >= 0) {
			close(fd);
		}
		unlink(tmp);
		return -1;
	}
	if (j->jfd >= 0) {
		close(j->jfd);
	}
	j->jfd = fd;
	idx_crash_point();
	return 0;
}

/*
 * Write round r (cursor c at its start) to its destination, its first from_jnl bytes
 * from the journal at off, the rest from the mbox (sources the round does not
 * overwrite), and make it durable.
 */
static int
place_round(struct cjob *j, struct cursor c, const struct round *r, uint64_t from_jnl,
    uint64_t off)
{
	if (pass(j, c, from_jnl, off, AT_JNL, AT_MBOX, NULL) < 0) {
		return -1;
	}
	cur_skip(&j->p, &c, from_jnl);
	if (pass(j, c, r->len - from_jnl, 0, AT_MBOX, AT_MBOX, NULL) < 0 ||
	    fdatasync(j->mbox_fd) < 0) {
		return -1;
	}
	idx_crash_point();
	lock_touch(j->lock);
	return 0;
}

/*
 * Every round from stream offset t on. Each: copy (if any) into the next record's slot
 * and the record itself, one fdatasync of the journal; then the moves, one of the mbox.
 * The record must be durable before the moves: they may overwrite the sources of the
 * round before, which a redo of that one would need.
 */
static int
run_rounds(struct cjob *j, uint64_t t)
{
	uint64_t total = stream_len(&j->p);
	struct cursor c;
	struct round r;

	memset(&c, 0, sizeof(c));
	cur_skip(&j->p, &c, t);
	while (c.t < total) {
		uint32_t crc = 0;

		round_cut(&j->p, &c, total, &r);
		if (pass(j, c, r.copy, copy_off(j, j->seq + 1), AT_MBOX, AT_JNL, &crc) < 0 ||
		    write_progress(j, &r, crc) < 0 || place_round(j, c, &r, 0, 0) < 0) {
			return -1;
		}
		cur_skip(&j->p, &c, r.len);
	}
	return 0;
}

/*
 * Bytes appended after a crash, before recovery (by a tool that ignores our dotlock),
 * lie past old_size: extend the plan to slide them down too, rather than cut them off.
 */
static int
extend_for_appends(struct cjob *j, uint64_t *t)
{
	struct stat st;
	uint64_t extra;

	if (fstat(j->mbox_fd, &st) < 0) {
		return -1;
	}
	if ((uint64_t)st.st_size <= j->p.old_size) {
		return 0;
	}
	extra = (uint64_t)st.st_size - j->p.old_size;
	log_warnx("compact: %llu bytes appended during an interrupted compaction, kept",
	    (unsigned long long)extra);
	*t = stream_len(&j->p);
	if (plan_push(&j->p, j->p.old_size, j->p.new_size, extra) < 0) {
		return -1;
	}
	j->p.old_size = (uint64_t)st.st_size;
	j->p.new_size += extra;
	return journal_create(j, *t) < 0 ? -1 : 1;
}

/* Live records of img with offsets as after the plan's moves, generation + 1. */
static void
remap_image(const struct compact_plan *p, struct idx_set *img)
{
	uint32_t i, n = 0, mi = 0;

	for (i = 0; i < img->count; i++) {
		struct store_msg m = img->msgs[i];

		if (m.flags & STORE_EXPUNGED) {
			continue;
		}
		while (mi < p->n && p->moves[mi].src + p->moves[mi].len <= m.e.offset) {
			mi++;
		}
		if (mi < p->n && p->moves[mi].src <= m.e.offset) {
			m.e.offset -= p->moves[mi].src - p->moves[mi].dst;
		}
		img->msgs[n++] = m;
	}
	img->count = n;
	img->base_count = n;
	img->generation++;
}

/* The new state file: remapped records, the mbox as it ends after the indexed bytes. */
static int
write_state(struct cjob *j, struct idx_set *img)
{
	struct stat st;

	if (fstat(j->mbox_fd, &st) < 0) {
		return -1;
	}
	remap_image(&j->p, img);
	img->ms.size = j->p.idx_end;
	img->ms.ino = (uint64_t)st.st_ino;
	img->ms.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (idx_tail_crc(j->mbox_fd, img->ms.size, &img->ms.tail_crc) < 0) {
		return -1;
	}
	return idx_write_file(j->idx, img);
}

/*
 * CRC-32C of the first LEFTOVER_LEN dead bytes past the new end (fewer if the mbox ends
 * sooner), or 1 in *gone when the mbox is shorter than the span they should fill.
 */
static int
leftover_crc(struct cjob *j, uint32_t *crc, int *gone)
{
	uint64_t n = j->p.old_size - j->p.new_size;
	struct stat st;

	n = n < LEFTOVER_LEN ? n : LEFTOVER_LEN;
	if (fstat(j->mbox_fd, &st) < 0) {
		return -1;
	}
	*gone = (uint64_t)st.st_size < j->p.new_size + n;
	if (*gone) {
		return 0;
	}
	if (pread_full(j->mbox_fd, j->buf, (size_t)n, (off_t)j->p.new_size) != (ssize_t)n) {
		return -1;
	}
	*crc = crc32c(0, j->buf, (size_t)n);
	return 0;
}

/*
 * A crash left "all moved" as the newest record: was the mbox cut to its new size since?
 * The record keeps the checksum of the dead bytes just past the new end; if they are no
 * longer there, it was cut, and whatever follows the new end now is mail a tool appended
 * after the crash: it stays. 1 cut, 0 not, -1 error.
 */
static int
was_truncated(struct cjob *j, const unsigned char *prog)
{
	uint32_t crc = 0;
	int gone;

	if (leftover_crc(j, &crc, &gone) < 0) {
		return -1;
	}
	return gone || crc != get_le32(prog + 24);
}

/*
 * From stream offset t to the end: rounds, "all moved" (a redo of the last round after
 * the truncation would read cut-off sources), truncation, new state file, journal removal.
 * With cut set the mbox was truncated already: only the state file and the journal remain.
 */
static int
finish(struct cjob *j, uint64_t t, struct idx_set *img, int cut)
{
	struct round all;
	uint32_t crc = 0;
	int ext = 0, gone;

	while (!cut) {
		if (run_rounds(j, t) < 0 || (ext = extend_for_appends(j, &t)) < 0) {
			return -1;
		}
		if (ext > 0) {
			continue;
		}
		all.t = stream_len(&j->p);
		all.len = 0;
		all.copy = 0;
		if (leftover_crc(j, &crc, &gone) < 0 || write_progress(j, &all, crc) < 0 ||
		    ftruncate(j->mbox_fd, (off_t)j->p.new_size) < 0 || fsync(j->mbox_fd) < 0) {
			return -1;
		}
		cut = 1;
	}
	idx_crash_point();
	if (img != NULL && write_state(j, img) < 0) {
		return -1;
	}
	if (unlink(j->jnl) < 0 || fsync_parent(j->jnl) < 0) {
		return -1;
	}
	idx_crash_point();
	return 0;
}

static int
job_init(struct cjob *j, int mbox_fd, const char *side, struct mbox_lock *l)
{
	memset(j, 0, sizeof(*j));
	j->mbox_fd = mbox_fd;
	j->jfd = -1;
	j->lock = l;
	if (side_path(j->jnl, sizeof(j->jnl), side, SIDE_JNL) < 0 ||
	    side_path(j->idx, sizeof(j->idx), side, SIDE_IDX) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	j->buf = malloc(COMPACT_BUF);
	return j->buf != NULL ? 0 : -1;
}

static void
job_done(struct cjob *j)
{
	if (j->jfd >= 0) {
		close(j->jfd);
	}
	free(j->buf);
	compact_free_plan(&j->p);
}

/*
 * Room for the journal (two copy slots plus the plan) and the new state file, twice over:
 * a compaction that stops half way for want of space would be retried at every open.
 */
static int
room_for(const struct cjob *j, const struct idx_set *img)
{
	struct statvfs vfs;
	uint64_t need = 2 * (uint64_t)j->p.round_min + 3 * JNL_SECTOR + (uint64_t)j->p.n * JNL_MOVE_LEN +
	    IDX_HDR_LEN + (uint64_t)img->count * IDX_REC_LEN;
	char dir[PATH_LEN];
	char *slash;

	if (str_copy(dir, sizeof(dir), j->jnl) < 0 || (slash = strrchr(dir, '/')) == NULL) {
		return 0;
	}
	*slash = '\0';
	if (statvfs(dir, &vfs) < 0) {
		return 0;
	}
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < 2 * need) {
		log_warnx("compact %s: not enough free space (%llu bytes needed), later",
		    j->idx, (unsigned long long)(2 * need));
		return 0;
	}
	return 1;
}

/*
 * Only dead bytes at the end: cut them, then write the new state file, no journal. On
 * a full disk this is what makes room. A crash in between leaves a state file naming
 * bytes past the end: the next open rescans the mbox (an outside change) and matches
 * every live message, all before the cut, by its fingerprint.
 */
static int
truncate_only(struct cjob *j, struct idx_set *img)
{
	if (ftruncate(j->mbox_fd, (off_t)j->p.new_size) < 0 || fsync(j->mbox_fd) < 0) {
		return -1;
	}
	idx_crash_point();
	return write_state(j, img) < 0 ? -1 : 0;
}

int
compact_run(int mbox_fd, const char *side, struct mbox_lock *l, struct idx_set *img)
{
	struct cjob j;
	int rc = -1;

	if (job_init(&j, mbox_fd, side, l) < 0) {
		job_done(&j);
		return -1;
	}
	if (compact_make_plan(img, &j.p) == 0) {
		if (j.p.new_size == j.p.old_size) {
			rc = 0;
		} else if (j.p.n == 0) {
			rc = truncate_only(&j, img);
		} else if (!room_for(&j, img)) {
			errno = ENOSPC;
			rc = -2;
		} else if (journal_create(&j, 0) == 0) {
			rc = finish(&j, 0, img, 0);
		}
	}
	if (rc == -1) {
		log_warn("compact %s", side);
	}
	job_done(&j);
	return rc;
}

/*
 * Decode the plan of a journal whose first n bytes are in b; 0, -1 if damaged, or the
 * bytes the header says the plan takes when n is short of them. The moves must go down
 * to one contiguous destination in source order: the rounds rely on it.
 */
static int64_t
journal_decode(const unsigned char *b, size_t n, struct compact_plan *p)
{
	uint32_t i, cnt;
	size_t need;

	if (n < JNL_HDR_LEN || memcmp(b, JNL_MAGIC, 8) != 0 ||
	    (get_le32(b + 8) != 1 && get_le32(b + 8) != JNL_VERSION) ||
	    (cnt = get_le32(b + 12)) > FOLDER_MSGS_MAX) {
		return -1;
	}
	need = JNL_HDR_LEN + (size_t)cnt * JNL_MOVE_LEN;
	if (n < need) {
		return (int64_t)need;
	}
	if (get_le32(b + 60) != crc32c(crc32c(0, b, 60), b + JNL_HDR_LEN, need - JNL_HDR_LEN)) {
		return -1;
	}
	memset(p, 0, sizeof(*p));
	p->generation = get_le64(b + 16);
	p->old_size = get_le64(b + 24);
	p->new_size = get_le64(b + 32);
	p->idx_end = get_le64(b + 40);
	/* Format 1's chunk size sits where the round minimum does: bounded alike. */
	p->round_min = get_le32(b + 48);
	if (p->round_min == 0 || p->round_min > COMPACT_ROUND_MAX) {
		return -1;
	}
	for (i = 0; i < cnt; i++) {
		const unsigned char *q = b + JNL_HDR_LEN + (size_t)i * JNL_MOVE_LEN;
		const struct compact_move *prev = i > 0 ? &p->moves[i - 1] : NULL;
		uint64_t src = get_le64(q), dst = get_le64(q + 8), len = get_le64(q + 16);

		if (len == 0 || src <= dst || (prev != NULL && (dst != prev->dst + prev->len ||
		    src < prev->src + prev->len)) || plan_push(p, src, dst, len) < 0) {
			compact_free_plan(p);
			return -1;
		}
	}
	return 0;
}

/* Read the plan and the newest valid progress record of the open journal: 0, -1 if
 * damaged, -2 on a read or memory error (the journal is kept then). */
static int
journal_load(struct cjob *j, unsigned char *prog)
{
	unsigned char head[JNL_HDR_LEN];
	unsigned char *b;
	ssize_t got = pread_full(j->jfd, head, sizeof(head), 0);
	int64_t need;
	int s;

	if (got < 0) {
		return -2;
	}
	need = journal_decode(head, (size_t)got, &j->p);
	if (need > 0) {
		if ((b = malloc((size_t)need)) == NULL) {
			return -2;
		}
		got = pread_full(j->jfd, b, (size_t)need, 0);
		need = got < 0 ? -2 : journal_decode(b, (size_t)got, &j->p);
		free(b);
	}
	if (need != 0) {
		return need == -2 ? -2 : -1;
	}
	if (get_le32(head + 8) == 1) {
		j->v1_chunk = j->p.round_min;
		j->v1_direct = get_le32(head + 52);
		j->p.round_min = COMPACT_ROUND_MIN;
	}
	j->prog_off = journal_prog_off(j->p.n);
	memset(prog, 0, PROG_LEN);
	for (s = 0; s < 2; s++) {
		unsigned char q[PROG_LEN];

		if (pread_full(j->jfd, q, PROG_LEN, (off_t)(j->prog_off + (uint64_t)s * JNL_SECTOR)) ==
		    PROG_LEN && get_le32(q + 28) == crc32c(0, q, 28) && get_le32(q) > j->seq) {
			j->seq = get_le32(q);
			memcpy(prog, q, PROG_LEN);
		}
	}
	return j->seq > 0 ? 0 : -1;
}

/* Does the journal hold, at off, len bytes with CRC want (stream bytes from c)? 1, 0, -1. */
static int
copy_whole(struct cjob *j, struct cursor c, uint64_t off, uint64_t len, uint32_t want)
{
	struct stat st;
	uint32_t crc = 0;

	if (fstat(j->jfd, &st) < 0) {
		return -1;
	}
	if ((uint64_t)st.st_size < off + len) {
		return 0;
	}
	return pass(j, c, len, off, AT_JNL, AT_NONE, &crc) < 0 ? -1 : crc == want;
}

/*
 * The newest record names the round in flight; every byte before it is done. Its copy,
 * written with the record in one fdatasync, is whole if the slot holds it (its CRC):
 * then the round's writes may have begun and overwritten the copied sources, so they
 * come from the copy. A copy not whole means the record's fdatasync never returned: no
 * write of the round was made, and its sources are intact. Either way the rest of the
 * round comes from sources past its destination end, which nothing has touched.
 */
static int
redo_round(struct cjob *j, const unsigned char *prog, uint64_t *next)
{
	uint64_t total = stream_len(&j->p);
	struct round r;
	struct cursor c;
	int whole = 0;

	r.copy = get_le32(prog + 4);
	r.t = get_le64(prog + 8);
	r.len = get_le64(prog + 16);
	if (r.t > total || r.len > total - r.t || r.copy > r.len || r.copy > j->p.round_min) {
		errno = EINVAL;
		return -1;
	}
	*next = r.t + r.len;
	if (r.len == 0) {
		return 0;
	}
	memset(&c, 0, sizeof(c));
	cur_skip(&j->p, &c, r.t);
	if (r.copy > 0 &&
	    (whole = copy_whole(j, c, copy_off(j, j->seq), r.copy, get_le32(prog + 24))) < 0) {
		return -1;
	}
	return place_round(j, c, &r, whole ? r.copy : 0, copy_off(j, j->seq));
}

/*
 * A format 1 journal (an older build's): its plan was cut into chunks of v1_chunk bytes,
 * or of the shift where that is at least v1_direct and below a chunk; a chunk whose
 * source and destination overlapped went whole into its one data slot before its
 * record. Its newest record "chunk k" (with data length and CRC if copied) is finished
 * as that format says: from the copy if it matches; not at all if it does not (it was
 * being overwritten for chunk k + 1, so k was written); from the sources if not copied.
 * Then the journal is replaced by one of this format going on from there.
 */
static int
redo_v1(struct cjob *j, const unsigned char *prog, uint64_t *next)
{
	uint64_t k = get_le64(prog + 8), data = j->prog_off + 2 * JNL_SECTOR;
	uint32_t mi;
	struct round r;
	struct cursor c;
	int whole = 0;

	memset(&r, 0, sizeof(r));
	for (mi = 0; mi < j->p.n; mi++) {
		const struct compact_move *m = &j->p.moves[mi];
		uint64_t shift = m->src - m->dst;
		uint64_t step = shift >= j->v1_direct && shift < j->v1_chunk ? shift : j->v1_chunk;
		uint64_t pieces = (m->len + step - 1) / step;

		if (k < pieces) {
			r.t += k * step;
			r.len = m->len - k * step < step ? m->len - k * step : step;
			break;
		}
		k -= pieces;
		r.t += m->len;
	}
	if (get_le32(prog + 4) != 0 && get_le32(prog + 16) != r.len) {
		errno = EINVAL;
		return -1;
	}
	*next = r.t + r.len;
	memset(&c, 0, sizeof(c));
	cur_skip(&j->p, &c, r.t);
	if (r.len > 0 && get_le32(prog + 4) != 0 &&
	    (whole = copy_whole(j, c, data, r.len, get_le32(prog + 20))) < 0) {
		return -1;
	}
	if (r.len > 0 && (get_le32(prog + 4) == 0 || whole) &&
	    place_round(j, c, &r, whole ? r.len : 0, data) < 0) {
		return -1;
	}
	return journal_create(j, *next);
}

int
compact_recover(int mbox_fd, const char *side, struct mbox_lock *l, struct idx_set *img)
{
	unsigned char prog[PROG_LEN];
	struct cjob j;
	uint64_t t;
	int rc = -1, load, cut;

	if (job_init(&j, mbox_fd, side, l) < 0) {
		job_done(&j);
		return -1;
	}
	j.jfd = open(j.jnl, O_RDWR | O_CLOEXEC);
	if (j.jfd < 0) {
		rc = errno == ENOENT ? 0 : -1;
		job_done(&j);
		return rc;
	}
	log_warnx("compact %s: finishing an interrupted compaction", side);
	load = journal_load(&j, prog);
	if (load == -2) {
		rc = -1;
	} else if (load < 0) {
		log_warnx("compact %s: journal damaged, removed; check the folder", side);
		rc = unlink(j.jnl) == 0 ? 1 : -1;
	} else if (img != NULL && img->generation != j.p.generation) {
		/* The new state file is in place: moves and truncation were done. */
		rc = unlink(j.jnl) == 0 && fsync_parent(j.jnl) == 0 ? 1 : -1;
	} else if ((j.v1_chunk != 0 ? redo_v1(&j, prog, &t) : redo_round(&j, prog, &t)) == 0 &&
	    (cut = j.v1_chunk == 0 && t == stream_len(&j.p) && get_le64(prog + 16) == 0 ?
	    was_truncated(&j, prog) : 0) >= 0 && finish(&j, t, img, cut) == 0) {
		rc = 1;
	}
	job_done(&j);
	return rc;
}
