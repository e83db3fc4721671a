/*
 * IMAP command input (RFC 3501 section 9, RFC 7888 LITERAL+/LITERAL-): one command with
 * its literals read from a struct io into fixed caller-owned storage, then parsed per
 * command grammar into structures living in the same storage. Nothing is allocated.
 */
#ifndef MAILNOOK_IMAP_PARSE_H
#define MAILNOOK_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "io.h"
#include "params.h"
#include "store.h"

/* Outcome of reading or parsing a command; what the session answers. */
enum imap_rc {
	IMAP_OK = 0,
	IMAP_BAD = 1,		/* "tag BAD text" ("* BAD" if tag[0] == 0); stream in step */
	IMAP_NO = 2,		/* "tag NO text" ([TOOBIG], [BADCHARSET]...); stream in step */
	IMAP_BYE = 3,		/* "* BYE text" then close: out of step, or a timeout */
	IMAP_GONE = 4		/* peer gone or transport failed: close without a word */
};

struct imap_err {
	int io_rc;			/* IO_* behind IMAP_BYE/IMAP_GONE, else IO_OK */
	char text[IMAP_ERR_TEXT];	/* reply text, response code included ("[TOOBIG] ...") */
};

/* One spooled APPEND message: size bytes written to fd starting at off. */
struct imap_spool {
	int fd;
	off_t off;
	uint32_t size;
};

/*
 * What the reader asks the session. spool is called when an APPEND message literal of
 * size bytes is announced (before "+ " for a synchronizing one): return an fd positioned
 * where the data should go (the reader writes it there and records the offset), or -1
 * after filling err->text (the command is then answered NO, e.g. "[TOOBIG] ...").
 */
struct imap_read_ops {
	void *ctx;
	int (*spool)(void *ctx, uint32_t size, struct imap_err *err);
	uint32_t nonsync_max;		/* largest {n+} accepted; larger ones are read, dropped, BAD */
};

/*
 * A command as read: text with literals inlined, plus the arena its parse lives in.
 * Both start small (IMAP_CMD_FIRST, IMAP_ARENA_FIRST) and get their full size only while
 * a command needs it; a zeroed struct is a valid empty one, imap_cmd_free releases it.
 */
struct imap_cmd {
	char tag[IMAP_TAG_MAX + 1];	/* "" until a valid tag was read */
	char verb[IMAP_VERB_MAX + 1];	/* upper-cased; "FETCH" for "UID FETCH" */
	int uid;			/* 1 for the UID form */
	size_t len;			/* bytes used in text */
	size_t cap;			/* bytes allocated for text */
	size_t args;			/* offset in text just after the verb */
	size_t pos;			/* parse cursor */
	unsigned nspool;
	unsigned nspool_used;		/* spooled literals consumed by the parser */
	struct imap_spool spool[IMAP_SPOOL_MAX];
	char *text;
	/* arena[0]: IMAP_ARENA_FIRST bytes; arena[1]: IMAP_ARENA_MAX once [0] is full */
	unsigned char *arena[2];
	size_t used[2];			/* bytes used in each */
};

/* A string token: NUL-terminated copy in the arena (len excludes it; may hold NUL). */
struct imap_str {
	const char *s;
	size_t len;
};

/* Sequence sets: IMAP_STAR stands for "*" (the largest number in use). */
#define IMAP_STAR 0u
struct imap_range {
	uint32_t lo, hi;		/* as written: lo may exceed hi, either may be IMAP_STAR */
};
struct imap_seqset {
	const struct imap_range *r;
	size_t n;
};

/* System flags share the store's bits; \Recent is session state. */
#define IMAP_F_RECENT 0x100u
struct imap_flags {
	uint32_t sys;			/* STORE_SEEN ... STORE_DRAFT, IMAP_F_RECENT */
	const struct imap_str *kw;	/* keywords, as given */
	size_t nkw;
};

/* A date-time in UTC seconds with the zone it was written in (minutes east). */
struct imap_time {
	int64_t t;
	int zone;
};

/* FETCH */
enum imap_fetch_kind {
	IMAP_FA_FLAGS, IMAP_FA_INTERNALDATE, IMAP_FA_RFC822_SIZE, IMAP_FA_ENVELOPE,
	IMAP_FA_BODY, IMAP_FA_BODYSTRUCTURE, IMAP_FA_UID, IMAP_FA_RFC822,
	IMAP_FA_RFC822_HEADER, IMAP_FA_RFC822_TEXT, IMAP_FA_SECTION
};
enum imap_section_kind {
	IMAP_SEC_ALL,			/* BODY[] or BODY[1.2]: the whole (part) */
	IMAP_SEC_HEADER, IMAP_SEC_FIELDS, IMAP_SEC_FIELDS_NOT, IMAP_SEC_TEXT, IMAP_SEC_MIME
};
struct imap_section {
	uint32_t part[IMAP_PART_DEPTH_MAX];	/* part path, e.g. 1.2 -> {1, 2} */
	unsigned nparts;
	enum imap_section_kind kind;
	const struct imap_str *fields;		/* HEADER.FIELDS (NOT) names, upper-cased */
	size_t nfields;
	int peek;				/* BODY.PEEK: do not set \Seen */
	int partial;				/* <origin.count> given */
	uint32_t origin, count;
};
struct imap_fetch_att {
	enum imap_fetch_kind kind;
	struct imap_section sec;		/* IMAP_FA_SECTION only */
};
struct imap_fetch_args {
	struct imap_seqset set;
	const struct imap_fetch_att *att;	/* macros expanded */
	size_t natt;
};

