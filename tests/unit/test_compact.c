/* Unit tests of compact.c: plans (merged runs, pure truncation, delete-all, nothing to
 * do) and recovery after SIGKILL at every durable step (MAILNOOK_CRASH_STEP), checking
 * that survivors keep uid and bytes and nothing expunged comes back, also for a session
 * that stays open across the crash and reads without refreshing; and a batch of reads
 * (SEARCH) that lets go of the mbox between batches and follows a compaction there. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compact.h"
#include "store.h"
#include "t.h"
#include "t_store.h"
#include "util.h"

#define NMSG	24
/* Message 5 (expunged) is larger than a round's minimum: the gap after it makes the
 * rounds that follow journal-free, those before it copy their overlap. */
#define BIG	(COMPACT_ROUND_MIN + 100000)

static char dir[] = "/tmp/mailnook-compact.XXXXXX";
static char mbox[256], side[256];

static struct idx_set
image(const uint64_t *off, const int *dead, uint32_t n, uint64_t size)
{
	struct idx_set s;
	uint32_t i;

	memset(&s, 0, sizeof(s));
	s.cold = 1;
	for (i = 0; i < n; i++) {
		struct store_rec m;

		memset(&m, 0, sizeof(m));
		m.uid = i + 1;
		m.e.offset = off[i];
		m.flags = dead[i] ? STORE_EXPUNGED : 0;
		idx_push(&s, &m, 0);
	}
	s.ms.size = size;
	return s;
}

static void
test_plans(void)
{
	static const uint64_t off[] = { 0, 100, 250, 300, 700 };
	static const int mid[] = { 0, 1, 0, 0, 1 }, tail[] = { 0, 0, 0, 1, 1 },
	    all[] = { 1, 1, 1, 1, 1 }, none[] = { 0, 0, 0, 0, 0 };
	struct compact_plan p;
	struct idx_set s;

	s = image(off, mid, 5, 1000);
	CHECK(compact_dead(&s) == 150 + 300, "dead bytes of two expunged messages");
	CHECK(compact_make_plan(&s, &p) == 0 && p.n == 1 && p.moves[0].src == 250 &&
	    p.moves[0].dst == 100 && p.moves[0].len == 450 && p.new_size == 550,
	    "adjacent live messages move as one run");
	compact_free_plan(&p);
	idx_free(&s);
	s = image(off, tail, 5, 1000);
	CHECK(compact_make_plan(&s, &p) == 0 && p.n == 0 && p.new_size == 300,
	    "trailing deletes: a plain truncation");
	compact_free_plan(&p);
	idx_free(&s);
	s = image(off, all, 5, 1000);
	CHECK(compact_make_plan(&s, &p) == 0 && p.n == 0 && p.new_size == 0, "delete-all: truncate to 0");
	compact_free_plan(&p);
	idx_free(&s);
	s = image(off, none, 5, 1000);
	CHECK(compact_make_plan(&s, &p) == 0 && p.n == 0 && p.new_size == 1000 &&
	    compact_dead(&s) == 0, "nothing dead: nothing to do");
	compact_free_plan(&p);
	idx_free(&s);
}

/* Message n as stored in the mbox (From_ line to separating blank line). */
static size_t
stored(char *buf, size_t cap, int n)
{
	int h = str_fmt(buf, cap, "From s%d@example.org Sat Nov 28 10:00:00 2026\n"
	    "Subject: message %d\nMessage-ID: <%d@example.org>\n\n", n, n, n);
	size_t len = (size_t)h, want = (size_t)(n == 5 ? BIG : n % 3 == 0 ? 300 : 20000 + n * 3000);
	int i = 0;

	while (len < want) {
		len += (size_t)str_fmt(buf + len, cap - len, "%d: line %d of message %d\n", i, i, n);
		i++;
	}
	buf[len++] = '\n';
	return len;
}

static char msgbuf[BIG + 100];

