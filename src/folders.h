/*
 * A user's IMAP folder namespace on the store: listing, create, delete, rename, the
 * subscription list, and the special-use folders made at first login. Names are UTF-8,
 * '/' separated; INBOX is case-insensitive. The caller validates names first.
 */
#ifndef MAILNOOK_FOLDERS_H
#define MAILNOOK_FOLDERS_H

#include <stddef.h>

#include "config.h"

enum folders_rc {
	FOLDERS_OK = 0,
	FOLDERS_ERR = -1,	/* I/O error, logged */
	FOLDERS_EXISTS = -2,	/* the new name is taken */
	FOLDERS_NONEXISTENT = -3,	/* no such folder */
	FOLDERS_CANNOT = -4,	/* not allowed here (INBOX, under itself, a reserved name) */
	FOLDERS_HASCHILDREN = -5,	/* a \Noselect parent with children */
	FOLDERS_TOOMANY = -6	/* the listing passed FOLDERS_MAX */
};

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
/* Create folder name (it can take children, like every folder); FOLDERS_EXISTS if taken. */
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
