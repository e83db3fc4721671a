/*
 * Minimal table-friendly unit test helpers: CHECK prints "ok N - what" or
 * "FAIL N - what (file:line)"; t_done() prints the summary and returns the exit code.
 */
#ifndef MAILNOOK_T_H
#define MAILNOOK_T_H

#include <stdio.h>

static int t_pass, t_fail;

#define CHECK(cond, ...) do { \
	int t_ok_ = (cond) ? 1 : 0;	/* evaluated once: cond may have side effects */ \
	if (t_ok_) { t_pass++; printf("ok - "); } \
	else { t_fail++; printf("FAIL - "); } \
	printf(__VA_ARGS__); \
	if (!t_ok_) { printf(" (%s:%d)", __FILE__, __LINE__); } \
	printf("\n"); \
} while (0)

static int
t_done(void)
{
	printf("%d passed, %d failed\n", t_pass, t_fail);
	return t_fail != 0;
}

#endif
