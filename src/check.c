/*
 * The check verb: find the folder a user name or path names, mend an INBOX that older
 * versions turned into a directory, and hand the folder to store_check (store_check.c)
 * to verify, repair (--repair) or compact (--compact). Started as root or the mail user;
 * drops privileges before touching any file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "priv.h"
#include "store.h"
#include "util.h"
#include "verbs.h"

/* The folder name of path rel below a user directory: "A.sbd/B" is folder "A/B". */
static int
folder_of_rel(const char *rel, char *name, size_t cap)
{
	size_t o = 0, xl = strlen(CHILD_DIR_EXT);

	while (*rel != '\0') {
		size_t n = strcspn(rel, "/"), keep = n;

		if (rel[n] == '/' && store_is_child_dir(rel, n)) {
			keep = n - xl;
		}
		if (o + keep + 2 > cap) {
			return -1;
		}
		memcpy(name + o, rel, keep);
		o += keep;
		if (rel[n] == '/') {
			name[o++] = '/';
			n++;
		}
		rel += n;
	}
	name[o] = '\0';
	return 0;
}

/*
 * Side base of an mbox named by path: inside mail_root it is <root>/<user>/<folder path>
 * and gets that folder's side base; elsewhere <dir>/.mailnook/<name>.
 */
static int
side_of_path(const struct config *cfg, const char *path, char *side, size_t cap)
{
	size_t rl = strlen(cfg->mail_root);
	char user[NAME_LEN], mbox[PATH_LEN], name[PATH_LEN];
	const char *rest, *slash, *base;

	if (strncmp(path, cfg->mail_root, rl) == 0 && path[rl] == '/') {
		rest = path + rl + 1;
		slash = strchr(rest, '/');
		if (slash != NULL && (size_t)(slash - rest) < sizeof(user)) {
			memcpy(user, rest, (size_t)(slash - rest));
			user[slash - rest] = '\0';
			return folder_of_rel(slash + 1, name, sizeof(name)) < 0 ? -1 :
			    store_paths(cfg, user, name, mbox, sizeof(mbox), side, cap);
		}
	}
	base = strrchr(path, '/');
	if (base == NULL) {
		return str_fmt(side, cap, "%s/%s", SIDE_DIR_NAME, path) < 0 ? -1 : 0;
	}
	return str_fmt(side, cap, "%.*s/%s/%s", (int)(base - path), path, SIDE_DIR_NAME,
	    base + 1) < 0 ? -1 : 0;
}

/*
 * Before folders could hold mail and children, CREATE INBOX/x on an account that never
 * had mail made the INBOX path a directory, and nothing could deliver to it. Report
 * that; with repair, move the directory to where INBOX's children live now and create
 * an empty INBOX. 0: INBOX is fine, 1: it was not (repaired with repair), -1: repair
 * failed.
 */
static int
inbox_dir(const struct config *cfg, const char *user, const char *mbox, int repair)
{
	char dir[PATH_LEN], kids[PATH_LEN];
	struct stat st;
	int fd;

	if (lstat(mbox, &st) != 0 || !S_ISDIR(st.st_mode)) {
		return 0;
	}
	printf("problem: INBOX %s is a directory (subfolders of an older version)\n", mbox);
	if (!repair) {
		return 1;
	}
	if (config_user_dir(cfg, user, dir, sizeof(dir)) < 0 ||
	    str_fmt(kids, sizeof(kids), "%s/INBOX%s", dir, CHILD_DIR_EXT) < 0) {
		return -1;
	}
	if (rename(mbox, kids) != 0) {
		fprintf(stderr, "mailnook check: cannot move %s to %s: %s (move its entries "
		    "there by hand)\n", mbox, kids, strerror(errno));
		return -1;
	}
	fd = open(mbox, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || close(fd) != 0 || fsync_parent(mbox) != 0) {
		fprintf(stderr, "mailnook check: creating %s: %s\n", mbox, strerror(errno));
		return -1;
	}
	printf("repaired: subfolders moved to %s, empty INBOX created\n", kids);
	return 1;
}

/*
 * Report plain directories that a children directory shadows (both "A" and "A.sbd":
 * only A.sbd is read, see doc/store.md), in the tree at path[0..plen) (a PATH_LEN
 * buffer); depth bounds the walk. The count found.
 */
static unsigned
shadowed_dirs(char *path, size_t plen, int depth)
{
	DIR *d = opendir(path);
	struct dirent *de;
	struct stat st;
	unsigned found = 0;

	if (d == NULL) {
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = plen;

		if (de->d_name[0] == '.' ||
		    str_fmt(path + plen, PATH_LEN - plen, "/%s", de->d_name) < 0 ||
		    lstat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
			path[plen] = '\0';
			continue;
		}
		n = strlen(path);
		if (!store_is_child_dir(path, n) &&
		    str_fmt(path + n, PATH_LEN - n, "%s", CHILD_DIR_EXT) >= 0 &&
		    stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			path[n] = '\0';
			printf("problem: %s is not read: %s%s holds the same folder's children "
			    "(move its entries there)\n", path, path, CHILD_DIR_EXT);
			found++;
		}
		path[n] = '\0';
		if (depth < FOLDER_DEPTH_MAX) {
			found += shadowed_dirs(path, n, depth + 1);
		}
		path[plen] = '\0';
	}
	closedir(d);
	return found;
}

static int
check_usage(void)
{
	fprintf(stderr, "usage: mailnook [-c FILE] check [--repair] [--compact] USER|PATH\n");
	return EX_USAGE;
}

int
cmd_check(int argc, char **argv)
{
	struct config cfg;
	char mbox[PATH_LEN], side[PATH_LEN];
	char udir[PATH_LEN];
	unsigned shadowed;
	int i, repair = 0, compact = 0, rc, dir_rc;

	config_from_args(&cfg, argc, argv, &i);
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--repair") == 0) {
			repair = 1;
		} else if (strcmp(argv[i], "--compact") == 0) {
			compact = 1;
		} else {
			return check_usage();
		}
	}
	if (i != argc - 1) {
		return check_usage();
	}
	priv_drop(&cfg);
	if (strchr(argv[i], '/') != NULL) {
		rc = str_copy(mbox, sizeof(mbox), argv[i]) < 0 ||
		    side_of_path(&cfg, mbox, side, sizeof(side)) < 0 ? -1 : 0;
	} else {
		rc = store_paths(&cfg, argv[i], "INBOX", mbox, sizeof(mbox), side, sizeof(side));
	}
	if (rc < 0) {
		fprintf(stderr, "mailnook check: bad user or path '%s'\n", argv[i]);
		return EX_USAGE;
	}
	dir_rc = 0;
	shadowed = 0;
	if (strchr(argv[i], '/') == NULL) {
		dir_rc = inbox_dir(&cfg, argv[i], mbox, repair);
		if (config_user_dir(&cfg, argv[i], udir, sizeof(udir)) == 0) {
			shadowed = shadowed_dirs(udir, strlen(udir), 0);
		}
	}
	if (dir_rc < 0 || (dir_rc > 0 && !repair)) {
		return 1;
	}
	rc = store_check(mbox, side, repair, compact, stdout);
	if (rc == STORE_INUSE) {
		return EX_TEMPFAIL;
	}
	return rc == STORE_OK && dir_rc == 0 && shadowed == 0 ? 0 : 1;
}
