/* Unit tests of store.c through its API: two sessions in one process, flags, expunge,
 * new mail, checkpoint, POP3 lock, resync after outside rewrites, compaction at close
 * and under open sessions,
 * torn and damaged state files, messages gone from under the index. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "index.h"
#include "store.h"
#include "t.h"
#include "t_store.h"
#include "util.h"

/* msgs[i]'s entry, read from the index (zeros if it cannot be). */
static struct mbox_entry
ent(struct store_folder *f, uint32_t i)
{
	struct mbox_entry e;

	if (store_msg_entry(f, i, &e) < 0) {
		memset(&e, 0, sizeof(e));
	}
	return e;
}

static char dir[] = "/tmp/mailnook-store.XXXXXX";
static char mbox[256], side[256];

/* Give msgs[i] exactly these flags and keywords. */
static int
set_flags(struct store_folder *f, uint32_t i, uint32_t flags, uint64_t kw)
{
	struct store_flagop op = { flags, STORE_FLAGS_ALL, kw, ~(uint64_t)0 };

	return store_change_flags(f, i, &op);
}

/* Body of message n: lines enough for about size bytes. */
static size_t
body(char *buf, size_t cap, int n, size_t size)
{
	size_t len = 0;
	int i = 0;

	while (len < size) {
		int w = str_fmt(buf + len, cap - len, "line %d of message %d, some text to fill\n", i++, n);

		if (w < 0) {
			break;
		}
		len += (size_t)w;
	}
	return len;
}

/* Message n as stored: From_ line, headers (optional Status), body, blank line. */
static size_t
stored(char *buf, size_t cap, int n, int status)
{
	int h = str_fmt(buf, cap, "From sender%d@example.org Sat Nov 28 10:00:%02d 2026\n"
	    "From: sender%d@example.org\nSubject: message %d\nMessage-ID: <%d@example.org>\n%s\n",
	    n, n % 60, n, n, n, status ? "Status: RO\n" : "");
	size_t len = (size_t)h;

	len += body(buf + len, cap - len, n, 300 + (size_t)n * 37);
	buf[len++] = '\n';
	return len;
}

/* Write messages ns[0..k) as the mbox at path (replacing it when rename). */
static void
write_mbox(const int *ns, size_t k, int status, int rename_over)
{
	static char buf[65536];
	char tmp[300];
	size_t i;
	int fd;

	str_fmt(tmp, sizeof(tmp), "%s.tmp", mbox);
	fd = open(rename_over ? tmp : mbox, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	for (i = 0; i < k; i++) {
		size_t n = stored(buf, sizeof(buf), ns[i], status);

		if (write_all(fd, buf, n) < 0) {
			break;
		}
	}
	close(fd);
	if (rename_over) {
		rename(tmp, mbox);
	}
}

static void
append_msg(int n)
{
	static char buf[65536];
	size_t len = stored(buf, sizeof(buf), n, 0);
	int fd = open(mbox, O_WRONLY | O_APPEND);

	CHECK(fd >= 0 && write_all(fd, buf, len) == 0, "appended message %d", n);
	close(fd);
}

/* Does msgs[i] of f read back as message n's headers and body? */
static int
same_content(struct store_folder *f, uint32_t i, int n)
{
	static char want[65536];

	return t_reads_as(f, i, want, stored(want, sizeof(want), n, 0)) == 1;
}

static int
uids_are(const struct store_folder *f, const uint32_t *u, uint32_t n)
{
	uint32_t i;

	if (f->count != n) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (f->msgs[i].uid != u[i]) {
			return 0;
		}
	}
	return 1;
}

