/*
 * The per-folder state file on disk: whole-file load with salvage, replay of the change
 * log, atomic rewrite, appends, the mbox's recorded identity, the per-user UIDVALIDITY
 * counter and the crash-test hook. The caller holds the locks; the records themselves are
 * index.c's. Runs in per-connection children and verbs, never as root.
 */
#include "index.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "params.h"
#include "util.h"

/* Records written or read per I/O call: large writes are cheap on JFFS2/UBIFS. */
#define IDX_IO_BUF	(64 * 1024)
#define UIDV_FILE	"uidvalidity"

void
idx_crash_point(void)
{
	static unsigned long step;
	const char *v = getenv("MAILNOOK_CRASH_STEP");
	uint64_t n;

	/* Steps count from when the variable is set, so a forked test child starts at 1. */
	if (v == NULL) {
		return;
	}
	step++;
	if (parse_u64(v, strlen(v), UINT64_MAX, &n) == 0 && n == step) {
		raise(SIGKILL);
	}
}

/*
 * Read slots 64-byte records following the header; a record that fails its CRC, or
 * whose UID does not ascend, or that the file is too short for, counts into *bad.
 */
static int
load_base(int fd, struct idx_set *s, unsigned char *buf, uint32_t slots, uint64_t *bad)
{
	uint64_t off = IDX_HDR_LEN;
	uint32_t left = slots;

	while (left > 0) {
		uint32_t n = left < IDX_IO_BUF / IDX_REC_LEN ? left : IDX_IO_BUF / IDX_REC_LEN;
		ssize_t r = pread_full(fd, buf, (size_t)n * IDX_REC_LEN, (off_t)off);
		uint32_t i, got;

		if (r < 0) {
			return -1;
		}
		got = (uint32_t)((size_t)r / IDX_REC_LEN);
		for (i = 0; i < got; i++) {
			struct store_rec m;

			if (idx_get_rec(buf + (size_t)i * IDX_REC_LEN, &m) < 0 ||
			    (s->count > 0 && m.uid <= s->msgs[s->count - 1].uid)) {
				(*bad)++;
			} else if (idx_push(s, &m, (uint32_t)(off + (uint64_t)i * IDX_REC_LEN)) < 0) {
				return -1;
			}
		}
		if (got < n) {
			*bad += left - got;
			return 0;
		}
		off += (uint64_t)n * IDX_REC_LEN;
		left -= n;
	}
	return 0;
}

/*
 * Apply the good records in buf[0..n), the file's bytes from offset at. Bytes that do
 * not decode are passed a byte at a time (damage, or a torn end). *pos moves past each
 * good record; bytes passed before one count into *skipped. Returns the offset in buf
 * where a record needs bytes past n (n at the end of the file).
 */
static size_t
replay_buf(struct idx_set *s, const unsigned char *buf, size_t n, uint64_t at, int eof,
    uint64_t *pos, uint64_t *skipped)
{
	size_t i = 0;

	while (n - i >= 4) {
		struct idx_log l;
		long len = idx_get_log(buf + i, n - i, &l);

		if (len == 0 && !eof) {
			return i;
		}
		if (len <= 0) {
			i++;
			continue;
		}
		if (at + i > *pos) {
			*skipped += at + i - *pos;
		}
		l.at = (uint32_t)(at + i + 4);
		idx_apply(s, &l);
		i += (size_t)len;
		*pos = at + i;
	}
	return eof ? n : i;
}

/* Replay fd from *pos to its end, passing over damage (see replay_buf). 0 or -1. */
static int
replay_from(int fd, struct idx_set *s, uint64_t *pos, uint64_t *skipped)
{
	unsigned char *buf = malloc(IDX_IO_BUF);
	uint64_t at = *pos;
	ssize_t r;

	if (buf == NULL) {
		return -1;
	}
	do {
		/* record positions are 32-bit: a larger file is not read */
		r = at > IDX_FILE_MAX - IDX_IO_BUF ? -1 : pread_full(fd, buf, IDX_IO_BUF, (off_t)at);
		if (r >= 0) {
			at += replay_buf(s, buf, (size_t)r, at, r < IDX_IO_BUF, pos, skipped);
		}
	} while (r == IDX_IO_BUF);
	free(buf);
	return r < 0 ? -1 : 0;
}

