/*
 * SEARCH evaluation: one message against a key tree from imap_parse.h, with the message
 * reached only through the caller's accessors, and a streaming case-insensitive
 * substring matcher fed with decoded header and body text.
 */
#ifndef MAILNOOK_IMAP_SEARCH_H
#define MAILNOOK_IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "imap_parse.h"
#include "params.h"

/*
 * Streaming matcher: needle and text compared after simple case folding of UTF-8. An
 * ASCII needle is looked for bytewise (Horspool, ASCII case-insensitive: no other code
 * point folds to ASCII, and no ASCII byte is part of a longer UTF-8 sequence); others
 * go code point by code point (Knuth-Morris-Pratt).
 */
struct imap_match {
	const void *key;			/* the SEARCH key it is set up for, if any */
	int ascii;
	size_t n;				/* needle length in code points (= bytes if ascii) */
	int found;
	/* ascii: lowercased needle, shifts, and the last n - 1 bytes fed before the next ones */
	unsigned char low[IMAP_SEARCH_STR_MAX];
	uint16_t shift[256];
	size_t tl;
	unsigned char buf[2 * IMAP_SEARCH_STR_MAX];
	/* not ascii */
	uint32_t needle[IMAP_SEARCH_STR_MAX];	/* folded code points */
	uint16_t fail[IMAP_SEARCH_STR_MAX];	/* KMP failure function */
	size_t q;				/* code points matched so far */
	uint32_t cp;				/* UTF-8 sequence being assembled */
	unsigned need;				/* continuation bytes still expected */
};

/* Start matching needle s[0..len); an empty needle matches at the first feed, even of 0 bytes. */
void imap_match_init(struct imap_match *m, const char *s, size_t len);
/* Feed text (may split UTF-8 sequences anywhere); returns m->found. */
int imap_match_feed(struct imap_match *m, const char *s, size_t len);
/* Forget text fed so far (between header values, so a match never spans two). */
void imap_match_reset(struct imap_match *m);

/* What evaluation knows about a message without reading it. */
struct imap_search_msg {
	uint32_t seq, uid;
	uint32_t size;			/* RFC822.SIZE */
	uint32_t flags;			/* STORE_SEEN..STORE_DRAFT, IMAP_F_RECENT */
	struct imap_time internal;	/* INTERNALDATE */
};

/*
 * The message's content, asked only when a key needs it. Each returns 0, or -1 on error
 * (evaluation then returns -1).
 */
struct imap_search_ops {
	/* *has = 1 if the message carries keyword kw. */
	int (*keyword)(void *ctx, const char *kw, int *has);
	/* Date: header as a time; *have = 0 when missing or unparsable. */
	int (*sent)(void *ctx, struct imap_time *t, int *have);
	/* Feed each value of field (upper-case name) into m, RFC 2047 decoded, reset between. */
	int (*header)(void *ctx, const char *field, struct imap_match *m);
	/* Feed the decoded body text (whole = 1: the header too, for TEXT) into m. */
	int (*text)(void *ctx, int whole, struct imap_match *m);
};

/*
 * The upper bounds * stands for, the clock for OLDER/YOUNGER, and a zeroed matcher kept
 * for one command (NULL: each evaluation allocates one).
 */
struct imap_search_env {
	uint32_t max_seq, max_uid;
	int64_t now;
	struct imap_match *m;
};

/* Does msg match key (1) or not (0); -1 if an accessor failed. Cheap keys go first. */
int imap_search_eval(const struct imap_skey *key, const struct imap_search_msg *msg,
    const struct imap_search_env *env, const struct imap_search_ops *ops, void *ctx);
/* Does the tree look at header or body text at all (so the caller can skip opening the message)? */
int imap_search_needs_content(const struct imap_skey *key);
/* Parse an RFC 5322 Date: value (obsolete forms and comments tolerated); 0 or -1. */
int imap_rfc5322_date(const char *s, size_t len, struct imap_time *out);

#endif
