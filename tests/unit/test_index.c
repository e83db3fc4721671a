/* Unit tests of index.c: record and header codecs, checksums, log replay (twice, torn,
 * zero-filled), merge, resync matching on synthetic entries. */
#include <fcntl.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "index.h"
#include "t.h"
#include "util.h"

static struct store_rec
msg(uint32_t uid, uint64_t off, uint64_t fp)
{
	struct store_rec m;

	memset(&m, 0, sizeof(m));
	m.uid = uid;
	m.flags = STORE_SEEN;
	m.keywords = 0x8000000000000001ull;
	m.modseq = 7;
	m.e.offset = off;
	m.e.from_len = 40;
	m.e.raw_len = 1000;
	m.e.wire_size = 1030;
	m.e.date = 1795000000;
	m.e.fingerprint = fp;
	return m;
}

static void
test_records(void)
{
	unsigned char b[IDX_REC_LEN], h[IDX_HDR_LEN];
	struct store_rec m = msg(42, 1ull << 40, 0x1122334455667788ull), d;
	struct idx_set s, t;
	size_t i;
	int bad = 0;

	idx_put_rec(b, &m);
	CHECK(idx_get_rec(b, &d) == 0 && memcmp(&d, &m, sizeof(m)) == 0, "record round trip");
	CHECK(get_le32(b) == 42 && b[16 + 5] == 1, "record is little-endian at fixed offsets");
	for (i = 0; i < IDX_REC_LEN * 8; i++) {
		b[i / 8] ^= (unsigned char)(1u << (i % 8));
		bad += idx_get_rec(b, &d) == 0;
		b[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
	CHECK(bad == 0, "every single-bit flip of a record is caught");
	memset(&s, 0, sizeof(s));
	s.cold = 1;
	s.uidvalidity = 1795000000;
	s.uidnext = 43;
	s.generation = 9;
	s.mboxrd = 1;
	s.count = 3;
	s.ms.size = 123456789012ull;
	s.ms.ino = 77;
	s.ms.mtime_ns = 1795000000123456789ll;
	s.ms.tail_crc = 0xdeadbeef;
	idx_put_header(h, &s);
	memset(&t, 0, sizeof(t));
	CHECK(idx_get_header(h, &t) == 0 && t.uidvalidity == s.uidvalidity && t.uidnext == 43 &&
	    t.generation == 9 && t.mboxrd == 1 && t.base_count == 3 && t.ms.size == s.ms.size &&
	    t.ms.ino == 77 && t.ms.mtime_ns == s.ms.mtime_ns && t.ms.tail_crc == 0xdeadbeef,
	    "header round trip");
	h[21] ^= 1;
	CHECK(idx_get_header(h, &t) < 0, "damaged header rejected");
}

static void
test_log_codec(void)
{
	unsigned char b[IDX_LOG_MAX * 2];
	struct idx_log l, d;
	size_t n;

	memset(&l, 0, sizeof(l));
	l.type = IDX_FLAGS;
	l.m.uid = 5;
	l.m.flags = STORE_SEEN | STORE_FLAGGED;
	l.m.keywords = 3;
	n = idx_put_log(b, &l);
	CHECK(n == 32 && idx_get_log(b, n, &d) == (long)n && d.type == IDX_FLAGS &&
	    d.m.uid == 5 && d.m.flags == (STORE_SEEN | STORE_FLAGGED) && d.m.keywords == 3,
	    "flags record round trip");
	CHECK(idx_get_log(b, n - 1, &d) == 0, "short record asks for more");
	b[8] ^= 4;
	CHECK(idx_get_log(b, n, &d) < 0, "flags record checksum");
	memset(b, 0, sizeof(b));
	CHECK(idx_get_log(b, sizeof(b), &d) < 0, "zero-filled bytes are not a record");
	l.type = IDX_EXPUNGE;
	l.first = 3;
	l.last = 9;
	n = idx_put_log(b, &l);
	CHECK(idx_get_log(b, n, &d) == 16 && d.first == 3 && d.last == 9, "expunge record");
	l.type = IDX_SYNC;
	l.ms.size = 99;
	l.ms.tail_crc = 1;
	n = idx_put_log(b, &l);
	CHECK(idx_get_log(b, n, &d) == 36 && d.ms.size == 99 && d.ms.tail_crc == 1, "sync record");
}

/* A state file with 3 base records and a tail: new uid 4, flags of 2, expunge 1..1. */
static int
make_file(const char *path, size_t *tail_end)
{
	struct idx_set s;
	struct idx_log l;
	unsigned char b[IDX_LOG_MAX * 3];
	size_t n = 0;
	uint32_t i;
	int fd;

	memset(&s, 0, sizeof(s));
	s.cold = 1;
	s.uidvalidity = 100;
	s.uidnext = 1;
	for (i = 1; i <= 3; i++) {
		struct store_rec m = msg(i, i * 1000, i);

		idx_push(&s, &m, 0);
	}
	if (idx_write_file(path, &s) < 0) {
		idx_free(&s);
		return -1;
	}
	idx_free(&s);
	memset(&l, 0, sizeof(l));
	l.type = IDX_NEW;
	l.m = msg(4, 4000, 4);
	n += idx_put_log(b + n, &l);
	l.type = IDX_FLAGS;
	l.m = msg(2, 0, 0);
	l.m.flags = STORE_ANSWERED;
	n += idx_put_log(b + n, &l);
	l.type = IDX_EXPUNGE;
	l.first = l.last = 1;
	n += idx_put_log(b + n, &l);
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || write_all(fd, b, n) < 0) {
		return -1;
	}
	close(fd);
	*tail_end = IDX_HDR_LEN + 3 * IDX_REC_LEN + n;
	return 0;
}

static int
load(const char *path, struct idx_set *s, uint64_t *end)
{
	int fd = open(path, O_RDONLY);
	int rc;

	memset(s, 0, sizeof(*s));
	if (fd < 0) {
		return -1;
	}
	rc = idx_load(fd, s, 1, end);
	close(fd);
	return rc;
}

static void
test_replay(const char *dir)
{
	char path[256];
	struct idx_set s;
	uint64_t end, pos;
	size_t tail_end = 0;
	int fd;

	str_fmt(path, sizeof(path), "%s/f.idx", dir);
	CHECK(make_file(path, &tail_end) == 0, "state file written");
	CHECK(load(path, &s, &end) == 0 && end == tail_end && s.count == 4 && s.uidnext == 5 &&
	    (s.msgs[0].flags & STORE_EXPUNGED) && s.msgs[1].flags == (STORE_ANSWERED | STORE_CHANGED) &&
	    s.msgs[3].uid == 4, "base + tail replayed");
	fd = open(path, O_RDONLY);
	pos = IDX_HDR_LEN + 3 * IDX_REC_LEN;
	s.ch.added = s.ch.flagged = s.ch.expunged = 0;
	CHECK(idx_replay(fd, &s, &pos) == 0 && pos == end && s.count == 4 && s.ch.added == 0 &&
	    s.ch.expunged == 0 && s.ch.flagged == 0, "replaying twice changes nothing");
	close(fd);
	idx_free(&s);

	fd = open(path, O_WRONLY | O_APPEND);
	CHECK(write_all(fd, "\x02\x00\x18\x00garbage", 11) == 0, "torn record appended");
	close(fd);
	CHECK(load(path, &s, &end) == 0 && end == tail_end && s.count == 4, "torn tail ends replay");
	idx_free(&s);
	fd = open(path, O_WRONLY);
	CHECK(ftruncate(fd, (off_t)tail_end + 4096) == 0, "zero-filled tail (UBIFS hole)");
	close(fd);
	CHECK(load(path, &s, &end) == 0 && end == tail_end && s.count == 4, "zero tail ends replay");
	idx_free(&s);
	fd = open(path, O_WRONLY);
	CHECK(pwrite_all(fd, "X", 1, IDX_HDR_LEN + IDX_REC_LEN + 3) == 0, "base record damaged");
	close(fd);
	CHECK(load(path, &s, &end) == IDX_SALVAGED && s.uidvalidity == 100 && s.count == 3 &&
	    s.msgs[0].uid == 1 && (s.msgs[0].flags & STORE_EXPUNGED) && s.msgs[1].uid == 3 &&
	    s.msgs[2].uid == 4 && s.uidnext == 5, "damaged base record: the others and the log kept");
	idx_free(&s);
}

/* Damage at path: pwrite n bytes of fill (or flip one byte when n == 0) at off. */
static void
damage(const char *path, off_t off, size_t n, int fill)
{
	unsigned char b[4096];
	int fd = open(path, O_RDWR);

	if (n == 0 && pread_full(fd, b, 1, off) == 1) {
		b[0] ^= 0x5a;
		n = 1;
	} else {
		memset(b, fill, sizeof(b));
	}
	if (fd < 0 || n > sizeof(b) || pwrite_all(fd, b, n, off) != 0) {
		perror("damage");
		exit(2);
	}
	close(fd);
}

/* The 4 messages of make_file with uid 1 expunged and uid 2 answered: how many? */
static int
all_kept(const struct idx_set *s)
{
	return s->count == 4 && s->msgs[0].uid == 1 && (s->msgs[0].flags & STORE_EXPUNGED) &&
	    s->msgs[1].uid == 2 && (s->msgs[1].flags & STORE_ANSWERED) && s->msgs[3].uid == 4 &&
	    (s->msgs[3].flags & STORE_EXPUNGED) == 0 && s->uidnext == 5;
}

/*
 * 200 records (uid 30 expunged in the base) and a log expunging uid 190; the second
 * 4 KiB page zeroed takes records 62..125: the other 136 keep everything.
 */
static void
test_salvage_page(const char *path)
{
	unsigned char b[IDX_LOG_MAX];
	struct idx_set s;
	struct idx_log l;
	uint64_t end;
	uint32_t i;
	int fd, good;

	memset(&s, 0, sizeof(s));
	s.cold = 1;
	s.uidvalidity = 300;
	for (i = 1; i <= 200; i++) {
		struct store_rec m = msg(i, i * 1000, i);

		m.flags = STORE_SEEN | (i == 30 ? STORE_EXPUNGED : 0);
		idx_push(&s, &m, 0);
	}
	idx_write_file(path, &s);
	idx_free(&s);
	memset(&l, 0, sizeof(l));
	l.type = IDX_EXPUNGE;
	l.first = l.last = 190;
	fd = open(path, O_WRONLY | O_APPEND);
	if (fd < 0 || write_all(fd, b, idx_put_log(b, &l)) != 0) {
		perror("log");
		exit(2);
	}
	close(fd);
	damage(path, 4096, 4096, 0);
	good = load(path, &s, &end) == IDX_SALVAGED && s.count == 136 && s.uidvalidity == 300 &&
	    s.uidnext == 201 && s.msgs[61].uid == 62 && s.msgs[62].uid == 127;
	for (i = 0; good && i < s.count; i++) {
		uint32_t want = s.msgs[i].uid == 30 || s.msgs[i].uid == 190 ? STORE_EXPUNGED : 0;

		good = (s.msgs[i].flags & STORE_EXPUNGED) == want && (s.msgs[i].flags & STORE_SEEN);
	}
	CHECK(good, "salvage: a 4 KiB page of 200 records zeroed, the other 136 and the log kept");
	idx_free(&s);
}

static void
test_salvage(const char *dir)
{
	static const struct {
		const char *what;
		off_t off;
		size_t n;	/* 0: flip one byte */
		int rc;
		uint32_t uidvalidity;
	} c[] = {
		{ "header: UIDVALIDITY flipped, kept from the copy", 21, 0, 2, 100 },
		{ "header: mbox size flipped, identity kept", 50, 0, 2, 100 },
		{ "header: CRC flipped, identity kept", 125, 0, 2, 100 },
		{ "header: its copy flipped, the header still good", 73, 0, 0, 100 },
		{ "header zeroed: records and log kept, identity lost", 0, IDX_HDR_LEN, 2, 0 },
		{ "log: a FLAGS record zeroed, the EXPUNGE after it kept", 128 + 192 + 72 + 6, 20, 2, 100 },
	};
	char path[300];
	struct idx_set s;
	size_t i, tail_end;
	uint64_t end;

	str_fmt(path, sizeof(path), "%s/s.idx", dir);
	for (i = 0; i < ARRAY_LEN(c); i++) {
		int rc;

		make_file(path, &tail_end);
		damage(path, c[i].off, c[i].n, 0);
		rc = load(path, &s, &end);
		if (i == ARRAY_LEN(c) - 1) {
			/* The FLAGS record of uid 2 is what was lost. */
			s.msgs[1].flags |= STORE_ANSWERED;
		}
		CHECK(rc == c[i].rc && s.uidvalidity == c[i].uidvalidity && all_kept(&s),
		    "salvage: %s", c[i].what);
		idx_free(&s);
	}
	make_file(path, &tail_end);
	damage(path, IDX_HDR_LEN + IDX_REC_LEN + 10, 0, 0);
	damage(path, IDX_HDR_LEN + 2 * IDX_REC_LEN + 3, 0, 0);
	CHECK(load(path, &s, &end) == IDX_SALVAGED && s.count == 2 && s.msgs[0].uid == 1 &&
	    (s.msgs[0].flags & STORE_EXPUNGED) && s.msgs[1].uid == 4 && s.uidvalidity == 100,
	    "salvage: two records flipped, the rest kept");
	idx_free(&s);
	test_salvage_page(path);
	make_file(path, &tail_end);
	truncate(path, IDX_HDR_LEN + 2 * IDX_REC_LEN + 30);
	CHECK(load(path, &s, &end) == IDX_SALVAGED && s.count == 2 && s.uidnext == 4 && s.uidvalidity == 100,
	    "salvage: cut in the middle of a base record, the whole ones kept");
	idx_free(&s);
}

static void
test_merge(void)
{
	struct idx_set s, img;
	struct store_rec m;
	uint32_t i;

	/* a view (record positions) merging an image loaded from a new file */
	memset(&s, 0, sizeof(s));
	memset(&img, 0, sizeof(img));
	for (i = 1; i <= 4; i++) {
		m = msg(i, i * 100, i);
		idx_push(&s, &m, IDX_HDR_LEN + (i - 1) * IDX_REC_LEN);
	}
	idx_drop_expunged(&s);
	/* The new image lost uid 2, moved uid 3 and added uid 6. */
	m = msg(1, 100, 1);
	idx_push(&img, &m, 1000);
	m = msg(3, 150, 3);
	m.flags = STORE_DELETED;
	idx_push(&img, &m, 2000);
	m = msg(4, 250, 4);
	idx_push(&img, &m, 3000);
	m = msg(6, 350, 6);
	m.keywords = 5;
	idx_push(&img, &m, 4000);
	idx_merge(&s, &img);
	CHECK(s.count == 5 && (s.msgs[1].flags & STORE_EXPUNGED) && s.msgs[1].at == 0 &&
	    s.msgs[2].at == 2000 && s.msgs[0].at == 1000 &&
	    (s.msgs[2].flags & STORE_CHANGED) && s.msgs[4].uid == 6 && s.msgs[4].at == 4000 &&
	    idx_keywords(&s, 4) == 5 && idx_keywords(&s, 0) == msg(1, 0, 0).keywords &&
	    s.ch.added == 1 && s.ch.expunged == 1 && s.ch.flagged == 1,
	    "merge: gone expunged, moved, changed, added");
	idx_free(&s);
	idx_free(&img);
}
static void
resync_case(const char *what, const uint64_t *oldfp, uint32_t on, const uint64_t *newfp,
    uint32_t nn, const uint32_t *want)
{
	struct idx_set old, out;
	struct mbox_entry *e = calloc(nn + 1, sizeof(*e));
	uint32_t i;
	int good;

	memset(&old, 0, sizeof(old));
	old.cold = 1;
	old.uidvalidity = 7;
	for (i = 0; i < on; i++) {
		struct store_rec m = msg(i + 1, i * 10, oldfp[i]);

		idx_push(&old, &m, 0);
	}
	for (i = 0; i < nn; i++) {
		e[i].offset = i * 20;
		e[i].fingerprint = newfp[i];
	}
	good = idx_resync(&old, e, nn, &out) == 0 && out.count == nn && out.uidvalidity == 7;
	for (i = 0; good && i < nn; i++) {
		good = out.msgs[i].uid == want[i] && out.ents[i].offset == i * 20 &&
		    (i == 0 || out.msgs[i].uid > out.msgs[i - 1].uid);
	}
	CHECK(good, "resync: %s", what);
	idx_free(&old);
	idx_free(&out);
	free(e);
}

/* Salvaged records of uids 1 2 4 6 9 (uidnext 11) against scanned fps; want uids. */
static int
resync_salvaged(int salvaged, const uint64_t *fps, uint32_t n, const uint32_t *want)
{
	static const uint32_t have[] = { 1, 2, 4, 6, 9 };
	struct mbox_entry e[10];
	struct idx_set old, out;
	uint32_t i;
	int good;

	memset(&old, 0, sizeof(old));
	old.cold = 1;
	memset(e, 0, sizeof(e));
	for (i = 0; i < ARRAY_LEN(have); i++) {
		struct store_rec m = msg(have[i], i, have[i]);

		idx_push(&old, &m, 0);
	}
	old.uidnext = 11;
	old.salvaged = salvaged;
	for (i = 0; i < n; i++) {
		e[i].fingerprint = fps[i];
	}
	good = idx_resync(&old, e, n, &out) == 0 && out.count == n;
	for (i = 0; good && i < n; i++) {
		good = out.msgs[i].uid == want[i];
	}
	idx_free(&old);
	idx_free(&out);
	return good;
}

static void
test_resync_salvaged(void)
{
	static const uint64_t all[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, two[] = { 1, 2, 30, 31, 4 };
	static const uint32_t w_all[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 },
	    w_plain[] = { 1, 2, 11, 12, 13, 14, 15, 16, 17, 18 }, w_two[] = { 1, 2, 11, 12, 13 };

	CHECK(resync_salvaged(1, all, 10, w_all),
	    "resync of a salvaged file: lost records' messages get the only free uids back");
	CHECK(resync_salvaged(0, all, 10, w_plain), "... an outside rewrite gives them new uids");
	CHECK(resync_salvaged(1, two, 5, w_two),
	    "... not when more messages than free uids lie between");
}

static void
test_resync(void)
{
	static const uint64_t o[] = { 1, 2, 3, 4, 5 }, rm[] = { 1, 2, 4, 5 },
	    add[] = { 1, 2, 9, 3, 4, 5 }, dup[] = { 1, 1, 2 }, dupo[] = { 1, 1 };
	static const uint32_t w_same[] = { 1, 2, 3, 4, 5 }, w_rm[] = { 1, 2, 4, 5 },
	    w_add[] = { 1, 2, 6, 7, 8, 9 }, w_dup[] = { 1, 2, 3 };
	struct idx_set old, out;
	struct mbox_entry e[5];
	uint32_t i;

	resync_case("same file keeps every uid", o, 5, o, 5, w_same);
	resync_case("message removed in the middle", o, 5, rm, 4, w_rm);
	resync_case("message added in the middle: later ones renumbered", o, 5, add, 6, w_add);
	resync_case("identical messages match one each", dupo, 2, dup, 3, w_dup);

	/* An expunged message that is still in the rewritten file stays expunged. */
	memset(&old, 0, sizeof(old));
	old.cold = 1;
	memset(e, 0, sizeof(e));
	for (i = 0; i < 5; i++) {
		struct store_rec m = msg(i + 1, i, o[i]);

		m.flags = i == 2 ? STORE_EXPUNGED : STORE_SEEN;
		idx_push(&old, &m, 0);
		e[i].fingerprint = o[i];
	}
	CHECK(idx_resync(&old, e, 5, &out) == 0 && (out.msgs[2].flags & STORE_EXPUNGED) &&
	    out.msgs[1].flags == STORE_SEEN && out.uidnext == 6, "resync keeps flags and expunges");
	idx_free(&old);
	idx_free(&out);
	test_resync_salvaged();
}

static void
test_uidvalidity(const char *dir)
{
	char side[256], path[256];
	uint32_t a = 0, b = 0, c = 0;
	int fd;

	str_fmt(side, sizeof(side), "%s/.mailnook/Club/Q1", dir);
	str_fmt(path, sizeof(path), "%s/.mailnook", dir);
	mkdir_p(path, 0700);
	CHECK(idx_new_uidvalidity(side, &a) == 0 && idx_new_uidvalidity(side, &b) == 0 &&
	    b == a + 1 && a >= (uint32_t)time(NULL) - 5, "uidvalidity: now, then last + 1");
	str_fmt(path, sizeof(path), "%s/.mailnook/uidvalidity", dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write_all(fd, "4000000000\n", 11) == 0, "counter set ahead of the clock");
	close(fd);
	CHECK(idx_new_uidvalidity(side, &c) == 0 && c == 4000000001u,
	    "a clock behind the counter never repeats a value");
}

/*
 * A view's records read through the mapping: base and log records by position, one
 * appended after the mapping was made (the file grew: mapped anew), the same through
 * pread (a file system that cannot map), and a position naming another uid refused.
 */
static void
test_map(const char *dir)
{
	char path[256];
	unsigned char b[IDX_LOG_MAX];
	struct idx_map m;
	struct idx_set s;
	struct idx_log l;
	struct mbox_entry e;
	uint64_t end;
	size_t tail_end = 0, n;
	uint32_t u;
	int fd, ok;

	str_fmt(path, sizeof(path), "%s/map.idx", dir);
	CHECK(make_file(path, &tail_end) == 0, "map: file made");
	memset(&s, 0, sizeof(s));
	fd = open(path, O_RDWR | O_APPEND);
	CHECK(fd >= 0 && idx_load(fd, &s, 0, &end) == IDX_LOADED && s.count == 4 && s.ents == NULL &&
	    s.msgs[1].at == IDX_HDR_LEN + IDX_REC_LEN && s.msgs[3].at == IDX_HDR_LEN + 3 * IDX_REC_LEN + 4,
	    "map: a view load keeps record positions, no entries");
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	idx_map_open(&m, dup(fd));
	CHECK(m.p != NULL, "map: state file mapped");
	s.map = &m;
	CHECK(idx_entry(&s, 1, &e) == 0 && e.offset == 2000 && e.fingerprint == 2 &&
	    idx_entry(&s, 3, &e) == 0 && e.offset == 4000 && e.wire_size == 1030,
	    "map: base and log records read by position");
	memset(&l, 0, sizeof(l));
	l.type = IDX_NEW;
	l.m = msg(5, 5000, 5);
	CHECK(write_all(fd, b, idx_put_log(b, &l)) == 0, "map: a record appended");
	ok = idx_map_entry(&m, (uint32_t)end + 4, 5, &e) == 0 && e.offset == 5000 && e.fingerprint == 5;
	CHECK(ok && m.len == end + idx_put_log(b, &l), "map: mapped anew past the old end");
	CHECK(idx_map_entry(&m, (uint32_t)end + 4, 6, &e) < 0, "map: a position naming another uid refused");
	munmap((void *)m.p, m.len);
	m.p = NULL;
	m.len = 0;
	m.nomap = 1;
	CHECK(idx_map_entry(&m, (uint32_t)end + 4, 5, &e) == 0 && e.offset == 5000 &&
	    idx_entry(&s, 0, &e) == 0 && e.offset == 1000, "map: the same through pread");
	/* records on a second page, then another program cuts the file under the mapping:
	 * the read past the new end (SIGBUS) fails over to pread, which finds nothing */
	end += idx_put_log(b, &l);
	for (u = 6, ok = 1; u < 80; u++) {
		l.m = msg(u, u * 1000, u);
		n = idx_put_log(b, &l);
		ok &= write_all(fd, b, n) == 0;
		end += n;
	}
	m.nomap = 0;
	CHECK(ok && end > 4096 + IDX_LOG_MAX && idx_map_entry(&m, (uint32_t)end - IDX_REC_LEN - 4, 79, &e) == 0 &&
	    e.offset == 79000 && m.p != NULL, "map: mapped again, %llu bytes", (unsigned long long)end);
	CHECK(ftruncate(fd, IDX_HDR_LEN) == 0 &&
	    idx_map_entry(&m, (uint32_t)end - IDX_REC_LEN - 4, 79, &e) < 0 && m.p == NULL && m.nomap,
	    "map: a record cut off under the mapping fails, no SIGBUS");
	idx_map_close(&m);
	CHECK(m.fd == -1 && idx_map_entry(&m, IDX_HDR_LEN, 1, &e) < 0, "map: closed");
	close(fd);
	idx_free(&s);
}

int
main(void)
{
	char dir[] = "/tmp/mailnook-idx.XXXXXX";
	char cmd[300];

	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	test_records();
	test_log_codec();
	test_replay(dir);
	test_salvage(dir);
	test_merge();
	test_resync();
	test_uidvalidity(dir);
	test_map(dir);
	str_fmt(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
	return t_done();
}