int
idx_replay(int fd, struct idx_set *s, uint64_t *pos)
{
	uint64_t skipped = 0;
	int rc = replay_from(fd, s, pos, &skipped);

	if (skipped > 0) {
		log_warnx("index: passed %llu damaged bytes in a state file's change log",
		    (unsigned long long)skipped);
	}
	return rc;
}

/* Read the header into s: as idx_get_header_any, -1 on a read error. */
static int
load_header(int fd, struct idx_set *s, unsigned char *buf)
{
	ssize_t r = pread_full(fd, buf, IDX_HDR_LEN, 0);

	return r < 0 ? -1 : idx_get_header_any(buf, (size_t)r, s);
}

enum idx_load_rc
idx_load(int fd, struct idx_set *s, int cold, uint64_t *valid_end)
{
	unsigned char *buf;
	struct stat st;
	uint64_t bad = 0, slots;
	int trust;

	s->cold = cold;
	if (fstat(fd, &st) < 0) {
		return IDX_IOERR;
	}
	if (st.st_size == 0) {
		return IDX_EMPTY;
	}
	buf = malloc(IDX_IO_BUF);
	if (buf == NULL) {
		return IDX_IOERR;
	}
	/* Without a trusted count every 64-byte slot may hold a record (the log's bytes fail
	 * the CRCs), and the log is searched from the first slot on. */
	trust = load_header(fd, s, buf);
	slots = (uint64_t)st.st_size > IDX_HDR_LEN ?
	    ((uint64_t)st.st_size - IDX_HDR_LEN) / IDX_REC_LEN : 0;
	if (trust > 0) {
		slots = s->base_count;
	} else if (slots > FOLDER_MSGS_MAX) {
		slots = FOLDER_MSGS_MAX;
	}
	if (trust < 0 || load_base(fd, s, buf, (uint32_t)slots, &bad) < 0) {
		free(buf);
		return IDX_IOERR;
	}
	free(buf);
	*valid_end = IDX_HDR_LEN + (trust > 0 ? (uint64_t)s->base_count * IDX_REC_LEN : 0);
	if (replay_from(fd, s, valid_end, &bad) < 0) {
		return IDX_IOERR;
	}
	if (trust == 2 && bad == 0) {
		return IDX_LOADED;
	}
	s->base_count = s->count;
	s->salvaged = 1;
	log_warnx("index: damaged state file: %u records kept, identity %s", s->count,
	    trust == 2 ? "from the header" : trust == 1 ? "from its second copy" : "lost");
	return IDX_SALVAGED;
}

/* Header and records of s into fd, in large writes; each record's position noted. */
static int
write_image(int fd, struct idx_set *s)
{
	unsigned char *buf = malloc(IDX_IO_BUF);
	size_t used = IDX_HDR_LEN;
	uint32_t i;
	int rc = 0;

	if (buf == NULL) {
		return -1;
	}
	idx_put_header(buf, s);
	for (i = 0; i < s->count && rc == 0; i++) {
		struct store_rec m;

		idx_rec(s, i, &m);
		idx_put_rec(buf + used, &m);
		s->msgs[i].at = IDX_HDR_LEN + i * IDX_REC_LEN;
		used += IDX_REC_LEN;
		if (used + IDX_REC_LEN > IDX_IO_BUF) {
			rc = write_all(fd, buf, used);
			used = 0;
		}
	}
	if (rc == 0 && used > 0) {
		rc = write_all(fd, buf, used);
	}
	free(buf);
	return rc;
}

