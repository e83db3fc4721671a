/*
 * Self-signed ECDSA P-256 server certificates made with BearSSL alone (routers usually
 * have no openssl): key generation, our own X.509 DER encoder, PEM files.
 */
#ifndef MAILNOOK_CERT_H
#define MAILNOOK_CERT_H

#include <stddef.h>

/*
 * Create a new P-256 key and a self-signed certificate valid for days days. The
 * subject CN is names[0]; every name goes into subjectAltName (IP literals as
 * iPAddress, the rest as dNSName). The key is written 0600 and the certificate 0644,
 * each through a temporary file and rename; existing files are replaced only with
 * force. 0, or -1 with err set. fpr (capacity >= 96) receives the SHA-256
 * fingerprint of the certificate as colon-separated hex.
 */
int cert_create(const char *cert_path, const char *key_path, const char *const *names,
    size_t n_names, unsigned days, int force, char *fpr, char *err, size_t errlen);

#endif
