/*
 * TLS 1.2 server transport over BearSSL. tls_load runs as root before fork (and on
 * SIGHUP) and keeps the decoded key and chain; each session child builds its own server
 * context by hand, linking only the suites and algorithms below, and drives the engine
 * with poll() deadlines on the raw fds. Nothing here runs with privileges after fork.
 */
#include "params.h"

#if WITH_TLS
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bearssl.h>

#include "log.h"
#include "pem.h"
#include "tls.h"
#include "util.h"

/*
 * Server preference order. ChaCha20-Poly1305 first: routers have no AES instructions
 * and BearSSL's constant-time AES is several times slower than ChaCha20 in software.
 * AES-GCM for clients without ChaCha20. No CBC suites: every TLS 1.2 client of the
 * last decade has ECDHE with AES-GCM; the only ones left out are Windows 7/8.0
 * SChannel clients (old Outlook) facing an RSA key, and they still connect to the
 * default ECDSA key. Leaving CBC out saves about 7 KB of code and the Lucky13 class.
 */
static const uint16_t tls_suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
};

/* OpenSSL-style names, as clients and `openssl s_client` print them. */
static const struct {
	uint16_t id;
	const char *name;
} tls_suite_names[] = {
	{ BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305" },
	{ BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384" },
};

/* Engine error codes by name, for the log (alerts are handled apart). */
static const struct {
	int code;
	const char *name;
} tls_errors[] = {
	{ BR_ERR_BAD_PARAM, "bad_param (caller error)" },
	{ BR_ERR_BAD_STATE, "bad_state (caller error)" },
	{ BR_ERR_UNSUPPORTED_VERSION, "unsupported_version (not TLS 1.2)" },
	{ BR_ERR_BAD_VERSION, "bad_version (protocol version changed)" },
	{ BR_ERR_BAD_LENGTH, "bad_length (malformed record)" },
	{ BR_ERR_TOO_LARGE, "too_large (record over the buffer size)" },
	{ BR_ERR_BAD_MAC, "bad_mac (record integrity failure)" },
	{ BR_ERR_NO_RANDOM, "no_random (no entropy source)" },
	{ BR_ERR_UNKNOWN_TYPE, "unknown_type (not a TLS record)" },
	{ BR_ERR_UNEXPECTED, "unexpected (unexpected message)" },
	{ BR_ERR_BAD_CCS, "bad_ccs (bad ChangeCipherSpec)" },
	{ BR_ERR_BAD_ALERT, "bad_alert (malformed alert)" },
	{ BR_ERR_BAD_HANDSHAKE, "bad_handshake (malformed handshake message)" },
	{ BR_ERR_OVERSIZED_ID, "oversized_id (session id too long)" },
	{ BR_ERR_BAD_CIPHER_SUITE, "bad_cipher_suite (no common cipher suite)" },
	{ BR_ERR_BAD_COMPRESSION, "bad_compression (no null compression)" },
	{ BR_ERR_BAD_FRAGLEN, "bad_fraglen (bad max fragment length)" },
	{ BR_ERR_BAD_SECRENEG, "bad_secreneg (secure renegotiation failure)" },
	{ BR_ERR_EXTRA_EXTENSION, "extra_extension (unrequested extension)" },
	{ BR_ERR_BAD_SNI, "bad_sni (malformed server name)" },
	{ BR_ERR_BAD_HELLO_DONE, "bad_hello_done" },
	{ BR_ERR_LIMIT_EXCEEDED, "limit_exceeded (handshake too large)" },
	{ BR_ERR_BAD_FINISHED, "bad_finished (handshake integrity failure)" },
	{ BR_ERR_RESUME_MISMATCH, "resume_mismatch" },
	{ BR_ERR_INVALID_ALGORITHM, "invalid_algorithm (no common curve or hash)" },
	{ BR_ERR_BAD_SIGNATURE, "bad_signature" },
	{ BR_ERR_WRONG_KEY_USAGE, "wrong_key_usage" },
	{ BR_ERR_NO_CLIENT_AUTH, "no_client_auth" },
	{ BR_ERR_IO, "io (transport failure)" },
};

/* TLS alert descriptions (RFC 5246 section 7.2), sent or received. */
static const struct {
	int code;
	const char *name;
} tls_alerts[] = {
	{ 0, "close_notify" }, { 10, "unexpected_message" }, { 20, "bad_record_mac" },
	{ 40, "handshake_failure (no common suite, curve or hash)" }, { 42, "bad_certificate" },
	{ 43, "unsupported_certificate" }, { 44, "certificate_revoked" },
	{ 45, "certificate_expired" }, { 46, "certificate_unknown" },
	{ 47, "illegal_parameter" }, { 48, "unknown_ca" }, { 49, "access_denied" },
	{ 50, "decode_error" }, { 51, "decrypt_error" }, { 70, "protocol_version (not TLS 1.2)" },
	{ 71, "insufficient_security" }, { 80, "internal_error" }, { 90, "user_canceled" },
	{ 100, "no_renegotiation" }, { 110, "unsupported_extension" },
	{ 112, "unrecognized_name" },
};

#if WITH_SMALL_EC
/*
 * The curves of br_ec_all_m31 (X25519, P-256, P-384, P-521) on the generic code: each
 * call goes to the implementation of its kind of curve.
 */
static const br_ec_impl *
tls_ec_for(int curve)
{
	return curve == BR_EC_curve25519 ? &br_ec_c25519_i31 : &br_ec_prime_i31;
}

static const unsigned char *
tls_ec_generator(int curve, size_t *len)
{
	return tls_ec_for(curve)->generator(curve, len);
}

static const unsigned char *
tls_ec_order(int curve, size_t *len)
{
	return tls_ec_for(curve)->order(curve, len);
}

static size_t
tls_ec_xoff(int curve, size_t *len)
{
	return tls_ec_for(curve)->xoff(curve, len);
}

static uint32_t
tls_ec_mul(unsigned char *g, size_t glen, const unsigned char *x, size_t xlen, int curve)
{
	return tls_ec_for(curve)->mul(g, glen, x, xlen, curve);
}

static size_t
tls_ec_mulgen(unsigned char *r, const unsigned char *x, size_t xlen, int curve)
{
	return tls_ec_for(curve)->mulgen(r, x, xlen, curve);
}

static uint32_t
tls_ec_muladd(unsigned char *a, const unsigned char *b, size_t len, const unsigned char *x,
    size_t xlen, const unsigned char *y, size_t ylen, int curve)
{
	return tls_ec_for(curve)->muladd(a, b, len, x, xlen, y, ylen, curve);
}

const br_ec_impl tls_ec = {
	(uint32_t)1 << BR_EC_curve25519 | (uint32_t)1 << BR_EC_secp256r1 |
	    (uint32_t)1 << BR_EC_secp384r1 | (uint32_t)1 << BR_EC_secp521r1,
	tls_ec_generator, tls_ec_order, tls_ec_xoff, tls_ec_mul, tls_ec_mulgen,
	tls_ec_muladd
};
#endif

struct tls_server {
	br_x509_certificate chain[TLS_CHAIN_MAX];
	size_t chain_len;
	int have_key;
	/* The decoded key lives inside the decoder context (its pointers point into it). */
	br_skey_decoder_context key;
};

/*
 * Per-session state, one allocation per child. The buffers are full duplex: with one
 * half-duplex buffer, a pipelined batch of commands larger than the io read buffer
 * stays unread in the engine and blocks every reply. The input side must hold a full
 * 16 KB record (clients rarely negotiate smaller); the output side only sets the size
 * of the records we send, so it is cut to TLS_OUT_RECORD.
 */
struct tls_session {
	br_ssl_server_context sc;
	char desc[64];
	unsigned char ibuf[BR_SSL_BUFSIZE_INPUT];
	unsigned char obuf[TLS_OUT_RECORD + (BR_SSL_BUFSIZE_OUTPUT - 16384)];
};

/* ---- Key and chain loading (root, before fork) ---- */

static int
tls_add_cert(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	struct tls_server *srv = ctx;
	unsigned char *copy;

	if (strcmp(name, "CERTIFICATE") != 0 && strcmp(name, "X509 CERTIFICATE") != 0) {
		return 0;
	}
	if (srv->chain_len == TLS_CHAIN_MAX || (copy = malloc(len)) == NULL) {
		return -1;
	}
	memcpy(copy, der, len);
	srv->chain[srv->chain_len].data = copy;
	srv->chain[srv->chain_len].data_len = len;
	srv->chain_len++;
	return 0;
}

static int
tls_add_key(void *ctx, const char *name, const unsigned char *der, size_t len)
{
	struct tls_server *srv = ctx;

	/* openssl ecparam -genkey writes an "EC PARAMETERS" block first: skip it. */
	if (strstr(name, "PRIVATE KEY") == NULL) {
		return 0;
	}
	if (srv->have_key) {
		return -1;
	}
	br_skey_decoder_init(&srv->key);
	br_skey_decoder_push(&srv->key, der, len);
	if (br_skey_decoder_last_error(&srv->key) != 0) {
		return -1;
	}
	srv->have_key = 1;
	return 0;
}

static void
tls_no_dn(void *ctx, const void *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
}

/* Strip leading zero bytes of a big-endian integer. */
static void
tls_trim(const unsigned char **p, size_t *len)
{
	while (*len > 0 && **p == 0) {
		(*p)++;
		(*len)--;
	}
}

/* The public half of the private key must be the leaf certificate's key. */
static int
tls_key_matches(const struct tls_server *srv, const br_x509_pkey *pk)
{
	/* An RSA modulus up to 4096 bits (BearSSL's limit) or an EC point. */
	unsigned char buf[BR_EC_KBUF_PUB_MAX_SIZE > 512 ? BR_EC_KBUF_PUB_MAX_SIZE : 512];
	const unsigned char *a, *b;
	size_t alen, blen;

	if (br_skey_decoder_key_type(&srv->key) == BR_KEYTYPE_RSA) {
		if (pk->key_type != BR_KEYTYPE_RSA) {
			return 0;
		}
		/* i15: BearSSL 0.6's i31 version returns 0 for 4096-bit moduli. */
		alen = br_rsa_i15_compute_modulus(NULL, br_skey_decoder_get_rsa(&srv->key));
		if (alen == 0 || alen > sizeof(buf)) {
			return 0;
		}
		br_rsa_i15_compute_modulus(buf, br_skey_decoder_get_rsa(&srv->key));
		a = buf;
		b = pk->key.rsa.n;
		blen = pk->key.rsa.nlen;
	} else {
		br_ec_public_key pub;

		if (pk->key_type != BR_KEYTYPE_EC) {
			return 0;
		}
		alen = br_ec_compute_pub(TLS_EC, &pub, buf,
		    br_skey_decoder_get_ec(&srv->key));
		if (alen == 0 || pub.curve != pk->key.ec.curve) {
			return 0;
		}
		a = pub.q;
		b = pk->key.ec.q;
		blen = pk->key.ec.qlen;
	}
	tls_trim(&a, &alen);
	tls_trim(&b, &blen);
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Key strength and curve policy, then the key-to-certificate match. */
static const char *
tls_check_key(const struct tls_server *srv)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;

	if (br_skey_decoder_key_type(&srv->key) == BR_KEYTYPE_RSA) {
		if (br_skey_decoder_get_rsa(&srv->key)->n_bitlen < TLS_RSA_MIN_BITS) {
			return "RSA key shorter than 2048 bits";
		}
	} else {
		int curve = br_skey_decoder_get_ec(&srv->key)->curve;

		if (curve != BR_EC_secp256r1 && curve != BR_EC_secp384r1) {
			return "EC key is not on P-256 or P-384";
		}
	}
	br_x509_decoder_init(&dc, tls_no_dn, NULL);
	br_x509_decoder_push(&dc, srv->chain[0].data, srv->chain[0].data_len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL) {
		return "first certificate does not decode";
	}
	if (!tls_key_matches(srv, pk)) {
		return "key does not match the first certificate";
	}
	return NULL;
}

struct tls_server *
tls_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	struct tls_server *srv = calloc(1, sizeof(*srv));
	const char *why;

	if (srv == NULL) {
		str_fmt(err, errlen, "out of memory");
		return NULL;
	}
	if (pem_read_objects(cert_path, tls_add_cert, srv, err, errlen) == -1 ||
	    pem_read_objects(key_path, tls_add_key, srv, err, errlen) == -1) {
		tls_free(srv);
		return NULL;
	}
	if (srv->chain_len == 0 || !srv->have_key) {
		str_fmt(err, errlen, "%s", srv->chain_len == 0 ?
		    "no CERTIFICATE in the chain file" : "no PRIVATE KEY in the key file");
		tls_free(srv);
		return NULL;
	}
	why = tls_check_key(srv);
	if (why != NULL) {
		str_fmt(err, errlen, "%s, %s: %s", cert_path, key_path, why);
		tls_free(srv);
		return NULL;
	}
	return srv;
}

void
tls_free(struct tls_server *srv)
{
	size_t i;

	if (srv == NULL) {
		return;
	}
	for (i = 0; i < srv->chain_len; i++) {
		free(srv->chain[i].data);
	}
	wipe(srv, sizeof(*srv));
	free(srv);
}

/* ---- Engine driving with deadlines ---- */

/* Milliseconds left until deadline (-1: none); 0 when passed. */
static int
tls_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0) {
		return -1;
	}
	left = deadline - mono_ms();
	if (left <= 0) {
		return 0;
	}
	return left > 86400000 ? 86400000 : (int)left;
}

