/*
 * Fuzz entry for the MIME code: the input is one message, stored through the mbox writer
 * into a memory file, parsed, described (ENVELOPE, BODY, BODYSTRUCTURE must be well-formed
 * IMAP), cut into sections (every range copies exactly its length) and walked for SEARCH.
 * libFuzzer calls LLVMFuzzerTestOneInput (built with -DMAILNOOK_LIBFUZZER); otherwise
 * main replays the files given to it. Seeds: tests/fixtures/mime/ and Python's
 * test_email/data/msg_*.txt.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imap_envelope.h"
#include "mbox.h"
#include "mime.h"
#include "params.h"
#include "store.h"
#include "util.h"

#include "replay.h"

/* The MIME source over a reader (one in use at a time). */
static const struct mime_src *
src_of(struct mbox_reader *r)
{
	static struct mime_src src;

	src = store_msg_src(r);
	return &src;
}

/* Is s[0..n) exactly one parenthesized IMAP list of NIL, numbers, quoted strings, literals? */
static int
well_formed(const char *s, size_t n)
{
	size_t i = 0;
	long depth = 0;

	while (i < n) {
		char c = s[i];

		if (c == '(' || c == ')') {
			depth += c == '(' ? 1 : -1;
			i++;
			if (depth < 0 || (depth == 0 && i != n)) {
				return 0;
			}
		} else if (c == ' ' || (c >= '0' && c <= '9')) {
			i++;
		} else if (c == 'N' && n - i >= 3 && memcmp(s + i, "NIL", 3) == 0) {
			i += 3;
		} else if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\r' || s[i] == '\n' || (unsigned char)s[i] >= 0x80) {
					return 0;
				}
				i += s[i] == '\\';
			}
			i++;
		} else if (c == '{') {
			char *end;
			unsigned long len = strtoul(s + i + 1, &end, 10);

			if (end[0] != '}' || end[1] != '\r' || end[2] != '\n' ||
			    len > n - (size_t)(end + 3 - s)) {
				return 0;
			}
			i = (size_t)(end + 3 - s) + len;
		} else {
			return 0;
		}
	}
	return depth == 0 && n > 0;
}

static int
count_sink(void *ctx, const char *p, size_t n)
{
	(void)p;
	*(uint64_t *)ctx += n;
	return 0;
}

static int
hdr_cb(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
	*(uint64_t *)ctx += nlen + vlen + (name[0] == '\0') + (vlen > 0 && val[0] == '\0');
	return 0;
}

static int
first(void *ctx, const struct mbox_entry *e)
{
	*(struct mbox_entry *)ctx = *e;
	return 1;
}

static void
describe(const struct mime_msg *m)
{
	struct imap_buf b;

	for (int what = 0; what < 3; what++) {
		imap_buf_init(&b, MIME_WIRE_MAX);
		if ((what == 0 ? imap_envelope(&b, m, 0) : imap_bodystructure(&b, m, 0, what - 1)) == 0 &&
		    !well_formed(b.p, b.len)) {
			abort();
		}
		imap_buf_free(&b);
	}
}

/* Every section of every part copies exactly the octets mime_section promised. */
static void
sections(int fd, const struct mbox_entry *e, const struct mime_msg *m, const uint8_t *data,
    size_t size)
{
	struct mime_span sp[MIME_PARTS_MAX];
	uint32_t path[4];
	static const char *const names[] = { "subject", "from", "content-type" };

	for (uint16_t i = 0; i < m->nparts; i++) {
		sp[i] = m->parts[i].s;
		if (i > 0 && (sp[i].parent >= i || sp[i].hdr_off < sp[sp[i].parent].body_off ||
		    sp[i].body_off + sp[i].body_len > sp[sp[i].parent].body_off +
		    sp[sp[i].parent].body_len)) {
			abort();
		}
	}
	for (size_t k = 0; k + 4 <= size && k < 64; k += 4) {
		size_t depth = data[k] % 5;
		struct mime_range rg;

		for (size_t j = 0; j < 4; j++) {
			path[j] = 1 + data[k + j] % 4;
		}
		for (int kind = MIME_SECT_PART; kind <= MIME_SECT_MIME; kind++) {
			struct mbox_reader r;
			uint64_t got = 0;

			if (mime_section(sp, m->nparts, path, depth, kind, &rg) != 0) {
				continue;
			}
			mbox_reader_init(&r, fd, e, 1);
			if (rg.off + (uint64_t)rg.len > e->wire_size ||
			    mime_copy_range(src_of(&r), rg, count_sink, &got) != 0 || got != rg.len) {
				abort();
			}
			if (kind == MIME_SECT_HEADER) {
				got = 0;
				mbox_reader_init(&r, fd, e, 1);
				if (mime_copy_fields(src_of(&r), rg, names, 3, data[k] & 1, count_sink, &got) != 0 ||
				    got > (uint64_t)rg.len + 2) {
					abort();
				}
			}
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_mime", 0), empty = memfd_create("empty", 0);
	struct mbox_in in = { empty, (const char *)data, size };
	struct mbox_entry e;
	struct mbox_scan_stats st;
	struct mbox_reader r;
	struct mime_msg m;
	uint64_t written, n = 0;

	if (fd < 0 || empty < 0) {
		abort();
	}
	if (mbox_write_message(fd, &in, "f", 0, 1 << 24, &written) == 0 &&
	    mbox_scan(fd, 0, written, 1, first, &e, &st) == 1) {
		mbox_reader_init(&r, fd, &e, 1);
		if (mime_parse(&m, src_of(&r), NULL, NULL) == 0) {
			if (m.size != e.wire_size) {
				abort();
			}
			describe(&m);
			sections(fd, &e, &m, data, size);
		}
		mime_msg_free(&m);
		mbox_reader_init(&r, fd, &e, 1);
		if (mime_search_walk(NULL, src_of(&r), hdr_cb, count_sink, &n) != 0) {
			abort();
		}
	}
	close(fd);
	close(empty);
	return 0;
}
