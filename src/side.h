/*
 * The side files of a folder, in one table: every file the store keeps beside a folder's
 * mbox is side_base + its suffix (doc/store.md). RENAME, DELETE and check iterate this
 * table, so a new side file is moved and removed with its folder by adding it here.
 */
#ifndef MAILNOOK_SIDE_H
#define MAILNOOK_SIDE_H

#include <stddef.h>

enum side_file {
	SIDE_IDX,	/* state file: records and change log (index.c) */
	SIDE_JNL,	/* compaction redo journal, present only while one runs (compact.c) */
	SIDE_SES,	/* shared flock of open sessions (store.c) */
	SIDE_POP3,	/* the one POP3 session's lock (store.c) */
	SIDE_KW,	/* keyword names (store_imap.c) */
	SIDE_RCT,	/* \Recent mark (store_imap.c) */
	SIDE_MIME,	/* structure cache (mime_cache.c) */
	SIDE_COUNT
};

/* The mbox dotlock's suffix: <mbox>.lock, beside the mbox rather than the side files. */
#define SIDE_DOTLOCK	".lock"

/* Suffix of a side file, e.g. ".idx". */
const char *side_suffix(enum side_file which);

/* side_base + the suffix of which into buf; 0, or -1 if it does not fit. */
int side_path(char *buf, size_t cap, const char *side_base, enum side_file which);

/* 1 when the file name ends in the dotlock suffix (never a folder, never counted). */
int side_is_dotlock(const char *name, size_t len);

#endif
