/*
 * IMAP commands on messages: APPEND, EXPUNGE, SEARCH (ESEARCH), FETCH's entry, STORE,
 * COPY and MOVE (UIDPLUS codes). Message bytes stay in the mbox; these go through the
 * store and imap_search. Runs unprivileged in the session process.
 */
#include "imap_cmd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "imap_reply.h"
#include "imap_search.h"
#include "log.h"
#include "mime.h"
#include "util.h"

/* Bytes the user may still add (UINT64_MAX: no quota). */
static uint64_t
quota_left(struct imap *s)
{
	uint64_t used = 0;

	if (s->quota == 0) {
		return UINT64_MAX;
	}
	if (store_usage(s->cfg, s->user, &used) != STORE_OK) {
		return 0;
	}
	return s->quota > used ? s->quota - used : 0;
}

/* Paths of an existing destination folder; NO [TRYCREATE] when it is missing. */
static int
dest_paths(struct imap *s, const char *name, char *mbox, char *side)
{
	int rc = imap_folder_paths(s, name, mbox, side);

	if (rc != IMAP_OK) {
		return rc;
	}
	if (strcmp(name, "INBOX") == 0) {
		struct store_folder f;

		/* INBOX always exists: make its mbox if no mail ever came */
		rc = store_open(&f, mbox, side, STORE_RDWR | STORE_CREATE);
		if (rc != STORE_OK) {
			return imap_store_fail(s, rc);
		}
		store_close(&f);
		return IMAP_OK;
	}
	if (!folders_exists(s->cfg, s->user, name)) {
		return imap_fail(s, IMAP_NO, "[TRYCREATE] no such mailbox");
	}
	return IMAP_OK;
}

/* Keyword bits in the table of side for names; IMAP_NO when the table is full. */
static int
keyword_bits(struct imap *s, const char *side, struct store_keywords *kw,
    const struct imap_flags *fl, int add, uint64_t *bits)
{
	size_t k;

	*bits = 0;
	for (k = 0; k < fl->nkw; k++) {
		int b;

		errno = 0;
		b = store_kw_find(side, kw, fl->kw[k].s, add);
		if (b >= 0) {
			*bits |= (uint64_t)1 << b;
		} else if (add) {
			/* a full table fails without a system call; a full disk with ENOSPC */
			return imap_fail(s, IMAP_NO, "%s", imap_write_text(errno,
			    "[LIMIT] too many keywords in this mailbox"));
		}
	}
	return IMAP_OK;
}

int
imap_cmd_append(struct imap *s)
{
	const struct imap_append_args *a = &s->args.append;
	char mbox[PATH_LEN], side[PATH_LEN];
	struct store_keywords *kw;
	struct store_put p;
	uint32_t uv = 0, uid = 0;
	int rc = dest_paths(s, a->mbox, mbox, side);

	if (rc != IMAP_OK) {
		return rc;
	}
	kw = calloc(1, sizeof(*kw));
	if (kw == NULL || store_kw_load(side, kw) < 0) {
		store_kw_free(kw);
		return imap_fail(s, IMAP_NO, "[SERVERBUG] keyword table");
	}
	p.flags = a->flags.sys & STORE_FLAGS_ALL;
	p.date = a->has_date ? a->date.t : -1;
	rc = keyword_bits(s, side, kw, &a->flags, 1, &p.keywords);
	store_kw_free(kw);
	if (rc != IMAP_OK) {
		return rc;
	}
	if (lseek(a->msg.fd, a->msg.off, SEEK_SET) < 0) {
		return imap_fail(s, IMAP_NO, "[SERVERBUG] spool file");
	}
	rc = store_imap_append(mbox, side, a->msg.fd, &p, s->cfg->max_message, quota_left(s),
	    &uv, &uid);
	if (rc != STORE_OK) {
		return imap_store_fail(s, rc);
	}
	s->n_append++;
	(void)str_fmt(s->ok_code, sizeof(s->ok_code), "[APPENDUID %u %u]", uv, uid);
	return IMAP_OK;
}

/* ---- EXPUNGE ---- */

