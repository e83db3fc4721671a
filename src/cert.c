/*
 * `mailnook cert`: a new ECDSA P-256 key and a self-signed X.509 v3 certificate for
 * the server, with our own DER encoder (BearSSL has none). Runs as whoever calls it
 * (root at first start, to write under /etc/mailnook); touches only the two files.
 */
#include "params.h"

#if WITH_TLS
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "cert.h"
#include "config.h"
#include "date.h"
#include "pem.h"
#include "tls.h"
#include "util.h"
#include "verbs.h"

/* Largest certificate we build: eight 253-byte names plus ~400 bytes of fixed fields. */
#define CERT_DER_MAX	4096
/* Longest CN (RFC 5280 ub-common-name). */
#define CERT_CN_MAX	64

/* DER tags used below. */
#define DER_BOOLEAN	0x01
#define DER_INTEGER	0x02
#define DER_BITSTRING	0x03
#define DER_OCTETSTRING	0x04
#define DER_OID		0x06
#define DER_UTF8STRING	0x0c
#define DER_UTCTIME	0x17
#define DER_GENTIME	0x18
#define DER_SEQUENCE	0x30
#define DER_SET		0x31
#define DER_CTX(n)	(0xa0 | (n))	/* [n] EXPLICIT, constructed */
#define DER_IMPL(n)	(0x80 | (n))	/* [n] IMPLICIT, primitive */

/* OID contents (RFC 5280, RFC 5480, RFC 5758). */
static const unsigned char oid_ecdsa_sha256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 4, 3, 2 };
static const unsigned char oid_ec_public_key[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 2, 1 };
static const unsigned char oid_prime256v1[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 3, 1, 7 };
static const unsigned char oid_common_name[] = { 0x55, 4, 3 };
static const unsigned char oid_san[] = { 0x55, 29, 17 };
static const unsigned char oid_basic_constraints[] = { 0x55, 29, 19 };
static const unsigned char oid_key_usage[] = { 0x55, 29, 15 };
static const unsigned char oid_ext_key_usage[] = { 0x55, 29, 37 };
static const unsigned char oid_server_auth[] = { 0x2b, 6, 1, 5, 5, 7, 3, 1 };

/*
 * DER writer over one fixed buffer. A constructed value is opened with der_begin and
 * closed with der_end, which slides the content up to make room for the header once
 * its length is known. Overflow is sticky and checked once at the end.
 */
struct der {
	unsigned char buf[CERT_DER_MAX];
	size_t len;
	int overflow;
};

static void
der_bytes(struct der *d, const void *p, size_t n)
{
	if (d->overflow || n > sizeof(d->buf) - d->len) {
		d->overflow = 1;
		return;
	}
	memcpy(d->buf + d->len, p, n);
	d->len += n;
}

static size_t
der_begin(const struct der *d)
{
	return d->len;
}

static void
der_end(struct der *d, unsigned char tag, size_t start)
{
	size_t clen = d->len - start;
	unsigned char hdr[4];
	size_t hl;

	if (d->overflow) {
		return;
	}
	hdr[0] = tag;
	if (clen < 0x80) {
		hdr[1] = (unsigned char)clen;
		hl = 2;
	} else if (clen < 0x100) {
		hdr[1] = 0x81;
		hdr[2] = (unsigned char)clen;
		hl = 3;
	} else {
		hdr[1] = 0x82;
		hdr[2] = (unsigned char)(clen >> 8);
		hdr[3] = (unsigned char)clen;
		hl = 4;
	}
	if (hl > sizeof(d->buf) - d->len) {
		d->overflow = 1;
		return;
	}
	memmove(d->buf + start + hl, d->buf + start, clen);
	memcpy(d->buf + start, hdr, hl);
	d->len += hl;
}

static void
der_tlv(struct der *d, unsigned char tag, const void *p, size_t n)
{
	size_t s = der_begin(d);

	der_bytes(d, p, n);
	der_end(d, tag, s);
}

/* BIT STRING with no unused bits. */
static void
der_bits(struct der *d, const void *p, size_t n)
{
	size_t s = der_begin(d);

	der_bytes(d, "", 1);
	der_bytes(d, p, n);
	der_end(d, DER_BITSTRING, s);
}

/* ---- Certificate fields ---- */

