/*
 * FETCH: flags, dates and sizes from the index; ENVELOPE, BODY and BODYSTRUCTURE from the
 * per-folder structure cache (a message is parsed once, ever); BODY[section]<partial>
 * streamed from the mbox with LF sent as CRLF. Every literal's count is the bytes sent.
 * Runs unprivileged in the session process.
 */
#include "imap.h"

#include <stdlib.h>
#include <string.h>

#include "date.h"
#include "imap_envelope.h"
#include "imap_reply.h"
#include "log.h"
#include "mime.h"
#include "util.h"

/* One message being answered. */
struct fetch_msg {
	struct imap *s;
	uint32_t i;
	struct mbox_reader *r;		/* open (read lock held) when open is set */
	struct mime_src src;		/* the MIME parser's view of r */
	int open;
	int have_cache;
	struct mime_cached mc;
	uint32_t sent;			/* bytes of the current literal sent */
};

void
imap_put_msg_flags(struct imap *s, uint32_t i)
{
	const struct store_msg *m = &s->f.msgs[i];

	io_puts(s->io, "FLAGS ");
	imap_put_flags(s->io, m->flags & STORE_FLAGS_ALL, store_msg_keywords(&s->f, i), s->f.kw,
	    imap_is_recent(s, m->uid));
}

static int
sink(void *ctx, const char *p, size_t n)
{
	struct fetch_msg *fm = ctx;

	io_write(fm->s->io, p, n);
	fm->sent += (uint32_t)n;
	return fm->s->io->failed ? -1 : 0;
}

/*
 * Position the reader at the start of the message, opening it (and taking the mbox read
 * lock until the message is answered) the first time; -1 if it is gone or unreadable.
 */
static int
open_reader(struct fetch_msg *fm)
{
	if (!fm->open) {
		if (store_msg_open(&fm->s->f, fm->i, fm->r) != STORE_OK) {
			return -1;
		}
		fm->src = store_msg_src(fm->r);
		fm->open = 1;
		return 0;
	}
	store_msg_rewind(&fm->s->f, fm->i, fm->r);
	return 0;
}

/* The message's cached structure, parsing it into the cache the first time. */
static int
structure(struct fetch_msg *fm)
{
	int rc;

	if (fm->have_cache) {
		return 0;
	}
	rc = store_structure_get(&fm->s->f, fm->i, &fm->mc);
	if (rc == 0) {
		rc = open_reader(fm) == 0 &&
		    store_structure_put(&fm->s->f, fm->i, &fm->src, &fm->mc) == 0 ? 1 : -1;
	}
	fm->have_cache = rc == 1;
	return rc == 1 ? 0 : -1;
}

/* A literal of len bytes from range rg; short reads are padded so the count holds. */
static void
send_range(struct fetch_msg *fm, struct mime_range rg)
{
	struct io *io = fm->s->io;

	io_printf(io, "{%u}\r\n", rg.len);
	fm->sent = 0;
	if (rg.len > 0 && mime_copy_range(&fm->src, rg, sink, fm) < 0) {
		log_warnx("imap: message %u of %s shorter than indexed", fm->s->f.msgs[fm->i].uid,
		    fm->s->mbox_name);
	}
	while (fm->sent < rg.len && !io->failed) {
		io_write(io, " ", 1);
		fm->sent++;
	}
}

/* Cut [rg] by <origin.count>. */
static struct mime_range
partial(struct mime_range rg, const struct imap_section *sec)
{
	if (!sec->partial) {
		return rg;
	}
	if (sec->origin >= rg.len) {
		rg.off += rg.len;
		rg.len = 0;
		return rg;
	}
	rg.off += sec->origin;
	rg.len -= sec->origin;
	if (rg.len > sec->count) {
		rg.len = sec->count;
	}
	return rg;
}

static int
buf_sink(void *ctx, const char *p, size_t n)
{
	return imap_buf_add(ctx, p, n);
}

/* HEADER.FIELDS (NOT): filtered into memory first, to know the literal size. */
static void
send_fields(struct fetch_msg *fm, const struct imap_section *sec, struct mime_range hdr)
{
	const char *names[IMAP_FIELDS_MAX];
	struct imap_buf b;
	size_t k, off, len;

	for (k = 0; k < sec->nfields && k < IMAP_FIELDS_MAX; k++) {
		names[k] = sec->fields[k].s;
	}
	imap_buf_init(&b, (size_t)hdr.len + 2);
	if (mime_copy_fields(&fm->src, hdr, names, k, sec->kind == IMAP_SEC_FIELDS_NOT, buf_sink,
	    &b) < 0 || b.err) {
		b.len = 0;
	}
	off = sec->partial ? (sec->origin < b.len ? sec->origin : b.len) : 0;
	len = b.len - off;
	if (sec->partial && len > sec->count) {
		len = sec->count;
	}
	io_printf(fm->s->io, "{%zu}\r\n", len);
	io_write(fm->s->io, b.p != NULL ? b.p + off : "", len);
	imap_buf_free(&b);
}

