/*
 * mbox locks: dotlock content and removal, contention ending in -2 after the timeout,
 * stale dotlocks (dead pid, other boot, old foreign ones, empty ones after seconds), the
 * undo of a dead writer's partial append by lock_recover and the bound it sets.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "util.h"
#include "t.h"

static char dir[] = "/tmp/test_lock.XXXXXX";
static char box[PATH_LEN], dot[PATH_LEN];

static int
mkbox(size_t size)
{
	/* From byte 60 on: a message of ours in progress (separator fix-up, From_ line,
	 * a quoted body line cut short), as a writer killed at size 100 leaves it. */
	static const char ours[] = "\nFrom a Sat Nov 28 12:00:00 2026\n>From x";
	char buf[256];
	int fd = open(box, O_RDWR | O_CREAT | O_TRUNC, 0600);

	memset(buf, 'm', sizeof(buf));
	memcpy(buf + 60, ours, sizeof(ours) - 1);
	if (fd < 0 || size > sizeof(buf) || write_all(fd, buf, size) != 0) {
		perror("mkbox");
		exit(2);
	}
	return fd;
}

static void
put_dotlock(const char *text, time_t age)
{
	int fd = open(dot, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	struct timespec ts[2];

	if (fd < 0 || write_all(fd, text, strlen(text)) != 0) {
		perror("dotlock");
		exit(2);
	}
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	utimensat(AT_FDCWD, dot, ts, 0);
	utimensat(AT_FDCWD, box, ts, 0);
}

static off_t
size_of(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 ? st.st_size : -1;
}

static void
boot_id(char *buf, size_t cap)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY);
	ssize_t n = fd >= 0 ? read_full(fd, buf, cap - 1) : -1;

	if (fd >= 0) {
		close(fd);
	}
	while (n > 0 && buf[n - 1] == '\n') {
		n--;
	}
	if (n <= 0) {
		buf[0] = '-';
		n = 1;
	}
	buf[n] = '\0';
}

static pid_t
dead_pid(void)
{
	pid_t p = fork();

	if (p == 0) {
		_exit(0);
	}
	waitpid(p, NULL, 0);
	return p;
}

static void
test_lock_unlock(void)
{
	struct mbox_lock l;
	char text[128], boot[64], want[128];
	int fd = mkbox(42), rc;
	ssize_t n;
	int dfd;

	rc = lock_mbox(&l, fd, box, 1, 1000);
	CHECK(rc == 0, "write lock on a free mbox");
	dfd = open(dot, O_RDONLY);
	n = dfd >= 0 ? read_full(dfd, text, sizeof(text) - 1) : -1;
	text[n > 0 ? n : 0] = '\0';
	if (dfd >= 0) {
		close(dfd);
	}
	boot_id(boot, sizeof(boot));
	str_fmt(want, sizeof(want), "%ld 42 %s\n", (long)getpid(), boot);
	CHECK(strcmp(text, want) == 0, "dotlock holds pid, old size and boot id");
	rc = unlock_mbox(&l);
	CHECK(rc == 0 && access(dot, F_OK) != 0, "unlock removes the dotlock");
	rc = lock_mbox(&l, fd, box, 0, 1000);
	CHECK(rc == 0 && access(dot, F_OK) != 0, "read lock takes no dotlock");
	unlock_mbox(&l);
	close(fd);
}

/* A child holds a write lock until the pipe closes; we must get -2 in time. */
static void
test_contention(void)
{
	struct mbox_lock l;
	int fd = mkbox(10), p[2], rc;
	char c;
	pid_t child;
	int64_t t0, took;

	if (pipe(p) != 0) {
		exit(2);
	}
	child = fork();
	if (child == 0) {
		int cfd = open(box, O_RDWR);

		close(p[0]);
		if (lock_mbox(&l, cfd, box, 1, 1000) == 0) {
			write_all(p[1], "L", 1);
			pause();
		}
		_exit(1);
	}
	close(p[1]);
	rc = read_full(p[0], &c, 1) == 1;
	CHECK(rc, "child holds the write lock");
	t0 = mono_ms();
	rc = lock_mbox(&l, fd, box, 1, 300);
	took = mono_ms() - t0;
	CHECK(rc == -2 && took >= 300 && took < 1500, "busy write lock: -2 after %lld ms",
	    (long long)took);
	rc = lock_mbox(&l, fd, box, 0, 200);
	CHECK(rc == -2, "busy: read lock also -2");
	CHECK(access(dot, F_OK) == 0, "the holder's dotlock stays");
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(p[0]);
	rc = lock_mbox(&l, fd, box, 1, 2000);
	CHECK(rc == 0 && size_of(fd) == 10, "killed holder: lock taken, nothing to undo");
	unlock_mbox(&l);
	close(fd);
}

