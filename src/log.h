/*
 * Logging: syslog (facility mail, with pid) or stderr. One line per event, from a fixed
 * vocabulary so that fail2ban-style tools can match it:
 *   connect from ADDR | login user=U from ADDR | login failed user=U from ADDR |
 *   logout user=U retr=N dele=N in=BYTES out=BYTES
 */
#ifndef MAILNOOK_LOG_H
#define MAILNOOK_LOG_H

/* Start logging as ident ("mailnook"); to_stderr selects stderr instead of syslog. */
void log_open(const char *ident, int to_stderr);
/* Include debug lines (off by default). */
void log_set_debug(int on);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning without errno. */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Log an error and exit(code); use "%m" in fmt to include strerror(errno). */
void fatal(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif
