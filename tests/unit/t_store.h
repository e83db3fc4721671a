/*
 * Store test helper: does msgs[i] of an open folder read back, through store_msg_open,
 * as the stored message want[0..len) (From_ line to separator, as written to the mbox)?
 * 1 yes, 0 no, -1 gone (STORE_GONE).
 */
#ifndef MAILNOOK_T_STORE_H
#define MAILNOOK_T_STORE_H

#include <string.h>

#include "store.h"

static int
t_reads_as(struct store_folder *f, uint32_t i, const char *want, size_t len)
{
	static char got[1024 * 1024];
	static struct mbox_reader r;
	const char *body = memchr(want, '\n', len), *line;
	size_t n, have = 0;
	int partial, nl, rc = STORE_ERR;

	if (body == NULL || (rc = store_msg_open(f, i, &r)) != STORE_OK) {
		return body != NULL && rc == STORE_GONE ? -1 : 0;
	}
	body++;
	len -= (size_t)(body - want) + 1;	/* content: without From_ line and separator */
	while ((rc = store_msg_read(&r, &line, &n, &partial, &nl)) == 1 &&
	    have + n + 1 <= sizeof(got)) {
		memcpy(got + have, line, n);
		have += n;
		if (nl) {
			got[have++] = '\n';
		}
	}
	store_msg_close(f, &r);
	return rc == 0 && have == len && memcmp(got, body, len) == 0;
}

#endif
