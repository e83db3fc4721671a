/*
 * Reports travel as 8-byte records (pid, state) on one pipe shared by all children:
 * under PIPE_BUF, so each is written whole and the listener reads whole records.
 */
#include "report.h"

#include <stdint.h>
#include <unistd.h>

#include "log.h"

static int report_fd = -1;

void
report_attach(int fd)
{
	report_fd = fd;
}

void
report_state(enum report_state st)
{
	int32_t rec[2] = { (int32_t)getpid(), (int32_t)st };

	if (report_fd < 0) {
		return;
	}
	if (write(report_fd, rec, sizeof(rec)) != (ssize_t)sizeof(rec)) {
		log_warn("cannot report login state to the listener");
	}
	if (st == REPORT_AUTHED) {
		close(report_fd);
		report_fd = -1;
	}
}
