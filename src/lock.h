/*
 * Locking an mbox the way other mail tools expect: fcntl (OFD) record lock plus a
 * <mbox>.lock dotlock for writers, taken all-or-nothing and without blocking, retried
 * with jittered backoff until a deadline. Used only in per-connection processes and verbs.
 */
#ifndef MAILNOOK_LOCK_H
#define MAILNOOK_LOCK_H

#include <stdint.h>

#include "params.h"

struct mbox_lock {
	int fd;			/* the mbox fd the fcntl lock is on, -1 when unlocked */
	int dotlocked;
	char dotlock[PATH_LEN];
	long long last_touch_ms;
};

/* Lock kinds. A writer that only moves bytes down and shortens the mbox (compaction)
 * needs no size in its dotlock: with the disk full, an empty one will do. */
#define MBOX_LOCK_READ		0
#define MBOX_LOCK_WRITE		1
#define MBOX_LOCK_SHRINK	2

/*
 * Lock the mbox open on fd at path: MBOX_LOCK_WRITE or MBOX_LOCK_SHRINK takes the fcntl
 * write lock and the dotlock, MBOX_LOCK_READ a fcntl read lock only. Returns 0, or -2
 * (STORE_INUSE) after timeout_ms, -1 on error.
 * A write lock's holder that dies leaves the mbox truncated back to its size at lock
 * time when only its own partial message follows (see lock.c, rule 7): grow the mbox
 * only to append, and report an append as done only after unlock_mbox returned 0.
 */
int lock_mbox(struct mbox_lock *l, int fd, const char *path, int kind, int timeout_ms);
/* Refresh the dotlock's mtime during long work (at most every DOTLOCK_TOUCH s). */
void lock_touch(struct mbox_lock *l);
/* Release; for a write lock the dotlock's removal is durable on return. 0, or -1
 * (logged) when that could not be made sure. */
int unlock_mbox(struct mbox_lock *l);

/*
 * Undo a dead writer's partial append: when <path>.lock was left by a writer of ours
 * that is gone, truncate the mbox on fd back to the size it names (only if nothing but
 * that writer's message follows; else keep every byte and warn), then remove that
 * stale dotlock (any stale dotlock goes). Call holding no lock on the file; does nothing
 * while another process holds the fcntl lock, or when fd is open read-only.
 * 1 recovered, 0 nothing to do, -1 error.
 */
int lock_recover(int fd, const char *path);

/*
 * 1 and *end = the mbox size named by a dotlock of ours whose writer is dead (bytes past
 * it may still be cut by the undo above, so nothing new past it may be indexed), else 0.
 */
int lock_dead_end(const char *path, uint64_t *end);

/*
 * Make a write final before letting go: remove the dotlock durably (an undo can no
 * longer cut what was written), keep the fcntl lock for unlock_mbox. 0 or -1 (logged).
 */
int lock_commit(struct mbox_lock *l);

#endif
