/*
 * IMAP command input: the reader gathers one command (lines and literals) into the
 * caller's fixed imap_cmd, staying in step with the client whatever it sends; the
 * grammars turn its text into structures in the same storage (RFC 3501 section 9,
 * RFC 7888, RFC 4731, RFC 5032, RFC 5258, RFC 2971). Runs in the session, never as root.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_parse.h"
#include "date.h"
#include "imap_reply.h"
#include "mutf7.h"
#include "util.h"

/* Returned by reader steps that want the next line of the same command. */
#define RD_MORE (-1)

/* What the reader inserts after a literal's "}": data follows inline, or went to the spool. */
#define MARK_INLINE '\n'
#define MARK_SPOOL '\0'

struct rd {
	struct io *io;
	struct imap_cmd *cmd;
	const struct imap_read_ops *ops;
	struct imap_err *err;
	int rc;			/* IMAP_OK, or the BAD/NO this command gets once consumed */
	int first;		/* reading the command's first line */
	uint64_t dropped;	/* literal octets read and thrown away */
};

/* ATOM-CHAR: any 7-bit CHAR but CTL, SP and atom-specials ( ) { % * " \ ]. */
static int
atom_char(int ch)
{
	return ch > 0x20 && ch < 0x7f && strchr("(){%*\"\\]", ch) == NULL;
}

static int
astring_char(int ch)
{
	return atom_char(ch) || ch == ']';
}

static int
tag_char(int ch)
{
	return astring_char(ch) && ch != '+';
}

static int
list_char(int ch)
{
	return astring_char(ch) || ch == '%' || ch == '*';
}

static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static void
set_text(struct imap_err *err, const char *text)
{
	if (str_copy(err->text, sizeof(err->text), text) < 0) {
		err->text[sizeof(err->text) - 1] = '\0';
	}
}

/* An I/O failure ends the session: a timeout gets a BYE, the rest silence. */
static int
rd_io(struct rd *r, int io_rc)
{
	r->err->io_rc = io_rc;
	if (io_rc == IO_TIMEOUT) {
		set_text(r->err, "Autologout; idle for too long");
		return IMAP_BYE;
	}
	if (io_rc == IO_TOOLONG) {
		/* Its end was not seen: a {n+} there would make us run its data as commands. */
		set_text(r->err, "Command line too long");
		return IMAP_BYE;
	}
	return IMAP_GONE;
}

/* The first failure of a command decides its answer; later ones only keep us in step. */
static void
rd_fail(struct rd *r, int rc, const char *text)
{
	if (r->rc != IMAP_OK) {
		return;
	}
	r->rc = rc;
	if (text != NULL) {
		set_text(r->err, text);
	} else if (r->err->text[0] == '\0') {
		set_text(r->err, "Refused");
	}
}

/* Read n literal octets into dst, or into nothing when dst is NULL. */
static int
rd_data(struct rd *r, char *dst, uint64_t n)
{
	char junk[1024];
	size_t take;
	int rc;

	while (n > 0) {
		take = n < sizeof(junk) ? (size_t)n : sizeof(junk);
		rc = io_read(r->io, dst != NULL ? dst : junk, take);
		if (rc != IO_OK) {
			return rd_io(r, rc);
		}
		if (dst != NULL) {
			dst += take;
		}
		n -= take;
	}
	return IMAP_OK;
}

/*
 * Refuse a literal: a synchronizing one is never sent (the client gives the command up
 * on our answer, so the command ends here); a non-synchronizing one comes anyway and is
 * read and dropped, then the command's next line follows.
 */
static int
rd_refuse(struct rd *r, uint64_t size, int nonsync, int rc, const char *text)
{
	int io_rc;

	rd_fail(r, rc, text);
	if (!nonsync) {
		return r->rc;
	}
	if (size > IMAP_DISCARD_MAX - r->dropped) {
		set_text(r->err, "Literal too large to skip");
		return IMAP_BYE;
	}
	r->dropped += size;
	io_rc = rd_data(r, NULL, size);
	return io_rc == IMAP_OK ? RD_MORE : io_rc;
}

static int
rd_continue(struct rd *r)
{
	static const char go[] = "+ Ready for literal data\r\n";

	io_write(r->io, go, sizeof(go) - 1);
	return io_flush(r->io) == 0 ? IMAP_OK : rd_io(r, IO_ERR);
}

/* Copy an APPEND message literal to the session's spool. */
static int
rd_spool(struct rd *r, uint64_t size, int nonsync)
{
	struct imap_cmd *c = r->cmd;
	struct imap_spool *sp;
	char buf[4096];
	size_t take;
	int fd, rc, wfail = 0;

	if (c->nspool == IMAP_SPOOL_MAX) {
		return rd_refuse(r, size, nonsync, IMAP_BAD, "One message per APPEND");
	}
	if (size > UINT32_MAX) {
		return rd_refuse(r, size, nonsync, IMAP_NO, "[TOOBIG] Message too large");
	}
	fd = r->ops->spool(r->ops->ctx, (uint32_t)size, r->err);
	if (fd < 0) {
		return rd_refuse(r, size, nonsync, IMAP_NO, NULL);
	}
	sp = &c->spool[c->nspool++];
	sp->fd = fd;
	sp->off = lseek(fd, 0, SEEK_CUR);
	sp->size = (uint32_t)size;
	if (!nonsync && (rc = rd_continue(r)) != IMAP_OK) {
		return rc;
	}
	while (size > 0) {
		take = size < sizeof(buf) ? (size_t)size : sizeof(buf);
		if ((rc = io_read(r->io, buf, take)) != IO_OK) {
			return rd_io(r, rc);
		}
		/* After a failed write keep reading: the client's data must all be consumed. */
		if (wfail == 0 && write_all(fd, buf, take) < 0) {
			wfail = errno != 0 ? errno : EIO;
		}
		size -= take;
	}
	if (wfail != 0) {
		rd_fail(r, IMAP_NO, imap_write_text(wfail, "[SERVERBUG] Cannot spool the message"));
	}
	c->text[c->len++] = MARK_SPOOL;
	return RD_MORE;
}

/*
 * Room for need bytes of text (need <= IMAP_CMD_MAX): a command outgrowing IMAP_CMD_FIRST
 * moves to a buffer of the full size. The old one is wiped: it may hold a password.
 */
static int
cmd_room(struct imap_cmd *c, size_t need)
{
	size_t cap = need <= IMAP_CMD_FIRST ? IMAP_CMD_FIRST : IMAP_CMD_MAX;
	char *t;

	if (need <= c->cap) {
		return 0;
	}
	if (need > IMAP_CMD_MAX || (t = malloc(cap)) == NULL) {
		return -1;
	}
	if (c->text != NULL) {
		memcpy(t, c->text, c->cap);
		wipe(c->text, c->cap);
		free(c->text);
	}
	c->text = t;
	c->cap = cap;
	return 0;
}

static int
rd_inline(struct rd *r, uint64_t size, int nonsync)
{
	struct imap_cmd *c = r->cmd;
	int rc;

	if (size > IMAP_CMD_MAX - c->len - 2 || cmd_room(c, c->len + 2 + (size_t)size) < 0) {
		return rd_refuse(r, size, nonsync, IMAP_BAD,
		    "[TOOBIG] Literal does not fit in a command");
	}
	if (!nonsync && (rc = rd_continue(r)) != IMAP_OK) {
		return rc;
	}
	c->text[c->len++] = MARK_INLINE;
	if ((rc = rd_data(r, c->text + c->len, size)) != IMAP_OK) {
		return rc;
	}
	c->len += (size_t)size;
	return RD_MORE;
}

/*
 * A line ending in "{n}" or "{n+}" announces a literal: 1 with *brace at the "{", else 0.
 * A number too large for 64 bits reads as UINT64_MAX (refused like any oversize).
 */
static int
rd_announce(const char *line, size_t n, uint64_t *size, int *nonsync, size_t *brace)
{
	size_t i, end;

	if (n < 3 || line[n - 1] != '}') {
		return 0;
	}
	end = n - 1;
	*nonsync = line[end - 1] == '+';
	end -= (size_t)*nonsync;
	for (i = end; i > 0 && is_digit(line[i - 1]); i--) {
		continue;
	}
	if (i == end || i == 0 || line[i - 1] != '{') {
		return 0;
	}
	*brace = i - 1;
	if (parse_u64(line + i, end - i, UINT64_MAX, size) < 0) {
		*size = UINT64_MAX;
	}
	return 1;
}

