/*
 * mbox format: table-driven scanner cases, the reader's unquoting, wire sizes against a
 * CRLF conversion of what the reader returns, fingerprints, and writer round trips.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mbox.h"
#include "params.h"
#include "util.h"
#include "t.h"

#define MAXMSG 8
#define D1 "Sat Nov 28 10:00:00 2026"
#define F1 "From alice@example.org " D1 "\n"
#define F2 "From bob@example.org Sun Nov 29 11:30:00 2026\n"
#define NULRUN F1 "S: 1\n\nb1\n\n\0\0\0\0\0\0\n\n" F2 "S: 2\n\nb2\n\n"
#define ZEROTAIL F1 "S: 1\n\nb1\n\n\0\0\0\0\0\0\0\0"

/* An unlinked temporary file holding data. */
static int
mkfile(const void *data, size_t n)
{
	char path[] = "/tmp/test_mbox.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0) {
		perror("mkstemp");
		exit(2);
	}
	unlink(path);
	if (write_all(fd, data, n) != 0) {
		perror("write");
		exit(2);
	}
	return fd;
}

struct found {
	size_t n;
	struct mbox_entry e[MAXMSG];
};

static int
collect(void *ctx, const struct mbox_entry *e)
{
	struct found *f = ctx;

	if (f->n < MAXMSG) {
		f->e[f->n] = *e;
	}
	f->n++;
	return 0;
}

static int
scan_all(int fd, int mboxrd, struct found *f, struct mbox_scan_stats *st)
{
	off_t end = lseek(fd, 0, SEEK_END);

	f->n = 0;
	return mbox_scan(fd, 0, (uint64_t)end, mboxrd, collect, f, st);
}

/* Read a message back: content with "\n" where nl, and the bytes a CRLF writer sends. */
static size_t
read_back(int fd, const struct mbox_entry *e, int mboxrd, char *out, size_t cap, uint64_t *crlf)
{
	struct mbox_reader *r = malloc(sizeof(*r));
	const char *line;
	size_t len, n = 0;
	int partial, nl, rc;

	*crlf = 0;
	mbox_reader_init(r, fd, e, mboxrd);
	while ((rc = mbox_reader_next(r, &line, &len, &partial, &nl)) == 1) {
		if (n + len + 1 < cap) {
			memcpy(out + n, line, len);
			n += len;
			if (nl) {
				out[n++] = '\n';
			}
		}
		*crlf += len + (partial ? 0 : 2);
	}
	free(r);
	if (rc < 0) {
		return (size_t)-1;
	}
	out[n < cap ? n : 0] = '\0';
	return n;
}

struct scase {
	const char *what;
	const char *data;
	size_t len;		/* 0: strlen(data) */
	int mboxrd;
	size_t msgs;
	uint32_t garbage;
	const char *content[4];
};

