/*
 * SASL PLAIN decoding shared by the POP3 and IMAP sessions: a strict base64 decoder
 * and the authzid/authcid/password split. Runs unprivileged in the session process.
 */
#include "sasl.h"

#include <string.h>

#include "util.h"

/* Is in[k] of a 4-character group at i a legal '=' (only at the very end)? */
static int
b64_pad(const char *in, size_t n, size_t i, int k)
{
	return in[i + k] == '=' && i + 4 == n && k >= 2 && (k == 3 || in[i + 3] == '=');
}

/* Strict base64: whole groups of four, '=' only as the last one or two characters. */
static int
b64_decode(const char *in, size_t n, unsigned char *out, size_t cap, size_t *outlen)
{
	size_t i, o = 0;
	int k, v[4];

	if (n % 4 != 0) {
		return -1;
	}
	for (i = 0; i < n; i += 4) {
		int pad = 0;

		for (k = 0; k < 4; k++) {
			v[k] = b64_value((unsigned char)in[i + k]);
			if (b64_pad(in, n, i, k)) {
				pad++;
				v[k] = 0;
			} else if (v[k] < 0) {
				return -1;
			}
		}
		if (o + 3 - (size_t)pad > cap) {
			return -1;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2) {
			out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		}
		if (pad < 1) {
			out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
		}
	}
	*outlen = o;
	return 0;
}

int
sasl_plain_decode(const char *b64, size_t len, char *buf, size_t cap,
    const char **user, char **pass)
{
	size_t n = 0;
	char *authc, *pw;

	if (cap == 0) {
		return SASL_MALFORMED;
	}
	if (!(len == 1 && b64[0] == '=') &&
	    b64_decode(b64, len, (unsigned char *)buf, cap - 1, &n) < 0) {
		return SASL_MALFORMED;
	}
	buf[n] = '\0';
	authc = memchr(buf, '\0', n);
	if (authc == NULL) {
		return SASL_INVALID;
	}
	authc++;
	pw = memchr(authc, '\0', n - (size_t)(authc - buf));
	if (pw == NULL) {
		return SASL_INVALID;
	}
	pw++;
	/* A third NUL, or an authzid other than the user itself (no proxy logins). */
	if (memchr(pw, '\0', n - (size_t)(pw - buf)) != NULL ||
	    (buf[0] != '\0' && strcmp(buf, authc) != 0)) {
		return SASL_INVALID;
	}
	*user = authc;
	*pass = pw;
	return SASL_OK;
}
