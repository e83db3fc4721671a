/*
 * A session's reports to serve's listener, which forked it: the one channel that goes
 * back up, so that the listener's caps (max_unauth, eviction) follow what its children
 * do. Under inetd, tcpsvd or systemd there is no listener and every report is a no-op.
 */
#ifndef MAILNOOK_REPORT_H
#define MAILNOOK_REPORT_H

/* Where a session stands in its login. */
enum report_state {
	REPORT_PRELOGIN = 0,	/* holds one of the max_unauth places */
	REPORT_DELAYING = 1,	/* asleep after a failed login: holds no pre-login place */
	REPORT_AUTHED = 2	/* logged in; final */
};

/* In serve's child: fd is the write end of the listener's report pipe. */
void report_attach(int fd);

/* Tell the listener where this session stands; a no-op after REPORT_AUTHED. */
void report_state(enum report_state st);

#endif
