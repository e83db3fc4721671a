/*
 * The mbox format and nothing else: find messages (From_ lines), measure them
 * (stored bytes, CRLF wire size, content fingerprint), read them back unquoted,
 * and write one new message (mboxrd quoting, LF endings). No locking, no side files.
 */
#ifndef MAILNOOK_MBOX_H
#define MAILNOOK_MBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Format rules (mbox.c):
 * - A From_ line starts the scanned range (after any blank lines), or follows a blank
 *   line and carries a parsable asctime date (mutt's rule), or is where a
 *   Content-Length header lands exactly (at "From " or one blank line before it).
 * - NULs after a blank line, or anything but a From_ line where a message should start,
 *   is garbage (an interrupted append, a zero-filled UBIFS tail): skipped to the next
 *   line starting "From ", counted and logged, never treated as mail, never truncated.
 * - The one blank line before the next From_ line (or before EOF) is a separator, not
 *   content. A final line without LF is content as it is.
 * - mboxrd: a line ^>+"From " loses one '>' when read. With mboxrd == 0 (mboxo) nothing is
 *   unquoted: ">From " is ambiguous there, so content stays as stored. We write mboxrd.
 * - wire_size = unquoted content with every line ending in CRLF (a final line without LF
 *   too): exactly the bytes of the mbox_reader_next pieces, each followed by CRLF when its
 *   partial is 0. A CR stored before an LF is content (our writer never stores one).
 * - fingerprint = first 8 bytes (LE) of SHA-256 over the From_ line, the header lines
 *   except Status, X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase, Content-Length and
 *   Lines (with their continuations), and the 64-bit LE body length (a last line without
 *   LF counted as if it had one). Fixed forever: it is the POP3 UIDL.
 */

/* One message as found by the scanner. */
struct mbox_entry {
	uint64_t offset;	/* first byte of the "From " line */
	uint32_t from_len;	/* From_ line length including its LF */
	uint32_t raw_len;	/* stored bytes after the From_ line, without the separating blank line */
	uint32_t wire_size;	/* unquoted size with CRLF line ends: RFC822.SIZE, POP3 LIST */
	int64_t date;		/* date of the From_ line (UTC seconds), -1 if unparsable */
	uint64_t fingerprint;	/* content fingerprint, stable across header rewrites by other tools */
};

struct mbox_scan_stats {
	uint32_t messages;
	uint32_t skipped_garbage;	/* NUL runs or junk before a From_ line, skipped and logged */
	uint64_t end;			/* where a following scan should start: past the last
					 * message handed to cb and its separator, or the
					 * scanned range's end when the scan ran through */
};

/*
 * Scan fd from start to end (end = file size seen under the caller's lock). start must be
 * 0, a previous st->end, or the end of a message's content (offset + from_len + raw_len):
 * blank lines at start are skipped. Calls cb for each message in order; cb
 * returning nonzero stops the scan (returned as is). mboxrd selects unquoting rules for
 * the sizes. Returns 0, a cb value, or -1 on read error. Never modifies the file.
 */
int mbox_scan(int fd, uint64_t start, uint64_t end, int mboxrd,
    int (*cb)(void *ctx, const struct mbox_entry *e), void *ctx,
    struct mbox_scan_stats *st);

/* Does a "From " line start at off (used to validate cached offsets)? 1 yes, 0 no, -1 error. */
int mbox_from_at(int fd, uint64_t off);

/* Streaming reader of one message's content, unquoted, line by line. */
struct mbox_reader {
	int fd;
	int mboxrd;
	uint64_t pos, end;	/* file range still to deliver */
	int at_line_start;
	size_t bpos, blen;
	char buf[8192];
};

/* Start reading e's content (From_ line and separator excluded); no I/O until next. */
void mbox_reader_init(struct mbox_reader *r, int fd, const struct mbox_entry *e, int mboxrd);
/*
 * mbox_reader_init and the first read in one pread, which also checks that a From_ line
 * starts at e->offset (as mbox_from_at): 1 yes (reader ready), 0 no, -1 error.
 */
int mbox_reader_open(struct mbox_reader *r, int fd, const struct mbox_entry *e, int mboxrd);
/*
 * Next piece of content: *line points into the reader's buffer, *len bytes, without the
 * LF. *partial is 1 when the line continues in the next call (very long line), 0 when a
 * whole line (or its last piece) was returned; *nl is 1 if the piece ended with an LF
 * in the file (0 only for a final line without newline). Returns 1, 0 at the end, -1 on error.
 */
int mbox_reader_next(struct mbox_reader *r, const char **line, size_t *len, int *partial, int *nl);

/* Message input for the writer: head_len bytes the caller already read (may be 0),
 * then fd to EOF. Reading ahead lets a caller take the lock only once a small message
 * is all there. */
struct mbox_in {
	int fd;
	const char *head;
	size_t head_len;
};

/*
 * Write one message from in (LF or CRLF, to EOF) to out_fd (opened O_APPEND),
 * as From_ line (sender, date) + mboxrd-quoted LF body + blank line, in large writes.
 * Does not lock, sync or truncate: the caller does. *written gets the bytes written
 * (also on failure). Writes go out in MBOX_IO_BUF pieces. Fails with -1 and errno EFBIG
 * when the stored message (without From_ line) passes max_size bytes, EINVAL when the
 * input is empty or holds nothing but line ends. NUL bytes are stored as 0x80, and the
 * header's Content-Length lines are dropped (the scanner trusts those). The sender loses spaces and controls
 * (each becomes '_') and enclosing <>; empty or NULL gives MAILER-DAEMON. date -1 = now.
 */
int mbox_write_message(int out_fd, struct mbox_in *in, const char *sender, int64_t date,
    uint64_t max_size, uint64_t *written);

/* Does the file end (at size) with a complete message separator, so that a new From_ line
 * may follow? Writes the needed LFs before appending when not. 0 or -1. */
int mbox_prepare_append(int fd, uint64_t size, uint64_t *new_size);

#endif
