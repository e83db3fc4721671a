/*
 * mbox locking shared with other mail tools, and the undo of a writer's partial append.
 * Runs unprivileged, in per-connection processes and in verbs (deliver, check), never in
 * the listener.
 *
 * The rules, and why:
 * 1. A fcntl record lock on the whole mbox: read lock for readers, write lock for
 *    writers. OFD locks (F_OFD_SETLK) belong to the open file, so closing some other fd
 *    of the same file in this process cannot drop them; kernels without OFD (EINVAL) get
 *    classic F_SETLK, which is why callers keep one fd per file.
 * 2. Writers also create <mbox>.lock, the dotlock that mutt, procmail, postfix and
 *    fetchmail's MDAs respect: a temp file with the contents, then link() (atomic, the
 *    NFS-safe way; a kill leaves no empty dotlock of ours).
 * 3. Never block, all or nothing: fcntl first, then the dotlock; if either is busy,
 *    drop both, sleep a jittered, doubling delay and retry until the deadline (then
 *    -2, STORE_INUSE). Tools take these locks in different orders, and blocking on one
 *    while holding the other is how two of them deadlock.
 * 4. Our dotlock holds "pid old-size boot-id\n", written, fsynced and its directory
 *    fsynced before the mbox grows: if the writer dies (kill -9, power cut), the next
 *    one knows where the mbox ended. A shrinking writer (compaction) writes "-" for the
 *    size: it never appends, so bytes past its start are never its own. The boot id tells a writer of an earlier boot
 *    from a process that got the same pid since.
 * 5. A dotlock is stale when it is ours and its writer is dead (other boot, or no such
 *    pid here), or when neither it nor the mbox changed for DOTLOCK_STALE seconds
 *    (other tools' dotlocks may hold just a pid), DOTLOCK_EMPTY_STALE for one that
 *    names no pid (empty: a tool killed between create and write, or a `touch`).
 *    Long work refreshes ours every DOTLOCK_TOUCH seconds.
 * 6. Stale dotlocks are judged and removed only while holding the fcntl write lock, so
 *    two of our processes never both remove one and then each create their own.
 * 7. Recovery: a stale dotlock of ours naming a size below the mbox's means its writer
 *    died mid-append (a killed deliver never exited 0, so its bytes were never
 *    accepted). The mbox is truncated back to that size and synced only when the bytes
 *    past it are exactly one message of ours in progress: at most two LFs (our
 *    separator fix-up), our "From " line, and no other "From " anywhere after it except
 *    as ">From " (our writer quotes every body line that starts with "From ", so a bare
 *    one can only be another tool's message appended after our writer died, by a tool
 *    that takes fcntl locks or none). Otherwise every byte stays, a warning is logged
 *    and the scanner sees the partial message as a message: mail that is not ours is
 *    never cut. Then the dotlock goes.
 * 8. Unlock removes the dotlock and syncs the directory before reporting success: a
 *    dotlock of ours resurrected by a power cut would otherwise undo an accepted append.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "log.h"
#include "side.h"
#include "util.h"

#define LOCK_BOOT_ID	"/proc/sys/kernel/random/boot_id"

/* fcntl lock of the whole file (F_RDLCK, F_WRLCK, F_UNLCK): 0, 1 busy, -1 error. */
static int
lock_fcntl(int fd, short type)
{
	struct flock fl;
	int rc = -1;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
#ifdef F_OFD_SETLK
	rc = fcntl(fd, F_OFD_SETLK, &fl);
#else
	errno = EINVAL;
#endif
	if (rc != 0 && errno == EINVAL) {
		rc = fcntl(fd, F_SETLK, &fl);
	}
	if (rc == 0) {
		return 0;
	}
	return errno == EAGAIN || errno == EACCES ? 1 : -1;
}

