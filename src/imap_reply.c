/*
 * IMAP reply writer: every byte a handler sends goes through these calls; strings are
 * quoted by imap_string.c, which ENVELOPE and BODYSTRUCTURE text shares. Runs unprivileged.
 */
#include "imap_reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "imap_string.h"
#include "mutf7.h"
#include "util.h"

int
imap_atom_char(int c)
{
	/* atom-specials: ( ) { SP CTL % * " \ ] and 8-bit */
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

static void
io_sink(void *ctx, const char *s, size_t n)
{
	io_write(ctx, s, n);
}

void
imap_put_string(struct io *io, const char *s, size_t n)
{
	imap_string_nstring(io_sink, io, s != NULL ? s : "", n);
}

void
imap_put_nstring(struct io *io, const char *s, size_t n)
{
	imap_string_nstring(io_sink, io, s, n);
}

/* Can s go out as a bare atom (and not be read as NIL)? */
static int
imap_is_atom(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && imap_atom_char((unsigned char)s[i]); i++) {
	}
	return i > 0 && s[i] == '\0' && !str_ieq(s, "NIL");
}

void
imap_put_astring(struct io *io, const char *s)
{
	if (imap_is_atom(s)) {
		io_puts(io, s);
		return;
	}
	imap_put_string(io, s, strlen(s));
}

void
imap_put_mailbox(struct io *io, const char *name, int utf8)
{
	char enc[4 * FOLDER_NAME_MAX];

	if (utf8) {
		/* RFC 6855 3: after ENABLE UTF8=ACCEPT names go out in UTF-8, quoted */
		if (imap_string_quotable(name, strlen(name), 1) && !imap_is_atom(name)) {
			imap_string_quoted(io_sink, io, name, strlen(name));
		} else {
			imap_put_astring(io, name);
		}
		return;
	}
	if (mutf7_encode(name, enc, sizeof(enc)) < 0) {
		imap_put_astring(io, name);
		return;
	}
	imap_put_astring(io, enc);
}

void
imap_put_flags(struct io *io, uint32_t flags, uint64_t keywords,
    const struct store_keywords *kw, int recent)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} sys[] = {
		{ STORE_ANSWERED, "\\Answered" }, { STORE_FLAGGED, "\\Flagged" },
		{ STORE_DELETED, "\\Deleted" }, { STORE_SEEN, "\\Seen" },
		{ STORE_DRAFT, "\\Draft" },
	};
	const char *sep = "";
	size_t i;

	io_write(io, "(", 1);
	for (i = 0; i < ARRAY_LEN(sys); i++) {
		if (flags & sys[i].bit) {
			io_printf(io, "%s%s", sep, sys[i].name);
			sep = " ";
		}
	}
	for (i = 0; kw != NULL && i < kw->n; i++) {
		if (keywords & ((uint64_t)1 << i)) {
			io_printf(io, "%s%s", sep, kw->name[i]);
			sep = " ";
		}
	}
	if (recent) {
		io_printf(io, "%s\\Recent", sep);
	}
	io_write(io, ")", 1);
}

static void
put_line(struct io *io, const char *lead, const char *fmt, va_list ap)
{
	io_puts(io, lead);
	io_write(io, " ", 1);
	io_vprintf(io, fmt, ap);
	io_write(io, "\r\n", 2);
}

void
imap_untagged(struct io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(io, "*", fmt, ap);
	va_end(ap);
}

void
imap_tagged(struct io *io, const char *tag, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(io, tag != NULL ? tag : "*", fmt, ap);
	va_end(ap);
}
