/*
 * TLS transport with BearSSL: server key and chain decoded once (before fork, again
 * on SIGHUP), one BearSSL server context per session, plugged under struct io.
 */
#ifndef MAILNOOK_TLS_H
#define MAILNOOK_TLS_H

#include <stddef.h>

#include "io.h"
#include "params.h"

/* The elliptic-curve code of the server and `cert` (WITH_SMALL_EC in params.h). */
#if WITH_SMALL_EC
#include <bearssl.h>
extern const br_ec_impl tls_ec;
#define TLS_EC		(&tls_ec)
#define TLS_EC_P256	(&br_ec_prime_i31)
#else
#define TLS_EC		(&br_ec_all_m31)
#define TLS_EC_P256	(&br_ec_p256_m31)
#endif

struct tls_server;

/* Decode PEM chain (leaf first) and key (RSA 2048+, EC P-256/P-384). NULL with err set. */
struct tls_server *tls_load(const char *cert_path, const char *key_path, char *err,
    size_t errlen);
void tls_free(struct tls_server *srv);
/* Handshake as server on io within timeout_s, then switch io to the TLS transport.
 * 0, or -1 with the reason logged by name. */
int tls_start(struct io *io, const struct tls_server *srv, unsigned timeout_s);
/* "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256" for the session's log line. */
const char *tls_describe(const struct io *io);

#endif
