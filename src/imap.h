/*
 * IMAP4rev1 (RFC 3501) session over an established connection, and the state shared by
 * the session loop (imap.c), the command handlers (imap_cmd.c) and FETCH (imap_fetch.c).
 */
#ifndef MAILNOOK_IMAP_H
#define MAILNOOK_IMAP_H

#include <stdint.h>

#include "imap_parse.h"
#include "io.h"
#include "session_ctx.h"
#include "store.h"

enum imap_state {
	IMAP_ST_NOAUTH = 0x1,
	IMAP_ST_AUTH = 0x2,
	IMAP_ST_SELECTED = 0x4,
	IMAP_ST_LOGOUT = 0x8
};

struct imap {
	const struct session_ctx *ctx;
	const struct config *cfg;
	struct io *io;
	enum imap_state state;
	char user[NAME_LEN];
	uint64_t quota;			/* bytes, 0 unlimited */
	int utf8;			/* ENABLE UTF8=ACCEPT done */
	unsigned bad;			/* BAD replies in a row */
	char tmpdir[PATH_LEN];		/* scratch files (APPEND spool, COPY) */
	int spool_fd;			/* APPEND spool file, -1 until needed */
	/* SELECTED state */
	int readonly;			/* EXAMINE */
	char mbox_name[FOLDER_NAME_MAX];
	struct store_folder f;		/* msgs[i] is sequence number i + 1 */
	uint32_t exists;		/* messages the client has been told of */
	uint32_t recent_lo[IMAP_RECENT_RANGES];	/* \Recent UIDs this session claimed */
	uint32_t recent_hi[IMAP_RECENT_RANGES];
	unsigned nrecent;
	/* the command being run */
	struct imap_cmd cmd;
	struct imap_args args;
	struct imap_err err;		/* text of a NO/BAD answer */
	char ok_code[512];		/* response code for the tagged OK, "" for none */
	/* counters for the logout line */
	uint32_t n_fetch, n_store, n_append, n_expunge;
};

/* Handler results: the loop writes the tagged line (OK text or err.text). */
#define IMAP_DONE 5	/* the handler wrote its tagged reply itself */

/* The one command table's row. */
struct imap_cmd_def {
	const char *verb;
	imap_grammar_fn *parse;
	int (*run)(struct imap *s);
	unsigned states;		/* IMAP_ST_* in which it is allowed */
	unsigned flags;			/* IMAP_CF_* */
};
#define IMAP_CF_UID	0x1u	/* a UID form exists (UID FETCH ...) */
#define IMAP_CF_SEQ	0x2u	/* uses sequence numbers: no untagged EXPUNGE after it (7.4.1) */

/* Greet, run commands to LOGOUT, timeout or hang-up; process exit code. */
int imap_session(const struct session_ctx *ctx, struct io *io);

/* Row for verb (upper-case), or NULL. */
const struct imap_cmd_def *imap_cmd_find(const char *verb);
/* Longest capability text. */
#define IMAP_CAPS_MAX 384
/* "CAPABILITY IMAP4rev1 ..." for the session's state into buf. */
void imap_capability(struct imap *s, char *buf, size_t cap);
/* Set err.text from a format; returns rc (IMAP_NO or IMAP_BAD) for one-line returns. */
int imap_fail(struct imap *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Tell the client what changed in the selected folder: flag changes, expunges (only when
 * may_expunge), EXISTS. Called before every tagged reply and during IDLE.
 */
void imap_update(struct imap *s, int may_expunge);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" for the selected folder's keywords. */
void imap_put_flag_lists(struct imap *s);
/* Claim \Recent for new messages of the selected folder (not when read-only). */
void imap_claim_recent(struct imap *s);
/* Is uid one of this session's \Recent messages? */
int imap_is_recent(const struct imap *s, uint32_t uid);
/* How many of the messages the client knows are \Recent for this session. */
uint32_t imap_recent_count(const struct imap *s);
/* Release the selected folder (CLOSE, UNSELECT, SELECT of another, logout). */
void imap_deselect(struct imap *s);
/*
 * Message indexes named by set (UID set when uid), ascending and without duplicates, in a
 * malloc'ed array; IMAP_OK, or IMAP_BAD / IMAP_NO with err.text.
 */
int imap_resolve(struct imap *s, const struct imap_seqset *set, int uid, uint32_t **idx,
    size_t *n);

/* FETCH over the resolved messages (imap_fetch.c); IMAP_OK or an error code. */
int imap_fetch(struct imap *s, const uint32_t *idx, size_t n);
/* " FLAGS (...)" for msgs[i] as a FETCH item (imap_fetch.c). */
void imap_put_msg_flags(struct imap *s, uint32_t i);

#endif
