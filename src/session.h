/*
 * One client session, whoever launched it: serve's forked child, inetd, tcpsvd or
 * systemd all end here with the connection on two fds.
 */
#ifndef MAILNOOK_SESSION_H
#define MAILNOOK_SESSION_H

#include "config.h"

struct tls_server;

struct session_ctx {
	const struct config *cfg;
	const struct tls_server *tls;	/* decoded key and chain, NULL when none configured */
	enum proto proto;
	int implicit_tls;		/* handshake before the greeting (993/995) */
};

/* Run the session on rfd/wfd to its end; returns the process exit code. */
int session_run(const struct session_ctx *ctx, int rfd, int wfd);

#endif
