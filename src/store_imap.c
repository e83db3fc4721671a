/*
 * What IMAP needs from the store beyond POP3: per-folder keyword names, APPEND and COPY
 * that index the new message at once and give back its UID, and STATUS counts.
 * Runs in per-connection children after privileges are dropped.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "append.h"
#include "log.h"
#include "side.h"
#include "util.h"

/* Upper bound of the keyword side file: STORE_KW_MAX names of STORE_KW_LEN bytes. */
#define KW_FILE_MAX	(STORE_KW_MAX * STORE_KW_LEN)

/* ---- keyword names ---- */

static int
kw_path(const char *side, char *buf, size_t cap)
{
	return side_path(buf, cap, side, SIDE_KW);
}

/* Make kw->name[kw->n] the end of the table, len bytes of name; 0 or -1. */
static int
kw_append(struct store_keywords *kw, const char *name, size_t len)
{
	char (*v)[STORE_KW_LEN] = realloc(kw->name, (kw->n + 1) * sizeof(*v));

	if (v == NULL) {
		return -1;
	}
	kw->name = v;
	memcpy(v[kw->n], name, len);
	v[kw->n++][len] = '\0';
	return 0;
}

void
store_kw_free(struct store_keywords *kw)
{
	if (kw != NULL) {
		free(kw->name);
		free(kw);
	}
}

/* Parse the side file text (one name per line) into kw; lines beyond the table are ignored. */
static int
kw_parse(const char *text, size_t n, struct store_keywords *kw)
{
	size_t i = 0;

	kw->n = 0;
	while (i < n && kw->n < STORE_KW_MAX) {
		const char *nl = memchr(text + i, '\n', n - i);
		size_t len;

		if (nl == NULL) {
			break;	/* a torn last line: its writer did not finish */
		}
		len = (size_t)(nl - (text + i));
		if (len > 0 && len < STORE_KW_LEN && kw_append(kw, text + i, len) < 0) {
			return -1;
		}
		i += len + 1;
	}
	return 0;
}

static int
kw_read_fd(int fd, struct store_keywords *kw)
{
	char *buf = malloc(KW_FILE_MAX);
	ssize_t n;

	if (buf == NULL) {
		return -1;
	}
	n = pread(fd, buf, KW_FILE_MAX, 0);
	if (n >= 0 && kw_parse(buf, (size_t)n, kw) < 0) {
		n = -1;
	} else if (n >= 0) {
		kw->bytes = (uint64_t)n;
	}
	free(buf);
	return n < 0 ? -1 : 0;
}

int
store_kw_load(const char *side, struct store_keywords *kw)
{
	char path[PATH_LEN];
	int fd, rc;

	kw->n = 0;
	kw->bytes = 0;
	if (kw_path(side, path, sizeof(path)) < 0) {
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return errno == ENOENT ? 0 : -1;
	}
	rc = flock(fd, LOCK_SH) == 0 ? kw_read_fd(fd, kw) : -1;
	close(fd);
	return rc;
}

static int
kw_index(const struct store_keywords *kw, const char *name)
{
	uint32_t i;

	for (i = 0; i < kw->n; i++) {
		if (str_ieq(kw->name[i], name)) {
			return (int)i;
		}
	}
	return -1;
}

/* Under the exclusive lock: reload, and append name unless another session just did. */
static int
kw_add_locked(int fd, struct store_keywords *kw, const char *name)
{
	char line[STORE_KW_LEN + 1];
	int i;

	if (kw_read_fd(fd, kw) < 0) {
		return -1;
	}
	i = kw_index(kw, name);
	if (i >= 0 || kw->n >= STORE_KW_MAX) {
		return i;
	}
	if (str_fmt(line, sizeof(line), "%s\n", name) < 0 ||
	    write_all(fd, line, strlen(line)) < 0 || fdatasync(fd) < 0) {
		log_warn("store: keyword table of a folder");
		return -1;
	}
	kw->bytes += strlen(line);
	return kw_append(kw, name, strlen(name)) < 0 ? -1 : (int)kw->n - 1;
}