/* STORE */
enum imap_store_mode { IMAP_STORE_SET, IMAP_STORE_ADD, IMAP_STORE_REMOVE };
struct imap_store_args {
	struct imap_seqset set;
	enum imap_store_mode mode;
	int silent;
	struct imap_flags flags;		/* IMAP_F_RECENT refused by the parser */
};

/* SEARCH: a key tree; AND lists are chained through next. */
enum imap_skey_kind {
	IMAP_SK_AND, IMAP_SK_OR, IMAP_SK_NOT, IMAP_SK_ALL,
	IMAP_SK_SEQ, IMAP_SK_UID,			/* set */
	IMAP_SK_FLAG, IMAP_SK_UNFLAG,			/* flag (system bits) */
	IMAP_SK_KEYWORD, IMAP_SK_UNKEYWORD,		/* str */
	IMAP_SK_NEW, IMAP_SK_OLD,
	IMAP_SK_BEFORE, IMAP_SK_ON, IMAP_SK_SINCE,	/* day: internal date */
	IMAP_SK_SENTBEFORE, IMAP_SK_SENTON, IMAP_SK_SENTSINCE,	/* day: Date: header */
	IMAP_SK_LARGER, IMAP_SK_SMALLER,		/* num */
	IMAP_SK_OLDER, IMAP_SK_YOUNGER,			/* num seconds (RFC 5032 WITHIN) */
	IMAP_SK_HEADER,			/* field, str (also BCC CC FROM SUBJECT TO) */
	IMAP_SK_BODY, IMAP_SK_TEXT			/* str */
};
struct imap_skey {
	enum imap_skey_kind kind;
	const struct imap_skey *a, *b;	/* AND: first child; OR: both; NOT: a */
	const struct imap_skey *next;	/* next sibling in an AND list */
	struct imap_seqset set;
	uint32_t flag;
	int64_t day;			/* days since 1970-01-01 */
	uint32_t num;
	struct imap_str field;		/* header name, upper-cased */
	struct imap_str str;		/* keyword or search string (UTF-8) */
};
/* ESEARCH RETURN options (RFC 4731); none given means a plain SEARCH reply. */
#define IMAP_RET_MIN	0x1u
#define IMAP_RET_MAX	0x2u
#define IMAP_RET_ALL	0x4u
#define IMAP_RET_COUNT	0x8u
struct imap_search_args {
	int esearch;			/* RETURN given: answer with ESEARCH */
	unsigned ret;			/* IMAP_RET_*; RETURN () means IMAP_RET_ALL */
	const struct imap_skey *key;	/* root, an IMAP_SK_AND */
};

/* STATUS items (RFC 3501, RFC 8438 SIZE) */
#define IMAP_ST_MESSAGES	0x01u
#define IMAP_ST_RECENT		0x02u
#define IMAP_ST_UIDNEXT		0x04u
#define IMAP_ST_UIDVALIDITY	0x08u
#define IMAP_ST_UNSEEN		0x10u
#define IMAP_ST_SIZE		0x20u

/* LIST / LSUB (RFC 5258 LIST-EXTENDED, RFC 6154 SPECIAL-USE, RFC 5819 LIST-STATUS) */
#define IMAP_LSEL_SUBSCRIBED	0x1u
#define IMAP_LSEL_REMOTE	0x2u
#define IMAP_LSEL_RECURSIVE	0x4u
#define IMAP_LSEL_SPECIALUSE	0x8u
#define IMAP_LRET_SUBSCRIBED	0x1u
#define IMAP_LRET_CHILDREN	0x2u
#define IMAP_LRET_SPECIALUSE	0x4u
#define IMAP_LRET_STATUS	0x8u
struct imap_list_args {
	int extended;			/* selection or return options were given */
	unsigned sel, ret;		/* IMAP_LSEL_*, IMAP_LRET_* */
	unsigned status;		/* IMAP_ST_* for RETURN (STATUS (...)) */
	/* reference and patterns, UTF-8 (decoded from modified UTF-7), wildcards kept;
	 * s is NULL for one that was not modified UTF-7 and so matches no name */
	struct imap_str ref;
	const struct imap_str *pat;
	size_t npat;
};

