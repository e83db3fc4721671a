/*
 * IMAP command reader and grammars: tags, atoms, quoted strings, literals ({n}, {n+},
 * refused before "+", dropped to stay in step), APPEND spooling, sequence sets, dates,
 * FETCH, STORE, SEARCH, LIST, STATUS, ID, ENABLE, and hostile nesting and lengths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "imap_parse.h"
#include "util.h"
#include "t.h"

static struct io io;
static struct imap_cmd cmd;
static struct imap_args args;
static struct imap_err err;
static int peer = -1;		/* the client's end of the socketpair */
static int spool_fd = -1;
static uint32_t spool_limit = 1000;

static int
spool(void *ctx, uint32_t size, struct imap_err *e)
{
	(void)ctx;
	if (size > spool_limit) {
		str_copy(e->text, sizeof(e->text), "[TOOBIG] Message exceeds APPENDLIMIT");
		return -1;
	}
	return spool_fd;
}

#define TEST_NONSYNC_MAX 4096
static const struct imap_read_ops ops = { NULL, spool, TEST_NONSYNC_MAX };

/* A session io whose client already sent data (and closed its sending side). */
static void
client(const char *data, size_t n)
{
	int sv[2];

	if (peer >= 0) {
		close(peer);
		close(io.rfd);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	io_init(&io, sv[0], sv[0]);
	io.read_timeout_ms = 500;
	peer = sv[1];
	/* A writer thread would be needed for more than the socket buffer holds. */
	if (write_all(peer, data, n) < 0 || shutdown(peer, SHUT_WR) < 0) {
		perror("feed");
		exit(1);
	}
}

static void
client_str(const char *s)
{
	client(s, strlen(s));
}

/* What the session sent back so far ("+ " continuations). */
static const char *
replies(void)
{
	static char buf[4096];
	ssize_t n;

	io_flush(&io);
	n = recv(peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int
rd(void)
{
	return imap_read_command(&io, &cmd, &ops, &err);
}

/* Read the one command data holds and parse it with g. */
static int
parse(const char *data, imap_grammar_fn *g)
{
	client_str(data);
	if (rd() != IMAP_OK) {
		return -1;
	}
	return g(&cmd, 0, &args, &err);
}

static int
str_is(struct imap_str s, const char *want)
{
	return s.s != NULL && s.len == strlen(want) && memcmp(s.s, want, s.len) == 0;
}

static void
test_head(void)
{
	client_str("a1 NOOP\r\nA.2 uid fetch 1:* (FLAGS)\r\n\r\n+x NOOP\r\nt\r\n");
	CHECK(rd() == IMAP_OK && strcmp(cmd.tag, "a1") == 0 && strcmp(cmd.verb, "NOOP") == 0 &&
	    !cmd.uid, "tag and verb");
	CHECK(imap_parse_none(&cmd, 0, &args, &err) == IMAP_OK, "NOOP takes no arguments");
	CHECK(rd() == IMAP_OK && strcmp(cmd.tag, "A.2") == 0 && strcmp(cmd.verb, "FETCH") == 0 &&
	    cmd.uid, "UID form, verb upper-cased");
	CHECK(rd() == IMAP_BAD && cmd.tag[0] == '\0', "empty line is BAD untagged (%s)", err.text);
	CHECK(rd() == IMAP_BAD && cmd.tag[0] == '\0', "tag with + refused");
	CHECK(rd() == IMAP_BAD && cmd.tag[0] == '\0', "tag without command");
	CHECK(rd() == IMAP_GONE && err.io_rc == IO_EOF, "EOF ends the session silently");
	CHECK(parse("a NOOP x\r\n", imap_parse_none) == IMAP_BAD &&
	    strstr(err.text, "end of command") != NULL, "extra argument: %s", err.text);
}

static void
test_literals(void)
{
	static char big[6000];
	size_t n;

	client_str("a LOGIN {4}\r\nfred {6}\r\nsecret\r\nb LOGIN {4+}\r\nfr\"d \"x\\\\y\"\r\n");
	CHECK(rd() == IMAP_OK && imap_parse_login(&cmd, 0, &args, &err) == IMAP_OK &&
	    str_is(args.user, "fred") && str_is(args.pass, "secret"), "synchronizing literals");
	CHECK(strcmp(replies(), "+ Ready for literal data\r\n+ Ready for literal data\r\n") == 0,
	    "a continuation for each");
	CHECK(rd() == IMAP_OK && imap_parse_login(&cmd, 0, &args, &err) == IMAP_OK &&
	    str_is(args.user, "fr\"d") && str_is(args.pass, "x\\y"), "LITERAL+ and quoted escapes");
	CHECK(replies()[0] == '\0', "no continuation for {n+}");

	/* {n+} over 4096: BAD [TOOBIG], the data read and dropped, the next command intact. */
	n = (size_t)snprintf(big, sizeof(big), "a LOGIN {5000+}\r\n");
	memset(big + n, 'x', 5000);
	n += 5000;
	n += (size_t)snprintf(big + n, sizeof(big) - n, " {2+}\r\nab\r\nb NOOP\r\n");
	client(big, n);
	CHECK(rd() == IMAP_BAD && strcmp(cmd.tag, "a") == 0 && strstr(err.text, "[TOOBIG]"),
	    "big non-synchronizing literal refused: %s", err.text);
	CHECK(rd() == IMAP_OK && strcmp(cmd.verb, "NOOP") == 0, "stream in step after it");

	/* A synchronizing literal too big for the command: no "+", so the client sends nothing. */
	client_str("a LOGIN {100000}\r\nb NOOP\r\n");
	CHECK(rd() == IMAP_BAD && strstr(err.text, "[TOOBIG]") != NULL, "big literal refused");
	CHECK(replies()[0] == '\0', "refused before \"+\"");
	CHECK(rd() == IMAP_OK && strcmp(cmd.tag, "b") == 0, "next command read");

	/* A broken command's {n+} literal is still consumed. */
	client_str("+bad LOGIN {3+}\r\nabc {1+}\r\nd\r\nc NOOP\r\n");
	CHECK(rd() == IMAP_BAD && cmd.tag[0] == '\0', "bad tag");
	CHECK(rd() == IMAP_OK && strcmp(cmd.tag, "c") == 0, "its literals skipped");
	client("a LO\0GIN {3}\r\nc NOOP\r\n", 22);
	CHECK(rd() == IMAP_BAD && strstr(err.text, "NUL") != NULL && replies()[0] == '\0',
	    "NUL refused, no continuation");
	CHECK(rd() == IMAP_OK && strcmp(cmd.tag, "c") == 0, "in step after NUL");

	CHECK(parse("a LOGIN {4}fred x\r\n", imap_parse_login) == IMAP_BAD,
	    "a literal must end its line: %s", err.text);
	CHECK(parse("a LOGIN {2}\r\nab\r\n", imap_parse_login) == IMAP_BAD, "literal then nothing");
	CHECK(parse("a LOGIN \"abc x\r\n", imap_parse_login) == IMAP_BAD &&
	    strstr(err.text, "closing quote") != NULL, "unterminated quote: %s", err.text);
	CHECK(parse("a LOGIN {0}\r\n {0}\r\n\r\n", imap_parse_login) == IMAP_OK &&
	    str_is(args.user, "") && str_is(args.pass, ""), "empty literals");
	client_str("a LOGIN {3}\r\nab");
	CHECK(rd() == IMAP_GONE, "literal cut by EOF");
}

static void
test_toolong(void)
{
	char *line = malloc(IMAP_CMD_MAX + 100);
	size_t n;

	memset(line, 'x', IMAP_CMD_MAX + 100);
	memcpy(line, "a LOGIN ", 8);
	memcpy(line + IMAP_CMD_MAX + 90, " {5+}\r\n", 7);
	n = IMAP_CMD_MAX + 97;
	client(line, n);
	CHECK(rd() == IMAP_BYE && err.io_rc == IO_TOOLONG, "over-long line: BYE (%s)", err.text);
	free(line);
}

/* Text and arena start small and grow to exactly the bounds they always had. */
static void
test_growth(void)
{
	size_t n = IMAP_CMD_MAX - 2, i;	/* with CRLF, the longest line that fits */
	char *line = malloc(IMAP_CMD_MAX + 2), lit[64];

	memcpy(line, "a LOGIN u ", 10);
	memset(line + 10, 'p', n - 10);
	memcpy(line + n, "\r\n", 2);
	client(line, n + 2);
	CHECK(rd() == IMAP_OK && cmd.len == n && cmd.cap == IMAP_CMD_MAX,
	    "a line of IMAP_CMD_MAX - 2 octets and CRLF fits (%s)", err.text);
	imap_cmd_wipe(&cmd);
	line[n] = 'p';
	memcpy(line + n + 1, "\r\n", 2);
	client(line, n + 3);
	CHECK(rd() == IMAP_BYE && err.io_rc == IO_TOOLONG, "one octet more is too long");
	imap_cmd_wipe(&cmd);
	n = (size_t)snprintf(lit, sizeof(lit), "a LOGIN u {%d}\r\n", IMAP_CMD_FIRST * 3);
	memcpy(line, lit, n);
	memset(line + n, 'q', IMAP_CMD_FIRST * 3);
	memcpy(line + n + IMAP_CMD_FIRST * 3, "\r\n", 2);
	client(line, n + IMAP_CMD_FIRST * 3 + 2);
	CHECK(rd() == IMAP_OK && imap_parse_login(&cmd, 0, &args, &err) == IMAP_OK &&
	    args.pass.len == IMAP_CMD_FIRST * 3 && args.pass.s[IMAP_CMD_FIRST * 3 - 1] == 'q',
	    "a literal longer than the first text buffer (%s)", err.text);
	imap_cmd_wipe(&cmd);
	n = (size_t)snprintf(line, 16, "a SEARCH");
	for (i = 0; i < IMAP_ARENA_FIRST / 4; i++) {
		memcpy(line + n, " SEEN", 5);
		n += 5;
	}
	memcpy(line + n, "\r\n", 2);
	client(line, n + 2);
	CHECK(rd() == IMAP_OK && imap_parse_search(&cmd, 0, &args, &err) == IMAP_OK &&
	    cmd.arena[1] != NULL, "a parse larger than the first arena (%s)", err.text);
	imap_cmd_wipe(&cmd);
	CHECK(cmd.cap <= IMAP_CMD_FIRST && cmd.arena[1] == NULL, "large buffers given back");
	free(line);
}

static void
test_append(void)
{
	char buf[64];
	FILE *f = tmpfile();
	ssize_t n;

	spool_fd = fileno(f);
	CHECK(parse("a APPEND inbox (\\Seen $Work) \" 1-Jan-2024 10:00:00 +0100\" {11}\r\n"
	    "Hello\r\nworl\r\n", imap_parse_append) == IMAP_OK, "APPEND parsed (%s)", err.text);
	CHECK(strcmp(args.append.mbox, "INBOX") == 0 && args.append.flags.sys == STORE_SEEN &&
	    args.append.flags.nkw == 1 && str_is(args.append.flags.kw[0], "$Work"),
	    "mailbox and flags");
	CHECK(args.append.has_date && args.append.date.t == 1704099600 &&
	    args.append.date.zone == 60, "date-time");
	n = pread(spool_fd, buf, sizeof(buf), 0);
	CHECK(args.append.msg.fd == spool_fd && args.append.msg.off == 0 &&
	    args.append.msg.size == 11 && n == 11 && memcmp(buf, "Hello\r\nworl", 11) == 0,
	    "message spooled, not in RAM");
	CHECK(strstr(replies(), "+ Ready") != NULL, "continuation sent for the message");

	CHECK(parse("a APPEND {5}\r\nDraft {3+}\r\nabc\r\n", imap_parse_append) == IMAP_OK &&
	    strcmp(args.append.mbox, "Draft") == 0 && args.append.msg.size == 3 &&
	    args.append.msg.off == 11, "literal mailbox inline, message spooled after the first");

	client_str("a APPEND INBOX {5000}\r\nb NOOP\r\n");
	CHECK(rd() == IMAP_NO && strstr(err.text, "[TOOBIG]") != NULL && replies()[0] == '\0',
	    "spool refused before \"+\": %s", err.text);
	CHECK(rd() == IMAP_OK && strcmp(cmd.tag, "b") == 0, "next command");
	CHECK(parse("a APPEND INBOX {1}\r\nx {1}\r\ny\r\n", imap_parse_append) == -1 &&
	    strstr(err.text, "One message") != NULL, "one message per APPEND");
	CHECK(parse("a APPEND INBOX \"1-Jan-2024\" {1}\r\nx\r\n", imap_parse_append) == IMAP_BAD,
	    "date without time refused");
	fclose(f);
	spool_fd = -1;
}

static void
test_seqset(void)
{
	struct imap_range r[2] = { { 1, IMAP_STAR }, { 7, 5 } };
	struct imap_seqset s = { r, 2 };

	CHECK(parse("a COPY 1,3:5,7:*,* Trash\r\n", imap_parse_copy) == IMAP_OK &&
	    args.set.n == 4 && args.set.r[1].lo == 3 && args.set.r[1].hi == 5 &&
	    args.set.r[2].hi == IMAP_STAR && args.set.r[3].lo == IMAP_STAR &&
	    strcmp(args.mbox, "Trash") == 0, "sequence set");
	CHECK(parse("a EXPUNGE 1:4294967295\r\n", imap_parse_set) == IMAP_OK &&
	    args.set.r[0].hi == UINT32_MAX, "largest number");
	CHECK(parse("a EXPUNGE 4294967296\r\n", imap_parse_set) == IMAP_BAD, "2^32 refused");
	CHECK(parse("a EXPUNGE 0\r\n", imap_parse_set) == IMAP_BAD, "0 refused");
	CHECK(parse("a EXPUNGE 1,,2\r\n", imap_parse_set) == IMAP_BAD, "empty element");
	CHECK(parse("a EXPUNGE 1:\r\n", imap_parse_set) == IMAP_BAD, "open range");
	CHECK(parse("a EXPUNGE $\r\n", imap_parse_set) == IMAP_BAD, "no SEARCHRES");
	CHECK(parse("a EXPUNGE -1\r\n", imap_parse_set) == IMAP_BAD, "no sign");
	CHECK(imap_seq_contains(&s, 9, 9) && imap_seq_contains(&s, 6, 3) &&
	    !imap_seq_contains(&s, 8, 3),
	    "contains with * and reversed ranges");
	r[0].lo = 10;
	CHECK(imap_seq_contains(&s, 4, 4) && !imap_seq_contains(&s, 3, 4),
	    "n:* beyond the largest means the largest");
}

static void
test_fetch(void)
{
	const struct imap_fetch_att *a;
	char sec[128];

	CHECK(parse("a FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (date From)]<0.100> BODY[1.2.MIME] "
	    "BODY[] body[3] RFC822.SIZE BODY)\r\n", imap_parse_fetch) == IMAP_OK &&
	    args.fetch.natt == 7, "FETCH list (%s)", err.text);
	a = args.fetch.att;
	CHECK(a[0].kind == IMAP_FA_UID && a[1].kind == IMAP_FA_SECTION && a[1].sec.peek &&
	    a[1].sec.kind == IMAP_SEC_FIELDS && a[1].sec.nfields == 2 && a[1].sec.partial &&
	    a[1].sec.origin == 0 && a[1].sec.count == 100, "BODY.PEEK[HEADER.FIELDS]<0.100>");
	CHECK(imap_section_fmt(&a[1].sec, sec, sizeof(sec)) == 0 &&
	    strcmp(sec, "HEADER.FIELDS (DATE FROM)") == 0, "section echo: %s", sec);
	CHECK(!a[2].sec.peek && a[2].sec.nparts == 2 && a[2].sec.kind == IMAP_SEC_MIME &&
	    imap_section_fmt(&a[2].sec, sec, sizeof(sec)) == 0 && strcmp(sec, "1.2.MIME") == 0,
	    "part MIME: %s", sec);
	CHECK(a[3].kind == IMAP_FA_SECTION && a[3].sec.kind == IMAP_SEC_ALL &&
	    a[3].sec.nparts == 0 && a[4].sec.nparts == 1 && a[4].sec.part[0] == 3 &&
	    a[5].kind == IMAP_FA_RFC822_SIZE && a[6].kind == IMAP_FA_BODY, "BODY[], body[3], BODY");
	CHECK(imap_section_fmt(&a[4].sec, sec, sizeof(sec)) == 0 && strcmp(sec, "3") == 0,
	    "part echo");
	CHECK(parse("a FETCH 1:* FULL\r\n", imap_parse_fetch) == IMAP_OK && args.fetch.natt == 5 &&
	    args.fetch.att[4].kind == IMAP_FA_BODY, "FULL macro");
	CHECK(parse("a FETCH 1 fast\r\n", imap_parse_fetch) == IMAP_OK && args.fetch.natt == 3,
	    "FAST macro");
	CHECK(parse("a FETCH 1 RFC822.HEADER\r\n", imap_parse_fetch) == IMAP_OK &&
	    args.fetch.att[0].kind == IMAP_FA_RFC822_HEADER, "single attribute");
	CHECK(parse("a FETCH 1 BODY[1.TEXT]\r\n", imap_parse_fetch) == IMAP_OK &&
	    args.fetch.att[0].sec.kind == IMAP_SEC_TEXT, "part TEXT");
	CHECK(parse("a FETCH 1 (ALL)\r\n", imap_parse_fetch) == IMAP_BAD, "macro inside a list");
	CHECK(parse("a FETCH 1 BODY[MIME]\r\n", imap_parse_fetch) == IMAP_BAD, "MIME needs a part");
	CHECK(parse("a FETCH 1 BODY.PEEK\r\n", imap_parse_fetch) == IMAP_BAD, "PEEK needs [");
	CHECK(parse("a FETCH 1 BODY[0]\r\n", imap_parse_fetch) == IMAP_BAD, "part 0");
	CHECK(parse("a FETCH 1 BODY[]<5>\r\n", imap_parse_fetch) == IMAP_BAD, "partial count");
	CHECK(parse("a FETCH 1 (FLAGS\r\n", imap_parse_fetch) == IMAP_BAD, "unclosed list");
	CHECK(parse("a FETCH 1 FOO\r\n", imap_parse_fetch) == IMAP_BAD &&
	    strstr(err.text, "fetch attribute") != NULL, "unknown attribute: %s", err.text);
}

static void
test_store(void)
{
	CHECK(parse("a STORE 1:3 +FLAGS.SILENT (\\Seen $Label1 \\flagged)\r\n", imap_parse_store)
	    == IMAP_OK && args.store.mode == IMAP_STORE_ADD && args.store.silent &&
	    args.store.flags.sys == (STORE_SEEN | STORE_FLAGGED) && args.store.flags.nkw == 1 &&
	    str_is(args.store.flags.kw[0], "$Label1"), "+FLAGS.SILENT");
	CHECK(parse("a STORE 2 FLAGS \\Deleted \\Answered\r\n", imap_parse_store) == IMAP_OK &&
	    args.store.mode == IMAP_STORE_SET && !args.store.silent &&
	    args.store.flags.sys == (STORE_DELETED | STORE_ANSWERED), "bare flags");
	CHECK(parse("a STORE 2 -FLAGS ()\r\n", imap_parse_store) == IMAP_OK &&
	    args.store.mode == IMAP_STORE_REMOVE && args.store.flags.sys == 0, "empty list");
	CHECK(parse("a STORE 2 FLAGS (\\Recent)\r\n", imap_parse_store) == IMAP_BAD, "\\Recent");
	CHECK(parse("a STORE 2 FLAGS (\\Foo)\r\n", imap_parse_store) == IMAP_BAD, "unknown \\flag");
	CHECK(parse("a STORE 2 LABELS (x)\r\n", imap_parse_store) == IMAP_BAD, "not FLAGS");
	CHECK(parse("a STORE 2 FLAGS (a b\r\n", imap_parse_store) == IMAP_BAD, "unclosed");
	CHECK(parse("a STORE 2 FLAGS (\"x\")\r\n", imap_parse_store) == IMAP_BAD,
	    "a keyword is an atom, not a string");
	CHECK(parse("a SEARCH KEYWORD {1}\r\nx\r\n", imap_parse_search) == IMAP_BAD,
	    "KEYWORD takes an atom");
}

static void
test_search(void)
{
	const struct imap_skey *k;
	char *deep;
	size_t i;

	CHECK(parse("a SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR FROM alice NOT (SEEN UNDELETED) "
	    "HEADER x-spam {3}\r\nyes 2:4\r\n", imap_parse_search) == IMAP_OK, "SEARCH (%s)",
	    err.text);
	CHECK(args.search.esearch && args.search.ret == (IMAP_RET_MIN | IMAP_RET_COUNT),
	    "RETURN options");
	k = args.search.key;
	CHECK(k->kind == IMAP_SK_AND && k->a->kind == IMAP_SK_OR && k->a->next->kind ==
	    IMAP_SK_HEADER && k->a->next->next->kind == IMAP_SK_SEQ && k->a->next->next->next ==
	    NULL, "top level AND of three");
	CHECK(k->a->a->kind == IMAP_SK_HEADER && str_is(k->a->a->field, "FROM") &&
	    str_is(k->a->a->str, "alice") && k->a->b->kind == IMAP_SK_NOT &&
	    k->a->b->a->kind == IMAP_SK_AND && k->a->b->a->a->kind == IMAP_SK_FLAG &&
	    k->a->b->a->a->next->kind == IMAP_SK_UNFLAG, "OR FROM / NOT (SEEN UNDELETED)");
	CHECK(str_is(k->a->next->field, "X-SPAM") && str_is(k->a->next->str, "yes"),
	    "HEADER with a literal");
	CHECK(parse("a SEARCH SINCE 1-Feb-2024 BEFORE \"29-Feb-2024\" LARGER 10 YOUNGER 60 "
	    "KEYWORD $Junk UID 1:*\r\n", imap_parse_search) == IMAP_OK, "dates and numbers");
	k = args.search.key->a;
	CHECK(k->kind == IMAP_SK_SINCE && k->day == 19754 && k->next->day == 19754 + 28 &&
	    k->next->next->num == 10 && k->next->next->next->kind == IMAP_SK_YOUNGER &&
	    str_is(k->next->next->next->next->str, "$Junk") &&
	    k->next->next->next->next->next->kind == IMAP_SK_UID, "values");
	CHECK(!args.search.esearch, "plain SEARCH");
	CHECK(parse("a SEARCH RETURN () ALL\r\n", imap_parse_search) == IMAP_OK &&
	    args.search.ret == IMAP_RET_ALL, "RETURN () means ALL");
	CHECK(parse("a SEARCH CHARSET KOI8-R ALL\r\n", imap_parse_search) == IMAP_NO &&
	    strstr(err.text, "[BADCHARSET") != NULL, "other charset: %s", err.text);
	CHECK(parse("a SEARCH SINCE 30-Feb-2024\r\n", imap_parse_search) == IMAP_BAD,
	    "no such day: %s", err.text);
	CHECK(parse("a SEARCH FOO\r\n", imap_parse_search) == IMAP_BAD, "unknown key");
	CHECK(parse("a SEARCH\r\n", imap_parse_search) == IMAP_BAD, "no key");
	CHECK(parse("a SEARCH (SEEN\r\n", imap_parse_search) == IMAP_BAD, "unclosed");
	CHECK(parse("a SEARCH OR SEEN\r\n", imap_parse_search) == IMAP_BAD, "OR needs two");
	CHECK(parse("a SEARCH OLDER 0\r\n", imap_parse_search) == IMAP_BAD, "OLDER 0");
	CHECK(parse("a SEARCH RETURN (SAVE) ALL\r\n", imap_parse_search) == IMAP_BAD, "no SAVE");

	deep = malloc(30000);
	memcpy(deep, "a SEARCH ", 9);
	for (i = 0; i < 10000; i++) {
		deep[9 + i] = '(';
		deep[10012 + i] = ')';
	}
	memcpy(deep + 10009, "ALL", 3);
	memcpy(deep + 20012, "\r\n", 3);
	CHECK(parse(deep, imap_parse_search) == IMAP_BAD && strstr(err.text, "nested") != NULL,
	    "10,000 nested parentheses: %s", err.text);
	for (i = 0; i < 5000; i++) {
		memcpy(deep + 9 + 4 * i, "NOT ", 4);
	}
	memcpy(deep + 20009, "ALL\r\n", 6);
	CHECK(parse(deep, imap_parse_search) == IMAP_BAD, "5,000 NOTs");
	free(deep);
}

static void
test_mailbox_args(void)
{
	CHECK(parse("a SELECT inbox\r\n", imap_parse_mailbox) == IMAP_OK &&
	    strcmp(args.mbox, "INBOX") == 0, "INBOX any case");
	CHECK(parse("a SELECT \"Entw&APw-rfe/2024\"\r\n", imap_parse_mailbox) == IMAP_OK &&
	    strcmp(args.mbox, "Entw\xc3\xbcrfe/2024") == 0, "modified UTF-7 decoded");
	CHECK(parse("a CREATE \"../etc\"\r\n", imap_parse_mailbox) == IMAP_NO &&
	    strstr(err.text, "[CANNOT]") != NULL, "dot level refused: %s", err.text);
	CHECK(parse("a CREATE /etc\r\n", imap_parse_mailbox) == IMAP_NO, "absolute refused");
	CHECK(parse("a CREATE \"a\\\\b\"\r\n", imap_parse_mailbox) == IMAP_NO, "backslash");
	client("a CREATE {3}\r\na\0b\r\n", 19);
	CHECK(rd() == IMAP_OK && imap_parse_mailbox(&cmd, 0, &args, &err) == IMAP_NO,
	    "NUL in a literal name refused");
	CHECK(parse("a RENAME Old \"New/Sub\"\r\n", imap_parse_rename) == IMAP_OK &&
	    strcmp(args.mbox, "Old") == 0 && strcmp(args.mbox2, "New/Sub") == 0, "RENAME");
	CHECK(parse("a STATUS Sent (MESSAGES UIDNEXT SIZE)\r\n", imap_parse_status) == IMAP_OK &&
	    args.status == (IMAP_ST_MESSAGES | IMAP_ST_UIDNEXT | IMAP_ST_SIZE), "STATUS items");
	CHECK(parse("a STATUS Sent ()\r\n", imap_parse_status) == IMAP_BAD, "STATUS needs items");
	CHECK(parse("a STATUS Sent (FOO)\r\n", imap_parse_status) == IMAP_BAD, "unknown item");
	client_str("a SELECT \"caf\xc3\xa9\"\r\n");
	CHECK(rd() == IMAP_OK && imap_parse_mailbox(&cmd, 1, &args, &err) == IMAP_OK &&
	    strcmp(args.mbox, "caf\xc3\xa9") == 0, "UTF8=ACCEPT name");
	CHECK(parse("a SELECT \"caf\xc3\xa9\"\r\n", imap_parse_mailbox) == IMAP_NO,
	    "8-bit name without UTF8=ACCEPT");
}

static void
test_list(void)
{
	struct imap_list_args *l = &args.list;

	CHECK(parse("a LIST \"\" *\r\n", imap_parse_list) == IMAP_OK && str_is(l->ref, "") &&
	    l->npat == 1 && str_is(l->pat[0], "*") && !l->extended, "LIST \"\" *");
	CHECK(parse("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" Sent/% &AOQ-*) RETURN "
	    "(CHILDREN STATUS (MESSAGES UNSEEN))\r\n", imap_parse_list) == IMAP_OK,
	    "LIST-EXTENDED (%s)", err.text);
	CHECK(l->extended && l->sel == (IMAP_LSEL_SUBSCRIBED | IMAP_LSEL_RECURSIVE) &&
	    l->ret == (IMAP_LRET_CHILDREN | IMAP_LRET_STATUS) &&
	    l->status == (IMAP_ST_MESSAGES | IMAP_ST_UNSEEN) && l->npat == 3 &&
	    str_is(l->pat[1], "Sent/%") && str_is(l->pat[2], "\xc3\xa4*"), "options and patterns");
	CHECK(parse("a LIST (RECURSIVEMATCH) \"\" *\r\n", imap_parse_list) == IMAP_BAD,
	    "RECURSIVEMATCH alone");
	CHECK(parse("a LIST \"\" % RETURN (SPECIAL-USE)\r\n", imap_parse_list) == IMAP_OK &&
	    l->ret == IMAP_LRET_SPECIALUSE, "RETURN without selection");
	CHECK(parse("a LSUB \"\" (a b)\r\n", imap_parse_list) == IMAP_BAD, "LSUB takes one pattern");
	CHECK(parse("a LSUB \"\" *\r\n", imap_parse_list) == IMAP_OK, "LSUB");
	CHECK(parse("a LIST \"\" &AOQ\r\n", imap_parse_list) == IMAP_OK && l->npat == 1 &&
	    l->pat[0].s == NULL, "broken modified UTF-7: a pattern that matches nothing");
	CHECK(parse("a LIST (RECURSIVEMATCH REMOTE) \"\" \"\"\r\n", imap_parse_list) ==
	    IMAP_BAD, "RECURSIVEMATCH with only REMOTE");
}

static void
test_misc(void)
{
	size_t tlen, alen;

	CHECK(parse("a AUTHENTICATE plain AGZyZWQAc2VjcmV0\r\n", imap_parse_authenticate) ==
	    IMAP_OK && str_is(args.mech, "PLAIN") && str_is(args.ir, "AGZyZWQAc2VjcmV0"),
	    "SASL-IR");
	CHECK(parse("a AUTHENTICATE PLAIN =\r\n", imap_parse_authenticate) == IMAP_OK &&
	    str_is(args.ir, ""), "empty initial response");
	CHECK(parse("a AUTHENTICATE PLAIN\r\n", imap_parse_authenticate) == IMAP_OK &&
	    args.ir.s == NULL, "no initial response");
	CHECK(parse("a AUTHENTICATE PLAIN a b\r\n", imap_parse_authenticate) == IMAP_BAD, "junk");
	CHECK(parse("a ENABLE utf8=accept CONDSTORE\r\n", imap_parse_enable) == IMAP_OK &&
	    args.natoms == 2 && str_is(args.atoms[0], "UTF8=ACCEPT"), "ENABLE");
	CHECK(parse("a ENABLE\r\n", imap_parse_enable) == IMAP_BAD, "ENABLE needs one");
	CHECK(parse("a ID NIL\r\n", imap_parse_id) == IMAP_OK && args.nid == 0, "ID NIL");
	CHECK(parse("a ID (\"name\" \"mutt\" \"os\" NIL)\r\n", imap_parse_id) == IMAP_OK &&
	    args.nid == 4 && str_is(args.id[1], "mutt") && args.id[3].s == NULL, "ID pairs");
	CHECK(parse("a ID (\"name\")\r\n", imap_parse_id) == IMAP_BAD, "ID odd count");
	CHECK(parse("a LOGIN fred secret\r\n", imap_parse_login) == IMAP_OK, "LOGIN atoms");
	/* Only the bytes the command used were ever written: look there (the rest of the
	 * buffers is uninitialised). */
	tlen = cmd.len;
	alen = cmd.used[0];
	imap_cmd_wipe(&cmd);
	CHECK(cmd.len == 0 && (cmd.text == NULL || memmem(cmd.text, tlen, "secret", 6) == NULL) &&
	    memmem(cmd.arena[0], alen, "secret", 6) == NULL, "wiped");
	CHECK(cmd.cap <= IMAP_CMD_FIRST && cmd.arena[1] == NULL, "full-size buffers given back");
}

static void
test_dates(void)
{
	struct imap_time t;

	CHECK(imap_parse_datetime("17-Jul-1996 02:44:25 -0700", 26, &t) == 0 &&
	    t.t == 837596665 && t.zone == -420, "RFC 3501 example date-time");
	CHECK(imap_parse_datetime(" 1-Jan-1970 00:00:00 +0000", 26, &t) == 0 && t.t == 0,
	    "epoch, space-padded day");
	CHECK(imap_parse_datetime("1-Jan-1970 00:00:00 +0000", 25, &t) == 0, "one-digit day");
	CHECK(imap_parse_datetime("29-Feb-2023 00:00:00 +0000", 26, &t) < 0, "not a leap year");
	CHECK(imap_parse_datetime("29-Feb-2000 00:00:00 +0000", 26, &t) == 0, "2000 leaps");
	CHECK(imap_parse_datetime("01-Jan-2024 24:00:00 +0000", 26, &t) < 0, "hour 24");
	CHECK(imap_parse_datetime("01-Foo-2024 10:00:00 +0000", 26, &t) < 0, "month name");
	CHECK(imap_parse_datetime("01-Jan-2024 10:00:00 0000", 25, &t) < 0, "zone sign");
}

/* Deterministic xorshift: the same hostile inputs on every run. */
static uint32_t
rnd(void)
{
	static uint32_t x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/*
 * Mutated real commands through the reader and every grammar: each call ends in a
 * defined answer, within the fixed storage; the sanitizer build catches the rest.
 */
static void
test_mutations(void)
{
	static const char *const seeds[] = {
		"a LOGIN {4}\r\nfred {6+}\r\nsecret\r\n",
		"a UID FETCH 1:*,3 (UID BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.100> BODY[1.2.MIME])\r\n",
		"a SEARCH RETURN (MIN) CHARSET UTF-8 OR FROM {3}\r\nabc NOT (SEEN 2:4) SINCE 1-Feb-2024\r\n",
		"a APPEND INBOX (\\Seen) \" 1-Jan-2024 10:00:00 +0100\" {5}\r\nHello\r\n",
		"a LIST (SUBSCRIBED) \"\" (INBOX &AOQ-*) RETURN (STATUS (MESSAGES))\r\n",
		"a STORE 1 +FLAGS.SILENT (\\Seen $x)\r\nb ID (\"a\" NIL)\r\nc STATUS x (SIZE)\r\n",
	};
	static const char junk[] = "{}()[]<>\"\\ *%+-.:,0123456789\r\n\0~&";
	static imap_grammar_fn *const g[] = {
		imap_parse_none, imap_parse_mailbox, imap_parse_rename, imap_parse_login,
		imap_parse_authenticate, imap_parse_status, imap_parse_list, imap_parse_append,
		imap_parse_copy, imap_parse_set, imap_parse_fetch, imap_parse_store,
		imap_parse_search, imap_parse_enable, imap_parse_id,
	};
	char buf[512];
	size_t i, k, n, bad = 0, ok = 0;
	FILE *f = tmpfile();
	int rc;

	spool_fd = fileno(f);
	for (i = 0; i < 3000; i++) {
		n = strlen(seeds[i % ARRAY_LEN(seeds)]);
		memcpy(buf, seeds[i % ARRAY_LEN(seeds)], n);
		for (k = rnd() % 4 + 1; k > 0; k--) {
			buf[rnd() % n] = junk[rnd() % (sizeof(junk) - 1)];
		}
		client(buf, n);
		while ((rc = rd()) != IMAP_GONE && rc != IMAP_BYE) {
			bad += rc != IMAP_OK && rc != IMAP_BAD && rc != IMAP_NO;
			bad += cmd.len >= IMAP_CMD_MAX;
			for (k = 0; rc == IMAP_OK && k < ARRAY_LEN(g); k++) {
				rc = g[k](&cmd, (int)(i & 1), &args, &err);
				bad += rc != IMAP_OK && rc != IMAP_BAD && rc != IMAP_NO;
				bad += cmd.used[0] > IMAP_ARENA_FIRST || cmd.used[1] > IMAP_ARENA_MAX;
				ok += rc == IMAP_OK;
				rc = IMAP_OK;
			}
		}
	}
	CHECK(bad == 0 && ok > 0, "3000 mutated commands: defined answers (%zu parsed)", ok);
	fclose(f);
	spool_fd = -1;
}

int
main(void)
{
	test_head();
	test_literals();
	test_toolong();
	test_growth();
	test_append();
	test_seqset();
	test_fetch();
	test_store();
	test_search();
	test_mailbox_args();
	test_list();
	test_misc();
	test_dates();
	test_mutations();
	return t_done();
}
