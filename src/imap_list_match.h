/*
 * LIST/LSUB pattern matching (RFC 3501 6.3.8): '*' matches anything, '%' anything but
 * the hierarchy delimiter '/'. Work is linear in name length times pattern length,
 * whatever the pattern, so no LIST can keep a session busy for long.
 */
#ifndef MAILNOOK_IMAP_LIST_MATCH_H
#define MAILNOOK_IMAP_LIST_MATCH_H

/* 1 if name matches pattern, else 0 (also for a pattern over IMAP_LIST_PATTERN_MAX). */
int imap_list_match(const char *pattern, const char *name);

#endif
