/*
 * The one way messages are written to an mbox (store-private): deliver's append and
 * IMAP's APPEND and COPY both come here, under the caller's mbox write lock, so that the
 * size, quota and error rules are the same for every way mail arrives.
 */
#ifndef MAILNOOK_APPEND_H
#define MAILNOOK_APPEND_H

#include <stddef.h>
#include <stdint.h>

#include "mbox.h"

/* One message for append_write: its input, its From_ line sender (NULL: MAILER-DAEMON) and date. */
struct append_msg {
	struct mbox_in in;
	const char *sender;
	int64_t date;		/* -1 for now */
};

/*
 * Message k's input into *m: 1, 0 when there are no more, -1 on error (errno set). A
 * message the caller leaves out (expunged meanwhile) is skipped by returning the next.
 */
typedef int append_next_fn(void *ctx, size_t k, struct append_msg *m);

/*
 * The store code for a failed write (errno from the writer, a copy or the sync):
 * EFBIG is STORE_QUOTA when quota_bound (the quota, not max_size, limited the message)
 * and STORE_TOOBIG otherwise; EINVAL STORE_BADMSG; ENOSPC and EDQUOT STORE_NOSPACE.
 */
int append_rc(int err, int quota_bound);

/*
 * Under the write lock, on fd (O_APPEND) whose size is size: the separator the mbox needs,
 * then every message next() gives, each within max_size and all within quota_left bytes,
 * then one fdatasync. *added gets the bytes written (also on failure, for the caller's
 * undo). STORE_OK, STORE_TOOBIG, STORE_QUOTA, STORE_BADMSG, STORE_NOSPACE or STORE_ERR.
 */
int append_write(int fd, uint64_t size, append_next_fn *next, void *ctx, uint64_t max_size,
    uint64_t quota_left, uint64_t *added);

#endif