/* AlgorithmIdentifier ecdsa-with-SHA256: parameters absent (RFC 5758 section 3.2). */
static void
cert_sig_alg(struct der *d)
{
	size_t s = der_begin(d);

	der_tlv(d, DER_OID, oid_ecdsa_sha256, sizeof(oid_ecdsa_sha256));
	der_end(d, DER_SEQUENCE, s);
}

/* Name with one RDN: CN=cn. */
static void
cert_name(struct der *d, const char *cn)
{
	size_t name = der_begin(d), rdn, atv;

	rdn = der_begin(d);
	atv = der_begin(d);
	der_tlv(d, DER_OID, oid_common_name, sizeof(oid_common_name));
	der_tlv(d, DER_UTF8STRING, cn, strlen(cn));
	der_end(d, DER_SEQUENCE, atv);
	der_end(d, DER_SET, rdn);
	der_end(d, DER_SEQUENCE, name);
}

/* UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5). */
static void
cert_time(struct der *d, uint64_t t)
{
	struct date_civil c;
	char txt[20];
	int n;

	date_from_time((int64_t)t, &c);
	if (c.year < 2050) {
		n = str_fmt(txt, sizeof(txt), "%02u%02u%02u%02u%02u%02uZ", (unsigned)c.year % 100,
		    c.month, c.day, c.hour, c.min, c.sec);
	} else {
		n = str_fmt(txt, sizeof(txt), "%04u%02u%02u%02u%02u%02uZ", (unsigned)c.year,
		    c.month, c.day, c.hour, c.min, c.sec);
	}
	if (n < 0) {
		d->overflow = 1;
		return;
	}
	der_tlv(d, c.year < 2050 ? DER_UTCTIME : DER_GENTIME, txt, (size_t)n);
}

/*
 * Validity from a day ago (clients with a slow clock) for days in all, that day
 * included: clients bound the whole span (Apple: at most 825 days), not what is left.
 */
static void
cert_validity(struct der *d, unsigned days)
{
	size_t s = der_begin(d);
	uint64_t from = (uint64_t)time(NULL) - 86400;

	cert_time(d, from);
	cert_time(d, from + (uint64_t)days * 86400);
	der_end(d, DER_SEQUENCE, s);
}

static void
cert_spki(struct der *d, const br_ec_public_key *pk)
{
	size_t s = der_begin(d), alg;

	alg = der_begin(d);
	der_tlv(d, DER_OID, oid_ec_public_key, sizeof(oid_ec_public_key));
	der_tlv(d, DER_OID, oid_prime256v1, sizeof(oid_prime256v1));
	der_end(d, DER_SEQUENCE, alg);
	der_bits(d, pk->q, pk->qlen);
	der_end(d, DER_SEQUENCE, s);
}

/* One Extension: extnID, critical only when set, extnValue wrapping what fn wrote. */
static void
cert_ext(struct der *d, const unsigned char *oid, size_t oidlen, int critical,
    void (*fn)(struct der *, const void *), const void *arg)
{
	static const unsigned char yes = 0xff;
	size_t s = der_begin(d), val;

	der_tlv(d, DER_OID, oid, oidlen);
	if (critical) {
		der_tlv(d, DER_BOOLEAN, &yes, 1);
	}
	val = der_begin(d);
	fn(d, arg);
	der_end(d, DER_OCTETSTRING, val);
	der_end(d, DER_SEQUENCE, s);
}

/* GeneralNames: iPAddress for IP literals, dNSName for the rest. */
static void
cert_san_value(struct der *d, const void *arg)
{
	const char *const *names = arg;
	size_t s = der_begin(d), i;

	for (i = 0; names[i] != NULL; i++) {
		unsigned char ip[16];

		if (inet_pton(AF_INET, names[i], ip) == 1) {
			der_tlv(d, DER_IMPL(7), ip, 4);
		} else if (inet_pton(AF_INET6, names[i], ip) == 1) {
			der_tlv(d, DER_IMPL(7), ip, 16);
		} else {
			der_tlv(d, DER_IMPL(2), names[i], strlen(names[i]));
		}
	}
	der_end(d, DER_SEQUENCE, s);
}

/* basicConstraints with cA absent (DEFAULT FALSE, so DER omits it). */
static void
cert_bc_value(struct der *d, const void *arg)
{
	(void)arg;
	der_tlv(d, DER_SEQUENCE, "", 0);
}

/* keyUsage digitalSignature: bit 0, seven unused bits. */
static void
cert_ku_value(struct der *d, const void *arg)
{
	static const unsigned char bits[] = { 7, 0x80 };

	(void)arg;
	der_tlv(d, DER_BITSTRING, bits, sizeof(bits));
}

