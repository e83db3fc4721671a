/* Side-file names: one suffix per kind, nothing else builds these names. */
#include "side.h"

#include <string.h>

#include "util.h"

static const char *const side_suffixes[SIDE_COUNT] = {
	[SIDE_IDX] = ".idx",
	[SIDE_JNL] = ".jnl",
	[SIDE_SES] = ".ses",
	[SIDE_POP3] = ".pop3",
	[SIDE_KW] = ".kw",
	[SIDE_RCT] = ".rct",
	[SIDE_MIME] = ".mime",
};

const char *
side_suffix(enum side_file which)
{
	return side_suffixes[which];
}

int
side_path(char *buf, size_t cap, const char *side_base, enum side_file which)
{
	return str_fmt(buf, cap, "%s%s", side_base, side_suffixes[which]) < 0 ? -1 : 0;
}

int
side_is_dotlock(const char *name, size_t len)
{
	size_t n = sizeof(SIDE_DOTLOCK) - 1;

	return len > n && memcmp(name + len - n, SIDE_DOTLOCK, n) == 0;
}
