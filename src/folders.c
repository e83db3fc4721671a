/*
 * The folder namespace of one user: folders are mbox files under <root>/<user>/, a '/'
 * in a name is a directory level, side files mirror the tree under .mailnook/. Runs in
 * the per-connection child after privileges are dropped.
 */
#include "folders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "side.h"
#include "store.h"
#include "util.h"

#define SUBS_NAME	"subscriptions"

/* ---- paths ---- */

static int
user_path(const struct config *cfg, const char *user, const char *rel, char *buf, size_t cap)
{
	char dir[PATH_LEN];

	if (config_user_dir(cfg, user, dir, sizeof(dir)) < 0) {
		return -1;
	}
	return str_fmt(buf, cap, "%s%s%s", dir, rel[0] != '\0' ? "/" : "", rel) < 0 ? -1 : 0;
}

static int
subs_path(const struct config *cfg, const char *user, char *buf, size_t cap)
{
	return user_path(cfg, user, SIDE_DIR_NAME "/" SUBS_NAME, buf, cap);
}

/* Make the directories above path. */
static int
mkparents(const char *path)
{
	char dir[PATH_LEN];
	char *slash;

	if (str_copy(dir, sizeof(dir), path) < 0 || (slash = strrchr(dir, '/')) == NULL) {
		return -1;
	}
	*slash = '\0';
	return mkdir_p(dir, 0700);
}

/* A reserved component: our dotlocks, and names that would hide among side files. */
static int
name_reserved(const char *name)
{
	const char *p = name;

	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (p[0] == '.' || side_is_dotlock(p, n)) {
			return 1;
		}
		p += n + (p[n] == '/');
	}
	return 0;
}

const char *
folders_special(const struct config *cfg, const char *name)
{
	const struct {
		const char *conf;
		const char *attr;
	} sp[] = {
		{ cfg->folder_sent, "\\Sent" }, { cfg->folder_drafts, "\\Drafts" },
		{ cfg->folder_trash, "\\Trash" }, { cfg->folder_junk, "\\Junk" },
		{ cfg->folder_archive, "\\Archive" },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(sp); i++) {
		if (sp[i].conf[0] != '\0' && strcmp(sp[i].conf, name) == 0) {
			return sp[i].attr;
		}
	}
	return NULL;
}

int
folders_exists(const struct config *cfg, const char *user, const char *name)
{
	char mbox[PATH_LEN], side[PATH_LEN];
	struct stat st;

	return store_paths(cfg, user, name, mbox, sizeof(mbox), side, sizeof(side)) == 0 &&
	    stat(mbox, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- subscriptions: one name per line in .mailnook/subscriptions ---- */

/* Read the subscription file into a malloc'ed NUL-terminated buffer (empty if missing). */
static char *
subs_read(const struct config *cfg, const char *user, int *missing)
{
	char path[PATH_LEN];
	struct stat st;
	char *buf;
	int fd;
	ssize_t n = 0;

	*missing = 0;
	if (subs_path(cfg, user, path, sizeof(path)) < 0) {
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		*missing = 1;
		return calloc(1, 1);
	}
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > FOLDERS_MAX * FOLDER_NAME_MAX) {
		if (fd >= 0) {
			close(fd);
		}
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf != NULL && (n = read_full(fd, buf, (size_t)st.st_size)) < 0) {
		free(buf);
		buf = NULL;
	}
	if (buf != NULL) {
		buf[n] = '\0';
	}
	close(fd);
	return buf;
}

/* Is name a line of the subscription text? */
static int
subs_has(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p = text;

	while (*p != '\0') {
		size_t len = strcspn(p, "\n");

		if (len == n && memcmp(p, name, n) == 0) {
			return 1;
		}
		p += len + (p[len] == '\n');
	}
	return 0;
}

/* Write text as the new subscription file (temp, fsync, rename). */
static int
subs_write(const struct config *cfg, const char *user, const char *text, size_t n)
{
	char path[PATH_LEN], tmp[PATH_LEN + 8];
	int fd, rc = FOLDERS_ERR;

	if (subs_path(cfg, user, path, sizeof(path)) < 0 ||
	    str_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0) {
		return FOLDERS_ERR;
	}
	(void)mkparents(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write_all(fd, text, n) == 0 && fsync(fd) == 0 && rename(tmp, path) == 0) {
			rc = FOLDERS_OK;
		}
		close(fd);
	}
	if (rc != FOLDERS_OK) {
		log_warn("folders: writing %s", path);
		(void)unlink(tmp);
	}
	return rc;
}

