/*
 * Configuration: one small "key value" file plus command-line overrides (-o key=value),
 * validated at start into one read-only struct. Keys are documented in README.md.
 */
#ifndef MAILNOOK_CONFIG_H
#define MAILNOOK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "params.h"

enum proto { PROTO_POP3, PROTO_IMAP };

struct listener_conf {
	char addr[ADDR_LEN];	/* "0.0.0.0", "::", "127.0.0.1" ... */
	uint16_t port;
	enum proto proto;
	int tls;		/* implicit TLS (995/993) */
};

/* Where plaintext (non-TLS) password authentication is allowed. */
enum plain_auth { PLAIN_NEVER, PLAIN_LOOPBACK, PLAIN_ANYWHERE };

struct config {
	char mail_root[PATH_LEN];	/* mail_root: users' folders are <root>/<user>/ */
	/* inbox: "" for <root>/<user>/INBOX, else a path where %u is the user name */
	char inbox[PATH_LEN];
	char passwd_file[PATH_LEN];	/* passwd_file */
	char runtime_dir[PATH_LEN];	/* runtime_dir: failed-login throttle state */
	char run_user[NAME_LEN];	/* user: the unprivileged owner of all mail */
	char hostname[HOST_LEN];	/* hostname: greeting, cert subject; default gethostname() */
	char tls_cert[PATH_LEN];	/* tls_cert: PEM chain, leaf first */
	char tls_key[PATH_LEN];		/* tls_key: PEM private key (RSA or EC) */
	struct listener_conf listen[MAX_LISTENERS];	/* listen ADDR:PORT PROTO [tls] */
	unsigned n_listen;
	unsigned max_children;		/* max_children */
	unsigned max_per_ip;		/* max_per_ip */
	unsigned max_unauth;		/* max_unauth */
	unsigned timeout;		/* timeout: idle autologout after login (s) */
	unsigned preauth_timeout;	/* preauth_timeout (s) */
	unsigned login_delay;		/* login_delay: POP3 LOGIN-DELAY advertised (s), 0 none */
	unsigned lock_timeout;		/* lock_timeout: give up on a busy mbox (s), 0 built-in */
	uint64_t quota;			/* quota: default per-user bytes, 0 unlimited */
	uint64_t max_message;		/* max_message: largest message accepted */
	enum plain_auth plaintext_auth;	/* plaintext_auth never|loopback|anywhere */
	int log_stderr;			/* log stderr|syslog */
	int debug;			/* debug yes|no */
	int foreground;			/* -f on the command line (procd) */
	/* folder_sent ... folder_archive: IMAP special-use folders made at first login */
	char folder_sent[NAME_LEN], folder_drafts[NAME_LEN], folder_trash[NAME_LEN];
	char folder_junk[NAME_LEN], folder_archive[NAME_LEN];
	/* Where this config came from, kept so that serve can re-read it on SIGHUP. */
	const char *file;		/* -c FILE, NULL for DEF_CONFIG_FILE */
	char *overrides[MAX_OVERRIDES];	/* the -o key=value strings (point into argv) */
	int n_overrides;
};

/*
 * Fill cfg with defaults, read path (DEF_CONFIG_FILE when NULL; a missing default file
 * is fine, a missing named one is an error), then apply overrides ("key=value" strings).
 * On error writes a message naming file, line and key to err and returns -1.
 */
int config_load(struct config *cfg, const char *path, char *const *overrides,
    int n_overrides, char *err, size_t errlen);

/*
 * Re-read cfg->file and cfg->overrides into cfg (SIGHUP). Listeners, foreground and
 * the log sink are kept as they are. 0, or -1 with the message in err and cfg unchanged.
 */
int config_reload(struct config *cfg, char *err, size_t errlen);

/*
 * Parse argv options common to every verb: -c FILE, -o key=value (repeatable),
 * -f (foreground), -d (debug to stderr). Loads the config as config_load does and
 * opens the log. main() hands every verb argv as
 *   { VERB, <global options as typed before the verb>, "--", <verb arguments> }
 * so the global options can never be confused with the verb's own (deliver -f SENDER).
 * *optind_out (and getopt's optind) receive the index of the first verb argument;
 * a verb with options of its own continues with getopt(argc, argv, "+...").
 * Prints the error and exits 64 on bad usage or config (so verbs stay short).
 */
void config_from_args(struct config *cfg, int argc, char **argv, int *optind_out);

/* Path of user's INBOX mbox into buf; -1 if it does not fit. */
int config_inbox_path(const struct config *cfg, const char *user, char *buf, size_t cap);
/* Path of user's folder directory (<root>/<user>) into buf; -1 if it does not fit. */
int config_user_dir(const struct config *cfg, const char *user, char *buf, size_t cap);

#endif
