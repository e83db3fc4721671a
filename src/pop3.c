/*
 * POP3 server (RFC 1939, CAPA from RFC 2449, AUTH PLAIN from RFC 5034, STLS from
 * RFC 2595): one command table per state, one reply writer that owns dot-stuffing and
 * CRLF, messages streamed from the mbox. Runs unprivileged in the session process.
 * The maildrop is a snapshot taken at login; DELE takes effect only at QUIT.
 */
#include "pop3.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "name.h"
#include "sasl.h"
#include "store.h"
#include "tls.h"
#include "util.h"

enum pop3_state { ST_AUTH, ST_TRANS };

/* What a handler tells the loop; the loop writes the generic replies. */
enum pop3_r {
	R_DONE,		/* the handler wrote its reply */
	R_OK,		/* "+OK" */
	R_SYNTAX,	/* bad or missing arguments */
	R_BADNUM,	/* not a number, or out of range for 32 bits */
	R_NOMSG,	/* no such message */
	R_DELETED,	/* message s->argmsg is marked deleted */
	R_STATE,	/* a POP3 command, but not in this state */
	R_UNKNOWN,	/* not a command at all */
	R_SYS,		/* store trouble: [SYS/TEMP] */
	R_QUIT,		/* reply written; end the session */
	R_DROP		/* end the session at once (reply written, or none possible) */
};

/* A message whose UIDL gets a suffix: k when k-1 earlier messages share its fingerprint. */
struct pop3_dup {
	uint32_t i;		/* message (0-based) */
	uint32_t k;
};

struct pop3 {
	const struct session_ctx *ctx;
	const struct config *cfg;
	struct io *io;
	enum pop3_state state;
	unsigned bad;			/* client errors so far */
	int have_user;			/* USER given, PASS may follow */
	char user[NAME_LEN];
	int folder_open;
	struct store_folder folder;
	/*
	 * The snapshot taken at login: store_open leaves expunged messages out and nothing
	 * refreshes the view, so message i is folder.msgs[i].
	 */
	uint32_t n;			/* messages in the snapshot */
	unsigned char *deleted;		/* bit i: DELE of message i; undone by RSET, applied at QUIT */
	struct pop3_dup *dups;		/* ascending i; duplicates are rare too */
	uint32_t ndups;
	uint32_t argmsg;		/* message number named in an R_DELETED reply */
	uint32_t retr, dele;		/* for the logout line */
	char line[POP3_LINE_MAX + 1];
};

typedef enum pop3_r (*pop3_fn)(struct pop3 *s, char *arg);

static int read_command(struct pop3 *s);

struct pop3_cmd {
	const char *verb;	/* NULL in the last row: the default for this state */
	pop3_fn fn;
};

/* --- The reply writer: the only code that emits CRLF and dot-stuffing. --- */

/*
 * One piece of a multi-line response: a '.' at the start of a line is doubled
 * (RFC 1939 3), and a piece that ends a line gets CRLF, including a last line that
 * had no newline in the mbox.
 */
static void
ml_piece(struct pop3 *s, const char *p, size_t n, int line_start, int line_end)
{
	if (line_start && n > 0 && p[0] == '.') {
		io_write(s->io, ".", 1);
	}
	io_write(s->io, p, n);
	if (line_end) {
		io_write(s->io, "\r\n", 2);
	}
}

/*
 * One formatted line, within RFC 2449's 512 octets: a status line (in_list 0) that does
 * not fit becomes an error reply, a line of a multi-line response is left out; either
 * way the log says so.
 */
static void
put_line(struct pop3 *s, int in_list, const char *fmt, va_list ap)
{
	char buf[POP3_REPLY_MAX];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0 || (size_t)n >= sizeof(buf)) {
		log_warnx("pop3: reply line longer than %zu bytes not sent", sizeof(buf) - 1);
		if (in_list) {
			return;
		}
		n = str_fmt(buf, sizeof(buf), "-ERR [SYS/PERM] reply too long");
	}
	ml_piece(s, buf, (size_t)n, in_list, 1);
}

