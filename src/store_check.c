/*
 * Checking a folder's side files against its mbox (the check verb's work, inside the
 * store): finish an interrupted compaction, verify the index, rebuild the side files
 * from the mbox (repair), compact. Prints what it finds; never touches the message bytes
 * except through a compaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compact.h"
#include "index.h"
#include "log.h"
#include "side.h"
#include "store.h"
#include "util.h"

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
	struct store_rec m;

	memset(&m, 0, sizeof(m));
	m.uid = s->count + 1;
	m.e = *e;
	return idx_push(s, &m, 0);
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
		const struct mbox_entry *a = &img->ents[i], *b = &scan->ents[i];

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
		const struct mbox_entry *e = &img->ents[i];

		if ((img->msgs[i].flags & STORE_EXPUNGED) == 0 &&
		    e->offset + e->from_len + e->raw_len > end) {
			problem(r, "indexed message in the bytes of an interrupted append",
			    img->msgs[i].uid);
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
	scan.cold = 1;
	rc = idx_load(sfd, &img, 1, &end);
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
	rc = idx_load(fd, &img, 1, &end);
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