static const struct scase scases[] = {
	{ "one message", F1 "Subject: a\n\nbody\n\n", 0, 1, 1, 0,
	    { "Subject: a\n\nbody\n" } },
	{ "three messages", F1 "S: 1\n\nb1\n\n" F2 "S: 2\n\nb2\n\n" F1 "S: 3\n\nb3\n", 0, 1, 3, 0,
	    { "S: 1\n\nb1\n", "S: 2\n\nb2\n", "S: 3\n\nb3\n" } },
	{ "leading blank lines", "\n\n" F1 "S: 1\n\nb\n\n", 0, 1, 1, 0, { "S: 1\n\nb\n" } },
	{ "From in body without blank line before", F1 "S: 1\n\nline\n" F2 "more\n\n", 0, 1, 1, 0,
	    { "S: 1\n\nline\n" F2 "more\n" } },
	{ "From after blank line without a date", F1 "S: 1\n\nx\n\nFrom here on\n\n", 0, 1, 1, 0,
	    { "S: 1\n\nx\n\nFrom here on\n" } },
	{ "mboxrd unquoting", F1 "S: 1\n\n>From a\n>>From b\n>Fro\nx >From c\n\n", 0, 1, 1, 0,
	    { "S: 1\n\nFrom a\n>From b\n>Fro\nx >From c\n" } },
	{ "mboxo keeps quotes", F1 "S: 1\n\n>From a\n>>From b\n\n", 0, 0, 1, 0,
	    { "S: 1\n\n>From a\n>>From b\n" } },
	{ "Content-Length that lands", F1 "Content-Length: 54\n\n\n" F2 "inside\n\n" F2 "S: 2\n\nb\n", 0, 1, 2, 0,
	    { "Content-Length: 54\n\n\n" F2 "inside\n", "S: 2\n\nb\n" } },
	{ "Content-Length that lands at EOF", F1 "Content-Length: 56\n\nx\n\n" F2 "inside\n", 0, 1, 1, 0,
	    { "Content-Length: 56\n\nx\n\n" F2 "inside\n" } },
	{ "wrong Content-Length ignored", F1 "Content-Length: 40\n\nx\n\n" F2 "inside\n\n" F2 "S: 2\n\nb\n", 0, 1, 3, 0,
	    { "Content-Length: 40\n\nx\n", "inside\n", "S: 2\n\nb\n" } },
	{ "NUL run between messages", NULRUN, sizeof(NULRUN) - 1, 1, 2, 1,
	    { "S: 1\n\nb1\n", "S: 2\n\nb2\n" } },
	{ "zero-filled tail", ZEROTAIL, sizeof(ZEROTAIL) - 1, 1, 1, 1, { "S: 1\n\nb1\n" } },
	{ "junk before the first From_ line", "junk\nmore\n" F1 "S: 1\n\nb\n", 0, 1, 1, 1, { "S: 1\n\nb\n" } },
	{ "truncated last message", F1 "S: 1\n\nb1\n\n" F2 "S: 2\n\nhalf a li", 0, 1, 2, 0,
	    { "S: 1\n\nb1\n", "S: 2\n\nhalf a li" } },
	{ "message without final newline", F1 "S: 1\n\nlast", 0, 1, 1, 0, { "S: 1\n\nlast" } },
	{ "header only, separator ends it", F1 "S: 1\n\n" F2 "S: 2\n", 0, 1, 2, 0, { "S: 1\n", "S: 2\n" } },
	{ "CRLF mbox", F1 "S: 1\r\n\r\nb\r\n\r\n" F2 "S: 2\r\n", 0, 1, 2, 0,
	    { "S: 1\r\n\r\nb\r\n", "S: 2\r\n" } },
};

/* Each case: message count, garbage count, content, and wire_size = CRLF bytes read. */
static void
test_scan_table(void)
{
	size_t i, j;

	for (i = 0; i < ARRAY_LEN(scases); i++) {
		const struct scase *c = &scases[i];
		size_t len = c->len ? c->len : strlen(c->data);
		int fd = mkfile(c->data, len);
		struct found f;
		struct mbox_scan_stats st;
		int rc = scan_all(fd, c->mboxrd, &f, &st);

		CHECK(rc == 0 && f.n == c->msgs && st.messages == c->msgs,
		    "scan %s: %zu messages (got %zu)", c->what, c->msgs, f.n);
		CHECK(st.skipped_garbage == c->garbage, "scan %s: %u garbage runs (got %u)",
		    c->what, c->garbage, st.skipped_garbage);
		CHECK(st.end == len, "scan %s: end at file end", c->what);
		for (j = 0; j < f.n && j < c->msgs; j++) {
			char buf[512];
			uint64_t crlf;
			size_t n = read_back(fd, &f.e[j], c->mboxrd, buf, sizeof(buf), &crlf);

			CHECK(n != (size_t)-1 && strcmp(buf, c->content[j]) == 0,
			    "scan %s: message %zu content", c->what, j + 1);
			CHECK(f.e[j].wire_size == crlf, "scan %s: message %zu wire_size %u = %llu",
			    c->what, j + 1, f.e[j].wire_size, (unsigned long long)crlf);
			CHECK(mbox_from_at(fd, f.e[j].offset) == 1, "scan %s: message %zu From_ at offset",
			    c->what, j + 1);
		}
		close(fd);
	}
}

static uint64_t
fingerprint_of(const char *data)
{
	int fd = mkfile(data, strlen(data));
	struct found f;
	struct mbox_scan_stats st;

	if (scan_all(fd, 1, &f, &st) != 0 || f.n != 1) {
		close(fd);
		return 0;
	}
	close(fd);
	return f.e[0].fingerprint;
}

