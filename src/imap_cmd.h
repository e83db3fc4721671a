/*
 * Handlers of the IMAP commands, shared between the command table (imap_cmd.c) and the
 * message commands (imap_msg.c). Each returns IMAP_OK, IMAP_NO/IMAP_BAD with s->err.text,
 * IMAP_BYE, IMAP_GONE, or IMAP_DONE when it wrote the tagged reply itself.
 */
#ifndef MAILNOOK_IMAP_CMD_H
#define MAILNOOK_IMAP_CMD_H

#include "imap.h"

/* APPEND (UIDPLUS APPENDUID, APPENDLIMIT). */
int imap_cmd_append(struct imap *s);
/* EXPUNGE and UID EXPUNGE. */
int imap_cmd_expunge(struct imap *s);
/* SEARCH and UID SEARCH (ESEARCH when RETURN is given). */
int imap_cmd_search(struct imap *s);
/* FETCH and UID FETCH. */
int imap_cmd_fetch(struct imap *s);
/* STORE and UID STORE. */
int imap_cmd_store(struct imap *s);
/* COPY and UID COPY (COPYUID). */
int imap_cmd_copy(struct imap *s);
/* MOVE and UID MOVE (RFC 6851). */
int imap_cmd_move(struct imap *s);

/* Expunge the \Deleted messages (of those in set when set is not NULL) for good. */
int imap_expunge_deleted(struct imap *s, const struct imap_seqset *set);
/* mbox and side paths (PATH_LEN each) of folder name; IMAP_OK or IMAP_NO with text. */
int imap_folder_paths(struct imap *s, const char *name, char *mbox, char *side);
/* The NO answer for a store rc, with its response code. */
int imap_store_fail(struct imap *s, int rc);

#endif
