/*
 * Streaming RFC 5322 / MIME structure of one message read through an mbox_reader:
 * a compact part tree (offsets and sizes in CRLF wire octets from the start of the
 * message), the header fields IMAP needs, section resolution for BODY[section], and
 * the header and decoded-text walkers SEARCH uses. No I/O besides the reader.
 */
#ifndef MAILNOOK_MIME_H
#define MAILNOOK_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "mbox.h"

#define MIME_NONE	0xffffu		/* no part (parent of the root) */

/* Part kinds. */
#define MIME_LEAF	0	/* any non-multipart, non-message/rfc822 body */
#define MIME_MULTI	1	/* multipart/<any> with at least one part */
#define MIME_MESSAGE	2	/* message/rfc822: one child, the enclosed message */

/* Content-Transfer-Encoding values. */
#define MIME_ENC_7BIT	0
#define MIME_ENC_8BIT	1
#define MIME_ENC_BINARY	2
#define MIME_ENC_QP	3
#define MIME_ENC_BASE64	4
#define MIME_ENC_OTHER	5

/*
 * Where a part lies, in wire octets (LF counted as CRLF, mboxrd unquoted) from the first
 * byte of the message. Parts are in preorder: 0 is the whole message; a message/rfc822
 * part's single child is the enclosed message (its header is that message's header).
 * The header range [hdr_off, body_off) includes the blank line ending it, if any.
 */
struct mime_span {
	uint32_t hdr_off;
	uint32_t body_off;
	uint32_t body_len;	/* octets of the body (a part ends before the CRLF of its boundary) */
	uint16_t parent;	/* MIME_NONE for part 0 */
	uint8_t kind;		/* MIME_LEAF, MIME_MULTI, MIME_MESSAGE */
	uint8_t enc;		/* MIME_ENC_* of the part's body */
};

/* Header fields kept per part (raw unfolded values; absent = 0 in mime_part.f). */
enum mime_field {
	MIME_F_CTYPE, MIME_F_CTE, MIME_F_CID, MIME_F_CDESC, MIME_F_CDISP, MIME_F_CLANG,
	MIME_F_CLOC, MIME_F_CMD5,
	/* the envelope fields, kept for part 0 and enclosed messages only */
	MIME_F_DATE, MIME_F_SUBJECT, MIME_F_FROM, MIME_F_SENDER, MIME_F_REPLY_TO, MIME_F_TO,
	MIME_F_CC, MIME_F_BCC, MIME_F_IN_REPLY_TO, MIME_F_MESSAGE_ID,
	MIME_F_COUNT
};

struct mime_part {
	struct mime_span s;
	uint32_t lines;			/* text lines of the body */
	uint32_t f[MIME_F_COUNT];	/* offset+1 of the NUL-terminated value in the arena; 0 absent */
	uint16_t in_digest;		/* 1: default type is message/rfc822 (child of multipart/digest) */
};

/* A parsed message: heap-owned, release with mime_msg_free. */
struct mime_msg {
	struct mime_part *parts;
	uint16_t nparts;
	size_t parts_cap;
	char *arena;			/* field values, NUL-terminated */
	size_t arena_len, arena_cap;
	uint32_t size;			/* wire octets of the whole message */
	uint32_t lines;			/* lines of the whole message */
	int truncated;			/* a depth, part-count or field limit was hit (still usable) */
};

/*
 * Optional per-line hook during mime_parse: part is the part the line belongs to,
 * in_header is 1 for its header lines (also boundary lines: part = the multipart, 2).
 * line excludes the line end; partial as in mbox_reader_next. Nonzero stops the parse.
 */
typedef int (*mime_line_fn)(void *ctx, const struct mime_msg *m, uint16_t part, int in_header,
    const char *line, size_t len, int partial);

/*
 * Parse the message r delivers (read to its end) into m: 0, -1 (read error, no memory),
 * or the hook's nonzero value when it stopped the parse (m is then incomplete).
 */
int mime_parse(struct mime_msg *m, struct mbox_reader *r, mime_line_fn hook, void *ctx);
/* Release what mime_parse allocated; m may be parsed again after. */
void mime_msg_free(struct mime_msg *m);
/* Value of field f of part p (unfolded, leading/trailing blanks cut), NULL if absent. */
const char *mime_field(const struct mime_msg *m, uint16_t p, enum mime_field f);