static void
cert_eku_value(struct der *d, const void *arg)
{
	size_t s = der_begin(d);

	(void)arg;
	der_tlv(d, DER_OID, oid_server_auth, sizeof(oid_server_auth));
	der_end(d, DER_SEQUENCE, s);
}

static void
cert_extensions(struct der *d, const char *const *names)
{
	size_t outer = der_begin(d), seq;

	seq = der_begin(d);
	cert_ext(d, oid_san, sizeof(oid_san), 0, cert_san_value, names);
	cert_ext(d, oid_basic_constraints, sizeof(oid_basic_constraints), 1, cert_bc_value,
	    NULL);
	cert_ext(d, oid_key_usage, sizeof(oid_key_usage), 1, cert_ku_value, NULL);
	cert_ext(d, oid_ext_key_usage, sizeof(oid_ext_key_usage), 0, cert_eku_value, NULL);
	der_end(d, DER_SEQUENCE, seq);
	der_end(d, DER_CTX(3), outer);
}

/* A positive 16-byte serial with no leading zero (RFC 5280 section 4.1.2.2). */
static int
cert_serial(struct der *d)
{
	unsigned char serial[16];

	if (random_bytes(serial, sizeof(serial)) != 0) {
		return -1;
	}
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
	der_tlv(d, DER_INTEGER, serial, sizeof(serial));
	return 0;
}

/* TBSCertificate, then its ECDSA signature: the whole Certificate in d. */
static int
cert_build(struct der *d, const br_ec_private_key *sk, const br_ec_public_key *pk,
    const char *const *names, unsigned days)
{
	static const unsigned char v3[] = { DER_INTEGER, 1, 2 };
	unsigned char hash[br_sha256_SIZE], sig[80];
	br_sha256_context h;
	size_t tbs, sig_len;

	tbs = der_begin(d);
	der_tlv(d, DER_CTX(0), v3, sizeof(v3));
	if (cert_serial(d) != 0) {
		return -1;
	}
	cert_sig_alg(d);
	cert_name(d, names[0]);
	cert_validity(d, days);
	cert_name(d, names[0]);
	cert_spki(d, pk);
	cert_extensions(d, names);
	der_end(d, DER_SEQUENCE, tbs);
	if (d->overflow) {
		return -1;
	}
	br_sha256_init(&h);
	br_sha256_update(&h, d->buf, d->len);
	br_sha256_out(&h, hash);
	sig_len = br_ecdsa_i31_sign_asn1(TLS_EC_P256, &br_sha256_vtable, hash, sk, sig);
	if (sig_len == 0) {
		return -1;
	}
	cert_sig_alg(d);
	der_bits(d, sig, sig_len);
	der_end(d, DER_SEQUENCE, 0);
	return d->overflow ? -1 : 0;
}

/* ---- Key generation and files ---- */

/* A P-256 key from an HMAC-DRBG seeded by the system and by random_bytes. */
static int
cert_keygen(br_ec_private_key *sk, unsigned char *kbuf, br_ec_public_key *pk,
    unsigned char *pbuf)
{
	br_prng_seeder seeder = br_prng_seeder_system(NULL);
	br_hmac_drbg_context rng;
	unsigned char seed[32];
	int rc = -1;

	if (random_bytes(seed, sizeof(seed)) != 0) {
		return -1;
	}
	br_hmac_drbg_init(&rng, &br_sha256_vtable, seed, sizeof(seed));
	if (seeder != NULL && seeder(&rng.vtable) &&
	    br_ec_keygen(&rng.vtable, TLS_EC_P256, sk, kbuf, BR_EC_secp256r1) != 0 &&
	    br_ec_compute_pub(TLS_EC_P256, pk, pbuf, sk) != 0) {
		rc = 0;
	}
	wipe(seed, sizeof(seed));
	wipe(&rng, sizeof(rng));
	return rc;
}

