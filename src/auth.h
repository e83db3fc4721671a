/*
 * Users and passwords: the passwd file (user:hash[:options]), crypt() SHA-512/bcrypt,
 * constant-time checks, a dummy crypt for unknown users, and the failed-login throttle
 * shared by all processes through a small file under the runtime dir.
 */
#ifndef MAILNOOK_AUTH_H
#define MAILNOOK_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct auth_user {
	char name[NAME_LEN];
	uint64_t quota;		/* bytes, 0 unlimited (option quota=SIZE, else cfg->quota) */
};

enum auth_rc { AUTH_OK = 0, AUTH_FAIL = -1, AUTH_ERR = -2 };

/* Check a password; same time for unknown users and wrong passwords. AUTH_ERR when the
 * passwd file cannot be read (reply [SYS/TEMP]). Fills *out on AUTH_OK. */
int auth_check(const struct config *cfg, const char *user, const char *pass,
    struct auth_user *out);
/* Look a user up without a password (deliver): AUTH_OK, AUTH_FAIL unknown, AUTH_ERR. */
int auth_lookup(const struct config *cfg, const char *user, struct auth_user *out);
/* Before answering a failed login: record it for addr and sleep the grown delay. */
void auth_failed(const struct config *cfg, const char *addr);
/* The recording half of auth_failed: returns the delay in ms owed for this failure
 * (FAIL_DELAY_BASE_MS when the shared table cannot be used). */
unsigned auth_fail_record(const struct config *cfg, const char *addr);
/* After a successful login: forget addr's failures. */
void auth_succeeded(const struct config *cfg, const char *addr);
/* Set user's password (hash with SHA-512 crypt and a random salt), rewriting the
 * passwd file atomically (temp file, fsync, rename, fsync dir). 0 or -1 with a message. */
int auth_set_password(const struct config *cfg, const char *user, const char *pass,
    char *err, size_t errlen);

/* SHA-512 crypt of key with setting "$6$[rounds=N$]salt[$...]" into out (the full
 * "$6$salt$hash" string); 0, or -1 for a bad setting or a too small out (128 fits). */
int auth_sha512_crypt(const char *key, const char *setting, char *out, size_t cap);

#endif