/*
 * Structured field values (RFC 2045): the next token or quoted string at *i after
 * comments and blanks, unquoted into out (cut to cap, NUL-terminated, lowercased if
 * lower); its length, or -1 at the end or at a special character (left at *i).
 */
int mime_word(const char *v, size_t *i, char *out, size_t cap, int lower);
/* Type and subtype of a Content-Type value, lowercased; *i is left before its params. -1 if malformed. */
int mime_ctype_split(const char *v, char *type, size_t tcap, char *sub, size_t scap, size_t *i);
/* Next "; name=value" parameter from *i: 1 with name (lowercased) and value, 0 at the end. */
int mime_param_next(const char *v, size_t *i, char *name, size_t ncap, char *val, size_t vcap);
/* Value of parameter name (lowercase) in the parameters starting at i; 1 found, 0 not. */
int mime_param_find(const char *v, size_t i, const char *name, char *val, size_t vcap);

/* Section kinds of BODY[section] (RFC 3501 6.4.5). */
enum mime_sect {
	MIME_SECT_PART,		/* path only ("" = whole message, "1.2" = that part's body) */
	MIME_SECT_HEADER,	/* HEADER, also the header for HEADER.FIELDS (NOT) */
	MIME_SECT_TEXT,
	MIME_SECT_MIME
};

/* A wire range of the message. */
struct mime_range {
	uint32_t off, len;
};

/*
 * Resolve part path (depth numbers, each >= 1; depth 0 = the message) plus kind to a wire
 * range using the span table. HEADER/TEXT after a non-empty path need a message/rfc822
 * part; MIME needs a non-empty path. -1 if the part does not exist or the kind does not
 * apply (callers answer with an empty string).
 */
int mime_section(const struct mime_span *sp, uint16_t n, const uint32_t *path, size_t depth,
    enum mime_sect kind, struct mime_range *out);

/* Output sink: nonzero return stops the copy and is returned. */
typedef int (*mime_sink_fn)(void *ctx, const char *p, size_t n);

/*
 * Send exactly the wire bytes [rg.off, rg.off + rg.len) of the message r reads (fresh
 * reader at the message start) to sink, LF sent as CRLF. -1 on read error or if the
 * message is shorter than the range.
 */
int mime_copy_range(struct mbox_reader *r, struct mime_range rg, mime_sink_fn sink, void *ctx);

/*
 * HEADER.FIELDS (not = 0) / HEADER.FIELDS.NOT (not = 1): from the header range hdr
 * (a MIME_SECT_HEADER range), send the fields whose names are (not) among names[0..n)
 * (ASCII case-insensitive), with continuation lines, CRLF ends, then one CRLF. Output is
 * at most hdr.len + 2 bytes, so a caller may buffer it to learn the literal size first.
 */
int mime_copy_fields(struct mbox_reader *r, struct mime_range hdr, const char *const *names,
    size_t n, int not, mime_sink_fn sink, void *ctx);

/*
 * SEARCH walker over one message (fresh reader): hdr is called for each field of the
 * top-level header with its name and its unfolded value, RFC 2047 encoded words decoded
 * to UTF-8; text (may be NULL) with decoded lines of every text body and every enclosed
 * message header, content-transfer-encoding removed and ISO-8859-1/windows-1252/ASCII
 * turned into UTF-8 (other charsets as is), at most MIME_TEXT_LINE_MAX bytes a call.
 * Either callback returning nonzero stops the walk and is returned; 0 at end, -1 error.
 */
typedef int (*mime_hdr_fn)(void *ctx, const char *name, size_t nlen, const char *val,
    size_t vlen);
int mime_search_walk(struct mbox_reader *r, mime_hdr_fn hdr, mime_sink_fn text, void *ctx);

/*
 * Decode RFC 2047 encoded words in src[0..len) into dst (cap bytes, UTF-8 where the
 * charset is known), dropping blanks between adjacent encoded words; returns the output
 * length (cut at cap).
 */
size_t mime_decode_words(const char *src, size_t len, char *dst, size_t cap);

#endif