static void
test_sessions(void)
{
	static const int ns[] = { 1, 2, 3, 4, 5 };
	static const uint32_t u5[] = { 1, 2, 3, 4, 5 };
	struct store_folder f, g, h, h2;
	struct store_changes ch;
	char idx[300];
	struct stat a, b;
	uint32_t uid = 2;
	int i, ok = 1;

	write_mbox(ns, 5, 0, 0);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK && uids_are(&f, u5, 5) &&
	    f.uidvalidity != 0 && f.uidnext == 6, "open indexes 5 messages as uids 1..5");
	CHECK(same_content(&f, 2, 3) && same_content(&f, 4, 5), "messages read back byte for byte");
	CHECK(ent(&f, 0).wire_size > ent(&f, 0).raw_len, "wire size counts CRLF");
	CHECK(store_open(&g, mbox, side, STORE_RDWR) == STORE_OK && uids_are(&g, u5, 5) &&
	    g.uidvalidity == f.uidvalidity, "second session sees the same uids");
	CHECK(set_flags(&f, 0, STORE_SEEN, 0) == STORE_OK && store_refresh(&g, &ch) == STORE_OK &&
	    ch.flagged == 1 && g.msgs[0].flags == (STORE_SEEN | STORE_CHANGED), "flag change seen elsewhere");
	CHECK(store_expunge(&f, &uid, 1) == STORE_OK && store_refresh(&g, &ch) == STORE_OK &&
	    ch.expunged == 1 && (g.msgs[1].flags & STORE_EXPUNGED), "expunge seen elsewhere");
	append_msg(6);
	CHECK(store_refresh(&g, &ch) == STORE_OK && ch.added == 1 && g.count == 6 &&
	    g.msgs[5].uid == 6 && same_content(&g, 5, 6), "new mail indexed by refresh");
	CHECK(store_refresh(&f, &ch) == STORE_OK && ch.added == 1 && f.msgs[5].uid == 6 &&
	    (f.msgs[1].flags & STORE_EXPUNGED), "the other session gets the same uid for it");
	CHECK(store_open(&h, mbox, side, STORE_RDONLY | STORE_POP3) == STORE_OK &&
	    h.count == 5 && store_open(&h2, mbox, side, STORE_RDONLY | STORE_POP3) == STORE_INUSE,
	    "second POP3 session refused, expunged message not listed");
	store_close(&h);

	str_fmt(idx, sizeof(idx), "%s.idx", side);
	stat(idx, &a);
	CHECK(set_flags(&f, 3, STORE_SEEN, 0) == STORE_OK && stat(idx, &b) == 0 &&
	    b.st_size - a.st_size == 32, "a flag change writes one 32-byte record");
	printf("# measure: flag change: %lld bytes written to the store, no fsync\n",
	    (long long)(b.st_size - a.st_size));
	for (i = 0; i < 3000 && ok; i++) {
		ok = set_flags(&f, 2, (uint32_t)(i & 1 ? STORE_FLAGGED : STORE_ANSWERED), 0) == STORE_OK;
	}
	stat(idx, &b);
	CHECK(ok && a.st_ino != b.st_ino && b.st_size < 65536 + 4096, "log folded by a checkpoint");
	CHECK(store_refresh(&g, &ch) == STORE_OK && g.msgs[2].flags == (STORE_FLAGGED | STORE_CHANGED) &&
	    (g.msgs[1].flags & STORE_EXPUNGED) && g.count == 6, "other session follows the checkpoint");
	store_close(&g);
	store_close(&f);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK && f.count == 5 &&
	    f.msgs[0].flags == STORE_SEEN && f.msgs[1].flags == STORE_FLAGGED && f.uidnext == 7,
	    "state survives close and reopen");
	store_close(&f);
}

static void
test_compact_at_close(void)
{
	static const uint32_t gone[] = { 1, 3, 4 }, left[] = { 5, 6 };
	struct store_folder f;
	struct stat a, b;
	uint32_t uv;

	stat(mbox, &a);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK, "open for expunge");
	uv = f.uidvalidity;
	CHECK(store_expunge(&f, gone, 3) == STORE_OK && set_flags(&f, 3, STORE_DRAFT, 0) == STORE_OK,
	    "expunge 3 of 5, flag another");
	store_close(&f);
	stat(mbox, &b);
	CHECK(b.st_size < a.st_size, "last close compacted the mbox (%lld -> %lld)",
	    (long long)a.st_size, (long long)b.st_size);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK && uids_are(&f, left, 2) &&
	    f.uidvalidity == uv && same_content(&f, 0, 5) && same_content(&f, 1, 6) &&
	    f.msgs[0].flags == STORE_DRAFT, "survivors keep uid, flags and bytes");
	store_close(&f);
}

/*
 * One session expunges and compacts while an IMAP-like session and a POP3 session keep
 * the folder open: both read every survivor byte for byte by the moved offsets without
 * refreshing, and see the compacted-away ones as gone until they forget them.
 */