/* This boot's id (36 characters), or "-" where the kernel has none. */
static void
lock_boot_id(char *buf, size_t cap)
{
	int fd = open(LOCK_BOOT_ID, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read_full(fd, buf, cap - 1) : -1;

	if (fd >= 0) {
		close(fd);
	}
	while (n > 0 && (buf[n - 1] == '\n' || (size_t)n > 36)) {
		n--;
	}
	if (n <= 0) {
		buf[0] = '-';
		n = 1;
	}
	buf[n] = '\0';
}

/* <dir>/.<name>.lock.tmp for the dotlock <dir>/<name>.lock: hidden from folder lists. */
static int
lock_tmp_name(const char *dotlock, char *buf, size_t cap)
{
	const char *slash = strrchr(dotlock, '/');
	int dl = slash != NULL ? (int)(slash + 1 - dotlock) : 0;

	return str_fmt(buf, cap, "%.*s.%s.tmp", dl, dotlock, dotlock + dl) < 0 ? -1 : 0;
}

/*
 * Create our dotlock naming the mbox size: 0, 1 exists, -1 error. The contents are
 * written and synced in a temp file first, then linked into place (atomic, and safe on
 * NFS, where a lost reply to link is told by the link count): a dotlock of ours is never
 * seen empty. The temp name is fixed: only the holder of the fcntl write lock creates a
 * dotlock (rule 6), and a temp file left by a killed writer is simply reused.
 */
static int
lock_dot_create(struct mbox_lock *l, int fd, int kind)
{
	char text[128], boot[40], tmp[PATH_LEN];
	struct stat st;
	int tfd, n, rc;

	if (fstat(fd, &st) != 0 || lock_tmp_name(l->dotlock, tmp, sizeof(tmp)) != 0) {
		return -1;
	}
	tfd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (tfd < 0) {
		return -1;
	}
	lock_boot_id(boot, sizeof(boot));
	/* A shrinking writer never appends: "-" says there is no append to undo (rule 7). */
	n = kind == MBOX_LOCK_SHRINK ?
	    str_fmt(text, sizeof(text), "%ld - %s\n", (long)getpid(), boot) :
	    str_fmt(text, sizeof(text), "%ld %lld %s\n", (long)getpid(), (long long)st.st_size, boot);
	rc = n < 0 || write_all(tfd, text, (size_t)n) != 0 || fsync(tfd) != 0 ? -1 : 0;
	if (rc != 0 && kind == MBOX_LOCK_SHRINK && (errno == ENOSPC || errno == EDQUOT) &&
	    ftruncate(tfd, 0) == 0) {
		/* A full disk: an empty dotlock (no block needed) still keeps others out, and a
		 * shrinking writer leaves nothing to undo; empty, it is stale soon if we die. */
		rc = 0;
	}
	if (rc == 0 && link(tmp, l->dotlock) != 0) {
		rc = errno == EEXIST ? 1 : -1;
		if (fstat(tfd, &st) == 0 && st.st_nlink == 2) {
			rc = 0;
		}
	}
	close(tfd);
	unlink(tmp);
	if (rc == 0 && fsync_parent(l->dotlock) != 0) {
		unlink(l->dotlock);
		rc = -1;
	}
	if (rc != 0) {
		return rc;
	}
	l->dotlocked = 1;
	l->last_touch_ms = mono_ms();
	return 0;
}

/* What a dotlock says about its writer. */
struct lock_owner {
	int named;		/* it names a pid: else empty or unparseable */
	int ours;		/* "pid size boot" ("-" size: UINT64_MAX, nothing to undo) */
	int dead;		/* writer known gone */
	uint64_t size;
};

static void
lock_dot_parse(char *text, size_t n, struct lock_owner *o)
{
	char boot[40];
	char *sp1 = memchr(text, ' ', n), *sp2, *nl;
	uint32_t pid;
	size_t plen = sp1 != NULL ? (size_t)(sp1 - text) : n;

	memset(o, 0, sizeof(*o));
	while (plen > 0 && text[plen - 1] == '\n') {
		plen--;
	}
	if (parse_u32(text, plen, 0x7fffffff, &pid) != 0 || pid == 0) {
		return;
	}
	o->named = 1;
	o->dead = kill((pid_t)pid, 0) != 0 && errno == ESRCH;
	if (sp1 == NULL) {
		return;
	}
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - text));
	nl = memchr(text, '\n', n);
	if (sp2 == NULL || nl == NULL || nl < sp2) {
		return;
	}
	if (sp2 - sp1 == 2 && sp1[1] == '-') {
		o->size = UINT64_MAX;
	} else if (parse_u64(sp1 + 1, (size_t)(sp2 - sp1 - 1), UINT64_MAX >> 1, &o->size) != 0) {
		return;
	}
	o->ours = 1;
	*nl = '\0';
	lock_boot_id(boot, sizeof(boot));
	if (strcmp(boot, "-") != 0 && strcmp(sp2 + 1, boot) != 0) {
		o->dead = 1;
	}
}