static void
write_mbox(void)
{
	char cmd[300];
	int fd, n;

	str_fmt(cmd, sizeof(cmd), "rm -rf %s/.mailnook %s", dir, mbox);
	if (system(cmd) != 0) {
		return;
	}
	fd = open(mbox, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (n = 1; n <= NMSG; n++) {
		size_t len = stored(msgbuf, sizeof(msgbuf), n);

		if (write_all(fd, msgbuf, len) < 0) {
			break;
		}
	}
	close(fd);
}

/* Bytes of msgs[i] in the mbox equal message n's? */
static int
intact(struct store_folder *f, uint32_t i, int n)
{
	static char got[BIG + 100];
	size_t len = stored(msgbuf, sizeof(msgbuf), n) - 1;
	struct mbox_entry e;
	int fd = open(mbox, O_RDONLY);
	int ok;

	ok = fd >= 0 && store_msg_entry(f, i, &e) == 0 && e.from_len + e.raw_len == len &&
	    pread_full(fd, got, len, (off_t)e.offset) == (ssize_t)len && memcmp(got, msgbuf, len) == 0;
	close(fd);
	return ok;
}

static const uint32_t gone[] = { 2, 5, 6, 7, 17, 24 };

static int
is_gone(uint32_t uid)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(gone); i++) {
		if (gone[i] == uid) {
			return 1;
		}
	}
	return 0;
}

/* Does a lock keep a writer out of the mbox? Asked from another process: 1 yes, 0 no. */
static int
mbox_held(void)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		struct flock fl;
		int fd = open(mbox, O_RDWR);

		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		_exit(fd < 0 || fcntl(fd, F_GETLK, &fl) != 0 ? 2 : fl.l_type != F_UNLCK);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		return 2;
	}
	return WEXITSTATUS(status);
}

/* Read msgs[i] through store_msg_open: 1 it is message n, 0 not, -1 gone. */
static int
read_back(struct store_folder *f, uint32_t i, int n)
{
	return t_reads_as(f, i, msgbuf, stored(msgbuf, sizeof(msgbuf), n));
}

/*
 * A batch of reads (SEARCH) keeps the mbox read lock between messages, lets go after
 * STORE_READ_BATCH_MSGS of them, and the next batch follows a compaction that ran in
 * between: survivors read byte for byte at their new offsets, the expunged as gone.
 */
static void
test_read_batch(void)
{
	struct store_folder f, g;
	struct mbox_entry e;
	uint32_t k, uids[ARRAY_LEN(gone)];
	int status = 0, bad = 0, n;
	pid_t pid;

	write_mbox();
	if (store_open(&f, mbox, side, STORE_RDONLY) != STORE_OK) {
		CHECK(0, "open before the batch test");
		return;
	}
	store_msg_batch(&f, 1);
	CHECK(read_back(&f, 0, 1) == 1 && mbox_held() == 1,
	    "a batch keeps the read lock after a message is read");
	/* small messages (every third is 300 bytes): the count ends the batch */
	for (k = 1; k < STORE_READ_BATCH_MSGS; k++) {
		n = 3 + (int)(k % (NMSG / 3)) * 3;
		bad += read_back(&f, (uint32_t)n - 1, n) != 1;
		if (k == STORE_READ_BATCH_MSGS - 1 - 1) {
			bad += mbox_held() != 1;
		}
	}
	CHECK(bad == 0 && mbox_held() == 0, "... and lets go after %d messages",
	    STORE_READ_BATCH_MSGS);
	/* a large one again and again: the bytes end the next batch */
	k = 0;
	if (store_msg_entry(&f, 4, &e) == 0 && e.raw_len > 0) {
		do {
			bad += read_back(&f, 4, 5) != 1;
			k++;
		} while (k < 1000 && mbox_held() == 1);
	}
	CHECK(bad == 0 && e.raw_len > 0 && k == (STORE_READ_BATCH_BYTES + e.raw_len - 1) / e.raw_len,
	    "... or after %d bytes (%u reads of %llu bytes)", STORE_READ_BATCH_BYTES, k,
	    (unsigned long long)e.raw_len);
	memcpy(uids, gone, sizeof(uids));
	pid = fork();
	if (pid == 0) {
		_exit(store_open(&g, mbox, side, STORE_RDWR) != STORE_OK ||
		    store_expunge(&g, uids, ARRAY_LEN(uids)) != STORE_OK ||
		    store_compact(&g) != STORE_OK);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "another process compacts between two batches");
	for (n = 1, bad = 0; n <= NMSG; n++) {
		bad += read_back(&f, (uint32_t)n - 1, n) != (is_gone((uint32_t)n) ? -1 : 1);
	}
	CHECK(bad == 0 && mbox_held() == 1, "the next batch reads the moved survivors, not the "
	    "expunged (%d wrong)", bad);
	store_msg_batch(&f, 0);
	CHECK(mbox_held() == 0, "ending the batch lets go of the read lock");
	store_close(&f);
}

