/*
 * Fuzz entry for IMAP input: the bytes are what a client sends. Every command read is
 * parsed with the grammar its verb names, SEARCH trees are evaluated against a fake
 * message, and modified UTF-7 must round-trip. libFuzzer calls LLVMFuzzerTestOneInput
 * (built with -DMAILNOOK_LIBFUZZER); otherwise main replays the files given to it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_parse.h"
#include "imap_search.h"
#include "mutf7.h"
#include "util.h"

#include "replay.h"

struct mem {
	const uint8_t *p;
	size_t n;
};

static ssize_t
mem_recv(struct io *io, void *buf, size_t len)
{
	struct mem *m = io->tr_ctx;
	/* Small reads so that lines and literals straddle buffer refills. */
	size_t take = len < m->n ? len : m->n;

	take = take > 7 ? take / 2 : take;
	memcpy(buf, m->p, take);
	m->p += take;
	m->n -= take;
	return (ssize_t)take;
}

static int
mem_send(struct io *io, const void *buf, size_t len)
{
	(void)io;
	(void)buf;
	(void)len;
	return 0;
}

static int
mem_flush(struct io *io)
{
	(void)io;
	return 0;
}

static void
mem_close(struct io *io)
{
	(void)io;
}

static const struct io_transport mem_tr = { mem_recv, mem_send, mem_flush, mem_close };

static int spool_fd = -1;

static int
spool(void *ctx, uint32_t size, struct imap_err *err)
{
	(void)ctx;
	if (size > 100000) {
		str_copy(err->text, sizeof(err->text), "[TOOBIG] too big");
		return -1;
	}
	if (spool_fd < 0) {
		spool_fd = open("/dev/null", O_WRONLY);
	}
	return spool_fd;
}

#define TEST_NONSYNC_MAX 4096
static const struct imap_read_ops ops = { NULL, spool, TEST_NONSYNC_MAX };

static int
acc_keyword(void *ctx, const char *kw, int *has)
{
	(void)ctx;
	*has = kw[0] == '$';
	return 0;
}

static int
acc_sent(void *ctx, struct imap_time *t, int *have)
{
	(void)ctx;
	*have = imap_rfc5322_date("Tue, 1 Jul 2003 10:52:37 +0200", 30, t) == 0;
	return 0;
}

static int
acc_header(void *ctx, const char *field, struct imap_match *m)
{
	(void)ctx;
	imap_match_reset(m);
	imap_match_feed(m, field, strlen(field));
	return 0;
}

static int
acc_text(void *ctx, int whole, struct imap_match *m)
{
	static const char body[] = "Hello \xc3\x84pfel \xff\xfe mail \xe2\x82";

	(void)ctx;
	(void)whole;
	imap_match_feed(m, body, sizeof(body) - 1);
	return 0;
}

static const struct imap_search_ops search_ops = { acc_keyword, acc_sent, acc_header,
	acc_text };

static const struct {
	const char *verb;
	imap_grammar_fn *fn;
} grammars[] = {
	{ "NOOP", imap_parse_none }, { "SELECT", imap_parse_mailbox },
	{ "RENAME", imap_parse_rename }, { "LOGIN", imap_parse_login },
	{ "AUTHENTICATE", imap_parse_authenticate }, { "STATUS", imap_parse_status },
	{ "LIST", imap_parse_list }, { "LSUB", imap_parse_list },
	{ "APPEND", imap_parse_append }, { "COPY", imap_parse_copy },
	{ "EXPUNGE", imap_parse_set }, { "FETCH", imap_parse_fetch },
	{ "STORE", imap_parse_store }, { "SEARCH", imap_parse_search },
	{ "ENABLE", imap_parse_enable }, { "ID", imap_parse_id },
};

static void
use_args(const struct imap_cmd *cmd, const struct imap_args *a)
{
	struct imap_search_msg msg = { 3, 30, 1000, STORE_SEEN, { 1057049557, 120 } };
	struct imap_search_env env = { 5, 50, 1057049557 + 3600, NULL };
	char sec[1024];
	size_t i;

	if (strcmp(cmd->verb, "SEARCH") == 0) {
		(void)imap_search_needs_content(a->search.key);
		if (imap_search_eval(a->search.key, &msg, &env, &search_ops, NULL) < 0) {
			abort();
		}
	}
	if (strcmp(cmd->verb, "FETCH") == 0) {
		for (i = 0; i < a->fetch.natt; i++) {
			(void)imap_section_fmt(&a->fetch.att[i].sec, sec, sizeof(sec));
		}
	}
	if (a->set.n > 0) {
		(void)imap_seq_contains(&a->set, 7, 9);
	}
}

/* A name that decodes must encode back to exactly the same bytes (canonical form only). */
static void
round_trip(const uint8_t *data, size_t size)
{
	char utf8[1024], back[1024];
	const char *why;

	if (size > 300 || mutf7_decode((const char *)data, size, utf8, sizeof(utf8)) < 0) {
		return;
	}
	if (mutf7_encode(utf8, back, sizeof(back)) < 0 || strlen(back) != size ||
	    memcmp(back, data, size) != 0) {
		abort();
	}
	(void)mutf7_name_check(utf8, &why);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct imap_cmd cmd;
	static struct imap_args args;
	static struct io io;
	struct imap_err err;
	struct mem m = { data, size };
	size_t i;
	int rc;

	memset(&io, 0, sizeof(io));
	io.rfd = io.wfd = -1;
	io.tr = &mem_tr;
	io.tr_ctx = &m;
	io.read_timeout_ms = 1000;
	while ((rc = imap_read_command(&io, &cmd, &ops, &err)) != IMAP_GONE && rc != IMAP_BYE) {
		if (rc != IMAP_OK) {
			continue;
		}
		for (i = 0; i < sizeof(grammars) / sizeof(grammars[0]); i++) {
			if (strcmp(cmd.verb, grammars[i].verb) == 0 &&
			    grammars[i].fn(&cmd, (int)(size & 1), &args, &err) == IMAP_OK) {
				use_args(&cmd, &args);
			}
		}
	}
	round_trip(data, size);
	return 0;
}
