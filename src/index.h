/*
 * The per-folder state file <side>.idx: a checksummed header, a base array of fixed
 * 64-byte message records and an append-only tail of change records with absolute
 * values. index.c encodes and decodes records and applies them to an in-memory image;
 * index_file.c loads, replays, rewrites and appends the file. Byte layout: doc/store.md.
 */
#ifndef MAILNOOK_INDEX_H
#define MAILNOOK_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "store_types.h"

#define IDX_MAGIC	"mnkIDX\r\n"	/* 8 bytes; CR LF catches text-mode mangling */
#define IDX_VERSION	1
#define IDX_HDR_LEN	128
#define IDX_REC_LEN	64
#define IDX_LOG_MAX	(4 + IDX_REC_LEN + 4)	/* largest change record */
#define IDX_TAIL_LEN	64	/* bytes of the mbox end covered by the tail checksum */
#define IDX_F_MBOXRD	0x1u	/* header flag: folder uses mboxrd unquoting */

/* Change record types (tail of the state file). */
enum idx_type {
	IDX_NEW = 1,		/* a message record (payload = 64-byte record) */
	IDX_FLAGS = 2,		/* uid, flags, keywords, modseq */
	IDX_EXPUNGE = 3,	/* uids first..last are expunged */
	IDX_SYNC = 4		/* the mbox as indexed: size, inode, mtime, tail checksum */
};

/*
 * A folder's state: the full image of a state file, or a session's view of it. An image
 * (cold) holds every record's entry in ents[]; a view reads it through map at msgs[].at.
 */
struct idx_set {
	struct store_msg *msgs;	/* ascending UIDs */
	uint64_t *kw;		/* keyword masks, parallel to msgs; NULL while all are 0 */
	struct mbox_entry *ents;	/* cold: entries, parallel to msgs */
	struct idx_map *map;	/* not cold: the file msgs[].at point into */
	int cold;
	uint32_t count;
	size_t cap;
	uint32_t uidvalidity, uidnext;
	uint64_t generation;
	int mboxrd;
	uint32_t base_count;	/* records in the base array when loaded from a file */
	int salvaged;		/* loaded from a damaged file (idx_load returned 2) */
	struct store_mboxstat ms;
	struct store_changes ch;	/* what replay changed, for store_refresh */
};

/* One decoded change record. */
struct idx_log {
	int type;
	struct store_rec m;	/* IDX_NEW; uid/flags/keywords/modseq for IDX_FLAGS */
	uint32_t at;		/* IDX_NEW read from a file: where its 64-byte record is */
	uint32_t first, last;	/* IDX_EXPUNGE */
	struct store_mboxstat ms;	/* IDX_SYNC */
};

/* Encode a 128-byte header from s (its count is the number of records to follow). */
void idx_put_header(unsigned char *p, const struct idx_set *s);
/* Decode and verify a header into s (msgs untouched, base_count set); 0 or -1 if invalid. */
int idx_get_header(const unsigned char *p, struct idx_set *s);
/*
 * Decode the header at p (len bytes read, room for IDX_HDR_LEN; its copy may be rewritten
 * in place): 2 when it is whole, 1 when only its second copy of the identity is good,
 * 0 when neither is (s then gets no identity, mboxrd 1).
 */
int idx_get_header_any(unsigned char *p, size_t len, struct idx_set *s);
/* Encode / decode-and-verify one 64-byte message record; get returns 0 or -1. */
void idx_put_rec(unsigned char *p, const struct store_rec *m);
int idx_get_rec(const unsigned char *p, struct store_rec *m);

/* Encode a change record into p (room for IDX_LOG_MAX); returns its length. */
size_t idx_put_log(unsigned char *p, const struct idx_log *l);
/*
 * Decode one change record from n bytes at p: its length, 0 if more bytes are needed
 * (or a torn end when none follow), -1 if invalid (bad type, length or checksum).
 */
long idx_get_log(const unsigned char *p, size_t n, struct idx_log *l);

/* Apply one change record to s (idempotent: absolute values), counting into s->ch. */
void idx_apply(struct idx_set *s, const struct idx_log *l);
/*
 * Append m (uid above every uid in s, its record at offset at of the file or 0) to s;
 * -1 if FOLDER_MSGS_MAX or memory runs out.
 */
int idx_push(struct idx_set *s, const struct store_rec *m, uint32_t at);
/* The entry of s->msgs[i]: from ents, else read through map; 0 or -1 (none, I/O error). */
int idx_entry(const struct idx_set *s, uint32_t i, struct mbox_entry *e);
/* s->msgs[i] as a record (its entry only when s is cold). */
void idx_rec(const struct idx_set *s, uint32_t i, struct store_rec *m);
/* The keyword mask of s->msgs[i]. */
uint64_t idx_keywords(const struct idx_set *s, uint32_t i);
/* Set it; -1 if the array cannot be made. */
int idx_set_keywords(struct idx_set *s, uint32_t i, uint64_t kw);
/*
 * The record of view s's msgs[i] is leaving the file s reads (its message was removed
 * elsewhere): keep its entry in memory while s lists it (unless it cannot be read or
 * memory runs out: reads of it fail then), and set its position to 0.
 */