/* The subscription text with name added or removed; written only when it changes. */
static int
subs_change(const struct config *cfg, const char *user, const char *text, const char *name,
    int on)
{
	size_t tlen = strlen(text), nlen = strlen(name), o = 0;
	const char *p = text;
	char *out;
	int rc;

	if (subs_has(text, name) == on) {
		return FOLDERS_OK;
	}
	out = malloc(tlen + nlen + 2);
	if (out == NULL) {
		return FOLDERS_ERR;
	}
	while (*p != '\0') {
		size_t len = strcspn(p, "\n");

		if (len > 0 && !(len == nlen && memcmp(p, name, nlen) == 0)) {
			memcpy(out + o, p, len);
			o += len;
			out[o++] = '\n';
		}
		p += len + (p[len] == '\n');
	}
	if (on) {
		memcpy(out + o, name, nlen);
		o += nlen;
		out[o++] = '\n';
	}
	rc = subs_write(cfg, user, out, o);
	free(out);
	return rc;
}

int
folders_subscribe(const struct config *cfg, const char *user, const char *name, int on)
{
	int missing, rc;
	char *text = subs_read(cfg, user, &missing);

	if (text == NULL) {
		return FOLDERS_ERR;
	}
	rc = subs_change(cfg, user, text, str_ieq(name, "INBOX") ? "INBOX" : name, on);
	free(text);
	return rc;
}

/* ---- create, delete, rename ---- */

/* Paths of name, which must not be INBOX and must be free of reserved parts. */
static int
name_paths(const struct config *cfg, const char *user, const char *name, char *mbox,
    char *side)
{
	if (str_ieq(name, "INBOX") || name_reserved(name)) {
		return FOLDERS_CANNOT;
	}
	if (store_paths(cfg, user, name, mbox, PATH_LEN, side, PATH_LEN) < 0) {
		return FOLDERS_CANNOT;
	}
	return FOLDERS_OK;
}

int
folders_create(const struct config *cfg, const char *user, const char *name)
{
	char buf[FOLDER_NAME_MAX], mbox[PATH_LEN], side[PATH_LEN];
	size_t n = strlen(name);
	int parent_only = n > 0 && name[n - 1] == '/';
	int rc, fd;

	if (str_copy(buf, sizeof(buf), name) < 0) {
		return FOLDERS_CANNOT;
	}
	if (parent_only) {
		buf[n - 1] = '\0';
	}
	if (str_ieq(buf, "INBOX")) {
		return FOLDERS_EXISTS;
	}
	rc = name_paths(cfg, user, buf, mbox, side);
	if (rc != FOLDERS_OK) {
		return rc;
	}
	if (access(mbox, F_OK) == 0) {
		return FOLDERS_EXISTS;
	}
	if (mkparents(mbox) < 0) {
		/* a path part is an mbox: mbox files cannot hold children */
		return errno == ENOTDIR || errno == EEXIST ? FOLDERS_CANNOT : FOLDERS_ERR;
	}
	if (parent_only) {
		return mkdir(mbox, 0700) == 0 ? FOLDERS_OK : errno == ENOTDIR ? FOLDERS_CANNOT :
		    FOLDERS_ERR;
	}
	fd = open(mbox, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		/* ENOTDIR: a level above is an mbox file, which cannot hold children */
		return errno == EEXIST ? FOLDERS_EXISTS : errno == ENOTDIR ? FOLDERS_CANNOT :
		    FOLDERS_ERR;
	}
	close(fd);
	return fsync_parent(mbox) == 0 ? FOLDERS_OK : FOLDERS_ERR;
}

static void
remove_side(const char *side)
{
	char path[PATH_LEN];
	int i;

	for (i = 0; i < SIDE_COUNT; i++) {
		if (side_path(path, sizeof(path), side, (enum side_file)i) == 0) {
			(void)unlink(path);
		}
	}
}

int
folders_delete(const struct config *cfg, const char *user, const char *name)
{
	char mbox[PATH_LEN], side[PATH_LEN];
	struct stat st;
	int rc = name_paths(cfg, user, name, mbox, side);

	if (rc != FOLDERS_OK) {
		return rc;
	}
	if (lstat(mbox, &st) < 0) {
		return errno == ENOENT ? FOLDERS_NONEXISTENT : FOLDERS_ERR;
	}
	if (S_ISDIR(st.st_mode)) {
		if (rmdir(mbox) < 0) {
			return errno == ENOTEMPTY || errno == EEXIST ? FOLDERS_HASCHILDREN :
			    FOLDERS_ERR;
		}
		(void)rmdir(side);
		return FOLDERS_OK;
	}
	if (unlink(mbox) < 0) {
		return FOLDERS_ERR;
	}
	remove_side(side);
	(void)fsync_parent(mbox);
	return FOLDERS_OK;
}