static void
test_compact_open(void)
{
	static const int ns[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint32_t gone[] = { 2, 3, 5, 7 };
	struct store_folder f, g, h;
	struct store_changes ch;
	struct mbox_reader r;
	struct stat a, b;
	char idx[300];
	uint64_t off8;
	uint32_t i;
	int ok = 1;

	write_mbox(ns, 8, 0, 0);
	str_fmt(idx, sizeof(idx), "%s.idx", side);
	unlink(idx);
	stat(mbox, &a);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK &&
	    store_open(&g, mbox, side, STORE_RDWR) == STORE_OK &&
	    store_open(&h, mbox, side, STORE_RDONLY | STORE_POP3) == STORE_OK &&
	    g.count == 8 && h.count == 8, "three sessions on 8 messages");
	off8 = ent(&g, 7).offset;
	CHECK(store_expunge(&f, gone, ARRAY_LEN(gone)) == STORE_OK && stat(mbox, &b) == 0 &&
	    b.st_size < a.st_size, "expunge of 4 compacted with others open (%lld -> %lld)",
	    (long long)a.st_size, (long long)b.st_size);
	for (i = 0; i < 8; i++) {
		int n = ns[i];

		if (store_find_uid(&f, (uint32_t)n) >= 0 && (f.msgs[store_find_uid(&f, (uint32_t)n)].flags &
		    STORE_EXPUNGED)) {
			ok = ok && store_msg_open(&g, i, &r) == STORE_GONE &&
			    store_msg_open(&h, i, &r) == STORE_GONE;
		} else {
			ok = ok && same_content(&g, i, n) && same_content(&h, i, n);
		}
	}
	CHECK(ok, "survivors byte-identical by the new offsets, compacted ones STORE_GONE");
	CHECK(ent(&g, 7).offset < off8 && g.count == 8 && h.count == 8 &&
	    !(g.msgs[1].flags & STORE_EXPUNGED), "offsets moved, nothing announced, same list");
	CHECK(store_refresh(&g, &ch) == STORE_OK && ch.expunged == 4 && ch.added == 0 &&
	    (g.msgs[1].flags & STORE_EXPUNGED), "refresh then reports the four expunged");
	store_forget_expunged(&g);
	CHECK(g.count == 4 && same_content(&g, 0, 1) && same_content(&g, 3, 8), "forgotten, rest reads");
	store_close(&h);
	store_close(&g);
	store_close(&f);
}

static void
test_resync(void)
{
	static const int without4[] = { 1, 2, 3, 5, 6 }, with9[] = { 1, 2, 3, 9, 5, 6 };
	static const uint32_t u_rm[] = { 1, 2, 3, 5, 6 }, u_add[] = { 1, 2, 3, 7, 8, 9 };
	static const int all[] = { 1, 2, 3, 4, 5, 6 };
	struct store_folder f, g;
	struct store_changes ch;
	struct mbox_reader r;
	uint32_t uv;

	str_fmt(mbox, sizeof(mbox), "%s/Resync", dir);
	str_fmt(side, sizeof(side), "%s/.mailnook/Resync", dir);
	write_mbox(all, 6, 0, 0);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK, "open for resync");
	uv = f.uidvalidity;
	CHECK(set_flags(&f, 4, STORE_FLAGGED, 0) == STORE_OK, "flag uid of message 5");
	write_mbox(without4, 5, 1, 1);
	CHECK(store_open(&g, mbox, side, STORE_RDWR) == STORE_OK && uids_are(&g, u_rm, 5) &&
	    g.uidvalidity == uv && g.msgs[3].flags == STORE_FLAGGED,
	    "mutt-style rewrite (Status added, one removed): uids and flags kept");
	CHECK(store_msg_open(&g, 3, &r) == STORE_OK, "rewritten message readable");
	store_msg_close(&g, &r);
	CHECK(store_refresh(&f, &ch) == STORE_OK && ch.expunged == 1 &&
	    (f.msgs[3].flags & STORE_EXPUNGED), "open session sees the removed one expunged");
	write_mbox(with9, 6, 0, 1);
	CHECK(store_refresh(&g, &ch) == STORE_OK && ch.resynced && g.count == 8, "added in the middle");
	store_forget_expunged(&g);
	CHECK(uids_are(&g, u_add, 6) && g.uidvalidity == uv && same_content(&g, 3, 9) &&
	    g.msgs[4].flags == STORE_FLAGGED,
	    "message added in the middle: it and later ones get new uids");
	store_close(&g);
	store_close(&f);
}