static void
reply(struct pop3 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
reply(struct pop3 *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(s, 0, fmt, ap);
	va_end(ap);
}

static void
ml_line(struct pop3 *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ml_line(struct pop3 *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(s, 1, fmt, ap);
	va_end(ap);
}

static void
ml_end(struct pop3 *s)
{
	io_write(s->io, ".\r\n", 3);
}

/* --- Small helpers --- */

/* May passwords travel on this connection (cfg->plaintext_auth, RFC 2595 4)? */
static int
plain_ok(const struct pop3 *s)
{
	if (s->io->secure || s->cfg->plaintext_auth == PLAIN_ANYWHERE) {
		return 1;
	}
	return s->cfg->plaintext_auth == PLAIN_LOOPBACK && s->io->peer_is_loopback;
}

static int
stls_available(const struct pop3 *s)
{
	return WITH_TLS && s->ctx->tls != NULL && !s->io->secure;
}

static enum pop3_r
plain_refused(struct pop3 *s)
{
	s->bad++;
	reply(s, "-ERR [AUTH] plaintext authentication is disabled on this connection%s",
	    stls_available(s) ? ", use STLS first" : "");
	return R_DONE;
}

/* A user name fit for a log line: client text must not fake "from ADDR". */
static const char *
log_name(const char *user)
{
	return name_user_valid(user) ? user : "<invalid>";
}

/* Split arg at single spaces into at most max tokens; -1 on empty tokens or too many. */
static int
split_args(char *arg, char **tok, int max)
{
	int n = 0;
	char *sp;

	if (arg == NULL) {
		return 0;
	}
	for (;;) {
		if (*arg == '\0' || n == max) {
			return -1;
		}
		tok[n++] = arg;
		sp = strchr(arg, ' ');
		if (sp == NULL) {
			return n;
		}
		*sp = '\0';
		arg = sp + 1;
	}
}

static int
is_deleted(const struct pop3 *s, uint32_t i)
{
	return (s->deleted[i / 8] >> (i % 8)) & 1;
}

/* Message number tok (1-based) into *i (0-based); R_OK or the error to reply. */
static enum pop3_r
msg_arg(struct pop3 *s, const char *tok, uint32_t *i)
{
	uint32_t v;

	if (parse_u32(tok, strlen(tok), UINT32_MAX, &v) < 0) {
		return R_BADNUM;
	}
	if (v == 0 || v > s->n) {
		return R_NOMSG;
	}
	if (is_deleted(s, v - 1)) {
		s->argmsg = v;
		return R_DELETED;
	}
	*i = v - 1;
	return R_OK;
}

/* Commands taking exactly one message number. */
static enum pop3_r
one_msg_arg(struct pop3 *s, char *arg, uint32_t *i)
{
	char *tok[1];

	if (split_args(arg, tok, 1) != 1) {
		return R_SYNTAX;
	}
	return msg_arg(s, tok[0], i);
}

static uint32_t
msg_size(const struct pop3 *s, uint32_t i)
{
	return s->folder.msgs[i].e.wire_size;
}

static void
drop_totals(const struct pop3 *s, uint32_t *count, uint64_t *octets)
{
	uint32_t i;

	*count = 0;
	*octets = 0;
	for (i = 0; i < s->n; i++) {
		if (!is_deleted(s, i)) {
			(*count)++;
			*octets += msg_size(s, i);
		}
	}
}

static void
reply_totals(struct pop3 *s)
{
	uint32_t c;
	uint64_t o;

	drop_totals(s, &c, &o);
	reply(s, "+OK maildrop has %u messages (%llu octets)", c, (unsigned long long)o);
}

/* --- The maildrop snapshot --- */

struct fp_pos {
	uint64_t fp;
	uint32_t pos;
};

static int
fp_cmp(const void *a, const void *b)
{
	const struct fp_pos *x = a, *y = b;

	if (x->fp != y->fp) {
		return x->fp < y->fp ? -1 : 1;
	}
	return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

static int
dup_cmp(const void *a, const void *b)
{
	const struct pop3_dup *x = a, *y = b;

	return x->i < y->i ? -1 : (x->i > y->i);
}

/* The UIDL suffix of message i, 0 for none. */
static uint32_t
msg_dup(const struct pop3 *s, uint32_t i)
{
	struct pop3_dup key = { i, 0 };
	const struct pop3_dup *d = NULL;

	if (s->ndups > 0) {
		d = bsearch(&key, s->dups, s->ndups, sizeof(*s->dups), dup_cmp);
	}
	return d != NULL ? d->k : 0;
}

/*
 * UIDL is the content fingerprint; identical messages (a mail delivered twice) get
 * "-2", "-3" ... in maildrop order so that every UIDL of the maildrop is unique.
 */
static int
number_duplicates(struct pop3 *s)
{
	struct fp_pos *v;
	uint32_t i, run = 0, k = 0;

	if (s->n == 0) {
		return 0;
	}
	v = calloc(s->n, sizeof(*v));
	if (v == NULL) {
		return -1;
	}
	for (i = 0; i < s->n; i++) {
		v[i].fp = s->folder.msgs[i].e.fingerprint;
		v[i].pos = i;
	}
	qsort(v, s->n, sizeof(*v), fp_cmp);
	for (i = 1; i < s->n; i++) {
		s->ndups += v[i].fp == v[i - 1].fp;
	}
	if (s->ndups > 0 && (s->dups = calloc(s->ndups, sizeof(*s->dups))) == NULL) {
		free(v);
		return -1;
	}
	for (i = 1; i < s->n; i++) {
		run = v[i].fp == v[i - 1].fp ? run + 1 : 0;
		if (run > 0) {
			s->dups[k].i = v[i].pos;
			s->dups[k++].k = run + 1;
		}
	}
	free(v);
	if (s->ndups > 0) {
		qsort(s->dups, s->ndups, sizeof(*s->dups), dup_cmp);
	}
	return 0;
}

static int
snapshot(struct pop3 *s)
{
	s->n = s->folder.count;
	s->deleted = calloc(s->n / 8 + 1, 1);
	if (s->deleted == NULL) {
		log_warn("pop3: snapshot of %u messages", s->n);
		return -1;
	}
	return number_duplicates(s);
}

static void
close_maildrop(struct pop3 *s)
{
	if (s->folder_open) {
		store_close(&s->folder);
		s->folder_open = 0;
	}
	free(s->deleted);
	free(s->dups);
	s->deleted = NULL;
	s->dups = NULL;
	s->n = s->ndups = 0;
}

/* Authenticated: lock and load the maildrop, enter TRANSACTION. */
static enum pop3_r
open_maildrop(struct pop3 *s)
{
	char mbox[PATH_LEN], side[PATH_LEN];
	int rc;

	if (store_paths(s->cfg, s->user, "INBOX", mbox, sizeof(mbox), side,
	    sizeof(side)) < 0) {
		log_warnx("pop3: maildrop path of %s too long", s->user);
		reply(s, "-ERR [SYS/PERM] maildrop path too long");
		return R_DONE;
	}
	rc = store_open(&s->folder, mbox, side, STORE_RDWR | STORE_CREATE | STORE_POP3);
	if (rc == STORE_INUSE) {
		log_info("maildrop in use user=%s from %s", s->user, s->io->peer);
		reply(s, "-ERR [IN-USE] maildrop is locked by another POP3 session");
		return R_DONE;
	}
	if (rc == STORE_NOFOLDER) {
		/* No mail was ever delivered to this user: an empty maildrop. */
		memset(&s->folder, 0, sizeof(s->folder));
	} else if (rc != STORE_OK) {
		log_warnx("pop3: open %s: %s", mbox, store_strerror(rc));
		return R_SYS;
	} else {
		s->folder_open = 1;
	}
	if (snapshot(s) < 0) {
		close_maildrop(s);
		return R_SYS;
	}
	s->state = ST_TRANS;
	io_set_timeout(s->io, s->cfg->timeout);
	reply_totals(s);
	return R_DONE;
}

/* Check user/pass (pass is wiped here) and open the maildrop on success. */
static enum pop3_r
login(struct pop3 *s, const char *user, char *pass)
{
	struct auth_user au;
	int rc = AUTH_FAIL;

	if (strlen(pass) <= PASS_MAX && str_copy(s->user, sizeof(s->user), user) == 0) {
		rc = auth_check(s->cfg, user, pass, &au);
	}
	wipe(pass, strlen(pass));
	s->have_user = 0;
	if (rc == AUTH_ERR) {
		return R_SYS;
	}
	if (rc != AUTH_OK) {
		log_info("login failed user=%s from %s", log_name(user), s->io->peer);
		auth_failed(s->cfg, s->io->peer, user);
		s->bad++;
		reply(s, "-ERR [AUTH] invalid user name or password");
		return R_DONE;
	}
	auth_succeeded(s->cfg, s->io->peer, user);
	(void)str_copy(s->user, sizeof(s->user), au.name);
	log_info("login user=%s from %s", s->user, s->io->peer);
	return open_maildrop(s);
}

/* --- AUTHORIZATION state --- */

static enum pop3_r
cmd_capa(struct pop3 *s, char *arg)
{
	if (arg != NULL) {
		return R_SYNTAX;
	}
	reply(s, "+OK capability list follows");
	ml_line(s, "TOP");
	ml_line(s, "UIDL");
	if (plain_ok(s)) {
		ml_line(s, "USER");
	}
	ml_line(s, "RESP-CODES");
	ml_line(s, "AUTH-RESP-CODE");
	ml_line(s, "PIPELINING");
	if (plain_ok(s)) {
		ml_line(s, "SASL PLAIN");
	}
	ml_line(s, "EXPIRE NEVER");
	if (s->cfg->login_delay > 0) {
		ml_line(s, "LOGIN-DELAY %u", s->cfg->login_delay);
	}
	ml_line(s, "IMPLEMENTATION mailnook-%s", MAILNOOK_VERSION);
	if (s->state == ST_AUTH && stls_available(s)) {
		ml_line(s, "STLS");
	}
	ml_end(s);
	return R_DONE;
}

static enum pop3_r
cmd_user(struct pop3 *s, char *arg)
{
	if (!plain_ok(s)) {
		return plain_refused(s);
	}
	if (arg == NULL || *arg == '\0') {
		return R_SYNTAX;
	}
	if (str_copy(s->user, sizeof(s->user), arg) < 0) {
		s->bad++;
		reply(s, "-ERR [AUTH] user name too long");
		return R_DONE;
	}
	s->have_user = 1;
	return R_OK;
}

static enum pop3_r
cmd_pass(struct pop3 *s, char *arg)
{
	char user[NAME_LEN];

	if (!plain_ok(s)) {
		return plain_refused(s);
	}
	if (!s->have_user) {
		s->bad++;
		reply(s, "-ERR USER first");
		return R_DONE;
	}
	if (arg == NULL) {
		return R_SYNTAX;
	}
	(void)str_copy(user, sizeof(user), s->user);
	return login(s, user, arg);
}

/* A PLAIN response (RFC 4616): log in as its authcid; the decoded copy is wiped. */
static enum pop3_r
sasl_plain(struct pop3 *s, const char *b64)
{
	char buf[2 * NAME_LEN + PASS_MAX + 4];
	const char *user;
	char *pass;
	enum pop3_r r;
	int rc = sasl_plain_decode(b64, strlen(b64), buf, sizeof(buf), &user, &pass);

	if (rc != SASL_OK) {
		wipe(buf, sizeof(buf));
		s->bad++;
		reply(s, "-ERR [AUTH] %s PLAIN response",
		    rc == SASL_MALFORMED ? "malformed" : "invalid");
		return R_DONE;
	}
	r = login(s, user, pass);
	wipe(buf, sizeof(buf));
	return r;
}

/* RFC 5034: "AUTH PLAIN [initial-response]", else a "+ " challenge; "*" cancels. */
static enum pop3_r
cmd_auth(struct pop3 *s, char *arg)
{
	char *tok[2];
	int n = split_args(arg, tok, 2);

	if (n == 0) {
		/* Mechanism list for clients that probe with a bare AUTH. */
		reply(s, "+OK");
		if (plain_ok(s)) {
			ml_line(s, "PLAIN");
		}
		ml_end(s);
		return R_DONE;
	}
	if (n < 0) {
		return R_SYNTAX;
	}
	if (!str_ieq(tok[0], "PLAIN")) {
		s->bad++;
		reply(s, "-ERR unsupported authentication mechanism");
		return R_DONE;
	}
	if (!plain_ok(s)) {
		return plain_refused(s);
	}
	if (n == 2) {
		return sasl_plain(s, tok[1]);
	}
	reply(s, "+ ");
	if (read_command(s) < 0) {
		return R_DROP;
	}
	if (strcmp(s->line, "*") == 0) {
		reply(s, "-ERR authentication cancelled");
		return R_DONE;
	}
	return sasl_plain(s, s->line);
}

static enum pop3_r
cmd_stls(struct pop3 *s, char *arg)
{
	if (arg != NULL) {
		return R_SYNTAX;
	}
	if (!stls_available(s)) {
		reply(s, "-ERR %s", s->io->secure ? "TLS already active" : "STLS not available");
		return R_DONE;
	}
	if (io_pending(s->io) > 0) {
		/* Plaintext sent after STLS would run as if it came through TLS. */
		log_warnx("pop3: commands pipelined after STLS from %s, closing", s->io->peer);
		reply(s, "-ERR commands pipelined after STLS");
		return R_DROP;
	}
	reply(s, "+OK begin TLS negotiation");
	if (io_flush(s->io) < 0 ||
	    tls_start(s->io, s->ctx->tls, s->cfg->preauth_timeout) < 0) {
		return R_DROP;
	}
	/* Forget everything said before the handshake (RFC 2595 4). */
	io_discard_input(s->io);
	s->have_user = 0;
	wipe(s->user, sizeof(s->user));
	log_info("tls %s from %s", tls_describe(s->io), s->io->peer);
	return R_DONE;
}

static enum pop3_r
cmd_quit_auth(struct pop3 *s, char *arg)
{
	(void)arg;
	reply(s, "+OK %s POP3 server signing off", s->cfg->hostname);
	return R_QUIT;
}

/* --- TRANSACTION state --- */

static enum pop3_r
cmd_stat(struct pop3 *s, char *arg)
{
	uint32_t c;
	uint64_t o;

	if (arg != NULL) {
		return R_SYNTAX;
	}
	drop_totals(s, &c, &o);
	reply(s, "+OK %u %llu", c, (unsigned long long)o);
	return R_DONE;
}

/* LIST and UIDL: one message with an argument, else every undeleted one. */
static enum pop3_r
listing(struct pop3 *s, char *arg, void (*one)(struct pop3 *, uint32_t, int))
{
	uint32_t i;
	enum pop3_r r;

	if (arg != NULL) {
		r = one_msg_arg(s, arg, &i);
		if (r == R_OK) {
			one(s, i, 0);
			r = R_DONE;
		}
		return r;
	}
	reply(s, "+OK");
	for (i = 0; i < s->n; i++) {
		if (!is_deleted(s, i)) {
			one(s, i, 1);
		}
	}
	ml_end(s);
	return R_DONE;
}

static void
list_one(struct pop3 *s, uint32_t i, int multi)
{
	if (multi) {
		ml_line(s, "%u %u", i + 1, msg_size(s, i));
	} else {
		reply(s, "+OK %u %u", i + 1, msg_size(s, i));
	}
}

static void
uidl_one(struct pop3 *s, uint32_t i, int multi)
{
	char uid[40];
	uint64_t fp = s->folder.msgs[i].e.fingerprint;
	uint32_t dup = msg_dup(s, i);

	if (dup > 0) {
		(void)str_fmt(uid, sizeof(uid), "%016llx-%u", (unsigned long long)fp, dup);
	} else {
		(void)str_fmt(uid, sizeof(uid), "%016llx", (unsigned long long)fp);
	}
	if (multi) {
		ml_line(s, "%u %s", i + 1, uid);
	} else {
		reply(s, "+OK %u %s", i + 1, uid);
	}
}

static enum pop3_r
cmd_list(struct pop3 *s, char *arg)
{
	return listing(s, arg, list_one);
}

static enum pop3_r
cmd_uidl(struct pop3 *s, char *arg)
{
	return listing(s, arg, uidl_one);
}

/*
 * Stream message i: all of it, or (top) its header, the blank line and at most
 * lines body lines. Never holds more than the reader's buffer.
 */
static enum pop3_r
send_msg(struct pop3 *s, uint32_t i, int top, uint32_t lines)
{
	/* only while a message is sent: a session that lists and deletes needs none */
	struct mbox_reader *r = malloc(sizeof(*r));
	const char *p;
	size_t len;
	int rc, partial, nl, start = 1, in_body = 0;
	uint32_t body = 0;

	rc = r != NULL ? store_msg_open(&s->folder, i, r) : STORE_ERR;
	if (rc != STORE_OK) {
		log_warnx("pop3: message %u of %s: %s", i + 1, s->user, store_strerror(rc));
		free(r);
		return R_SYS;
	}
	if (top) {
		reply(s, "+OK top of message follows");
	} else {
		reply(s, "+OK %u octets", msg_size(s, i));
	}
	while (!(top && in_body && body >= lines) && !s->io->failed &&
	    (rc = store_msg_read(r, &p, &len, &partial, &nl)) > 0) {
		ml_piece(s, p, len, start, !partial);
		if (!in_body) {
			in_body = start && !partial && len == 0;
		} else if (!partial) {
			body++;
		}
		start = !partial;
	}
	store_msg_close(&s->folder, r);
	free(r);
	if (rc < 0) {
		/* Part of the message is out already: no way to say -ERR now. */
		log_warnx("pop3: read error in message %u of %s, closing", i + 1, s->user);
		return R_DROP;
	}
	ml_end(s);
	return R_DONE;
}

static enum pop3_r
cmd_retr(struct pop3 *s, char *arg)
{
	uint32_t i;
	enum pop3_r r = one_msg_arg(s, arg, &i);

	if (r != R_OK) {
		return r;
	}
	r = send_msg(s, i, 0, 0);
	if (r == R_DONE) {
		s->retr++;
	}
	return r;
}

static enum pop3_r
cmd_top(struct pop3 *s, char *arg)
{
	char *tok[2];
	uint32_t i, lines;
	enum pop3_r r;

	if (split_args(arg, tok, 2) != 2) {
		return R_SYNTAX;
	}
	r = msg_arg(s, tok[0], &i);
	if (r != R_OK) {
		return r;
	}
	if (parse_u32(tok[1], strlen(tok[1]), UINT32_MAX, &lines) < 0) {
		return R_SYNTAX;
	}
	return send_msg(s, i, 1, lines);
}

static enum pop3_r
cmd_dele(struct pop3 *s, char *arg)
{
	uint32_t i;
	enum pop3_r r = one_msg_arg(s, arg, &i);

	if (r != R_OK) {
		return r;
	}
	s->deleted[i / 8] |= (unsigned char)(1u << (i % 8));
	reply(s, "+OK message %u deleted", i + 1);
	return R_DONE;
}

static enum pop3_r
cmd_noop(struct pop3 *s, char *arg)
{
	(void)s;
	return arg != NULL ? R_SYNTAX : R_OK;
}

static enum pop3_r
cmd_rset(struct pop3 *s, char *arg)
{
	if (arg != NULL) {
		return R_SYNTAX;
	}
	memset(s->deleted, 0, s->n / 8 + 1);
	reply_totals(s);
	return R_DONE;
}

/* UPDATE state (RFC 1939 6): the deletions become durable, then the lock goes. */
static enum pop3_r
cmd_quit_trans(struct pop3 *s, char *arg)
{
	uint32_t *uids, i, k = 0;
	int rc = STORE_OK;

	(void)arg;
	uids = calloc(s->n ? s->n : 1, sizeof(*uids));
	if (uids == NULL) {
		return R_SYS;
	}
	for (i = 0; i < s->n; i++) {
		if (is_deleted(s, i)) {
			uids[k++] = s->folder.msgs[i].uid;
		}
	}
	if (k > 0) {
		rc = store_expunge(&s->folder, uids, k);
	}
	free(uids);
	/*
	 * Locks go (and a due compaction runs) before the answer: a client that reconnects
	 * as soon as it reads +OK must not find the maildrop still in use.
	 */
	close_maildrop(s);
	if (rc != STORE_OK) {
		log_warnx("pop3: expunge for %s: %s", s->user, store_strerror(rc));
		reply(s, "-ERR [SYS/TEMP] deleted messages were not removed");
	} else {
		s->dele = k;
		reply(s, "+OK %s POP3 server signing off", s->cfg->hostname);
	}
	return R_QUIT;
}

/* --- Dispatch --- */

static enum pop3_r cmd_other_auth(struct pop3 *s, char *arg);
static enum pop3_r cmd_other_trans(struct pop3 *s, char *arg);

static const struct pop3_cmd auth_cmds[] = {
	{ "CAPA", cmd_capa },
	{ "USER", cmd_user },
	{ "PASS", cmd_pass },
	{ "AUTH", cmd_auth },
	{ "STLS", cmd_stls },
	{ "QUIT", cmd_quit_auth },
	{ NULL, cmd_other_auth }
};

static const struct pop3_cmd trans_cmds[] = {
	{ "CAPA", cmd_capa },
	{ "STAT", cmd_stat },
	{ "LIST", cmd_list },
	{ "RETR", cmd_retr },
	{ "DELE", cmd_dele },
	{ "NOOP", cmd_noop },
	{ "RSET", cmd_rset },
	{ "TOP", cmd_top },
	{ "UIDL", cmd_uidl },
	{ "QUIT", cmd_quit_trans },
	{ NULL, cmd_other_trans }
};

/* The row for verb, or the table's last (default) row. */
static const struct pop3_cmd *
find_cmd(const struct pop3_cmd *t, const char *verb)
{
	while (t->verb != NULL && !str_ieq(t->verb, verb)) {
		t++;
	}
	return t;
}

/* The verb lives in s->line while the default row runs. */
static enum pop3_r
cmd_other_auth(struct pop3 *s, char *arg)
{
	(void)arg;
	return find_cmd(trans_cmds, s->line)->verb != NULL ? R_STATE : R_UNKNOWN;
}

static enum pop3_r
cmd_other_trans(struct pop3 *s, char *arg)
{
	(void)arg;
	return find_cmd(auth_cmds, s->line)->verb != NULL ? R_STATE : R_UNKNOWN;
}

static enum pop3_r
dispatch(struct pop3 *s)
{
	const struct pop3_cmd *t = s->state == ST_AUTH ? auth_cmds : trans_cmds;
	char *arg = strchr(s->line, ' ');

	if (arg != NULL) {
		*arg++ = '\0';
	}
	return find_cmd(t, s->line)->fn(s, arg);
}

/* The generic replies; client mistakes count toward POP3_BAD_CMDS_MAX. */
static void
generic_reply(struct pop3 *s, enum pop3_r r)
{
	switch (r) {
	case R_OK:
		reply(s, "+OK");
		break;
	case R_SYNTAX:
		s->bad++;
		reply(s, "-ERR syntax error");
		break;
	case R_BADNUM:
		s->bad++;
		reply(s, "-ERR invalid message number");
		break;
	case R_NOMSG:
		reply(s, "-ERR no such message");
		break;
	case R_DELETED:
		reply(s, "-ERR message %u already deleted", s->argmsg);
		break;
	case R_STATE:
		s->bad++;
		reply(s, "-ERR command not valid in this state");
		break;
	case R_UNKNOWN:
		s->bad++;
		reply(s, "-ERR unknown command");
		break;
	case R_SYS:
		reply(s, "-ERR [SYS/TEMP] temporary server error, try again later");
		break;
	case R_DONE:
	case R_QUIT:
	case R_DROP:
		break;
	}
}

/* Read one client line (a command or a SASL response) into s->line; 0 to go on, -1
 * when the session must end (reply and log done). */
static int
read_command(struct pop3 *s)
{
	size_t len;
	int rc = io_getline(s->io, s->line, sizeof(s->line), &len);

	switch (rc) {
	case IO_OK:
		if (memchr(s->line, '\0', len) == NULL) {
			return 0;
		}
		log_warnx("pop3: NUL byte in command from %s, closing", s->io->peer);
		reply(s, "-ERR NUL byte in command");
		break;
	case IO_TOOLONG:
		log_warnx("pop3: command line too long from %s, closing", s->io->peer);
		reply(s, "-ERR command line too long");
		break;
	case IO_TIMEOUT:
		log_info("timeout from %s", s->io->peer);
		reply(s, "-ERR autologout: idle for too long");
		break;
	case IO_EOF:
		log_info("connection closed by %s", s->io->peer);
		break;
	default:
		log_info("connection error from %s", s->io->peer);
		break;
	}
	return -1;
}

static void
session_loop(struct pop3 *s)
{
	enum pop3_r r;

	for (;;) {
		if (read_command(s) < 0) {
			return;
		}
		r = dispatch(s);
		generic_reply(s, r);
		/* The line may have held a password or a PLAIN response. */
		wipe(s->line, sizeof(s->line));
		if (r == R_QUIT || r == R_DROP || s->io->failed) {
			return;
		}
		if (s->bad >= POP3_BAD_CMDS_MAX) {
			log_warnx("pop3: too many bad commands from %s, closing", s->io->peer);
			reply(s, "-ERR too many bad commands, closing connection");
			return;
		}
	}
}

int
pop3_session(const struct session_ctx *ctx, struct io *io)
{
	struct pop3 *s = calloc(1, sizeof(*s));
	int logged_in;

	if (s == NULL) {
		log_warn("pop3: session state");
		return 1;
	}
	s->ctx = ctx;
	s->cfg = ctx->cfg;
	s->io = io;
	s->state = ST_AUTH;
	reply(s, "+OK %s POP3 server ready", s->cfg->hostname);
	session_loop(s);
	logged_in = s->state == ST_TRANS;
	/* A dropped connection or timeout deletes nothing: UPDATE only runs at QUIT. */
	close_maildrop(s);
	io_close(io);
	if (logged_in) {
		log_info("logout user=%s retr=%u dele=%u in=%llu out=%llu", s->user, s->retr,
		    s->dele, (unsigned long long)io->bytes_in, (unsigned long long)io->bytes_out);
	}
	wipe(s, sizeof(*s));
	free(s);
	return 0;
}