void idx_keep_entry(struct idx_set *s, uint32_t i);
/* Index of uid in s, or -1. */
long idx_find(const struct idx_set *s, uint32_t uid);
/*
 * Merge img (a complete state image, positions or entries) into the view s without
 * removing entries: uids missing from img become expunged (record position 0), new ones
 * are appended, others take img's flags and record positions.
 */
void idx_merge(struct idx_set *s, const struct idx_set *img);
/*
 * After an outside rewrite: build out (empty) from the scanned entries ents[0..n) and
 * the old image, matching fingerprints in file order. Matched messages keep UID, flags
 * and expunged state; the rest, and any message whose UID would not ascend, get new
 * UIDs from old->uidnext, except that with old->salvaged a run of them lying between
 * UIDs with exactly as many free UIDs between gets those. UIDVALIDITY stays. 0 or -1.
 */
int idx_resync(const struct idx_set *old, const struct mbox_entry *ents, uint32_t n,
    struct idx_set *out);
/* Drop every expunged entry of s (and the kept entries of those). */
void idx_drop_expunged(struct idx_set *s);
/* Forget the STORE_CHANGED marks (a fresh view has seen everything). */
void idx_clear_changed(struct idx_set *s);
/* Free s's arrays and leave it empty. */
void idx_free(struct idx_set *s);

/* What idx_load found. */
enum idx_load_rc {
	IDX_LOADED = 0,		/* a sound file, loaded whole */
	IDX_EMPTY = 1,		/* an empty file: no state yet */
	/*
	 * A damaged file salvaged: every record with a good CRC, flags and expunged state
	 * kept; identity from the header or its second copy, else uidvalidity 0 and mboxrd 1.
	 * The caller must rescan the mbox against it and rewrite the file, never append.
	 */
	IDX_SALVAGED = 2,
	IDX_IOERR = -1		/* I/O or memory error */
};

/*
 * Load a state file open on fd into the empty set s (header, base, replayed tail), with
 * every record's position, and with cold its entries too (an image to write or compact).
 * *valid_end gets the end of the last good record.
 */
enum idx_load_rc idx_load(int fd, struct idx_set *s, int cold, uint64_t *valid_end);
/*
 * Replay the tail of fd from *pos to its end into s; *pos advances past the last good
 * record. Bytes that do not decode (a torn or zero-filled end, damage) are passed over
 * to the next good record, logged when one follows. 0 or -1 on I/O error.
 */
int idx_replay(int fd, struct idx_set *s, uint64_t *pos);
/*
 * Write s (cold) as a fresh state file at path (temp file, fsync, rename, fsync directory);
 * s's records then have their positions in it. Expunged records are kept: they name
 * bytes still in the mbox. 0 or -1.
 */
int idx_write_file(const char *path, struct idx_set *s);
/* Append n bytes of encoded records at the end of fd in one write; fdatasync if durable.
 * On error the file is cut back to old_size. 0 or -1. */
int idx_append(int fd, const unsigned char *buf, size_t n, uint64_t old_size, int durable);

/*
 * Make m read the state file open on fd (a descriptor m now owns) instead of the one
 * before: mapped whole, shared and read-only, or read with pread where it cannot be
 * mapped. The kept entries stay.
 */
void idx_map_open(struct idx_map *m, int fd);
/*
 * The entry of the record of uid at offset at (checked again: CRC and uid), mapping the
 * file anew when it grew past the mapping; 0 or -1.
 */
int idx_map_entry(struct idx_map *m, uint32_t at, uint32_t uid, struct mbox_entry *e);
/* Let go of the file and the kept entries. */
void idx_map_close(struct idx_map *m);

/* Current size/inode/mtime and tail checksum of the mbox open on fd; 0 or -1. */
int idx_mbox_stat(int fd, struct store_mboxstat *ms);
/* Tail checksum of fd's bytes before size; 0 or -1. */
int idx_tail_crc(int fd, uint64_t size, uint32_t *crc);
/* A fresh UIDVALIDITY for a folder whose side base is side: max(now, last + 1) from the
 * per-user counter file, updated atomically. 0 or -1. */
int idx_new_uidvalidity(const char *side, uint32_t *out);

/*
 * Crash-test hook: counts durable steps; when MAILNOOK_CRASH_STEP=N is set, the N-th
 * step kills the process with SIGKILL, so tests can stop it at every step.
 */
void idx_crash_point(void);

#endif
