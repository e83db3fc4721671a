/*
 * Fuzz entry for the two files an administrator writes: the bytes are used as a config
 * file, then each of their lines as a -o override, then as a passwd file looked up for a
 * few names. libFuzzer calls LLVMFuzzerTestOneInput (built with -DMAILNOOK_LIBFUZZER);
 * otherwise main replays the files given to it.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "util.h"

#include "replay.h"

static char fz_path[64];

static int
fz_write(const uint8_t *data, size_t size)
{
	int fd = open(fz_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int rc;

	if (fd < 0) {
		return -1;
	}
	rc = write_all(fd, data, size);
	close(fd);
	return rc;
}

/* Every line of data as a -o override (at most MAX_OVERRIDES of them). */
static void
fz_overrides(struct config *cfg, const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *ov[MAX_OVERRIDES], *s;
	char err[512];
	int n = 0;

	if (copy == NULL) {
		return;
	}
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (s = copy; n < MAX_OVERRIDES && *s != '\0'; n++) {
		ov[n] = s;
		s += strcspn(s, "\n");
		if (*s == '\n') {
			*s++ = '\0';
		}
	}
	config_load(cfg, NULL, ov, n, err, sizeof(err));
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "alice", "bob", "a", "x.y" };
	static struct config cfg;
	struct auth_user u;
	char err[512], buf[PATH_LEN];
	size_t i;

	if (fz_path[0] == '\0') {
		str_fmt(fz_path, sizeof(fz_path), "/tmp/mailnook-fuzz-config.%ld", (long)getpid());
		log_open("fuzz", 1);
	}
	if (fz_write(data, size) < 0) {
		return 0;
	}
	if (config_load(&cfg, fz_path, NULL, 0, err, sizeof(err)) == 0) {
		config_inbox_path(&cfg, "alice", buf, sizeof(buf));
	}
	fz_overrides(&cfg, data, size);
	config_load(&cfg, "/nonexistent/mailnook.conf", NULL, 0, err, sizeof(err));
	str_copy(cfg.passwd_file, sizeof(cfg.passwd_file), fz_path);
	for (i = 0; i < ARRAY_LEN(names); i++) {
		auth_lookup(&cfg, names[i], &u);
	}
	unlink(fz_path);
	return 0;
}
