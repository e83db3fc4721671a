/*
 * syslog or stderr behind one printf-checked API. The only state is the sink choice,
 * set once at start; a forked child inherits it and needs nothing else.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "params.h"

static int log_stderr = 1;
static int log_debug_on;
static const char *log_ident = "mailnook";

void
log_open(const char *ident, int to_stderr)
{
	log_ident = ident;
	log_stderr = to_stderr;
	if (!to_stderr) {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	}
}

void
log_set_debug(int on)
{
	log_debug_on = on;
}

static void
log_emit(int prio, int err, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t n, start;
	int r;

	r = log_stderr ? snprintf(line, sizeof(line), "%s[%ld]: ", log_ident, (long)getpid()) : 0;
	if (r < 0 || (size_t)r >= sizeof(line) / 2) {
		return;
	}
	start = (size_t)r;
	if (vsnprintf(line + start, sizeof(line) - start, fmt, ap) < 0) {
		return;
	}
	n = strlen(line);
	if (err != 0 && n < sizeof(line) - 1) {
		(void)snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
	}
	/* Never let client-controlled bytes forge extra log lines. */
	for (n = start; line[n] != '\0'; n++) {
		if ((unsigned char)line[n] < 0x20 || line[n] == 0x7f) {
			line[n] = '?';
		}
	}
	if (!log_stderr) {
		syslog(prio, "%s", line);
		return;
	}
	/* One write() per line: below PIPE_BUF it cannot interleave with other sessions'. */
	n = n < sizeof(line) - 1 ? n : sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on) {
		return;
	}
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

void
fatal(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(code);
}
