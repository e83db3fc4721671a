/*
 * The structure cache: miss then hit with the same text as a fresh parse, records seen
 * across handles and reopen, torn tails and flipped bytes, UIDVALIDITY changes,
 * fingerprint changes, pruning, and the cost of a hit against a parse.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap_envelope.h"
#include "mbox.h"
#include "mime_cache.h"
#include "params.h"
#include "store.h"
#include "util.h"
#include "t.h"

/* The MIME source over a reader (one in use at a time). */
static const struct mime_src *
src_of(struct mbox_reader *r)
{
	static struct mime_src src;

	src = store_msg_src(r);
	return &src;
}

#define NMSG 300

static char side[PATH_LEN], cpath[PATH_LEN];
static int mbox_fd;
static struct mbox_entry ents[NMSG];
static size_t nents;

static int
collect(void *ctx, const struct mbox_entry *e)
{
	(void)ctx;
	if (nents < NMSG) {
		ents[nents++] = *e;
	}
	return 0;
}

/* An mbox of NMSG messages, every third one multipart with a 64 KB attachment. */
static void
make_mbox(void)
{
	char path[PATH_LEN], msg[80000];
	uint64_t written, total = 0;
	struct mbox_scan_stats st;
	int empty;

	str_fmt(path, sizeof(path), "%s.mbox", side);
	mbox_fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0600);
	empty = open("/dev/null", O_RDONLY);
	for (int i = 0; i < NMSG; i++) {
		struct mbox_in in = { empty, msg, 0 };
		int n = i % 3 ? str_fmt(msg, sizeof(msg), "From: u%d@example.org\nSubject: m %d\n\n"
		    "body %d\n", i, i, i) :
		    str_fmt(msg, sizeof(msg), "From: u%d@example.org\nSubject: m %d\n"
		    "Content-Type: multipart/mixed; boundary=b\n\n--b\n\npart one\n--b\n"
		    "Content-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0K\n--b--\n",
		    i, i);

		for (int k = 0; i % 3 == 0 && k < 880; k++) {
			n += str_fmt(msg + n - 6, sizeof(msg) - (size_t)n,
			    "%072d\n--b--\n", k) - 6;
		}
		in.head_len = (size_t)n;
		if (mbox_write_message(mbox_fd, &in, "x", 0, 1 << 20, &written) != 0) {
			perror("mbox_write_message");
			exit(2);
		}
		total += written;
	}
	close(empty);
	mbox_scan(mbox_fd, 0, total, 1, collect, NULL, &st);
}

static void
buf_out(void *ctx, const char *s, size_t n)
{
	imap_buf_add(ctx, s, n);
}

/* The texts and spans a direct parse gives, for comparison. */
static int
same_as_parse(size_t i, const struct mime_cached *mc)
{
	struct mbox_reader r;
	struct mime_msg m;
	struct imap_buf b, env;
	int ok;

	mbox_reader_init(&r, mbox_fd, &ents[i], 1);
	if (mime_parse(&m, src_of(&r), NULL, NULL) != 0) {
		return 0;
	}
	imap_buf_init(&b, MIME_WIRE_MAX);
	imap_bodystructure(&b, &m, 0, 1);
	ok = b.len == mc->bodystructure_len && memcmp(b.p, mc->bodystructure, b.len) == 0 &&
	    mc->nspans == m.nparts && mc->size == ents[i].wire_size;
	b.len = 0;
	imap_envelope(&b, &m, 0);
	imap_buf_init(&env, MIME_WIRE_MAX);
	mime_cached_envelope(mc, buf_out, &env);
	ok = ok && b.len == env.len && memcmp(b.p, env.p, b.len) == 0;
	imap_buf_free(&env);
	for (uint16_t k = 0; ok && k < m.nparts; k++) {
		ok = memcmp(&mc->spans[k], &m.parts[k].s, sizeof(struct mime_span)) == 0;
	}
	imap_buf_free(&b);
	mime_msg_free(&m);
	return ok;
}

