/*
 * In-place compaction with a redo journal. Live bytes slide down chunk by chunk; before
 * each chunk its number (and, when source and destination overlap, its bytes) is made
 * durable in <side>.jnl, so a redo from the journal is always possible. Never root.
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
#define JNL_VERSION	1
#define JNL_HDR_LEN	64
#define JNL_MOVE_LEN	24
#define JNL_SECTOR	512	/* progress slots sit in separate sectors */
#define PROG_LEN	32

/* A compaction in progress. */
struct cjob {
	int mbox_fd;
	int jfd;
	struct mbox_lock *lock;
	struct compact_plan p;
	uint64_t prog_off;	/* first progress slot; data area at + 2 sectors */
	uint32_t seq;		/* last progress sequence number written */
	unsigned char *buf;	/* one chunk */
	char jnl[PATH_LEN];
	char idx[PATH_LEN];
};

/* Where one chunk of the plan is. */
struct chunk {
	uint64_t k;
	uint32_t mi;
	uint64_t done;		/* bytes of moves[mi] before this chunk */
	uint64_t src, dst, len;
};

/* End of msgs[i]'s bytes: the next message's start or the indexed end of the mbox. */
static uint64_t
msg_end(const struct idx_set *img, uint32_t i)
{
	return i + 1 < img->count ? img->ents[i + 1].offset : img->ms.size;
}

uint64_t
compact_dead(const struct idx_set *img)
{
	uint64_t dead = 0;
	uint32_t i;

	for (i = 0; i < img->count; i++) {
		if (img->msgs[i].flags & STORE_EXPUNGED) {
			dead += msg_end(img, i) - img->ents[i].offset;
		}
	}
	return dead;
}

