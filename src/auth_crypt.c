/*
 * SHA-512 crypt ("$6$", the published SHA-crypt specification) on BearSSL's SHA-512,
 * so that password hashes work the same whatever crypt() the C library has (some musl
 * builds ship none). Pure computation, no state; runs in sessions and in passwd.
 */
#include "auth.h"

#include <bearssl_hash.h>
#include <string.h>

#include "util.h"

#define SC_ROUNDS_DEFAULT	5000
#define SC_ROUNDS_MIN		1000
#define SC_ROUNDS_MAX		999999999
#define SC_SALT_MAX		16

static const char sc_b64[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Add len bytes of a 64-byte digest d, repeated as needed, to ctx. */
static void
sc_add_repeated(br_sha512_context *ctx, const unsigned char *d, size_t len)
{
	for (; len > 64; len -= 64) {
		br_sha512_update(ctx, d, 64);
	}
	br_sha512_update(ctx, d, len);
}

/* Parse "$6$[rounds=N$]salt[$...]": salt pointer and length, rounds; 0 or -1. */
static int
sc_parse_setting(const char *setting, const char **salt, size_t *slen, uint32_t *rounds,
    int *explicit_rounds)
{
	const char *s = setting + 3;

	if (strncmp(setting, "$6$", 3) != 0) {
		return -1;
	}
	*rounds = SC_ROUNDS_DEFAULT;
	*explicit_rounds = 0;
	if (strncmp(s, "rounds=", 7) == 0) {
		size_t n = strcspn(s + 7, "$");

		if (s[7 + n] != '$' || parse_u32(s + 7, n, SC_ROUNDS_MAX, rounds) < 0) {
			return -1;
		}
		*rounds = *rounds < SC_ROUNDS_MIN ? SC_ROUNDS_MIN : *rounds;
		*explicit_rounds = 1;
		s += 7 + n + 1;
	}
	*salt = s;
	*slen = strcspn(s, "$");
	if (*slen > SC_SALT_MAX) {
		*slen = SC_SALT_MAX;
	}
	return 0;
}

/* The digest A of steps 1-12 of the specification. */
static void
sc_initial(const char *key, size_t klen, const char *salt, size_t slen, unsigned char *a)
{
	br_sha512_context ctx;
	unsigned char b[64];
	size_t n;

	br_sha512_init(&ctx);
	br_sha512_update(&ctx, key, klen);
	br_sha512_update(&ctx, salt, slen);
	br_sha512_update(&ctx, key, klen);
	br_sha512_out(&ctx, b);
	br_sha512_init(&ctx);
	br_sha512_update(&ctx, key, klen);
	br_sha512_update(&ctx, salt, slen);
	sc_add_repeated(&ctx, b, klen);
	for (n = klen; n > 0; n >>= 1) {
		if (n & 1) {
			br_sha512_update(&ctx, b, 64);
		} else {
			br_sha512_update(&ctx, key, klen);
		}
	}
	br_sha512_out(&ctx, a);
	wipe(b, sizeof(b));
	wipe(&ctx, sizeof(ctx));
}

/* Digest of data (len bytes) repeated times times. */
static void
sc_repeat_digest(const void *data, size_t len, size_t times, unsigned char *out)
{
	br_sha512_context ctx;

	br_sha512_init(&ctx);
	while (times-- > 0) {
		br_sha512_update(&ctx, data, len);
	}
	br_sha512_out(&ctx, out);
	wipe(&ctx, sizeof(ctx));
}

/* The rounds loop; p and s are the P and S sequences (digests used as repeat sources). */
static void
sc_rounds(unsigned char *a, const unsigned char *p, size_t klen, const unsigned char *s,
    size_t slen, uint32_t rounds)
{
	br_sha512_context ctx;
	uint32_t i;

	for (i = 0; i < rounds; i++) {
		br_sha512_init(&ctx);
		if (i & 1) {
			sc_add_repeated(&ctx, p, klen);
		} else {
			br_sha512_update(&ctx, a, 64);
		}
		if (i % 3 != 0) {
			br_sha512_update(&ctx, s, slen);
		}
		if (i % 7 != 0) {
			sc_add_repeated(&ctx, p, klen);
		}
		if (i & 1) {
			br_sha512_update(&ctx, a, 64);
		} else {
			sc_add_repeated(&ctx, p, klen);
		}
		br_sha512_out(&ctx, a);
	}
	wipe(&ctx, sizeof(ctx));
}

/* The specification's base64 of the final digest, bytes taken in its fixed order. */
static void
sc_encode(const unsigned char *a, char *out)
{
	unsigned i, j;

	for (i = 0; i < 21; i++) {
		unsigned x = a[i], y = a[i + 21], z = a[i + 42];
		uint32_t w = i % 3 == 0 ? (x << 16 | y << 8 | z) :
		    i % 3 == 1 ? (y << 16 | z << 8 | x) : (z << 16 | x << 8 | y);

		for (j = 0; j < 4; j++, w >>= 6) {
			*out++ = sc_b64[w & 63];
		}
	}
	out[0] = sc_b64[a[63] & 63];
	out[1] = sc_b64[a[63] >> 6];
	out[2] = '\0';
}

int
auth_sha512_crypt(const char *key, const char *setting, char *out, size_t cap)
{
	unsigned char a[64], p[64], s[64];
	const char *salt;
	size_t klen = strlen(key), slen;
	uint32_t rounds;
	int explicit_rounds, n;

	if (sc_parse_setting(setting, &salt, &slen, &rounds, &explicit_rounds) < 0) {
		return -1;
	}
	sc_initial(key, klen, salt, slen, a);
	sc_repeat_digest(key, klen, klen, p);
	sc_repeat_digest(salt, slen, 16 + (size_t)a[0], s);
	sc_rounds(a, p, klen, s, slen, rounds);
	n = explicit_rounds ? str_fmt(out, cap, "$6$rounds=%lu$%.*s$", (unsigned long)rounds,
	    (int)slen, salt) : str_fmt(out, cap, "$6$%.*s$", (int)slen, salt);
	if (n < 0 || (size_t)n + 87 > cap) {
		n = -1;
	} else {
		sc_encode(a, out + n);
	}
	wipe(a, sizeof(a));
	wipe(p, sizeof(p));
	wipe(s, sizeof(s));
	return n < 0 ? -1 : 0;
}