/* Put message i and write it at once, as the end of a command does. */
static int
put(struct mime_cache *c, size_t i, struct mime_cached *out)
{
	struct mbox_reader r;
	int rc;

	mbox_reader_init(&r, mbox_fd, &ents[i], 1);
	rc = mime_cache_put(c, (uint32_t)i + 1, mime_cache_key(&ents[i]), src_of(&r), out);
	mime_cache_flush(c);
	return rc;
}

static int
hits(struct mime_cache *c, size_t from, size_t to)
{
	struct mime_cached mc;
	int n = 0;

	for (size_t i = from; i < to; i++) {
		n += mime_cache_get(c, (uint32_t)i + 1, mime_cache_key(&ents[i]), &mc) == 1 &&
		    same_as_parse(i, &mc);
	}
	return n;
}

static off_t
fsize(void)
{
	struct stat st;

	return stat(cpath, &st) == 0 ? st.st_size : -1;
}

static void
test_basic(void)
{
	struct mime_cache a, b;
	struct mime_cached mc;
	struct mbox_entry moved;
	int ok = 1;

	CHECK(mime_cache_open(&a, side, 7) == 0, "open creates the cache");
	CHECK(mime_cache_get(&a, 1, mime_cache_key(&ents[0]), &mc) == 0, "empty cache: a miss");
	for (size_t i = 0; i < NMSG / 2; i++) {
		ok = ok && put(&a, i, &mc) == 0 && same_as_parse(i, &mc);
	}
	CHECK(ok, "put gives what a parse gives");
	CHECK(hits(&a, 0, NMSG / 2) == NMSG / 2, "then every message hits");
	CHECK(mime_cache_get(&a, 1, mime_cache_key(&ents[0]) ^ 1, &mc) == 0,
	    "another fingerprint under the same UID is a miss");
	moved = ents[0];
	moved.wire_size += 12;	/* "Status: RO" added by another MUA */
	CHECK(mime_cache_get(&a, 1, mime_cache_key(&moved), &mc) == 0,
	    "same fingerprint, another wire size: a miss");
	CHECK(mime_cache_open(&b, side, 7) == 0 && hits(&b, 0, NMSG / 2) == NMSG / 2,
	    "a second handle hits what the first wrote");
	for (size_t i = NMSG / 2; i < NMSG; i++) {
		put(&b, i, &mc);
	}
	CHECK(hits(&a, NMSG / 2, NMSG) == NMSG / 2, "the first handle sees the second's appends");
	mime_cache_close(&a);
	mime_cache_close(&b);
	CHECK(mime_cache_open(&a, side, 7) == 0 && hits(&a, 0, NMSG) == NMSG, "reopen: all hit");
	mime_cache_close(&a);
}

/* Records are queued and written together: at a full window, a flush or close. */
static void
test_queue(void)
{
	struct mime_cache a, b;
	struct mime_cached mc;
	struct mbox_reader r;
	off_t before;
	int queued = 1;

	mime_cache_open(&a, side, 13);
	mime_cache_open(&b, side, 13);
	before = fsize();
	for (size_t i = 0; i < 3; i++) {
		mbox_reader_init(&r, mbox_fd, &ents[i], 1);
		queued = queued && mime_cache_put(&a, (uint32_t)i + 1, mime_cache_key(&ents[i]), src_of(&r),
		    &mc) == 0 && same_as_parse(i, &mc);
	}
	CHECK(queued && fsize() == before && hits(&b, 0, 3) == 0,
	    "put: the records wait, the file is unchanged");
	mime_cache_flush(&a);
	CHECK(fsize() > before && hits(&b, 0, 3) == 3 && hits(&a, 0, 3) == 3,
	    "flush: one write, both handles hit");
	before = fsize();
	for (size_t i = 3; i < NMSG; i++) {
		mbox_reader_init(&r, mbox_fd, &ents[i], 1);
		mime_cache_put(&a, (uint32_t)i + 1, mime_cache_key(&ents[i]), src_of(&r), &mc);
	}
	CHECK(fsize() > before && hits(&b, 3, NMSG) < NMSG - 3,
	    "a full window is written without a flush, the rest waits");
	mime_cache_close(&a);
	CHECK(hits(&b, 3, NMSG) == NMSG - 3, "close writes the rest");
	mime_cache_close(&b);
}