int
store_kw_refresh(const char *side, struct store_keywords *kw)
{
	char path[PATH_LEN];
	struct stat st;
	uint32_t was = kw->n;

	if (kw_path(side, path, sizeof(path)) < 0) {
		return -1;
	}
	if (stat(path, &st) < 0) {
		return errno == ENOENT ? 0 : -1;
	}
	if ((uint64_t)st.st_size == kw->bytes) {
		return 0;
	}
	if (store_kw_load(side, kw) < 0) {
		return -1;
	}
	return kw->n != was;
}

int
store_kw_find(const char *side, struct store_keywords *kw, const char *name, int add)
{
	char path[PATH_LEN];
	int fd, i;

	if (strlen(name) >= STORE_KW_LEN || strchr(name, '\n') != NULL) {
		return -1;
	}
	i = kw_index(kw, name);
	if (i >= 0) {
		return i;
	}
	if (store_kw_load(side, kw) < 0) {
		return -1;
	}
	i = kw_index(kw, name);
	if (i >= 0 || !add || kw_path(side, path, sizeof(path)) < 0) {
		return i;
	}
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -1;
	}
	i = flock(fd, LOCK_EX) == 0 ? kw_add_locked(fd, kw, name) : -1;
	close(fd);
	return i;
}

/* ---- APPEND and COPY ---- */

/*
 * APPEND and COPY go in three steps so that the destination is locked, written and
 * synced once however many messages go: the messages are gathered in one file (COPY
 * reads each source under its own read lock; APPEND's spool already is one); then, under
 * the destination's state lock and then its write lock, each is appended from there and
 * the new messages are indexed; then they are given their flags. Holding the write lock
 * from the first append to the indexing means every message past the old end is ours
 * and still there: the UIDs handed back are exact.
 */
struct batch {
	int all_fd;		/* the messages one after the other, LF or CRLF ends */
	int one_fd;		/* scratch for a message that does not run to all_fd's end */
	uint64_t *start;	/* message k is [start[k], start[k + 1]) of all_fd */
	int *skip;		/* message k was expunged meanwhile: not copied */
	int64_t *date;		/* From_ dates */
	uint32_t *flags;	/* flags and keyword bits (of the destination) to set */
	uint64_t *kw;
	size_t n;
	size_t next;		/* the next entry batch_next looks at */
	char *buf;		/* MBOX_IO_BUF bytes for batch_input, once needed */
};

static int
batch_init(struct batch *b, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	b->all_fd = b->one_fd = -1;
	b->start = calloc(n + 1, sizeof(*b->start));
	b->skip = calloc(n + 1, sizeof(*b->skip));
	b->date = calloc(n + 1, sizeof(*b->date));
	b->flags = calloc(n + 1, sizeof(*b->flags));
	b->kw = calloc(n + 1, sizeof(*b->kw));
	return b->start != NULL && b->skip != NULL && b->date != NULL && b->flags != NULL &&
	    b->kw != NULL ? 0 : -1;
}

static void
batch_free(struct batch *b)
{
	if (b->one_fd >= 0) {
		close(b->one_fd);
	}
	free(b->start);
	free(b->skip);
	free(b->date);
	free(b->flags);
	free(b->kw);
	free(b->buf);
}

/*
 * Message k as the writer's input: the last one is read from all_fd directly (it runs
 * to the end); others are first copied alone into one_fd. Positioned at the start.
 */
static int
batch_input(struct batch *b, size_t k, int *fd)
{
	uint64_t at = b->start[k];

	if (k + 1 == b->n) {
		*fd = b->all_fd;
		return lseek(b->all_fd, (off_t)at, SEEK_SET) < 0 ? -1 : 0;
	}
	*fd = b->one_fd;
	if (b->one_fd < 0 || ftruncate(b->one_fd, 0) < 0 || lseek(b->one_fd, 0, SEEK_SET) < 0 ||
	    (b->buf == NULL && (b->buf = malloc(MBOX_IO_BUF)) == NULL)) {
		return -1;
	}
	while (at < b->start[k + 1]) {
		uint64_t left = b->start[k + 1] - at;
		ssize_t got = pread_full(b->all_fd, b->buf, left < MBOX_IO_BUF ? (size_t)left :
		    MBOX_IO_BUF, (off_t)at);

		if (got <= 0 || write_all(b->one_fd, b->buf, (size_t)got) < 0) {
			return -1;
		}
		at += (uint64_t)got;
	}
	return lseek(b->one_fd, 0, SEEK_SET) < 0 ? -1 : 0;
}

