/*
 * SASL PLAIN decoding: a table of responses with the expected result, user and password.
 */
#include <string.h>

#include "sasl.h"
#include "util.h"
#include "t.h"

static const struct {
	const char *b64;
	int rc;
	const char *user, *pass;
} cases[] = {
	{ "AGFsaWNlAHNlY3JldA==", SASL_OK, "alice", "secret" },		/* \0alice\0secret */
	{ "YWxpY2UAYWxpY2UAc2VjcmV0", SASL_OK, "alice", "secret" },	/* alice\0alice\0secret */
	{ "AGFsaWNlAA==", SASL_OK, "alice", "" },			/* empty password */
	{ "AGFsaWNlAHA=", SASL_OK, "alice", "p" },			/* one '=' of padding */
	{ "Ym9iAGFsaWNlAHNlY3JldA==", SASL_INVALID, NULL, NULL },	/* authzid bob */
	{ "YWxpY2U=", SASL_INVALID, NULL, NULL },			/* no NUL at all */
	{ "AGFsaWNl", SASL_INVALID, NULL, NULL },			/* \0alice: no password */
	{ "AGEAYgBj", SASL_INVALID, NULL, NULL },			/* \0a\0b\0c: three NULs */
	{ "=", SASL_INVALID, NULL, NULL },				/* empty response */
	{ "", SASL_INVALID, NULL, NULL },
	{ "AGFsaWNlAHNlY3JldA", SASL_MALFORMED, NULL, NULL },		/* unpadded */
	{ "AGFsaWNlAHNlY3JldA=", SASL_MALFORMED, NULL, NULL },
	{ "AGFs=WNlAHNlY3JldA==", SASL_MALFORMED, NULL, NULL },		/* '=' inside */
	{ "AG=saWNl", SASL_MALFORMED, NULL, NULL },
	{ "AGFsaWNlAHNlY3JldA=A", SASL_MALFORMED, NULL, NULL },		/* data after '=' */
	{ "AGFsaWNl AHNlY3JldA==", SASL_MALFORMED, NULL, NULL },
	{ "AGFsaWNl\tAHNlY3JldA==", SASL_MALFORMED, NULL, NULL },
	{ "AGFsaWNlAHNlY3JldA===", SASL_MALFORMED, NULL, NULL },
};

int
main(void)
{
	char buf[64], small[8];
	const char *user;
	char *pass;
	size_t i;
	int rc;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		user = NULL;
		pass = NULL;
		rc = sasl_plain_decode(cases[i].b64, strlen(cases[i].b64), buf, sizeof(buf),
		    &user, &pass);
		CHECK(rc == cases[i].rc && (rc != SASL_OK || (strcmp(user, cases[i].user) == 0 &&
		    strcmp(pass, cases[i].pass) == 0)), "PLAIN \"%s\" -> %d", cases[i].b64, rc);
	}
	rc = sasl_plain_decode("AGFsaWNlAHNlY3JldA==", 20, small, sizeof(small), &user, &pass);
	CHECK(rc == SASL_MALFORMED, "a response longer than the buffer is refused (%d)", rc);
	rc = sasl_plain_decode("AGFsaWNlAHNlY3JldA==", 20, buf, 14, &user, &pass);
	CHECK(rc == SASL_OK && strcmp(pass, "secret") == 0, "exactly fitting buffer (13 + NUL)");
	rc = sasl_plain_decode("AGFsaWNlAHNlY3JldA==", 20, buf, 13, &user, &pass);
	CHECK(rc == SASL_MALFORMED, "one byte short is refused");
	return t_done();
}