int
imap_expunge_deleted(struct imap *s, const struct imap_seqset *set)
{
	uint32_t *uids = malloc(((size_t)s->exists + 1) * sizeof(*uids));
	uint32_t i, n = 0, star = s->exists > 0 ? s->f.msgs[s->exists - 1].uid : 0;
	int rc;

	if (uids == NULL) {
		return imap_fail(s, IMAP_NO, "[SERVERBUG] out of memory");
	}
	for (i = 0; i < s->exists; i++) {
		const struct store_msg *m = &s->f.msgs[i];

		/* \Deleted as stored when the store takes its lock decides, not this view */
		if (!(m->flags & STORE_EXPUNGED) &&
		    (set == NULL || imap_seq_contains(set, m->uid, star))) {
			uids[n++] = m->uid;
		}
	}
	rc = store_expunge_deleted(&s->f, uids, n);
	free(uids);
	return rc == STORE_OK ? IMAP_OK : imap_store_fail(s, rc);
}

int
imap_cmd_expunge(struct imap *s)
{
	if (s->readonly) {
		return imap_fail(s, IMAP_NO, "[READ-ONLY] mailbox is read-only");
	}
	return imap_expunge_deleted(s, s->cmd.uid ? &s->args.set : NULL);
}

/* ---- SEARCH ---- */

struct search_ctx {
	struct imap *s;
	uint32_t i;
	const char *field;		/* header wanted by a HEADER key */
	struct imap_match *m;
	struct imap_time date;
	int have_date;
	struct mime_walk *w;		/* made at the first message read, kept for the command */
	struct mbox_reader *r;		/* likewise */
};

/* The reader and walker for reading messages, made the first time. */
static int
readers(struct search_ctx *c)
{
	if (c->r == NULL && (c->r = malloc(sizeof(*c->r))) == NULL) {
		return -1;
	}
	if (c->w == NULL && (c->w = mime_walk_new()) == NULL) {
		return -1;
	}
	return 0;
}

static int
sk_keyword(void *ctx, const char *kw, int *has)
{
	struct search_ctx *c = ctx;
	uint32_t b;

	*has = 0;
	for (b = 0; b < c->s->f.kw->n; b++) {
		if (str_ieq(c->s->f.kw->name[b], kw)) {
			*has = (store_msg_keywords(&c->s->f, c->i) >> b) & 1;
		}
	}
	return 0;
}

/* Run mime_search_walk over message c->i; a message gone meanwhile matches nothing. */
static int
walk(struct search_ctx *c, mime_hdr_fn hdr, mime_sink_fn text)
{
	int rc;

	if (readers(c) != 0) {
		return -1;
	}
	rc = store_msg_open(&c->s->f, c->i, c->r);
	if (rc == STORE_OK) {
		struct mime_src src = store_msg_src(c->r);

		rc = mime_search_walk(c->w, &src, hdr, text, c) < 0 ? -1 : 0;
		store_msg_close(&c->s->f, c->r);
	} else {
		rc = rc == STORE_GONE ? 0 : -1;
	}
	return rc;
}

/*
 * The cached structure of message c->i, parsed into the cache on a miss: 1, or 0 when
 * it cannot be had (gone, unreadable, too large to describe; walk() then decides).
 */
static int
cached(struct search_ctx *c, struct mime_cached *out)
{
	int rc = store_structure_get(&c->s->f, c->i, out);

	if (rc != 0 || readers(c) != 0) {
		return rc == 1;
	}
	if (store_msg_open(&c->s->f, c->i, c->r) == STORE_OK) {
		struct mime_src src = store_msg_src(c->r);

		rc = store_structure_put(&c->s->f, c->i, &src, out) == 0;
		store_msg_close(&c->s->f, c->r);
	}
	return rc;
}

static int
date_val(void *ctx, const char *val, size_t vlen)
{
	struct search_ctx *c = ctx;

	c->have_date = imap_rfc5322_date(val, vlen, &c->date) == 0;
	return 1;
}

static int
date_hdr(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
	return nlen == 4 && str_ieq_n(name, "DATE", 4) ? date_val(ctx, val, vlen) : 0;
}

static int
sk_sent(void *ctx, struct imap_time *t, int *have)
{
	struct search_ctx *c = ctx;
	struct mime_cached mc;
	int rc = 0;

	c->have_date = 0;
	if (cached(c, &mc)) {
		(void)mime_cached_field(&mc, MIME_F_DATE, date_val, c);
	} else {
		rc = walk(c, date_hdr, NULL);
	}
	*have = c->have_date;
	*t = c->date;
	return rc;
}

/* One value (or parsed address) of the field: a match never spans two. */
static int
field_val(void *ctx, const char *val, size_t vlen)
{
	struct search_ctx *c = ctx;

	imap_match_reset(c->m);
	return imap_match_feed(c->m, val, vlen);
}

