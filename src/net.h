/*
 * serve's accept loop (cmd_serve in verbs.h) and the one call a session makes back to
 * it: reporting a login, so that the listener's unauthenticated-session cap is exact.
 */
#ifndef MAILNOOK_NET_H
#define MAILNOOK_NET_H

/* In a child forked by serve: tell the listener this session has logged in. A no-op
 * under inetd, tcpsvd or systemd, and after the first call. */
void net_report_login(void);

#endif
