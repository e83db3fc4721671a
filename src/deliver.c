/*
 * deliver verb: the MDA. Appends the message on stdin to a user's INBOX and exits with
 * the sysexits code an MTA expects (fetchmail --mda, postfix/exim pipe, procmail-style).
 * Starts as root or the mail user; drops to the mail user before touching any mail.
 */
#include <stdio.h>
#include <sysexits.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "name.h"
#include "priv.h"
#include "store.h"
#include "verbs.h"

/* EX_DATAERR and EX_NOUSER make the MTA bounce; EX_TEMPFAIL makes it keep and retry. */
static const struct {
	int rc;
	int ex;
	const char *why;
} deliver_codes[] = {
	{ STORE_OK, EX_OK, "delivered" },
	{ STORE_INUSE, EX_TEMPFAIL, "mailbox locked by another process" },
	{ STORE_NOSPACE, EX_TEMPFAIL, "no space left on the mail file system" },
	{ STORE_QUOTA, EX_TEMPFAIL, "mailbox over quota" },
	{ STORE_TOOBIG, EX_DATAERR, "message larger than max_message" },
	{ STORE_BADMSG, EX_DATAERR, "empty message" },
	{ STORE_ERR, EX_TEMPFAIL, "I/O error" },
};

/* One line on stderr for the MTA's bounce or log, and one in our log. */
static int
deliver_fail(const struct config *cfg, int ex, const char *user, const char *why)
{
	if (!cfg->log_stderr) {
		fprintf(stderr, "mailnook deliver: %s: %s\n", user, why);
	}
	log_warnx("deliver failed user=%s: %s", user, why);
	return ex;
}

/* Room left under the user's quota; UINT64_MAX when unlimited. -1 on error. */
static int
deliver_quota_left(const struct config *cfg, const struct auth_user *au, uint64_t *left)
{
	uint64_t used;

	*left = UINT64_MAX;
	if (au->quota == 0) {
		return 0;
	}
	if (store_usage(cfg, au->name, &used) != STORE_OK) {
		return -1;
	}
	*left = used >= au->quota ? 0 : au->quota - used;
	return 0;
}

static int
deliver_run(const struct config *cfg, const char *user, const char *sender)
{
	struct auth_user au;
	struct store_append_info ai = {
		.sender = sender, .date = -1, .lock_timeout_ms = (int)cfg->lock_timeout * 1000
	};
	char mbox[PATH_LEN], side[PATH_LEN];
	uint64_t left;
	size_t i;
	int rc;

	rc = name_user_valid(user) ? auth_lookup(cfg, user, &au) : AUTH_FAIL;
	if (rc == AUTH_FAIL) {
		return deliver_fail(cfg, EX_NOUSER, user, "no such user");
	}
	if (rc != AUTH_OK) {
		return deliver_fail(cfg, EX_TEMPFAIL, user, "cannot read the passwd file");
	}
	if (store_paths(cfg, user, "INBOX", mbox, sizeof(mbox), side, sizeof(side)) != 0) {
		return deliver_fail(cfg, EX_TEMPFAIL, user, "mailbox path too long");
	}
	if (deliver_quota_left(cfg, &au, &left) != 0) {
		return deliver_fail(cfg, EX_TEMPFAIL, user, "cannot measure quota use");
	}
	rc = store_append_fd(mbox, STDIN_FILENO, &ai, cfg->max_message, left);
	for (i = 0; i < sizeof(deliver_codes) / sizeof(deliver_codes[0]); i++) {
		if (deliver_codes[i].rc == rc) {
			break;
		}
	}
	if (i == sizeof(deliver_codes) / sizeof(deliver_codes[0])) {
		return deliver_fail(cfg, EX_TEMPFAIL, user, "internal error");
	}
	if (rc != STORE_OK) {
		return deliver_fail(cfg, deliver_codes[i].ex, user, deliver_codes[i].why);
	}
	log_info("deliver user=%s from=%s", user, sender != NULL ? sender : "MAILER-DAEMON");
	return EX_OK;
}

int
cmd_deliver(int argc, char **argv)
{
	struct config cfg;
	const char *sender = NULL;
	int first, c;

	config_from_args(&cfg, argc, argv, &first);
	optind = first;
	while ((c = getopt(argc, argv, "+f:")) != -1) {
		if (c != 'f') {
			optind = argc + 1;
			break;
		}
		sender = optarg;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: mailnook [-c FILE] [-o key=value] deliver [-f SENDER] USER\n");
		return EX_USAGE;
	}
	priv_drop(&cfg);
	return deliver_run(&cfg, argv[optind], sender);
}