/*
 * The round the journal's newest progress record names (layout in doc/store.md):
 * 1 with its overlap copied, 2 journal-free, 0 none in flight or no journal.
 */
static int
round_in_flight(const char *jnl)
{
	unsigned char b[4096];
	uint32_t best = 0, copy = 0;
	uint64_t len = 0, prog;
	ssize_t n;
	int fd = open(jnl, O_RDONLY), s;

	if (fd < 0) {
		return 0;
	}
	n = pread_full(fd, b, sizeof(b), 0);
	close(fd);
	if (n < 64) {
		return 0;
	}
	prog = (64 + 24 * (uint64_t)get_le32(b + 12) + 511) / 512 * 512;
	for (s = 0; s < 2; s++) {
		const unsigned char *q = b + prog + 512 * (uint64_t)s;

		if (prog + 512 * (uint64_t)s + 32 <= (uint64_t)n && get_le32(q + 28) == crc32c(0, q, 28) &&
		    get_le32(q) > best) {
			best = get_le32(q);
			copy = get_le32(q + 4);
			len = get_le64(q + 16);
		}
	}
	return len == 0 ? 0 : copy > 0 ? 1 : 2;
}

/* Child: expunge and compact, dying at durable step `step` (0: never). */
static void
child(unsigned step)
{
	struct store_folder f;
	char v[16];

	if (step > 0) {
		str_fmt(v, sizeof(v), "%u", step);
		setenv("MAILNOOK_CRASH_STEP", v, 1);
	}
	if (store_open(&f, mbox, side, STORE_RDWR) != STORE_OK ||
	    store_expunge(&f, gone, ARRAY_LEN(gone)) != STORE_OK || store_compact(&f) != STORE_OK) {
		_exit(2);
	}
	store_close(&f);
	_exit(0);
}

/*
 * A session open across the crash, without refreshing: every survivor reads back by its
 * followed offset; an expunged message reads back too, or is gone once compacted away.
 */
static int
open_session_reads(struct store_folder *g)
{
	struct mbox_reader r;
	uint32_t i;
	int ok = 1, rc;

	for (i = 0; ok && i < g->count; i++) {
		rc = store_msg_open(g, i, &r);
		if (rc == STORE_OK) {
			ok = intact(g, i, (int)g->msgs[i].uid);
			store_msg_close(g, &r);
		} else {
			ok = rc == STORE_GONE && is_gone(g->msgs[i].uid);
		}
	}
	return ok;
}

/* After the child: recovered folder has every survivor intact, nothing expunged back. */
static int
verify(uint32_t uv, int expunged)
{
	struct store_folder f;
	uint32_t i, want = expunged ? NMSG - ARRAY_LEN(gone) : NMSG;
	int ok;

	if (store_open(&f, mbox, side, STORE_RDONLY) != STORE_OK) {
		return 0;
	}
	ok = f.uidvalidity == uv && f.count == want;
	for (i = 0; ok && i < f.count; i++) {
		ok = f.msgs[i].uid >= 1 && f.msgs[i].uid <= NMSG && !(expunged && is_gone(f.msgs[i].uid)) &&
		    intact(&f, i, (int)f.msgs[i].uid);
	}
	store_close(&f);
	return ok;
}

