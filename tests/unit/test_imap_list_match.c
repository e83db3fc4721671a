/* Unit tests of imap_list_match.c: wildcard semantics against a reference matcher, and
 * patterns that take exponential time with backtracking. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "imap_list_match.h"
#include "t.h"
#include "util.h"

/* Plain backtracking: the obvious reading of the rules, for short inputs only. */
static int
ref_match(const char *p, const char *n)
{
	if (*p == '\0') {
		return *n == '\0';
	}
	if (*p == '*' || *p == '%') {
		for (;; n++) {
			if (ref_match(p + 1, n)) {
				return 1;
			}
			if (*n == '\0' || (*p == '%' && *n == '/')) {
				return 0;
			}
		}
	}
	return *n == *p && ref_match(p + 1, n + 1);
}

static void
test_cases(void)
{
	static const struct { const char *p, *n; int m; } cases[] = {
		{ "*", "", 1 }, { "*", "a/b/c", 1 }, { "%", "a/b", 0 }, { "%", "abc", 1 },
		{ "%/%", "a/b", 1 }, { "%/%", "a/b/c", 0 }, { "a*", "a", 1 }, { "a*c", "abc/dc", 1 },
		{ "a%c", "ab/c", 0 }, { "Club/%", "Club/Q1", 1 }, { "Club/%", "Club", 0 },
		{ "", "", 1 }, { "", "x", 0 }, { "INBOX", "INBOX", 1 }, { "inbox", "INBOX", 0 },
		{ "*%*x", "aaaa/x", 1 }, { "%*%", "a/b", 1 }, { "a%%b", "ab", 1 }, { "**", "", 1 },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(cases); i++) {
		CHECK(imap_list_match(cases[i].p, cases[i].n) == cases[i].m, "\"%s\" against \"%s\"",
		    cases[i].p, cases[i].n);
	}
}

/* Random short patterns and names over a small alphabet agree with the reference. */
static void
test_random(void)
{
	static const char pa[] = "ab/*%", na[] = "ab/";
	char p[9], n[9];
	unsigned i, bad = 0;
	size_t k, lp, ln;

	srand(7);
	for (i = 0; i < 200000; i++) {
		lp = (size_t)rand() % 8;
		ln = (size_t)rand() % 8;
		for (k = 0; k < lp; k++) {
			p[k] = pa[rand() % 5];
		}
		for (k = 0; k < ln; k++) {
			n[k] = na[rand() % 3];
		}
		p[lp] = n[ln] = '\0';
		bad += imap_list_match(p, n) != ref_match(p, n);
	}
	CHECK(bad == 0, "200000 random pattern/name pairs agree with backtracking (%u differ)", bad);
}

/* CPU milliseconds this process has used (integers: the soft-float targets run this too). */
static unsigned long
cpu_used_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (unsigned long)ru.ru_utime.tv_sec * 1000 + (unsigned long)ru.ru_utime.tv_usec / 1000;
}

/* 200 stars then a letter the name lacks: 2^200 paths for a backtracker. The CPU limit
 * turns a regression into a FAIL (SIGXCPU) instead of a test that never ends. */
static void
test_stars(void)
{
	char pat[256], name[256];
	struct rlimit rl = { 60, 61 };
	unsigned i;
	int m = 1;

	(void)setrlimit(RLIMIT_CPU, &rl);
	memset(pat, '*', 200);
	memcpy(pat + 200, "x", 2);
	memset(name, 'a', 199);
	name[199] = '\0';
	for (i = 0; i < 1000; i++) {
		m &= imap_list_match(pat, name) == 0;
	}
	CHECK(m, "200 stars and x: no match, 1000 times, in %lu ms of CPU", cpu_used_ms());
	memset(pat, '%', 200);
	memcpy(pat + 200, "%/a%", 5);
	CHECK(imap_list_match(pat, "q/aa") == 1 && imap_list_match(pat, "q/b") == 0,
	    "200 percent signs then %%/a%%");
}

int
main(void)
{
	test_cases();
	test_random();
	test_stars();
	return t_done();
}