/* An APPEND literal is its message unless it stands where the mailbox name goes. */
static int
rd_is_message(const struct rd *r, size_t brace)
{
	return strcmp(r->cmd->verb, "APPEND") == 0 && !(r->first && brace == r->cmd->args + 1);
}

/* Upper-case atom at text[*i] into dst (cap bytes): 0, or -1 if empty or too long. */
static int
rd_word(const struct imap_cmd *c, size_t *i, char *dst, size_t cap)
{
	size_t n = 0;

	while (*i < c->len && atom_char(c->text[*i])) {
		if (n + 1 >= cap) {
			return -1;
		}
		dst[n++] = (char)(c->text[*i] >= 'a' && c->text[*i] <= 'z' ?
		    c->text[*i] - 32 : c->text[*i]);
		(*i)++;
	}
	dst[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* tag SP verb, or tag SP "UID" SP verb, from the first line. */
static int
rd_head(struct imap_cmd *c, struct imap_err *err)
{
	size_t i = 0;

	while (i < c->len && tag_char(c->text[i])) {
		i++;
	}
	if (i == 0 || i > IMAP_TAG_MAX || i == c->len || c->text[i] != ' ') {
		set_text(err, i == 0 && c->len == 0 ? "Empty command line" : "Invalid tag");
		return IMAP_BAD;
	}
	memcpy(c->tag, c->text, i);
	c->tag[i++] = '\0';
	if (rd_word(c, &i, c->verb, sizeof(c->verb)) < 0) {
		set_text(err, "Missing or unknown command");
		return IMAP_BAD;
	}
	if (strcmp(c->verb, "UID") == 0) {
		c->uid = 1;
		if (i == c->len || c->text[i++] != ' ' ||
		    rd_word(c, &i, c->verb, sizeof(c->verb)) < 0) {
			set_text(err, "Missing or unknown command after UID");
			return IMAP_BAD;
		}
	}
	c->args = i;
	return IMAP_OK;
}

/* The rest of a line past IMAP_CMD_MAX is read (in step for the BYE), not kept: IO_TOOLONG. */
static int
rd_skip_line(struct rd *r)
{
	char junk[256];
	size_t k;
	int rc;

	while ((rc = io_getpart(r->io, junk, sizeof(junk), &k)) == IO_MORE) {
	}
	wipe(junk, sizeof(junk));
	return rc == IO_OK ? IO_TOOLONG : rc;
}

/* One line of the command: IMAP_OK at its end, RD_MORE if a literal was taken, or final. */
static int
rd_line(struct rd *r)
{
	struct imap_cmd *c = r->cmd;
	size_t start, n, k, brace;
	uint64_t size;
	int rc, nonsync;

	/* Once the answer is decided, later lines are only scanned for literals. */
	start = r->rc == IMAP_OK ? c->len : 0;
	n = 0;
	rc = cmd_room(c, start + 1) < 0 ? IO_TOOLONG : IO_MORE;
	while (rc == IO_MORE) {
		rc = io_getpart(r->io, c->text + start + n, c->cap - 1 - start - n, &k);
		n += k;
		if (rc == IO_MORE && cmd_room(c, start + n + 2) < 0) {
			rc = rd_skip_line(r);
		}
	}
	if (rc != IO_OK) {
		return rd_io(r, rc);
	}
	if (n > 0 && c->text[start + n - 1] == '\r') {
		n--;
	}
	c->text[start + n] = '\0';
	c->len = start + n;
	if (r->first && (rc = rd_head(c, r->err)) != IMAP_OK) {
		rd_fail(r, rc, NULL);
	}
	if (memchr(c->text + start, '\0', n) != NULL) {
		rd_fail(r, IMAP_BAD, "NUL in command");
	}
	if (!rd_announce(c->text + start, n, &size, &nonsync, &brace)) {
		return r->rc;
	}
	if (r->rc != IMAP_OK) {
		return rd_refuse(r, size, nonsync, r->rc, NULL);
	}
	if (nonsync && size > r->ops->nonsync_max) {
		return rd_refuse(r, size, nonsync, IMAP_BAD,
		    "[TOOBIG] Non-synchronizing literal too large");
	}
	if (IMAP_CMD_MAX - c->len < 2 || cmd_room(c, c->len + 2) < 0) {
		return rd_refuse(r, size, nonsync, IMAP_BAD, "[TOOBIG] Command too long");
	}
	if (rd_is_message(r, start + brace)) {
		return rd_spool(r, size, nonsync);
	}
	return rd_inline(r, size, nonsync);
}

int
imap_read_command(struct io *io, struct imap_cmd *cmd, const struct imap_read_ops *ops,
    struct imap_err *err)
{
	struct rd r = { io, cmd, ops, err, IMAP_OK, 1, 0 };
	int rc;

	cmd->tag[0] = '\0';
	cmd->verb[0] = '\0';
	cmd->uid = 0;
	cmd->len = cmd->args = cmd->pos = cmd->used[0] = cmd->used[1] = 0;
	cmd->nspool = cmd->nspool_used = 0;
	err->io_rc = IO_OK;
	err->text[0] = '\0';
	while ((rc = rd_line(&r)) == RD_MORE) {
		r.first = 0;
	}
	return rc;
}

void
imap_cmd_wipe(struct imap_cmd *cmd)
{
	int k;

	if (cmd->text != NULL) {
		wipe(cmd->text, cmd->len);
	}
	if (cmd->cap > IMAP_CMD_FIRST) {
		free(cmd->text);
		cmd->text = NULL;
		cmd->cap = 0;
	}
	for (k = 0; k < 2; k++) {
		if (cmd->arena[k] != NULL) {
			wipe(cmd->arena[k], cmd->used[k]);
		}
		cmd->used[k] = 0;
	}
	free(cmd->arena[1]);
	cmd->arena[1] = NULL;
	cmd->len = 0;
}

void
imap_cmd_free(struct imap_cmd *cmd)
{
	imap_cmd_wipe(cmd);
	free(cmd->text);
	free(cmd->arena[0]);
	cmd->text = NULL;
	cmd->arena[0] = NULL;
	cmd->cap = 0;
}

/* ---- Grammar primitives: each reports its own error and returns an IMAP_* code. ---- */

static int
p_peek(const struct imap_cmd *c)
{
	return c->pos < c->len ? (unsigned char)c->text[c->pos] : -1;
}

/* BAD with what was expected and a printable glimpse of where. */
static int
p_bad(const struct imap_cmd *c, struct imap_err *err, const char *what)
{
	char near[24];
	size_t i, n = 0;

	for (i = c->pos; i < c->len && n < 20; i++) {
		unsigned char ch = (unsigned char)c->text[i];

		if (ch == MARK_INLINE || ch == MARK_SPOOL) {
			break;
		}
		near[n++] = ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '?';
	}
	near[n] = '\0';
	if (c->pos >= c->len) {
		(void)str_fmt(err->text, sizeof(err->text), "Expected %s at end of command", what);
	} else {
		(void)str_fmt(err->text, sizeof(err->text), "Expected %s at \"%s\"", what, near);
	}
	return IMAP_BAD;
}

/* n bytes of the arena, 16-aligned; a value never moves (others point into it). */
static void *
p_alloc(struct imap_cmd *c, size_t n)
{
	static const size_t cap[2] = { IMAP_ARENA_FIRST, IMAP_ARENA_MAX };
	int k = c->arena[1] != NULL;
	size_t at = (c->used[k] + 15) & ~(size_t)15;

	if (at > cap[k] || n > cap[k] - at) {
		if (k == 1 || n > cap[1]) {
			return NULL;
		}
		k = 1;
		at = 0;
	}
	if (c->arena[k] == NULL && (c->arena[k] = malloc(cap[k])) == NULL) {
		return NULL;
	}
	c->used[k] = at + n;
	return c->arena[k] + at;
}

static int
p_toobig(struct imap_err *err)
{
	set_text(err, "Command too complex");
	return IMAP_BAD;
}

/* Copy n bytes into the arena as a NUL-terminated string. */
static int
p_dup(struct imap_cmd *c, const char *s, size_t n, struct imap_str *out, struct imap_err *err)
{
	char *d = p_alloc(c, n + 1);

	if (d == NULL) {
		return p_toobig(err);
	}
	memcpy(d, s, n);
	d[n] = '\0';
	out->s = d;
	out->len = n;
	return IMAP_OK;
}

/* Copy a filled local array (n items of size sz) into the arena; NULL when it is full. */
static void *
p_keep(struct imap_cmd *c, const void *items, size_t n, size_t sz)
{
	void *d = p_alloc(c, n * sz);

	if (d != NULL && n > 0) {
		memcpy(d, items, n * sz);
	}
	return d;
}

static int
p_char(struct imap_cmd *c, int ch, struct imap_err *err, const char *what)
{
	if (p_peek(c) != ch) {
		return p_bad(c, err, what);
	}
	c->pos++;
	return IMAP_OK;
}

static int
p_sp(struct imap_cmd *c, struct imap_err *err)
{
	return p_char(c, ' ', err, "SP");
}

static int
p_end(struct imap_cmd *c, struct imap_err *err)
{
	return c->pos == c->len ? IMAP_OK : p_bad(c, err, "end of command");
}

/* Consume word (any case) if it is next, followed by SP, "(", ")" or the end. */
static int
p_kw(struct imap_cmd *c, const char *word)
{
	size_t n = strlen(word);
	int after;

	if (c->len - c->pos < n || !str_ieq_n(c->text + c->pos, word, n)) {
		return 0;
	}
	after = c->pos + n < c->len ? c->text[c->pos + n] : -1;
	if (after != -1 && after != ' ' && after != '(' && after != ')') {
		return 0;
	}
	c->pos += n;
	return 1;
}

/* Upper-cased run of chars accepted by ok (and not in stop) into dst; its length or -1. */
static int
p_word(struct imap_cmd *c, int (*ok)(int), const char *stop, char *dst, size_t cap)
{
	size_t n = 0;
	int ch;

	while ((ch = p_peek(c)) != -1 && ok(ch) && strchr(stop, ch) == NULL) {
		if (n + 1 >= cap) {
			return -1;
		}
		dst[n++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
		c->pos++;
	}
	dst[n] = '\0';
	return n > 0 ? (int)n : -1;
}

static int
p_number(struct imap_cmd *c, uint32_t *v, struct imap_err *err)
{
	size_t start = c->pos;

	while (is_digit(p_peek(c))) {
		c->pos++;
	}
	if (parse_u32(c->text + start, c->pos - start, UINT32_MAX, v) < 0) {
		c->pos = start;
		return p_bad(c, err, "number");
	}
	return IMAP_OK;
}

static int
p_nz_number(struct imap_cmd *c, uint32_t *v, struct imap_err *err)
{
	size_t start = c->pos;
	int rc = p_number(c, v, err);

	if (rc == IMAP_OK && *v == 0) {
		c->pos = start;
		return p_bad(c, err, "non-zero number");
	}
	return rc;
}

static int
p_quoted(struct imap_cmd *c, struct imap_str *out, struct imap_err *err)
{
	size_t i, n = 0, start = c->pos;
	char *d;

	for (i = c->pos + 1; i < c->len && c->text[i] != '"'; i++, n++) {
		if (c->text[i] == '\\') {
			i++;
			if (i == c->len || (c->text[i] != '"' && c->text[i] != '\\')) {
				break;
			}
		} else if (c->text[i] == '\r' || c->text[i] == '\n' || c->text[i] == '\0') {
			break;
		}
	}
	if (i >= c->len || c->text[i] != '"') {
		c->pos = i < c->len ? i : start;
		return p_bad(c, err, "closing quote");
	}
	if ((d = p_alloc(c, n + 1)) == NULL) {
		return p_toobig(err);
	}
	out->s = d;
	out->len = n;
	for (i = start + 1; c->text[i] != '"'; i++) {
		i += c->text[i] == '\\';
		*d++ = c->text[i];
	}
	*d = '\0';
	c->pos = i + 1;
	return IMAP_OK;
}

/* "{" number ["+"] "}" and the reader's mark: *mark tells where the data is. */
static int
p_literal_head(struct imap_cmd *c, uint32_t *size, int *mark, struct imap_err *err)
{
	size_t start = c->pos, i = c->pos + 1;

	while (i < c->len && is_digit(c->text[i])) {
		i++;
	}
	if (parse_u32(c->text + start + 1, i - start - 1, UINT32_MAX, size) < 0) {
		return p_bad(c, err, "literal");
	}
	i += i < c->len && c->text[i] == '+';
	if (i + 1 >= c->len || c->text[i] != '}' ||
	    (c->text[i + 1] != MARK_INLINE && c->text[i + 1] != MARK_SPOOL)) {
		return p_bad(c, err, "literal at the end of a line");
	}
	*mark = c->text[i + 1];
	c->pos = i + 2;
	return IMAP_OK;
}

static int
p_literal(struct imap_cmd *c, struct imap_str *out, struct imap_err *err)
{
	uint32_t size;
	int mark, rc;

	if ((rc = p_literal_head(c, &size, &mark, err)) != IMAP_OK) {
		return rc;
	}
	if (mark != MARK_INLINE || size > c->len - c->pos) {
		return p_bad(c, err, "string");
	}
	rc = p_dup(c, c->text + c->pos, size, out, err);
	c->pos += size;
	return rc;
}

static int
p_string(struct imap_cmd *c, struct imap_str *out, struct imap_err *err)
{
	if (p_peek(c) == '"') {
		return p_quoted(c, out, err);
	}
	if (p_peek(c) == '{') {
		return p_literal(c, out, err);
	}
	return p_bad(c, err, "string");
}

/* A non-empty run of chars accepted by ok (an atom and its relatives). */
static int
p_run(struct imap_cmd *c, int (*ok)(int), struct imap_str *out, struct imap_err *err,
    const char *what)
{
	size_t start = c->pos;

	while (p_peek(c) != -1 && ok(p_peek(c))) {
		c->pos++;
	}
	if (c->pos == start) {
		return p_bad(c, err, what);
	}
	return p_dup(c, c->text + start, c->pos - start, out, err);
}

/* A run of chars accepted by ok, or a string. */
static int
p_xstring(struct imap_cmd *c, int (*ok)(int), struct imap_str *out, struct imap_err *err,
    const char *what)
{
	if (p_peek(c) == '"' || p_peek(c) == '{') {
		return p_string(c, out, err);
	}
	return p_run(c, ok, out, err, what);
}

/* Step over the SP before another list element: 1 if there was one. */
static int
p_more(struct imap_cmd *c)
{
	if (p_peek(c) != ' ') {
		return 0;
	}
	c->pos++;
	return 1;
}

static int
p_astring(struct imap_cmd *c, struct imap_str *out, struct imap_err *err)
{
	return p_xstring(c, astring_char, out, err, "astring");
}

static int
p_nstring(struct imap_cmd *c, struct imap_str *out, struct imap_err *err)
{
	if (p_kw(c, "NIL")) {
		out->s = NULL;
		out->len = 0;
		return IMAP_OK;
	}
	return p_string(c, out, err);
}

/* Upper-case an arena string in place (names compared case-insensitively). */
static void
upcase(struct imap_str *s)
{
	char *p = (char *)s->s;
	size_t i;

	for (i = 0; i < s->len; i++) {
		p[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
	}
}

/* An atom copied upper-cased (capability and mechanism names). */
static int
p_atom_upper(struct imap_cmd *c, struct imap_str *out, struct imap_err *err)
{
	int rc = p_run(c, atom_char, out, err, "atom");

	if (rc == IMAP_OK) {
		upcase(out);
	}
	return rc;
}

/* A mailbox name: decoded, checked, INBOX made canonical. */
static int
p_mailbox(struct imap_cmd *c, int utf8, const char **out, struct imap_err *err)
{
	struct imap_str raw;
	const char *why = "bad name";
	char *name;
	int rc;

	if ((rc = p_astring(c, &raw, err)) != IMAP_OK) {
		return rc;
	}
	if ((name = p_alloc(c, IMAP_MAILBOX_MAX + 1)) == NULL) {
		return p_toobig(err);
	}
	if (memchr(raw.s, '\0', raw.len) != NULL ||
	    mutf7_mailbox(raw.s, raw.len, utf8, name, IMAP_MAILBOX_MAX + 1, &why) < 0) {
		(void)str_fmt(err->text, sizeof(err->text), "[CANNOT] Invalid mailbox name: %s", why);
		return IMAP_NO;
	}
	*out = name;
	return IMAP_OK;
}

/*
 * A LIST reference or pattern: decoded to UTF-8, wildcards kept, not otherwise checked;
 * s is NULL for one that is not modified UTF-7 (it names nothing).
 */
static int
p_list_name(struct imap_cmd *c, int utf8, int (*ok)(int), struct imap_str *out,
    struct imap_err *err)
{
	struct imap_str raw;
	char *name;
	size_t cap;
	int rc;

	if ((rc = p_xstring(c, ok, &raw, err, "mailbox pattern")) != IMAP_OK) {
		return rc;
	}
	if (utf8) {
		if (!mutf7_utf8_valid(raw.s, raw.len) || memchr(raw.s, '\0', raw.len) != NULL) {
			set_text(err, "Mailbox pattern is not UTF-8");
			return IMAP_BAD;
		}
		*out = raw;
		return IMAP_OK;
	}
	/* Modified UTF-7 never grows more than 3/2 when decoded (two bytes of base64 -> three). */
	cap = raw.len * 2 + 1;
	if ((name = p_alloc(c, cap)) == NULL) {
		return p_toobig(err);
	}
	if (mutf7_decode(raw.s, raw.len, name, cap) < 0) {
		/* no mailbox name encodes to it: valid syntax that matches nothing */
		out->s = NULL;
		out->len = 0;
		return IMAP_OK;
	}
	out->s = name;
	out->len = strlen(name);
	return IMAP_OK;
}

/* "*" or nz-number. */
static int
p_seqnum(struct imap_cmd *c, uint32_t *v, struct imap_err *err)
{
	if (p_peek(c) == '*') {
		c->pos++;
		*v = IMAP_STAR;
		return IMAP_OK;
	}
	return p_nz_number(c, v, err);
}

static int
p_seqset(struct imap_cmd *c, struct imap_seqset *out, struct imap_err *err)
{
	struct imap_range *r;
	size_t i, n = 1;
	int rc;

	for (i = c->pos; i < c->len && c->text[i] != '\0' && strchr("0123456789:,*",
	    c->text[i]) != NULL; i++) {
		n += c->text[i] == ',';
	}
	if (i == c->pos) {
		return p_bad(c, err, "sequence set");
	}
	if ((r = p_alloc(c, n * sizeof(*r))) == NULL) {
		return p_toobig(err);
	}
	out->r = r;
	out->n = n;
	for (i = 0; i < n; i++) {
		if (i > 0 && (rc = p_char(c, ',', err, "\",\"")) != IMAP_OK) {
			return rc;
		}
		if ((rc = p_seqnum(c, &r[i].lo, err)) != IMAP_OK) {
			return rc;
		}
		r[i].hi = r[i].lo;
		if (p_peek(c) == ':') {
			c->pos++;
			if ((rc = p_seqnum(c, &r[i].hi, err)) != IMAP_OK) {
				return rc;
			}
		}
	}
	return IMAP_OK;
}

/* Exactly n digits at s as an int; -1 if any is not a digit. */
static int
digits(const char *s, size_t n)
{
	int v = 0;

	while (n-- > 0) {
		if (!is_digit(*s)) {
			return -1;
		}
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

/* d-Mon-yyyy (day one or two digits) at s: consumed length, or 0. */
static size_t
date_text(const char *s, size_t len, int64_t *day)
{
	size_t dl = len > 1 && is_digit(s[1]) ? 2 : 1;
	int d, m, y;

	if (len < dl + 9 || s[dl] != '-' || s[dl + 4] != '-') {
		return 0;
	}
	d = digits(s, dl);
	m = date_month(s + dl + 1);
	y = digits(s + dl + 5, 4);
	if (d < 0 || m < 0 || y < 0) {
		return 0;
	}
	*day = date_days(y, (unsigned)m + 1, (unsigned)d);
	return *day == INT64_MIN ? 0 : dl + 9;
}

int
imap_parse_datetime(const char *s, size_t len, struct imap_time *out)
{
	int64_t day;
	size_t n;
	int hh, mm, ss, zh, zm;

	/* date-day-fixed may be SP DIGIT. */
	if (len > 0 && s[0] == ' ') {
		s++;
		len--;
	}
	n = date_text(s, len, &day);
	if (n == 0 || len != n + 15 || s[n] != ' ' || s[n + 3] != ':' || s[n + 6] != ':' ||
	    s[n + 9] != ' ' || (s[n + 10] != '+' && s[n + 10] != '-')) {
		return -1;
	}
	hh = digits(s + n + 1, 2);
	mm = digits(s + n + 4, 2);
	ss = digits(s + n + 7, 2);
	zh = digits(s + n + 11, 2);
	zm = digits(s + n + 13, 2);
	if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 || zh < 0 || zm < 0 ||
	    zm > 59) {
		return -1;
	}
	out->zone = (s[n + 10] == '-' ? -1 : 1) * (zh * 60 + zm);
	out->t = day * 86400 + hh * 3600 + mm * 60 + ss - (int64_t)out->zone * 60;
	return 0;
}

/* date = date-text / DQUOTE date-text DQUOTE */
static int
p_date(struct imap_cmd *c, int64_t *day, struct imap_err *err)
{
	int q = p_peek(c) == '"';
	size_t n = date_text(c->text + c->pos + q, c->len - c->pos - q, day);

	if (n == 0 || (q && (c->pos + 1 + n >= c->len || c->text[c->pos + 1 + n] != '"'))) {
		return p_bad(c, err, "date (d-Mon-yyyy)");
	}
	c->pos += n + 2 * (size_t)q;
	return IMAP_OK;
}

/* ---- Flags ---- */

/* System flags, named without their backslash. */
static const struct {
	const char *name;
	uint32_t bit;
} sys_flags[] = {
	{ "Seen", STORE_SEEN }, { "Answered", STORE_ANSWERED }, { "Flagged", STORE_FLAGGED },
	{ "Deleted", STORE_DELETED }, { "Draft", STORE_DRAFT }, { "Recent", IMAP_F_RECENT },
};

/* One flag: "\" and a system flag name into f->sys, or a keyword atom appended to kw. */
static int
p_flag(struct imap_cmd *c, struct imap_flags *f, struct imap_str *kw, struct imap_err *err)
{
	struct imap_str s;
	size_t start = c->pos, i;
	int sys = p_peek(c) == '\\', rc;

	c->pos += (size_t)sys;
	if ((rc = p_run(c, atom_char, &s, err, "flag")) != IMAP_OK) {
		return rc;
	}
	if (!sys) {
		if (f->nkw == IMAP_FLAGS_MAX) {
			set_text(err, "Too many keywords");
			return IMAP_BAD;
		}
		kw[f->nkw++] = s;
		return IMAP_OK;
	}
	for (i = 0; i < ARRAY_LEN(sys_flags); i++) {
		if (str_ieq(sys_flags[i].name, s.s)) {
			f->sys |= sys_flags[i].bit;
			return IMAP_OK;
		}
	}
	c->pos = start;
	return p_bad(c, err, "system flag");
}

/* flag-list, or with bare set (STORE) also flags separated by SP without parentheses. */
static int
p_flags(struct imap_cmd *c, int bare, struct imap_flags *f, struct imap_err *err)
{
	struct imap_str kw[IMAP_FLAGS_MAX];
	int paren = p_peek(c) == '(', rc;
	size_t n = 0;

	memset(f, 0, sizeof(*f));
	if (!paren && !bare) {
		return p_bad(c, err, "flag list");
	}
	c->pos += (size_t)paren;
	while (paren ? p_peek(c) != ')' : c->pos < c->len) {
		if (n++ > 0 && (rc = p_sp(c, err)) != IMAP_OK) {
			return rc;
		}
		if ((rc = p_flag(c, f, kw, err)) != IMAP_OK) {
			return rc;
		}
	}
	c->pos += (size_t)paren;
	if (f->sys & IMAP_F_RECENT) {
		set_text(err, "\\Recent cannot be set");
		return IMAP_BAD;
	}
	if ((f->kw = p_keep(c, kw, f->nkw, sizeof(kw[0]))) == NULL) {
		return p_toobig(err);
	}
	return IMAP_OK;
}

/* ---- Command grammars ---- */

int
imap_parse_none(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	(void)utf8;
	memset(a, 0, sizeof(*a));
	c->pos = c->args;
	return p_end(c, err);
}

/* Reset a and position at the first argument (after its SP). */
static int
p_start(struct imap_cmd *c, struct imap_args *a, struct imap_err *err)
{
	memset(a, 0, sizeof(*a));
	c->pos = c->args;
	return p_sp(c, err);
}

int
imap_parse_mailbox(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	int rc;

	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_mailbox(c, utf8, &a->mbox, err)) != IMAP_OK) {
		return rc;
	}
	return p_end(c, err);
}

int
imap_parse_rename(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	int rc;

	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_mailbox(c, utf8, &a->mbox, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK ||
	    (rc = p_mailbox(c, utf8, &a->mbox2, err)) != IMAP_OK) {
		return rc;
	}
	return p_end(c, err);
}

int
imap_parse_login(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	int rc;

	(void)utf8;
	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_astring(c, &a->user, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK ||
	    (rc = p_astring(c, &a->pass, err)) != IMAP_OK ||
	    (rc = p_end(c, err)) != IMAP_OK) {
		return rc;
	}
	/* A literal may hold NUL: "alice\0bob" must not become the C string "alice". */
	if (memchr(a->user.s, '\0', a->user.len) != NULL ||
	    memchr(a->pass.s, '\0', a->pass.len) != NULL) {
		(void)str_copy(err->text, sizeof(err->text), "NUL in user name or password");
		return IMAP_BAD;
	}
	return IMAP_OK;
}

static int
base64_char(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || is_digit(ch) ||
	    ch == '+' || ch == '/' || ch == '=';
}

int
imap_parse_authenticate(struct imap_cmd *c, int utf8, struct imap_args *a,
    struct imap_err *err)
{
	size_t start;
	int rc;

	(void)utf8;
	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_atom_upper(c, &a->mech, err)) != IMAP_OK) {
		return rc;
	}
	if (c->pos == c->len) {
		return IMAP_OK;
	}
	if ((rc = p_sp(c, err)) != IMAP_OK) {
		return rc;
	}
	start = c->pos;
	while (base64_char(p_peek(c))) {
		c->pos++;
	}
	if (c->pos == start || (rc = p_end(c, err)) != IMAP_OK) {
		return c->pos == start ? p_bad(c, err, "base64 initial response") : rc;
	}
	/* "=" alone is an empty initial response (RFC 4959). */
	if (c->pos - start == 1 && c->text[start] == '=') {
		return p_dup(c, "", 0, &a->ir, err);
	}
	return p_dup(c, c->text + start, c->pos - start, &a->ir, err);
}

static const struct {
	const char *name;
	unsigned bit;
} status_items[] = {
	{ "MESSAGES", IMAP_ST_MESSAGES }, { "RECENT", IMAP_ST_RECENT },
	{ "UIDNEXT", IMAP_ST_UIDNEXT }, { "UIDVALIDITY", IMAP_ST_UIDVALIDITY },
	{ "UNSEEN", IMAP_ST_UNSEEN }, { "SIZE", IMAP_ST_SIZE },
};

/* "(" item *(SP item) ")" of STATUS. */
static int
p_status_items(struct imap_cmd *c, unsigned *items, struct imap_err *err)
{
	size_t i;
	int rc;

	if ((rc = p_char(c, '(', err, "\"(\"")) != IMAP_OK) {
		return rc;
	}
	*items = 0;
	do {
		for (i = 0; i < ARRAY_LEN(status_items) && !p_kw(c, status_items[i].name); i++) {
			continue;
		}
		if (i == ARRAY_LEN(status_items)) {
			return p_bad(c, err, "status item");
		}
		*items |= status_items[i].bit;
	} while (p_more(c));
	return p_char(c, ')', err, "\")\"");
}

int
imap_parse_status(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	int rc;

	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_mailbox(c, utf8, &a->mbox, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK ||
	    (rc = p_status_items(c, &a->status, err)) != IMAP_OK) {
		return rc;
	}
	return p_end(c, err);
}

/* Option words of a LIST-EXTENDED list: "(" [word *(SP word)] ")" into a bit set. */
static int
p_list_opts(struct imap_cmd *c, int ret, struct imap_list_args *l, struct imap_err *err)
{
	static const char *const sel[] = { "SUBSCRIBED", "REMOTE", "RECURSIVEMATCH",
	    "SPECIAL-USE" };
	static const char *const rets[] = { "SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS" };
	const char *const *names = ret ? rets : sel;
	unsigned *bits = ret ? &l->ret : &l->sel;
	size_t i;
	int rc;

	l->extended = 1;
	c->pos++;
	while (p_peek(c) != ')') {
		if (*bits != 0 && (rc = p_sp(c, err)) != IMAP_OK) {
			return rc;
		}
		for (i = 0; i < 4 && !p_kw(c, names[i]); i++) {
			continue;
		}
		if (i == 4) {
			return p_bad(c, err, ret ? "LIST return option" : "LIST selection option");
		}
		*bits |= 1u << i;
		if (ret && (1u << i) == IMAP_LRET_STATUS && ((rc = p_sp(c, err)) != IMAP_OK ||
		    (rc = p_status_items(c, &l->status, err)) != IMAP_OK)) {
			return rc;
		}
	}
	c->pos++;
	return IMAP_OK;
}

static int
p_patterns(struct imap_cmd *c, int utf8, struct imap_list_args *l, struct imap_err *err)
{
	struct imap_str pat[IMAP_PATTERNS_MAX];
	int paren = p_peek(c) == '(', rc;

	c->pos += (size_t)paren;
	do {
		if (l->npat == IMAP_PATTERNS_MAX) {
			return p_bad(c, err, "fewer patterns");
		}
		if ((rc = p_list_name(c, utf8, list_char, &pat[l->npat++], err)) != IMAP_OK) {
			return rc;
		}
	} while (paren && p_more(c));
	if (paren && (rc = p_char(c, ')', err, "\")\"")) != IMAP_OK) {
		return rc;
	}
	if ((l->pat = p_keep(c, pat, l->npat, sizeof(pat[0]))) == NULL) {
		return p_toobig(err);
	}
	return IMAP_OK;
}

/* [SP "RETURN" SP "(" options ")"] at the end of a LIST. */
static int
p_list_return(struct imap_cmd *c, struct imap_list_args *l, struct imap_err *err)
{
	int rc;

	if (c->pos == c->len) {
		return IMAP_OK;
	}
	if ((rc = p_sp(c, err)) != IMAP_OK) {
		return rc;
	}
	if (!p_kw(c, "RETURN")) {
		return p_bad(c, err, "RETURN");
	}
	if ((rc = p_sp(c, err)) != IMAP_OK) {
		return rc;
	}
	if (p_peek(c) != '(') {
		return p_bad(c, err, "\"(\"");
	}
	return p_list_opts(c, 1, l, err);
}

int
imap_parse_list(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	struct imap_list_args *l = &a->list;
	int ext = strcmp(c->verb, "LIST") == 0, rc;

	if ((rc = p_start(c, a, err)) != IMAP_OK) {
		return rc;
	}
	if (ext && p_peek(c) == '(' && ((rc = p_list_opts(c, 0, l, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK)) {
		return rc;
	}
	/* RFC 5258 3: RECURSIVEMATCH only modifies another selection option (not REMOTE). */
	if ((l->sel & ~IMAP_LSEL_REMOTE) == IMAP_LSEL_RECURSIVE) {
		set_text(err, "RECURSIVEMATCH needs another selection option");
		return IMAP_BAD;
	}
	if ((rc = p_list_name(c, utf8, astring_char, &l->ref, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK) {
		return rc;
	}
	if (!ext && p_peek(c) == '(') {
		return p_bad(c, err, "mailbox pattern");
	}
	if ((rc = p_patterns(c, utf8, l, err)) != IMAP_OK ||
	    (ext && (rc = p_list_return(c, l, err)) != IMAP_OK)) {
		return rc;
	}
	return p_end(c, err);
}

int
imap_parse_append(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	struct imap_append_args *ap = &a->append;
	struct imap_str date;
	uint32_t size;
	int mark, rc;

	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_mailbox(c, utf8, &ap->mbox, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK) {
		return rc;
	}
	a->mbox = ap->mbox;
	if (p_peek(c) == '(' && ((rc = p_flags(c, 0, &ap->flags, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK)) {
		return rc;
	}
	if (p_peek(c) == '"') {
		if ((rc = p_quoted(c, &date, err)) != IMAP_OK) {
			return rc;
		}
		if (imap_parse_datetime(date.s, date.len, &ap->date) < 0) {
			set_text(err, "Invalid date-time (dd-Mon-yyyy hh:mm:ss +zzzz)");
			return IMAP_BAD;
		}
		ap->has_date = 1;
		if ((rc = p_sp(c, err)) != IMAP_OK) {
			return rc;
		}
	}
	if (p_peek(c) != '{' || (rc = p_literal_head(c, &size, &mark, err)) != IMAP_OK ||
	    mark != MARK_SPOOL || c->nspool_used == c->nspool) {
		return p_bad(c, err, "message literal");
	}
	ap->msg = c->spool[c->nspool_used++];
	return p_end(c, err);
}

int
imap_parse_copy(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	int rc;

	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_seqset(c, &a->set, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK ||
	    (rc = p_mailbox(c, utf8, &a->mbox, err)) != IMAP_OK) {
		return rc;
	}
	return p_end(c, err);
}

int
imap_parse_set(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	int rc;

	(void)utf8;
	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_seqset(c, &a->set, err)) != IMAP_OK) {
		return rc;
	}
	return p_end(c, err);
}

/* ---- FETCH ---- */

static int
p_header_list(struct imap_cmd *c, struct imap_section *sec, struct imap_err *err)
{
	struct imap_str f[IMAP_FIELDS_MAX];
	size_t n = 0;
	int rc;

	if ((rc = p_sp(c, err)) != IMAP_OK || (rc = p_char(c, '(', err, "\"(\"")) != IMAP_OK) {
		return rc;
	}
	do {
		if (n == IMAP_FIELDS_MAX) {
			return p_bad(c, err, "fewer header fields");
		}
		if ((rc = p_astring(c, &f[n], err)) != IMAP_OK) {
			return rc;
		}
		upcase(&f[n++]);
	} while (p_more(c));
	if ((rc = p_char(c, ')', err, "\")\"")) != IMAP_OK) {
		return rc;
	}
	sec->nfields = n;
	if ((sec->fields = p_keep(c, f, n, sizeof(f[0]))) == NULL) {
		return p_toobig(err);
	}
	return IMAP_OK;
}

/* section-msgtext / "MIME" after the part path. */
static int
p_section_text(struct imap_cmd *c, struct imap_section *sec, struct imap_err *err)
{
	static const struct {
		const char *name;
		enum imap_section_kind kind;
	} texts[] = {
		{ "HEADER.FIELDS.NOT", IMAP_SEC_FIELDS_NOT }, { "HEADER.FIELDS", IMAP_SEC_FIELDS },
		{ "HEADER", IMAP_SEC_HEADER }, { "TEXT", IMAP_SEC_TEXT }, { "MIME", IMAP_SEC_MIME },
	};
	char word[24];
	size_t i, start = c->pos;

	if (p_word(c, atom_char, "[]<", word, sizeof(word)) < 0) {
		c->pos = start;
		return p_bad(c, err, "section");
	}
	for (i = 0; i < ARRAY_LEN(texts) && strcmp(word, texts[i].name) != 0; i++) {
		continue;
	}
	if (i == ARRAY_LEN(texts) || (texts[i].kind == IMAP_SEC_MIME && sec->nparts == 0)) {
		c->pos = start;
		return p_bad(c, err, "section");
	}
	sec->kind = texts[i].kind;
	if (sec->kind == IMAP_SEC_FIELDS || sec->kind == IMAP_SEC_FIELDS_NOT) {
		return p_header_list(c, sec, err);
	}
	return IMAP_OK;
}

/* "[" [part *("." part)] ["." text] "]" ["<" origin "." count ">"] */
static int
p_section(struct imap_cmd *c, struct imap_section *sec, struct imap_err *err)
{
	int rc;

	c->pos++;
	while (is_digit(p_peek(c))) {
		if (sec->nparts == IMAP_PART_DEPTH_MAX) {
			return p_bad(c, err, "shallower part number");
		}
		if ((rc = p_nz_number(c, &sec->part[sec->nparts++], err)) != IMAP_OK) {
			return rc;
		}
		if (p_peek(c) != '.') {
			break;
		}
		c->pos++;
		if (!is_digit(p_peek(c))) {
			break;
		}
	}
	if (p_peek(c) != ']' && (rc = p_section_text(c, sec, err)) != IMAP_OK) {
		return rc;
	}
	if ((rc = p_char(c, ']', err, "\"]\"")) != IMAP_OK || p_peek(c) != '<') {
		return rc;
	}
	c->pos++;
	sec->partial = 1;
	if ((rc = p_number(c, &sec->origin, err)) != IMAP_OK ||
	    (rc = p_char(c, '.', err, "\".\"")) != IMAP_OK ||
	    (rc = p_nz_number(c, &sec->count, err)) != IMAP_OK) {
		return rc;
	}
	return p_char(c, '>', err, "\">\"");
}

static const struct {
	const char *name;
	enum imap_fetch_kind kind;
} fetch_atts[] = {
	{ "FLAGS", IMAP_FA_FLAGS }, { "INTERNALDATE", IMAP_FA_INTERNALDATE },
	{ "RFC822.SIZE", IMAP_FA_RFC822_SIZE }, { "ENVELOPE", IMAP_FA_ENVELOPE },
	{ "BODY", IMAP_FA_BODY }, { "BODYSTRUCTURE", IMAP_FA_BODYSTRUCTURE },
	{ "UID", IMAP_FA_UID }, { "RFC822", IMAP_FA_RFC822 },
	{ "RFC822.HEADER", IMAP_FA_RFC822_HEADER }, { "RFC822.TEXT", IMAP_FA_RFC822_TEXT },
	{ "BODY.PEEK", IMAP_FA_SECTION },
};

static int
p_fetch_att(struct imap_cmd *c, struct imap_fetch_att *att, struct imap_err *err)
{
	char word[24];
	size_t i, start = c->pos;

	memset(att, 0, sizeof(*att));
	if (p_word(c, atom_char, "[", word, sizeof(word)) < 0) {
		c->pos = start;
		return p_bad(c, err, "fetch attribute");
	}
	for (i = 0; i < ARRAY_LEN(fetch_atts) && strcmp(word, fetch_atts[i].name) != 0; i++) {
		continue;
	}
	if (i == ARRAY_LEN(fetch_atts)) {
		c->pos = start;
		return p_bad(c, err, "fetch attribute");
	}
	att->kind = fetch_atts[i].kind;
	if (att->kind == IMAP_FA_SECTION || (att->kind == IMAP_FA_BODY && p_peek(c) == '[')) {
		att->kind = IMAP_FA_SECTION;
		att->sec.peek = strcmp(word, "BODY.PEEK") == 0;
		if (p_peek(c) != '[') {
			return p_bad(c, err, "\"[\"");
		}
		return p_section(c, &att->sec, err);
	}
	return IMAP_OK;
}

/* ALL, FAST, FULL: the RFC 3501 macros. */
static size_t
fetch_macro(struct imap_cmd *c, struct imap_fetch_att *att)
{
	static const enum imap_fetch_kind full[] = { IMAP_FA_FLAGS, IMAP_FA_INTERNALDATE,
	    IMAP_FA_RFC822_SIZE, IMAP_FA_ENVELOPE, IMAP_FA_BODY };
	size_t n, i;

	if (p_kw(c, "FAST")) {
		n = 3;
	} else if (p_kw(c, "ALL")) {
		n = 4;
	} else if (p_kw(c, "FULL")) {
		n = 5;
	} else {
		return 0;
	}
	for (i = 0; i < n; i++) {
		memset(&att[i], 0, sizeof(att[i]));
		att[i].kind = full[i];
	}
	return n;
}

int
imap_parse_fetch(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	/* 11 KB at most, on the heap: a stack page once touched stays with the session */
	struct imap_fetch_att *att = malloc(IMAP_FETCH_ITEMS_MAX * sizeof(*att));
	struct imap_fetch_args *f = &a->fetch;
	size_t n = 0;
	int rc;

	(void)utf8;
	if (att == NULL) {
		return p_toobig(err);
	}
	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_seqset(c, &f->set, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK) {
		goto out;
	}
	if ((n = fetch_macro(c, att)) == 0 && p_peek(c) != '(') {
		rc = p_fetch_att(c, &att[0], err);
		n = 1;
	} else if (n == 0) {
		c->pos++;
		do {
			if (n == IMAP_FETCH_ITEMS_MAX) {
				rc = p_bad(c, err, "fewer fetch attributes");
				goto out;
			}
			rc = p_fetch_att(c, &att[n++], err);
		} while (rc == IMAP_OK && p_more(c));
		if (rc == IMAP_OK) {
			rc = p_char(c, ')', err, "\")\"");
		}
	}
	if (rc != IMAP_OK || (rc = p_end(c, err)) != IMAP_OK) {
		goto out;
	}
	f->natt = n;
	if ((f->att = p_keep(c, att, n, sizeof(att[0]))) == NULL) {
		rc = p_toobig(err);
	}
out:
	free(att);
	return rc;
}

/* ---- STORE ---- */

int
imap_parse_store(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	struct imap_store_args *s = &a->store;
	size_t start;
	int rc;

	(void)utf8;
	if ((rc = p_start(c, a, err)) != IMAP_OK ||
	    (rc = p_seqset(c, &s->set, err)) != IMAP_OK ||
	    (rc = p_sp(c, err)) != IMAP_OK) {
		return rc;
	}
	start = c->pos;
	s->mode = p_peek(c) == '+' ? IMAP_STORE_ADD :
	    p_peek(c) == '-' ? IMAP_STORE_REMOVE : IMAP_STORE_SET;
	c->pos += s->mode != IMAP_STORE_SET;
	s->silent = p_kw(c, "FLAGS.SILENT");
	if (!s->silent && !p_kw(c, "FLAGS")) {
		c->pos = start;
		return p_bad(c, err, "[+-]FLAGS[.SILENT]");
	}
	if ((rc = p_sp(c, err)) != IMAP_OK || (rc = p_flags(c, 1, &s->flags, err)) != IMAP_OK) {
		return rc;
	}
	return p_end(c, err);
}

/* ---- SEARCH ---- */

enum sarg { SA_NONE, SA_SET, SA_DATE, SA_NUM, SA_NZ, SA_STR, SA_HEADER, SA_KEYWORD,
	SA_KEY, SA_KEY2 };

static const struct {
	const char *name;
	enum imap_skey_kind kind;
	enum sarg arg;
	uint32_t flag;		/* FLAG/UNFLAG: the bit */
	const char *field;	/* header shortcuts: the field */
} skeys[] = {
	{ "ALL", IMAP_SK_ALL, SA_NONE, 0, NULL },
	{ "ANSWERED", IMAP_SK_FLAG, SA_NONE, STORE_ANSWERED, NULL },
	{ "BCC", IMAP_SK_HEADER, SA_STR, 0, "BCC" },
	{ "BEFORE", IMAP_SK_BEFORE, SA_DATE, 0, NULL },
	{ "BODY", IMAP_SK_BODY, SA_STR, 0, NULL },
	{ "CC", IMAP_SK_HEADER, SA_STR, 0, "CC" },
	{ "DELETED", IMAP_SK_FLAG, SA_NONE, STORE_DELETED, NULL },
	{ "DRAFT", IMAP_SK_FLAG, SA_NONE, STORE_DRAFT, NULL },
	{ "FLAGGED", IMAP_SK_FLAG, SA_NONE, STORE_FLAGGED, NULL },
	{ "FROM", IMAP_SK_HEADER, SA_STR, 0, "FROM" },
	{ "HEADER", IMAP_SK_HEADER, SA_HEADER, 0, NULL },
	{ "KEYWORD", IMAP_SK_KEYWORD, SA_KEYWORD, 0, NULL },
	{ "LARGER", IMAP_SK_LARGER, SA_NUM, 0, NULL },
	{ "NEW", IMAP_SK_NEW, SA_NONE, 0, NULL },
	{ "NOT", IMAP_SK_NOT, SA_KEY, 0, NULL },
	{ "OLD", IMAP_SK_OLD, SA_NONE, 0, NULL },
	{ "OLDER", IMAP_SK_OLDER, SA_NZ, 0, NULL },
	{ "ON", IMAP_SK_ON, SA_DATE, 0, NULL },
	{ "OR", IMAP_SK_OR, SA_KEY2, 0, NULL },
	{ "RECENT", IMAP_SK_FLAG, SA_NONE, IMAP_F_RECENT, NULL },
	{ "SEEN", IMAP_SK_FLAG, SA_NONE, STORE_SEEN, NULL },
	{ "SENTBEFORE", IMAP_SK_SENTBEFORE, SA_DATE, 0, NULL },
	{ "SENTON", IMAP_SK_SENTON, SA_DATE, 0, NULL },
	{ "SENTSINCE", IMAP_SK_SENTSINCE, SA_DATE, 0, NULL },
	{ "SINCE", IMAP_SK_SINCE, SA_DATE, 0, NULL },
	{ "SMALLER", IMAP_SK_SMALLER, SA_NUM, 0, NULL },
	{ "SUBJECT", IMAP_SK_HEADER, SA_STR, 0, "SUBJECT" },
	{ "TEXT", IMAP_SK_TEXT, SA_STR, 0, NULL },
	{ "TO", IMAP_SK_HEADER, SA_STR, 0, "TO" },
	{ "UID", IMAP_SK_UID, SA_SET, 0, NULL },
	{ "UNANSWERED", IMAP_SK_UNFLAG, SA_NONE, STORE_ANSWERED, NULL },
	{ "UNDELETED", IMAP_SK_UNFLAG, SA_NONE, STORE_DELETED, NULL },
	{ "UNDRAFT", IMAP_SK_UNFLAG, SA_NONE, STORE_DRAFT, NULL },
	{ "UNFLAGGED", IMAP_SK_UNFLAG, SA_NONE, STORE_FLAGGED, NULL },
	{ "UNKEYWORD", IMAP_SK_UNKEYWORD, SA_KEYWORD, 0, NULL },
	{ "UNSEEN", IMAP_SK_UNFLAG, SA_NONE, STORE_SEEN, NULL },
	{ "YOUNGER", IMAP_SK_YOUNGER, SA_NZ, 0, NULL },
};

static int p_skey(struct imap_cmd *c, unsigned depth, struct imap_skey **out,
    struct imap_err *err);

/* A search string: an astring of at most IMAP_SEARCH_STR_MAX bytes. */
static int
p_search_str(struct imap_cmd *c, struct imap_str *out, struct imap_err *err)
{
	int rc = p_astring(c, out, err);

	if (rc == IMAP_OK && out->len > IMAP_SEARCH_STR_MAX) {
		set_text(err, "Search string too long");
		return IMAP_BAD;
	}
	return rc;
}

static int
p_skey_arg(struct imap_cmd *c, unsigned depth, enum sarg arg, struct imap_skey *k,
    struct imap_err *err)
{
	struct imap_skey *sub;
	int rc;

	switch (arg) {
	case SA_NONE:
		return IMAP_OK;
	case SA_SET:
		return p_seqset(c, &k->set, err);
	case SA_DATE:
		return p_date(c, &k->day, err);
	case SA_NUM:
		return p_number(c, &k->num, err);
	case SA_NZ:
		return p_nz_number(c, &k->num, err);
	case SA_STR:
		return p_search_str(c, &k->str, err);
	case SA_HEADER:
		if ((rc = p_astring(c, &k->field, err)) != IMAP_OK ||
		    (rc = p_sp(c, err)) != IMAP_OK) {
			return rc;
		}
		upcase(&k->field);
		return p_search_str(c, &k->str, err);
	case SA_KEYWORD:
		return p_run(c, atom_char, &k->str, err, "keyword");
	case SA_KEY:
	case SA_KEY2:
		if ((rc = p_skey(c, depth + 1, &sub, err)) != IMAP_OK) {
			return rc;
		}
		k->a = sub;
		if (arg == SA_KEY || (rc = p_sp(c, err)) != IMAP_OK ||
		    (rc = p_skey(c, depth + 1, &sub, err)) != IMAP_OK) {
			return rc;
		}
		k->b = sub;
		return IMAP_OK;
	}
	return IMAP_BAD;
}

static struct imap_skey *
p_node(struct imap_cmd *c, enum imap_skey_kind kind)
{
	struct imap_skey *k = p_alloc(c, sizeof(*k));

	if (k != NULL) {
		memset(k, 0, sizeof(*k));
		k->kind = kind;
	}
	return k;
}

/* search-key *(SP search-key), up to ")" when in parentheses or else the end: an AND node. */
static int
p_skeys(struct imap_cmd *c, unsigned depth, int paren, struct imap_skey **out,
    struct imap_err *err)
{
	struct imap_skey *and = p_node(c, IMAP_SK_AND), *k, *last = NULL;
	int rc;

	if (and == NULL) {
		return p_toobig(err);
	}
	for (;;) {
		if ((rc = p_skey(c, depth, &k, err)) != IMAP_OK) {
			return rc;
		}
		if (last == NULL) {
			and->a = k;
		} else {
			last->next = k;
		}
		last = k;
		if ((paren && p_peek(c) == ')') || (!paren && c->pos == c->len)) {
			break;
		}
		if ((rc = p_sp(c, err)) != IMAP_OK) {
			return rc;
		}
	}
	c->pos += (size_t)paren;
	*out = and;
	return IMAP_OK;
}

static int
p_skey(struct imap_cmd *c, unsigned depth, struct imap_skey **out, struct imap_err *err)
{
	struct imap_skey *k;
	size_t i;

	if (depth >= IMAP_NEST_MAX) {
		set_text(err, "Search keys nested too deeply");
		return IMAP_BAD;
	}
	if (p_peek(c) == '(') {
		c->pos++;
		return p_skeys(c, depth + 1, 1, out, err);
	}
	if (is_digit(p_peek(c)) || p_peek(c) == '*') {
		if ((*out = k = p_node(c, IMAP_SK_SEQ)) == NULL) {
			return p_toobig(err);
		}
		return p_seqset(c, &k->set, err);
	}
	for (i = 0; i < ARRAY_LEN(skeys) && !p_kw(c, skeys[i].name); i++) {
		continue;
	}
	if (i == ARRAY_LEN(skeys)) {
		return p_bad(c, err, "search key");
	}
	if ((*out = k = p_node(c, skeys[i].kind)) == NULL) {
		return p_toobig(err);
	}
	k->flag = skeys[i].flag;
	if (skeys[i].field != NULL) {
		k->field.s = skeys[i].field;
		k->field.len = strlen(skeys[i].field);
	}
	if (skeys[i].arg == SA_NONE) {
		return IMAP_OK;
	}
	if (p_sp(c, err) != IMAP_OK) {
		return IMAP_BAD;
	}
	return p_skey_arg(c, depth, skeys[i].arg, k, err);
}

/* RETURN "(" [MIN / MAX / ALL / COUNT ...] ")" of ESEARCH (RFC 4731). */
static int
p_search_return(struct imap_cmd *c, struct imap_search_args *s, struct imap_err *err)
{
	static const char *const names[] = { "MIN", "MAX", "ALL", "COUNT" };
	size_t i;
	int rc;

	if ((rc = p_sp(c, err)) != IMAP_OK || (rc = p_char(c, '(', err, "\"(\"")) != IMAP_OK) {
		return rc;
	}
	s->esearch = 1;
	while (p_peek(c) != ')') {
		if (s->ret != 0 && (rc = p_sp(c, err)) != IMAP_OK) {
			return rc;
		}
		for (i = 0; i < ARRAY_LEN(names) && !p_kw(c, names[i]); i++) {
			continue;
		}
		if (i == ARRAY_LEN(names)) {
			return p_bad(c, err, "MIN, MAX, ALL or COUNT");
		}
		s->ret |= 1u << i;
	}
	c->pos++;
	if (s->ret == 0) {
		s->ret = IMAP_RET_ALL;
	}
	return p_sp(c, err);
}

int
imap_parse_search(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	struct imap_search_args *s = &a->search;
	struct imap_skey *root;
	struct imap_str cs;
	int rc;

	(void)utf8;
	if ((rc = p_start(c, a, err)) != IMAP_OK) {
		return rc;
	}
	if (p_kw(c, "RETURN") && (rc = p_search_return(c, s, err)) != IMAP_OK) {
		return rc;
	}
	if (p_kw(c, "CHARSET")) {
		if ((rc = p_sp(c, err)) != IMAP_OK || (rc = p_astring(c, &cs, err)) != IMAP_OK ||
		    (rc = p_sp(c, err)) != IMAP_OK) {
			return rc;
		}
		if (!str_ieq(cs.s, "UTF-8") && !str_ieq(cs.s, "US-ASCII")) {
			set_text(err, "[BADCHARSET (US-ASCII UTF-8)] Unsupported charset");
			return IMAP_NO;
		}
	}
	if ((rc = p_skeys(c, 0, 0, &root, err)) != IMAP_OK) {
		return rc;
	}
	s->key = root;
	return IMAP_OK;
}

/* ---- ENABLE, ID ---- */

int
imap_parse_enable(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	struct imap_str caps[IMAP_FLAGS_MAX];
	size_t n = 0;
	int rc;

	(void)utf8;
	memset(a, 0, sizeof(*a));
	c->pos = c->args;
	do {
		if (n == IMAP_FLAGS_MAX) {
			return p_bad(c, err, "fewer capabilities");
		}
		if ((rc = p_sp(c, err)) != IMAP_OK ||
		    (rc = p_atom_upper(c, &caps[n++], err)) != IMAP_OK) {
			return rc;
		}
	} while (c->pos < c->len);
	a->natoms = n;
	if ((a->atoms = p_keep(c, caps, n, sizeof(caps[0]))) == NULL) {
		return p_toobig(err);
	}
	return IMAP_OK;
}

int
imap_parse_id(struct imap_cmd *c, int utf8, struct imap_args *a, struct imap_err *err)
{
	struct imap_str s[IMAP_ID_MAX];
	size_t n = 0;
	int rc;

	(void)utf8;
	if ((rc = p_start(c, a, err)) != IMAP_OK) {
		return rc;
	}
	if (p_kw(c, "NIL")) {
		return p_end(c, err);
	}
	if ((rc = p_char(c, '(', err, "\"(\" or NIL")) != IMAP_OK) {
		return rc;
	}
	while (p_peek(c) != ')') {
		if (n == IMAP_ID_MAX) {
			return p_bad(c, err, "fewer ID fields");
		}
		if ((n > 0 && (rc = p_sp(c, err)) != IMAP_OK) ||
		    (rc = p_string(c, &s[n++], err)) != IMAP_OK ||
		    (rc = p_sp(c, err)) != IMAP_OK ||
		    (rc = p_nstring(c, &s[n++], err)) != IMAP_OK) {
			return rc;
		}
	}
	c->pos++;
	if ((rc = p_end(c, err)) != IMAP_OK) {
		return rc;
	}
	a->nid = n;
	if ((a->id = p_keep(c, s, n, sizeof(s[0]))) == NULL) {
		return p_toobig(err);
	}
	return IMAP_OK;
}

/* ---- Helpers for the session ---- */

int
imap_seq_contains(const struct imap_seqset *set, uint32_t v, uint32_t star)
{
	uint32_t lo, hi, t;
	size_t i;

	for (i = 0; i < set->n; i++) {
		lo = set->r[i].lo == IMAP_STAR ? star : set->r[i].lo;
		hi = set->r[i].hi == IMAP_STAR ? star : set->r[i].hi;
		if (lo > hi) {
			t = lo;
			lo = hi;
			hi = t;
		}
		if (v >= lo && v <= hi && v != 0) {
			return 1;
		}
	}
	return 0;
}

int
imap_section_fmt(const struct imap_section *sec, char *buf, size_t cap)
{
	static const char *const kinds[] = { "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT",
	    "TEXT", "MIME" };
	size_t n = 0, i;
	int w;

	buf[0] = '\0';
	for (i = 0; i < sec->nparts; i++) {
		w = str_fmt(buf + n, cap - n, i > 0 ? ".%u" : "%u", (unsigned)sec->part[i]);
		if (w < 0) {
			return -1;
		}
		n += (size_t)w;
	}
	w = str_fmt(buf + n, cap - n, "%s%s", sec->nparts > 0 && sec->kind != IMAP_SEC_ALL ?
	    "." : "", kinds[sec->kind]);
	if (w < 0) {
		return -1;
	}
	n += (size_t)w;
	for (i = 0; i < sec->nfields; i++) {
		w = str_fmt(buf + n, cap - n, "%s%s%s", i == 0 ? " (" : " ", sec->fields[i].s,
		    i + 1 == sec->nfields ? ")" : "");
		if (w < 0) {
			return -1;
		}
		n += (size_t)w;
	}
	return 0;
}