static void
test_recover(void)
{
	static const struct {
		const char *what;
		int kind;		/* 0 dead pid, 1 other boot, 2 live, 3 pid only, 4 foreign old, 5 foreign fresh */
		int recovered;
		off_t size_after;
	} c[] = {
		{ "dead writer of ours: truncated back", 0, 1, 60 },
		{ "writer of an earlier boot: truncated back", 1, 1, 60 },
		{ "live writer: left alone", 2, 0, 100 },
		{ "pid-only dotlock of a dead process: removed, no truncation", 3, 1, 100 },
		{ "old foreign dotlock: removed, no truncation", 4, 1, 100 },
		{ "fresh foreign dotlock: left alone", 5, 0, 100 },
	};
	char text[160], boot[64];
	size_t i;

	boot_id(boot, sizeof(boot));
	for (i = 0; i < ARRAY_LEN(c); i++) {
		int fd = mkbox(100), rc;
		long pid = c[i].kind == 2 || c[i].kind == 1 ? (long)getpid() : (long)dead_pid();

		if (c[i].kind <= 2) {
			str_fmt(text, sizeof(text), "%ld 60 %s\n", pid,
			    c[i].kind == 1 ? "00000000-0000-0000-0000-000000000000" : boot);
		} else if (c[i].kind == 3) {
			str_fmt(text, sizeof(text), "%ld\n", pid);
		} else {
			text[0] = '\0';
		}
		put_dotlock(text, c[i].kind == 4 ? 2 * DOTLOCK_STALE : 0);
		rc = lock_recover(fd, box);
		CHECK(rc == c[i].recovered && size_of(fd) == c[i].size_after &&
		    (access(dot, F_OK) == 0) == !c[i].recovered, "recover: %s", c[i].what);
		unlink(dot);
		close(fd);
	}
	{
		int fd = mkbox(100), ro = open(box, O_RDONLY), rc;

		str_fmt(text, sizeof(text), "%ld 60 %s\n", (long)dead_pid(), boot);
		put_dotlock(text, 0);
		rc = lock_recover(ro, box);
		CHECK(rc == 0 && size_of(fd) == 100 && access(dot, F_OK) == 0,
		    "recover on a read-only fd: left for a writer");
		rc = lock_recover(fd, box);
		CHECK(rc == 1 && size_of(fd) == 60, "... which then undoes it");
		close(ro);
		close(fd);
	}
}

/* Box = 60 bytes + tail, a dead writer's dotlock naming 60: is the tail cut? */
static int
undo_cuts(const char *tail, size_t len)
{
	char text[160], boot[64];
	int fd = mkbox(60), rc;
	off_t after;

	boot_id(boot, sizeof(boot));
	if (pwrite_all(fd, tail, len, 60) != 0) {
		perror("tail");
		exit(2);
	}
	str_fmt(text, sizeof(text), "%ld 60 %s\n", (long)dead_pid(), boot);
	put_dotlock(text, 0);
	rc = lock_recover(fd, box);
	after = size_of(fd);
	close(fd);
	if (rc != 1 || access(dot, F_OK) == 0 || (after != 60 && after != (off_t)(60 + len))) {
		return -1;
	}
	return after == 60;
}

