/*
 * What a protocol session is given by whoever launched it (serve's forked child, inetd,
 * tcpsvd or systemd): the config, the TLS key and how the connection began.
 */
#ifndef MAILNOOK_SESSION_CTX_H
#define MAILNOOK_SESSION_CTX_H

#include "config.h"

struct tls_server;

struct session_ctx {
	const struct config *cfg;
	const struct tls_server *tls;	/* decoded key and chain, NULL when none configured */
	enum proto proto;
	int implicit_tls;		/* handshake before the greeting (993/995) */
};

#endif
