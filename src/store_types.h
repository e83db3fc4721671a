/*
 * What the store records of each message and of its mbox: the types shared by the
 * public store API (store.h) and the state-file codec (index.h), so neither needs the other.
 */
#ifndef MAILNOOK_STORE_TYPES_H
#define MAILNOOK_STORE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "mbox.h"

/* Persistent flag bits. */
#define STORE_SEEN	0x01u
#define STORE_ANSWERED	0x02u
#define STORE_FLAGGED	0x04u
#define STORE_DELETED	0x08u
#define STORE_DRAFT	0x10u
#define STORE_FLAGS_ALL	0x1fu
/* In-memory only: set by store_refresh on messages whose flags changed elsewhere. */
#define STORE_CHANGED	0x40000000u
/* In-memory only: bytes compacted away after an expunge elsewhere; read as STORE_GONE. */
#define STORE_VANISHED	0x20000000u
/* In-memory only, kept by the store for IMAP: the client has had a FETCH response for it. */
#define STORE_TOLD	0x10000000u
/* Logically removed; never served again. */
#define STORE_EXPUNGED	0x80000000u

/* One message record of the state file, decoded. */
struct store_rec {
	uint32_t uid;
	uint32_t flags;
	uint64_t keywords;	/* bit i = keyword i of the folder's keyword table */
	uint64_t modseq;	/* reserved for CONDSTORE: written as 0, not kept in memory */
	struct mbox_entry e;	/* where and how big in the mbox */
};

/*
 * One message of an open folder as memory keeps it: what every command looks at. The
 * rest of its record (struct mbox_entry) stays in the state file, read when a command
 * needs it (store_msg_entry); keywords sit in an array of their own, made only once
 * some message has one.
 */
struct store_msg {
	uint32_t uid;
	uint32_t flags;
	uint32_t at;	/* offset of its 64-byte record in the state file read, 0: none */
};
/* uid_lower (util.h) searches arrays of these by their first member. */
_Static_assert(offsetof(struct store_msg, uid) == 0, "uid first");

/* The entry of a message whose record left the state file while a view still lists it. */
struct idx_kept {
	uint32_t uid;
	struct mbox_entry e;
};

/*
 * The state file a view's records are read from: mapped read-only and shared (clean
 * page-cache pages), or read with pread where the file system cannot map it; and the
 * entries of listed messages whose records left the files read before.
 */
struct idx_map {
	int fd;			/* -1: none */
	const unsigned char *p;	/* NULL: pread */
	size_t len;
	int nomap;		/* the file system cannot map it */
	struct idx_kept *kept;
	uint32_t nkept;
	size_t kept_cap;
};

/* What the index last saw of the mbox: any difference means outside changes. */
struct store_mboxstat {
	uint64_t size;
	uint64_t ino;
	int64_t mtime_ns;
	uint32_t tail_crc;	/* CRC-32C of the last bytes before size (IDX_TAIL_LEN) */
};

/* What store_refresh found. */
struct store_changes {
	uint32_t added;		/* new messages appended at the end of msgs[] */
	uint32_t flagged;	/* messages that got STORE_CHANGED */
	uint32_t expunged;	/* messages that got STORE_EXPUNGED (still in msgs[]) */
	int resynced;		/* the mbox was rewritten by another tool: UIDs may have moved */
};

#endif
