/* IMAP quoting: quoted strings stay short and 7-bit, everything else is a literal. */
#include "imap_string.h"

#include "util.h"

/* Quoted strings longer than this go out as literals: easier on clients' line buffers. */
#define IMAP_QUOTED_MAX	1024

int
imap_string_quotable(const char *s, size_t n, int eight_bit)
{
	size_t i;

	if (n > IMAP_QUOTED_MAX) {
		return 0;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n' || (c >= 0x80 && !eight_bit)) {
			return 0;
		}
	}
	return 1;
}

void
imap_string_quoted(imap_sink_fn *out, void *ctx, const char *s, size_t n)
{
	size_t i, run = 0;

	out(ctx, "\"", 1);
	for (i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			out(ctx, s + run, i - run);
			out(ctx, "\\", 1);
			run = i;
		}
	}
	out(ctx, s + run, n - run);
	out(ctx, "\"", 1);
}

void
imap_string_nstring(imap_sink_fn *out, void *ctx, const char *s, size_t n)
{
	char head[32];
	int len;

	if (s == NULL) {
		out(ctx, "NIL", 3);
	} else if (imap_string_quotable(s, n, 0)) {
		imap_string_quoted(out, ctx, s, n);
	} else if ((len = str_fmt(head, sizeof(head), "{%zu}\r\n", n)) > 0) {
		out(ctx, head, (size_t)len);
		out(ctx, s, n);
	}
}
