/*
 * Per-folder cache side file <side_base>.mime: for each message (keyed by UID and
 * content fingerprint) its ENVELOPE, BODY and BODYSTRUCTURE wire text and part spans,
 * so FETCH never reparses the mbox. Append-only records, explicit LE, CRC-32C each;
 * a torn tail is cut, a UIDVALIDITY change or a mostly stale file rebuilds it empty.
 */
#ifndef MAILNOOK_MIME_CACHE_H
#define MAILNOOK_MIME_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "mbox.h"
#include "mime.h"
#include "params.h"

/* One message's cached structure; pointers stay valid until the next call on the cache. */
struct mime_cached {
	const char *envelope;		/* "(...)" as sent after ENVELOPE */
	size_t envelope_len;
	const char *body;		/* "(...)" as sent after BODY */
	size_t body_len;
	const char *bodystructure;	/* "(...)" as sent after BODYSTRUCTURE */
	size_t bodystructure_len;
	const struct mime_span *spans;	/* for mime_section */
	uint16_t nspans;
	uint32_t size;			/* wire size the parse saw */
};

/* RAM: 8 bytes per cached message (the file stays under 4 GiB) plus one record buffer. */
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
	uint64_t ino;			/* inode of the open file: a prune replaces it */
	char path[PATH_LEN];
	struct mime_cache_slot *slot;
	size_t nslot, slot_cap;
	unsigned char *rec;		/* the last record read or written */
	size_t rec_cap;
	struct mime_span *spans;	/* decoded (aligned) spans of that record */
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
 * Parse the message r reads (fresh reader at its start), append its record (a failed
 * write only costs a reparse later) and fill out. 0, or -1 when the parse failed.
 */
int mime_cache_put(struct mime_cache *c, uint32_t uid, uint64_t fp, struct mbox_reader *r,
    struct mime_cached *out);

/*
 * Rewrite the file keeping only records of live UIDs (sorted ascending, n of them) when
 * more than half of the records are stale; cheap when nothing is. 0 or -1.
 */
int mime_cache_prune(struct mime_cache *c, const uint32_t *uids, size_t n);

/* Close the file and free the tables. */
void mime_cache_close(struct mime_cache *c);

#endif