/* Rewrite the mbox in place, same size and tail: message 1's header 3 bytes longer,
 * message 2's body 3 bytes shorter, so message 2 starts 3 bytes later. */
static int
shift_in_place(void)
{
	static char buf[65536], out[65536];
	char *subj, *fill;
	ssize_t n;
	size_t a, b;
	int fd = open(mbox, O_RDWR), ok;

	n = fd >= 0 ? pread_full(fd, buf, sizeof(buf) - 1, 0) : -1;
	if (n <= 0) {
		if (fd >= 0) {
			close(fd);
		}
		return 0;
	}
	buf[n] = '\0';
	subj = strstr(buf, "Subject: message 1\n");
	fill = strstr(buf, "line 0 of message 2,");
	if (subj == NULL || fill == NULL) {
		close(fd);
		return 0;
	}
	a = (size_t)(subj - buf) + 18;
	b = (size_t)(fill - buf) + 5;
	memcpy(out, buf, a);
	memcpy(out + a, "abc", 3);
	memcpy(out + a + 3, buf + a, b - a);
	memcpy(out + b + 3, buf + b + 3, (size_t)n - b - 3);
	ok = pwrite_all(fd, out, (size_t)n, 0) == 0;
	close(fd);
	return ok;
}

/*
 * A failed append of ours cut back with ftruncate changes only the mtime: taken as is,
 * without a rescan; a same-size rewrite with the same tail that moved a message is
 * still rescanned.
 */
static void
test_cut_back(void)
{
	static const int ns[] = { 1, 2, 3, 4 };
	static const char part[] = "\nFrom x Sat Nov 28 10:00:00 2026\nSubject: part";
	struct store_folder f;
	struct store_changes ch;
	struct timespec ts[2];
	struct stat a, b, m;
	char idx[300];
	int fd;

	str_fmt(mbox, sizeof(mbox), "%s/Cut", dir);
	str_fmt(side, sizeof(side), "%s/.mailnook/Cut", dir);
	str_fmt(idx, sizeof(idx), "%s.idx", side);
	write_mbox(ns, 4, 0, 0);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK && f.count == 4, "open 4 to cut back");
	stat(mbox, &m);
	fd = open(mbox, O_WRONLY | O_APPEND);
	CHECK(fd >= 0 && write_all(fd, part, sizeof(part) - 1) == 0 &&
	    ftruncate(fd, m.st_size) == 0, "append cut back");
	ts[0].tv_sec = ts[1].tv_sec = m.st_mtim.tv_sec + 7;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (fd >= 0) {
		futimens(fd, ts);
		close(fd);
	}
	stat(idx, &a);
	CHECK(store_refresh(&f, &ch) == STORE_OK && !ch.resynced && ch.added == 0 && ch.expunged == 0 &&
	    stat(idx, &b) == 0 && a.st_ino == b.st_ino && same_content(&f, 3, 4),
	    "own cut-back: no rescan, no new state file");
	stat(idx, &a);
	CHECK(store_refresh(&f, &ch) == STORE_OK && stat(idx, &b) == 0 && a.st_size == b.st_size,
	    "the new mtime is recorded once");
	CHECK(shift_in_place() && stat(mbox, &b) == 0 && b.st_size == m.st_size, "same-size rewrite");
	CHECK(store_refresh(&f, &ch) == STORE_OK && ch.resynced && f.count > 4 &&
	    same_content(&f, f.count - 1, 4), "a same-size rewrite that moved a message is still rescanned");
	store_close(&f);
}

/* A writer died mid-record while others keep the folder open: their records must
 * still be seen, by open sessions and after a reopen. */
