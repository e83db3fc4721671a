/*
 * The check verb: verify a folder's side files against its mbox, finish an interrupted
 * compaction, rebuild the side files from the mbox (--repair), compact (--compact).
 * Started as root or the mail user; drops privileges before touching any file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "compact.h"
#include "config.h"
#include "index.h"
#include "log.h"
#include "priv.h"
#include "side.h"
#include "store.h"
#include "util.h"
#include "verbs.h"

/* What verification found. */
struct report {
	FILE *out;
	unsigned problems;
	int stale;	/* no index yet, or mail not yet indexed */
};

static void
problem(struct report *r, const char *what, uint32_t uid)
{
	r->problems++;
	if (uid != 0) {
		fprintf(r->out, "problem: %s (uid %u)\n", what, uid);
	} else {
		fprintf(r->out, "problem: %s\n", what);
	}
}

/* Does another open file description hold a lock on path that type would conflict with? */
static int
lock_held(const char *path, short type)
{
	struct flock fl;
	int fd = open(path, O_RDONLY | O_CLOEXEC), held;

	if (fd < 0) {
		return 0;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	held = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return held;
}

/*
 * With the journal there, is a compaction running right now? A live compactor (or one
 * finishing a crashed compaction) holds the state lock on <side>.idx and the mbox write
 * lock until the journal is gone; a crashed one holds neither. Sessions still open only
 * share .ses meanwhile, so .ses says nothing.
 */
static int
compaction_running(const char *mbox, const char *side)
{
	char idx[PATH_LEN];

	return side_path(idx, sizeof(idx), side, SIDE_IDX) == 0 && lock_held(idx, F_WRLCK) &&
	    lock_held(mbox, F_RDLCK);
}

/* Open the folder once so that store_open finishes a compaction a crash interrupted. */
static int
finish_journal(const char *mbox, const char *side, struct report *r)
{
	struct store_folder f;
	char jnl[PATH_LEN];
	int rc;

	if (side_path(jnl, sizeof(jnl), side, SIDE_JNL) < 0 || access(jnl, F_OK) != 0) {
		return STORE_OK;
	}
	if (compaction_running(mbox, side)) {
		fprintf(r->out, "compaction in progress\n");
		return STORE_INUSE;
	}
	problem(r, "interrupted compaction: finishing it from the journal", 0);
	rc = store_open(&f, mbox, side, STORE_RDONLY);
	if (rc == STORE_OK) {
		store_close(&f);
	}
	return rc;
}

static int
scan_cb(void *ctx, const struct mbox_entry *e)
{
	struct idx_set *s = ctx;
	struct store_msg m;

	memset(&m, 0, sizeof(m));
	m.uid = s->count + 1;
	m.e = *e;
	return idx_push(s, &m);
}

/* Compare the indexed records with a fresh scan of the mbox, message by message. */
static void
compare(const struct idx_set *img, const struct idx_set *scan, struct report *r)
{
	uint32_t i;

	if (img->count != scan->count) {
		fprintf(r->out, "index has %u records, mbox has %u messages\n",
		    img->count, scan->count);
		problem(r, "message count differs", 0);
	}
	for (i = 0; i < img->count && i < scan->count; i++) {
		const struct mbox_entry *a = &img->msgs[i].e, *b = &scan->msgs[i].e;

		if (a->offset != b->offset || a->from_len != b->from_len ||
		    a->raw_len != b->raw_len || a->wire_size != b->wire_size ||
		    a->fingerprint != b->fingerprint) {
			problem(r, "record does not match the mbox", img->msgs[i].uid);
		}
		if (i > 0 && img->msgs[i].uid <= img->msgs[i - 1].uid) {
			problem(r, "uids not ascending", img->msgs[i].uid);
		}
	}
	if (img->count > 0 && img->uidnext <= img->msgs[img->count - 1].uid) {
		problem(r, "uidnext not above the last uid", 0);
	}
}

/*
 * A dotlock of ours left by a dead writer names where its append began: the next writer
 * cuts the bytes past it (lock.c, rule 7). No indexed message may lie there.
 */
static void
dead_writer(const char *mbox, const struct idx_set *img, struct report *r)
{
	uint64_t end;
	uint32_t i;

	if (!lock_dead_end(mbox, &end) || end >= img->ms.size) {
		return;
	}
	fprintf(r->out, "interrupted append: the bytes past offset %llu go at the next write\n",
	    (unsigned long long)end);
	for (i = 0; i < img->count; i++) {
		const struct store_msg *m = &img->msgs[i];

		if ((m->flags & STORE_EXPUNGED) == 0 &&
		    m->e.offset + m->e.from_len + m->e.raw_len > end) {
			problem(r, "indexed message in the bytes of an interrupted append", m->uid);
		}
	}
}

static void
summary(const struct idx_set *img, struct report *r)
{
	uint32_t i, expunged = 0;

	for (i = 0; i < img->count; i++) {
		expunged += (img->msgs[i].flags & STORE_EXPUNGED) != 0;
	}
	fprintf(r->out, "messages: %u (expunged, awaiting compaction: %u)\n",
	    img->count - expunged, expunged);
	fprintf(r->out, "uidvalidity: %u\nuidnext: %u\ngeneration: %llu\n", img->uidvalidity,
	    img->uidnext, (unsigned long long)img->generation);
	fprintf(r->out, "mbox bytes: %llu\ndead bytes: %llu\n",
	    (unsigned long long)img->ms.size, (unsigned long long)compact_dead(img));
}

/* Load the state file read-only and compare it with the mbox under both read locks. */
static int
verify_locked(const char *mbox, int sfd, int mfd, struct report *r)
{
	struct idx_set img, scan;
	struct store_mboxstat now;
	struct mbox_scan_stats st;
	struct stat sst;
	uint64_t end;
	int rc;

	memset(&img, 0, sizeof(img));
	memset(&scan, 0, sizeof(scan));
	rc = idx_load(sfd, &img, &end);
	if (rc == IDX_EMPTY) {
		fprintf(r->out, "index: empty\n");
		r->stale = 1;
	} else if (rc == IDX_SALVAGED) {
		problem(r, img.uidvalidity != 0 ? "index damaged: records salvaged, identity kept" :
		    "index damaged: records salvaged, header lost (a new uidvalidity on repair)", 0);
		summary(&img, r);
	} else if (rc == IDX_LOADED) {
		if (fstat(sfd, &sst) == 0 && end < (uint64_t)sst.st_size) {
			problem(r, "torn change record at the end of the index", 0);
		}
		summary(&img, r);
		if (idx_mbox_stat(mfd, &now) < 0) {
			rc = -1;
		} else if (now.size != img.ms.size || now.ino != img.ms.ino ||
		    now.tail_crc != img.ms.tail_crc) {
			fprintf(r->out, "mbox changed since indexed (%llu bytes now)\n",
			    (unsigned long long)now.size);
			r->stale = 1;
		} else if (mbox_scan(mfd, 0, now.size, img.mboxrd, scan_cb, &scan, &st) != 0) {
			rc = -1;
		} else {
			compare(&img, &scan, r);
			dead_writer(mbox, &img, r);
		}
	}
	idx_free(&img);
	idx_free(&scan);
	return rc == -1 ? STORE_ERR : STORE_OK;
}

/*
 * No state file. A folder never opened has none yet (deliver does not index): the
 * first open makes it. One that sessions opened before (their .ses is there) lost it,
 * and with it what only the index knew: say what, as a problem (check --repair, or the
 * next open, indexes the mbox anew).
 */
static void
missing_index(const char *side, struct report *r)
{
	char ses[PATH_LEN];

	r->stale = 1;
	if (side_path(ses, sizeof(ses), side, SIDE_SES) < 0 || access(ses, F_OK) != 0) {
		fprintf(r->out, "index: none yet (never opened)\n");
		return;
	}
	fprintf(r->out, "index: missing, although the folder was opened before. Lost with it:\n"
	    "  flags and keywords of every message (seen, answered, flagged, draft, deleted)\n"
	    "  messages expunged but not yet compacted away: they come back\n"
	    "  the UIDs: the messages are numbered anew under a new UIDVALIDITY, IMAP clients\n"
	    "  download them again (POP3 UIDLs stay: they come from the contents)\n");
	problem(r, "index missing: flags, keywords and pending deletions lost", 0);
}

static int
verify(const char *mbox, const char *side, struct report *r)
{
	char path[PATH_LEN];
	struct mbox_lock l;
	struct flock fl;
	int sfd, mfd, rc;

	if (side_path(path, sizeof(path), side, SIDE_IDX) < 0) {
		return STORE_ERR;
	}
	mfd = open(mbox, O_RDONLY | O_CLOEXEC);
	if (mfd < 0) {
		fprintf(r->out, "problem: cannot open %s: %s\n", mbox, strerror(errno));
		return errno == ENOENT ? STORE_NOFOLDER : STORE_ERR;
	}
	sfd = open(path, O_RDONLY | O_CLOEXEC);
	if (sfd < 0) {
		missing_index(side, r);
		close(mfd);
		return STORE_OK;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	memset(&l, 0, sizeof(l));
	rc = STORE_ERR;
	if (fcntl(sfd, F_OFD_SETLKW, &fl) == 0) {
		rc = lock_mbox(&l, mfd, mbox, MBOX_LOCK_READ, LOCK_TIMEOUT_MS);
		if (rc == 0) {
			rc = verify_locked(mbox, sfd, mfd, r);
			unlock_mbox(&l);
		}
	}
	close(sfd);
	close(mfd);
	return rc;
}

/*
 * Make the next open rescan the whole mbox against the state file: an intact file is
 * rewritten with no mbox state; a damaged one needs nothing (store_open salvages it);
 * an empty or missing one is removed. Caller holds .ses exclusively.
 */
static int
forget_mbox_state(const char *idx)
{
	struct idx_set img;
	uint64_t end;
	int fd = open(idx, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		return errno == ENOENT ? STORE_OK : STORE_ERR;
	}
	memset(&img, 0, sizeof(img));
	rc = idx_load(fd, &img, &end);
	close(fd);
	if (rc == IDX_LOADED) {
		memset(&img.ms, 0, sizeof(img.ms));
		img.generation++;
		rc = idx_write_file(idx, &img) == 0 ? STORE_OK : STORE_ERR;
	} else if (rc == IDX_EMPTY) {
		rc = unlink(idx) == 0 || errno == ENOENT ? STORE_OK : STORE_ERR;
	} else {
		rc = rc == IDX_SALVAGED ? STORE_OK : STORE_ERR;
	}
	idx_free(&img);
	return rc;
}

/*
 * Repair from the mbox while no session has the folder: every message is rescanned and
 * matched with the records that survive by fingerprint (UIDs, flags and expunged state
 * kept); UIDVALIDITY changes only when the file's header and its copy are both lost.
 */
static int
rebuild(const char *mbox, const char *side, struct report *r)
{
	struct store_folder f;
	char ses[PATH_LEN], idx[PATH_LEN];
	int fd, rc;

	if (side_path(ses, sizeof(ses), side, SIDE_SES) < 0 ||
	    side_path(idx, sizeof(idx), side, SIDE_IDX) < 0) {
		return STORE_ERR;
	}
	fd = open(ses, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		return STORE_ERR;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return STORE_INUSE;
	}
	rc = forget_mbox_state(idx);
	close(fd);
	if (rc == STORE_OK) {
		rc = store_open(&f, mbox, side, STORE_RDWR);
	}
	if (rc == STORE_OK) {
		fprintf(r->out, "rebuilt: %u messages, uidvalidity %u\n", f.count, f.uidvalidity);
		store_close(&f);
	}
	return rc;
}

/* Index what is not indexed yet (a plain open does it), then look again. */
static int
update(const char *mbox, const char *side, struct report *r)
{
	struct store_folder f;
	int rc = store_open(&f, mbox, side, STORE_RDONLY);

	if (rc < 0) {
		return rc;
	}
	store_close(&f);
	fprintf(r->out, "indexed:\n");
	r->stale = 0;
	return verify(mbox, side, r);
}

static int
compact_folder(const char *mbox, const char *side, struct report *r)
{
	struct store_folder f;
	uint64_t before;
	int rc = store_open(&f, mbox, side, STORE_RDWR);

	if (rc < 0) {
		return rc;
	}
	before = f.synced.size;
	rc = store_compact(&f);
	if (rc == STORE_OK) {
		fprintf(r->out, "compacted: %llu -> %llu bytes\n", (unsigned long long)before,
		    (unsigned long long)f.synced.size);
	}
	store_close(&f);
	return rc;
}

int
store_check(const char *mbox, const char *side, int repair, int compact, FILE *out)
{
	struct report r = { out, 0, 0 };
	int rc;

	fprintf(out, "mbox: %s\nside files: %s.*\n", mbox, side);
	rc = finish_journal(mbox, side, &r);
	if (rc == STORE_OK) {
		rc = verify(mbox, side, &r);
	}
	if (rc == STORE_OK && repair && r.problems > 0) {
		rc = rebuild(mbox, side, &r);
	} else if (rc == STORE_OK && r.stale && r.problems == 0) {
		rc = update(mbox, side, &r);
	}
	if (rc == STORE_OK && compact) {
		rc = compact_folder(mbox, side, &r);
	}
	if (rc < 0) {
		fprintf(out, "result: %s\n", store_strerror(rc));
		return rc;
	}
	if (r.problems == 0) {
		fprintf(out, "result: consistent\n");
		return STORE_OK;
	}
	fprintf(out, "result: %u problem(s)%s\n", r.problems, repair ? ", repaired" : "");
	return (int)r.problems;
}

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