static void
test_damage(void)
{
	struct mime_cache a;
	struct mime_cached mc;
	off_t size = fsize();
	int fd = open(cpath, O_RDWR);
	unsigned char byte;

	/* a torn last record: the tail is cut on open, the rest still hits */
	CHECK(fd >= 0 && ftruncate(fd, size - 5) == 0, "tear the last record");
	CHECK(mime_cache_open(&a, side, 7) == 0 && hits(&a, 0, NMSG - 1) == NMSG - 1 &&
	    mime_cache_get(&a, NMSG, mime_cache_key(&ents[NMSG - 1]), &mc) == 0,
	    "torn tail: earlier records hit, the torn one misses");
	CHECK(fsize() < size - 5, "the torn tail was cut");
	mime_cache_close(&a);
	/* a flipped byte in the middle of a record: that record misses, put repairs it */
	pread_full(fd, &byte, 1, 200);
	byte ^= 0x20;
	pwrite_all(fd, &byte, 1, 200);
	close(fd);
	CHECK(mime_cache_open(&a, side, 7) == 0 && hits(&a, 0, NMSG - 1) == NMSG - 2,
	    "a flipped byte makes exactly one miss");
	CHECK(put(&a, 0, &mc) == 0 && hits(&a, 0, 1) == 1, "put again: the message hits");
	mime_cache_close(&a);
	CHECK(mime_cache_open(&a, side, 8) == 0 && hits(&a, 0, NMSG) == 0 &&
	    fsize() == 32, "another UIDVALIDITY starts afresh");
	mime_cache_close(&a);
}

static void
test_prune(void)
{
	struct mime_cache a, b;
	struct mime_cached mc;
	uint32_t live[NMSG / 10];
	off_t before;

	mime_cache_open(&a, side, 9);
	mime_cache_open(&b, side, 9);
	for (size_t i = 0; i < NMSG; i++) {
		put(&a, i, &mc);
	}
	for (size_t k = 0; k < ARRAY_LEN(live); k++) {
		live[k] = (uint32_t)(k * 10 + 1);
	}
	before = fsize();
	CHECK(mime_cache_prune(&a, live, ARRAY_LEN(live)) == 0 && fsize() < before / 5,
	    "prune keeps a tenth: file %lld -> %lld bytes", (long long)before, (long long)fsize());
	CHECK(mime_cache_get(&a, 11, mime_cache_key(&ents[10]), &mc) == 1 &&
	    mime_cache_get(&a, 12, mime_cache_key(&ents[11]), &mc) == 0, "live records stay, dead go");
	CHECK(mime_cache_get(&b, 21, mime_cache_key(&ents[20]), &mc) == 1,
	    "another handle follows the rewritten file");
	CHECK(mime_cache_prune(&a, live, ARRAY_LEN(live)) == 0 && fsize() < before / 5,
	    "a second prune has nothing to do");
	mime_cache_close(&a);
	mime_cache_close(&b);
}

struct texts {
	char buf[4096];
	size_t n;
};

static int
collect_text(void *ctx, const char *p, size_t n)
{
	struct texts *t = ctx;

	if (t->n + n + 1 < sizeof(t->buf)) {
		memcpy(t->buf + t->n, p, n);
		t->n += n;
		t->buf[t->n++] = '|';
		t->buf[t->n] = '\0';
	}
	return 0;
}

