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
#include "mime.h"
#include "mime_cached.h"
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
	STORE_NOFOLDER = -8,	/* folder does not exist */
	STORE_EXISTS = -9,	/* the new folder name is taken */
	STORE_CANNOT = -10,	/* not allowed here (INBOX, under itself, a reserved name) */
	STORE_HASCHILDREN = -11,	/* a \Noselect parent with children */
	STORE_TOOMANY = -12	/* the folder listing passed FOLDERS_MAX */
};

/* Open modes. */
#define STORE_RDONLY	0x0
#define STORE_RDWR	0x1
#define STORE_CREATE	0x2	/* create an empty mbox if missing */
#define STORE_POP3	0x4	/* take the per-folder POP3 lock: second POP3 session gets INUSE */
#define STORE_IMAP	0x8	/* load the keyword table and open the structure cache */

struct mime_cache;
struct store_keywords;

struct store_folder {
	/* Read-only for callers. */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint32_t count;		/* entries in msgs[], in file (= UID) order */
	struct store_msg *msgs;	/* their entries: store_msg_entry, keywords: store_msg_keywords */
	int mboxrd;		/* quoting rule of this folder */
	struct store_keywords *kw;	/* with STORE_IMAP: the folder's keyword names */
	char side_base[PATH_LEN];	/* side files are side_base + ".idx" etc. */
	/* Private to the store. */
	struct mime_cache *mc;	/* with STORE_IMAP: the structure cache, NULL if unusable */
	uint64_t *kwmask;	/* keywords of msgs[i], NULL while none has any */
	struct idx_map map;	/* the state file msgs[].at point into */
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
	struct mbox_lock rlock;	/* read lock from store_msg_open to _close, or a batch's */
	uint64_t held_size;	/* the mbox's size while rlock is held */
	int held_synced;	/* ... and whether it is as last synced */
	int batching;		/* store_msg_batch: rlock kept between messages ... */
	uint32_t batch_msgs;	/* ... for this many more */
	uint64_t batch_bytes;	/* ... or until this many more bytes are read */
	char mbox_path[PATH_LEN];
};

/* 1 when a name level (or file name) name[0..len) ends in CHILD_DIR_EXT. */
int store_is_child_dir(const char *name, size_t len);
/*
 * The directory holding the children of the folder whose mbox (or side base) is base:
 * base + CHILD_DIR_EXT, or with legacy_ok the plain directory base that stores written
 * before folders held both kept. 1 and buf set when it exists; 0 with buf = the
 * CHILD_DIR_EXT form when not; -1 if the path does not fit.
 */
int store_child_dir(const char *base, char *buf, size_t cap, int legacy_ok);
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

/* Pick up what others did since: new mail, flag changes, expunges, outside rewrites.
 * STORE_NOFOLDER when the folder was deleted or renamed away meanwhile. */
int store_refresh(struct store_folder *f, struct store_changes *ch);

/* Drop expunged entries from msgs[] (IMAP: once the session may announce them). */
void store_forget_expunged(struct store_folder *f);

/* Find the index of uid in msgs[]; -1 if absent. */
long store_find_uid(const struct store_folder *f, uint32_t uid);
/*
 * Where and how big msgs[i] is in the mbox (offsets as last followed: store_msg_open
 * follows a compaction), read from its state record, or kept in memory once another
 * session's compaction removed that; 0, or -1 on an I/O error (e then all zeros).
 */
int store_msg_entry(struct store_folder *f, uint32_t i, struct mbox_entry *e);
/* The keyword bits of msgs[i] (bit i = f->kw->name[i]). */
uint64_t store_msg_keywords(const struct store_folder *f, uint32_t i);

/* A flag change: new = (stored & ~clear) | set, for the flags and the keywords apart. */
struct store_flagop {
	uint32_t set, clear;	/* STORE_SEEN ... */
	uint64_t kw_set, kw_clear;
};
/*
 * Apply op to msgs[i] as its flags are stored at that moment (under the state lock, after
 * catching up with other sessions), logged, not fsynced; msgs[] then holds the result,
 * others' changes included. An expunged message is left alone.
 */
int store_change_flags(struct store_folder *f, uint32_t i, const struct store_flagop *op);

/* Logically remove messages by UID; durable (fsynced) before returning; then compacts if
 * dead bytes are worth it and no session is reading the mbox. */
int store_expunge(struct store_folder *f, const uint32_t *uids, size_t n);
/* store_expunge of those of uids that carry \Deleted as stored at that moment. */
int store_expunge_deleted(struct store_folder *f, const uint32_t *uids, size_t n);

/*
 * Start reading msgs[i]: takes the mbox read lock until store_msg_close (unless a
 * batch holds it already), follows offsets moved by a compaction since (msgs[] otherwise
 * unchanged), verifies the message is still where the index says (STORE_GONE if not, or
 * if compacted away).
 */
int store_msg_open(struct store_folder *f, uint32_t i, struct mbox_reader *r);
/* End of a read started by store_msg_open (releases the read lock, see store_msg_batch). */
void store_msg_close(struct store_folder *f, struct mbox_reader *r);
/*
 * on = 1: many messages are read one after the other (SEARCH) with nothing else in between
 * (no state lock, no client I/O): store_msg_close keeps the read lock, the compaction
 * check and the mbox's size for the next store_msg_open, up to STORE_READ_BATCH_MSGS
 * messages or STORE_READ_BATCH_BYTES, then lets go so that writers get their turn.
 * on = 0 ends that and lets go.
 */
