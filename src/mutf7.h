/*
 * Mailbox names: modified UTF-7 (RFC 3501 section 5.1.3) to and from UTF-8, and the
 * checks that keep a client's folder name inside its own folder tree.
 */
#ifndef MAILNOOK_MUTF7_H
#define MAILNOOK_MUTF7_H

#include <stddef.h>

/* Decode modified UTF-7 in[0..len) to a UTF-8 C string; -1: malformed, not canonical, too long. */
int mutf7_decode(const char *in, size_t len, char *out, size_t cap);
/* Encode NUL-terminated UTF-8 as modified UTF-7; -1 if it is not valid UTF-8 or cap is short. */
int mutf7_encode(const char *utf8, char *out, size_t cap);
/* Is s[0..len) valid UTF-8 (shortest forms, no surrogates, at most U+10FFFF)? 1 or 0. */
int mutf7_utf8_valid(const char *s, size_t len);
/*
 * Check a UTF-8 folder name in place and make a leading INBOX component upper case:
 * "/" separated, non-empty components not starting with ".", no control characters,
 * wildcards or backslash, at most IMAP_MAILBOX_MAX bytes and IMAP_MAILBOX_DEPTH_MAX
 * levels. 0, or -1 with *why set to a short reason.
 */
int mutf7_name_check(char *name, const char **why);
/* Wire name (modified UTF-7, or UTF-8 if utf8) decoded into out, one trailing "/" dropped,
 * and checked; 0, or -1 and *why. */
int mutf7_mailbox(const char *wire, size_t len, int utf8, char *out, size_t cap, const char **why);

#endif