/*
 * Are the bytes of fd in [from, end) one message of ours in progress (rule 7)? 1 yes,
 * 0 no (something else is there), -1 read error. Reads LOCK_UNDO_BUF bytes at a time,
 * keeping the last 5 so that a "From " across two reads is seen.
 */
static int
lock_only_ours(int fd, uint64_t from, uint64_t end)
{
	char buf[LOCK_UNDO_BUF];
	uint64_t pos;
	size_t keep = 1, have, i, skip;
	ssize_t n = pread_full(fd, buf, 7, (off_t)from);

	if (n < 0) {
		return -1;
	}
	for (skip = 0; skip < 2 && skip < (size_t)n && buf[skip] == '\n'; skip++) {
	}
	if ((size_t)n < skip + 5 || memcmp(buf + skip, "From ", 5) != 0) {
		return 0;
	}
	/* buf[0] never starts a match (first the ' ' of our "From ", then a byte whose own
	 * window was looked at already): the search starts at 1 and buf[i - 1] tells ">From ". */
	buf[0] = ' ';
	for (pos = from + skip + 5; pos < end; pos += (uint64_t)n) {
		size_t room = sizeof(buf) - keep;

		n = pread_full(fd, buf + keep, end - pos < room ? (size_t)(end - pos) : room,
		    (off_t)pos);
		if (n <= 0) {
			return n < 0 ? -1 : 0;
		}
		have = keep + (size_t)n;
		for (i = 1; i + 5 <= have; i++) {
			if (memcmp(buf + i, "From ", 5) == 0 && buf[i - 1] != '>') {
				return 0;
			}
		}
		keep = have < 5 ? have : 5;
		memmove(buf, buf + have - keep, keep);
	}
	return 1;
}

/* Truncate the mbox back to where a dead writer found it, when only its bytes follow. */
static int
lock_undo_append(int fd, const struct lock_owner *o)
{
	struct stat st;
	int ours;

	if (fstat(fd, &st) != 0) {
		return -1;
	}
	if (o->size >= (uint64_t)st.st_size) {
		return 0;
	}
	ours = lock_only_ours(fd, o->size, (uint64_t)st.st_size);
	if (ours < 0) {
		log_warn("lock: reading an interrupted append");
		return -1;
	}
	if (!ours) {
		log_warnx("lock: kept %llu bytes after offset %llu: not just an interrupted append "
		    "of ours (another tool's mail follows)", (unsigned long long)st.st_size - o->size,
		    (unsigned long long)o->size);
		return 0;
	}
	if (ftruncate(fd, (off_t)o->size) != 0 || fsync(fd) != 0) {
		log_warn("lock: cannot truncate a partial append");
		return -1;
	}
	log_warnx("lock: removed %llu bytes of an interrupted append at offset %llu",
	    (unsigned long long)st.st_size - o->size, (unsigned long long)o->size);
	return 0;
}

/* Read and judge the dotlock at path: 0 (o and st set), 1 there is none, -1 error. */
static int
lock_dot_read(const char *dotlock, struct lock_owner *o, struct stat *st)
{
	char text[128];
	ssize_t n;
	int dfd = open(dotlock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0) {
		return errno == ENOENT ? 1 : -1;
	}
	n = read_full(dfd, text, sizeof(text) - 1);
	if (n < 0 || fstat(dfd, st) != 0) {
		close(dfd);
		return -1;
	}
	close(dfd);
	text[n] = '\0';
	lock_dot_parse(text, (size_t)n, o);
	return 0;
}

/*
 * With the fcntl write lock held: remove the dotlock if stale, undoing a dead writer's
 * partial append first. 1 removed (or gone), 0 still valid, -1 error.
 */
static int
lock_dot_clear_stale(int fd, const char *dotlock)
{
	struct stat st, mst;
	struct lock_owner o;
	time_t now = time(NULL), stale;
	int rc = lock_dot_read(dotlock, &o, &st);

	if (rc != 0) {
		return rc;
	}
	if (fstat(fd, &mst) != 0) {
		return -1;
	}
	stale = o.named ? DOTLOCK_STALE : DOTLOCK_EMPTY_STALE;
	if (!o.dead && (now - st.st_mtime < stale || now - mst.st_mtime < stale)) {
		return 0;
	}
	if (o.ours && o.dead && lock_undo_append(fd, &o) != 0) {
		return -1;
	}
	if (unlink(dotlock) != 0 && errno != ENOENT) {
		log_warn("lock: cannot remove stale %s", dotlock);
		return -1;
	}
	log_warnx("lock: removed stale %s", dotlock);
	return fsync_parent(dotlock) == 0 ? 1 : -1;
}