void store_msg_batch(struct store_folder *f, int on);
/* Read msgs[i] again from its start within the same open (its read lock still held). */
void store_msg_rewind(struct store_folder *f, uint32_t i, struct mbox_reader *r);
/* The next piece of the message reader (an open mbox_reader) reads: a mime_read_fn. */
int store_msg_read(void *reader, const char **line, size_t *len, int *partial, int *nl);
/* The MIME parser's source for an open reader. */
struct mime_src store_msg_src(struct mbox_reader *r);

/*
 * The structure cache of a folder opened with STORE_IMAP: msgs[i]'s cached ENVELOPE,
 * BODYSTRUCTURE, part spans and search fields. get: 1 found (out filled), 0 not cached,
 * -1 error. put parses the message from src (msgs[i] open) into the cache and out: 0 or -1.
 * out stays valid until the next call. flush writes what is queued (end of a command).
 */
int store_structure_get(struct store_folder *f, uint32_t i, struct mime_cached *out);
int store_structure_put(struct store_folder *f, uint32_t i, const struct mime_src *src,
    struct mime_cached *out);
void store_structure_flush(struct store_folder *f);

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
	uint64_t bytes;		/* size of the side file when read: it only grows */
	/* n names, grown one at a time (most folders have none): NULL while empty */
	char (*name)[STORE_KW_LEN];
};

/* Load the keyword table of the folder with side base side (<side>.kw); empty if none. */
int store_kw_load(const char *side, struct store_keywords *kw);
/* Free a table allocated by the caller (NULL is fine), names included. */
void store_kw_free(struct store_keywords *kw);
/* Reload kw when another session added names (the side file grew): 1 if it did, 0, -1. */
int store_kw_refresh(const char *side, struct store_keywords *kw);
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
/* Note that the client has had a FETCH response for msgs[i] (STORE_TOLD). */
void store_imap_told(struct store_folder *f, uint32_t i);

/*
 * \Recent (RFC 3501 2.3.2): the messages of f whose UIDs are above the folder's recent
 * mark (side file <side>.rct). With take, claim them for the calling session: the mark
 * moves past them, under a lock, so that no other session sees them as recent; without
 * (EXAMINE), only read them. *lo..*hi (inclusive) get their UIDs; *lo > *hi when there
 * were none. STORE_OK or STORE_ERR.
 */
int store_imap_claim_recent(const struct store_folder *f, int take, uint32_t *lo, uint32_t *hi);

/* UIDVALIDITY, UIDNEXT, live count, unseen and recent counts and live bytes of a folder
 * without keeping it open (STATUS). */
struct store_status {
	uint32_t uidvalidity, uidnext, messages, unseen, deleted, recent;
	uint64_t size;
};
int store_imap_status(const char *mbox, const char *side, struct store_status *st);

/*
 * ---- The folder namespace (folders.c) ----
 * A user's IMAP folders: listing, create, delete, rename, the subscription list, and the
 * special-use folders made at first login. Names are UTF-8, '/' separated; INBOX is
 * case-insensitive. The caller validates names first. Results are enum store_rc.
 */

/* Attributes of a listed name (RFC 3501, 3348, 6154). */
#define FOLDER_NOSELECT		0x01u
#define FOLDER_HASCHILDREN	0x02u
#define FOLDER_HASNOCHILDREN	0x04u
#define FOLDER_SUBSCRIBED	0x08u
#define FOLDER_NONEXISTENT	0x10u	/* only subscribed, not on disk */

struct folder_ent {
	char name[FOLDER_NAME_MAX];
	unsigned attrs;
	const char *special;	/* "\\Sent" ... or NULL */
};

/*
 * Every folder of user, INBOX first, then sorted by name, plus subscribed names that no
 * longer exist (FOLDER_NONEXISTENT). *out is malloc'ed (caller frees), *n entries.
 */
int folders_list(const struct config *cfg, const char *user, struct folder_ent **out,
    size_t *n);
/* Create folder name (it can take children, like every folder); STORE_EXISTS if taken. */
int folders_create(const struct config *cfg, const char *user, const char *name);
/*
 * Delete folder name's messages and side files; with children the name stays as a
 * \Noselect parent, which goes once it has no children (RFC 3501 6.3.4).
 */
int folders_delete(const struct config *cfg, const char *user, const char *name);
/* Rename from to with its subtree (not INBOX: the caller moves INBOX's messages instead). */
int folders_rename(const struct config *cfg, const char *user, const char *from,
    const char *to);
/* Finish a RENAME that a crash interrupted (at login). */
int folders_recover(const struct config *cfg, const char *user);
/* Add (on = 1) or remove name from the subscription list. */
int folders_subscribe(const struct config *cfg, const char *user, const char *name, int on);
/* At the first login (no subscription file yet): make and subscribe the special-use folders. */
int folders_first_login(const struct config *cfg, const char *user);
/* The special-use attribute of name under cfg ("\\Sent" ...), or NULL. */
const char *folders_special(const struct config *cfg, const char *name);
/* Does folder name exist as a selectable mbox? */
int folders_exists(const struct config *cfg, const char *user, const char *name);

#endif
