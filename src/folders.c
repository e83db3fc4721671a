/*
 * The folder namespace of one user: folder "A" is the mbox file <root>/<user>/A, its
 * children live in the directory A.sbd beside it (doc/store.md, "Files"), side files
 * mirror the tree under .mailnook/. Runs in the per-connection child after privileges
 * are dropped.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index.h"
#include "log.h"
#include "side.h"
#include "store.h"
#include "util.h"

#define SUBS_NAME	"subscriptions"
/* "from\nto\n" of a RENAME under way: finished at the next login after a crash */
#define RENAME_NAME	"rename"

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

/* Path of the user's side-directory file name. */
static int
side_file(const struct config *cfg, const char *user, const char *name, char *buf, size_t cap)
{
	char rel[64];

	return str_fmt(rel, sizeof(rel), "%s/%s", SIDE_DIR_NAME, name) < 0 ? -1 :
	    user_path(cfg, user, rel, buf, cap);
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

/* ---- files in .mailnook/: subscriptions (one name per line), the rename journal ---- */

/* Read side-directory file name into a malloc'ed NUL-terminated buffer (empty if missing). */
static char *
side_read(const struct config *cfg, const char *user, const char *name, int *missing)
{
	char path[PATH_LEN];
	struct stat st;
	char *buf;
	int fd;
	ssize_t n = 0;

	*missing = 0;
	if (side_file(cfg, user, name, path, sizeof(path)) < 0) {
		return NULL;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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

/* Write text as side-directory file name (temp, fsync, rename). */
static int
side_write(const struct config *cfg, const char *user, const char *name, const char *text,
    size_t n)
{
	char path[PATH_LEN], tmp[PATH_LEN + 8];
	int fd, rc = STORE_ERR;

	if (side_file(cfg, user, name, path, sizeof(path)) < 0 ||
	    str_fmt(tmp, sizeof(tmp), "%s.tmp", path) < 0) {
		return STORE_ERR;
	}
	(void)mkparents(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write_all(fd, text, n) == 0 && fsync(fd) == 0 && rename(tmp, path) == 0) {
			rc = STORE_OK;
		}
		close(fd);
	}
	if (rc != STORE_OK) {
		log_warn("folders: writing %s", path);
		(void)unlink(tmp);
	}
	return rc;
}

/* Is line[0..len) name, or (tree) a name below it? */
static int
line_is(const char *line, size_t len, const char *name, size_t nlen, int tree)
{
	return len >= nlen && memcmp(line, name, nlen) == 0 &&
	    (len == nlen || (tree && line[nlen] == '/'));
}

/*
 * Rewrite the subscription text: lines naming from (and with tree the names below it)
 * get to in place of from, or are dropped when to is NULL; add, if not NULL, is
 * appended. Written only when something changed.
 */
static int
subs_edit(const struct config *cfg, const char *user, const char *text, const char *from,
    int tree, const char *to, const char *add)
{
	size_t flen = from != NULL ? strlen(from) : 0, tlen = to != NULL ? strlen(to) : 0;
	size_t cap = strlen(text) + (add != NULL ? strlen(add) : 0) + 2, o = 0;
	const char *p = text;
	char *out;
	int changed = add != NULL, rc;

	for (; *p != '\0'; p++) {
		cap += *p == '\n' ? tlen : 0;	/* each line may grow by to */
	}
	cap += tlen;
	if ((out = malloc(cap)) == NULL) {
		return STORE_ERR;
	}
	for (p = text; *p != '\0';) {
		size_t len = strcspn(p, "\n"), keep = 0;
		int hit = from != NULL && line_is(p, len, from, flen, tree);

		if (hit && to != NULL) {
			memcpy(out + o, to, tlen);
			o += tlen;
			keep = flen;
		}
		if (len > 0 && (!hit || to != NULL)) {
			memcpy(out + o, p + keep, len - keep);
			o += len - keep;
			out[o++] = '\n';
		}
		changed |= hit;
		p += len + (p[len] == '\n');
	}
	if (add != NULL) {
		memcpy(out + o, add, strlen(add));
		o += strlen(add);
		out[o++] = '\n';
	}
	rc = changed ? side_write(cfg, user, SUBS_NAME, out, o) : STORE_OK;
	free(out);
	return rc;
}

int
folders_subscribe(const struct config *cfg, const char *user, const char *name, int on)
{
	int missing, rc = STORE_OK;
	char *text = side_read(cfg, user, SUBS_NAME, &missing);

	if (text == NULL) {
		return STORE_ERR;
	}
	if (subs_has(text, name) != on) {
		rc = subs_edit(cfg, user, text, on ? NULL : name, 0, NULL, on ? name : NULL);
	}
	free(text);
	return rc;
}

/* ---- create, delete, rename ---- */

/* A folder's place on disk: its mbox, side base, and their children directories. */
struct node {
	char mbox[PATH_LEN], side[PATH_LEN];
	char kids[PATH_LEN], side_kids[PATH_LEN];
	int has_mbox, has_kids, has_side_kids;
};

/*
 * Where name (not INBOX, checked by store_paths) lives and what of it exists.
 * STORE_CANNOT for a name we may not use.
 */
static int
node_get(const struct config *cfg, const char *user, const char *name, struct node *nd)
{
	struct stat st;
	int k, sk;

	if (str_ieq(name, "INBOX") ||
	    store_paths(cfg, user, name, nd->mbox, PATH_LEN, nd->side, PATH_LEN) < 0 ||
	    (k = store_child_dir(nd->mbox, nd->kids, PATH_LEN, 1)) < 0 ||
	    (sk = store_child_dir(nd->side, nd->side_kids, PATH_LEN, 1)) < 0) {
		return STORE_CANNOT;
	}
	nd->has_mbox = lstat(nd->mbox, &st) == 0 && S_ISREG(st.st_mode);
	nd->has_kids = k;
	nd->has_side_kids = sk;
	return STORE_OK;
}

int
folders_create(const struct config *cfg, const char *user, const char *name)
{
	struct node nd;
	char sbd[PATH_LEN];
	int rc, fd;

	if (str_ieq(name, "INBOX")) {
		return STORE_EXISTS;
	}
	if ((rc = node_get(cfg, user, name, &nd)) != STORE_OK) {
		return rc;
	}
	if (nd.has_mbox) {
		return STORE_EXISTS;
	}
	/* A bare parent directory of an older store makes room for the mbox: its children
	 * move, in one rename, to where children live now. */
	if (nd.has_kids && strcmp(nd.kids, nd.mbox) == 0) {
		if (str_fmt(sbd, sizeof(sbd), "%s%s", nd.mbox, CHILD_DIR_EXT) < 0 ||
		    rename(nd.mbox, sbd) < 0) {
			log_warn("folders: moving %s aside", nd.mbox);
			return STORE_ERR;
		}
	}
	if (mkparents(nd.mbox) < 0) {
		return errno == ENOTDIR || errno == EEXIST ? STORE_CANNOT : STORE_ERR;
	}
	fd = open(nd.mbox, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		return errno == EEXIST ? STORE_EXISTS : STORE_ERR;
	}
	close(fd);
	return fsync_parent(nd.mbox) == 0 ? STORE_OK : STORE_ERR;
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

/*
 * RFC 3501 6.3.4: a folder's messages go; with children its name stays as \Noselect.
 * A \Noselect name goes only when it has no children left.
 */
int
folders_delete(const struct config *cfg, const char *user, const char *name)
{
	struct node nd;
	int rc = node_get(cfg, user, name, &nd);

	if (rc != STORE_OK) {
		return rc;
	}
	if (!nd.has_mbox && !nd.has_kids) {
		return STORE_NOFOLDER;
	}
	if (nd.has_mbox) {
		if (unlink(nd.mbox) < 0) {
			log_warn("folders: deleting %s", nd.mbox);
			return STORE_ERR;
		}
		remove_side(nd.side);
	} else if (rmdir(nd.kids) < 0) {
		return errno == ENOTEMPTY || errno == EEXIST ? STORE_HASCHILDREN : STORE_ERR;
	}
	/* an empty children directory goes with the name */
	if (nd.has_mbox && nd.has_kids) {
		(void)rmdir(nd.kids);
	}
	if (nd.has_side_kids) {
		(void)rmdir(nd.side_kids);
	}
	(void)fsync_parent(nd.mbox);
	return STORE_OK;
}

/* rename(from, to) when from exists (a durable step); -1 on a real failure. */
static int
move_if(const char *from, const char *to)
{
	if (rename(from, to) == 0) {
		idx_crash_point();
		return 0;
	}
	if (errno == ENOENT) {
		return 0;
	}
	log_warn("folders: renaming %s", from);
	return -1;
}

/* Move from's side files to to's; missing ones are fine. */
static int
rename_side(const char *from, const char *to)
{
	char a[PATH_LEN], b[PATH_LEN];
	size_t i;

	for (i = 0; i < SIDE_COUNT; i++) {
		if (side_path(a, sizeof(a), from, (enum side_file)i) < 0 ||
		    side_path(b, sizeof(b), to, (enum side_file)i) < 0 || move_if(a, b) < 0) {
			return -1;
		}
	}
	return 0;
}

/*
 * Move what is left of from to to: the mbox, the children directory, the side files,
 * the side children directory, each in one rename, then the subscriptions of the
 * subtree. Every step finds what an earlier, interrupted run already moved gone.
 */
static int
rename_steps(const struct config *cfg, const char *user, const char *from, const char *to)
{
	struct node f, t;
	int missing, rc;
	char *text;

	if (node_get(cfg, user, from, &f) != STORE_OK ||
	    node_get(cfg, user, to, &t) != STORE_OK) {
		return STORE_CANNOT;
	}
	/* a folder made under the new name since an interrupted run is never overwritten */
	if (f.has_mbox && t.has_mbox) {
		return STORE_EXISTS;
	}
	if (mkparents(t.mbox) < 0 || mkparents(t.side) < 0) {
		/* a file where a directory level should be: nothing can go there */
		return errno == ENOTDIR || errno == EEXIST ? STORE_CANNOT : STORE_ERR;
	}
	if ((f.has_mbox && move_if(f.mbox, t.mbox) < 0) ||
	    (f.has_kids && move_if(f.kids, t.kids) < 0) || rename_side(f.side, t.side) < 0 ||
	    (f.has_side_kids && move_if(f.side_kids, t.side_kids) < 0)) {
		return STORE_ERR;
	}
	(void)fsync_parent(t.mbox);
	text = side_read(cfg, user, SUBS_NAME, &missing);
	if (text == NULL) {
		return STORE_ERR;
	}
	rc = subs_edit(cfg, user, text, from, 1, to, NULL);
	free(text);
	return rc;
}

/* Remove the rename journal once its steps are all done. */
static int
journal_done(const struct config *cfg, const char *user)
{
	char path[PATH_LEN];

	if (side_file(cfg, user, RENAME_NAME, path, sizeof(path)) < 0 ||
	    (unlink(path) < 0 && errno != ENOENT)) {
		return STORE_ERR;
	}
	return STORE_OK;
}

int
folders_recover(const struct config *cfg, const char *user)
{
	char from[FOLDER_NAME_MAX], to[FOLDER_NAME_MAX];
	int missing, rc = STORE_CANNOT;
	char *text = side_read(cfg, user, RENAME_NAME, &missing);
	size_t a, b;

	if (text == NULL) {
		return STORE_ERR;
	}
	if (missing) {
		free(text);
		return STORE_OK;
	}
	a = strcspn(text, "\n");
	b = text[a] == '\n' ? strcspn(text + a + 1, "\n") : 0;
	if (a > 0 && b > 0 && a < sizeof(from) && b < sizeof(to) && text[a + 1 + b] == '\n') {
		memcpy(from, text, a);
		from[a] = '\0';
		memcpy(to, text + a + 1, b);
		to[b] = '\0';
		log_info("folders: finishing RENAME %s %s for %s", from, to, user);
		rc = rename_steps(cfg, user, from, to);
	}
	if (rc == STORE_CANNOT || rc == STORE_EXISTS) {
		/* nothing more can be moved: what was moved stays, the rest keeps its name */
		log_warnx("folders: dropping the rename journal of %s (%s)", user,
		    rc == STORE_EXISTS ? "the new name is taken" : "malformed");
		rc = STORE_OK;
	}
	free(text);
	return rc == STORE_OK ? journal_done(cfg, user) : rc;
}

/*
 * A journal naming from and to is written first, so a crash at any step leaves a
 * rename that the next login finishes (folders_recover), never half a subtree.
 */
int
folders_rename(const struct config *cfg, const char *user, const char *from, const char *to)
{
	char line[2 * FOLDER_NAME_MAX + 2];
	struct node f, t;
	size_t flen = strlen(from);
	int rc = folders_recover(cfg, user);

	if (rc == STORE_OK) {
		rc = node_get(cfg, user, from, &f);
	}
	if (rc == STORE_OK) {
		rc = node_get(cfg, user, to, &t);
	}
	if (rc != STORE_OK) {
		return rc;
	}
	if (!f.has_mbox && !f.has_kids) {
		return STORE_NOFOLDER;
	}
	if (t.has_mbox || t.has_kids || access(t.mbox, F_OK) == 0) {
		return STORE_EXISTS;
	}
	/* a folder cannot move under itself */
	if (strncmp(to, from, flen) == 0 && to[flen] == '/') {
		return STORE_CANNOT;
	}
	if (mkparents(t.mbox) < 0 || mkparents(t.side) < 0) {
		return errno == ENOTDIR || errno == EEXIST ? STORE_CANNOT : STORE_ERR;
	}
	rc = str_fmt(line, sizeof(line), "%s\n%s\n", from, to);
	if (rc < 0 || side_write(cfg, user, RENAME_NAME, line, (size_t)rc) != STORE_OK) {
		return STORE_ERR;
	}
	idx_crash_point();
	rc = rename_steps(cfg, user, from, to);
	return rc == STORE_OK ? journal_done(cfg, user) : rc;
}

int
folders_first_login(const struct config *cfg, const char *user)
{
	const char *names[5] = { cfg->folder_sent, cfg->folder_drafts, cfg->folder_trash,
	    cfg->folder_junk, cfg->folder_archive };
	char *text, *out;
	size_t i, o = 0;
	int missing, rc;

	text = side_read(cfg, user, SUBS_NAME, &missing);
	if (text == NULL || !missing) {
		free(text);
		return text == NULL ? STORE_ERR : STORE_OK;
	}
	free(text);
	out = malloc(ARRAY_LEN(names) * NAME_LEN + 8);
	if (out == NULL) {
		return STORE_ERR;
	}
	memcpy(out, "INBOX\n", 6);
	o = 6;
	for (i = 0; i < ARRAY_LEN(names); i++) {
		size_t n = strlen(names[i]);

		if (n == 0) {
			continue;
		}
		rc = folders_create(cfg, user, names[i]);
		if (rc != STORE_OK && rc != STORE_EXISTS) {
			log_warnx("folders: cannot create %s for %s", names[i], user);
			continue;
		}
		memcpy(out + o, names[i], n);
		o += n;
		out[o++] = '\n';
	}
	rc = side_write(cfg, user, SUBS_NAME, out, o);
	free(out);
	return rc;
}

/* ---- listing ---- */

struct listing {
	const struct config *cfg;
	struct folder_ent *v;
	size_t n, cap;
};

static int
listing_add(struct listing *l, const char *name, unsigned attrs)
{
	struct folder_ent *e;

	if (array_grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v), 32, FOLDERS_MAX) < 0) {
		return errno == EFBIG ? STORE_TOOMANY : STORE_ERR;
	}
	e = &l->v[l->n];
	if (str_copy(e->name, sizeof(e->name), name) < 0) {
		return STORE_OK;	/* too long to be named over IMAP: not listed */
	}
	e->attrs = attrs;
	e->special = folders_special(l->cfg, name);
	l->n++;
	return STORE_OK;
}

/*
 * One directory's entries, sorted by name, so that an mbox "A" and its children
 * directory "A.sbd" find each other without a system call per name: d_type says what
 * each entry is (lstat only where the file system does not tell).
 */
struct dir_list {
	char *text;		/* per entry: its kind ('f' file, 'd' directory), name, NUL */
	size_t used, room;
	size_t *off;		/* where each entry starts in text */
	const char **v;		/* the entries, sorted by name */
	size_t n, cap;
};

static void
dir_free(struct dir_list *dl)
{
	free(dl->text);
	free(dl->off);
	free(dl->v);
}

/* What directory entry de of path is: 'f', 'd', or 0 for anything else. */
static char
dir_kind_of(const struct dirent *de, char *path, size_t plen)
{
	struct stat st;
	char kind = 0;

	if (de->d_type == DT_REG || de->d_type == DT_DIR) {
		return de->d_type == DT_REG ? 'f' : 'd';
	}
	if (de->d_type != DT_UNKNOWN ||
	    str_fmt(path + plen, PATH_LEN - plen, "/%s", de->d_name) < 0) {
		return 0;
	}
	if (lstat(path, &st) == 0) {
		kind = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : 0;
	}
	path[plen] = '\0';
	return kind;
}

static int
dir_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a + 1, *(const char *const *)b + 1);
}