/* Rule 7: only one message of ours in progress is cut; anything else after it stays. */
static void
test_undo_conservative(void)
{
	static const struct {
		const char *what, *tail;
		int cut;
	} c[] = {
		{ "our From_ line and a partial body: cut", "From a Sat Nov 28 12:00:00 2026\n"
		    "Subject: x\n\nbody with From: and from and >From quoted\nFromage", 1 },
		{ "two separator LFs before ours: cut", "\n\nFrom a Sat Nov 28 12:00:00 2026\nSub", 1 },
		{ "a From_ line cut short: cut", "\nFrom MAILER-DA", 1 },
		{ "another tool's message after ours, blank line first: kept",
		    "From a Sat Nov 28 12:00:00 2026\npartial\n\nFrom b Sat Nov 28 12:01:00 2026\n"
		    "Subject: theirs\n\nhi\n\n", 0 },
		{ "another tool's message right after a cut line: kept",
		    "From a Sat Nov 28 12:00:00 2026\nparFrom b Sat Nov 28 12:01:00 2026\nhi\n", 0 },
		{ "another tool's message at the old end (ours wrote nothing but LFs): kept",
		    "\n\n\nFrom b Sat Nov 28 12:01:00 2026\nhi\n", 0 },
		{ "NULs where ours should start (UBIFS hole), then mail: kept",
		    "\0\0\0\0From b Sat Nov 28 12:01:00 2026\nhi\n", 0 },
		{ "no From_ line at the old end: kept", "mmmm", 0 },
	};
	char big[3 * LOCK_UNDO_BUF];
	size_t i, at, bad = 0;

	for (i = 0; i < ARRAY_LEN(c); i++) {
		CHECK(undo_cuts(c[i].tail, strlen(c[i].tail) + (c[i].tail[0] == '\0' ? 4 +
		    strlen(c[i].tail + 4) : 0)) == c[i].cut, "undo: %s", c[i].what);
	}
	/* A foreign "From " at every position around the read boundaries must be seen. */
	memset(big, 'b', sizeof(big));
	memcpy(big, "From a Sat Nov 28 12:00:00 2026\n", 32);
	CHECK(undo_cuts(big, sizeof(big)) == 1, "undo: 24 KiB of ours: cut");
	for (at = LOCK_UNDO_BUF - 12; at < LOCK_UNDO_BUF + 8; at++) {
		memcpy(big + at, "From ", 5);
		bad += undo_cuts(big, sizeof(big)) != 0;
		big[at - 1] = '>';
		bad += undo_cuts(big, sizeof(big)) != 1;
		memset(big + at - 1, 'b', 6);
	}
	CHECK(bad == 0, "undo: \"From \" across a read boundary kept, \">From \" cut (%zu wrong)",
	    bad);
}

/* Empty or unparseable dotlocks: live for DOTLOCK_EMPTY_STALE seconds, then stale. */
static void
test_empty_dotlock(void)
{
	struct mbox_lock l;
	char tmp[PATH_LEN];
	int fd = mkbox(20), rc;

	put_dotlock("", 0);
	rc = lock_mbox(&l, fd, box, MBOX_LOCK_WRITE, 200);
	CHECK(rc == -2, "a fresh empty dotlock is another tool's live lock");
	put_dotlock("", DOTLOCK_EMPTY_STALE + 2);
	rc = lock_mbox(&l, fd, box, MBOX_LOCK_WRITE, 200);
	CHECK(rc == 0, "an empty dotlock %d s old is stale", DOTLOCK_EMPTY_STALE + 2);
	unlock_mbox(&l);
	put_dotlock("garbage\n", DOTLOCK_EMPTY_STALE + 2);
	rc = lock_mbox(&l, fd, box, MBOX_LOCK_SHRINK, 200);
	CHECK(rc == 0, "... so is an unparseable one");
	str_fmt(tmp, sizeof(tmp), "%s/.INBOX.lock.tmp", dir);
	CHECK(access(tmp, F_OK) != 0, "no temp file left once the dotlock is in place");
	unlock_mbox(&l);
	put_dotlock("1\n", DOTLOCK_EMPTY_STALE + 2);
	rc = lock_mbox(&l, fd, box, MBOX_LOCK_WRITE, 200);
	CHECK(rc == -2, "a dotlock naming a live pid (init) is not stale after seconds");
	unlink(dot);
	close(fd);
}

/* lock_dead_end: only a dotlock of ours whose writer is gone bounds the indexable end. */
static void
test_dead_end(void)
{
	char text[160], boot[64];
	uint64_t end = 0;
	pid_t dead = fork();

	if (dead == 0) {
		_exit(0);
	}
	waitpid(dead, NULL, 0);
	boot_id(boot, sizeof(boot));
	CHECK(lock_dead_end(box, &end) == 0, "no dotlock: no bound");
	str_fmt(text, sizeof(text), "%ld 77 %s\n", (long)dead, boot);
	put_dotlock(text, 0);
	CHECK(lock_dead_end(box, &end) == 1 && end == 77, "dead writer of ours: bound %llu",
	    (unsigned long long)end);
	str_fmt(text, sizeof(text), "%ld 77 %s\n", (long)getpid(), boot);
	put_dotlock(text, 0);
	CHECK(lock_dead_end(box, &end) == 0, "live writer: no bound");
	put_dotlock("", 0);
	CHECK(lock_dead_end(box, &end) == 0, "another tool's empty dotlock: no bound");
	unlink(dot);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	str_fmt(box, sizeof(box), "%s/INBOX", dir);
	str_fmt(dot, sizeof(dot), "%s/INBOX.lock", dir);
	test_lock_unlock();
	test_contention();
	test_recover();
	test_undo_conservative();
	test_empty_dotlock();
	test_dead_end();
	unlink(dot);
	unlink(box);
	rmdir(dir);
	return t_done();
}
