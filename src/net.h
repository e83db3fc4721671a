/*
 * serve's accept loop (cmd_serve in verbs.h) and the one call a session makes back to
 * it: reporting where it stands in the login, so that the listener's caps on sessions
 * not yet logged in are exact.
 */
#ifndef MAILNOOK_NET_H
#define MAILNOOK_NET_H

enum net_state {
	NET_PRELOGIN = 0,	/* counts against max_unauth */
	NET_DELAYING = 1,	/* asleep after a failed login: not holding a pre-login place */
	NET_AUTHED = 2		/* logged in; final */
};

/* In a child forked by serve: tell the listener this session's login state. A no-op
 * under inetd, tcpsvd or systemd, and after NET_AUTHED. */
void net_report_state(enum net_state st);

#endif
