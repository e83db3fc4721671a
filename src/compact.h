/*
 * In-place compaction of an mbox: slide live messages down over expunged ones in
 * rounds, with a redo journal <side>.jnl so that a power cut at any instant is finished
 * by the next open or `check`. Only the bytes a round overwrites in its own source are
 * copied into the journal. Extra space: two copy slots of COMPACT_ROUND_MIN at most.
 * Layout and write cost: doc/store.md.
 */
#ifndef MAILNOOK_COMPACT_H
#define MAILNOOK_COMPACT_H

#include <stdint.h>

#include "index.h"
#include "lock.h"

/* One run of live bytes to move from src down to dst (dst < src). */
struct compact_move {
	uint64_t src, dst, len;
};

/* A compaction plan, as kept in the journal. */
struct compact_plan {
	struct compact_move *moves;
	uint32_t n;
	size_t cap;
	uint64_t generation;	/* of the state file the plan was made from */
	uint64_t old_size;	/* mbox size when planned (or extended) */
	uint64_t new_size;	/* size to truncate to */
	uint64_t idx_end;	/* end of the indexed messages after the moves */
	uint32_t round_min;	/* COMPACT_ROUND_MIN when made, the journal's when read */
};

/* Bytes held by expunged messages of img (a full state image synced with the mbox). */
uint64_t compact_dead(const struct idx_set *img);

/* Build the plan for img (n = 0 and new_size < old_size for pure truncation); 0 or -1. */
int compact_make_plan(const struct idx_set *img, struct compact_plan *p);
/* Free a plan's moves. */
void compact_free_plan(struct compact_plan *p);

/*
 * Compact the mbox open on mbox_fd whose full state image img is synced with it (size
 * equal). The caller holds the mbox write lock l and the state file lock (other
 * sessions may have the folder open: they follow the new generation). Writes <side>.idx
 * anew (generation + 1) and puts that image in img. 0 (also when nothing is dead), -1
 * (the journal then finishes it later), or -2 when bytes would have to move and the free
 * space for the journal is not there (nothing done; errno ENOSPC). Cutting dead bytes
 * at the end needs no space and no journal.
 */
int compact_run(int mbox_fd, const char *side, struct mbox_lock *l, struct idx_set *img);

/*
 * Finish an interrupted compaction if <side>.jnl exists; same locks as compact_run.
 * img is the state file's image, or NULL if it was unreadable (then only the mbox is
 * finished; the caller rebuilds the index). Returns 0 if no journal, 1 if finished, -1.
 */
int compact_recover(int mbox_fd, const char *side, struct mbox_lock *l, struct idx_set *img);

#endif
