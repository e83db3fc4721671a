/*
 * One message's cached structure as FETCH and SEARCH read it: the ENVELOPE and
 * BODYSTRUCTURE texts, the part spans and the decoded search fields of a record of the
 * structure cache (mime_cache.c, doc/store.md), and the functions that read them back.
 */
#ifndef MAILNOOK_MIME_CACHED_H
#define MAILNOOK_MIME_CACHED_H

#include <stddef.h>
#include <stdint.h>

#include "imap_string.h"
#include "mime.h"

/* A search field entry: field number, 16-bit length, then its text. */
#define MIME_CACHED_SF_HEAD	3

/* One message's cached structure; pointers stay valid until the next call on the cache. */
struct mime_cached {
	const char *envelope;		/* ENVELOPE as kept: send with mime_cached_envelope */
	size_t envelope_len;
	int sender_from;		/* Sender and Reply-To (left out) are the From list */
	const char *bodystructure;	/* "(...)" as sent after BODYSTRUCTURE */
	size_t bodystructure_len;
	const char *search;		/* decoded search fields (mime_cached_field) */
	size_t search_len;
	const struct mime_span *spans;	/* for mime_section */
	uint16_t nspans;
	uint32_t size;			/* wire size the parse saw */
};

/* Send the ENVELOPE text "(...)" of mc to out. */
void mime_cached_envelope(const struct mime_cached *mc, imap_sink_fn *out, void *ctx);

/* Is field f of the top header kept in the record for SEARCH? */
int mime_cache_searchable(enum mime_field f);

/*
 * Hand each kept text of field f (mime_cache_searchable) to fn: the value with RFC 2047
 * words decoded, then for address fields each address as local@domain and its name.
 * fn's first nonzero return stops and is returned; 0 after the last.
 */
int mime_cached_field(const struct mime_cached *mc, enum mime_field f,
    int (*fn)(void *ctx, const char *s, size_t n), void *ctx);

/* Ends of the subject, From, Sender and Reply-To elements of the ENVELOPE text e[0..n). */
int mime_cached_env_lists(const char *e, size_t n, size_t end[4]);

#endif