static int
field_hdr(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
	struct search_ctx *c = ctx;

	if (strlen(c->field) == nlen && str_ieq_n(name, c->field, nlen)) {
		return field_val(ctx, val, vlen);
	}
	return 0;
}

/* Address and subject fields come from the structure cache, other fields from the header. */
static int
sk_header(void *ctx, const char *field, struct imap_match *m)
{
	struct search_ctx *c = ctx;
	struct mime_cached mc;
	int f = mime_field_lookup(field, strlen(field));

	c->field = field;
	c->m = m;
	if (f >= 0 && mime_cache_searchable((enum mime_field)f) && cached(c, &mc)) {
		(void)mime_cached_field(&mc, (enum mime_field)f, field_val, c);
		return 0;
	}
	return walk(c, field_hdr, NULL);
}

static int
all_hdr(void *ctx, const char *name, size_t nlen, const char *val, size_t vlen)
{
	struct search_ctx *c = ctx;

	imap_match_reset(c->m);
	return imap_match_feed(c->m, name, nlen) || imap_match_feed(c->m, ": ", 2) ||
	    imap_match_feed(c->m, val, vlen);
}

static int
text_sink(void *ctx, const char *p, size_t n)
{
	struct search_ctx *c = ctx;

	return imap_match_feed(c->m, p, n);
}

static int
sk_text(void *ctx, int whole, struct imap_match *m)
{
	struct search_ctx *c = ctx;

	c->m = m;
	return walk(c, whole ? all_hdr : NULL, text_sink);
}

/* "n,n:m,..." of ascending numbers v[0..n). */
static void
put_set(struct io *io, const uint32_t *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j + 1 < n && v[j + 1] == v[j] + 1) {
			j++;
		}
		io_printf(io, i > 0 ? ",%u" : "%u", v[i]);
		if (j > i) {
			io_printf(io, ":%u", v[j]);
		}
		i = j + 1;
	}
}

static void
search_reply(struct imap *s, const uint32_t *v, size_t n)
{
	const struct imap_search_args *a = &s->args.search;
	size_t i;

	if (!a->esearch) {
		io_puts(s->io, "* SEARCH");
		for (i = 0; i < n; i++) {
			io_printf(s->io, " %u", v[i]);
		}
		io_puts(s->io, "\r\n");
		return;
	}
	io_puts(s->io, "* ESEARCH (TAG ");
	imap_put_string(s->io, s->cmd.tag, strlen(s->cmd.tag));
	io_puts(s->io, s->cmd.uid ? ") UID" : ")");
	if ((a->ret & IMAP_RET_MIN) && n > 0) {
		io_printf(s->io, " MIN %u", v[0]);
	}
	if ((a->ret & IMAP_RET_MAX) && n > 0) {
		io_printf(s->io, " MAX %u", v[n - 1]);
	}
	if (a->ret & IMAP_RET_COUNT) {
		io_printf(s->io, " COUNT %zu", n);
	}
	if ((a->ret & IMAP_RET_ALL) && n > 0) {
		io_puts(s->io, " ALL ");
		put_set(s->io, v, n);
	}
	io_puts(s->io, "\r\n");
}

int
imap_cmd_search(struct imap *s)
{
	static const struct imap_search_ops ops = { sk_keyword, sk_sent, sk_header, sk_text };
	struct imap_search_env env;
	struct imap_search_msg sm;
	struct search_ctx c;
	uint32_t *v = malloc(((size_t)s->exists + 1) * sizeof(*v));
	size_t n = 0;
	int rc = 0;

	if (v == NULL) {
		return imap_fail(s, IMAP_NO, "[SERVERBUG] out of memory");
	}
	memset(&c, 0, sizeof(c));
	c.s = s;
	env.m = calloc(1, sizeof(*env.m));
	if (env.m == NULL) {
		free(v);
		return imap_fail(s, IMAP_NO, "[SERVERBUG] out of memory");
	}
	env.max_seq = s->exists;
	env.max_uid = s->exists > 0 ? s->f.msgs[s->exists - 1].uid : 0;
	env.now = (int64_t)time(NULL);
	store_msg_batch(&s->f, 1);
	for (c.i = 0; c.i < s->exists && rc >= 0; c.i++) {
		const struct store_msg *m = &s->f.msgs[c.i];
		struct mbox_entry e;

		/* an unreadable record (I/O error): size and date 0 */
		(void)store_msg_entry(&s->f, c.i, &e);
		memset(&sm, 0, sizeof(sm));
		sm.seq = c.i + 1;
		sm.uid = m->uid;
		sm.size = e.wire_size;
		sm.flags = m->flags & STORE_FLAGS_ALL;
		if (imap_is_recent(s, m->uid)) {
			sm.flags |= IMAP_F_RECENT;
		}
		sm.internal.t = e.date;
		rc = imap_search_eval(s->args.search.key, &sm, &env, &ops, &c);
		if (rc == 1) {
			v[n++] = s->cmd.uid ? m->uid : c.i + 1;
		}
	}
	store_msg_batch(&s->f, 0);
	free(env.m);
	store_structure_flush(&s->f);
	mime_walk_free(c.w);
	free(c.r);
	if (rc < 0) {
		free(v);
		return imap_fail(s, IMAP_NO, "[SERVERBUG] search failed");
	}
	search_reply(s, v, n);
	free(v);
	return IMAP_OK;
}