static int64_t
tls_deadline(int ms)
{
	return ms > 0 ? mono_ms() + ms : -1;
}

/* Wait for fd; 0 ready, -1 with errno (ETIMEDOUT when the deadline passed). */
static int
tls_wait(int fd, int for_write, int64_t deadline)
{
	int left = tls_left(deadline);
	int rc;

	if (left == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	rc = io_wait_fd(fd, for_write, left);
	if (rc == 0) {
		errno = ETIMEDOUT;
	}
	return rc == 1 ? 0 : -1;
}

/* Write every record the engine has ready. 0 or -1. */
static int
tls_drain(struct io *io, br_ssl_engine_context *eng, int64_t deadline)
{
	while (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
		size_t len;
		unsigned char *buf = br_ssl_engine_sendrec_buf(eng, &len);
		ssize_t n;

		if (tls_wait(io->wfd, 1, deadline) == -1) {
			return -1;
		}
		/* MSG_NOSIGNAL: a vanished client must not kill us with SIGPIPE. */
		n = send(io->wfd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && errno == ENOTSOCK) {
			n = write(io->wfd, buf, len);
		}
		if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
			continue;
		}
		if (n <= 0) {
			return -1;
		}
		br_ssl_engine_sendrec_ack(eng, (size_t)n);
	}
	return 0;
}

