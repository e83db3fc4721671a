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

#include "lock.h"
#include "log.h"
#include "util.h"

/* Upper bound of the keyword side file: STORE_KW_MAX names of STORE_KW_LEN bytes. */
#define KW_FILE_MAX	(STORE_KW_MAX * STORE_KW_LEN)

/* ---- keyword names ---- */

static int
kw_path(const char *side, char *buf, size_t cap)
{
	return str_fmt(buf, cap, "%s.kw", side) < 0 ? -1 : 0;
}

/* Parse the side file text (one name per line) into kw; lines beyond the table are ignored. */
static void
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
		if (len > 0 && len < STORE_KW_LEN) {
			memcpy(kw->name[kw->n], text + i, len);
			kw->name[kw->n][len] = '\0';
			kw->n++;
		}
		i += len + 1;
	}
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
	if (n >= 0) {
		kw_parse(buf, (size_t)n, kw);
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
	if (kw_path(side, path, sizeof(path)) < 0) {
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
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
	(void)str_copy(kw->name[kw->n], STORE_KW_LEN, name);
	return (int)kw->n++;
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
	fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -1;
	}
	i = flock(fd, LOCK_EX) == 0 ? kw_add_locked(fd, kw, name) : -1;
	close(fd);
	return i;
}

/* ---- APPEND and COPY ---- */

/*
 * The message our append just wrote: the first one at or past the old end of the mbox
 * with our From_ date. A delivery by another program in the same second, between our
 * stat and our lock, could be taken for ours; its flags would then be set instead.
 */
static long
find_appended(const struct store_folder *f, uint64_t old_end, int64_t date)
{
	long i, found = -1;

	for (i = (long)f->count - 1; i >= 0 && f->msgs[i].e.offset >= old_end; i--) {
		if (!(f->msgs[i].flags & STORE_EXPUNGED) && f->msgs[i].e.date == date) {
			found = i;
		}
	}
	return found;
}

static uint64_t
mbox_end(const char *mbox)
{
	struct stat st;

	return stat(mbox, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Append in_fd to the open destination d and mark the new message with p's flags. */
static int
put_into(struct store_folder *d, int in_fd, const struct store_put *p, uint64_t max_size,
    uint64_t quota_left, uint32_t *uid)
{
	struct store_append_info ai;
	struct store_changes ch;
	uint64_t old_end = mbox_end(d->mbox_path);
	long i;
	int rc;

	memset(&ai, 0, sizeof(ai));
	ai.date = p->date >= 0 ? p->date : (int64_t)time(NULL);
	rc = store_append_fd(d->mbox_path, in_fd, &ai, max_size, quota_left);
	if (rc == STORE_OK) {
		rc = store_refresh(d, &ch);
	}
	if (rc != STORE_OK) {
		return rc;
	}
	i = find_appended(d, old_end, ai.date);
	if (i < 0) {
		log_warnx("store: appended message not found in %s", d->mbox_path);
		return STORE_ERR;
	}
	*uid = d->msgs[i].uid;
	if ((p->flags & STORE_FLAGS_ALL) == 0 && p->keywords == 0) {
		return STORE_OK;
	}
	return store_set_flags(d, (uint32_t)i, p->flags, p->keywords);
}

int
store_imap_append(const char *mbox, const char *side, int in_fd, const struct store_put *p,
    uint64_t max_size, uint64_t quota_left, uint32_t *uidvalidity, uint32_t *uid)
{
	struct store_folder d;
	int rc = store_open(&d, mbox, side, STORE_RDWR);

	if (rc != STORE_OK) {
		return rc;
	}
	*uidvalidity = d.uidvalidity;
	rc = put_into(&d, in_fd, p, max_size, quota_left, uid);
	store_close(&d);
	return rc;
}

/*
 * COPY works in three steps so that the destination is locked, written and synced once
 * however many messages go: the sources are read (each under its own read lock) into one
 * scratch file; then, under the destination's write lock, each is appended from there;
 * then the new messages are indexed and given their flags. Holding the write lock from
 * the first append to the sync also means every message past the old end is ours.
 */
struct copy_batch {
	int all_fd;		/* the sources one after the other, unquoted, LF ends */
	int one_fd;		/* the message being appended */
	uint64_t *start;	/* source k is [start[k], start[k + 1]) of all_fd */
	int *skip;		/* source k was expunged meanwhile */
	const int64_t *date;	/* From_ dates */
	size_t n;
};

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
		rc = more < 0 ? (errno == ENOSPC || errno == EDQUOT ? STORE_NOSPACE : STORE_ERR) :
		    STORE_OK;
	}
	free(r);
	return rc;
}

