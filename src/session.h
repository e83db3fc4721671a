/*
 * One client session, whoever launched it: serve's forked child, inetd, tcpsvd or
 * systemd all end here with the connection on two fds.
 */
#ifndef MAILNOOK_SESSION_H
#define MAILNOOK_SESSION_H

#include "session_ctx.h"

/* Run the session on rfd/wfd to its end; returns the process exit code. */
int session_run(const struct session_ctx *ctx, int rfd, int wfd);

#endif