static enum mime_sect
sect_kind(enum imap_section_kind k)
{
	switch (k) {
	case IMAP_SEC_HEADER:
	case IMAP_SEC_FIELDS:
	case IMAP_SEC_FIELDS_NOT:
		return MIME_SECT_HEADER;
	case IMAP_SEC_TEXT:
		return MIME_SECT_TEXT;
	case IMAP_SEC_MIME:
		return MIME_SECT_MIME;
	default:
		return MIME_SECT_PART;
	}
}

/* "BODY[sec]<origin> literal" (or label given for the RFC822 forms). */
static void
send_section(struct fetch_msg *fm, const struct imap_section *sec, const char *label)
{
	struct io *io = fm->s->io;
	struct mime_range rg;
	char text[512];

	if (label != NULL) {
		io_puts(io, label);
	} else if (imap_section_fmt(sec, text, sizeof(text)) >= 0) {
		io_printf(io, "BODY[%s]", text);
		if (sec->partial) {
			io_printf(io, "<%u>", sec->origin);
		}
	} else {
		io_puts(io, "BODY[]");
	}
	io_puts(io, " ");
	if (structure(fm) < 0 || mime_section(fm->mc.spans, fm->mc.nspans, sec->part, sec->nparts,
	    sect_kind(sec->kind), &rg) < 0 || open_reader(fm) < 0) {
		io_puts(io, "\"\"");
		return;
	}
	if (sec->kind == IMAP_SEC_FIELDS || sec->kind == IMAP_SEC_FIELDS_NOT) {
		send_fields(fm, sec, rg);
		return;
	}
	send_range(fm, partial(rg, sec));
}

static void
put_internaldate(struct io *io, int64_t t)
{
	struct date_civil c;

	/* The mbox keeps dates from 1970 to 9999 (From_ lines with four-digit years). */
	date_from_time(t < 0 ? 0 : t > DATE_MAX ? DATE_MAX : t, &c);
	io_printf(io, "INTERNALDATE \"%02u-%s-%04lld %02u:%02u:%02u +0000\"", c.day,
	    date_month_names[c.month - 1], (long long)c.year, c.hour, c.min, c.sec);
}

static void
body_out(void *ctx, const char *s, size_t n)
{
	io_write(ctx, s, n);
}