static void
test_fingerprint(void)
{
	uint64_t base = fingerprint_of(F1 "From: a\nSubject: hi\n\nbody\n\n");
	uint64_t flagged = fingerprint_of(F1 "From: a\nStatus: RO\nX-UID: 17\nSubject: hi\n"
	    "X-Keywords: $Label1\n\t$Label2\nx-status: A\nContent-Length: 5\nLines: 1\n\nbody\n\n");
	uint64_t at_eof = fingerprint_of(F1 "From: a\nSubject: hi\n\nbody\n");
	uint64_t no_nl = fingerprint_of(F1 "From: a\nSubject: hi\n\nbody");
	uint64_t subject = fingerprint_of(F1 "From: a\nSubject: ho\n\nbody\n\n");
	uint64_t longer = fingerprint_of(F1 "From: a\nSubject: hi\n\nbody!\n\n");
	uint64_t from = fingerprint_of(F2 "From: a\nSubject: hi\n\nbody\n\n");

	CHECK(base != 0 && base == flagged, "fingerprint ignores Status/X-UID/X-Keywords/Lines");
	CHECK(base == at_eof, "fingerprint same with or without the separator");
	CHECK(base == no_nl, "fingerprint same when a final LF is added later");
	CHECK(base != subject, "fingerprint changes with Subject");
	CHECK(base != longer, "fingerprint changes with body length");
	CHECK(base != from, "fingerprint changes with the From_ line");
}

static void
test_dates(void)
{
	static const struct {
		const char *line;
		int64_t date;
	} d[] = {
		{ F1 "\n", 1795860000 },
		{ "From a@b Sat Nov  7 10:00 2026\n\n", 1794045600 },
		{ "From a@b Sat Nov 28 10:00:00 UTC 2026\n\n", 1795860000 },
		{ "From \"a b\"@c Sat Nov 28 10:00:00 2026 remote from x\n\n", 1795860000 },
		{ "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n\n", 0 },
		{ "From a@b yesterday\n\n", -1 },
		{ "From a@b Sat Nov 32 10:00:00 2026\n\n", -1 },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(d); i++) {
		int fd = mkfile(d[i].line, strlen(d[i].line));
		struct found f;
		struct mbox_scan_stats st;

		CHECK(scan_all(fd, 1, &f, &st) == 0 && f.n == 1 && f.e[0].date == d[i].date,
		    "date of %.*s", (int)strlen(d[i].line) - 2, d[i].line);
		close(fd);
	}
}

/* Lines longer than MBOX_LINE_MAX and than the I/O buffer: counted, read back whole. */
static void
test_long_lines(void)
{
	size_t big = 3 * MBOX_IO_BUF + 17, n;
	size_t total = strlen(F1) + 6 + big + 1 + 8 + big + 2;
	char *data = malloc(total + 1), *p = data, *back = malloc(total + 1);
	struct found f;
	struct mbox_scan_stats st;
	uint64_t crlf;
	int fd;

	p += str_fmt(p, total + 1, "%sS: 1\n\n", F1);
	memset(p, 'x', big);
	p += big;
	*p++ = '\n';
	memcpy(p, ">From y", 7);
	memset(p + 7, 'y', big - 7);
	p += big;
	memcpy(p, "\nend\n\n", 6);
	p += 6;
	fd = mkfile(data, (size_t)(p - data));
	CHECK(scan_all(fd, 1, &f, &st) == 0 && f.n == 1, "long lines: one message");
	CHECK(f.e[0].raw_len == (size_t)(p - data) - strlen(F1) - 1, "long lines: raw_len");
	n = read_back(fd, &f.e[0], 1, back, total + 1, &crlf);
	CHECK(n == f.e[0].raw_len - 1 && memcmp(back + 7 + big, "From y", 6) == 0,
	    "long lines: read back with the quote removed");
	CHECK(f.e[0].wire_size == crlf, "long lines: wire_size %u = %llu", f.e[0].wire_size,
	    (unsigned long long)crlf);
	close(fd);
	free(data);
	free(back);
}

/* Write from an input file, then scan and read back. */
static int
write_msg(int out, const char *in, size_t n, const char *sender, uint64_t max, uint64_t *w)
{
	/* Half the input comes as an already-read head, the rest from the fd. */
	struct mbox_in min = { mkfile(in + n / 2, n - n / 2), in, n / 2 };
	int rc;

	lseek(min.fd, 0, SEEK_SET);
	rc = mbox_write_message(out, &min, sender, 1795860000, max, w);
	close(min.fd);
	return rc;
}

struct wcase {
	const char *what;
	const char *in;
	const char *stored;	/* expected body as stored after the From_ line */
	const char *back;	/* expected read back */
};