/* The batch's messages for append_write, the skipped ones left out. */
static int
batch_next(void *ctx, size_t k, struct append_msg *m)
{
	struct batch *b = ctx;

	/* k counts the messages handed out; b->next the batch entries looked at */
	(void)k;
	while (b->next < b->n && b->skip[b->next]) {
		b->next++;
	}
	if (b->next == b->n) {
		return 0;
	}
	memset(m, 0, sizeof(*m));
	m->date = b->date[b->next];
	if (batch_input(b, b->next, &m->in.fd) < 0) {
		return -1;
	}
	b->next++;
	return 1;
}

/* What batch_write needs besides the batch, as store_append_indexed's put context. */
struct batch_put_ctx {
	struct batch *b;
	uint64_t max_size, quota_left, added;
};

static int
batch_put_cb(void *ctx, int fd, uint64_t end)
{
	struct batch_put_ctx *c = ctx;

	c->b->next = 0;
	return append_write(fd, end, batch_next, c->b, c->max_size, c->quota_left, &c->added);
}

/* Give the new messages (from index i of d, in batch order) their flags and UIDs. */
static int
batch_index(struct batch *b, struct store_folder *d, uint32_t i, uint32_t *uids)
{
	size_t k;
	int rc = STORE_OK;

	for (k = 0; k < b->n && rc == STORE_OK; k++) {
		uids[k] = 0;
		if (b->skip[k]) {
			continue;
		}
		if (i >= d->count) {
			log_warnx("store: appended message missing from %s", d->mbox_path);
			return STORE_ERR;
		}
		uids[k] = d->msgs[i].uid;
		if (b->flags[k] != 0 || b->kw[k] != 0) {
			/* added to what a session may have set since it saw the message */
			struct store_flagop op = { b->flags[k], 0, b->kw[k], 0 };

			rc = store_change_flags(d, i, &op);
		}
		i++;
	}
	return rc;
}

/*
 * Steps 2 and 3 into the open destination d, all or nothing; indexed before the write
 * lock goes, so that a compaction by another session cannot move the new messages
 * before their UIDs are known. *quota_left shrinks by the bytes added.
 */
static int
batch_put(struct batch *b, struct store_folder *d, uint64_t max_size, uint64_t *quota_left,
    uint32_t *uids)
{
	struct batch_put_ctx c = { b, max_size, *quota_left, 0 };
	uint32_t first = 0;
	int rc = store_append_indexed(d, batch_put_cb, &c, &first);

	if (rc != STORE_OK) {
		return rc;
	}
	if (*quota_left != UINT64_MAX) {
		*quota_left -= c.added;
	}
	return batch_index(b, d, first, uids);
}

int
store_imap_append(const char *mbox, const char *side, int in_fd, const struct store_put *p,
    uint64_t max_size, uint64_t quota_left, uint32_t *uidvalidity, uint32_t *uid)
{
	struct store_folder d;
	struct batch b;
	struct stat st;
	off_t at = lseek(in_fd, 0, SEEK_CUR);
	int rc = store_open(&d, mbox, side, STORE_RDWR);

	if (rc != STORE_OK) {
		return rc;
	}
	*uidvalidity = d.uidvalidity;
	rc = batch_init(&b, 1) < 0 || at < 0 || fstat(in_fd, &st) < 0 ? STORE_ERR : STORE_OK;
	if (rc == STORE_OK) {
		b.all_fd = in_fd;
		b.start[0] = (uint64_t)at;
		b.start[1] = (uint64_t)st.st_size;
		b.date[0] = p->date >= 0 ? p->date : (int64_t)time(NULL);
		b.flags[0] = p->flags & STORE_FLAGS_ALL;
		b.kw[0] = p->keywords;
		rc = batch_put(&b, &d, max_size, &quota_left, uid);
	}
	batch_free(&b);
	store_close(&d);
	return rc;
}