/* Append one move as is: chunk numbers of the moves before it stay the same. */
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
	p->chunk = COMPACT_CHUNK;
	p->direct_min = COMPACT_DIRECT_MIN;
	for (i = 0; i < img->count; i++) {
		uint64_t off = img->ents[i].offset, len = msg_end(img, i) - off;

		if (img->msgs[i].flags & STORE_EXPUNGED) {
			if (!dead) {
				w = off;
				dead = 1;
			}
		} else if (dead) {
			if (plan_add(p, off, w, len) < 0) {
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

/*
 * Piece size of a move. Pieces no longer than the shift never overwrite their own
 * source, so they need no copy in the journal: used when the shift is at least
 * direct_min. Smaller shifts take whole chunks through the journal instead of
 * thousands of tiny pieces, each costing two fsyncs. The sizes are the plan's: a
 * journal written by a build with other parameters is finished with its own.
 */
static uint64_t
move_step(const struct compact_plan *p, const struct compact_move *m)
{
	uint64_t shift = m->src - m->dst;

	return shift >= p->direct_min && shift < p->chunk ? shift : p->chunk;
}

static uint64_t
chunks_total(const struct compact_plan *p)
{
	uint64_t t = 0;
	uint32_t i;

	for (i = 0; i < p->n; i++) {
		uint64_t step = move_step(p, &p->moves[i]);

		t += (p->moves[i].len + step - 1) / step;
	}
	return t;
}

/* Fill c with chunk c->k given the position of c->k - 1 (or zeros for chunk 0). */
static int
chunk_next(const struct compact_plan *p, struct chunk *c)
{
	const struct compact_move *m;
	uint64_t left;

	if (c->mi >= p->n) {
		return 0;
	}
	m = &p->moves[c->mi];
	left = m->len - c->done;
	c->len = left < move_step(p, m) ? left : move_step(p, m);
	c->src = m->src + c->done;
	c->dst = m->dst + c->done;
	return 1;
}

static void
chunk_advance(const struct compact_plan *p, struct chunk *c)
{
	c->done += c->len;
	c->k++;
	if (c->done == p->moves[c->mi].len) {
		c->mi++;
		c->done = 0;
	}
}

static uint64_t
journal_prog_off(uint32_t n)
{
	uint64_t end = JNL_HDR_LEN + (uint64_t)n * JNL_MOVE_LEN;

	return (end + JNL_SECTOR - 1) / JNL_SECTOR * JNL_SECTOR;
}

static void
put_progress(unsigned char *b, uint32_t seq, uint64_t k, uint32_t data_len, uint32_t crc)
{
	memset(b, 0, PROG_LEN);
	put_le32(b, seq);
	put_le32(b + 4, data_len != 0);
	put_le64(b + 8, k);
	put_le32(b + 16, data_len);
	put_le32(b + 20, crc);
	put_le32(b + 28, crc32c(0, b, 28));
}

/* Make "chunk k is next" durable (with a data length and checksum when its bytes are in
 * the data area). */
static int
write_progress(struct cjob *j, uint64_t k, uint32_t data_len, uint32_t crc)
{
	unsigned char b[PROG_LEN];

	j->seq++;
	put_progress(b, j->seq, k, data_len, crc);
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
	put_le32(b + 48, p->chunk);
	put_le32(b + 52, p->direct_min);
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

/* Write the journal for j->p with progress "chunk k next": temp, fsync, rename. */
static int
journal_create(struct cjob *j, uint64_t k)
{
	char tmp[PATH_LEN];
	unsigned char prog[PROG_LEN];
	size_t len;
	unsigned char *b = journal_encode(&j->p, &len);
	int fd = -1, rc = -1;

	if (b == NULL || str_fmt(tmp, sizeof(tmp), "%s.new", j->jnl) < 0) {
		free(b);
		return -1;
	}
	j->prog_off = journal_prog_off(j->p.n);
	j->seq++;
	put_progress(prog, j->seq, k, 0, 0);
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

/* Move one chunk: its bytes go to the journal first when the write would overwrite them. */
static int
do_chunk(struct cjob *j, const struct chunk *c)
{
	int overlap = c->src - c->dst < c->len;
	uint32_t crc;

	ssize_t r = pread_full(j->mbox_fd, j->buf, (size_t)c->len, (off_t)c->src);

	if (r != (ssize_t)c->len) {
		if (r >= 0) {
			errno = EIO;
		}
		return -1;
	}
	crc = crc32c(0, j->buf, (size_t)c->len);
	if (overlap) {
		if (pwrite_all(j->jfd, j->buf, (size_t)c->len,
		    (off_t)(j->prog_off + 2 * JNL_SECTOR)) < 0 || fdatasync(j->jfd) < 0) {
			return -1;
		}
		idx_crash_point();
	}
	if (write_progress(j, c->k, overlap ? (uint32_t)c->len : 0, crc) < 0 ||
	    pwrite_all(j->mbox_fd, j->buf, (size_t)c->len, (off_t)c->dst) < 0 ||
	    fdatasync(j->mbox_fd) < 0) {
		return -1;
	}
	idx_crash_point();
	lock_touch(j->lock);
	return 0;
}

/* Run every chunk from number k on. */
static int
run_moves(struct cjob *j, uint64_t k)
{
	struct chunk c;

	memset(&c, 0, sizeof(c));
	while (chunk_next(&j->p, &c)) {
		if (c.k >= k && do_chunk(j, &c) < 0) {
			return -1;
		}
		chunk_advance(&j->p, &c);
	}
	return 0;
}

/*
 * Bytes appended after a crash, before recovery (by a tool that ignores our dotlock),
 * lie past old_size: extend the plan to slide them down too, rather than cut them off.
 */
static int
extend_for_appends(struct cjob *j, uint64_t *k)
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
	*k = chunks_total(&j->p);
	if (plan_push(&j->p, j->p.old_size, j->p.new_size, extra) < 0) {
		return -1;
	}
	j->p.old_size = (uint64_t)st.st_size;
	j->p.new_size += extra;
	return journal_create(j, *k) < 0 ? -1 : 1;
}

/* Live records of img with offsets as after the plan's moves, generation + 1. */
static void
remap_image(const struct compact_plan *p, struct idx_set *img)
{
	uint32_t i, mi = 0;

	for (i = 0; i < img->count; i++) {
		uint64_t *off = &img->ents[i].offset;

		if (img->msgs[i].flags & STORE_EXPUNGED) {
			continue;
		}
		while (mi < p->n && p->moves[mi].src + p->moves[mi].len <= *off) {
			mi++;
		}
		if (mi < p->n && p->moves[mi].src <= *off) {
			*off -= p->moves[mi].src - p->moves[mi].dst;
		}
	}
	idx_drop_expunged(img);
	img->base_count = img->count;
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

/* From chunk k to the end: moves, truncation, new state file, journal removal. */
static int
finish(struct cjob *j, uint64_t k, struct idx_set *img)
{
	int ext;

	do {
		if (run_moves(j, k) < 0) {
			return -1;
		}
		ext = extend_for_appends(j, &k);
	} while (ext > 0);
	if (ext < 0 || write_progress(j, chunks_total(&j->p), 0, 0) < 0 ||
	    ftruncate(j->mbox_fd, (off_t)j->p.new_size) < 0 || fsync(j->mbox_fd) < 0) {
		return -1;
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
	return 0;
}

/* The chunk buffer, once the plan (and so its chunk size) is known. */
static int
job_buffer(struct cjob *j)
{
	j->buf = malloc(j->p.chunk);
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
 * Room for the journal (one chunk plus the plan) and the new state file, twice over:
 * a compaction that stops half way for want of space would be retried at every open.
 */
static int
room_for(const struct cjob *j, const struct idx_set *img)
{
	struct statvfs vfs;
	uint64_t need = (uint64_t)j->p.chunk + 3 * JNL_SECTOR + (uint64_t)j->p.n * JNL_MOVE_LEN +
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
		return -1;
	}
	if (compact_make_plan(img, &j.p) == 0 && job_buffer(&j) == 0) {
		if (j.p.new_size == j.p.old_size) {
			rc = 0;
		} else if (j.p.n == 0) {
			rc = truncate_only(&j, img);
		} else if (!room_for(&j, img)) {
			errno = ENOSPC;
			rc = -2;
		} else if (journal_create(&j, 0) == 0) {
			rc = finish(&j, 0, img);
		}
	}
	if (rc == -1) {
		log_warn("compact %s", side);
	}
	job_done(&j);
	return rc;
}

/* Decode the plan of a journal read into b (n bytes); 0 or -1 if damaged. */
static int
journal_decode(const unsigned char *b, size_t n, struct compact_plan *p)
{
	uint32_t i, cnt;
	size_t need;

	if (n < JNL_HDR_LEN || memcmp(b, JNL_MAGIC, 8) != 0 || get_le32(b + 8) != JNL_VERSION ||
	    (cnt = get_le32(b + 12)) > FOLDER_MSGS_MAX) {
		return -1;
	}
	need = JNL_HDR_LEN + (size_t)cnt * JNL_MOVE_LEN;
	if (n < need || get_le32(b + 60) !=
	    crc32c(crc32c(0, b, 60), b + JNL_HDR_LEN, need - JNL_HDR_LEN)) {
		return -1;
	}
	memset(p, 0, sizeof(*p));
	p->generation = get_le64(b + 16);
	p->old_size = get_le64(b + 24);
	p->new_size = get_le64(b + 32);
	p->idx_end = get_le64(b + 40);
	p->chunk = get_le32(b + 48);
	p->direct_min = get_le32(b + 52);
	if (p->chunk == 0 || p->chunk > COMPACT_CHUNK_MAX) {
		return -1;
	}
	for (i = 0; i < cnt; i++) {
		const unsigned char *q = b + JNL_HDR_LEN + (size_t)i * JNL_MOVE_LEN;

		if (plan_push(p, get_le64(q), get_le64(q + 8), get_le64(q + 16)) < 0) {
			return -1;
		}
	}
	return 0;
}

/* Read the plan and the newest valid progress record of the open journal. */
static int
journal_load(struct cjob *j, unsigned char *prog)
{
	struct stat st;
	unsigned char *b;
	int rc, s;

	if (fstat(j->jfd, &st) < 0 || (b = malloc((size_t)st.st_size + 1)) == NULL) {
		return -1;
	}
	rc = pread_full(j->jfd, b, (size_t)st.st_size, 0) == st.st_size ? 0 : -1;
	if (rc == 0) {
		rc = journal_decode(b, (size_t)st.st_size, &j->p);
	}
	free(b);
	if (rc < 0 || job_buffer(j) < 0) {
		return -1;
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

/* Chunk k was in flight with its bytes in the journal: write them again if intact. */
static int
redo_from_journal(struct cjob *j, uint64_t k, const unsigned char *prog)
{
	struct chunk c;
	uint32_t len = get_le32(prog + 16);

	memset(&c, 0, sizeof(c));
	while (chunk_next(&j->p, &c) && c.k < k) {
		chunk_advance(&j->p, &c);
	}
	if (c.k != k || len != c.len || len > j->p.chunk) {
		return -1;
	}
	if (pread_full(j->jfd, j->buf, len, (off_t)(j->prog_off + 2 * JNL_SECTOR)) != (ssize_t)len ||
	    crc32c(0, j->buf, len) != get_le32(prog + 20)) {
		/* Overwritten by the next chunk's copy: chunk k had been written. */
		return 0;
	}
	if (pwrite_all(j->mbox_fd, j->buf, len, (off_t)c.dst) < 0 || fdatasync(j->mbox_fd) < 0) {
		return -1;
	}
	idx_crash_point();
	return 0;
}

int
compact_recover(int mbox_fd, const char *side, struct mbox_lock *l, struct idx_set *img)
{
	unsigned char prog[PROG_LEN];
	struct cjob j;
	uint64_t k;
	int rc = -1;

	if (job_init(&j, mbox_fd, side, l) < 0) {
		return -1;
	}
	j.jfd = open(j.jnl, O_RDWR | O_CLOEXEC);
	if (j.jfd < 0) {
		rc = errno == ENOENT ? 0 : -1;
		job_done(&j);
		return rc;
	}
	log_warnx("compact %s: finishing an interrupted compaction", side);
	if (journal_load(&j, prog) < 0) {
		log_warnx("compact %s: journal damaged, removed; check the folder", side);
		rc = unlink(j.jnl) == 0 ? 1 : -1;
	} else if (img != NULL && img->generation != j.p.generation) {
		/* The new state file is in place: moves and truncation were done. */
		rc = unlink(j.jnl) == 0 && fsync_parent(j.jnl) == 0 ? 1 : -1;
	} else {
		k = get_le64(prog + 8);
		if (get_le32(prog + 4)) {
			rc = redo_from_journal(&j, k, prog);
			k++;
		} else {
			rc = 0;
		}
		if (rc == 0) {
			rc = finish(&j, k, img) == 0 ? 1 : -1;
		}
	}
	job_done(&j);
	return rc;
}