/* Step 1: every live source into b->all_fd. */
static int
batch_read(struct copy_batch *b, struct store_folder *src, const uint32_t *idx)
{
	uint64_t at = 0;
	size_t k;
	int rc = STORE_OK;

	for (k = 0; k < b->n && rc == STORE_OK; k++) {
		off_t end;

		b->start[k] = at;
		b->skip[k] = (src->msgs[idx[k]].flags & STORE_EXPUNGED) != 0;
		rc = b->skip[k] ? STORE_OK : copy_out(src, idx[k], b->all_fd);
		if (rc == STORE_GONE) {
			b->skip[k] = 1;
			rc = STORE_OK;
		}
		end = lseek(b->all_fd, 0, SEEK_CUR);
		if (end < 0) {
			rc = STORE_ERR;
		}
		at = (uint64_t)end;
	}
	b->start[b->n] = at;
	return rc;
}

/* Source k alone in b->one_fd, positioned at its start. */
static int
batch_one(struct copy_batch *b, size_t k)
{
	char buf[MBOX_IO_BUF];
	uint64_t at = b->start[k];

	if (ftruncate(b->one_fd, 0) < 0 || lseek(b->one_fd, 0, SEEK_SET) < 0) {
		return -1;
	}
	while (at < b->start[k + 1]) {
		size_t want = b->start[k + 1] - at < sizeof(buf) ? (size_t)(b->start[k + 1] - at) :
		    sizeof(buf);
		ssize_t got = pread_full(b->all_fd, buf, want, (off_t)at);

		if (got <= 0 || write_all(b->one_fd, buf, (size_t)got) < 0) {
			return -1;
		}
		at += (uint64_t)got;
	}
	return lseek(b->one_fd, 0, SEEK_SET) < 0 ? -1 : 0;
}

/* Under the write lock: every message, one sync; cut back to size on any failure. */
static int
batch_write(struct copy_batch *b, int fd, uint64_t size, uint64_t max_size,
    uint64_t quota_left)
{
	uint64_t at, written = 0, total = 0;
	size_t k;
	int rc = STORE_OK;

	if (mbox_prepare_append(fd, size, &at) != 0) {
		rc = STORE_ERR;
	}
	total = at - size;
	for (k = 0; k < b->n && rc == STORE_OK; k++) {
		if (b->skip[k]) {
			continue;
		}
		struct mbox_in in = { b->one_fd, NULL, 0 };

		if (batch_one(b, k) < 0 ||
		    mbox_write_message(fd, &in, NULL, b->date[k], max_size, &written) != 0) {
			rc = errno == EFBIG ? STORE_TOOBIG : errno == ENOSPC || errno == EDQUOT ?
			    STORE_NOSPACE : STORE_ERR;
		}
		total += written;
		if (rc == STORE_OK && total > quota_left) {
			rc = STORE_QUOTA;
		}
	}
	if (rc == STORE_OK && fdatasync(fd) != 0) {
		rc = errno == ENOSPC || errno == EDQUOT ? STORE_NOSPACE : STORE_ERR;
	}
	return rc;
}