/* Write path.tmp with mode (creating the directory), fsync it; 0 or -1 with err set. */
static int
cert_write_tmp(const char *path, const char *text, mode_t mode, char *err, size_t errlen)
{
	char tmp[PATH_LEN], *slash;
	int fd;

	if (str_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0) {
		str_fmt(err, errlen, "%s: path too long", path);
		return -1;
	}
	slash = strrchr(tmp, '/');
	if (slash != NULL && slash != tmp) {
		*slash = '\0';
		if (mkdir_p(tmp, 0755) != 0) {
			str_fmt(err, errlen, "%s: %s", tmp, strerror(errno));
			return -1;
		}
		*slash = '/';
	}
	/* A leftover from an interrupted run may have the wrong mode: start afresh. */
	if (unlink(tmp) == -1 && errno != ENOENT) {
		str_fmt(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd == -1 || write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
		str_fmt(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	if (close(fd) != 0) {
		str_fmt(err, errlen, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
cert_commit(const char *path, char *err, size_t errlen)
{
	char tmp[PATH_LEN];

	if (str_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0 || rename(tmp, path) != 0 ||
	    fsync_parent(path) != 0) {
		str_fmt(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Both files are complete on disk before either replaces an old one. */
static int
cert_write_pair(const char *cert_path, const char *cert_pem, const char *key_path,
    const char *key_pem, char *err, size_t errlen)
{
	if (cert_write_tmp(key_path, key_pem, 0600, err, errlen) != 0) {
		return -1;
	}
	if (cert_write_tmp(cert_path, cert_pem, 0644, err, errlen) != 0) {
		char tmp[PATH_LEN];

		if (str_fmt(tmp, sizeof(tmp), "%s.tmp", key_path) >= 0) {
			unlink(tmp);
		}
		return -1;
	}
	if (cert_commit(key_path, err, errlen) != 0 ||
	    cert_commit(cert_path, err, errlen) != 0) {
		return -1;
	}
	return 0;
}

static void
cert_fingerprint(const unsigned char *der, size_t len, char *fpr)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char h[br_sha256_SIZE];
	br_sha256_context c;
	size_t i;

	br_sha256_init(&c);
	br_sha256_update(&c, der, len);
	br_sha256_out(&c, h);
	for (i = 0; i < sizeof(h); i++) {
		fpr[3 * i] = hex[h[i] >> 4];
		fpr[3 * i + 1] = hex[h[i] & 15];
		fpr[3 * i + 2] = i + 1 < sizeof(h) ? ':' : '\0';
	}
}

/* Host names and IP literals only: they end up in the certificate verbatim. */
static int
cert_name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > 253) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':' ||
		    (c == '*' && i == 0))) {
			return 0;
		}
	}
	return 1;
}

static int
cert_check_args(const char *cert_path, const char *key_path, const char *const *names,
    size_t n_names, int force, char *err, size_t errlen)
{
	size_t i;

	if (n_names == 0 || strlen(names[0]) > CERT_CN_MAX) {
		str_fmt(err, errlen, "need a first name of at most %d characters", CERT_CN_MAX);
		return -1;
	}
	for (i = 0; i < n_names; i++) {
		if (!cert_name_ok(names[i])) {
			str_fmt(err, errlen, "'%s' is not a host name or IP address", names[i]);
			return -1;
		}
	}
	if (!force && (access(key_path, F_OK) == 0 || access(cert_path, F_OK) == 0)) {
		str_fmt(err, errlen, "%s or %s exists (--force replaces them)", key_path,
		    cert_path);
		return -1;
	}
	return 0;
}

/* Encode key and certificate as PEM and write them. */
static int
cert_store(const char *cert_path, const char *key_path, const struct der *d,
    const br_ec_private_key *sk, const br_ec_public_key *pk, char *err, size_t errlen)
{
	unsigned char kder[256];
	char kpem[512], cpem[CERT_DER_MAX * 2];
	size_t klen = br_encode_ec_raw_der(NULL, sk, pk);
	int rc = -1;

	if (klen == 0 || klen > sizeof(kder)) {
		str_fmt(err, errlen, "cannot encode the key");
		return -1;
	}
	br_encode_ec_raw_der(kder, sk, pk);
	if (pem_encode(kpem, sizeof(kpem), BR_ENCODE_PEM_EC_RAW, kder, klen) == 0 ||
	    pem_encode(cpem, sizeof(cpem), "CERTIFICATE", d->buf, d->len) == 0) {
		str_fmt(err, errlen, "cannot encode PEM");
	} else {
		rc = cert_write_pair(cert_path, cpem, key_path, kpem, err, errlen);
	}
	wipe(kder, sizeof(kder));
	wipe(kpem, sizeof(kpem));
	return rc;
}

int
cert_create(const char *cert_path, const char *key_path, const char *const *names,
    size_t n_names, unsigned days, int force, char *fpr, char *err, size_t errlen)
{
	const char *list[CERT_NAMES_MAX + 1];
	unsigned char kbuf[BR_EC_KBUF_PRIV_MAX_SIZE], pbuf[BR_EC_KBUF_PUB_MAX_SIZE];
	br_ec_private_key sk;
	br_ec_public_key pk;
	struct der d;
	int rc = -1;

	if (n_names > CERT_NAMES_MAX) {
		str_fmt(err, errlen, "at most %d names", CERT_NAMES_MAX);
		return -1;
	}
	if (cert_check_args(cert_path, key_path, names, n_names, force, err, errlen) != 0) {
		return -1;
	}
	memcpy(list, names, n_names * sizeof(names[0]));
	list[n_names] = NULL;
	d.len = 0;
	d.overflow = 0;
	if (cert_keygen(&sk, kbuf, &pk, pbuf) != 0) {
		str_fmt(err, errlen, "no entropy for key generation");
	} else if (cert_build(&d, &sk, &pk, list, days) != 0) {
		str_fmt(err, errlen, "cannot build the certificate");
	} else {
		rc = cert_store(cert_path, key_path, &d, &sk, &pk, err, errlen);
		cert_fingerprint(d.buf, d.len, fpr);
	}
	wipe(kbuf, sizeof(kbuf));
	return rc;
}

/* ---- The verb ---- */

struct cert_opts {
	const char *cert, *key;
	unsigned days;
	int force;
};

/*
 * The verb's own options (after the global ones): --cert F, --key F, --days N,
 * --force; "--" ends them. Returns the index of the first name, or -1 on bad usage.
 */
static int
cert_opts(int argc, char **argv, int i, struct cert_opts *o)
{
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i];
		int has_val = i + 1 < argc;
		uint32_t v;

		if (strcmp(a, "--") == 0) {
			return i + 1;
		} else if (strcmp(a, "--force") == 0) {
			o->force = 1;
		} else if (strcmp(a, "--cert") == 0 && has_val) {
			o->cert = argv[++i];
		} else if (strcmp(a, "--key") == 0 && has_val) {
			o->key = argv[++i];
		} else if (strcmp(a, "--days") == 0 && has_val &&
		    parse_u32(argv[i + 1], strlen(argv[i + 1]), CERT_DAYS_MAX, &v) == 0 && v > 0) {
			o->days = v;
			i++;
		} else {
			return -1;
		}
	}
	return i;
}

/* Names: the host name, then the arguments not equal to it. */
static size_t
cert_names(const struct config *cfg, char **args, int n, const char **names)
{
	size_t count = 0;
	int i;

	names[count++] = cfg->hostname;
	for (i = 0; i < n && count < CERT_NAMES_MAX + 1; i++) {
		if (strcmp(args[i], cfg->hostname) != 0) {
			names[count++] = args[i];
		}
	}
	return count;
}

int
cmd_cert(int argc, char **argv)
{
	struct cert_opts o = { NULL, NULL, CERT_DAYS_DEFAULT, 0 };
	const char *names[CERT_NAMES_MAX + 2];
	struct config cfg;
	char err[PATH_LEN * 2 + 64], fpr[96];
	size_t n;
	int first;

	config_from_args(&cfg, argc, argv, &first);
	first = cert_opts(argc, argv, first, &o);
	if (first < 0) {
		fprintf(stderr, "usage: mailnook [-c FILE] [-o key=value] cert [--cert FILE] "
		    "[--key FILE] [--days N] [--force] [NAME|IP]...\n");
		return EX_USAGE;
	}
	o.cert = o.cert ? o.cert : (cfg.tls_cert[0] ? cfg.tls_cert : DEF_TLS_CERT);
	o.key = o.key ? o.key : (cfg.tls_key[0] ? cfg.tls_key : DEF_TLS_KEY);
	n = cert_names(&cfg, argv + first, argc - first, names);
	if (cert_create(o.cert, o.key, names, n, o.days, o.force, fpr, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "mailnook cert: %s\n", err);
		return EX_CANTCREAT;
	}
	printf("wrote %s and %s (valid %u days)\nSHA256 Fingerprint=%s\n", o.cert, o.key,
	    o.days, fpr);
	return 0;
}

#else /* !WITH_TLS */

#include <stdio.h>
#include <sysexits.h>

#include "verbs.h"

int
cmd_cert(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "mailnook cert: built without TLS support\n");
	return EX_UNAVAILABLE;
}

#endif
