/*
 * The IMAP session loop: greeting, reading commands through imap_parse, the state check
 * against the one command table, untagged updates of the selected folder before every
 * tagged reply, sequence-set resolution, logout. Runs unprivileged in the session process.
 */
#include "imap.h"

#include <errno.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap_reply.h"
#include "log.h"
#include "util.h"

int
imap_fail(struct imap *s, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(s->err.text, sizeof(s->err.text), fmt, ap) < 0) {
		s->err.text[0] = '\0';
	}
	va_end(ap);
	return rc;
}

/* ---- the selected folder ---- */

void
imap_deselect(struct imap *s)
{
	if (s->mbox_name[0] == '\0') {
		return;	/* no folder open */
	}
	store_close(&s->f);
	s->exists = 0;
	s->nrecent = 0;
	s->readonly = 0;
	s->mbox_name[0] = '\0';
	if (s->state == IMAP_ST_SELECTED) {
		s->state = IMAP_ST_AUTH;
	}
}

void
imap_claim_recent(struct imap *s)
{
	uint32_t lo, hi;

	/* EXAMINE sees them as recent but leaves them so for the next SELECT (RFC 3501 6.3.2) */
	if (store_imap_claim_recent(&s->f, !s->readonly, &lo, &hi) != STORE_OK) {
		return;
	}
	if (s->nrecent > 0 && lo <= s->recent_hi[s->nrecent - 1]) {
		lo = s->recent_hi[s->nrecent - 1] + 1;
	}
	if (lo > hi) {
		return;
	}
	if (s->nrecent == IMAP_RECENT_RANGES) {
		size_t keep = (IMAP_RECENT_RANGES - 1) * sizeof(s->recent_lo[0]);

		memmove(s->recent_lo, s->recent_lo + 1, keep);
		memmove(s->recent_hi, s->recent_hi + 1, keep);
		s->nrecent--;
	}
	s->recent_lo[s->nrecent] = lo;
	s->recent_hi[s->nrecent++] = hi;
}

int
imap_is_recent(const struct imap *s, uint32_t uid)
{
	unsigned k;

	for (k = 0; k < s->nrecent; k++) {
		if (uid >= s->recent_lo[k] && uid <= s->recent_hi[k]) {
			return 1;
		}
	}
	return 0;
}

uint32_t
imap_recent_count(const struct imap *s)
{
	uint32_t i, n = 0;

	for (i = 0; s->nrecent > 0 && i < s->exists; i++) {
		n += (uint32_t)imap_is_recent(s, s->f.msgs[i].uid);
	}
	return n;
}

