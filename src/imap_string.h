/*
 * IMAP strings on the wire (RFC 3501 4.3): the one rule for choosing NIL, a quoted
 * string or a literal, written through a sink so that replies (io) and prebuilt
 * ENVELOPE/BODYSTRUCTURE text (a buffer) come out the same.
 */
#ifndef MAILNOOK_IMAP_STRING_H
#define MAILNOOK_IMAP_STRING_H

#include <stddef.h>

/* Receives the output bytes in order. */
typedef void imap_sink_fn(void *ctx, const char *s, size_t n);

/* Can s[0..n) go out quoted: short, no CR, LF or NUL, and 8-bit only when eight_bit? */
int imap_string_quotable(const char *s, size_t n, int eight_bit);

/* s[0..n) quoted: '"' and '\' escaped. */
void imap_string_quoted(imap_sink_fn *out, void *ctx, const char *s, size_t n);

/* NIL when s is NULL, else quoted when quotable (7-bit), else a literal. */
void imap_string_nstring(imap_sink_fn *out, void *ctx, const char *s, size_t n);

#endif
