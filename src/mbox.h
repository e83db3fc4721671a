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
	uint64_t end;			/* offset just past the last complete message scanned */
};

/*
 * Scan fd from start to end (end = file size seen under the caller's lock). start must be
 * 0 or the end of a previously scanned message. Calls cb for each message in order; cb
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

void mbox_reader_init(struct mbox_reader *r, int fd, const struct mbox_entry *e, int mboxrd);
/*
 * Next piece of content: *line points into the reader's buffer, *len bytes, without the
 * LF. *partial is 1 when the line continues in the next call (very long line), 0 when a
 * whole line (or its last piece) was returned; *nl is 1 if the piece ended with an LF
 * in the file (0 only for a final line without newline). Returns 1, 0 at the end, -1 on error.
 */
int mbox_reader_next(struct mbox_reader *r, const char **line, size_t *len, int *partial, int *nl);

/*
 * Write one message from in_fd (LF or CRLF, read to EOF) to out_fd at its current end,
 * as From_ line (sender, date) + mboxrd-quoted LF body + blank line, in large writes.
 * Does not lock, sync or truncate: the caller does. *written gets the bytes written.
 * Fails with -1 and errno EFBIG when the message exceeds max_size bytes, EINVAL when it
 * is empty or not a message (no header/body at all).
 */
int mbox_write_message(int out_fd, int in_fd, const char *sender, int64_t date,
    uint64_t max_size, uint64_t *written);

/* Does the file end (at size) with a complete message separator, so that a new From_ line
 * may follow? Writes the needed LFs before appending when not. 0 or -1. */
int mbox_prepare_append(int fd, uint64_t size, uint64_t *new_size);

#endif
