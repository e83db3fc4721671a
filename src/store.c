/*
 * The store API: open a folder (recovering an interrupted compaction, replaying the
 * state file, indexing new mail, resyncing after outside rewrites), flags, expunge,
 * reading messages, compaction at close or expunge (also under other open sessions, which
 * follow the moved offsets). Runs in per-connection children and verbs after privileges
 * are dropped. Lock order: .ses flock, .idx fcntl, mbox lock.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compact.h"
#include "index.h"
#include "log.h"
#include "mime_cache.h"
#include "side.h"
#include "util.h"

/* ---- paths ---- */

int
store_is_child_dir(const char *name, size_t len)
{
	size_t k = strlen(CHILD_DIR_EXT);

	return len > k && memcmp(name + len - k, CHILD_DIR_EXT, k) == 0;
}

/*
 * A folder name is components separated by '/', none empty, ".", "..", the side dir, or
 * ending in the children-directory suffix or the dotlock suffix (both would be read
 * back as something else).
 */
static int
folder_ok(const char *folder)
{
	const char *p = folder;

	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && memcmp(p, "..", 2) == 0) ||
		    (n == strlen(SIDE_DIR_NAME) && memcmp(p, SIDE_DIR_NAME, n) == 0) ||
		    store_is_child_dir(p, n) || side_is_dotlock(p, n)) {
			return 0;
		}
		p += n;
		if (*p == '/') {
			p++;
			if (*p == '\0') {
				return 0;
			}
		}
	}
	return p != folder;
}

int
store_child_dir(const char *base, char *buf, size_t cap, int legacy_ok)
{
	struct stat st;

	if (str_fmt(buf, cap, "%s%s", base, CHILD_DIR_EXT) < 0) {
		return -1;
	}
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) {
		return 1;
	}
	if (legacy_ok && stat(base, &st) == 0 && S_ISDIR(st.st_mode)) {
		(void)str_copy(buf, cap, base);
		return 1;
	}
	return 0;
}

/*
 * buf = top + "/" + folder with every level above the last one a children directory
 * (store_child_dir). legacy_top: the first level may be a plain directory too.
 */
static int
tree_path(char *buf, size_t cap, const char *top, const char *folder, int legacy_top)
{
	char base[PATH_LEN];
	const char *p = folder, *slash;
	size_t n;

	if (str_copy(buf, cap, top) < 0) {
		return -1;
	}
	for (; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		if (str_fmt(base, sizeof(base), "%s/%.*s", buf, (int)(slash - p), p) < 0 ||
		    store_child_dir(base, buf, cap, legacy_top || p != folder) < 0) {
			return -1;
		}
	}
	n = strlen(buf);
	return str_fmt(buf + n, cap - n, "/%s", p) < 0 ? -1 : 0;
}

int
store_paths(const struct config *cfg, const char *user, const char *folder,
    char *mbox, size_t mbox_cap, char *side, size_t side_cap)
{
	char dir[PATH_LEN], sdir[PATH_LEN];
	int inbox = str_ieq(folder, "INBOX");

	if (!folder_ok(folder) || config_user_dir(cfg, user, dir, sizeof(dir)) < 0 ||
	    str_fmt(sdir, sizeof(sdir), "%s/%s", dir, SIDE_DIR_NAME) < 0) {
		return -1;
	}
	if (inbox) {
		if (config_inbox_path(cfg, user, mbox, mbox_cap) < 0 ||
		    str_fmt(side, side_cap, "%s/INBOX", sdir) < 0) {
			return -1;
		}
		return 0;
	}
	/* a plain directory INBOX is never INBOX's children: it is the broken INBOX that
	 * `check --repair` mends; side files have no such trap */
	if (tree_path(mbox, mbox_cap, dir, folder, strncmp(folder, "INBOX/", 6) != 0) < 0 ||
	    tree_path(side, side_cap, sdir, folder, 1) < 0) {
		return -1;
	}
	return 0;
}

/* The store code for a failed write: a full disk is told apart (errno). */
static int
write_error(void)
{
	return errno == ENOSPC || errno == EDQUOT ? STORE_NOSPACE : STORE_ERR;
}

/* ---- the session's view as an idx_set ---- */

static void
view_get(struct store_folder *f, struct idx_set *s)
{
	memset(s, 0, sizeof(*s));
	s->msgs = f->msgs;
	s->kw = f->kwmask;
	s->map = &f->map;
	s->count = f->count;
	s->cap = f->cap;
	s->uidvalidity = f->uidvalidity;
	s->uidnext = f->uidnext;
	s->generation = f->generation;
	s->mboxrd = f->mboxrd;
	s->base_count = f->base_count;
	s->ms = f->synced;
}

static void
view_put(struct store_folder *f, const struct idx_set *s)
{
	f->msgs = s->msgs;
	f->kwmask = s->kw;
	f->count = s->count;
	f->cap = s->cap;
	f->uidvalidity = s->uidvalidity;
	f->uidnext = s->uidnext;
	f->generation = s->generation;
	f->mboxrd = s->mboxrd;
	f->base_count = s->base_count;
	f->synced = s->ms;
}

/* The view's records are read from the state file open now (it was just loaded). */
static int
view_follow(struct store_folder *f)
{
	int fd = fcntl(f->state_fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0) {
		log_warn("store: %s", f->side_base);
		return STORE_ERR;
	}
	idx_map_open(&f->map, fd);
	return STORE_OK;
}

/* ---- the state file lock ---- */

static int
state_open_fd(struct store_folder *f, int create)
{
	char path[PATH_LEN];

	if (side_path(path, sizeof(path), f->side_base, SIDE_IDX) < 0) {
		return -1;
	}
	f->state_fd = open(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC |
	    (create ? O_CREAT : 0), 0600);
	return f->state_fd < 0 ? -1 : 0;
}