static void
test_torn_between(void)
{
	struct store_folder f, g;
	struct store_changes ch;
	char idx[300];
	uint32_t uid;
	int fd;

	str_fmt(idx, sizeof(idx), "%s.idx", side);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK &&
	    store_open(&g, mbox, side, STORE_RDWR) == STORE_OK && f.count >= 2, "two sessions");
	fd = open(idx, O_WRONLY | O_APPEND);
	CHECK(write_all(fd, "\x03\x00\x08\x00\x01", 5) == 0, "a dead writer's torn record");
	close(fd);
	uid = f.msgs[1].uid;
	CHECK(set_flags(&g, 0, STORE_SEEN | STORE_DELETED, 0) == STORE_OK &&
	    store_expunge(&g, &uid, 1) == STORE_OK, "flags and expunge after it");
	CHECK(store_refresh(&f, &ch) == STORE_OK && ch.flagged == 1 && ch.expunged == 1,
	    "the other session still sees them");
	store_close(&g);
	store_close(&f);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK &&
	    f.msgs[0].flags == (STORE_SEEN | STORE_DELETED) && f.msgs[1].uid != uid,
	    "and so does the next open");
	store_close(&f);
}

/* Killed at each durable step of a checkpoint (inside the call whose record started
 * it): the next open has every flag change made, the last one included. */
static void
test_crash_checkpoint(void)
{
	struct store_folder f;
	unsigned step;
	int ok = 1;

	for (step = 1; step <= 3 && ok; step++) {
		pid_t pid = fork();
		int status = 0, i;

		if (pid == 0) {
			char v[8];

			str_fmt(v, sizeof(v), "%u", step);
			setenv("MAILNOOK_CRASH_STEP", v, 1);
			if (store_open(&f, mbox, side, STORE_RDWR) != STORE_OK) {
				_exit(2);
			}
			for (i = 0; i < 2500; i++) {
				set_flags(&f, 0, i & 1 ? STORE_SEEN : STORE_FLAGGED, (uint64_t)i);
			}
			_exit(0);
		}
		ok = pid > 0 && waitpid(pid, &status, 0) == pid &&
		    (step == 3 ? WIFEXITED(status) : WIFSIGNALED(status)) &&
		    store_open(&f, mbox, side, STORE_RDWR) == STORE_OK &&
		    store_msg_keywords(&f, 0) >= (step == 3 ? 2499 : 2000) &&
		    f.msgs[0].flags == (store_msg_keywords(&f, 0) & 1 ? STORE_SEEN : STORE_FLAGGED);
		store_close(&f);
	}
	CHECK(ok, "killed before and after a checkpoint's rename: no flag change lost");
}

/* A child session: refresh and change flags while mail arrives, then report its view. */
static void
racer(int id, int out_fd)
{
	struct store_folder f;
	struct store_changes ch;
	char line[64];
	uint32_t i;
	int k;

	if (store_open(&f, mbox, side, STORE_RDWR) != STORE_OK) {
		_exit(2);
	}
	for (k = 0; k < 300; k++) {
		if (store_refresh(&f, &ch) != STORE_OK ||
		    set_flags(&f, (uint32_t)(k % f.count), (uint32_t)id, 0) != STORE_OK) {
			_exit(3);
		}
	}
	while (f.count < 5 + 40) {
		if (store_refresh(&f, &ch) != STORE_OK) {
			_exit(4);
		}
	}
	for (i = 0; i < f.count; i++) {
		int n = str_fmt(line, sizeof(line), "%u %llx\n", f.msgs[i].uid,
		    (unsigned long long)ent(&f, i).fingerprint);

		if (n < 0 || write_all(out_fd, line, (size_t)n) < 0) {
			_exit(5);
		}
	}
	store_close(&f);
	_exit(0);
}