static const struct wcase wcases[] = {
	{ "plain", "S: 1\n\nbody\n", "S: 1\n\nbody\n\n", "S: 1\n\nbody\n" },
	{ "CRLF input", "S: 1\r\n\r\nFrom x\r\nbo\rdy\r\n", "S: 1\n\n>From x\nbo\rdy\n\n",
	    "S: 1\n\nFrom x\nbo\rdy\n" },
	{ "quoting", "S: 1\n\n>From a\n>>From b\nFrom\n>>Fro\n>x\nFrom ", "S: 1\n\n>>From a\n>>>From b\nFrom\n>>Fro\n>x\n>From \n\n",
	    "S: 1\n\n>From a\n>>From b\nFrom\n>>Fro\n>x\nFrom \n" },
	{ "no final newline", "S: 1\n\nlast", "S: 1\n\nlast\n\n", "S: 1\n\nlast\n" },
	{ "held prefix at EOF", "S: 1\n\n>>Fro", "S: 1\n\n>>Fro\n\n", "S: 1\n\n>>Fro\n" },
	{ "Content-Length dropped from the header only",
	    "A: 1\nCONTENT-LENGTH: 99\n\t7\nContent-Type: t\nContent-Length:3\nContent\n\nContent-Length: 5\n",
	    "A: 1\nContent-Type: t\nContent\n\nContent-Length: 5\n\n",
	    "A: 1\nContent-Type: t\nContent\n\nContent-Length: 5\n" },
	{ "dropped header line at EOF", "A: 1\nContent-Length: 9", "A: 1\n\n", "A: 1\n" },
	{ "header prefix at EOF", "A: 1\nConten", "A: 1\nConten\n\n", "A: 1\nConten\n" },
};

static void
test_writer(void)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(wcases); i++) {
		const struct wcase *c = &wcases[i];
		int out = mkfile("", 0);
		uint64_t w, crlf;
		char buf[512];
		struct found f;
		struct mbox_scan_stats st;
		const char *from = "From s@x " D1 "\n";
		size_t fl = strlen(from);
		int rc = write_msg(out, c->in, strlen(c->in), "s@x", 1000, &w);
		ssize_t n = pread_full(out, buf, sizeof(buf) - 1, 0);

		/* CHECK evaluates its condition twice: no side effects inside it. */
		CHECK(rc == 0 && w == fl + strlen(c->stored), "write %s", c->what);
		buf[n > 0 ? n : 0] = '\0';
		CHECK(n > 0 && strncmp(buf, from, fl) == 0 && strcmp(buf + fl, c->stored) == 0,
		    "write %s: stored bytes", c->what);
		rc = scan_all(out, 1, &f, &st);
		CHECK(rc == 0 && f.n == 1, "write %s: scans as one", c->what);
		read_back(out, &f.e[0], 1, buf, sizeof(buf), &crlf);
		CHECK(strcmp(buf, c->back) == 0 && crlf == f.e[0].wire_size,
		    "write %s: read back equals input with LF", c->what);
		close(out);
	}
}

/* A CRLF split over the writer's input chunks, big messages, sender cleanup, errors. */
static void
test_writer_edges(void)
{
	size_t n = 5 * MBOX_IO_BUF, i;
	char *in = malloc(n), *back = malloc(n + 1);
	int out = mkfile("", 0);
	uint64_t w, crlf;
	struct found f;
	struct mbox_scan_stats st;
	char buf[128];
	ssize_t r;
	int rc;

	memcpy(in, "S: 1\r\n\r\n", 8);
	for (i = 8; i < n; i++) {
		in[i] = (i % 61 == 60) ? '\n' : 'a' + (char)(i % 26);
	}
	for (i = MBOX_IO_BUF / 4 - 1; i + 1 < n; i += MBOX_IO_BUF / 4) {
		in[i] = '\r';
		in[i + 1] = '\n';
	}
	rc = write_msg(out, in, n, "<a b\tc@x>", n, &w);
	CHECK(rc == 0, "big write");
	r = pread_full(out, buf, 40, 0);
	CHECK(r == 40 && memcmp(buf, "From a_b_c@x " D1 "\n", 38) == 0, "sender sanitised");
	CHECK(scan_all(out, 1, &f, &st) == 0 && f.n == 1, "big write scans as one");
	read_back(out, &f.e[0], 1, back, n + 1, &crlf);
	CHECK(strstr(back, "\r") == NULL && crlf == f.e[0].wire_size, "CR of CRLF on chunk edges dropped");
	close(out);

	out = mkfile("", 0);
	rc = write_msg(out, "S: 1\n\nbody\n", 11, "", 1000, &w);
	CHECK(rc == 0, "empty sender");
	r = pread_full(out, buf, 19, 0);
	CHECK(r == 19 && memcmp(buf, "From MAILER-DAEMON ", 19) == 0, "empty sender is MAILER-DAEMON");
	close(out);
	out = mkfile("", 0);
	rc = write_msg(out, "S: 1\n\n\0\0x\n", 10, "s", 1000, &w) || scan_all(out, 1, &f, &st);
	read_back(out, &f.e[0], 1, back, n + 1, &crlf);
	CHECK(rc == 0 && f.n == 1 && st.skipped_garbage == 0 &&
	    strcmp(back, "S: 1\n\n\x80\x80x\n") == 0, "NUL bytes stored as 0x80: never mistaken for garbage");
	rc = write_msg(out, "", 0, "s", 1000, &w);
	CHECK(rc == -1 && errno == EINVAL, "empty input EINVAL");
	rc = write_msg(out, "\r\n\n", 3, "s", 1000, &w);
	CHECK(rc == -1 && errno == EINVAL, "blank input EINVAL");
	rc = write_msg(out, in, n, "s", n - 100, &w);
	CHECK(rc == -1 && errno == EFBIG, "too big EFBIG");
	close(out);
	free(in);
	free(back);
}