int
idx_write_file(const char *path, struct idx_set *s)
{
	char tmp[PATH_LEN];
	int fd;

	if (str_fmt(tmp, sizeof(tmp), "%s.new", path) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -1;
	}
	if (write_image(fd, s) < 0 || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	idx_crash_point();
	if (close(fd) < 0 || rename(tmp, path) < 0 || fsync_parent(path) < 0) {
		unlink(tmp);
		return -1;
	}
	idx_crash_point();
	return 0;
}

int
idx_append(int fd, const unsigned char *buf, size_t n, uint64_t old_size, int durable)
{
	if (write_all(fd, buf, n) < 0 || (durable && fdatasync(fd) < 0)) {
		int e = errno;

		if (ftruncate(fd, (off_t)old_size) < 0) {
			log_warn("index: cutting back a failed append");
		}
		errno = e;
		return -1;
	}
	if (durable) {
		idx_crash_point();
	}
	return 0;
}

/*
 * A mapped read that touches bytes another program cut off the file (only mailnook's own
 * cuts are known to spare what sessions read) raises SIGBUS: the read then fails over
 * to pread instead of ending the session. Any other SIGBUS keeps its default action.
 */
static sigjmp_buf *volatile map_jmp;

/* Not ours: returning faults again, the default way (the handler is reset). */
static void
map_bus(int sig)
{
	(void)sig;
	if (map_jmp != NULL) {
		siglongjmp(*map_jmp, 1);
	}
}

/* Set before each mapping (at open and when the file grew): one fault each; 0 or -1. */
static int
map_guard(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = map_bus;
	/* left by siglongjmp: nothing stays blocked */
	sa.sa_flags = SA_NODEFER | SA_RESETHAND;
	return sigaction(SIGBUS, &sa, NULL);
}

/*
 * Copy one record from the mapping; -1 if the file no longer holds it (SIGBUS). The
 * volatile reads stay between the volatile stores that arm and disarm the guard.
 */
static int
map_copy(const volatile unsigned char *p, unsigned char *buf)
{
	sigjmp_buf jb;
	size_t i;

	if (sigsetjmp(jb, 0) != 0) {
		map_jmp = NULL;
		return -1;
	}
	map_jmp = &jb;
	for (i = 0; i < IDX_REC_LEN; i++) {
		buf[i] = p[i];
	}
	map_jmp = NULL;
	return 0;
}

static void
map_drop(struct idx_map *m)
{
	if (m->p != NULL) {
		munmap((void *)m->p, m->len);
	}
	m->p = NULL;
	m->len = 0;
}

/* Map the whole file (its current size); NULL when it cannot be (pread then). */
static void
map_whole(struct idx_map *m)
{
	struct stat st;
	void *p;

	map_drop(m);
	if (fstat(m->fd, &st) < 0 || st.st_size <= 0 || (uint64_t)st.st_size > IDX_FILE_MAX) {
		return;
	}
	/* unguarded reads would not be safe: pread then */
	p = map_guard() < 0 ? MAP_FAILED :
	    mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, m->fd, 0);
	if (p != MAP_FAILED) {
		m->p = p;
		m->len = (size_t)st.st_size;
	} else {
		m->nomap = 1;
	}
}

void
idx_map_open(struct idx_map *m, int fd)
{
	map_drop(m);
	if (m->fd >= 0) {
		close(m->fd);
	}
	m->fd = fd;
	m->nomap = 0;
	map_whole(m);
}

int
idx_map_entry(struct idx_map *m, uint32_t at, uint32_t uid, struct mbox_entry *e)
{
	unsigned char buf[IDX_REC_LEN];
	struct store_rec r;
	int mapped;

	/* The file only grows under a mapping (replaced files are new inodes): a record
	 * past its end was appended since. Closed (fd -1), the reads fail. */
	if ((size_t)at + IDX_REC_LEN > m->len && !m->nomap) {
		map_whole(m);
	}
	mapped = (size_t)at + IDX_REC_LEN <= m->len;
	if (mapped && map_copy(m->p + at, buf) < 0) {
		log_warnx("index: state file cut short");
		map_drop(m);
		m->nomap = 1;
		mapped = 0;
	}
	if (!mapped && pread_full(m->fd, buf, IDX_REC_LEN, (off_t)at) != IDX_REC_LEN) {
		return -1;
	}
	if (idx_get_rec(buf, &r) < 0 || r.uid != uid) {
		log_warnx("index: uid %u not at %u", uid, at);
		return -1;
	}
	*e = r.e;
	return 0;
}