/* Read the mail entries of directory path[0..plen) (not dot entries, not dotlocks). */
static int
dir_read(char *path, size_t plen, struct dir_list *dl)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t i;
	int rc = STORE_OK;

	if (d == NULL) {
		return errno == ENOENT ? STORE_OK : STORE_ERR;
	}
	while (rc == STORE_OK && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char kind;

		if (de->d_name[0] == '.' || side_is_dotlock(de->d_name, len) ||
		    (kind = dir_kind_of(de, path, plen)) == 0) {
			continue;
		}
		if (array_grow(&dl->text, &dl->room, dl->used + len + 2, 1, 1024,
		    (size_t)FOLDERS_MAX * FOLDER_NAME_MAX) < 0 ||
		    array_grow(&dl->off, &dl->cap, dl->n + 1, sizeof(*dl->off), 32,
		    FOLDERS_MAX) < 0) {
			rc = errno == EFBIG ? STORE_TOOMANY : STORE_ERR;
			break;
		}
		dl->off[dl->n++] = dl->used;
		dl->text[dl->used] = kind;
		memcpy(dl->text + dl->used + 1, de->d_name, len + 1);
		dl->used += len + 2;
	}
	closedir(d);
	if (rc == STORE_OK && dl->n > 0 &&
	    (dl->v = malloc(dl->n * sizeof(*dl->v))) == NULL) {
		rc = STORE_ERR;
	}
	for (i = 0; rc == STORE_OK && i < dl->n; i++) {
		dl->v[i] = dl->text + dl->off[i];
	}
	if (rc == STORE_OK && dl->n > 0) {
		qsort(dl->v, dl->n, sizeof(*dl->v), dir_cmp);
	}
	return rc;
}