/* Read one chunk of records. 0, 1 at end of stream, -1 on error. */
static int
tls_fill(struct io *io, br_ssl_engine_context *eng, int64_t deadline)
{
	size_t len;
	unsigned char *buf = br_ssl_engine_recvrec_buf(eng, &len);
	ssize_t n;

	if (tls_wait(io->rfd, 0, deadline) == -1) {
		return -1;
	}
	n = read(io->rfd, buf, len);
	if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
		return 0;
	}
	if (n <= 0) {
		return n == 0 ? 1 : -1;
	}
	br_ssl_engine_recvrec_ack(eng, (size_t)n);
	return 0;
}

/*
 * Run the engine until one of the states in want is reached: 0; 1 when the engine
 * closed or the peer hung up; -1 on a transport error or timeout (errno set).
 */
static int
tls_pump(struct io *io, br_ssl_engine_context *eng, unsigned want, int64_t deadline)
{
	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		int rc;

		if (st & BR_SSL_CLOSED) {
			return 1;
		}
		if (st & BR_SSL_SENDREC) {
			if (tls_drain(io, eng, deadline) == -1) {
				return -1;
			}
			continue;
		}
		if (st & want) {
			return 0;
		}
		/* Waiting for input: a partial record we hold must go out first. */
		if ((want & BR_SSL_RECVAPP) && (st & BR_SSL_SENDAPP)) {
			br_ssl_engine_flush(eng, 0);
			if (br_ssl_engine_current_state(eng) & BR_SSL_SENDREC) {
				continue;
			}
		}
		if (!(st & BR_SSL_RECVREC)) {
			/* Nothing can move (unread input blocks the wanted state). */
			errno = EPROTO;
			return -1;
		}
		rc = tls_fill(io, eng, deadline);
		if (rc != 0) {
			return rc;
		}
	}
}