/* Move from's side files (or side directory) to to's; missing ones are fine. */
static void
rename_side(const char *from, const char *to, int dir)
{
	char a[PATH_LEN], b[PATH_LEN];
	size_t i;

	if (mkparents(to) < 0) {
		return;
	}
	if (dir) {
		(void)rename(from, to);
		return;
	}
	for (i = 0; i < SIDE_COUNT; i++) {
		if (side_path(a, sizeof(a), from, (enum side_file)i) == 0 &&
		    side_path(b, sizeof(b), to, (enum side_file)i) == 0) {
			(void)rename(a, b);
		}
	}
}

int
folders_rename(const struct config *cfg, const char *user, const char *from, const char *to)
{
	char fm[PATH_LEN], fs[PATH_LEN], tm[PATH_LEN], ts[PATH_LEN];
	struct stat st;
	int rc = name_paths(cfg, user, from, fm, fs);

	if (rc == FOLDERS_OK) {
		rc = name_paths(cfg, user, to, tm, ts);
	}
	if (rc != FOLDERS_OK) {
		return rc;
	}
	if (lstat(fm, &st) < 0) {
		return errno == ENOENT ? FOLDERS_NONEXISTENT : FOLDERS_ERR;
	}
	if (access(tm, F_OK) == 0) {
		return FOLDERS_EXISTS;
	}
	/* a folder cannot move under itself */
	if (strncmp(to, from, strlen(from)) == 0 && to[strlen(from)] == '/') {
		return FOLDERS_CANNOT;
	}
	if (mkparents(tm) < 0) {
		return errno == ENOTDIR ? FOLDERS_CANNOT : FOLDERS_ERR;
	}
	if (rename(fm, tm) < 0) {
		return FOLDERS_ERR;
	}
	rename_side(fs, ts, S_ISDIR(st.st_mode));
	(void)fsync_parent(tm);
	return FOLDERS_OK;
}

int
folders_first_login(const struct config *cfg, const char *user)
{
	const char *names[5] = { cfg->folder_sent, cfg->folder_drafts, cfg->folder_trash,
	    cfg->folder_junk, cfg->folder_archive };
	char *text, *out;
	size_t i, o = 0;
	int missing, rc;

	text = subs_read(cfg, user, &missing);
	if (text == NULL || !missing) {
		free(text);
		return text == NULL ? FOLDERS_ERR : FOLDERS_OK;
	}
	free(text);
	out = malloc(ARRAY_LEN(names) * NAME_LEN + 8);
	if (out == NULL) {
		return FOLDERS_ERR;
	}
	memcpy(out, "INBOX\n", 6);
	o = 6;
	for (i = 0; i < ARRAY_LEN(names); i++) {
		size_t n = strlen(names[i]);

		if (n == 0) {
			continue;
		}
		rc = folders_create(cfg, user, names[i]);
		if (rc != FOLDERS_OK && rc != FOLDERS_EXISTS) {
			log_warnx("folders: cannot create %s for %s", names[i], user);
			continue;
		}
		memcpy(out + o, names[i], n);
		o += n;
		out[o++] = '\n';
	}
	rc = subs_write(cfg, user, out, o);
	free(out);
	return rc;
}

/* ---- listing ---- */

struct listing {
	const struct config *cfg;
	struct folder_ent *v;
	size_t n, cap;
	int skip_inbox_file;	/* <user>/INBOX is the INBOX mbox, not a folder */
};

static int
listing_add(struct listing *l, const char *name, unsigned attrs)
{
	struct folder_ent *e;

	if (array_grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v), 32, FOLDERS_MAX) < 0) {
		return errno == EFBIG ? FOLDERS_TOOMANY : FOLDERS_ERR;
	}
	e = &l->v[l->n];
	if (str_copy(e->name, sizeof(e->name), name) < 0) {
		return FOLDERS_OK;	/* too long to be named over IMAP: not listed */
	}
	e->attrs = attrs;
	e->special = folders_special(l->cfg, name);
	l->n++;
	return FOLDERS_OK;
}