/* ENVELOPE, BODY or BODYSTRUCTURE from the cache. */
static void
send_struct(struct fetch_msg *fm, const char *label, int which)
{
	struct io *io = fm->s->io;

	io_printf(io, "%s ", label);
	if (structure(fm) < 0) {
		/* unparsable: a plain text body keeps the client going */
		io_puts(io, which == 0 ? "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" :
		    "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
		return;
	}
	if (which == 0) {
		mime_cached_envelope(&fm->mc, body_out, io);
	} else if (which == 1) {
		/* BODY is BODYSTRUCTURE less extension data; the cache keeps only the latter */
		if (imap_body_of(fm->mc.bodystructure, fm->mc.bodystructure_len, body_out, io) != 0) {
			io_puts(io, "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 0 0)");
		}
	} else {
		io_write(io, fm->mc.bodystructure, fm->mc.bodystructure_len);
	}
}

static void
send_att(struct fetch_msg *fm, const struct imap_fetch_att *a)
{
	struct imap *s = fm->s;
	const struct store_msg *m = &s->f.msgs[fm->i];
	struct imap_section whole;
	struct mbox_entry e;

	memset(&whole, 0, sizeof(whole));
	switch (a->kind) {
	case IMAP_FA_FLAGS:
		imap_put_msg_flags(s, fm->i);
		break;
	case IMAP_FA_UID:
		io_printf(s->io, "UID %u", m->uid);
		break;
	case IMAP_FA_INTERNALDATE:
		(void)store_msg_entry(&s->f, fm->i, &e);	/* zeros on an I/O error */
		put_internaldate(s->io, e.date);
		break;
	case IMAP_FA_RFC822_SIZE:
		(void)store_msg_entry(&s->f, fm->i, &e);
		io_printf(s->io, "RFC822.SIZE %u", e.wire_size);
		break;
	case IMAP_FA_ENVELOPE:
		send_struct(fm, "ENVELOPE", 0);
		break;
	case IMAP_FA_BODY:
		send_struct(fm, "BODY", 1);
		break;
	case IMAP_FA_BODYSTRUCTURE:
		send_struct(fm, "BODYSTRUCTURE", 2);
		break;
	case IMAP_FA_RFC822:
		send_section(fm, &whole, "RFC822");
		break;
	case IMAP_FA_RFC822_HEADER:
		whole.kind = IMAP_SEC_HEADER;
		send_section(fm, &whole, "RFC822.HEADER");
		break;
	case IMAP_FA_RFC822_TEXT:
		whole.kind = IMAP_SEC_TEXT;
		send_section(fm, &whole, "RFC822.TEXT");
		break;
	case IMAP_FA_SECTION:
		send_section(fm, &a->sec, NULL);
		break;
	}
}

/* Does the item list set \Seen (non-PEEK body, RFC822, RFC822.TEXT)? Ask for FLAGS? */
static void
scan_atts(const struct imap_fetch_args *fa, int *sets_seen, int *has_flags, int *has_uid)
{
	size_t k;

	*sets_seen = *has_flags = *has_uid = 0;
	for (k = 0; k < fa->natt; k++) {
		const struct imap_fetch_att *a = &fa->att[k];

		*sets_seen |= a->kind == IMAP_FA_RFC822 || a->kind == IMAP_FA_RFC822_TEXT ||
		    (a->kind == IMAP_FA_SECTION && !a->sec.peek);
		*has_flags |= a->kind == IMAP_FA_FLAGS;
		*has_uid |= a->kind == IMAP_FA_UID;
	}
}

static int
fetch_one(struct imap *s, struct fetch_msg *fm, int sets_seen, int has_flags, int has_uid)
{
	const struct imap_fetch_args *fa = &s->args.fetch;
	const struct store_msg *m = &s->f.msgs[fm->i];
	int seen_now = 0, rc;
	size_t k;

	if (m->flags & STORE_EXPUNGED) {
		return IMAP_OK;	/* expunged by another session: nothing to say (RFC 2180 4.1.3) */
	}
	fm->have_cache = 0;
	fm->open = 0;
	if (sets_seen && !s->readonly && !(m->flags & STORE_SEEN)) {
		static const struct store_flagop seen = { STORE_SEEN, 0, 0, 0 };

		rc = store_change_flags(&s->f, fm->i, &seen);
		if (rc != STORE_OK) {
			return imap_fail(s, IMAP_NO, "[UNAVAILABLE] %s", store_strerror(rc));
		}
		seen_now = 1;
		m = &s->f.msgs[fm->i];	/* msgs[] may have moved while catching up */
	}
	io_printf(s->io, "* %u FETCH (", fm->i + 1);
	if (s->cmd.uid && !has_uid) {
		io_printf(s->io, "UID %u%s", m->uid, fa->natt > 0 ? " " : "");
	}
	for (k = 0; k < fa->natt; k++) {
		if (k > 0) {
			io_puts(s->io, " ");
		}
		send_att(fm, &fa->att[k]);
	}
	if (seen_now && !has_flags) {
		io_puts(s->io, " ");
		imap_put_msg_flags(s, fm->i);
	}
	io_puts(s->io, ")\r\n");
	store_imap_told(&s->f, fm->i);
	if (fm->open) {
		store_msg_close(&s->f, fm->r);
	}
	return s->io->failed ? IMAP_GONE : IMAP_OK;
}

int
imap_fetch(struct imap *s, const uint32_t *idx, size_t n)
{
	struct fetch_msg fm;
	int sets_seen, has_flags, has_uid, rc = IMAP_OK;
	size_t k;

	memset(&fm, 0, sizeof(fm));
	fm.s = s;
	fm.r = malloc(sizeof(*fm.r));
	if (fm.r == NULL) {
		return imap_fail(s, IMAP_NO, "[SERVERBUG] out of memory");
	}
	scan_atts(&s->args.fetch, &sets_seen, &has_flags, &has_uid);
	for (k = 0; k < n && rc == IMAP_OK; k++) {
		fm.i = idx[k];
		rc = fetch_one(s, &fm, sets_seen, has_flags, has_uid);
	}
	free(fm.r);
	store_structure_flush(&s->f);
	return rc;
}