/* Append the unquoted content of src->msgs[i] to fd (LF line ends). */
static int
copy_out(struct store_folder *src, uint32_t i, int fd)
{
	struct mbox_reader *r = malloc(sizeof(*r));
	const char *line;
	size_t len;
	int partial, nl, rc, more = -1;

	if (r == NULL) {
		return STORE_ERR;
	}
	rc = store_msg_open(src, i, r);
	if (rc == STORE_OK) {
		while ((more = mbox_reader_next(r, &line, &len, &partial, &nl)) == 1) {
			if (write_all(fd, line, len) < 0 || (nl && write_all(fd, "\n", 1) < 0)) {
				more = -1;
				break;
			}
		}
		store_msg_close(src, r);
		rc = more < 0 ? append_rc(errno, 0) : STORE_OK;
	}
	free(r);
	return rc;
}

/* The destination's keyword bits for the source's keyword bits kw (names added as needed). */
static uint64_t
map_keywords(const struct store_keywords *src_kw, uint64_t kw, const char *side,
    struct store_keywords *dkw)
{
	uint64_t out = 0;
	uint32_t b;

	for (b = 0; b < src_kw->n && b < STORE_KW_MAX; b++) {
		int d;

		if (!(kw & ((uint64_t)1 << b))) {
			continue;
		}
		d = store_kw_find(side, dkw, src_kw->name[b], 1);
		if (d >= 0) {
			out |= (uint64_t)1 << d;
		}
	}
	return out;
}

/*
 * Step 1 of COPY: sources idx[0..n) into the emptied b->all_fd, with dates, flags and
 * keywords, until COPY_BATCH_BYTES are there (one message at least); b->n = how many.
 */
static int
batch_read(struct batch *b, struct store_folder *src, const struct store_keywords *src_kw,
    const uint32_t *idx, size_t n, struct store_keywords *dkw, const char *side)
{
	uint64_t at = 0;
	size_t k;
	int rc = ftruncate(b->all_fd, 0) == 0 && lseek(b->all_fd, 0, SEEK_SET) == 0 ? STORE_OK :
	    STORE_ERR;

	for (k = 0; k < n && rc == STORE_OK && (k == 0 || at < COPY_BATCH_BYTES); k++) {
		const struct store_msg *m = &src->msgs[idx[k]];
		struct mbox_entry e;
		off_t end;

		b->start[k] = at;
		b->skip[k] = (m->flags & STORE_EXPUNGED) != 0;
		/* an entry not read now fails the copy below */
		if (b->skip[k] || store_msg_entry(src, idx[k], &e) < 0) {
			e.date = -1;
		}
		b->date[k] = e.date >= 0 ? e.date : (int64_t)time(NULL);
		b->flags[k] = m->flags & STORE_FLAGS_ALL;
		b->kw[k] = map_keywords(src_kw, store_msg_keywords(src, idx[k]), side, dkw);
		rc = b->skip[k] ? STORE_OK : copy_out(src, idx[k], b->all_fd);
		if (rc == STORE_GONE) {
			b->skip[k] = 1;
			rc = STORE_OK;
		}
		end = lseek(b->all_fd, 0, SEEK_CUR);
		rc = end < 0 ? STORE_ERR : rc;
		at = (uint64_t)end;
	}
	b->start[k] = at;
	b->n = k;
	return rc;
}

/* A scratch file in tmpdir, already unlinked. */
static int
scratch_fd(const char *tmpdir)
{
	char path[PATH_LEN];
	int fd;

	if (str_fmt(path, sizeof(path), "%s/copyXXXXXX", tmpdir) < 0) {
		return -1;
	}
	fd = mkstemp(path);
	if (fd >= 0) {
		(void)unlink(path);
	}
	return fd;
}