/* Name of an engine error: "bad_version (...)" or "received alert unknown_ca". */
static const char *
tls_reason(int err, char *buf, size_t cap)
{
	size_t i;
	int alert = err & 0xff;
	const char *dir = (err & BR_ERR_SEND_FATAL_ALERT) ? "sent" : "received";

	if (err < BR_ERR_RECV_FATAL_ALERT) {
		for (i = 0; i < ARRAY_LEN(tls_errors); i++) {
			if (tls_errors[i].code == err) {
				return tls_errors[i].name;
			}
		}
		str_fmt(buf, cap, "engine error %d", err);
		return buf;
	}
	for (i = 0; i < ARRAY_LEN(tls_alerts); i++) {
		if (tls_alerts[i].code == alert) {
			str_fmt(buf, cap, "%s alert %s", dir, tls_alerts[i].name);
			return buf;
		}
	}
	str_fmt(buf, cap, "%s alert %d", dir, alert);
	return buf;
}

/* Log why the handshake failed: the engine's error, a timeout, or the socket. */
static void
tls_log_handshake(const struct io *io, const br_ssl_engine_context *eng, int rc)
{
	char buf[64];
	int err = br_ssl_engine_last_error(eng);

	if (err != BR_ERR_OK) {
		log_warnx("TLS handshake failed from %s: %s", io->peer,
		    tls_reason(err, buf, sizeof(buf)));
	} else if (rc == 1) {
		log_warnx("TLS handshake failed from %s: connection closed", io->peer);
	} else if (errno == ETIMEDOUT) {
		log_warnx("TLS handshake failed from %s: timeout", io->peer);
	} else {
		log_warn("TLS handshake failed from %s", io->peer);
	}
}

