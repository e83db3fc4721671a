/*
 * Per-folder cache side file <side_base>.mime: for each message (keyed by UID and
 * content fingerprint) its ENVELOPE and BODYSTRUCTURE wire text (BODY derives from the
 * latter), part spans and decoded address and subject fields, so FETCH and most SEARCH
 * keys never reparse the mbox. Append-only records, explicit LE, CRC-32C each; a torn
 * tail is cut, a UIDVALIDITY change or a mostly stale file rebuilds it empty.
 */
#ifndef MAILNOOK_MIME_CACHE_H
#define MAILNOOK_MIME_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "imap_envelope.h"
#include "mbox.h"
#include "mime.h"
#include "mime_cached.h"
#include "params.h"

/* Texts of a record: ENVELOPE, BODYSTRUCTURE, search fields. */
#define MIME_CACHE_TEXTS	3

/*
 * RAM: 8 bytes per cached message plus the read window. The file stays under 2 GiB: the
 * top bit of off says this session has checked the record's CRC (records never change).
 */
struct mime_cache_slot {
	uint32_t uid;
	uint32_t off;
};
/* uid_lower (util.h) searches the slots by their first member. */
_Static_assert(offsetof(struct mime_cache_slot, uid) == 0, "uid first");

struct mime_cache {
	int fd;
	uint32_t uidvalidity;
	uint32_t seen;			/* file bytes indexed so far */
	char path[PATH_LEN];
	struct mime_cache_slot *slot;
	size_t nslot, slot_cap;
	const unsigned char *cur;	/* the last record read or built: in win or rec */
	unsigned char *rec;		/* a record built, or read that did not fit win */
	size_t rec_cap;
	unsigned char *win;		/* MIME_CACHE_WINDOW bytes of the file from win_at */
	uint32_t win_at, win_len;
	struct mime_span *spans;	/* decoded (aligned) spans of that record */
	struct mime_parser *ps;		/* kept for the next put */
	char *dec;			/* MIME_FIELD_MAX bytes for decoding, likewise */
	struct mime_msg m;		/* likewise the part table */
	struct imap_buf t[MIME_CACHE_TEXTS];	/* likewise the texts of a record */
	unsigned char *pend;		/* records put but not yet written */
	size_t pend_len, pend_cap;
	size_t spans_cap;
};

/*
 * Open (creating) side_base + ".mime" for a folder of that UIDVALIDITY; an unreadable,
 * foreign or other-UIDVALIDITY file is started afresh. 0 or -1 (logged).
 */
int mime_cache_open(struct mime_cache *c, const char *side_base, uint32_t uidvalidity);

/*
 * The key to pass as fp: the content fingerprint mixed with the wire size, because the
 * fingerprint ignores Status-like headers another MUA may add, which move every offset.
 */
uint64_t mime_cache_key(const struct mbox_entry *e);

/*
 * Cached structure of message uid with key fp (mime_cache_key), reading records other sessions
 * appended since. 1 found (out filled), 0 not cached (call mime_cache_put), -1 error.
 * After a failed mime_cache_open (fd -1) every call is a miss and put still works.
 */
int mime_cache_get(struct mime_cache *c, uint32_t uid, uint64_t fp, struct mime_cached *out);

/*
 * Parse the message r reads (fresh reader at its start), queue its record for the file
 * (a failed write only costs a reparse later) and fill out. 0, or -1 when the parse
 * failed. Queued records are written together: when they fill a read window, at
 * mime_cache_flush, prune and close.
 */
int mime_cache_put(struct mime_cache *c, uint32_t uid, uint64_t fp, const struct mime_src *r,
    struct mime_cached *out);

/*
 * Rewrite the file keeping only records of live UIDs (sorted ascending, n of them) when
 * more than half of the records are stale; cheap when nothing is. 0 or -1.
 */
int mime_cache_prune(struct mime_cache *c, const uint32_t *uids, size_t n);

/* Write the queued records (end of a command: other sessions may want them). */
void mime_cache_flush(struct mime_cache *c);

/* Close the file (writing what is queued) and free the tables. */
void mime_cache_close(struct mime_cache *c);

#endif