int
store_imap_copy(struct store_folder *src, const struct store_keywords *src_kw,
    const uint32_t *idx, size_t n, const char *mbox, const char *side, const char *tmpdir,
    uint64_t max_size, uint64_t quota_left, uint32_t *uidvalidity, uint32_t *uids)
{
	struct store_keywords *dkw = calloc(1, sizeof(*dkw));
	struct store_folder d;
	struct batch b;
	size_t done = 0;
	int rc = store_open(&d, mbox, side, STORE_RDWR);

	if (rc != STORE_OK) {
		store_kw_free(dkw);
		return rc;
	}
	*uidvalidity = d.uidvalidity;
	rc = batch_init(&b, n) < 0 || dkw == NULL || store_kw_load(side, dkw) < 0 ? STORE_ERR :
	    STORE_OK;
	if (rc == STORE_OK) {
		b.all_fd = scratch_fd(tmpdir);
		b.one_fd = scratch_fd(tmpdir);
		rc = b.all_fd < 0 || b.one_fd < 0 ? append_rc(errno, 0) : STORE_OK;
	}
	/* in batches, so the scratch space a COPY needs stays small */
	while (rc == STORE_OK && done < n) {
		rc = batch_read(&b, src, src_kw, idx + done, n - done, dkw, side);
		if (rc == STORE_OK) {
			rc = batch_put(&b, &d, max_size, &quota_left, uids + done);
		}
		done += b.n;
	}
	if (b.all_fd >= 0) {
		close(b.all_fd);
	}
	batch_free(&b);
	store_close(&d);
	store_kw_free(dkw);
	return rc;
}

/* ---- \Recent ---- */

/* The recent mark on fd (0 when the file is new or short). */
static uint32_t
recent_mark(int fd)
{
	unsigned char b[4];

	return pread_full(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b) ? get_le32(b) : 0;
}

static int
recent_open(const char *side, int flags)
{
	char path[PATH_LEN];

	if (side_path(path, sizeof(path), side, SIDE_RCT) < 0) {
		return -1;
	}
	return open(path, flags | O_NOFOLLOW | O_CLOEXEC, 0600);
}

int
store_imap_claim_recent(const struct store_folder *f, int take, uint32_t *lo, uint32_t *hi)
{
	unsigned char b[4];
	uint32_t last = f->count > 0 ? f->msgs[f->count - 1].uid : 0;
	int fd = recent_open(f->side_base, take ? O_RDWR | O_CREAT : O_RDONLY);
	int rc = STORE_ERR;

	*lo = 1;
	*hi = 0;
	if (fd < 0) {
		if (take || errno != ENOENT) {
			return STORE_ERR;
		}
		*hi = last;	/* nobody ever claimed any: all are recent to a reader */
		return STORE_OK;
	}
	if (flock(fd, take ? LOCK_EX : LOCK_SH) == 0) {
		uint32_t mark = recent_mark(fd);

		rc = STORE_OK;
		if (last > mark) {
			/* losing the mark to a crash only shows some messages as recent again */
			put_le32(b, last);
			rc = !take || pwrite_all(fd, b, sizeof(b), 0) == 0 ? STORE_OK : STORE_ERR;
			*lo = mark + 1;
			*hi = last;
		}
	}
	close(fd);
	return rc;
}

void
store_imap_ack_changed(struct store_folder *f, uint32_t i)
{
	if (i < f->count) {
		f->msgs[i].flags &= ~STORE_CHANGED;
	}
}

void
store_imap_told(struct store_folder *f, uint32_t i)
{
	if (i < f->count) {
		f->msgs[i].flags |= STORE_TOLD;
	}
}

int
store_imap_status(const char *mbox, const char *side, struct store_status *st)
{
	struct store_folder f;
	uint32_t i, mark;
	int fd, rc = store_open(&f, mbox, side, STORE_RDWR);

	memset(st, 0, sizeof(*st));
	if (rc != STORE_OK) {
		return rc;
	}
	st->uidvalidity = f.uidvalidity;
	st->uidnext = f.uidnext;
	fd = recent_open(side, O_RDONLY);
	mark = fd >= 0 ? recent_mark(fd) : 0;
	if (fd >= 0) {
		close(fd);
	}
	for (i = 0; i < f.count; i++) {
		const struct store_msg *m = &f.msgs[i];
		struct mbox_entry e;

		if (m->flags & STORE_EXPUNGED) {
			continue;
		}
		(void)store_msg_entry(&f, i, &e);	/* size 0 on an I/O error */
		st->messages++;
		st->size += e.wire_size;
		st->unseen += !(m->flags & STORE_SEEN);
		st->recent += m->uid > mark;
		st->deleted += (m->flags & STORE_DELETED) != 0;
	}
	store_close(&f);
	return STORE_OK;
}
