/*
 * The only place process privileges change. See priv.c for the model.
 */
#ifndef MAILNOOK_PRIV_H
#define MAILNOOK_PRIV_H

#include "config.h"

/* If running as root, become cfg->run_user (groups, gid, uid), irrevocably; exits 71
 * with a log line if that fails. A no-op for an unprivileged process. */
void priv_drop(const struct config *cfg);
/* Log a warning for each of passwd_file and tls_key that every user may read or write
 * (call at start, while the files can still be stat'ed as root). */
void priv_check_secrets(const struct config *cfg);

#endif
