/*
 * The only place where process privileges change. The model:
 *  - serve starts as root, binds its listeners and decodes the TLS key, then calls
 *    priv_drop before accepting anything: no byte from a client is read as root;
 *  - pop3/imap started by inetd, tcpsvd or systemd, and deliver/check, drop right after
 *    reading the config (the key is read before that when the verb needs it);
 *  - passwd and cert keep root: they write files under /etc that root owns;
 *  - all mail and the runtime dir belong to the config's `user`, never to root.
 * Started by an ordinary user, nothing changes: mailnook runs as that user.
 */
#include "priv.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"

/*
 * Create runtime_dir for the run user when missing (/var/run is RAM on OpenWrt). Only
 * the last level: a missing parent is a typo we should not build a tree for.
 */
static void
priv_runtime_dir(const struct config *cfg, uid_t uid, gid_t gid)
{
	struct stat st;

	if (stat(cfg->runtime_dir, &st) == 0) {
		return;
	}
	if (mkdir(cfg->runtime_dir, 0750) < 0 || chown(cfg->runtime_dir, uid, gid) < 0) {
		log_warn("cannot create %s", cfg->runtime_dir);
	}
}

void
priv_drop(const struct config *cfg)
{
	struct passwd *pw;
	gid_t gid;
	uid_t uid;

	if (geteuid() != 0) {
		return;
	}
	pw = getpwnam(cfg->run_user);
	if (pw == NULL) {
		fatal(EX_OSERR, "run user '%s' does not exist (config key user)", cfg->run_user);
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0) {
		fatal(EX_OSERR, "refusing to serve mail as root: set user to an unprivileged "
		    "account");
	}
	priv_runtime_dir(cfg, uid, gid);
	if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		fatal(EX_OSERR, "cannot become user %s: %m", cfg->run_user);
	}
	/* Irrevocable means irrevocable: getting root back must now fail. */
	if (setuid(0) == 0 || geteuid() != uid || getegid() != gid) {
		fatal(EX_OSERR, "privileges not dropped for user %s", cfg->run_user);
	}
	log_debug("running as %s (uid %ld, gid %ld)", cfg->run_user, (long)uid, (long)gid);
}
