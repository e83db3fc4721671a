/* Unit tests of store_imap.c and folders.c: keyword tables shared by two sessions,
 * APPEND and COPY returning the right UIDs with flags, keywords and dates kept,
 * \Recent claimed once, STATUS counts; no compaction by another session between an
 * APPEND and its indexing, APPENDs racing expunge+compact cycles; folder create, list, rename, delete, names that
 * cannot be folders, subscriptions and the special-use folders of the first login. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "mbox.h"
#include "store.h"
#include "t.h"
#include "util.h"

static char dir[] = "/tmp/mailnook-storeimap.XXXXXX";
static struct config cfg;

/* A scratch file holding text, positioned at its start. */
static int
msg_fd(const char *text)
{
	char path[300];
	int fd;

	str_fmt(path, sizeof(path), "%s/msgXXXXXX", dir);
	fd = mkstemp(path);
	unlink(path);
	if (fd >= 0 && (write_all(fd, text, strlen(text)) < 0 || lseek(fd, 0, SEEK_SET) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int
paths(const char *folder, char *mbox, char *side)
{
	return store_paths(&cfg, "u", folder, mbox, PATH_LEN, side, PATH_LEN);
}

static void
test_keywords(void)
{
	char mbox[PATH_LEN], side[PATH_LEN];
	struct store_keywords *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	char name[32];
	int i, full = 0;

	paths("INBOX", mbox, side);
	mkdir_p(side, 0700);
	CHECK(store_kw_load(side, a) == 0 && a->n == 0, "no keyword file: empty table");
	CHECK(store_kw_find(side, a, "$Label1", 0) == -1, "lookup without add finds nothing");
	CHECK(store_kw_find(side, a, "$Label1", 1) == 0, "first keyword gets bit 0");
	CHECK(store_kw_refresh(side, b) == 1 && b->n == 1 && store_kw_refresh(side, b) == 0,
	    "an empty table reloads the names on file, once");
	CHECK(store_kw_find(side, b, "$Junk", 1) == 1, "a second session's table sees it and adds bit 1");
	CHECK(store_kw_refresh(side, a) == 1 && a->n == 2 && store_kw_refresh(side, a) == 0 &&
	    store_kw_refresh(side, b) == 0, "a table reloads once when another adds a name");
	CHECK(store_kw_find(side, a, "$junk", 0) == 1, "the first session finds the other's, any case");
	for (i = 2; i < STORE_KW_MAX; i++) {
		str_fmt(name, sizeof(name), "k%d", i);
		full += store_kw_find(side, a, name, 1) == i;
	}
	CHECK(full == STORE_KW_MAX - 2, "table fills to %d names", STORE_KW_MAX);
	CHECK(store_kw_find(side, a, "one-too-many", 1) == -1, "a full table refuses more");
	CHECK(store_kw_load(side, b) == 0 && b->n == STORE_KW_MAX, "reload sees all names");
	store_kw_free(a);
	store_kw_free(b);
}

static void
test_append_copy(void)
{
	char im[PATH_LEN], is[PATH_LEN], tm[PATH_LEN], ts[PATH_LEN];
	struct store_keywords *kw = calloc(1, sizeof(*kw));
	struct store_folder f;
	struct mbox_entry e;
	struct store_put p;
	struct store_status st;
	uint32_t uv = 0, uid = 0, uv2 = 0, idx[2] = { 0, 1 }, uids[2] = { 0, 0 }, lo, hi;
	int fd, rc;

	paths("INBOX", im, is);
	paths("Trash", tm, ts);
	CHECK(folders_create(&cfg, "u", "Trash") == STORE_OK, "create Trash");
	fd = msg_fd("Subject: one\r\n\r\nbody one\r\n");
	p.flags = STORE_SEEN | STORE_DRAFT;
	p.keywords = 1;
	p.date = 1000000000;
	CHECK(store_imap_append(im, is, fd, &p, 1 << 20, UINT64_MAX, &uv, &uid) == STORE_NOFOLDER,
	    "append to a missing INBOX: NOFOLDER");
	close(fd);
	rc = store_open(&f, im, is, STORE_RDWR | STORE_CREATE);
	CHECK(rc == STORE_OK, "INBOX made");
	store_close(&f);
	fd = msg_fd("Subject: one\r\n\r\nbody one\r\n");
	CHECK(store_imap_append(im, is, fd, &p, 1 << 20, UINT64_MAX, &uv, &uid) == STORE_OK &&
	    uid == 1, "append gives UID 1");
	close(fd);
	fd = msg_fd("Subject: two\n\nbody two\n");
	p.flags = 0;
	p.keywords = 0;
	p.date = -1;
	CHECK(store_imap_append(im, is, fd, &p, 1 << 20, UINT64_MAX, &uv, &uid) == STORE_OK &&
	    uid == 2, "second append gives UID 2");
	close(fd);
	fd = msg_fd("Subject: big\n\n0123456789\n");
	CHECK(store_imap_append(im, is, fd, &p, 10, UINT64_MAX, &uv, &uid) == STORE_TOOBIG,
	    "over max_size: TOOBIG");
	close(fd);
	fd = msg_fd("Subject: q\n\n0123456789\n");
	CHECK(store_imap_append(im, is, fd, &p, 1 << 20, 20, &uv, &uid) == STORE_QUOTA,
	    "over the quota left: QUOTA");
	close(fd);
	fd = msg_fd("\r\n\r\n");
	CHECK(store_imap_append(im, is, fd, &p, 1 << 20, UINT64_MAX, &uv, &uid) == STORE_BADMSG,
	    "nothing but line ends: BADMSG");
	close(fd);

	rc = store_open(&f, im, is, STORE_RDWR);
	CHECK(rc == STORE_OK && f.count == 2 && f.uidvalidity == uv, "both indexed, same UIDVALIDITY");
	CHECK(f.msgs[0].flags == (STORE_SEEN | STORE_DRAFT) && store_msg_keywords(&f, 0) == 1 &&
	    store_msg_entry(&f, 0, &e) == 0 && e.date == 1000000000,
	    "flags, keyword and date of the first kept");
	CHECK(e.wire_size == 26, "CRLF input stored with its exact wire size");
	store_kw_load(is, kw);
	CHECK(store_imap_claim_recent(&f, 0, &lo, &hi) == STORE_OK && lo == 1 && hi == 2 &&
	    store_imap_claim_recent(&f, 0, &lo, &hi) == STORE_OK && lo == 1 && hi == 2,
	    "a reader sees UIDs 1..2 as \\Recent and leaves them so");
	CHECK(store_imap_claim_recent(&f, 1, &lo, &hi) == STORE_OK && lo == 1 && hi == 2,
	    "first claim takes \\Recent of UIDs 1..2");
	CHECK(store_imap_claim_recent(&f, 1, &lo, &hi) == STORE_OK && lo > hi &&
	    store_imap_claim_recent(&f, 0, &lo, &hi) == STORE_OK && lo > hi,
	    "a second claim gets nothing, nor does a reader");
	rc = store_imap_copy(&f, kw, idx, 2, tm, ts, dir, 1 << 20, UINT64_MAX, &uv2, uids);
	CHECK(rc == STORE_OK && uids[0] == 1 && uids[1] == 2 && uv2 != uv, "COPY gives UIDs 1, 2");
	store_close(&f);
	rc = store_open(&f, tm, ts, STORE_RDWR);
	CHECK(rc == STORE_OK && f.count == 2 && f.msgs[0].flags == (STORE_SEEN | STORE_DRAFT) &&
	    store_msg_entry(&f, 0, &e) == 0 && e.date == 1000000000, "copy keeps flags and date");
	store_kw_load(ts, kw);
	CHECK(kw->n >= 1 && store_msg_keywords(&f, 0) != 0 &&
	    strcmp(kw->name[__builtin_ctzll(store_msg_keywords(&f, 0))], "$Label1") == 0,
	    "copy keeps the keyword by name");
	store_close(&f);
	CHECK(store_imap_status(im, is, &st) == STORE_OK && st.messages == 2 && st.unseen == 1 &&
	    st.recent == 0 && st.uidnext == 3 && st.size == 26 + 26, "STATUS of INBOX");
	CHECK(store_imap_status(tm, ts, &st) == STORE_OK && st.recent == 2, "STATUS: copies are recent");
	store_kw_free(kw);
}

/* Does message uid of the folder hold text? */
static int
uid_has(const char *mbox, const char *side, uint32_t uid, const char *text)
{
	struct mbox_reader *r = malloc(sizeof(*r));
	struct store_folder f;
	const char *line;
	size_t len;
	long i;
	int partial, nl, found = 0;

	if (r == NULL || store_open(&f, mbox, side, STORE_RDWR) != STORE_OK) {
		free(r);
		return 0;
	}
	i = store_find_uid(&f, uid);
	if (i >= 0 && store_msg_open(&f, (uint32_t)i, r) == STORE_OK) {
		while (mbox_reader_next(r, &line, &len, &partial, &nl) == 1) {
			found |= len == strlen(text) && memcmp(line, text, len) == 0;
		}
		store_msg_close(&f, r);
	}
	store_close(&f);
	free(r);
	return found;
}

static void
append_n(const char *mbox, const char *side, const char *fmt, int n, uint32_t *uids)
{
	struct store_put p = { 0, 0, -1 };
	char text[128];
	uint32_t uv;
	int k, fd;

	for (k = 0; k < n; k++) {
		str_fmt(text, sizeof(text), fmt, k, k);
		fd = msg_fd(text);
		if (store_imap_append(mbox, side, fd, &p, 1 << 20, UINT64_MAX, &uv, &uids[k]) != 0) {
			uids[k] = 0;
		}
		close(fd);
	}
}

/*
 * Two sessions on one folder, the second never refreshed: each flag change applies to the
 * flags as stored, and EXPUNGE of \Deleted goes by the stored flags too.
 */
static void
test_stale_views(void)
{
	static const struct store_flagop only_seen = { STORE_SEEN, STORE_FLAGS_ALL, 1, ~(uint64_t)0 };
	static const struct store_flagop seen = { STORE_SEEN, 0, 0, 0 };
	static const struct store_flagop answered = { STORE_ANSWERED, 0, 2, 0 };
	static const struct store_flagop unseen = { 0, STORE_SEEN, 0, 1 };
	static const struct store_flagop deleted = { STORE_DELETED, 0, 0, 0 };
	static const struct store_flagop undeleted = { 0, STORE_DELETED, 0, 0 };
	char mbox[PATH_LEN], side[PATH_LEN];
	struct store_folder a, b;
	uint32_t uids[3];
	int ok;

	paths("Stale", mbox, side);
	CHECK(folders_create(&cfg, "u", "Stale") == STORE_OK, "folder for stale views");
	append_n(mbox, side, "From: x\n\nstale %d %d\n", 3, uids);
	ok = store_open(&a, mbox, side, STORE_RDWR) == STORE_OK &&
	    store_open(&b, mbox, side, STORE_RDWR) == STORE_OK && a.count == 3 && b.count == 3;
	CHECK(ok, "two sessions open");
	if (!ok) {
		return;
	}
	CHECK(store_change_flags(&a, 0, &only_seen) == STORE_OK &&
	    store_change_flags(&a, 0, &answered) == STORE_OK &&
	    a.msgs[0].flags == (STORE_SEEN | STORE_ANSWERED) && store_msg_keywords(&a, 0) == 3,
	    "set, then add: one session");
	store_imap_told(&b, 0);
	CHECK(store_change_flags(&b, 0, &unseen) == STORE_OK &&
	    (b.msgs[0].flags & STORE_FLAGS_ALL) == STORE_ANSWERED && store_msg_keywords(&b, 0) == 2,
	    "a stale session's removal keeps the other's \\Answered and keyword");
	CHECK((b.msgs[0].flags & (STORE_TOLD | STORE_CHANGED)) == (STORE_TOLD | STORE_CHANGED),
	    "catching up marks the other's change and keeps the session's own marks");
	CHECK(store_change_flags(&a, 0, &seen) == STORE_OK &&
	    (a.msgs[0].flags & STORE_FLAGS_ALL) == (STORE_SEEN | STORE_ANSWERED) &&
	    store_msg_keywords(&a, 0) == 2, "and the first session's next change starts from that");
	CHECK(store_change_flags(&a, 1, &deleted) == STORE_OK &&
	    store_change_flags(&b, 1, &undeleted) == STORE_OK &&
	    store_expunge_deleted(&a, uids, 3) == STORE_OK && !(a.msgs[1].flags & STORE_EXPUNGED),
	    "EXPUNGE leaves a message the other session undeleted");
	CHECK(store_change_flags(&b, 2, &deleted) == STORE_OK &&
	    store_expunge_deleted(&a, uids, 3) == STORE_OK && (a.msgs[2].flags & STORE_EXPUNGED) &&
	    !(a.msgs[0].flags & STORE_EXPUNGED), "EXPUNGE takes one the other session deleted");
	CHECK(store_change_flags(&b, 2, &seen) == STORE_OK && b.msgs[2].flags & STORE_EXPUNGED &&
	    !(b.msgs[2].flags & STORE_SEEN), "no flag change on an expunged message");
	store_close(&a);
	store_close(&b);
	CHECK(store_open(&a, mbox, side, STORE_RDWR) == STORE_OK && a.count == 2 &&
	    a.msgs[0].flags == (STORE_SEEN | STORE_ANSWERED), "reopened: the flags, no in-memory marks");
	store_close(&a);
}

/* Expunge uids[0..n) one by one from another session, compacting after each. */
static int
expunge_compact(const char *mbox, const char *side, const uint32_t *uids, int n)
{
	struct store_folder o;
	int k, rc = store_open(&o, mbox, side, STORE_RDWR);

	for (k = 0; k < n && rc == STORE_OK; k++) {
		rc = store_expunge(&o, &uids[k], 1);
		if (rc == STORE_OK) {
			rc = store_compact(&o);
		}
	}
	if (o.state_fd >= 0) {
		store_close(&o);
	}
	return rc;
}

struct race_put {
	const char *mbox, *side;
	const uint32_t *victims;
	pid_t child;
	int moved;	/* the mbox changed while the new message was not yet indexed */
};

/* Append one message, then start a compaction elsewhere and give it time to run. */
static int
race_put_cb(void *ctx, int fd, uint64_t end)
{
	struct race_put *c = ctx;
	struct mbox_in in = { -1, NULL, 0 };
	struct stat a, b;
	uint64_t at, written = 0;

	in.fd = msg_fd("Subject: raced\n\nraced body\n");
	if (in.fd < 0 || mbox_prepare_append(fd, end, &at) != 0 ||
	    mbox_write_message(fd, &in, NULL, 1000000000, 1 << 20, &written) != 0 ||
	    fdatasync(fd) != 0 || fstat(fd, &a) != 0) {
		return STORE_ERR;
	}
	close(in.fd);
	c->child = fork();
	if (c->child == 0) {
		_exit(expunge_compact(c->mbox, c->side, c->victims, 2) == STORE_OK ? 0 : 1);
	}
	usleep(300000);
	c->moved = fstat(fd, &b) != 0 || b.st_size != a.st_size;
	return c->child > 0 ? STORE_OK : STORE_ERR;
}

/*
 * A compaction by another session, started between an APPEND's write and its indexing,
 * waits until the new message has its UID; the UID then names the appended bytes.
 */
static void
test_append_vs_compact(void)
{
	char m[PATH_LEN], s[PATH_LEN];
	struct race_put c;
	struct store_folder d;
	uint32_t seed[4], first = 0, uid = 0;
	int status = -1, rc;

	paths("Race", m, s);
	CHECK(folders_create(&cfg, "u", "Race") == STORE_OK, "create Race");
	append_n(m, s, "Subject: seed %d\n\nseed body %d\n", 4, seed);
	memset(&c, 0, sizeof(c));
	c.mbox = m;
	c.side = s;
	c.victims = seed;
	rc = store_open(&d, m, s, STORE_RDWR);
	if (rc == STORE_OK) {
		rc = store_append_indexed(&d, race_put_cb, &c, &first);
		uid = rc == STORE_OK && first < d.count ? d.msgs[first].uid : 0;
		store_close(&d);
	}
	if (c.child > 0) {
		waitpid(c.child, &status, 0);
	}
	CHECK(rc == STORE_OK && uid == 5, "append under a waiting compaction: indexed as UID 5");
	CHECK(!c.moved, "no compaction moved the mbox before the new message was indexed");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the other session then compacted");
	CHECK(uid_has(m, s, uid, "raced body"),
	    "UID 5 names the appended message after the compaction");
	CHECK(uid_has(m, s, seed[2], "seed body 2") && !uid_has(m, s, seed[0], "seed body 0"),
	    "the compaction dropped the expunged and kept the rest");
}

/* APPENDs while another process expunges and compacts: none fails, every UID is exact. */
static void
test_append_stress(void)
{
	enum { SEEDS = 24, APPENDS = 24 };
	char m[PATH_LEN], s[PATH_LEN], want[64];
	uint32_t seed[SEEDS], uids[APPENDS];
	int k, ok = 1, status = -1;
	pid_t child;

	paths("Stress", m, s);
	CHECK(folders_create(&cfg, "u", "Stress") == STORE_OK, "create Stress");
	append_n(m, s, "Subject: seed %d\n\nseed %d\n", SEEDS, seed);
	child = fork();
	if (child == 0) {
		_exit(expunge_compact(m, s, seed, SEEDS) == STORE_OK ? 0 : 1);
	}
	append_n(m, s, "Subject: append %d\n\nappend body %d\n", APPENDS, uids);
	if (child > 0) {
		waitpid(child, &status, 0);
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the other process compacted throughout");
	for (k = 0; k < APPENDS; k++) {
		str_fmt(want, sizeof(want), "append body %d", k);
		ok &= uids[k] != 0 && uid_has(m, s, uids[k], want);
	}
	CHECK(ok, "every APPEND succeeded and its UID names its own message");
}

/* COPY of more than COPY_BATCH_BYTES goes in several batches with exact UIDs. */
static void
test_big_copy(void)
{
	char im[PATH_LEN], is[PATH_LEN], bm[PATH_LEN], bs[PATH_LEN];
	struct store_keywords kw;
	struct store_folder f, g;
	struct mbox_entry e, e2;
	struct store_put p = { STORE_FLAGGED, 0, 1500000000 };
	size_t len = COPY_BATCH_BYTES / 2 + 1000, k;
	uint32_t uv, uid, idx[3], uids[3] = { 0, 0, 0 };
	char *msg = malloc(len + 1);
	int fd, ok = 1;

	memset(msg, 'x', len);
	memcpy(msg, "Subject: big\n\n", 14);
	for (k = 79; k < len; k += 80) {
		msg[k] = '\n';
	}
	msg[len - 1] = '\n';
	msg[len] = '\0';
	paths("INBOX", im, is);
	paths("Big", bm, bs);
	folders_create(&cfg, "u", "Big");
	for (k = 0; k < 3; k++) {
		fd = msg_fd(msg);
		ok &= store_imap_append(im, is, fd, &p, 1 << 24, UINT64_MAX, &uv, &uid) == STORE_OK;
		close(fd);
	}
	CHECK(ok, "three messages of %zu bytes appended", len);
	memset(&kw, 0, sizeof(kw));
	CHECK(store_open(&f, im, is, STORE_RDWR) == STORE_OK && f.count >= 3, "INBOX open");
	for (k = 0; k < 3; k++) {
		idx[k] = f.count - 3 + (uint32_t)k;
	}
	CHECK(store_imap_copy(&f, &kw, idx, 3, bm, bs, dir, 1 << 24, UINT64_MAX, &uv, uids) ==
	    STORE_OK && uids[0] == 1 && uids[1] == 2 && uids[2] == 3, "copied in batches, UIDs 1..3");
	CHECK(store_open(&g, bm, bs, STORE_RDWR) == STORE_OK && g.count == 3 &&
	    store_msg_entry(&g, 2, &e) == 0 && store_msg_entry(&f, idx[2], &e2) == 0 &&
	    e.wire_size == e2.wire_size &&
	    g.msgs[2].flags == STORE_FLAGGED, "sizes and flags kept across batches");
	store_close(&g);
	store_close(&f);
	free(msg);
}

static int
listed(const struct folder_ent *v, size_t n, const char *name, unsigned attrs)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(v[i].name, name) == 0) {
			return (v[i].attrs & attrs) == attrs;
		}
	}
	return 0;
}

static void
test_folders(void)
{
	struct folder_ent *v = NULL;
	size_t n = 0;

	CHECK(folders_first_login(&cfg, "u") == STORE_OK, "first login");
	CHECK(folders_exists(&cfg, "u", "Sent") && folders_exists(&cfg, "u", "Archive"),
	    "special-use folders made");
	CHECK(folders_create(&cfg, "u", "Sent") == STORE_EXISTS, "CREATE existing: EXISTS");
	CHECK(folders_create(&cfg, "u", "Work/2026") == STORE_OK, "CREATE with a parent");
	CHECK(folders_create(&cfg, "u", "Sent/x") == STORE_OK, "children under an mbox");
	CHECK(folders_exists(&cfg, "u", "Sent") && folders_exists(&cfg, "u", "Sent/x"),
	    "parent and child both folders");
	CHECK(folders_create(&cfg, "u", "x.sbd") == STORE_CANNOT, "no children-directory names");
	CHECK(folders_create(&cfg, "u", "a/.mailnook/x") == STORE_CANNOT, "no dot levels");
	CHECK(folders_create(&cfg, "u", "x.lock") == STORE_CANNOT, "no dotlock names");
	CHECK(folders_create(&cfg, "u", "INBOX") == STORE_EXISTS, "INBOX always exists");
	CHECK(folders_list(&cfg, "u", &v, &n) == STORE_OK && n >= 8, "list (%zu)", n);
	CHECK(n > 0 && strcmp(v[0].name, "INBOX") == 0, "INBOX first");
	CHECK(listed(v, n, "Work", FOLDER_NOSELECT | FOLDER_HASCHILDREN), "parent is \\Noselect with children");
	CHECK(listed(v, n, "Work/2026", FOLDER_HASNOCHILDREN), "child listed");
	CHECK(listed(v, n, "Sent", FOLDER_SUBSCRIBED), "special-use folders subscribed");
	CHECK(folders_special(&cfg, "Trash") != NULL && strcmp(folders_special(&cfg, "Trash"),
	    "\\Trash") == 0, "Trash is \\Trash");
	free(v);
	CHECK(folders_delete(&cfg, "u", "Work") == STORE_HASCHILDREN, "DELETE a parent with children");
	CHECK(folders_rename(&cfg, "u", "Work/2026", "Work") == STORE_EXISTS, "RENAME onto a taken name");
	CHECK(folders_rename(&cfg, "u", "Work", "Work/sub") == STORE_CANNOT, "RENAME under itself");
	CHECK(folders_rename(&cfg, "u", "Work/2026", "Old/2026") == STORE_OK, "RENAME across parents");
	CHECK(folders_exists(&cfg, "u", "Old/2026") && !folders_exists(&cfg, "u", "Work/2026"), "moved");
	CHECK(folders_delete(&cfg, "u", "Work") == STORE_OK, "DELETE the empty parent");
	CHECK(folders_delete(&cfg, "u", "Nope") == STORE_NOFOLDER, "DELETE missing: NONEXISTENT");
	CHECK(folders_subscribe(&cfg, "u", "Gone", 1) == STORE_OK, "subscribe a missing name");
	CHECK(folders_subscribe(&cfg, "u", "Sent", 0) == STORE_OK, "unsubscribe Sent");
	CHECK(folders_list(&cfg, "u", &v, &n) == STORE_OK, "list again");
	CHECK(listed(v, n, "Gone", FOLDER_NONEXISTENT | FOLDER_SUBSCRIBED), "subscribed but gone");
	CHECK(!listed(v, n, "Sent", FOLDER_SUBSCRIBED), "Sent no longer subscribed");
	free(v);
}

int
main(void)
{
	char err[256], *ov[2], o1[300], o2[64], cmd[300];

	if (mkdtemp(dir) == NULL) {
		return 1;
	}
	str_fmt(o1, sizeof(o1), "mail_root=%s", dir);
	str_fmt(o2, sizeof(o2), "hostname=test.example");
	ov[0] = o1;
	ov[1] = o2;
	if (config_load(&cfg, "/dev/null", ov, 2, err, sizeof(err)) < 0) {
		printf("FAIL - config: %s\n", err);
		return 1;
	}
	test_keywords();
	test_append_copy();
	test_stale_views();
	test_big_copy();
	test_append_vs_compact();
	test_append_stress();
	test_folders();
	str_fmt(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0, "cleanup");
	return t_done();
}
