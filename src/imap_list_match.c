/*
 * LIST pattern matching as a set of pattern positions advanced one name byte at a time
 * (a Thompson NFA): no backtracking, so "****...x" costs what "*x" costs.
 */
#include "imap_list_match.h"

#include <string.h>

#include "params.h"

static int
is_wild(char c)
{
	return c == '*' || c == '%';
}

/*
 * Copy pattern into out with each run of wildcards as one: '*' if the run holds one
 * (it can then cross '/'), else '%'. Returns the length, or -1 if too long.
 */
static int
compact(const char *pattern, char *out)
{
	size_t i = 0, n = 0;

	while (pattern[i] != '\0') {
		if (n >= IMAP_LIST_PATTERN_MAX) {
			return -1;
		}
		if (!is_wild(pattern[i])) {
			out[n++] = pattern[i++];
			continue;
		}
		out[n] = '%';
		for (; is_wild(pattern[i]); i++) {
			out[n] = pattern[i] == '*' ? '*' : out[n];
		}
		n++;
	}
	return (int)n;
}

/* A wildcard may match nothing: a live position before one makes the next live too. */
static void
close_over_wild(const char *p, int m, unsigned char *live)
{
	int i;

	for (i = 0; i < m; i++) {
		if (live[i] && is_wild(p[i])) {
			live[i + 1] = 1;
		}
	}
}

int
imap_list_match(const char *pattern, const char *name)
{
	char p[IMAP_LIST_PATTERN_MAX];
	unsigned char a[IMAP_LIST_PATTERN_MAX + 1], b[IMAP_LIST_PATTERN_MAX + 1];
	unsigned char *live = a, *next = b, *t;
	int m = compact(pattern, p), i, any;

	if (m < 0) {
		return 0;
	}
	memset(a, 0, sizeof(a));
	live[0] = 1;
	close_over_wild(p, m, live);
	for (; *name != '\0'; name++) {
		memset(next, 0, (size_t)m + 1);
		any = 0;
		for (i = 0; i < m; i++) {
			if (!live[i]) {
				continue;
			}
			if (p[i] == '*' || (p[i] == '%' && *name != '/')) {
				next[i] = any = 1;
			} else if (p[i] == *name) {
				next[i + 1] = any = 1;
			}
		}
		if (!any) {
			return 0;
		}
		close_over_wild(p, m, next);
		t = live;
		live = next;
		next = t;
	}
	return live[m];
}