/* "(\\Answered ... keywords)" with " \\*" before the ")" when more keywords may be made. */
static void
put_permanent(struct imap *s)
{
	uint32_t i;

	io_puts(s->io, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (i = 0; i < s->f.kw->n; i++) {
		io_printf(s->io, " %s", s->f.kw->name[i]);
	}
	io_puts(s->io, s->f.kw->n < STORE_KW_MAX ? " \\*)" : ")");
}

void
imap_put_flag_lists(struct imap *s)
{
	io_puts(s->io, "* FLAGS ");
	imap_put_flags(s->io, STORE_FLAGS_ALL, ~(uint64_t)0, s->f.kw, 0);
	io_puts(s->io, "\r\n* OK [PERMANENTFLAGS ");
	if (s->readonly) {
		io_puts(s->io, "()");
	} else {
		put_permanent(s);
	}
	io_puts(s->io, "] flags\r\n");
}

/*
 * Flag changes made by other sessions, as FETCH responses, for the messages the client
 * has had a FETCH response for: of one it has only counted in EXISTS it asks itself, and
 * an unasked FETCH naming a UID it never listed makes sync tools (mbsync) take it for
 * the newest message and skip those between.
 */
static void
announce_flags(struct imap *s)
{
	uint32_t i;

	for (i = 0; i < s->exists && i < s->f.count; i++) {
		uint32_t fl = s->f.msgs[i].flags;

		if ((fl & (STORE_CHANGED | STORE_EXPUNGED | STORE_TOLD)) == STORE_CHANGED) {
			store_imap_ack_changed(&s->f, i);
		} else if ((fl & (STORE_CHANGED | STORE_EXPUNGED)) == STORE_CHANGED) {
			io_printf(s->io, "* %u FETCH (", i + 1);
			if (s->cmd.uid) {
				io_printf(s->io, "UID %u ", s->f.msgs[i].uid);
			}
			imap_put_msg_flags(s, i);
			io_puts(s->io, ")\r\n");
			store_imap_ack_changed(&s->f, i);
		}
	}
}

/* EXPUNGE responses, highest sequence number first so that none shifts under another. */
static void
announce_expunges(struct imap *s)
{
	uint32_t i, told = 0, gone = 0;

	for (i = s->f.count; i > 0; i--) {
		if (s->f.msgs[i - 1].flags & STORE_EXPUNGED) {
			if (i <= s->exists) {
				imap_untagged(s->io, "%u EXPUNGE", i);
				told++;
			}
			gone++;
		}
	}
	if (gone > 0) {
		store_forget_expunged(&s->f);
		s->exists -= told;
		s->n_expunge += told;
	}
}

void
imap_update(struct imap *s, int may_expunge)
{
	struct store_changes ch;
	int rc;

	if (s->state != IMAP_ST_SELECTED) {
		return;
	}
	rc = store_refresh(&s->f, &ch);
	if (rc == STORE_NOFOLDER) {
		/* deleted or renamed by another session: nothing sensible is left to say */
		log_info("imap: %s of %s went away, closing", s->mbox_name, s->user);
		imap_untagged(s->io, "BYE [UNAVAILABLE] mailbox deleted or renamed elsewhere");
		imap_deselect(s);
		s->state = IMAP_ST_LOGOUT;
		return;
	}
	if (rc != STORE_OK) {
		log_warnx("imap: refreshing %s of %s: %s", s->mbox_name, s->user,
		    store_strerror(rc));
		return;
	}
	/* names another session added, before any FETCH that may show them */
	if (store_kw_refresh(s->f.side_base, s->f.kw) > 0) {
		imap_put_flag_lists(s);
	}
	announce_flags(s);
	if (may_expunge) {
		announce_expunges(s);
	}
	if (s->f.count != s->exists) {
		int grew = s->f.count > s->exists;

		s->exists = s->f.count;
		imap_untagged(s->io, "%u EXISTS", s->exists);
		if (grew) {
			imap_claim_recent(s);
			imap_untagged(s->io, "%u RECENT", imap_recent_count(s));
		}
	}
}

/* ---- sequence sets ---- */

/* Mark the indexes of one range in the bitmap; IMAP_BAD for a sequence number past exists. */
static int
mark_range(struct imap *s, const struct imap_range *r, int uid, unsigned char *bits)
{
	uint32_t n = s->exists;
	uint32_t star = uid ? (n > 0 ? s->f.msgs[n - 1].uid : 0) : n;
	uint32_t lo = r->lo == IMAP_STAR ? star : r->lo;
	uint32_t hi = r->hi == IMAP_STAR ? star : r->hi;
	uint32_t a, b, i;

	if (lo > hi) {
		uint32_t t = lo;

		lo = hi;
		hi = t;
	}
	if (!uid) {
		if (n == 0 && lo == 0) {
			return IMAP_OK;	/* "*" in an empty folder names nothing */
		}
		if (lo == 0 || hi > n) {
			return imap_fail(s, IMAP_BAD, "invalid sequence number (%u messages)", n);
		}
		a = lo - 1;
		b = hi;
	} else {
		a = (uint32_t)uid_lower(s->f.msgs, n, sizeof(*s->f.msgs), lo);
		b = hi == UINT32_MAX ? n :
		    (uint32_t)uid_lower(s->f.msgs, n, sizeof(*s->f.msgs), hi + 1);
	}
	for (i = a; i < b; i++) {
		bits[i / 8] |= (unsigned char)(1u << (i % 8));
	}
	return IMAP_OK;
}

int
imap_resolve(struct imap *s, const struct imap_seqset *set, int uid, uint32_t **idx, size_t *n)
{
	unsigned char *bits = calloc(s->exists / 8 + 1, 1);
	uint32_t *v = malloc(((size_t)s->exists + 1) * sizeof(*v));
	size_t k, m = 0;
	int rc = bits != NULL && v != NULL ? IMAP_OK : IMAP_NO;
	uint32_t i;

	if (rc != IMAP_OK) {
		(void)imap_fail(s, IMAP_NO, "[SERVERBUG] out of memory");
	}
	for (k = 0; k < set->n && rc == IMAP_OK; k++) {
		rc = mark_range(s, &set->r[k], uid, bits);
	}
	for (i = 0; i < s->exists && rc == IMAP_OK; i++) {
		if (bits[i / 8] & (1u << (i % 8))) {
			v[m++] = i;
		}
	}
	free(bits);
	if (rc != IMAP_OK) {
		free(v);
		return rc;
	}
	*idx = v;
	*n = m;
	return IMAP_OK;
}

/* ---- the loop ---- */

/* APPEND literal: a scratch file in the user's side directory, truncated for each message. */
static int
spool_cb(void *ctx, uint32_t size, struct imap_err *err)
{
	struct imap *s = ctx;
	char path[PATH_LEN];

	if (size > s->cfg->max_message) {
		(void)str_fmt(err->text, sizeof(err->text), "[TOOBIG] message over %llu bytes",
		    (unsigned long long)s->cfg->max_message);
		return -1;
	}
	if (s->state == IMAP_ST_NOAUTH || s->tmpdir[0] == '\0') {
		(void)str_fmt(err->text, sizeof(err->text), "log in first");
		return -1;
	}
	if (s->spool_fd < 0) {
		if (str_fmt(path, sizeof(path), "%s/appendXXXXXX", s->tmpdir) < 0 ||
		    (mkdir_p(s->tmpdir, 0700) < 0) || (s->spool_fd = mkstemp(path)) < 0) {
			(void)str_fmt(err->text, sizeof(err->text), "%s",
			    imap_write_text(errno, "[SERVERBUG] no spool file"));
			return -1;
		}
		(void)unlink(path);
	}
	if (ftruncate(s->spool_fd, 0) < 0 || lseek(s->spool_fd, 0, SEEK_SET) < 0) {
		(void)str_fmt(err->text, sizeof(err->text), "[SERVERBUG] spool file");
		return -1;
	}
	return s->spool_fd;
}

static void
reply_tagged(struct imap *s, int rc)
{
	const char *tag = s->cmd.tag[0] != '\0' ? s->cmd.tag : NULL;

	switch (rc) {
	case IMAP_OK:
		imap_tagged(s->io, tag, "OK %s%s%s completed", s->ok_code,
		    s->ok_code[0] != '\0' ? " " : "", s->cmd.verb);
		s->bad = 0;
		break;
	case IMAP_NO:
		imap_tagged(s->io, tag, "NO %s", s->err.text);
		break;
	case IMAP_BAD:
		imap_tagged(s->io, tag, "BAD %s", s->err.text);
		s->bad++;
		break;
	default:
		break;
	}
}

/* Check the command against the table and the state, parse its arguments, run it. */
static int
dispatch(struct imap *s)
{
	const struct imap_cmd_def *d = imap_cmd_find(s->cmd.verb);
	int rc;

	s->ok_code[0] = '\0';
	if (d == NULL) {
		return imap_fail(s, IMAP_BAD, "unknown command");
	}
	if (s->cmd.uid && !(d->flags & IMAP_CF_UID)) {
		return imap_fail(s, IMAP_BAD, "UID %s does not exist", d->verb);
	}
	if (!(d->states & s->state)) {
		return imap_fail(s, IMAP_BAD, "%s not allowed %s", d->verb,
		    s->state == IMAP_ST_NOAUTH ? "before login" :
		    d->states == IMAP_ST_NOAUTH ? "after login" : "without a selected mailbox");
	}
	memset(&s->args, 0, sizeof(s->args));
	rc = d->parse(&s->cmd, s->utf8, &s->args, &s->err);
	if (rc != IMAP_OK) {
		return rc;
	}
	/*
	 * Message commands start from the folder as it is now (others' flags, keywords, new
	 * mail); expunges are told first only when no sequence numbers are involved.
	 */
	if ((d->flags & IMAP_CF_UID) && s->state == IMAP_ST_SELECTED) {
		imap_update(s, s->cmd.uid);
		if (s->state != IMAP_ST_SELECTED) {
			return imap_fail(s, IMAP_NO, "[NONEXISTENT] mailbox went away");
		}
	}
	rc = d->run(s);
	if (rc != IMAP_DONE && rc != IMAP_BYE && rc != IMAP_GONE) {
		imap_update(s, !(d->flags & IMAP_CF_SEQ) || s->cmd.uid);
	}
	return rc;
}

/* One command: read, run, answer. 0 to go on, -1 to end the session. */
static int
one_command(struct imap *s, const struct imap_read_ops *ops)
{
	int rc;

	s->err.text[0] = '\0';
	rc = imap_read_command(s->io, &s->cmd, ops, &s->err);
	if (rc == IMAP_OK) {
		rc = dispatch(s);
	}
	if (rc == IMAP_BYE) {
		if (s->err.io_rc == IO_TIMEOUT) {
			log_info("timeout from %s", s->io->peer);
		}
		imap_untagged(s->io, "BYE %s", s->err.text[0] != '\0' ? s->err.text : "closing");
	}
	reply_tagged(s, rc);
	imap_cmd_wipe(&s->cmd);
	if (rc == IMAP_GONE) {
		log_info("connection closed by %s", s->io->peer);
	}
	if (rc == IMAP_BYE || rc == IMAP_GONE || s->io->failed || s->state == IMAP_ST_LOGOUT) {
		return -1;
	}
	if (s->bad >= IMAP_BAD_CMDS_MAX) {
		log_warnx("imap: too many bad commands from %s, closing", s->io->peer);
		imap_untagged(s->io, "BYE too many bad commands");
		return -1;
	}
	return 0;
}

int
imap_session(const struct session_ctx *ctx, struct io *io)
{
	struct imap *s = calloc(1, sizeof(*s));
	struct imap_read_ops ops;
	char caps[IMAP_CAPS_MAX];
	int logged_in;

	if (s == NULL) {
		log_warn("imap: session state");
		return 1;
	}
	s->ctx = ctx;
	s->cfg = ctx->cfg;
	s->io = io;
	s->state = IMAP_ST_NOAUTH;
	s->spool_fd = -1;
	memset(&ops, 0, sizeof(ops));
	ops.ctx = s;
	ops.spool = spool_cb;
	/*
	 * LITERAL+ (RFC 7888): {n+} is taken up to the APPEND limit; a larger one, or an
	 * inline one past IMAP_CMD_MAX, is refused the LITERAL- way (BAD [TOOBIG]) after
	 * reading and dropping its bytes, so the stream stays in step.
	 */
	ops.nonsync_max = s->cfg->max_message < UINT32_MAX ? (uint32_t)s->cfg->max_message : UINT32_MAX;
	imap_capability(s, caps, sizeof(caps));
	imap_untagged(io, "OK [%s] %s IMAP4rev1 server ready", caps, s->cfg->hostname);
	while (one_command(s, &ops) == 0) {
	}
	logged_in = s->state != IMAP_ST_NOAUTH && s->user[0] != '\0';
	/* the client has its answer before a last close may compact the folder */
	(void)io_flush(io);
	imap_deselect(s);
	io_close(io);
	if (s->spool_fd >= 0) {
		close(s->spool_fd);
	}
	if (logged_in) {
		log_info("logout user=%s fetch=%u store=%u append=%u expunge=%u in=%llu out=%llu",
		    s->user, s->n_fetch, s->n_store, s->n_append, s->n_expunge,
		    (unsigned long long)io->bytes_in, (unsigned long long)io->bytes_out);
	}
	imap_cmd_free(&s->cmd);
	wipe(s, sizeof(*s));
	free(s);
	return 0;
}