static void
test_prepare_append(void)
{
	static const struct {
		const char *data;
		uint64_t add;
	} c[] = {
		{ "", 0 }, { "\n", 0 }, { F1 "b\n\n", 0 }, { F1 "b\n", 1 }, { F1 "b", 2 },
		{ F1 "b\n\n\0\0", 2 },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(c); i++) {
		size_t len = strlen(c[i].data) + (i == 5 ? 2 : 0);
		int fd = mkfile(c[i].data, len);
		uint64_t ns;
		struct found f;
		struct mbox_scan_stats st;
		struct mbox_in in = { mkfile("S: 2\n\nnew\n", 11), NULL, 0 };

		int rc;

		lseek(in.fd, 0, SEEK_SET);
		rc = mbox_prepare_append(fd, len, &ns);
		CHECK(rc == 0 && ns == len + c[i].add, "prepare_append case %zu adds %llu", i,
		    (unsigned long long)c[i].add);
		lseek(fd, 0, SEEK_END);
		rc = mbox_write_message(fd, &in, "x", 0, 100, &ns) || scan_all(fd, 1, &f, &st);
		CHECK(rc == 0 && f.n == (len > 1 ? 2u : 1u), "prepare_append case %zu: new message found", i);
		close(in.fd);
		close(fd);
	}
}

static int
stop_at_two(void *ctx, const struct mbox_entry *e)
{
	struct found *f = ctx;

	collect(ctx, e);
	return f->n == 2 ? 7 : 0;
}

/* Incremental scans, as the index does after an append; a callback stopping the scan. */
static void
test_incremental(void)
{
	static const char first[] = F1 "S: 1\n\nb1\n\n" F2 "S: 2\n\nb2\n";
	static const char more[] = "\n" F1 "S: 3\n\nb3\n\n" F2 "S: 4\n\nb4\n\n";
	int fd = mkfile(first, sizeof(first) - 1);
	struct found f, g;
	struct mbox_scan_stats st, st2;
	uint64_t end1, after;
	int rc;

	rc = scan_all(fd, 1, &f, &st);
	end1 = st.end;
	after = f.e[1].offset + f.e[1].from_len + f.e[1].raw_len;
	CHECK(rc == 0 && f.n == 2 && end1 == sizeof(first) - 1, "first scan: 2 messages");
	write_all(fd, more, sizeof(more) - 1);
	g.n = 0;
	rc = mbox_scan(fd, end1, end1 + sizeof(more) - 1, 1, collect, &g, &st2);
	CHECK(rc == 0 && g.n == 2 && st2.skipped_garbage == 0 && g.e[0].offset == end1 + 1,
	    "scan from the old end finds just the 2 new messages");
	g.n = 0;
	rc = mbox_scan(fd, after, end1 + sizeof(more) - 1, 1, collect, &g, &st2);
	CHECK(rc == 0 && g.n == 2, "scan from a message's content end finds them too");
	g.n = 0;
	rc = mbox_scan(fd, 0, end1 + sizeof(more) - 1, 1, stop_at_two, &g, &st2);
	CHECK(rc == 7 && g.n == 2 && st2.end == f.e[1].offset + f.e[1].from_len + f.e[1].raw_len + 1,
	    "callback stops the scan; end is past the second message and its separator");
	CHECK(mbox_from_at(fd, 3) == 0 && mbox_from_at(fd, f.e[1].offset + 1) == 0,
	    "mbox_from_at refuses a mid-line offset");
	close(fd);
}

int
main(void)
{
	test_scan_table();
	test_fingerprint();
	test_dates();
	test_long_lines();
	test_writer();
	test_writer_edges();
	test_prepare_append();
	test_incremental();
	return t_done();
}