/* Mail delivered the way an MDA does it: under the mbox write lock. */
static int
deliver_locked(int n)
{
	static char buf[65536];
	struct mbox_lock l;
	size_t len = stored(buf, sizeof(buf), n, 0);
	int fd = open(mbox, O_RDWR | O_APPEND), rc = -1;

	memset(&l, 0, sizeof(l));
	if (fd >= 0 && lock_mbox(&l, fd, mbox, 1, 10000) == 0) {
		rc = write_all(fd, buf, len);
		if (unlock_mbox(&l) < 0) {
			rc = -1;
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	return rc;
}

/* Three sessions index the same new mail at once: they must agree on every UID. */
static void
test_concurrent(void)
{
	static const int ns[] = { 1, 2, 3, 4, 5 };
	char outs[3][300], *texts[3];
	struct store_folder f;
	pid_t pids[3];
	int i, ok = 1, status;

	str_fmt(mbox, sizeof(mbox), "%s/Race", dir);
	str_fmt(side, sizeof(side), "%s/.mailnook/Race", dir);
	write_mbox(ns, 5, 0, 0);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK, "race folder indexed");
	store_close(&f);
	for (i = 0; i < 3; i++) {
		int fd;

		str_fmt(outs[i], sizeof(outs[i]), "%s/race.%d", dir, i);
		fd = open(outs[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
		pids[i] = fork();
		if (pids[i] == 0) {
			racer(i + 1, fd);
		}
		close(fd);
	}
	for (i = 0; i < 40 && ok; i++) {
		ok = deliver_locked(100 + i) == 0;
	}
	CHECK(ok, "40 messages delivered while the sessions run");
	for (i = 0; i < 3; i++) {
		ok = waitpid(pids[i], &status, 0) == pids[i] && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0 && ok;
	}
	CHECK(ok, "three sessions refreshed and changed flags throughout");
	for (i = 0; i < 3; i++) {
		static char bufs[3][8192];
		int fd = open(outs[i], O_RDONLY);
		ssize_t r = fd >= 0 ? read_full(fd, bufs[i], sizeof(bufs[i]) - 1) : -1;

		bufs[i][r > 0 ? r : 0] = '\0';
		texts[i] = bufs[i];
		if (fd >= 0) {
			close(fd);
		}
	}
	CHECK(strlen(texts[0]) > 0 && strcmp(texts[0], texts[1]) == 0 &&
	    strcmp(texts[0], texts[2]) == 0, "all sessions agree on every uid and message");
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK && f.count == 45 &&
	    f.msgs[44].uid == 45 && f.uidnext == 46, "45 messages, uids 1..45, none skipped");
	store_close(&f);
}

static void
test_damage(void)
{
	struct store_folder f;
	char idx[300];
	struct stat a, b;
	uint32_t uv, i;
	int fd;

	str_fmt(idx, sizeof(idx), "%s.idx", side);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK, "open before damage");
	uv = f.uidvalidity;
	store_close(&f);
	stat(idx, &a);
	fd = open(idx, O_WRONLY | O_APPEND);
	CHECK(write_all(fd, "\x02\x00\x18\x00torn", 8) == 0, "torn record appended");
	close(fd);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK && f.uidvalidity == uv, "open despite torn tail");
	stat(idx, &b);
	CHECK(b.st_size == a.st_size, "torn tail cut off");
	/* A message vanishes under an open session: the store says so instead of lying. */
	fd = open(mbox, O_WRONLY);
	CHECK(pwrite_all(fd, "X", 1, (off_t)ent(&f, 2).offset) == 0, "From_ line overwritten");
	close(fd);
	{
		struct mbox_reader r;

		CHECK(store_msg_open(&f, 2, &r) == STORE_GONE, "message gone reported");
	}
	store_close(&f);
	fd = open(idx, O_WRONLY);
	CHECK(pwrite_all(fd, "\xff", 1, IDX_HDR_LEN + 5) == 0, "base record damaged");
	close(fd);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK && f.uidvalidity == uv &&
	    f.count > 0, "damaged base record salvaged: same uidvalidity");
	for (i = 1; i < f.count; i++) {
		if (f.msgs[i].uid <= f.msgs[i - 1].uid) {
			break;
		}
	}
	CHECK(i == f.count, "rebuilt uids ascend");
	store_close(&f);
}

/* Whole-file copy from a to b (test fixtures). */
static void
copy_file(const char *a, const char *b)
{
	static char buf[1 << 20];
	int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n = in >= 0 ? read_full(in, buf, sizeof(buf)) : -1;

	if (out < 0 || n < 0 || (size_t)n == sizeof(buf) || write_all(out, buf, (size_t)n) != 0) {
		perror("copy_file");
		exit(2);
	}
	close(in);
	close(out);
}

/* Fold the change log into the base, as a checkpoint does (expunged records kept). */
static void
fold_log(const char *idx)
{
	struct idx_set img;
	uint64_t end;
	int fd = open(idx, O_RDONLY);

	memset(&img, 0, sizeof(img));
	if (fd < 0 || idx_load(fd, &img, 1, &end) != 0 || idx_write_file(idx, &img) != 0) {
		perror("fold_log");
		exit(2);
	}
	close(fd);
	idx_free(&img);
}