/* Cache message msg alone (UIDVALIDITY uv) and read it back through a reopened a into mc. */
static void
cached_one(const char *msg, uint32_t uv, struct mime_cache *a, struct mime_cached *mc)
{
	char path[PATH_LEN];
	struct mbox_in in = { -1, msg, strlen(msg) };
	struct mbox_scan_stats st;
	struct mbox_entry e;
	struct mbox_reader r;
	uint64_t written = 0;
	int fd;

	str_fmt(path, sizeof(path), "%s.one", side);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	in.fd = open("/dev/null", O_RDONLY);
	nents = 0;
	CHECK(fd >= 0 && mbox_write_message(fd, &in, "x", 0, 1 << 20, &written) == 0 &&
	    mbox_scan(fd, 0, written, 1, collect, NULL, &st) == 0 && nents == 1, "one message");
	close(in.fd);
	e = ents[0];
	mime_cache_open(a, side, uv);
	mbox_reader_init(&r, fd, &e, 1);
	CHECK(mime_cache_put(a, 1, mime_cache_key(&e), src_of(&r), mc) == 0, "put");
	mime_cache_close(a);
	mime_cache_open(a, side, uv);
	CHECK(mime_cache_get(a, 1, mime_cache_key(&e), mc) == 1, "reopened: a hit");
	close(fd);
	unlink(path);
}

/* The search fields of a record: decoded values, then each address parsed. */
static void
test_fields(void)
{
	struct mime_cache a;
	struct mime_cached mc;
	static const char lists[] = "((NIL NIL \"f\" \"x.example\")) "
	    "((NIL NIL \"f\" \"x.example\")) ((NIL NIL \"r\" \"x.example\"))";
	struct imap_buf env;
	struct texts t;

	cached_one("From: <user (comment)@ (comment) domain.org>\n"
	    "To: a@x.example (Ann =?iso-8859-1?q?M=FCller?=)\nSubject: =?utf-8?b?SGVsbG8gw7w=?=\n"
	    "Cc: c@y.example\nCc: Dee <d@z.example>\nDate: Sat, 28 Nov 2026 10:00:00 +0000\n\nb\n",
	    11, &a, &mc);
	memset(&t, 0, sizeof(t));
	mime_cached_field(&mc, MIME_F_FROM, collect_text, &t);
	CHECK(strcmp(t.buf, "<user (comment)@ (comment) domain.org>|user@domain.org|") == 0,
	    "From: the value, then the parsed address: %s", t.buf);
	memset(&t, 0, sizeof(t));
	mime_cached_field(&mc, MIME_F_TO, collect_text, &t);
	CHECK(strcmp(t.buf, "a@x.example (Ann M\xc3\xbcller)|") == 0,
	    "To: decoded; address and name are in it as they are, so not kept again: %s", t.buf);
	memset(&t, 0, sizeof(t));
	mime_cached_field(&mc, MIME_F_CC, collect_text, &t);
	CHECK(strcmp(t.buf, "c@y.example, Dee <d@z.example>|") == 0,
	    "Cc: repeated fields are one list: %s", t.buf);
	memset(&t, 0, sizeof(t));
	mime_cached_field(&mc, MIME_F_SUBJECT, collect_text, &t);
	CHECK(strcmp(t.buf, "Hello \xc3\xbc|") == 0, "Subject: encoded words decoded: %s", t.buf);
	memset(&t, 0, sizeof(t));
	mime_cached_field(&mc, MIME_F_DATE, collect_text, &t);
	mime_cached_field(&mc, MIME_F_BCC, collect_text, &t);
	CHECK(strcmp(t.buf, "Sat, 28 Nov 2026 10:00:00 +0000|") == 0,
	    "Date read from the ENVELOPE text, no Bcc: %s", t.buf);
	mime_cache_close(&a);
	/* an 8-bit date is kept (a literal in ENVELOPE); a plain subject is read past it */
	cached_one("From: f@x.example\nDate: Sat, 28 Nov 2026 10:00:00 +0000 (caf\xc3\xa9)\n"
	    "Subject: say \"hi\" \\ there\n\nb\n", 14, &a, &mc);
	memset(&t, 0, sizeof(t));
	mime_cached_field(&mc, MIME_F_DATE, collect_text, &t);
	mime_cached_field(&mc, MIME_F_SUBJECT, collect_text, &t);
	CHECK(strcmp(t.buf, "Sat, 28 Nov 2026 10:00:00 +0000 (caf\xc3\xa9)|say \"hi\" \\ there|") == 0,
	    "8-bit Date from the record, quoted Subject unescaped from ENVELOPE: %s", t.buf);
	CHECK(mc.sender_from, "no Sender or Reply-To: the From list is kept once");
	mime_cache_close(&a);
	/* a Reply-To of its own stays in the text */
	cached_one("From: f@x.example\nReply-To: r@x.example\nSubject: s\n\nb\n", 15, &a, &mc);
	imap_buf_init(&env, MIME_WIRE_MAX);
	mime_cached_envelope(&mc, buf_out, &env);
	CHECK(!mc.sender_from && env.len == mc.envelope_len && env.len > 0 &&
	    memmem(env.p, env.len, lists, sizeof(lists) - 1) != NULL,
	    "a Reply-To of its own is kept as it is");
	imap_buf_free(&env);
	mime_cache_close(&a);
}

