/*
 * SASL PLAIN (RFC 4616) responses as POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE
 * (RFC 3501, 4959) carry them: strict base64 of authzid NUL authcid NUL password.
 */
#ifndef MAILNOOK_SASL_H
#define MAILNOOK_SASL_H

#include <stddef.h>

enum sasl_rc {
	SASL_OK = 0,
	SASL_MALFORMED = -1,	/* not padded base64 (RFC 4648), or longer than the buffer */
	SASL_INVALID = -2	/* not three NUL-separated fields, or authzid names someone else */
};

/*
 * Decode the response b64[0..len) ("=" is the empty response) into buf (cap bytes).
 * On SASL_OK *user and *pass point into buf, NUL-terminated. The caller wipes buf
 * whatever the result: it may hold a password.
 */
int sasl_plain_decode(const char *b64, size_t len, char *buf, size_t cap,
    const char **user, char **pass);

#endif
