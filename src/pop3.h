/*
 * POP3 (RFC 1939, 2449, 5034) over an established connection.
 */
#ifndef MAILNOOK_POP3_H
#define MAILNOOK_POP3_H

#include "io.h"
#include "session_ctx.h"

/* Greet, run the AUTHORIZATION and TRANSACTION states, UPDATE at QUIT. Exit code. */
int pop3_session(const struct session_ctx *ctx, struct io *io);

#endif
