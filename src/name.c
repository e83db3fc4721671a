/* User name rules: what may reach a path under mail_root and a line of the passwd file. */
#include "name.h"

#include <stddef.h>

#include "params.h"

int
name_user_valid(const char *name)
{
	size_t i;

	if (name[0] == '\0' || name[0] == '.' || name[0] == '-') {
		return 0;
	}
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];

		if (i >= NAME_LEN - 1) {
			return 0;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '+')) {
			return 0;
		}
	}
	return 1;
}