/* Is a message with fingerprint fp in f's view, and under which uid (0: no)? */
static uint32_t
uid_of(struct store_folder *f, uint64_t fp)
{
	uint32_t i;

	for (i = 0; i < f->count; i++) {
		if (ent(f, i).fingerprint == fp) {
			return f->msgs[i].uid;
		}
	}
	return 0;
}

/*
 * A state file damaged in the header, in records, in a zeroed stretch or cut short:
 * the next open keeps UIDVALIDITY (unless the header and its copy are both gone), the
 * UID and flags of every message whose record survived, and never serves again a
 * message expunged whose record survived.
 */
static void
test_salvage(void)
{
	static const struct {
		const char *what;
		off_t off;	/* -1: truncate at len */
		size_t len;	/* 0: flip one byte */
		int same_uv;
		uint32_t lost;	/* records the damage may take */
	} c[] = {
		{ "header byte flipped", 24, 0, 1, 0 },
		{ "header and its copy zeroed", 0, IDX_HDR_LEN, 0, 0 },
		{ "two records flipped", IDX_HDR_LEN + 10 * IDX_REC_LEN + 7, 0, 1, 2 },
		{ "ten records zeroed", IDX_HDR_LEN + 20 * IDX_REC_LEN + 32, 10 * IDX_REC_LEN, 1, 11 },
		{ "cut in the middle of record 30", -1, IDX_HDR_LEN + 30 * IDX_REC_LEN + 20, 1, 30 },
	};
	char idx[300], idx0[300], mbox0[300];
	uint64_t fp[64];
	uint32_t uid[64], uv, i, n, gone[2];
	struct store_folder f;
	size_t k;

	str_fmt(idx, sizeof(idx), "%s.idx", side);
	str_fmt(idx0, sizeof(idx0), "%s/idx.saved", dir);
	str_fmt(mbox0, sizeof(mbox0), "%s/mbox.saved", dir);
	CHECK(store_open(&f, mbox, side, STORE_RDWR) == STORE_OK && f.count >= 40 && f.count < 64,
	    "salvage: open %u messages", f.count);
	n = f.count;
	gone[0] = f.msgs[2].uid;
	gone[1] = f.msgs[15].uid;
	CHECK(set_flags(&f, 5, STORE_FLAGGED, 0) == STORE_OK &&
	    store_expunge(&f, gone, 2) == STORE_OK, "salvage: uid %u flagged, uids %u and %u expunged",
	    f.msgs[5].uid, gone[0], gone[1]);
	for (i = 0; i < n; i++) {
		fp[i] = ent(&f, i).fingerprint;
		uid[i] = f.msgs[i].uid;
	}
	uv = f.uidvalidity;
	store_close(&f);
	fold_log(idx);
	copy_file(idx, idx0);
	copy_file(mbox, mbox0);
	for (k = 0; k < ARRAY_LEN(c); k++) {
		uint32_t kept = 0, served = 0, moved = 0;
		int fd, rc;

		copy_file(idx0, idx);
		copy_file(mbox0, mbox);
		fd = open(idx, O_RDWR);
		if (c[k].off < 0) {
			rc = ftruncate(fd, (off_t)c[k].len);
		} else if (c[k].len == 0) {
			unsigned char b[1];

			rc = pread_full(fd, b, 1, c[k].off) == 1 ? 0 : -1;
			b[0] ^= 0x21;
			rc = rc == 0 ? pwrite_all(fd, b, 1, c[k].off) : rc;
			/* The second flip: the record after it. */
			if (rc == 0 && c[k].off > IDX_HDR_LEN) {
				rc = pwrite_all(fd, b, 1, c[k].off + IDX_REC_LEN);
			}
		} else {
			static const unsigned char zero[4096];

			rc = pwrite_all(fd, zero, c[k].len, c[k].off);
		}
		close(fd);
		CHECK(rc == 0 && store_open(&f, mbox, side, STORE_RDWR) == STORE_OK,
		    "salvage, %s: open", c[k].what);
		for (i = 0; i < n; i++) {
			uint32_t now = uid_of(&f, fp[i]);

			served += (uid[i] == gone[0] || uid[i] == gone[1]) && now != 0;
			kept += now == uid[i];
			moved += now != 0 && now != uid[i];
		}
		CHECK((f.uidvalidity == uv) == c[k].same_uv, "salvage, %s: uidvalidity %s",
		    c[k].what, c[k].same_uv ? "kept" : "new");
		CHECK(served == 0 && f.count == n - 2, "salvage, %s: expunged stay expunged (%u of "
		    "%u messages, %u served again)", c[k].what, f.count, n - 2, served);
		CHECK(kept + moved == n - 2 && kept >= n - 2 - c[k].lost, "salvage, %s: %u uids "
		    "kept, %u renumbered", c[k].what, kept, moved);
		CHECK(uid_of(&f, fp[5]) == uid[5] && (f.msgs[4].flags & STORE_FLAGGED) != 0 &&
		    f.msgs[4].uid == uid[5], "salvage, %s: flags kept", c[k].what);
		store_close(&f);
	}
}

