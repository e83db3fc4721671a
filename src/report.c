/* Reports travel as 4-byte pids on one pipe shared by all children: under PIPE_BUF, so atomic. */
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
report_login(void)
{
	int32_t pid = (int32_t)getpid();

	if (report_fd < 0) {
		return;
	}
	if (write(report_fd, &pid, sizeof(pid)) != (ssize_t)sizeof(pid)) {
		log_warn("cannot report login to the listener");
	}
	close(report_fd);
	report_fd = -1;
}
