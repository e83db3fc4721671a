/*
 * The mail store as the protocols and verbs see it: folders are mbox files, all IMAP and
 * POP3 state lives in small side files under <user>/.mailnook/. See doc/store.md.
 * Every write can be interrupted at any instant; the next open recovers by itself.
 */
#ifndef MAILNOOK_STORE_H
#define MAILNOOK_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "lock.h"
#include "mbox.h"
#include "store_types.h"

/* Results; every store call returns STORE_OK or one of the negative codes. */
enum store_rc {
	STORE_OK = 0,
	STORE_ERR = -1,		/* I/O or internal error, logged */
	STORE_INUSE = -2,	/* lock not obtained in time: POP3 [IN-USE], deliver 75 */
	STORE_NOSPACE = -3,	/* ENOSPC/EDQUOT: nothing partial left behind */
	STORE_QUOTA = -4,	/* the user's quota would be exceeded */
	STORE_TOOBIG = -5,	/* message larger than max_message */
	STORE_BADMSG = -6,	/* empty or malformed input message */
	STORE_GONE = -7,	/* message no longer in the mbox (rewritten outside) */
	STORE_NOFOLDER = -8	/* folder does not exist */
};

/* Open modes. */
#define STORE_RDONLY	0x0
#define STORE_RDWR	0x1
#define STORE_CREATE	0x2	/* create an empty mbox if missing */
#define STORE_POP3	0x4	/* take the per-folder POP3 lock: second POP3 session gets INUSE */

struct store_folder {
	/* Read-only for callers. */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t count;		/* entries in msgs[], in file (= UID) order */
	struct store_msg *msgs;
	int mboxrd;		/* quoting rule of this folder */
	/* Private to the store. */
	int mode;
	int mbox_fd;
	int state_fd;
	int session_fd;		/* shared flock while open: compaction waits for it */
	int pop3_fd;
	size_t cap;
	uint64_t state_seen;	/* bytes of the state file already applied */
	uint64_t state_ino;	/* inode of the state file: a checkpoint replaces it */
	uint64_t generation;
	uint32_t base_count;	/* records in the state file's base array */
	struct store_mboxstat synced;	/* the mbox as last indexed */
	struct mbox_lock rlock;	/* read lock held between store_msg_open and _close */
	char mbox_path[PATH_LEN];
	char side_base[PATH_LEN];	/* side files are side_base + ".idx" etc. */
};

/*
 * mbox path and side-file base of folder ("INBOX" or a validated name like "Work/Q1")
 * of user. -1 if a path does not fit.
 */
int store_paths(const struct config *cfg, const char *user, const char *folder,
    char *mbox, size_t mbox_cap, char *side, size_t side_cap);

/*
 * Open a folder: recover an interrupted compaction, load the index and change log,
 * index messages appended since (by deliver or any MDA), resync if rewritten.
 * Never holds the mbox lock after returning.
 */
int store_open(struct store_folder *f, const char *mbox, const char *side, int mode);

/* Pick up what others did since: new mail, flag changes, expunges, outside rewrites. */
int store_refresh(struct store_folder *f, struct store_changes *ch);

/* Drop expunged entries from msgs[] (IMAP: once the session may announce them). */
void store_forget_expunged(struct store_folder *f);

/* Find the index of uid in msgs[]; -1 if absent. */
long store_find_uid(const struct store_folder *f, uint32_t uid);

/* Set flags and keywords of msgs[i] (absolute values), logged, not fsynced. */
int store_set_flags(struct store_folder *f, uint32_t i, uint32_t flags, uint64_t keywords);

/* Logically remove messages by UID; durable (fsynced) before returning; then compacts if
 * dead bytes are worth it and no session is reading the mbox. */
int store_expunge(struct store_folder *f, const uint32_t *uids, size_t n);

/*
 * Start reading msgs[i]: takes the mbox read lock for the duration of one command,
 * follows offsets moved by a compaction since (msgs[] otherwise unchanged), verifies the
 * message is still where the index says (STORE_GONE if not, or if compacted away).
 */
int store_msg_open(struct store_folder *f, uint32_t i, struct mbox_reader *r);
/* End of a read started by store_msg_open (releases the read lock). */
void store_msg_close(struct store_folder *f, struct mbox_reader *r);

/*
 * Close: release locks; when dead bytes are worth it and no session is reading the mbox,
 * compact in place first.
 */
void store_close(struct store_folder *f);

/* Sender, date and flags of a new message. */
struct store_append_info {
	const char *sender;	/* envelope sender for the From_ line, "MAILER-DAEMON" if NULL */
	int64_t date;		/* internaldate, or -1 for now */
	int lock_timeout_ms;	/* give up on the lock after this; 0: LOCK_TIMEOUT_MS */
};

/*
 * Append the message read from in_fd to the mbox at path (created if missing) under the
 * mbox write lock, all or nothing: fdatasync before success, ftruncate back on any error.
 * quota_left is the room left for the user (UINT64_MAX unlimited). The index picks the
 * message up on the next open or refresh.
 */
