/*
 * A session's reports to serve's listener, which forked it: the one channel that goes
 * back up, so that the listener's caps (max_unauth) follow what its children do.
 * Under inetd, tcpsvd or systemd there is no listener and every report is a no-op.
 */
#ifndef MAILNOOK_REPORT_H
#define MAILNOOK_REPORT_H

/* In serve's child: fd is the write end of the listener's report pipe. */
void report_attach(int fd);

/* Tell the listener this session has logged in; a no-op after the first call. */
void report_login(void);

#endif