static int
state_fcntl(int fd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
		if (errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

static void
state_unlock(struct store_folder *f)
{
	if (state_fcntl(f->state_fd, F_UNLCK) < 0) {
		log_warn("store: unlocking %s.idx", f->side_base);
	}
}

static int
journal_exists(const struct store_folder *f)
{
	char path[PATH_LEN];

	return side_path(path, sizeof(path), f->side_base, SIDE_JNL) == 0 && access(path, F_OK) == 0;
}

/*
 * Finish a compaction that a crash interrupted, holding the state lock: the mbox write
 * lock then keeps every reader out until the moves are done and the new state file is in
 * place. Without a readable state image only the mbox is finished (the load that follows
 * rebuilds the index).
 */
static int
recover_compaction(struct store_folder *f)
{
	struct mbox_lock l;
	struct idx_set img;
	uint64_t end;
	int rc, have;

	memset(&l, 0, sizeof(l));
	rc = lock_mbox(&l, f->mbox_fd, f->mbox_path, MBOX_LOCK_SHRINK, LOCK_TIMEOUT_MS);
	if (rc < 0) {
		return rc == STORE_INUSE ? STORE_INUSE : STORE_ERR;
	}
	memset(&img, 0, sizeof(img));
	have = idx_load(f->state_fd, &img, 1, &end) == IDX_LOADED;
	rc = compact_recover(f->mbox_fd, f->side_base, &l, have ? &img : NULL) < 0 ?
	    STORE_ERR : STORE_OK;
	idx_free(&img);
	unlock_mbox(&l);
	return rc;
}

/*
 * Lock the state file exclusively; follow it when a checkpoint or compaction replaced
 * it. A journal left by a crashed compaction is finished first, so that no caller ever
 * reads the mbox half moved.
 */
static int
state_lock(struct store_folder *f)
{
	char path[PATH_LEN];
	int rc;

	if (side_path(path, sizeof(path), f->side_base, SIDE_IDX) < 0) {
		return STORE_ERR;
	}
	for (;;) {
		struct stat a, b;

		if (state_fcntl(f->state_fd, F_WRLCK) < 0 || fstat(f->state_fd, &a) < 0) {
			log_warn("store: locking %s", path);
			return STORE_ERR;
		}
		if (stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
			if (!journal_exists(f)) {
				return STORE_OK;
			}
			rc = recover_compaction(f);
			if (rc < 0) {
				state_unlock(f);
				return rc;
			}
			/* The finished compaction may have replaced the state file: look again. */
			continue;
		}
		close(f->state_fd);
		if (state_open_fd(f, 1) < 0) {
			log_warn("store: reopening %s", path);
			return STORE_ERR;
		}
	}
}

/*
 * Under the lock, bytes past the last good record can only be a dead writer's torn
 * record: cut them, or records appended after them would never be replayed.
 */
static int
cut_torn(struct store_folder *f)
{
	struct stat st;

	if (fstat(f->state_fd, &st) < 0) {
		return STORE_ERR;
	}
	if ((uint64_t)st.st_size > f->state_seen) {
		log_warnx("store: cutting a torn record at the end of %s.idx", f->side_base);
		if (ftruncate(f->state_fd, (off_t)f->state_seen) < 0) {
			log_warn("store: truncating %s.idx", f->side_base);
			return STORE_ERR;
		}
	}
	return STORE_OK;
}

/* Apply what others appended, or the whole file when a checkpoint replaced it. */
static int
catch_up(struct store_folder *f, struct idx_set *s)
{
	struct idx_set img;
	struct stat st;
	uint64_t end;

	if (fstat(f->state_fd, &st) < 0) {
		return STORE_ERR;
	}
	if ((uint64_t)st.st_ino == f->state_ino) {
		if (idx_replay(f->state_fd, s, &f->state_seen) < 0) {
			return STORE_ERR;
		}
		return cut_torn(f);
	}
	memset(&img, 0, sizeof(img));
	if (idx_load(f->state_fd, &img, 0, &end) != IDX_LOADED || img.uidvalidity != s->uidvalidity) {
		log_warnx("store: %s.idx was rebuilt under an open session", f->side_base);
		idx_free(&img);
		return STORE_ERR;
	}
	idx_merge(s, &img);
	idx_free(&img);
	f->state_seen = end;
	f->state_ino = (uint64_t)st.st_ino;
	return view_follow(f) < 0 ? STORE_ERR : cut_torn(f);
}

/*
 * Replace the state file by img (cold; temp file, fsync, rename by idx_write_file) and
 * lock the new one: img gets its record positions there. The caller brings s in line
 * with img (positions included, while the view still reads the old file for what left
 * it), then calls replay_rest, which makes the view read the new file and applies
 * anything another process appended to it before we locked it.
 */
static int
state_replace(struct store_folder *f, struct idx_set *s, struct idx_set *img)
{
	char path[PATH_LEN];
	struct stat st;
	int old = f->state_fd, rc;

	if (side_path(path, sizeof(path), f->side_base, SIDE_IDX) < 0 || idx_write_file(path, img) < 0) {
		rc = write_error();
		log_warn("store: writing %s.idx", f->side_base);
		return rc;
	}
	if (state_open_fd(f, 0) < 0 || state_fcntl(f->state_fd, F_WRLCK) < 0 ||
	    fstat(f->state_fd, &st) < 0) {
		log_warn("store: reopening %s", path);
		if (f->state_fd >= 0) {
			close(f->state_fd);
		}
		f->state_fd = old;
		return STORE_ERR;
	}
	close(old);
	f->state_ino = (uint64_t)st.st_ino;
	f->state_seen = IDX_HDR_LEN + (uint64_t)img->count * IDX_REC_LEN;
	s->generation = img->generation;
	s->base_count = img->count;
	img->base_count = img->count;
	return STORE_OK;
}

static int
replay_rest(struct store_folder *f, struct idx_set *s)
{
	if (view_follow(f) < 0 || idx_replay(f->state_fd, s, &f->state_seen) < 0) {
		return STORE_ERR;
	}
	return STORE_OK;
}

/* The full image of the state file (expunged records included); s seeds an empty one. */
static int
load_image(struct store_folder *f, const struct idx_set *s, struct idx_set *img)
{
	uint64_t end;
	int rc;

	memset(img, 0, sizeof(*img));
	rc = idx_load(f->state_fd, img, 1, &end);
	if (rc == IDX_SALVAGED && img->uidvalidity == 0) {
		/* Damaged beyond its identity: load_state gave s a fresh one. */
		img->uidvalidity = s->uidvalidity;
	}
	if (rc == IDX_LOADED || rc == IDX_SALVAGED) {
		return STORE_OK;
	}
	idx_free(img);
	if (rc == IDX_IOERR) {
		return STORE_ERR;
	}
	img->cold = 1;
	img->uidvalidity = s->uidvalidity;
	img->uidnext = s->uidnext;
	img->mboxrd = s->mboxrd;
	img->generation = s->generation;
	return STORE_OK;
}

/* Fold the change log into a fresh file once it outgrows max(64 KiB, base / 2). */
static int
maybe_checkpoint(struct store_folder *f, struct idx_set *s)
{
	uint64_t base = IDX_HDR_LEN + (uint64_t)s->base_count * IDX_REC_LEN;
	uint64_t limit = base / 2 > CHECKPOINT_MIN ? base / 2 : CHECKPOINT_MIN;
	struct idx_set img;
	int rc;

	if (f->state_seen - base <= limit) {
		return STORE_OK;
	}
	if (load_image(f, s, &img) < 0) {
		return STORE_ERR;
	}
	img.generation++;
	rc = state_replace(f, s, &img);
	if (rc == STORE_OK) {
		/* the same records: only their positions are new */
		idx_merge(s, &img);
	}
	idx_free(&img);
	return rc == STORE_OK ? replay_rest(f, s) : rc;
}

/* Append encoded records in one write; durable ones are fsynced before returning. */
static int
state_append(struct store_folder *f, const unsigned char *buf, size_t n, int durable)
{
	if (idx_append(f->state_fd, buf, n, f->state_seen, durable) < 0) {
		int rc = write_error();

		log_warn("store: appending to %s.idx", f->side_base);
		return rc;
	}
	f->state_seen += n;
	return STORE_OK;
}

/* ---- new mail and outside rewrites ---- */

/* Records of newly indexed messages, written together at offset at once the scan ends. */
struct newmail {
	struct idx_set *s;
	uint64_t at;
	unsigned char *buf;
	size_t len, cap;
};

static int
newmail_add(struct newmail *nm, const struct idx_log *l)
{
	if (array_grow(&nm->buf, &nm->cap, nm->len + IDX_LOG_MAX, 1, 4096,
	    (size_t)FOLDER_MSGS_MAX * IDX_LOG_MAX) < 0) {
		return -1;
	}
	nm->len += idx_put_log(nm->buf + nm->len, l);
	return 0;
}

static int
newmail_cb(void *ctx, const struct mbox_entry *e)
{
	struct newmail *nm = ctx;
	uint64_t at = nm->at + nm->len + 4;
	struct idx_log l;

	memset(&l, 0, sizeof(l));
	l.type = IDX_NEW;
	l.m.uid = nm->s->uidnext;
	l.m.e = *e;
	if (at > IDX_FILE_MAX || idx_push(nm->s, &l.m, (uint32_t)at) < 0 ||
	    newmail_add(nm, &l) < 0) {
		return -1;
	}
	nm->s->ch.added++;
	return 0;
}

/* Index the messages in [s->ms.size, now->size) and log them with the new mbox state. */
static int
scan_new(struct store_folder *f, struct idx_set *s, const struct store_mboxstat *now)
{
	/* appended where the caught-up file ends */
	struct newmail nm = { s, f->state_seen, NULL, 0, 0 };
	struct store_changes ch = s->ch;
	uint32_t count = s->count, next = s->uidnext;
	struct mbox_scan_stats st;
	struct idx_log l;
	int rc = STORE_ERR;

	memset(&l, 0, sizeof(l));
	l.type = IDX_SYNC;
	l.ms = *now;
	if (mbox_scan(f->mbox_fd, s->ms.size, now->size, s->mboxrd, newmail_cb, &nm, &st) == 0 &&
	    newmail_add(&nm, &l) == 0) {
		rc = state_append(f, nm.buf, nm.len, 1);
	}
	if (rc == STORE_OK) {
		s->ms = *now;
	} else {
		/* unwritten: their record positions name nothing (the next scan finds them) */
		s->count = count;
		s->uidnext = next;
		s->ch = ch;
	}
	free(nm.buf);
	return rc;
}

/* Growing list of scanned entries for a full rescan. */
struct entries {
	struct mbox_entry *v;
	uint32_t n;
	size_t cap;
};

static int
entries_cb(void *ctx, const struct mbox_entry *e)
{
	struct entries *es = ctx;

	if (array_grow(&es->v, &es->cap, (size_t)es->n + 1, sizeof(*es->v), 256,
	    FOLDER_MSGS_MAX) < 0) {
		return -1;
	}
	es->v[es->n++] = *e;
	return 0;
}

/* Make img the content of s: taken over whole when s is an index being built or
 * salvaged from a damaged file (no session has seen it yet). */
static void
adopt(struct idx_set *s, struct idx_set *img)
{
	struct store_changes ch = s->ch;
	struct idx_map *map = s->map;

	if (!s->salvaged && (s->count > 0 || s->uidnext > 1)) {
		idx_merge(s, img);
		return;
	}
	ch.added += img->count;
	/* a view now, reading the file img was written to */
	free(img->ents);
	img->ents = NULL;
	img->cold = 0;
	img->map = map;
	idx_free(s);
	*s = *img;
	s->ch = ch;
	memset(img, 0, sizeof(*img));
}

/* Someone rewrote the mbox: rescan, match old records by fingerprint, write a new file. */
static int
resync(struct store_folder *f, struct idx_set *s, const struct store_mboxstat *now)
{
	struct entries es = { NULL, 0, 0 };
	struct mbox_scan_stats st;
	struct idx_set old, img;
	int rc = STORE_ERR;

	memset(&img, 0, sizeof(img));
	if (load_image(f, s, &old) < 0) {
		return STORE_ERR;
	}
	if (mbox_scan(f->mbox_fd, 0, now->size, old.mboxrd, entries_cb, &es, &st) == 0 &&
	    idx_resync(&old, es.v, es.n, &img) == 0) {
		img.ms = *now;
		img.generation = old.generation + 1;
		if (s->ms.ino != 0) {
			log_info("store: %s changed outside, rescanned %u messages", f->mbox_path, es.n);
		}
		s->ch.resynced = s->ms.ino != 0;
		free(es.v);
		es.v = NULL;
		rc = state_replace(f, s, &img);
		if (rc == STORE_OK) {
			adopt(s, &img);
			rc = replay_rest(f, s);
		}
	}
	idx_free(&old);
	idx_free(&img);
	free(es.v);
	return rc;
}

/* Reopen the mbox when the path now names another file (a tool replaced it). */
static int
follow_mbox(struct store_folder *f)
{
	struct stat a, b;
	int fd;

	if (stat(f->mbox_path, &b) < 0 || fstat(f->mbox_fd, &a) < 0) {
		return -1;
	}
	if (a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		return 0;
	}
	fd = open(f->mbox_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return -1;
	}
	close(f->mbox_fd);
	f->mbox_fd = fd;
	return 0;
}

/* Could the bytes since the last sync be a pure append? */
static int
appended_only(struct store_folder *f, const struct store_mboxstat *was,
    const struct store_mboxstat *now)
{
	uint32_t crc;

	if (now->ino != was->ino || now->size <= was->size ||
	    idx_tail_crc(f->mbox_fd, was->size, &crc) < 0 || crc != was->tail_crc) {
		return 0;
	}
	return was->size == 0 || mbox_from_at(f->mbox_fd, was->size) == 1;
}

/*
 * Only the mtime moved: a failed append of ours cut back with ftruncate (or a touch).
 * The bytes are taken as indexed when inode, size and tail checksum are the same and
 * every indexed message still starts with a From_ line where the index says; a rewrite
 * that shifted any message fails that and is rescanned as before.
 */
static int
only_touched(struct store_folder *f, const struct idx_set *s, const struct store_mboxstat *now)
{
	uint32_t i;

	if (s->ms.ino == 0 || now->ino != s->ms.ino || now->size != s->ms.size ||
	    now->tail_crc != s->ms.tail_crc) {
		return 0;
	}
	for (i = 0; i < s->count; i++) {
		struct mbox_entry e;

		if (idx_entry(s, i, &e) < 0 || mbox_from_at(f->mbox_fd, e.offset) != 1) {
			return 0;
		}
	}
	return 1;
}

static int
same_mbox(const struct store_mboxstat *a, const struct store_mboxstat *b)
{
	return a->size == b->size && a->ino == b->ino && a->mtime_ns == b->mtime_ns &&
	    a->tail_crc == b->tail_crc;
}

/*
 * Under the mbox read lock: a dead writer's dotlock that lock_recover could not clear
 * (another process held the mbox) still names where its append began. Index nothing
 * new past it: the undo may cut those bytes later, and a record would then own others.
 */
static int
bound_by_dead_writer(struct store_folder *f, const struct idx_set *s,
    struct store_mboxstat *now)
{
	uint64_t end;

	if (!lock_dead_end(f->mbox_path, &end) || end >= now->size || end < s->ms.size) {
		return 0;
	}
	now->size = end;
	return idx_tail_crc(f->mbox_fd, end, &now->tail_crc);
}

/* Bring s in line with the mbox (caller holds the state lock). */
static int
sync_mbox(struct store_folder *f, struct idx_set *s)
{
	struct store_mboxstat now;
	struct mbox_lock l;
	int rc;

	if (follow_mbox(f) < 0 || idx_mbox_stat(f->mbox_fd, &now) < 0) {
		log_warn("store: %s", f->mbox_path);
		return STORE_ERR;
	}
	if (same_mbox(&now, &s->ms)) {
		return STORE_OK;
	}
	/* A writer killed mid-append left a partial message: cut it before scanning. */
	if (lock_recover(f->mbox_fd, f->mbox_path) < 0) {
		log_warn("store: recovering %s", f->mbox_path);
	}
	memset(&l, 0, sizeof(l));
	rc = lock_mbox(&l, f->mbox_fd, f->mbox_path, MBOX_LOCK_READ, LOCK_TIMEOUT_MS);
	if (rc < 0) {
		return rc == STORE_INUSE ? STORE_INUSE : STORE_ERR;
	}
	if (idx_mbox_stat(f->mbox_fd, &now) < 0 || bound_by_dead_writer(f, s, &now) < 0) {
		rc = STORE_ERR;
	} else if (same_mbox(&now, &s->ms)) {
		rc = STORE_OK;
	} else if (appended_only(f, &s->ms, &now) || only_touched(f, s, &now)) {
		/* For a mere touch the scan finds nothing and logs the new mtime. */
		rc = scan_new(f, s, &now);
	} else {
		rc = resync(f, s, &now);
	}
	unlock_mbox(&l);
	return rc;
}

/* Catch up with the state file and the mbox, under the state lock. */
static int
refresh_locked(struct store_folder *f, struct idx_set *s)
{
	int rc = state_lock(f);

	if (rc < 0) {
		return rc;
	}
	rc = catch_up(f, s);
	if (rc == STORE_OK) {
		rc = sync_mbox(f, s);
	}
	if (rc == STORE_OK) {
		rc = maybe_checkpoint(f, s);
	}
	state_unlock(f);
	return rc;
}

/* ---- open ---- */

static void
sleep_ms(int ms)
{
	/* An early wake-up (EINTR) only means an earlier retry. */
	(void)poll(NULL, 0, ms);
}

/*
 * Hold .ses shared while open; only a compaction with nobody else open or a rebuild by
 * `check --repair` holds it exclusively, for a short while: wait for them.
 */
static int
session_lock(struct store_folder *f)
{
	char path[PATH_LEN];
	int64_t deadline = mono_ms() + LOCK_TIMEOUT_MS;

	if (side_path(path, sizeof(path), f->side_base, SIDE_SES) < 0 ||
	    (f->session_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		return STORE_ERR;
	}
	for (;;) {
		if (flock(f->session_fd, LOCK_SH | LOCK_NB) == 0) {
			return STORE_OK;
		}
		if (errno != EWOULDBLOCK) {
			return STORE_ERR;
		}
		if (mono_ms() > deadline) {
			return STORE_INUSE;
		}
		sleep_ms(STORE_RETRY_MS);
	}
}

static int
pop3_lock(struct store_folder *f)
{
	char path[PATH_LEN];

	if (side_path(path, sizeof(path), f->side_base, SIDE_POP3) < 0 ||
	    (f->pop3_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
		return STORE_ERR;
	}
	return flock(f->pop3_fd, LOCK_EX | LOCK_NB) == 0 ? STORE_OK : STORE_INUSE;
}

static int
open_mbox(struct store_folder *f, int mode)
{
	char dir[PATH_LEN];
	char *slash;

	f->mbox_fd = open(f->mbox_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC |
	    ((mode & STORE_CREATE) ? O_CREAT : 0), 0600);
	if (f->mbox_fd < 0) {
		return errno == ENOENT ? STORE_NOFOLDER : STORE_ERR;
	}
	if (str_copy(dir, sizeof(dir), f->side_base) < 0 || (slash = strrchr(dir, '/')) == NULL) {
		return STORE_ERR;
	}
	*slash = '\0';
	return mkdir_p(dir, 0700) < 0 ? STORE_ERR : STORE_OK;
}

/* Start a folder whose state file is missing or empty: resync will fill it. */
static int
fresh_state(struct store_folder *f, struct idx_set *s)
{
	int rc;

	idx_free(s);
	memset(s, 0, sizeof(*s));
	s->map = &f->map;
	s->uidnext = 1;
	s->mboxrd = 1;
	if (idx_new_uidvalidity(f->side_base, &s->uidvalidity) < 0) {
		rc = write_error();
		log_warn("store: uidvalidity for %s", f->side_base);
		return rc;
	}
	f->state_seen = 0;
	return STORE_OK;
}

/*
 * The state file was damaged and s holds what idx_load salvaged: keep it, give it a
 * fresh UIDVALIDITY only when its own was lost, and make sync_mbox rescan the whole
 * mbox against it (matching by fingerprint keeps UIDs, flags and expunged state) and
 * replace the file. Nothing is cut from the damaged file meanwhile.
 */
static int
salvaged_state(struct store_folder *f, struct idx_set *s)
{
	struct stat st;

	log_warnx("store: %s.idx is damaged: %u records salvaged, %s uidvalidity",
	    f->side_base, s->count, s->uidvalidity != 0 ? "same" : "new");
	if (s->uidvalidity == 0 && idx_new_uidvalidity(f->side_base, &s->uidvalidity) < 0) {
		log_warn("store: uidvalidity for %s", f->side_base);
		return STORE_ERR;
	}
	if (fstat(f->state_fd, &st) < 0) {
		return STORE_ERR;
	}
	memset(&s->ms, 0, sizeof(s->ms));
	f->state_seen = (uint64_t)st.st_size;
	return STORE_OK;
}

/* Load the state file (cutting a torn tail), then index what changed in the mbox. */
static int
load_state(struct store_folder *f, struct idx_set *s)
{
	struct stat st;
	uint64_t end = 0;
	int rc;

	if (state_open_fd(f, 1) < 0 || (rc = state_lock(f)) < 0 || fstat(f->state_fd, &st) < 0) {
		return STORE_ERR;
	}
	f->state_ino = (uint64_t)st.st_ino;
	s->map = &f->map;
	rc = idx_load(f->state_fd, s, 0, &end);
	if (rc != IDX_IOERR && view_follow(f) < 0) {
		rc = IDX_IOERR;
	}
	if (rc == IDX_IOERR) {
		rc = STORE_ERR;
	} else if (rc == IDX_EMPTY) {
		rc = fresh_state(f, s);
	} else if (rc == IDX_SALVAGED) {
		rc = salvaged_state(f, s);
	} else {
		f->state_seen = end;
		rc = cut_torn(f);
	}
	if (rc == STORE_OK) {
		rc = sync_mbox(f, s);
	}
	if (rc == STORE_OK) {
		rc = maybe_checkpoint(f, s);
	}
	state_unlock(f);
	return rc;
}

static void
close_fds(struct store_folder *f)
{
	int *fds[] = { &f->mbox_fd, &f->state_fd, &f->session_fd, &f->pop3_fd };
	size_t i;

	for (i = 0; i < ARRAY_LEN(fds); i++) {
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	}
}

/* STORE_IMAP: the keyword table, and the structure cache (a cache that cannot be opened
 * leaves every FETCH parsing again, which still works). */
static int
open_imap_side(struct store_folder *f)
{
	f->kw = calloc(1, sizeof(*f->kw));
	f->mc = calloc(1, sizeof(*f->mc));
	if (f->kw == NULL || f->mc == NULL) {
		return STORE_ERR;
	}
	if (store_kw_load(f->side_base, f->kw) < 0) {
		f->kw->n = 0;
	}
	(void)mime_cache_open(f->mc, f->side_base, f->uidvalidity);
	return STORE_OK;
}

/* Drop the structure cache's records of expunged messages when they are most of it, close
 * it and free the keyword table. */
static void
close_imap_side(struct store_folder *f)
{
	uint32_t *uids, i, n = 0;

	if (f->mc != NULL) {
		uids = malloc(((size_t)f->count + 1) * sizeof(*uids));
		for (i = 0; uids != NULL && i < f->count; i++) {
			if (!(f->msgs[i].flags & STORE_EXPUNGED)) {
				uids[n++] = f->msgs[i].uid;
			}
		}
		if (uids != NULL && mime_cache_prune(f->mc, uids, n) < 0) {
			log_warnx("store: pruning the structure cache of %s", f->mbox_path);
		}
		free(uids);
		mime_cache_close(f->mc);
		free(f->mc);
		f->mc = NULL;
	}
	store_kw_free(f->kw);
	f->kw = NULL;
}

int
store_open(struct store_folder *f, const char *mbox, const char *side, int mode)
{
	struct idx_set s;
	int rc;

	memset(f, 0, sizeof(*f));
	f->mbox_fd = f->state_fd = f->session_fd = f->pop3_fd = f->map.fd = -1;
	f->rlock.fd = -1;
	f->mode = mode;
	if (str_copy(f->mbox_path, sizeof(f->mbox_path), mbox) < 0 ||
	    str_copy(f->side_base, sizeof(f->side_base), side) < 0) {
		return STORE_ERR;
	}
	memset(&s, 0, sizeof(s));
	rc = open_mbox(f, mode);
	if (rc == STORE_OK) {
		rc = session_lock(f);
	}
	if (rc == STORE_OK && (mode & STORE_POP3)) {
		rc = pop3_lock(f);
	}
	if (rc == STORE_OK) {
		rc = load_state(f, &s);
	}
	if (rc < 0) {
		idx_free(&s);
		idx_map_close(&f->map);
		close_fds(f);
		return rc;
	}
	idx_drop_expunged(&s);
	idx_clear_changed(&s);
	view_put(f, &s);
	if ((mode & STORE_IMAP) && (rc = open_imap_side(f)) != STORE_OK) {
		store_close(f);
	}
	return rc;
}

/* ---- the session's operations ---- */

/* Is the mbox whose stat is st as f last synced it (inode, size, mtime)? */
static int
mbox_as_synced(const struct store_folder *f, const struct stat *st)
{
	return (uint64_t)st->st_ino == f->synced.ino && (uint64_t)st->st_size == f->synced.size &&
	    (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec == f->synced.mtime_ns;
}

static int
mbox_unchanged(const struct store_folder *f)
{
	struct stat st;

	return stat(f->mbox_path, &st) == 0 && mbox_as_synced(f, &st);
}

int
store_refresh(struct store_folder *f, struct store_changes *ch)
{
	char path[PATH_LEN];
	struct idx_set s;
	struct stat st;
	int rc;

	memset(ch, 0, sizeof(*ch));
	if (side_path(path, sizeof(path), f->side_base, SIDE_IDX) == 0 && stat(path, &st) == 0 &&
	    (uint64_t)st.st_ino == f->state_ino && (uint64_t)st.st_size == f->state_seen &&
	    mbox_unchanged(f)) {
		return STORE_OK;
	}
	view_get(f, &s);
	rc = refresh_locked(f, &s);
	view_put(f, &s);
	*ch = s.ch;
	/* deleted or renamed away (another session, another tool) */
	if (rc != STORE_OK && access(f->mbox_path, F_OK) < 0 && errno == ENOENT) {
		rc = STORE_NOFOLDER;
	}
	return rc;
}

void
store_forget_expunged(struct store_folder *f)
{
	struct idx_set s;

	view_get(f, &s);
	idx_drop_expunged(&s);
	view_put(f, &s);
}

long
store_find_uid(const struct store_folder *f, uint32_t uid)
{
	struct idx_set s;

	memset(&s, 0, sizeof(s));
	s.msgs = f->msgs;
	s.count = f->count;
	return idx_find(&s, uid);
}

int
store_msg_entry(struct store_folder *f, uint32_t i, struct mbox_entry *e)
{
	struct idx_set s;

	view_get(f, &s);
	if (i < f->count && idx_entry(&s, i, e) == 0) {
		return 0;
	}
	memset(e, 0, sizeof(*e));
	return -1;
}

uint64_t
store_msg_keywords(const struct store_folder *f, uint32_t i)
{
	return f->kwmask != NULL ? f->kwmask[i] : 0;
}

int
store_change_flags(struct store_folder *f, uint32_t i, const struct store_flagop *op)
{
	unsigned char buf[IDX_LOG_MAX];
	struct idx_set s;
	struct idx_log l;
	int rc;

	if (i >= f->count) {
		return STORE_ERR;
	}
	view_get(f, &s);
	rc = state_lock(f);
	if (rc == STORE_OK) {
		/* others' changes first: the operation applies to the flags as stored now */
		rc = catch_up(f, &s);
		if (rc == STORE_OK) {
			struct store_msg *m = &s.msgs[i];
			uint32_t fl = ((m->flags & ~op->clear) | op->set) & STORE_FLAGS_ALL;
			uint64_t was = idx_keywords(&s, i), kw = (was & ~op->kw_clear) | op->kw_set;

			if ((m->flags & STORE_EXPUNGED) == 0 &&
			    (fl != (m->flags & STORE_FLAGS_ALL) || kw != was)) {
				memset(&l, 0, sizeof(l));
				l.type = IDX_FLAGS;
				l.m.uid = m->uid;
				l.m.flags = fl;
				l.m.keywords = kw;
				rc = state_append(f, buf, idx_put_log(buf, &l), 0);
				if (rc == STORE_OK) {
					m->flags = (m->flags & ~STORE_FLAGS_ALL) | fl;
					rc = idx_set_keywords(&s, i, kw) < 0 ? STORE_ERR :
					    maybe_checkpoint(f, &s);
				}
			}
		}
		state_unlock(f);
	}
	view_put(f, &s);
	return rc;
}

static int compact_now(struct store_folder *f, int force);

/*
 * Under the state lock, with s synced: the mbox write lock on a descriptor of its own
 * (so that it never merges with the session's read locks), tried once; STORE_INUSE when
 * busy or when the mbox moved since the sync (the caller syncs again), *end = its size.
 */
static int
append_lock(struct store_folder *f, const struct idx_set *s, struct mbox_lock *l, int *fd,
    uint64_t *end)
{
	struct store_mboxstat now;
	int rc;

	*fd = open(f->mbox_path, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0) {
		return errno == ENOENT ? STORE_NOFOLDER : STORE_ERR;
	}
	memset(l, 0, sizeof(*l));
	rc = lock_mbox(l, *fd, f->mbox_path, MBOX_LOCK_WRITE, 0);
	if (rc == 0) {
		rc = idx_mbox_stat(*fd, &now) < 0 ? STORE_ERR :
		    same_mbox(&now, &s->ms) ? STORE_OK : STORE_INUSE;
		if (rc != STORE_OK) {
			unlock_mbox(l);
		}
	}
	if (rc != STORE_OK) {
		close(*fd);
		*fd = -1;
		return rc == STORE_INUSE ? STORE_INUSE : STORE_ERR;
	}
	*end = now.size;
	return STORE_OK;
}

/*
 * Both locks held: run put, then index what it wrote, or cut the mbox back. The dotlock
 * goes (durably) before the records are written: a dotlock left by a kill makes the
 * next locker cut the bytes past the size it names, and no record may point there.
 */
static int
append_put(struct store_folder *f, struct idx_set *s, struct mbox_lock *l, int fd,
    uint64_t end, int (*put)(void *ctx, int fd, uint64_t end), void *ctx)
{
	struct store_mboxstat now;
	int rc = put(ctx, fd, end);

	if (rc == STORE_OK) {
		rc = idx_mbox_stat(f->mbox_fd, &now) < 0 || lock_commit(l) < 0 ? STORE_ERR :
		    scan_new(f, s, &now);
	} else if (ftruncate(fd, (off_t)end) != 0 || fsync(fd) != 0) {
		/* our dotlock stays: the next locker cuts the mbox back (lock.c) */
		log_warn("store: cannot cut %s back after a failed append", f->mbox_path);
		l->dotlocked = 0;
	}
	if (unlock_mbox(l) != 0 && rc == STORE_OK) {
		rc = STORE_ERR;
	}
	return rc;
}

int
store_append_indexed(struct store_folder *f, int (*put)(void *ctx, int fd, uint64_t end),
    void *ctx, uint32_t *first)
{
	int64_t deadline = mono_ms() + LOCK_TIMEOUT_MS;
	struct mbox_lock l;
	struct idx_set s;
	uint64_t end = 0;
	int fd = -1, rc;

	view_get(f, &s);
	for (;;) {
		rc = state_lock(f);
		if (rc < 0) {
			break;
		}
		rc = catch_up(f, &s);
		if (rc == STORE_OK) {
			rc = sync_mbox(f, &s);
		}
		if (rc == STORE_OK) {
			rc = append_lock(f, &s, &l, &fd, &end);
		}
		if (rc == STORE_OK) {
			*first = s.count;
			rc = append_put(f, &s, &l, fd, end, put, ctx);
			close(fd);
			if (rc == STORE_OK) {
				rc = maybe_checkpoint(f, &s);
			}
		}
		state_unlock(f);
		/* Busy: let go of the state lock before waiting, never hold it asleep. */
		if (rc != STORE_INUSE || mono_ms() > deadline) {
			break;
		}
		sleep_ms(STORE_RETRY_MS);
	}
	view_put(f, &s);
	return rc;
}

/* Expunge records for uids (ascending runs of consecutive UIDs become one record). */
static size_t
expunge_records(unsigned char *buf, const uint32_t *uids, size_t n)
{
	struct idx_log l;
	size_t i = 0, len = 0;

	memset(&l, 0, sizeof(l));
	l.type = IDX_EXPUNGE;
	while (i < n) {
		l.first = l.last = uids[i++];
		while (i < n && l.last != UINT32_MAX && uids[i] == l.last + 1) {
			l.last = uids[i++];
		}
		len += idx_put_log(buf + len, &l);
	}
	return len;
}

/*
 * The disk is full and the expunge record does not fit: when the messages to expunge
 * (uids, ascending) are the last ones of the mbox, cut them off first, which gives the
 * space back (under the state lock, s caught up; the mbox as s last synced it). The
 * record then follows; a crash between leaves the mbox shorter than the state file
 * says, which the next open rescans as an outside change. 1 cut, 0 not possible.
 */
static int
cut_expunged_tail(struct store_folder *f, const struct idx_set *s, const uint32_t *uids,
    size_t n)
{
	struct store_mboxstat now;
	struct mbox_lock l;
	uint64_t cut = s->ms.size;
	uint32_t i;
	int rc = 0;

	/* From the end: messages to expunge (uids[n - 1] next) or expunged already. */
	for (i = s->count; i > 0; i--) {
		const struct store_msg *m = &s->msgs[i - 1];
		struct mbox_entry e;

		if (n > 0 && uids[n - 1] == m->uid) {
			n--;
		} else if ((m->flags & STORE_EXPUNGED) == 0) {
			break;
		}
		if (idx_entry(s, i - 1, &e) < 0) {
			return 0;
		}
		cut = e.offset;
	}
	if (n > 0 || cut >= s->ms.size) {
		return 0;
	}
	memset(&l, 0, sizeof(l));
	if (lock_mbox(&l, f->mbox_fd, f->mbox_path, MBOX_LOCK_SHRINK, COMPACT_WAIT_MS) != 0) {
		return 0;
	}
	if (idx_mbox_stat(f->mbox_fd, &now) == 0 && same_mbox(&now, &s->ms) &&
	    ftruncate(f->mbox_fd, (off_t)cut) == 0 && fsync(f->mbox_fd) == 0) {
		log_warnx("store: disk full, cut the %llu bytes of expunged messages at the end of "
		    "%s first", (unsigned long long)(s->ms.size - cut), f->mbox_path);
		rc = 1;
	}
	unlock_mbox(&l);
	return rc;
}

/*
 * Under the state lock, caught up: with need, keep only those of uids[0..n) that are in
 * s, not expunged, and carry every flag of need as stored now; without, keep all.
 * Returns how many are kept (at the front of uids).
 */
static size_t
expunge_filter(const struct idx_set *s, uint32_t *uids, size_t n, uint32_t need)
{
	size_t k, m = 0;

	for (k = 0; k < n; k++) {
		long i = idx_find(s, uids[k]);

		if (need == 0 || (i >= 0 && (s->msgs[i].flags & (need | STORE_EXPUNGED)) == need)) {
			uids[m++] = uids[k];
		}
	}
	return m;
}

/* store_expunge and store_expunge_deleted: need = flags a message must have now. */
static int
expunge_uids(struct store_folder *f, const uint32_t *uids_in, size_t n, uint32_t need)
{
	unsigned char *buf;
	uint32_t *uids;
	struct idx_set s;
	size_t len = 0, kept = 0;
	int rc;

	if (n == 0) {
		return STORE_OK;
	}
	if (n > FOLDER_MSGS_MAX || (buf = malloc(n * IDX_LOG_MAX)) == NULL) {
		return STORE_ERR;
	}
	if ((uids = malloc(n * sizeof(*uids))) == NULL) {
		free(buf);
		return STORE_ERR;
	}
	memcpy(uids, uids_in, n * sizeof(*uids));
	view_get(f, &s);
	rc = state_lock(f);
	if (rc == STORE_OK) {
		rc = catch_up(f, &s);
		if (rc == STORE_OK) {
			kept = expunge_filter(&s, uids, n, need);
			len = expunge_records(buf, uids, kept);
			rc = len > 0 ? state_append(f, buf, len, 1) : STORE_OK;
		}
		if (rc == STORE_NOSPACE && cut_expunged_tail(f, &s, uids, kept)) {
			rc = state_append(f, buf, len, 1);
		}
		if (rc == STORE_OK && len > 0) {
			size_t at = 0;
			struct idx_log l;
			long k;

			while ((k = idx_get_log(buf + at, len - at, &l)) > 0) {
				idx_apply(&s, &l);
				at += (size_t)k;
			}
			rc = maybe_checkpoint(f, &s);
		}
		state_unlock(f);
	}
	view_put(f, &s);
	free(buf);
	free(uids);
	/* Long-lived sessions rarely close: give the dead bytes back now if worth it. */
	if (rc == STORE_OK && len > 0 && (f->mode & STORE_RDWR)) {
		(void)compact_now(f, 0);
	}
	return rc;
}

int
store_expunge(struct store_folder *f, const uint32_t *uids, size_t n)
{
	return expunge_uids(f, uids, n, 0);
}

int
store_expunge_deleted(struct store_folder *f, const uint32_t *uids, size_t n)
{
	return expunge_uids(f, uids, n, STORE_DELETED);
}

/* Generation in the header of the state file open on fd; 0 or -1. */
static int
header_generation(int fd, uint64_t *gen)
{
	unsigned char h[IDX_HDR_LEN];
	struct idx_set hs;

	memset(&hs, 0, sizeof(hs));
	if (pread_full(fd, h, IDX_HDR_LEN, 0) != IDX_HDR_LEN || idx_get_header(h, &hs) < 0) {
		return -1;
	}
	*gen = hs.generation;
	return 0;
}

/*
 * Read the records of the messages f lists from img, loaded from the file open on fd
 * (which f's map takes); those not in img are STORE_VANISHED (their entries kept).
 */
static void
take_offsets(struct store_folder *f, const struct idx_set *img, int fd)
{
	struct idx_set s;
	uint32_t i;

	view_get(f, &s);
	for (i = 0; i < s.count; i++) {
		long k = idx_find(img, s.msgs[i].uid);

		if (k >= 0) {
			s.msgs[i].at = img->msgs[k].at;
		} else {
			/* read through the old mapping, still open */
			idx_keep_entry(&s, i);
			s.msgs[i].flags |= STORE_VANISHED;
		}
	}
	view_put(f, &s);
	idx_map_open(&f->map, fd);
	f->generation = img->generation;
}

/*
 * Under the mbox read lock (no compaction can be running): when the state file was
 * replaced since f's offsets were read (a compaction moved bytes, or a checkpoint), take
 * the new offsets silently; the session still lists the same messages with the same
 * flags, and store_refresh announces the rest later.
 */
static int
follow_offsets(struct store_folder *f)
{
	char path[PATH_LEN];
	struct idx_set img;
	struct stat st;
	uint64_t gen, end;
	int fd, rc;

	if (side_path(path, sizeof(path), f->side_base, SIDE_IDX) < 0) {
		return STORE_ERR;
	}
	/* The file the session holds open keeps its inode number from being reused. */
	if (stat(path, &st) == 0 && (uint64_t)st.st_ino == f->state_ino) {
		return STORE_OK;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		return STORE_ERR;
	}
	if (header_generation(fd, &gen) == 0 && gen == f->generation) {
		close(fd);
		return STORE_OK;
	}
	memset(&img, 0, sizeof(img));
	rc = idx_load(fd, &img, 0, &end) == IDX_LOADED && img.uidvalidity == f->uidvalidity ?
	    STORE_OK : STORE_ERR;
	if (rc == STORE_OK) {
		take_offsets(f, &img, fd);
	} else {
		close(fd);
		log_warnx("store: %s.idx unreadable while following a compaction", f->side_base);
	}
	idx_free(&img);
	return rc;
}

/*
 * Finish a crashed compaction through a state file descriptor of its own: the session's
 * stays on the file its view was read from (and keeps that inode number in use) until
 * store_refresh catches up.
 */
static int
finish_compaction(struct store_folder *f)
{
	int keep = f->state_fd, rc = STORE_ERR;

	if (state_open_fd(f, 1) == 0) {
		rc = state_lock(f);
		if (rc == STORE_OK) {
			state_unlock(f);
		}
		close(f->state_fd);
	}
	f->state_fd = keep;
	return rc;
}

/* The mbox read lock, with no compaction left half done by a crash (finished first). */
static int
read_lock(struct store_folder *f)
{
	int rc = lock_mbox(&f->rlock, f->mbox_fd, f->mbox_path, MBOX_LOCK_READ,
	    LOCK_TIMEOUT_MS);

	if (rc == 0 && journal_exists(f)) {
		unlock_mbox(&f->rlock);
		rc = finish_compaction(f);
		if (rc == STORE_OK) {
			rc = lock_mbox(&f->rlock, f->mbox_fd, f->mbox_path, MBOX_LOCK_READ,
			    LOCK_TIMEOUT_MS);
		}
		if (rc == 0 && journal_exists(f)) {
			unlock_mbox(&f->rlock);
			rc = STORE_ERR;
		}
	}
	if (rc < 0) {
		return rc == STORE_INUSE ? STORE_INUSE : STORE_ERR;
	}
	return STORE_OK;
}

static int
first_entry_cb(void *ctx, const struct mbox_entry *e)
{
	*(struct mbox_entry *)ctx = *e;
	return 1;
}

/*
 * Is m (starting with a From_ line where the index says) still the message that was
 * indexed? While the mbox is as last synced, yes. Otherwise its bytes are scanned again
 * (to the separator after them) and must give the same From_ line length and content
 * fingerprint: a message that took the place of one cut away must not be served under
 * the old UID. The fingerprint ignores a separator appended after a last message.
 */
static int
same_message(struct store_folder *f, const struct mbox_entry *m)
{
	struct mbox_scan_stats st;
	struct mbox_entry e;
	uint64_t end = m->offset + m->from_len + m->raw_len + 1;

	if (f->held_synced) {
		return 1;
	}
	if (mbox_scan(f->mbox_fd, m->offset, end < f->held_size ? end : f->held_size, f->mboxrd,
	    first_entry_cb, &e, &st) != 1) {
		return 0;
	}
	return e.offset == m->offset && e.from_len == m->from_len &&
	    e.fingerprint == m->fingerprint;
}

/*
 * The read lock for store_msg_open, with the offsets of a compaction that ran since
 * followed and the mbox's size noted: nothing changes them while it is held.
 */
static int
hold_mbox(struct store_folder *f)
{
	struct stat st;
	int rc = read_lock(f);

	if (rc != STORE_OK) {
		return rc;
	}
	rc = follow_offsets(f);
	if (rc == STORE_OK && fstat(f->mbox_fd, &st) < 0) {
		rc = STORE_ERR;
	}
	if (rc != STORE_OK) {
		unlock_mbox(&f->rlock);
		return rc;
	}
	f->held_size = (uint64_t)st.st_size;
	f->held_synced = mbox_as_synced(f, &st);
	f->batch_msgs = STORE_READ_BATCH_MSGS;
	f->batch_bytes = STORE_READ_BATCH_BYTES;
	return STORE_OK;
}

int
store_msg_open(struct store_folder *f, uint32_t i, struct mbox_reader *r)
{
	struct mbox_entry e;
	int rc;

	if (i >= f->count || (f->msgs[i].flags & STORE_EXPUNGED)) {
		return STORE_GONE;
	}
	rc = f->rlock.fd >= 0 ? STORE_OK : hold_mbox(f);
	if (rc != STORE_OK) {
		return rc;
	}
	/* a record that cannot be read leaves nothing to find the message by */
	rc = STORE_GONE;
	if (!(f->msgs[i].flags & STORE_VANISHED) && store_msg_entry(f, i, &e) == 0 &&
	    e.offset + e.from_len + e.raw_len <= f->held_size &&
	    mbox_reader_open(r, f->mbox_fd, &e, f->mboxrd) == 1 && same_message(f, &e)) {
		f->batch_bytes -= e.raw_len < f->batch_bytes ? e.raw_len : f->batch_bytes;
		rc = STORE_OK;
	}
	if (rc != STORE_OK) {
		store_msg_close(f, r);
	}
	return rc;
}

void
store_msg_close(struct store_folder *f, struct mbox_reader *r)
{
	(void)r;
	if (!f->batching || --f->batch_msgs == 0 || f->batch_bytes == 0) {
		unlock_mbox(&f->rlock);
	}
}

void
store_msg_batch(struct store_folder *f, int on)
{
	f->batching = on;
	if (!on && f->rlock.fd >= 0) {
		unlock_mbox(&f->rlock);
	}
}

void
store_msg_rewind(struct store_folder *f, uint32_t i, struct mbox_reader *r)
{
	struct mbox_entry e;

	/* read by store_msg_open already: only an I/O error fails it now (nothing read) */
	(void)store_msg_entry(f, i, &e);
	mbox_reader_init(r, f->mbox_fd, &e, f->mboxrd);
}

int
store_msg_read(void *reader, const char **line, size_t *len, int *partial, int *nl)
{
	return mbox_reader_next(reader, line, len, partial, nl);
}

struct mime_src
store_msg_src(struct mbox_reader *r)
{
	struct mime_src src = { store_msg_read, r };

	return src;
}

int
store_structure_get(struct store_folder *f, uint32_t i, struct mime_cached *out)
{
	struct mbox_entry e;

	if (f->mc == NULL || store_msg_entry(f, i, &e) < 0) {
		return -1;
	}
	return mime_cache_get(f->mc, f->msgs[i].uid, mime_cache_key(&e), out);
}

int
store_structure_put(struct store_folder *f, uint32_t i, const struct mime_src *src,
    struct mime_cached *out)
{
	struct mbox_entry e;

	if (f->mc == NULL || store_msg_entry(f, i, &e) < 0) {
		return -1;
	}
	return mime_cache_put(f->mc, f->msgs[i].uid, mime_cache_key(&e), src, out);
}

void
store_structure_flush(struct store_folder *f)
{
	if (f->mc != NULL) {
		mime_cache_flush(f->mc);
	}
}

/* ---- compaction ---- */

/* Is compacting img worth it: dead bytes past 1/COMPACT_DEAD_DIV, or nothing live. */
static int
worth_compacting(const struct idx_set *img, int force)
{
	uint64_t dead = compact_dead(img);
	uint32_t i;

	if (dead == 0) {
		return 0;
	}
	if (force || dead > img->ms.size / COMPACT_DEAD_DIV) {
		return 1;
	}
	for (i = 0; i < img->count; i++) {
		if ((img->msgs[i].flags & STORE_EXPUNGED) == 0) {
			return 0;
		}
	}
	return 1;
}

/*
 * Could compacting s (a synced view) be worth it? Its live messages span at least their
 * From_ lines and contents, so the rest of the mbox bounds the dead bytes from above:
 * a no here needs no image and no lock. Only a forced compaction looks closer.
 */
static int
maybe_worth(const struct idx_set *s, int force)
{
	uint64_t live = 0;
	uint32_t i, n = 0;

	for (i = 0; i < s->count; i++) {
		struct mbox_entry e;

		if ((s->msgs[i].flags & STORE_EXPUNGED) == 0) {
			if (idx_entry(s, i, &e) < 0) {
				return 1;	/* the image will tell */
			}
			live += (uint64_t)e.from_len + e.raw_len;
			n++;
		}
	}
	if (force || n == 0) {
		return s->ms.size > 0;
	}
	return s->ms.size > live && s->ms.size - live > s->ms.size / COMPACT_DEAD_DIV;
}

/*
 * Compact under the mbox write lock, waiting for it up to wait_ms (caller holds the
 * state lock), but only once the image says there is something to do: a session that
 * changed nothing neither waits nor takes the dotlock (which costs fsyncs). Sessions
 * still open find the new state file by its generation.
 */
static int
compact_locked(struct store_folder *f, struct idx_set *s, int force, int wait_ms)
{
	struct store_mboxstat now;
	struct mbox_lock l;
	struct idx_set img;
	int rc;

	if (!maybe_worth(s, force)) {
		return STORE_OK;
	}
	rc = load_image(f, s, &img);
	if (rc != STORE_OK || !worth_compacting(&img, force)) {
		idx_free(&img);
		return rc;
	}
	memset(&l, 0, sizeof(l));
	rc = lock_mbox(&l, f->mbox_fd, f->mbox_path, MBOX_LOCK_SHRINK, wait_ms);
	if (rc < 0) {
		idx_free(&img);
		return rc == -2 ? STORE_INUSE : STORE_ERR;
	}
	rc = STORE_OK;
	/* Mail that arrived between the sync and the write lock waits for the next time. */
	if (idx_mbox_stat(f->mbox_fd, &now) == 0 && same_mbox(&now, &s->ms) &&
	    img.ms.size == now.size) {
		rc = compact_run(f->mbox_fd, f->side_base, &l, &img);
		rc = rc == -2 ? STORE_NOSPACE : rc < 0 ? STORE_ERR : STORE_OK;
	}
	idx_free(&img);
	unlock_mbox(&l);
	return rc;
}

/*
 * Compact f if worth it (always with force). Alone, .ses is held exclusively and the
 * write lock awaited (COMPACT_WAIT_MS, a forced one LOCK_TIMEOUT_MS); with other sessions
 * open, an automatic compaction runs only if no reader holds the mbox at this instant,
 * so that closing or expunging never stalls: the bytes wait for the next time. An
 * IMAP APPEND or COPY indexes what it wrote under the state lock it took before the
 * write lock (store_append_indexed), so no compaction moves it before it has its UID.
 */
static int
compact_now(struct store_folder *f, int force)
{
	struct idx_set s;
	int alone, rc;

	view_get(f, &s);
	/* What this session saw is enough to tell most closes there is nothing to do,
	 * before taking anything; dead bytes it did not see wait for another time. */
	if (!maybe_worth(&s, force)) {
		return STORE_OK;
	}
	alone = flock(f->session_fd, LOCK_EX | LOCK_NB) == 0;
	rc = state_lock(f);
	if (rc == STORE_OK) {
		rc = catch_up(f, &s);
		if (rc == STORE_OK) {
			rc = sync_mbox(f, &s);
		}
		if (rc == STORE_OK) {
			rc = compact_locked(f, &s, force,
			    force ? LOCK_TIMEOUT_MS : alone ? COMPACT_WAIT_MS : 0);
		}
		state_unlock(f);
	}
	view_put(f, &s);
	if (alone && flock(f->session_fd, LOCK_SH) < 0) {
		return STORE_ERR;
	}
	return rc;
}

int
store_compact(struct store_folder *f)
{
	struct store_changes ch;
	int rc = compact_now(f, 1);

	if (rc == STORE_OK) {
		rc = store_refresh(f, &ch);
	}
	return rc;
}

void
store_close(struct store_folder *f)
{
	if (f->rlock.fd >= 0) {
		unlock_mbox(&f->rlock);
	}
	close_imap_side(f);
	if (f->session_fd >= 0 && f->state_fd >= 0 && (f->mode & STORE_RDWR)) {
		compact_now(f, 0);
	}
	close_fds(f);
	idx_map_close(&f->map);
	free(f->msgs);
	free(f->kwmask);
	f->msgs = NULL;
	f->kwmask = NULL;
	f->count = f->cap = 0;
}

const char *
store_strerror(int rc)
{
	static const char *const text[] = {
		"ok", "store error", "mailbox in use", "no space left", "quota exceeded",
		"message too big", "malformed message", "message no longer in the mailbox",
		"no such folder", "folder exists", "not possible with this name",
		"folder has children", "too many folders",
	};

	return rc <= 0 && -rc < (int)ARRAY_LEN(text) ? text[-rc] : "unknown error";
}