static void
test_crash_every_step(void)
{
	struct store_folder f, g;
	unsigned step;
	int status = 0, bad = 0, steps = 0, gbad = 0, kinds[3] = { 0, 0, 0 };
	struct stat st;
	char jnl[300];

	str_fmt(jnl, sizeof(jnl), "%s.jnl", side);
	for (step = 1; step < 400; step++) {
		uint32_t uv;
		pid_t pid;

		write_mbox();
		if (store_open(&f, mbox, side, STORE_RDWR) != STORE_OK) {
			printf("# cannot open the test folder\n");
			bad++;
			break;
		}
		uv = f.uidvalidity;
		store_close(&f);
		if (store_open(&g, mbox, side, STORE_RDONLY) != STORE_OK) {
			bad++;
			break;
		}
		pid = fork();
		if (pid == 0) {
			child(step);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid) {
			bad++;
			break;
		}
		steps++;
		kinds[round_in_flight(jnl)]++;
		/* The open session meets the journal first and finishes the compaction. */
		if (!open_session_reads(&g)) {
			printf("# crash at step %u: the open session read wrong bytes\n", step);
			gbad++;
		}
		store_close(&g);
		/* Step 1 is the fsync of the expunge record: it is durable from there on. */
		if (!verify(uv, 1) || stat(jnl, &st) == 0) {
			printf("# crash at step %u: folder not recovered\n", step);
			bad++;
		}
		if (WIFEXITED(status)) {
			break;
		}
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "compaction ran to its end after %d crashes",
	    steps - 1);
	CHECK(steps > 10 && bad == 0, "recovered after SIGKILL at each of %d durable steps", steps - 1);
	CHECK(steps > 10 && gbad == 0, "a session open across each kill read every message right");
	CHECK(kinds[1] >= 2 && kinds[2] >= 2, "killed in %d rounds copying their overlap and %d "
	    "journal-free ones (record and mbox step of each)", kinds[1], kinds[2]);
	CHECK(stat(mbox, &st) == 0 && verify(0, 1) == 0, "uidvalidity really compared");
}

/*
 * Killed half way, then a tool that ignores dotlocks (and finds ours removed) appends a
 * message before anyone recovers: recovery slides it down too and it is indexed.
 */
static void
test_append_after_crash(void)
{
	struct store_folder f;
	char lock[300];
	uint32_t uv;
	pid_t pid;
	int status = 0, fd, ok;
	size_t len;

	write_mbox();
	if (store_open(&f, mbox, side, STORE_RDWR) != STORE_OK) {
		CHECK(0, "open before the append test");
		return;
	}
	uv = f.uidvalidity;
	store_close(&f);
	pid = fork();
	if (pid == 0) {
		child(4);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFSIGNALED(status),
	    "compaction killed half way");
	str_fmt(lock, sizeof(lock), "%s.lock", mbox);
	unlink(lock);
	len = stored(msgbuf, sizeof(msgbuf), NMSG + 1);
	fd = open(mbox, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write_all(fd, msgbuf, len) == 0, "foreign append after the crash");
	close(fd);
	ok = store_open(&f, mbox, side, STORE_RDONLY) == STORE_OK;
	CHECK(ok && f.uidvalidity == uv && f.count == NMSG - ARRAY_LEN(gone) + 1 &&
	    f.msgs[f.count - 1].uid == NMSG + 1 && intact(&f, f.count - 1, NMSG + 1) &&
	    intact(&f, 0, 1), "recovery kept the appended message and indexed it");
	if (ok) {
		store_close(&f);
	}
}

static void
test_sizes(void)
{
	struct store_folder f;
	struct mbox_entry e;
	struct stat a, b;
	uint32_t uids[NMSG], i;

	write_mbox();
	for (i = 0; i < NMSG; i++) {
		uids[i] = i + 1;
	}
	stat(mbox, &a);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK &&
	    store_expunge(&f, uids + NMSG - 3, 3) == STORE_OK && store_compact(&f) == STORE_OK,
	    "trailing deletes compacted");
	store_forget_expunged(&f);
	stat(mbox, &b);
	CHECK(store_msg_entry(&f, NMSG - 4, &e) == 0 &&
	    b.st_size == (off_t)e.offset + (off_t)e.from_len + (off_t)e.raw_len + 1,
	    "mbox cut right after the last survivor");
	CHECK(f.count == NMSG - 3 && store_expunge(&f, uids, NMSG - 3) == STORE_OK &&
	    store_compact(&f) == STORE_OK && stat(mbox, &b) == 0 && b.st_size == 0,
	    "delete-all leaves an empty mbox");
	store_close(&f);
	(void)a;
}

int
main(void)
{
	char cmd[300];

	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	str_fmt(mbox, sizeof(mbox), "%s/INBOX", dir);
	str_fmt(side, sizeof(side), "%s/.mailnook/INBOX", dir);
	test_plans();
	test_sizes();
	test_crash_every_step();
	test_append_after_crash();
	test_read_batch();
	str_fmt(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
	return t_done();
}