static void
test_paths(void)
{
	struct config cfg;
	char m[PATH_LEN], s[PATH_LEN];

	memset(&cfg, 0, sizeof(cfg));
	str_copy(cfg.mail_root, sizeof(cfg.mail_root), "/srv/mail");
	CHECK(store_paths(&cfg, "bob", "Club/Q1", m, sizeof(m), s, sizeof(s)) == 0 &&
	    strcmp(m, "/srv/mail/bob/Club.sbd/Q1") == 0 &&
	    strcmp(s, "/srv/mail/bob/.mailnook/Club.sbd/Q1") == 0, "folder paths");
	CHECK(store_paths(&cfg, "bob", "INBOX/a/b", m, sizeof(m), s, sizeof(s)) == 0 &&
	    strcmp(m, "/srv/mail/bob/INBOX.sbd/a.sbd/b") == 0, "INBOX children");
	CHECK(store_paths(&cfg, "bob", "a.sbd", m, sizeof(m), s, sizeof(s)) < 0 &&
	    store_paths(&cfg, "bob", "a.sbd/b", m, sizeof(m), s, sizeof(s)) < 0,
	    "children-directory names refused");
	/* a tree written before folders held both: plain directories are parents */
	str_copy(cfg.mail_root, sizeof(cfg.mail_root), dir);
	str_fmt(m, sizeof(m), "%s/old/Club", dir);
	str_fmt(s, sizeof(s), "%s/old/.mailnook/Club", dir);
	CHECK(mkdir_p(m, 0700) == 0 && mkdir_p(s, 0700) == 0, "old tree made");
	CHECK(store_paths(&cfg, "old", "Club/Q1", m, sizeof(m), s, sizeof(s)) == 0 &&
	    strcmp(m + strlen(dir), "/old/Club/Q1") == 0 &&
	    strcmp(s + strlen(dir), "/old/.mailnook/Club/Q1") == 0, "old tree paths");
	str_fmt(m, sizeof(m), "%s/old/INBOX", dir);
	CHECK(mkdir_p(m, 0700) == 0 &&
	    store_paths(&cfg, "old", "INBOX/x", m, sizeof(m), s, sizeof(s)) == 0 &&
	    strcmp(m + strlen(dir), "/old/INBOX.sbd/x") == 0, "a directory INBOX is never a parent");
	str_copy(cfg.mail_root, sizeof(cfg.mail_root), "/srv/mail");
	CHECK(store_paths(&cfg, "bob", "inbox", m, sizeof(m), s, sizeof(s)) == 0 &&
	    strcmp(s, "/srv/mail/bob/.mailnook/INBOX") == 0, "INBOX side base");
	CHECK(store_paths(&cfg, "bob", "../x", m, sizeof(m), s, sizeof(s)) < 0 &&
	    store_paths(&cfg, "bob", "a//b", m, sizeof(m), s, sizeof(s)) < 0 &&
	    store_paths(&cfg, "bob", ".mailnook/x", m, sizeof(m), s, sizeof(s)) < 0 &&
	    store_paths(&cfg, "bob", "a/", m, sizeof(m), s, sizeof(s)) < 0, "bad folder names refused");
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
	test_paths();
	test_sessions();
	test_compact_at_close();
	test_compact_open();
	test_resync();
	test_cut_back();
	test_torn_between();
	test_crash_checkpoint();
	test_concurrent();
	test_damage();
	test_salvage();
	str_fmt(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
	return t_done();
}