/*
 * After the handshake, io.c reports transport errors from errno; only an engine error
 * (bad record MAC, alert) is ours to name. EPROTO stands for it, EPIPE for a peer that
 * closed while we were writing.
 */
static void
tls_io_failed(const struct io *io, const br_ssl_engine_context *eng, const char *what,
    int rc)
{
	char buf[64];
	int err = br_ssl_engine_last_error(eng);

	if (err != BR_ERR_OK) {
		log_warnx("TLS %s failed from %s: %s", what, io->peer,
		    tls_reason(err, buf, sizeof(buf)));
		errno = EPROTO;
	} else if (rc == 1) {
		errno = EPIPE;
	}
}

/* ---- The transport under struct io ---- */

static ssize_t
tls_recv(struct io *io, void *buf, size_t len)
{
	struct tls_session *s = io->tr_ctx;
	br_ssl_engine_context *eng = &s->sc.eng;
	unsigned char *app;
	size_t alen;
	int rc;

	rc = tls_pump(io, eng, BR_SSL_RECVAPP, tls_deadline(io_read_wait_ms(io)));
	if (rc == 1 && br_ssl_engine_last_error(eng) == BR_ERR_OK) {
		/* close_notify or a plain TCP close: POP3/IMAP frame their own data. */
		return 0;
	}
	if (rc != 0) {
		tls_io_failed(io, eng, "read", rc);
		return -1;
	}
	app = br_ssl_engine_recvapp_buf(eng, &alen);
	if (alen > len) {
		alen = len;
	}
	memcpy(buf, app, alen);
	br_ssl_engine_recvapp_ack(eng, alen);
	return (ssize_t)alen;
}

