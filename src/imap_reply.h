/*
 * The one IMAP writer: tagged and untagged lines, and the atom / quoted / literal choice
 * for every string, mailbox name and flag list sent to a client (RFC 3501 section 4).
 */
#ifndef MAILNOOK_IMAP_REPLY_H
#define MAILNOOK_IMAP_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "io.h"
#include "store.h"

/* Write s[0..n) as a string: quoted when short and free of CR, LF, NUL and 8-bit, else literal. */
void imap_put_string(struct io *io, const char *s, size_t n);
/* As imap_put_string, or NIL when s is NULL. */
void imap_put_nstring(struct io *io, const char *s, size_t n);
/* An astring: a bare atom when every byte is an ATOM-CHAR, else as imap_put_string. */
void imap_put_astring(struct io *io, const char *s);
/* A mailbox name kept in UTF-8: modified UTF-7 on the wire unless utf8 (UTF8=ACCEPT). */
void imap_put_mailbox(struct io *io, const char *name, int utf8);
/* A flag list "(\Seen $Label1 ...)" from flag bits, keyword bits named in kw, \Recent. */
void imap_put_flags(struct io *io, uint32_t flags, uint64_t keywords,
    const struct store_keywords *kw, int recent);
/* "* " fmt CRLF. */
void imap_untagged(struct io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* tag " " fmt CRLF; a NULL tag writes "*". */
void imap_tagged(struct io *io, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Is c an ATOM-CHAR (RFC 3501 formal syntax), so it can go out bare? */
int imap_atom_char(int c);
/*
 * The NO text for a write that failed with err: a full disk (ENOSPC, EDQUOT) is the
 * user's [OVERQUOTA], said and logged as such; any other error keeps text.
 */
const char *imap_write_text(int err, const char *text);

/*
 * The NO text for a write that failed with err: a full disk (ENOSPC, EDQUOT) is the
 * user's [OVERQUOTA], said and logged as such; any other error keeps text.
 */
const char *imap_write_text(int err, const char *text);

#endif