/* ---- FETCH, STORE ---- */

int
imap_cmd_fetch(struct imap *s)
{
	uint32_t *idx;
	size_t n;
	int rc = imap_resolve(s, &s->args.fetch.set, s->cmd.uid, &idx, &n);

	if (rc != IMAP_OK) {
		return rc;
	}
	rc = imap_fetch(s, idx, n);
	free(idx);
	s->n_fetch++;
	return rc;
}

/* The change a STORE makes: FLAGS replaces, +FLAGS adds, -FLAGS removes. */
static void
store_op(enum imap_store_mode mode, uint32_t sys, uint64_t kw, struct store_flagop *op)
{
	memset(op, 0, sizeof(*op));
	if (mode == IMAP_STORE_REMOVE) {
		op->clear = sys;
		op->kw_clear = kw;
		return;
	}
	op->set = sys;
	op->kw_set = kw;
	if (mode != IMAP_STORE_ADD) {
		op->clear = STORE_FLAGS_ALL;
		op->kw_clear = ~(uint64_t)0;
	}
}

/* Change the flags of msgs[idx[0..n)] as stored now, answering with FETCH unless silent. */
static int
store_each(struct imap *s, const uint32_t *idx, size_t n, uint64_t kwbits)
{
	const struct imap_store_args *a = &s->args.store;
	struct store_flagop op;
	size_t k;

	store_op(a->mode, a->flags.sys & STORE_FLAGS_ALL, kwbits, &op);
	for (k = 0; k < n; k++) {
		int rc;

		if (s->f.msgs[idx[k]].flags & STORE_EXPUNGED) {
			continue;
		}
		rc = store_change_flags(&s->f, idx[k], &op);
		if (rc != STORE_OK) {
			return imap_store_fail(s, rc);
		}
		if (!a->silent) {
			/* the flags as stored now, others' changes included: nothing left to tell */
			io_printf(s->io, "* %u FETCH (", idx[k] + 1);
			imap_put_msg_flags(s, idx[k]);
			if (s->cmd.uid) {
				io_printf(s->io, " UID %u", s->f.msgs[idx[k]].uid);
			}
			io_puts(s->io, ")\r\n");
			store_imap_ack_changed(&s->f, idx[k]);
			store_imap_told(&s->f, idx[k]);
		}
	}
	return IMAP_OK;
}

int
imap_cmd_store(struct imap *s)
{
	const struct imap_store_args *a = &s->args.store;
	uint32_t kw_before = s->f.kw->n, *idx;
	uint64_t kwbits;
	size_t n;
	int rc;

	if (s->readonly) {
		return imap_fail(s, IMAP_NO, "[READ-ONLY] mailbox is read-only");
	}
	rc = imap_resolve(s, &a->set, s->cmd.uid, &idx, &n);
	if (rc != IMAP_OK) {
		return rc;
	}
	rc = keyword_bits(s, s->f.side_base, s->f.kw, &a->flags, a->mode != IMAP_STORE_REMOVE, &kwbits);
	if (rc == IMAP_OK && s->f.kw->n != kw_before) {
		imap_put_flag_lists(s);
	}
	if (rc == IMAP_OK) {
		rc = store_each(s, idx, n, kwbits);
	}
	free(idx);
	s->n_store++;
	return rc;
}

/* ---- COPY, MOVE ---- */