static int
tls_send(struct io *io, const void *buf, size_t len)
{
	struct tls_session *s = io->tr_ctx;
	br_ssl_engine_context *eng = &s->sc.eng;
	int64_t deadline = tls_deadline(WRITE_TIMEOUT * 1000);
	const unsigned char *p = buf;

	while (len > 0) {
		unsigned char *app;
		size_t alen;
		int rc = tls_pump(io, eng, BR_SSL_SENDAPP, deadline);

		if (rc != 0) {
			tls_io_failed(io, eng, "write", rc);
			return -1;
		}
		app = br_ssl_engine_sendapp_buf(eng, &alen);
		if (alen > len) {
			alen = len;
		}
		memcpy(app, p, alen);
		br_ssl_engine_sendapp_ack(eng, alen);
		p += alen;
		len -= alen;
	}
	return 0;
}

static int
tls_flush(struct io *io)
{
	struct tls_session *s = io->tr_ctx;
	br_ssl_engine_context *eng = &s->sc.eng;

	br_ssl_engine_flush(eng, 0);
	if (tls_drain(io, eng, tls_deadline(WRITE_TIMEOUT * 1000)) == -1) {
		tls_io_failed(io, eng, "write", -1);
		return -1;
	}
	return 0;
}

/* Send close_notify without waiting for the peer's; the session ends either way. */
static void
tls_close(struct io *io)
{
	struct tls_session *s = io->tr_ctx;

	if (s == NULL) {
		return;
	}
	br_ssl_engine_close(&s->sc.eng);
	(void)tls_drain(io, &s->sc.eng, tls_deadline(TLS_CLOSE_TIMEOUT_MS));
	wipe(s, sizeof(*s));
	free(s);
	io->tr_ctx = NULL;
	/* Nothing may be written through the freed session. */
	io->failed = 1;
}

static const struct io_transport tls_transport = {
	tls_recv, tls_send, tls_flush, tls_close
};

/* ---- Session setup ---- */

/*
 * ChaCha20 and Poly1305 as BearSSL's default would pick them at run time, picked here at
 * compile time where the answer is certain, so the unused fallback is not linked (2 KB
 * on x86-64): SSE2 is part of the x86-64 ABI, and with 128-bit integers BearSSL always
 * has its 64-bit Poly1305.
 */
static void
tls_set_chapol(br_ssl_engine_context *eng)
{
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable,
	    &br_sslrec_out_chapol_vtable);
#if defined(__x86_64__)
	br_ssl_engine_set_chacha20(eng, &br_chacha20_sse2_run);
#else
	br_ssl_engine_set_chacha20(eng, &br_chacha20_ct_run);
#endif
#if defined(__SIZEOF_INT128__)
	br_ssl_engine_set_poly1305(eng, &br_poly1305_ctmulq_run);
#else
	br_ssl_engine_set_poly1305(eng, &br_poly1305_ctmul_run);
#endif
}

