/*
 * IMAP wire text of a parsed message: ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2),
 * with NIL / quoted / literal chosen per string and address lists (groups included)
 * parsed from RFC 5322 headers; encoded words are passed as they are.
 */
#ifndef MAILNOOK_IMAP_ENVELOPE_H
#define MAILNOOK_IMAP_ENVELOPE_H

#include <stddef.h>

#include "imap_string.h"
#include "mime.h"

/* A growable output buffer capped at max bytes; err is set once anything failed. */
struct imap_buf {
	char *p;
	size_t len, cap, max;
	int err;
};

/* Start an empty buffer that will refuse to grow past max bytes. */
void imap_buf_init(struct imap_buf *b, size_t max);
/* Release the buffer's memory. */
void imap_buf_free(struct imap_buf *b);
/* Append n bytes; on failure sets b->err and returns -1. */
int imap_buf_add(struct imap_buf *b, const char *s, size_t n);
/* Append s as an IMAP nstring: NIL when s is NULL, quoted when safe, else a literal. */
int imap_buf_nstring(struct imap_buf *b, const char *s, size_t n);

/*
 * Append the ENVELOPE list of message part p of m (0, or the child of a message/rfc822
 * part): "(date subject from sender reply-to to cc bcc in-reply-to message-id)".
 * 0, or -1 (b->err set).
 */
/*
 * Each address of an RFC 5322 address list v (NULL: none), in order: fn gets the
 * phrase (or the old-style trailing comment) as name, the source route, the local part
 * and the domain, NULL where absent; a group opens with (NULL, NULL, name, NULL) and
 * closes with all NULL (RFC 3501 7.4.2). fn's first nonzero return stops the walk and
 * is returned; -1 if out of memory.
 */
typedef int (*imap_addr_fn)(void *ctx, const char *name, const char *adl, const char *mbox,
    const char *host);
int imap_addr_each(const char *v, imap_addr_fn fn, void *ctx);

int imap_envelope(struct imap_buf *b, const struct mime_msg *m, uint16_t p);

/*
 * Append the BODYSTRUCTURE (ext = 1, with extension data) or BODY (ext = 0) list of part p
 * of m (0 for FETCH). 0 or -1.
 */
int imap_bodystructure(struct imap_buf *b, const struct mime_msg *m, uint16_t p, int ext);

/*
 * End of the element (atom, quoted string, literal or parenthesized list, after one
 * optional space) that starts at s[i], in the wire text s[0..n); SIZE_MAX if malformed.
 */
size_t imap_elem_end(const char *s, size_t n, size_t i);

/*
 * BODY from the BODYSTRUCTURE text imap_bodystructure made (extension data dropped),
 * sent to out; -1 if the text is not one.
 */
int imap_body_of(const char *bodystructure, size_t n, imap_sink_fn *out, void *ctx);

#endif