int store_append_fd(const char *mbox, int in_fd, const struct store_append_info *ai,
    uint64_t max_size, uint64_t quota_left);

/* Bytes used by the user's folders (sum of mbox sizes), for quota checks. */
int store_usage(const struct config *cfg, const char *user, uint64_t *bytes);

/*
 * check verb: finish an interrupted compaction, verify side files against the mbox;
 * repair rebuilds them from the mbox when anything was wrong, compact runs a
 * compaction. Prints findings to out. Returns STORE_OK if consistent, the number of
 * problems found (> 0, repaired or not), or a negative rc (STORE_INUSE: sessions open).
 */
int store_check(const char *mbox, const char *side, int repair, int compact, FILE *out);

/*
 * Compact f now, waiting for readers (check --compact); open sessions follow. Returns
 * STORE_OK (also when nothing was dead), STORE_INUSE when the lock timed out.
 */
int store_compact(struct store_folder *f);

/*
 * Append to f's mbox with put and index the new messages before any compaction can move
 * them: state lock, then the mbox write lock (tried without blocking, both let go between
 * tries), put(ctx, fd, end) writes past end on an O_APPEND fd and syncs, then the new
 * messages get their records; on put's error the mbox is cut back to end. *first = index
 * in f of the first new message. STORE_INUSE after LOCK_TIMEOUT_MS.
 */
int store_append_indexed(struct store_folder *f, int (*put)(void *ctx, int fd, uint64_t end),
    void *ctx, uint32_t *first);

/* Short text for an rc, for logs and replies. */
const char *store_strerror(int rc);

/* ---- IMAP additions (store_imap.c) ---- */

/* A folder's keyword names: bit i of store_msg.keywords is name[i]. */
#define STORE_KW_MAX	64
#define STORE_KW_LEN	64	/* longest keyword plus NUL (RFC 3501 atom) */
struct store_keywords {
	uint32_t n;
	char name[STORE_KW_MAX][STORE_KW_LEN];
};

/* Load the keyword table of the folder with side base side (<side>.kw); empty if none. */
int store_kw_load(const char *side, struct store_keywords *kw);
/*
 * Bit index of keyword name (ASCII case-insensitive) in kw, reloading from the side file
 * first; when absent and add is set, appends it durably (flock'ed against other
 * sessions). -1 when absent (or the table is full, or on I/O error when adding).
 */
int store_kw_find(const char *side, struct store_keywords *kw, const char *name, int add);

/* What an IMAP APPEND or COPY stores besides the bytes. */
struct store_put {
	uint32_t flags;		/* STORE_SEEN ... */
	uint64_t keywords;	/* bits of the destination's keyword table */
	int64_t date;		/* internaldate (From_ line), -1 for now */
};

/*
 * Append the message read from in_fd (LF or CRLF) to the folder (mbox, side), which must
 * exist, and index it at once with p's flags: *uidvalidity and *uid name it on success.
 * max_size/quota_left as store_append_fd. STORE_NOFOLDER when the folder is missing.
 */
int store_imap_append(const char *mbox, const char *side, int in_fd, const struct store_put *p,
    uint64_t max_size, uint64_t quota_left, uint32_t *uidvalidity, uint32_t *uid);

/*
 * Copy messages src->msgs[idx[0..n)] into the folder (mbox, side) keeping flags,
 * keywords (by name) and internaldate; tmpdir holds a scratch file. uids[k] gets each
 * copy's UID, *uidvalidity the destination's. Expunged sources are skipped (uid 0).
 */
int store_imap_copy(struct store_folder *src, const struct store_keywords *src_kw,
    const uint32_t *idx, size_t n, const char *mbox, const char *side, const char *tmpdir,
    uint64_t max_size, uint64_t quota_left, uint32_t *uidvalidity, uint32_t *uids);

/* Forget the STORE_CHANGED mark of msgs[i] once the change was announced. */
void store_imap_ack_changed(struct store_folder *f, uint32_t i);

/*
 * \Recent (RFC 3501 2.3.2): claim for the calling session the messages of f whose UIDs are
 * above the folder's recent mark (side file <side>.rct) and move the mark past them, under
 * a lock, so that no other session sees them as recent. *lo..*hi (inclusive) get the UIDs
 * claimed; *lo > *hi when there were none. STORE_OK or STORE_ERR.
 */
int store_imap_claim_recent(const struct store_folder *f, uint32_t *lo, uint32_t *hi);

/* UIDVALIDITY, UIDNEXT, live count, unseen and recent counts and live bytes of a folder
 * without keeping it open (STATUS). */
struct store_status {
	uint32_t uidvalidity, uidnext, messages, unseen, deleted, recent;
	uint64_t size;
};
int store_imap_status(const char *mbox, const char *side, struct store_status *st);

#endif