/* Server context by hand: only what the suites above need gets linked. */
static void
tls_setup(struct tls_session *s, const struct tls_server *srv)
{
	br_ssl_server_context *sc = &s->sc;
	br_ssl_engine_context *eng = &sc->eng;

	br_ssl_server_zero(sc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, tls_suites, ARRAY_LEN(tls_suites));
	br_ssl_engine_set_all_flags(eng, BR_OPT_ENFORCE_SERVER_PREFERENCES |
	    BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_hash(eng, br_sha256_ID, &br_sha256_vtable);
	br_ssl_engine_set_hash(eng, br_sha384_ID, &br_sha384_vtable);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	tls_set_chapol(eng);
	br_ssl_engine_set_default_aes_gcm(eng);
	/* X25519 and the NIST curves for ECDHE, P-256/P-384 for ECDSA signatures. */
	br_ssl_engine_set_ec(eng, TLS_EC);
	if (br_skey_decoder_key_type(&srv->key) == BR_KEYTYPE_RSA) {
		/* i62 where the CPU has 64-bit multiplies (much faster signing), else i31. */
		br_ssl_server_set_single_rsa(sc, srv->chain, srv->chain_len,
		    br_skey_decoder_get_rsa(&srv->key), BR_KEYTYPE_SIGN,
		    br_rsa_private_get_default(), br_rsa_pkcs1_sign_get_default());
	} else {
		br_ssl_server_set_single_ec(sc, srv->chain, srv->chain_len,
		    br_skey_decoder_get_ec(&srv->key), BR_KEYTYPE_SIGN, BR_KEYTYPE_EC,
		    TLS_EC, br_ecdsa_i31_sign_asn1);
	}
	br_ssl_engine_set_buffers_bidi(eng, s->ibuf, sizeof(s->ibuf), s->obuf,
	    sizeof(s->obuf));
}

static void
tls_fill_desc(struct tls_session *s)
{
	br_ssl_session_parameters params;
	const char *suite = "unknown-suite";
	size_t i;

	br_ssl_engine_get_session_parameters(&s->sc.eng, &params);
	for (i = 0; i < ARRAY_LEN(tls_suite_names); i++) {
		if (tls_suite_names[i].id == params.cipher_suite) {
			suite = tls_suite_names[i].name;
		}
	}
	/* Only TLS 1.2 is enabled, so the version is known. */
	str_fmt(s->desc, sizeof(s->desc), "TLSv1.2 %s", suite);
}

int
tls_start(struct io *io, const struct tls_server *srv, unsigned timeout_s)
{
	struct tls_session *s;
	unsigned char seed[32];
	int rc;

	/* The plaintext reply ("+OK Begin TLS") must be out before the handshake. */
	if (io_flush(io) != 0 || srv == NULL) {
		return -1;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		log_warn("TLS session");
		return -1;
	}
	tls_setup(s, srv);
	/* getrandom() works even where BearSSL cannot open /dev/urandom (fd limit, chroot). */
	if (random_bytes(seed, sizeof(seed)) == 0) {
		br_ssl_engine_inject_entropy(&s->sc.eng, seed, sizeof(seed));
		wipe(seed, sizeof(seed));
	}
	if (!br_ssl_server_reset(&s->sc)) {
		rc = -1;
	} else {
		rc = tls_pump(io, &s->sc.eng, BR_SSL_SENDAPP,
		    tls_deadline((int)(timeout_s * 1000)));
	}
	if (rc != 0) {
		tls_log_handshake(io, &s->sc.eng, rc);
		/* No plaintext may follow a failed handshake. */
		io->failed = 1;
		wipe(s, sizeof(*s));
		free(s);
		return -1;
	}
	tls_fill_desc(s);
	io_discard_input(io);
	io->tr = &tls_transport;
	io->tr_ctx = s;
	io->secure = 1;
	return 0;
}

const char *
tls_describe(const struct io *io)
{
	const struct tls_session *s = io->tr_ctx;

	if (!io->secure || s == NULL) {
		return "plaintext";
	}
	return s->desc;
}

#else /* !WITH_TLS */

#include "tls.h"
#include "util.h"

/* Built without TLS: loading fails, so no TLS listener or upgrade is ever offered. */
struct tls_server *
tls_load(const char *cert_path, const char *key_path, char *err, size_t errlen)
{
	(void)cert_path;
	(void)key_path;
	str_fmt(err, errlen, "built without TLS support");
	return NULL;
}

void
tls_free(struct tls_server *srv)
{
	(void)srv;
}

int
tls_start(struct io *io, const struct tls_server *srv, unsigned timeout_s)
{
	(void)io;
	(void)srv;
	(void)timeout_s;
	return -1;
}

const char *
tls_describe(const struct io *io)
{
	(void)io;
	return "plaintext";
}

#endif