/* A file of the first format is started afresh, never read as records. */
static void
test_old_version(void)
{
	unsigned char h[32], junk[64];
	struct mime_cache a;
	int fd = open(cpath, O_RDWR | O_CREAT | O_TRUNC, 0600);

	memset(h, 0, sizeof(h));
	memcpy(h, "MNKMIME1", 8);
	put_le32(h + 8, 1);
	put_le32(h + 12, 12);
	put_le32(h + 28, crc32c(0, h, 28));
	memset(junk, 0x41, sizeof(junk));
	CHECK(fd >= 0 && pwrite_all(fd, h, sizeof(h), 0) == 0 &&
	    pwrite_all(fd, junk, sizeof(junk), sizeof(h)) == 0, "a version 1 file");
	close(fd);
	CHECK(mime_cache_open(&a, side, 12) == 0 && fsize() == 32 && a.nslot == 0,
	    "version 1: started afresh");
	fd = open(cpath, O_RDONLY);
	CHECK(fd >= 0 && pread_full(fd, h, sizeof(h), 0) == 32 && get_le32(h + 8) == 6,
	    "the new header says version 6");
	close(fd);
	mime_cache_close(&a);
}

static int64_t
usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
test_cost(void)
{
	struct mime_cache a;
	struct mime_cached mc;
	int64_t t0, t1, t2;
	int n = 0;

	mime_cache_open(&a, side, 10);
	for (size_t i = 0; i < NMSG; i++) {
		put(&a, i, &mc);
	}
	mime_cache_close(&a);
	mime_cache_open(&a, side, 10);
	t0 = usec();
	for (int round = 0; round < 10; round++) {
		for (size_t i = 0; i < NMSG; i++) {
			n += mime_cache_get(&a, (uint32_t)i + 1, mime_cache_key(&ents[i]), &mc) == 1;
		}
	}
	t1 = usec();
	for (int round = 0; round < 10; round++) {
		for (size_t i = 0; i < NMSG; i++) {
			struct mbox_reader r;
			struct mime_msg m;

			mbox_reader_init(&r, mbox_fd, &ents[i], 1);
			mime_parse(&m, src_of(&r), NULL, NULL);
			mime_msg_free(&m);
		}
	}
	t2 = usec();
	printf("# %d hits in %lld us, %d parses in %lld us\n", n, (long long)(t1 - t0), NMSG * 10,
	    (long long)(t2 - t1));
	CHECK(n == NMSG * 10, "every reopened record hits (%d)", n);
	CHECK(t1 - t0 < t2 - t1, "a hit costs less than a parse");
	mime_cache_close(&a);
}

int
main(void)
{
	char dir[] = "/tmp/test_mime_cache.XXXXXX";

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	str_fmt(side, sizeof(side), "%s/f", dir);
	str_fmt(cpath, sizeof(cpath), "%s.mime", side);
	make_mbox();
	CHECK(nents == NMSG, "%zu messages stored", nents);
	test_basic();
	test_damage();
	test_queue();
	test_cost();
	test_prune();
	test_old_version();
	test_fields();
	unlink(cpath);
	str_fmt(cpath, sizeof(cpath), "%s.mbox", side);
	unlink(cpath);
	rmdir(dir);
	return t_done();
}