/* APPEND (one message) */
struct imap_append_args {
	const char *mbox;
	struct imap_flags flags;
	int has_date;
	struct imap_time date;
	struct imap_spool msg;		/* where the message literal was spooled */
};

/* Everything one command's arguments can be; only the grammar's fields are set. */
struct imap_args {
	const char *mbox, *mbox2;	/* validated UTF-8 folder names (INBOX canonical) */
	struct imap_str user, pass;	/* LOGIN */
	struct imap_str mech, ir;	/* AUTHENTICATE; ir.s NULL when absent, "" for "=" */
	struct imap_seqset set;		/* COPY, MOVE, UID EXPUNGE */
	unsigned status;		/* STATUS items */
	const struct imap_str *atoms;	/* ENABLE capability names, upper-cased */
	size_t natoms;
	const struct imap_str *id;	/* ID field/value pairs (value .s NULL for NIL) */
	size_t nid;			/* number of strings (2 per pair); 0 for ID NIL */
	struct imap_fetch_args fetch;
	struct imap_store_args store;
	struct imap_search_args search;
	struct imap_list_args list;
	struct imap_append_args append;
};

/*
 * Read one command: lines and literals until a line without a literal announcement.
 * A synchronizing literal is checked (size, spool) before "+ " is sent; a refused one is
 * answered without "+" so the client sends nothing; a refused {n+} is read and dropped.
 * On IMAP_BAD/IMAP_NO the rest of the command has been consumed: the stream is in step.
 */
int imap_read_command(struct io *io, struct imap_cmd *cmd, const struct imap_read_ops *ops,
    struct imap_err *err);
/* Overwrite the command text and arena (they may hold a password), and give back the
 * full-size buffers of a large command. */
void imap_cmd_wipe(struct imap_cmd *cmd);
/* Wipe and free all of cmd's buffers (end of session). */
void imap_cmd_free(struct imap_cmd *cmd);

/*
 * Argument grammars: each parses cmd's arguments (from cmd->args to the end) into a, with
 * strings in cmd's arena (valid until the next read); IMAP_OK, or IMAP_BAD / IMAP_NO with
 * err->text. utf8: UTF8=ACCEPT is on (names in UTF-8 rather than modified UTF-7).
 */
typedef int imap_grammar_fn(struct imap_cmd *cmd, int utf8, struct imap_args *a,
    struct imap_err *err);
/* No arguments: CAPABILITY NOOP LOGOUT STARTTLS CHECK CLOSE UNSELECT EXPUNGE IDLE NAMESPACE. */
imap_grammar_fn imap_parse_none;
/* One mailbox: SELECT EXAMINE CREATE DELETE SUBSCRIBE UNSUBSCRIBE (a->mbox). */
imap_grammar_fn imap_parse_mailbox;
/* RENAME old new (a->mbox, a->mbox2). */
imap_grammar_fn imap_parse_rename;
/* LOGIN user password (a->user, a->pass: astrings). */
imap_grammar_fn imap_parse_login;
/* AUTHENTICATE mechanism [initial-response] (RFC 4959 SASL-IR; a->mech upper-cased). */
imap_grammar_fn imap_parse_authenticate;
/* STATUS mailbox (items) (a->mbox, a->status). */
imap_grammar_fn imap_parse_status;
/* LIST (extended forms too) and LSUB (plain form only when cmd->verb is LSUB): a->list. */
imap_grammar_fn imap_parse_list;
/* APPEND mailbox [flags] [date-time] literal (a->append; the literal is spooled). */
imap_grammar_fn imap_parse_append;
/* COPY / MOVE set mailbox (a->set, a->mbox). */
imap_grammar_fn imap_parse_copy;
/* A sequence set alone: UID EXPUNGE (a->set). */
imap_grammar_fn imap_parse_set;
/* FETCH set items (a->fetch; macros ALL FAST FULL expanded). */
imap_grammar_fn imap_parse_fetch;
/* STORE set [+-]FLAGS[.SILENT] flags (a->store). */
imap_grammar_fn imap_parse_store;
/* SEARCH [RETURN (...)] [CHARSET c] keys (a->search); other charsets: NO [BADCHARSET]. */
imap_grammar_fn imap_parse_search;
/* ENABLE capability... (a->atoms). */
imap_grammar_fn imap_parse_enable;
/* ID NIL or ID (field value ...) (a->id). */
imap_grammar_fn imap_parse_id;

/* Is v in set, with * standing for star (the largest number in use; 0 when empty)? */
int imap_seq_contains(const struct imap_seqset *set, uint32_t v, uint32_t star);
/* Section text for a FETCH reply, e.g. "1.2.HEADER.FIELDS (DATE FROM)"; -1 if cap is short. */
int imap_section_fmt(const struct imap_section *sec, char *buf, size_t cap);
/* Parse an IMAP date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (no quotes); 0 or -1. */
int imap_parse_datetime(const char *s, size_t len, struct imap_time *out);

#endif