/* The kind of entry name[0..len) + ext in dl, 0 when there is none. */
static char
dir_find(const struct dir_list *dl, const char *name, size_t len, const char *ext)
{
	char key[FOLDER_NAME_MAX + 8];
	size_t lo = 0, hi = dl->n;

	if (str_fmt(key, sizeof(key), "%.*s%s", (int)len, name, ext) < 0) {
		return 0;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, dl->v[mid] + 1);

		if (c == 0) {
			return dl->v[mid][0];
		}
		if (c < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return 0;
}

static int walk(struct listing *l, char *path, size_t plen, const char *prefix, int depth);

/*
 * The children of entry i in directory dir of path[0..plen) (none when dir is NULL);
 * entry i gets \HasChildren or \HasNoChildren.
 */
static int
walk_kids(struct listing *l, size_t i, char *path, size_t plen, const char *dir, int depth)
{
	char sub[FOLDER_NAME_MAX];
	size_t before = l->n;
	int rc = STORE_OK;

	if (dir != NULL && depth < FOLDER_DEPTH_MAX &&
	    str_fmt(sub, sizeof(sub), "%s/", l->v[i].name) >= 0 &&
	    str_fmt(path + plen, PATH_LEN - plen, "/%s", dir) >= 0) {
		rc = walk(l, path, strlen(path), sub, depth);
	}
	path[plen] = '\0';
	l->v[i].attrs |= l->n > before ? FOLDER_HASCHILDREN : FOLDER_HASNOCHILDREN;
	return rc;
}

/*
 * Entry e (kind, name) of directory dl at path[0..plen): an mbox "A" is a folder
 * (children in "A.sbd"); a directory "A.sbd" without "A", or a plain directory "A" of an
 * older store without "A.sbd", is a \Noselect parent.
 */
static int
walk_entry(struct listing *l, const struct dir_list *dl, const char *e, char *path,
    size_t plen, const char *prefix, int depth)
{
	char name[FOLDER_NAME_MAX], kids[FOLDER_NAME_MAX + 8];
	const char *d = e + 1;
	size_t dlen = strlen(d), i = l->n;
	int sbd = store_is_child_dir(d, dlen), rc;
	size_t blen = sbd ? dlen - strlen(CHILD_DIR_EXT) : dlen;

	if (str_fmt(name, sizeof(name), "%s%.*s", prefix, (int)blen, d) < 0 ||
	    (depth == 0 && str_ieq(name, "INBOX")) || (e[0] == 'f' && sbd) ||
	    (e[0] == 'd' && sbd && dir_find(dl, d, blen, "") == 'f') ||
	    (e[0] == 'd' && !sbd && dir_find(dl, d, dlen, CHILD_DIR_EXT) == 'd')) {
		return STORE_OK;	/* INBOX (listed first), listed with its mbox, shadowed */
	}
	rc = listing_add(l, name, e[0] == 'f' ? 0 : FOLDER_NOSELECT);
	if (rc != STORE_OK || l->n == i) {
		return rc;
	}
	if (e[0] == 'd') {
		return walk_kids(l, i, path, plen, d, depth + 1);
	}
	return walk_kids(l, i, path, plen, dir_find(dl, d, dlen, CHILD_DIR_EXT) == 'd' &&
	    str_fmt(kids, sizeof(kids), "%s%s", d, CHILD_DIR_EXT) >= 0 ? kids : NULL, depth + 1);
}

/* The folders in directory path[0..plen), named prefix + entry; at the top, INBOX's. */
static int
walk(struct listing *l, char *path, size_t plen, const char *prefix, int depth)
{
	struct dir_list dl;
	size_t i;
	int rc;

	memset(&dl, 0, sizeof(dl));
	rc = dir_read(path, plen, &dl);
	if (rc == STORE_OK && depth == 0) {
		/* INBOX's children are in <user>/INBOX.sbd wherever the INBOX mbox is */
		rc = walk_kids(l, 0, path, plen, dir_find(&dl, "INBOX", 5, CHILD_DIR_EXT) ==
		    'd' ? "INBOX" CHILD_DIR_EXT : NULL, 1);
	}
	for (i = 0; rc == STORE_OK && i < dl.n; i++) {
		rc = walk_entry(l, &dl, dl.v[i], path, plen, prefix, depth);
	}
	dir_free(&dl);
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
	int missing, rc = STORE_OK;
	char *text = side_read(l->cfg, user, SUBS_NAME, &missing);
	const char *p;

	if (text == NULL) {
		return STORE_ERR;
	}
	for (p = text; *p != '\0' && rc == STORE_OK;) {
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
				rc = listing_add(l, name, FOLDER_SUBSCRIBED | FOLDER_NONEXISTENT);
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
	rc = listing_add(&l, "INBOX", 0);
	if (rc == STORE_OK && user_path(cfg, user, "", path, sizeof(path)) < 0) {
		rc = STORE_ERR;
	}
	if (rc == STORE_OK) {
		rc = walk(&l, path, strlen(path), "", 0);
	}
	if (rc == STORE_OK) {
		qsort(l.v + 1, l.n - 1, sizeof(*l.v), ent_cmp);
		rc = mark_subscribed(&l, user);
	}
	if (rc != STORE_OK) {
		free(l.v);
		return rc;
	}
	*out = l.v;
	*n = l.n;
	return STORE_OK;
}