/* One all-or-nothing attempt: 0 locked, 1 busy, -1 error. */
static int
lock_try(struct mbox_lock *l, int fd, int kind)
{
	int rc = lock_fcntl(fd, kind != MBOX_LOCK_READ ? F_WRLCK : F_RDLCK);

	if (rc != 0 || kind == MBOX_LOCK_READ) {
		return rc;
	}
	rc = lock_dot_create(l, fd, kind);
	if (rc == 1) {
		rc = lock_dot_clear_stale(fd, l->dotlock);
		rc = rc == 1 ? lock_dot_create(l, fd, kind) : (rc == 0 ? 1 : -1);
	}
	if (rc != 0) {
		lock_fcntl(fd, F_UNLCK);
	}
	return rc;
}

/* Sleep a random time in [d/2, d] ms. */
static void
lock_backoff(int d)
{
	uint32_t r = 0;
	struct timespec ts;

	random_bytes(&r, sizeof(r));
	d = d / 2 + (int)(r % (uint32_t)(d / 2 + 1));
	ts.tv_sec = d / 1000;
	ts.tv_nsec = (long)(d % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

int
lock_mbox(struct mbox_lock *l, int fd, const char *path, int kind, int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms, left;
	int delay = LOCK_BACKOFF_MIN_MS, rc;

	l->fd = -1;
	l->dotlocked = 0;
	l->last_touch_ms = 0;
	if (str_fmt(l->dotlock, sizeof(l->dotlock), "%s" SIDE_DOTLOCK, path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (;;) {
		rc = lock_try(l, fd, kind);
		if (rc <= 0) {
			break;
		}
		left = deadline - mono_ms();
		if (left <= 0) {
			return -2;
		}
		lock_backoff(delay < left ? delay : (int)left);
		delay = delay * 2 > LOCK_BACKOFF_MAX_MS ? LOCK_BACKOFF_MAX_MS : delay * 2;
	}
	if (rc < 0) {
		rc = errno;
		log_warn("lock: %s", path);
		errno = rc;	/* a full disk stays told apart for the caller */
		return -1;
	}
	l->fd = fd;
	return 0;
}

void
lock_touch(struct mbox_lock *l)
{
	int64_t now = mono_ms();

	if (!l->dotlocked || now - l->last_touch_ms < DOTLOCK_TOUCH * 1000LL) {
		return;
	}
	if (utimensat(AT_FDCWD, l->dotlock, NULL, 0) != 0) {
		log_warn("lock: touch %s", l->dotlock);
	}
	l->last_touch_ms = now;
}

int
lock_commit(struct mbox_lock *l)
{
	int rc = 0;

	if (l->dotlocked) {
		if (unlink(l->dotlock) != 0 || fsync_parent(l->dotlock) != 0) {
			log_warn("lock: cannot remove %s", l->dotlock);
			rc = -1;
		}
		l->dotlocked = 0;
	}
	return rc;
}

int
unlock_mbox(struct mbox_lock *l)
{
	int rc = lock_commit(l);

	if (l->fd >= 0) {
		lock_fcntl(l->fd, F_UNLCK);
		l->fd = -1;
	}
	return rc;
}

int
lock_dead_end(const char *path, uint64_t *end)
{
	char dotlock[PATH_LEN];
	struct lock_owner o;
	struct stat st;

	if (str_fmt(dotlock, sizeof(dotlock), "%s" SIDE_DOTLOCK, path) < 0 ||
	    lock_dot_read(dotlock, &o, &st) != 0 || !o.ours || !o.dead) {
		return 0;
	}
	*end = o.size;
	return 1;
}

int
lock_recover(int fd, const char *path)
{
	char dotlock[PATH_LEN];
	int rc;

	if (str_fmt(dotlock, sizeof(dotlock), "%s" SIDE_DOTLOCK, path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Nothing to undo, or a read-only open that cannot undo it: a writer will. */
	if (access(dotlock, F_OK) != 0 || (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY) {
		return 0;
	}
	rc = lock_fcntl(fd, F_WRLCK);
	if (rc != 0) {
		return rc < 0 ? -1 : 0;
	}
	rc = lock_dot_clear_stale(fd, dotlock);
	lock_fcntl(fd, F_UNLCK);
	return rc;
}