/* Copy the resolved messages; writes "[COPYUID ...]" into io when code (untagged or tagged). */
static int
copy_to(struct imap *s, const uint32_t *idx, size_t n, uint32_t **dst_out, uint32_t *uv)
{
	char mbox[PATH_LEN], side[PATH_LEN];
	uint32_t *dst;
	int rc = dest_paths(s, s->args.mbox, mbox, side);

	if (rc != IMAP_OK) {
		return rc;
	}
	dst = calloc(n + 1, sizeof(*dst));
	if (dst == NULL) {
		return imap_fail(s, IMAP_NO, "[SERVERBUG] out of memory");
	}
	rc = store_imap_copy(&s->f, s->f.kw, idx, n, mbox, side, s->tmpdir, s->cfg->max_message,
	    quota_left(s), uv, dst);
	if (rc != STORE_OK) {
		free(dst);
		return imap_store_fail(s, rc);
	}
	*dst_out = dst;
	return IMAP_OK;
}

/* "COPYUID uv src dst" of the messages that were copied (dst[k] != 0). */
static void
put_copyuid(struct imap *s, const uint32_t *src, const uint32_t *dst, size_t n, uint32_t uv)
{
	uint32_t *from = malloc((n + 1) * sizeof(*from)), *to = malloc((n + 1) * sizeof(*to));
	size_t k, m = 0;

	if (from == NULL || to == NULL) {
		free(from);
		free(to);
		return;
	}
	for (k = 0; k < n; k++) {
		if (dst[k] != 0) {
			from[m] = src[k];
			to[m++] = dst[k];
		}
	}
	if (m > 0) {
		io_printf(s->io, "[COPYUID %u ", uv);
		put_set(s->io, from, m);
		io_puts(s->io, " ");
		put_set(s->io, to, m);
		io_puts(s->io, "] ");
	}
	free(from);
	free(to);
}

/* Expunge the copied sources of a MOVE. */
static int
expunge_moved(struct imap *s, const uint32_t *src, const uint32_t *dst, size_t n)
{
	uint32_t *uids = malloc((n + 1) * sizeof(*uids));
	size_t k, m = 0;
	int rc;

	if (uids == NULL) {
		return imap_fail(s, IMAP_NO, "[SERVERBUG] out of memory");
	}
	for (k = 0; k < n; k++) {
		if (dst[k] != 0) {
			uids[m++] = src[k];
		}
	}
	rc = store_expunge(&s->f, uids, m);
	free(uids);
	return rc == STORE_OK ? IMAP_OK : imap_store_fail(s, rc);
}

/*
 * The source UIDs are taken when the set is resolved: the update before the reply
 * drops expunged messages from msgs[], after which idx[] would name others.
 */
static int
copy_or_move(struct imap *s, int move)
{
	uint32_t *idx = NULL, *src = NULL, *dst = NULL, uv = 0;
	size_t k, n;
	int rc;

	if (move && s->readonly) {
		return imap_fail(s, IMAP_NO, "[READ-ONLY] mailbox is read-only");
	}
	rc = imap_resolve(s, &s->args.set, s->cmd.uid, &idx, &n);
	if (rc == IMAP_OK && n > 0) {
		src = malloc(n * sizeof(*src));
		rc = src != NULL ? IMAP_OK : imap_fail(s, IMAP_NO, "[SERVERBUG] out of memory");
	}
	for (k = 0; rc == IMAP_OK && k < n; k++) {
		src[k] = s->f.msgs[idx[k]].uid;
	}
	if (rc == IMAP_OK && n > 0) {
		rc = copy_to(s, idx, n, &dst, &uv);
	}
	free(idx);
	if (rc != IMAP_OK || n == 0) {
		free(src);
		return rc;
	}
	if (move) {
		io_puts(s->io, "* OK ");
		put_copyuid(s, src, dst, n, uv);
		io_puts(s->io, "moved\r\n");
		rc = expunge_moved(s, src, dst, n);
		imap_update(s, 1);
		if (rc == IMAP_OK) {
			imap_tagged(s->io, s->cmd.tag, "OK MOVE completed");
		}
	} else {
		imap_update(s, s->cmd.uid);
		io_printf(s->io, "%s OK ", s->cmd.tag);
		put_copyuid(s, src, dst, n, uv);
		io_puts(s->io, "COPY completed\r\n");
	}
	free(src);
	free(dst);
	return rc == IMAP_OK ? IMAP_DONE : rc;
}

int
imap_cmd_copy(struct imap *s)
{
	return copy_or_move(s, 0);
}

int
imap_cmd_move(struct imap *s)
{
	return copy_or_move(s, 1);
}
