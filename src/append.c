/*
 * Writing messages to an mbox (append_write: deliver, IMAP APPEND and COPY), deliver's
 * all-or-nothing append without the index, and the user's disk usage for quotas. Runs
 * unprivileged: deliver drops privileges first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "append.h"
#include "lock.h"
#include "log.h"
#include "side.h"
#include "store.h"
#include "util.h"

/* Create the directories above path (mode 0700, mail is private). */
static int
append_mkdirs(const char *path)
{
	char dir[PATH_LEN];
	char *slash;

	if (str_copy(dir, sizeof(dir), path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir) {
		return 0;
	}
	*slash = '\0';
	return mkdir_p(dir, 0700);
}

int
append_rc(int err, int quota_bound)
{
	if (err == EFBIG) {
		return quota_bound ? STORE_QUOTA : STORE_TOOBIG;
	}
	if (err == EINVAL) {
		return STORE_BADMSG;
	}
	return err == ENOSPC || err == EDQUOT ? STORE_NOSPACE : STORE_ERR;
}

int
append_write(int fd, uint64_t size, append_next_fn *next, void *ctx, uint64_t max_size,
    uint64_t quota_left, uint64_t *added)
{
	struct append_msg m;
	uint64_t at, written = 0, room, limit;
	size_t k;
	int more;

	*added = 0;
	if (mbox_prepare_append(fd, size, &at) != 0) {
		return append_rc(errno, 0);
	}
	*added = at - size;
	for (k = 0; (more = next(ctx, k, &m)) > 0; k++) {
		room = *added < quota_left ? quota_left - *added : 0;
		limit = max_size < room ? max_size : room;
		written = 0;
		if (mbox_write_message(fd, &m.in, m.sender, m.date, limit, &written) != 0) {
			*added += written;
			return append_rc(errno, limit == room);
		}
		*added += written;
		if (*added > quota_left) {
			return STORE_QUOTA;
		}
	}
	if (more < 0) {
		return append_rc(errno, 0);
	}
	return fdatasync(fd) != 0 ? append_rc(errno, 0) : STORE_OK;
}

/* deliver's one message, already partly read into in. */
struct deliver_one {
	struct mbox_in *in;
	const struct store_append_info *ai;
};

static int
deliver_next(void *ctx, size_t k, struct append_msg *m)
{
	const struct deliver_one *d = ctx;

	if (k > 0) {
		return 0;
	}
	m->in = *d->in;
	m->sender = d->ai->sender;
	m->date = d->ai->date;
	return 1;
}

/*
 * Under the write lock: prepare, write, check the quota, sync; undo on any failure.
 * When even the undo fails, *keep_dotlock asks to leave our dotlock behind: the next
 * lock then truncates the mbox back (lock.c, rule 7).
 */
static int
append_locked(int fd, const char *mbox, struct mbox_in *in, const struct store_append_info *ai,
    uint64_t max_size, uint64_t quota_left, int *keep_dotlock)
{
	struct deliver_one one = { in, ai };
	struct stat st;
	uint64_t added;
	int rc;

	if (fstat(fd, &st) != 0) {
		log_warn("deliver: %s", mbox);
		return STORE_ERR;
	}
	rc = append_write(fd, (uint64_t)st.st_size, deliver_next, &one, max_size, quota_left,
	    &added);
	if (rc == STORE_ERR || rc == STORE_NOSPACE) {
		log_warn("deliver: append to %s", mbox);
	}
	if (rc != STORE_OK && (ftruncate(fd, st.st_size) != 0 || fsync(fd) != 0)) {
		log_warn("deliver: cannot truncate %s back", mbox);
		*keep_dotlock = 1;
		return STORE_ERR;
	}
	return rc;
}

int
store_append_fd(const char *mbox, int in_fd, const struct store_append_info *ai,
    uint64_t max_size, uint64_t quota_left)
{
	/* Read ahead before locking: most mail fits, and a slow sender then never holds
	 * the mbox lock while we wait for its bytes. */
	char head[MBOX_IO_BUF];
	ssize_t hl = read_full(in_fd, head, sizeof(head));
	struct mbox_in in = { in_fd, head, hl > 0 ? (size_t)hl : 0 };
	struct mbox_lock l;
	int fd, rc, timeout = ai->lock_timeout_ms > 0 ? ai->lock_timeout_ms : LOCK_TIMEOUT_MS;
	int created, keep_dotlock = 0;

	if (hl < 0) {
		log_warn("deliver: reading the message");
		return STORE_ERR;
	}

	if (append_mkdirs(mbox) != 0) {
		log_warn("deliver: mkdir for %s", mbox);
		return errno == ENOSPC || errno == EDQUOT ? STORE_NOSPACE : STORE_ERR;
	}
	fd = open(mbox, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	created = fd >= 0;
	if (fd < 0 && errno == EEXIST) {
		fd = open(mbox, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		log_warn("deliver: open %s", mbox);
		return errno == ENOSPC || errno == EDQUOT ? STORE_NOSPACE : STORE_ERR;
	}
	rc = lock_mbox(&l, fd, mbox, MBOX_LOCK_WRITE, timeout);
	if (rc == 0) {
		rc = append_locked(fd, mbox, &in, ai, max_size, quota_left, &keep_dotlock);
		l.dotlocked = l.dotlocked && !keep_dotlock;
		/* Only a durable unlock makes the append final (see lock.c, rule 8). */
		if (unlock_mbox(&l) != 0 && rc == STORE_OK) {
			rc = STORE_ERR;
		}
	} else {
		rc = rc == -2 ? STORE_INUSE :
		    errno == ENOSPC || errno == EDQUOT ? STORE_NOSPACE : STORE_ERR;
	}
	if (rc == STORE_OK && created && fsync_parent(mbox) != 0) {
		log_warn("deliver: sync directory of %s", mbox);
		rc = STORE_ERR;
	}
	close(fd);
	return rc;
}

/* Add the sizes of regular files under path[0..len), skipping dot entries (side files)
 * and dotlocks. path is a shared buffer of PATH_LEN bytes. */
static int
usage_walk(char *path, size_t len, uint64_t *bytes)
{
	DIR *d = opendir(path);
	struct dirent *de;
	struct stat st;
	int rc = 0;

	if (d == NULL) {
		return errno == ENOENT ? 0 : -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    str_fmt(path + len, PATH_LEN - len, "/%s", de->d_name) < 0) {
			continue;
		}
		if (lstat(path, &st) != 0) {
			rc = errno == ENOENT ? 0 : -1;
		} else if (S_ISREG(st.st_mode) && !side_is_dotlock(de->d_name, strlen(de->d_name))) {
			*bytes += (uint64_t)st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			rc = usage_walk(path, strlen(path), bytes);
		}
		path[len] = '\0';
	}
	closedir(d);
	return rc;
}

int
store_usage(const struct config *cfg, const char *user, uint64_t *bytes)
{
	char dir[PATH_LEN], inbox[PATH_LEN];
	size_t n;
	struct stat st;

	*bytes = 0;
	if (config_user_dir(cfg, user, dir, sizeof(dir)) < 0 ||
	    config_inbox_path(cfg, user, inbox, sizeof(inbox)) < 0) {
		return STORE_ERR;
	}
	n = strlen(dir);
	if (usage_walk(dir, n, bytes) != 0) {
		log_warn("quota: %s", dir);
		return STORE_ERR;
	}
	/* An INBOX outside the folder directory (inbox /var/mail/%u) counts too. */
	if ((strncmp(inbox, dir, n) != 0 || inbox[n] != '/') && stat(inbox, &st) == 0) {
		*bytes += (uint64_t)st.st_size;
	}
	return STORE_OK;
}