static int walk(struct listing *l, char *path, size_t plen, const char *prefix, int depth);

/* One directory entry at path[0..plen) + "/" + d (name prefix + d). */
static int
walk_entry(struct listing *l, char *path, size_t plen, const char *prefix, const char *d,
    int depth)
{
	char name[FOLDER_NAME_MAX];
	struct stat st;
	size_t dl = strlen(d);
	int rc;

	if (d[0] == '.' || side_is_dotlock(d, dl) ||
	    (depth == 0 && str_ieq(d, "INBOX")) || plen + 1 + dl >= PATH_LEN ||
	    str_fmt(name, sizeof(name), "%s%s", prefix, d) < 0) {
		return FOLDERS_OK;
	}
	path[plen] = '/';
	memcpy(path + plen + 1, d, dl + 1);
	if (lstat(path, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
		path[plen] = '\0';
		return FOLDERS_OK;
	}
	if (S_ISREG(st.st_mode)) {
		path[plen] = '\0';
		return listing_add(l, name, FOLDER_HASNOCHILDREN);
	}
	{
		size_t before = l->n;
		char sub[FOLDER_NAME_MAX];

		rc = listing_add(l, name, FOLDER_NOSELECT);
		if (rc == FOLDERS_OK && depth + 1 < FOLDER_DEPTH_MAX &&
		    str_fmt(sub, sizeof(sub), "%s/", name) >= 0) {
			rc = walk(l, path, plen + 1 + dl, sub, depth + 1);
		}
		if (rc == FOLDERS_OK && l->n > before) {
			l->v[before].attrs |= l->n > before + 1 ? FOLDER_HASCHILDREN :
			    FOLDER_HASNOCHILDREN;
		}
	}
	path[plen] = '\0';
	return rc;
}

static int
walk(struct listing *l, char *path, size_t plen, const char *prefix, int depth)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int rc = FOLDERS_OK;

	if (d == NULL) {
		return errno == ENOENT ? FOLDERS_OK : FOLDERS_ERR;
	}
	while (rc == FOLDERS_OK && (de = readdir(d)) != NULL) {
		rc = walk_entry(l, path, plen, prefix, de->d_name, depth);
	}
	closedir(d);
	return rc;
}

static int
ent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folder_ent *)a)->name, ((const struct folder_ent *)b)->name);
}

static struct folder_ent *
listing_find(struct listing *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i].name, name) == 0 ||
		    (i == 0 && str_ieq(name, "INBOX"))) {
			return &l->v[i];
		}
	}
	return NULL;
}

/* Mark subscribed names; add the subscribed ones that are gone as \NonExistent. */
static int
mark_subscribed(struct listing *l, const char *user)
{
	int missing, rc = FOLDERS_OK;
	char *text = subs_read(l->cfg, user, &missing);
	const char *p;

	if (text == NULL) {
		return FOLDERS_ERR;
	}
	for (p = text; *p != '\0' && rc == FOLDERS_OK;) {
		char name[FOLDER_NAME_MAX];
		size_t len = strcspn(p, "\n");
		struct folder_ent *e;

		if (len > 0 && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			e = listing_find(l, name);
			if (e != NULL) {
				e->attrs |= FOLDER_SUBSCRIBED;
			} else {
				rc = listing_add(l, name, FOLDER_SUBSCRIBED | FOLDER_NONEXISTENT |
				    FOLDER_NOSELECT);
			}
		}
		p += len + (p[len] == '\n');
	}
	free(text);
	return rc;
}

int
folders_list(const struct config *cfg, const char *user, struct folder_ent **out, size_t *n)
{
	struct listing l;
	char path[PATH_LEN];
	int rc;

	memset(&l, 0, sizeof(l));
	l.cfg = cfg;
	rc = listing_add(&l, "INBOX", FOLDER_HASNOCHILDREN);
	if (rc == FOLDERS_OK && user_path(cfg, user, "", path, sizeof(path)) < 0) {
		rc = FOLDERS_ERR;
	}
	if (rc == FOLDERS_OK) {
		rc = walk(&l, path, strlen(path), "", 0);
	}
	if (rc == FOLDERS_OK) {
		qsort(l.v + 1, l.n - 1, sizeof(*l.v), ent_cmp);
		rc = mark_subscribed(&l, user);
	}
	if (rc != FOLDERS_OK) {
		free(l.v);
		return rc;
	}
	*out = l.v;
	*n = l.n;
	return FOLDERS_OK;
}