/* Step 2: append the batch to mbox under its write lock; *old_end = size before. */
static int
batch_append(struct copy_batch *b, const char *mbox, uint64_t max_size, uint64_t quota_left,
    uint64_t *old_end)
{
	struct mbox_lock l;
	struct stat st;
	int rc, fd = open(mbox, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		return errno == ENOENT ? STORE_NOFOLDER : STORE_ERR;
	}
	rc = lock_mbox(&l, fd, mbox, 1, LOCK_TIMEOUT_MS);
	if (rc != 0) {
		close(fd);
		return rc == STORE_INUSE ? STORE_INUSE : STORE_ERR;
	}
	rc = fstat(fd, &st) == 0 ? STORE_OK : STORE_ERR;
	*old_end = (uint64_t)st.st_size;
	if (rc == STORE_OK) {
		rc = batch_write(b, fd, *old_end, max_size, quota_left);
	}
	if (rc != STORE_OK && (ftruncate(fd, st.st_size) != 0 || fsync(fd) != 0)) {
		/* our dotlock stays: the next locker cuts the mbox back (lock.c) */
		log_warn("store: cannot cut %s back after a failed copy", mbox);
		l.dotlocked = 0;
	}
	if (unlock_mbox(&l) != 0 && rc == STORE_OK) {
		rc = STORE_ERR;
	}
	close(fd);
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

/* Step 3: index the new messages (in order past old_end) and set their flags. */
static int
batch_flags(struct store_folder *d, struct store_folder *src, const uint32_t *idx,
    const struct store_keywords *src_kw, struct copy_batch *b, uint64_t old_end,
    uint32_t *uids)
{
	struct store_keywords *dkw = calloc(1, sizeof(*dkw));
	struct store_changes ch;
	uint32_t i = d->count;
	size_t k;
	int rc = dkw == NULL || store_kw_load(d->side_base, dkw) < 0 ? STORE_ERR :
	    store_refresh(d, &ch);

	while (rc == STORE_OK && i > 0 && d->msgs[i - 1].e.offset >= old_end) {
		i--;
	}
	for (k = 0; k < b->n && rc == STORE_OK; k++) {
		const struct store_msg *m = &src->msgs[idx[k]];
		uint64_t kw;

		uids[k] = 0;
		if (b->skip[k]) {
			continue;
		}
		if (i >= d->count) {
			log_warnx("store: copied message missing from %s", d->mbox_path);
			rc = STORE_ERR;
			break;
		}
		uids[k] = d->msgs[i].uid;
		kw = map_keywords(src_kw, m->keywords, d->side_base, dkw);
		if ((m->flags & STORE_FLAGS_ALL) != 0 || kw != 0) {
			rc = store_set_flags(d, i, m->flags & STORE_FLAGS_ALL, kw);
		}
		i++;
	}
	free(dkw);
	return rc;
}

int
store_imap_copy(struct store_folder *src, const struct store_keywords *src_kw,
    const uint32_t *idx, size_t n, const char *mbox, const char *side, const char *tmpdir,
    uint64_t max_size, uint64_t quota_left, uint32_t *uidvalidity, uint32_t *uids)
{
	struct copy_batch b;
	struct store_folder d;
	int64_t *date = malloc((n + 1) * sizeof(*date));
	uint64_t old_end = 0;
	size_t k;
	int rc = store_open(&d, mbox, side, STORE_RDWR), opened = rc == STORE_OK;

	memset(&b, 0, sizeof(b));
	b.n = n;
	b.start = malloc((n + 1) * sizeof(*b.start));
	b.skip = calloc(n + 1, sizeof(*b.skip));
	b.all_fd = scratch_fd(tmpdir);
	b.one_fd = scratch_fd(tmpdir);
	b.date = date;
	if (rc == STORE_OK) {
		*uidvalidity = d.uidvalidity;
		rc = date == NULL || b.start == NULL || b.skip == NULL || b.all_fd < 0 ||
		    b.one_fd < 0 ? STORE_ERR : batch_read(&b, src, idx);
	}
	for (k = 0; k < n && rc == STORE_OK; k++) {
		date[k] = src->msgs[idx[k]].e.date;
		if (date[k] < 0) {
			date[k] = (int64_t)time(NULL);
		}
	}
	if (rc == STORE_OK) {
		rc = batch_append(&b, mbox, max_size, quota_left, &old_end);
	}
	if (rc == STORE_OK) {
		rc = batch_flags(&d, src, idx, src_kw, &b, old_end, uids);
	}
	if (opened) {
		store_close(&d);
	}
	if (b.all_fd >= 0) {
		close(b.all_fd);
	}
	if (b.one_fd >= 0) {
		close(b.one_fd);
	}
	free(b.start);
	free(b.skip);
	free(date);
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

	if (str_fmt(path, sizeof(path), "%s.rct", side) < 0) {
		return -1;
	}
	return open(path, flags | O_CLOEXEC, 0600);
}

int
store_imap_claim_recent(const struct store_folder *f, uint32_t *lo, uint32_t *hi)
{
	unsigned char b[4];
	uint32_t last = f->count > 0 ? f->msgs[f->count - 1].uid : 0;
	int fd = recent_open(f->side_base, O_RDWR | O_CREAT);
	int rc = STORE_ERR;

	*lo = 1;
	*hi = 0;
	if (fd < 0) {
		return STORE_ERR;
	}
	if (flock(fd, LOCK_EX) == 0) {
		uint32_t mark = recent_mark(fd);

		rc = STORE_OK;
		if (last > mark) {
			/* losing the mark to a crash only shows some messages as recent again */
			put_le32(b, last);
			rc = pwrite_all(fd, b, sizeof(b), 0) == 0 ? STORE_OK : STORE_ERR;
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

		if (m->flags & STORE_EXPUNGED) {
			continue;
		}
		st->messages++;
		st->size += m->e.wire_size;
		st->unseen += !(m->flags & STORE_SEEN);
		st->recent += m->uid > mark;
		st->deleted += (m->flags & STORE_DELETED) != 0;
	}
	store_close(&f);
	return STORE_OK;
}
