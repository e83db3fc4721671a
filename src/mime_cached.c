/*
 * Reading a structure record's texts back (mime_cache.c writes them): the ENVELOPE with
 * its shared From list put back, and the decoded search fields. Pure functions over bytes.
 */
#include "mime_cached.h"

#include <stdint.h>
#include <string.h>

#include "imap_envelope.h"
#include "params.h"
#include "util.h"

/*
 * Element k (0 the date, 1 the subject) of the ENVELOPE text e[0..n) when it is a quoted
 * string, unquoted into out (cap bytes); its length, or -1 (NIL, a literal, malformed).
 */
static long
cached_env_quoted(const char *e, size_t n, int k, char *out, size_t cap)
{
	size_t i = 1, o = 0;

	for (; k > 0 && i != SIZE_MAX; k--) {
		i = imap_elem_end(e, n, i);
	}
	i += i < n && e[i] == ' ';
	if (i >= n || e[i] != '"') {
		return -1;	/* NIL, a literal, or malformed */
	}
	for (i++; i < n && e[i] != '"' && o < cap; i++) {
		i += e[i] == '\\' && i + 1 < n;
		out[o++] = e[i];
	}
	return i < n && e[i] == '"' ? (long)o : -1;
}

int
mime_cached_field(const struct mime_cached *mc, enum mime_field f,
    int (*fn)(void *ctx, const char *s, size_t n), void *ctx)
{
	const unsigned char *p = (const unsigned char *)mc->search;
	size_t at = 0;
	int rc = 0, found = 0;
	char q[MIME_FIELD_MAX / 8];	/* more than a quoted string holds (imap_string.c) */
	long n;

	while (rc == 0 && at + MIME_CACHED_SF_HEAD <= mc->search_len) {
		size_t len = get_le16(p + at + 1);

		if (at + MIME_CACHED_SF_HEAD + len > mc->search_len) {
			break;
		}
		if (p[at] == f) {
			found = 1;
			rc = fn(ctx, mc->search + at + MIME_CACHED_SF_HEAD, len);
		}
		at += MIME_CACHED_SF_HEAD + len;
	}
	/* a plain date or subject was left to the ENVELOPE text */
	if (!found && (f == MIME_F_DATE || f == MIME_F_SUBJECT) &&
	    (n = cached_env_quoted(mc->envelope, mc->envelope_len, f == MIME_F_SUBJECT, q,
	    sizeof(q))) >= 0) {
		rc = fn(ctx, q, (size_t)n);
	}
	return rc;
}

int
mime_cache_searchable(enum mime_field f)
{
	return f == MIME_F_DATE || f == MIME_F_SUBJECT || (f >= MIME_F_FROM && f <= MIME_F_BCC &&
	    f != MIME_F_SENDER && f != MIME_F_REPLY_TO);
}

int
mime_cached_env_lists(const char *e, size_t n, size_t end[4])
{
	size_t i = 1;

	/* skip the date, then the subject, From, Sender, Reply-To */
	for (int k = -1; k < 4; k++) {
		if ((i = imap_elem_end(e, n, i)) == SIZE_MAX) {
			return -1;
		}
		if (k >= 0) {
			end[k] = i;
		}
	}
	return 0;
}

void
mime_cached_envelope(const struct mime_cached *mc, imap_sink_fn *out, void *ctx)
{
	size_t end[4];

	/* the stored text ends the From list where Sender and Reply-To go back in */
	if (!mc->sender_from || mime_cached_env_lists(mc->envelope, mc->envelope_len, end) != 0) {
		out(ctx, mc->envelope, mc->envelope_len);
		return;
	}
	out(ctx, mc->envelope, end[1]);
	out(ctx, mc->envelope + end[0], end[1] - end[0]);
	out(ctx, mc->envelope + end[0], end[1] - end[0]);
	out(ctx, mc->envelope + end[1], mc->envelope_len - end[1]);
}