void
idx_map_close(struct idx_map *m)
{
	idx_map_open(m, -1);
	free(m->kept);
	m->kept = NULL;
	m->nkept = 0;
	m->kept_cap = 0;
}

int
idx_tail_crc(int fd, uint64_t size, uint32_t *crc)
{
	unsigned char buf[IDX_TAIL_LEN];
	size_t n = size < IDX_TAIL_LEN ? (size_t)size : IDX_TAIL_LEN;
	ssize_t r = pread_full(fd, buf, n, (off_t)(size - n));

	if (r != (ssize_t)n) {
		if (r >= 0) {
			errno = EIO;
		}
		return -1;
	}
	*crc = crc32c(0, buf, n);
	return 0;
}

int
idx_mbox_stat(int fd, struct store_mboxstat *ms)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		return -1;
	}
	ms->size = (uint64_t)st.st_size;
	ms->ino = (uint64_t)st.st_ino;
	ms->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	return idx_tail_crc(fd, ms->size, &ms->tail_crc);
}

/* Directory holding the per-user side files: up to and including SIDE_DIR_NAME. */
static int
side_root(const char *side, char *dir, size_t cap)
{
	const char *p = strstr(side, "/" SIDE_DIR_NAME "/");
	size_t n;

	if (p != NULL) {
		n = (size_t)(p - side) + 1 + strlen(SIDE_DIR_NAME);
	} else {
		p = strrchr(side, '/');
		n = p != NULL ? (size_t)(p - side) : 0;
	}
	if (n == 0 || n >= cap) {
		return -1;
	}
	memcpy(dir, side, n);
	dir[n] = '\0';
	return 0;
}

/* Read the last value from the counter file (0 when missing or unreadable). */
static uint32_t
uidv_last(const char *path)
{
	char buf[16];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t r;
	uint32_t v = 0;

	if (fd < 0) {
		return 0;
	}
	r = read_full(fd, buf, sizeof(buf));
	close(fd);
	if (r > 1 && buf[r - 1] == '\n' && parse_u32(buf, (size_t)r - 1, UINT32_MAX, &v) == 0) {
		return v;
	}
	return 0;
}

/* Write value to path atomically (temp, fsync, rename, fsync directory). */
static int
uidv_store(const char *path, uint32_t v)
{
	char tmp[PATH_LEN], buf[16];
	int n = str_fmt(buf, sizeof(buf), "%u\n", v);
	int fd;

	if (n < 0 || str_fmt(tmp, sizeof(tmp), "%s.new", path) < 0) {
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -1;
	}
	if (write_all(fd, buf, (size_t)n) < 0 || fsync(fd) < 0) {
		close(fd);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		return -1;
	}
	return fsync_parent(path);
}

int
idx_new_uidvalidity(const char *side, uint32_t *out)
{
	char dir[PATH_LEN], path[PATH_LEN];
	uint32_t last, now = (uint32_t)time(NULL);
	int dfd, rc;

	if (side_root(side, dir, sizeof(dir)) < 0 ||
	    str_fmt(path, sizeof(path), "%s/%s", dir, UIDV_FILE) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* The directory itself is the lock: two folders created at once get distinct values. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || flock(dfd, LOCK_EX) < 0) {
		if (dfd >= 0) {
			close(dfd);
		}
		return -1;
	}
	last = uidv_last(path);
	*out = last >= now ? last + 1 : now;
	if (*out == 0) {
		*out = 1;
	}
	rc = uidv_store(path, *out);
	close(dfd);
	return rc;
}
