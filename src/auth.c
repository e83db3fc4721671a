/*
 * Users and passwords: the passwd file (user:hash[:options]) read afresh on every call,
 * crypt() checks in constant time with a dummy crypt for unknown users, the failed-login
 * throttle shared across processes, and the atomic password rewrite of `mailnook passwd`.
 * Runs in sessions after the privilege drop; auth_set_password runs as root.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if WITH_LIBC_CRYPT && defined(__GLIBC__)
#include <crypt.h>
#endif

#include "log.h"
#include "name.h"
#include "report.h"
#include "util.h"

/* Salt setting for the dummy crypt when the passwd file holds no usable hash. */
#define AUTH_DUMMY_SETTING	"$6$mailnookdummy00$"
#define AUTH_HASH_MAX		192	/* bcrypt is 60, SHA-512 crypt at most ~123 */
#define AUTH_OPTS_MAX		256

/* One passwd line split into its fields. */
struct pw_entry {
	char hash[AUTH_HASH_MAX];
	char opts[AUTH_OPTS_MAX];
	/* First usable hash in the file: the dummy crypt uses its algorithm and cost. */
	char first_hash[AUTH_HASH_MAX];
};

/* SHA-512 crypt or bcrypt: the only hashes we accept (no DES, no MD5). */
static int
auth_hash_supported(const char *h)
{
	return strncmp(h, "$6$", 3) == 0 || (WITH_LIBC_CRYPT && (strncmp(h, "$2b$", 4) == 0 ||
	    strncmp(h, "$2a$", 4) == 0 || strncmp(h, "$2y$", 4) == 0));
}

/* Hash pass with setting into out: SHA-512 built in, bcrypt through crypt(). */
static int
auth_crypt(const char *pass, const char *setting, char *out, size_t cap)
{
#if WITH_LIBC_CRYPT
	char *res;
	int rc;

	if (strncmp(setting, "$6$", 3) != 0) {
		res = crypt(pass, setting);
		if (res == NULL || res[0] != '$') {
			return -1;
		}
		rc = str_copy(out, cap, res);
		wipe(res, strlen(res));
		return rc;
	}
#endif
	return auth_sha512_crypt(pass, setting, out, cap);
}

/*
 * Split "name:hash[:opts]" in place; returns 0, or -1 for a malformed line.
 * *hash and *opts point into line ("" when absent).
 */
static int
auth_split(char *line, char **hash, char **opts)
{
	char *c = strchr(line, ':');

	if (c == NULL) {
		return -1;
	}
	*c++ = '\0';
	*hash = c;
	c = strchr(c, ':');
	*opts = "";
	if (c != NULL) {
		*c++ = '\0';
		*opts = c;
	}
	return 0;
}

/* Read one line of f into buf; 1 line, 0 EOF, -1 over-long (skipped to its end). */
static int
auth_getline(FILE *f, char *buf, size_t cap)
{
	size_t len;
	int c;

	if (fgets(buf, (int)cap, f) == NULL) {
		return 0;
	}
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n') {
		buf[--len] = '\0';
		return 1;
	}
	if (feof(f)) {
		return 1;
	}
	while ((c = getc(f)) != EOF && c != '\n') {
		continue;
	}
	return -1;
}

/* Find user in the passwd file: 1 found (e filled), 0 unknown, -1 file unreadable. */
static int
auth_find(const struct config *cfg, const char *user, struct pw_entry *e)
{
	char line[CONFIG_LINE_MAX + 2];
	unsigned lineno = 0;
	int found = 0, r;
	FILE *f;

	memset(e, 0, sizeof(*e));
	f = fopen(cfg->passwd_file, "re");
	if (f == NULL) {
		log_warn("cannot read %s", cfg->passwd_file);
		return -1;
	}
	while ((r = auth_getline(f, line, sizeof(line))) != 0) {
		char *hash, *opts;

		lineno++;
		if (r < 0 || auth_split(line, &hash, &opts) < 0) {
			if (line[0] != '#' && line[0] != '\0') {
				log_warnx("%s:%u: malformed line ignored", cfg->passwd_file, lineno);
			}
			continue;
		}
		if (e->first_hash[0] == '\0' && auth_hash_supported(hash)) {
			str_copy(e->first_hash, sizeof(e->first_hash), hash);
		}
		if (!found && strcmp(line, user) == 0) {
			found = str_copy(e->hash, sizeof(e->hash), hash) == 0 &&
			    str_copy(e->opts, sizeof(e->opts), opts) == 0;
		}
	}
	r = ferror(f) ? -1 : found;
	if (r < 0) {
		log_warn("read error on %s", cfg->passwd_file);
	}
	fclose(f);
	return r;
}

/* Options "quota=10M,..." of user's line into out; unknown options are reported. */
static void
auth_apply_opts(const struct config *cfg, const char *user, char *opts,
    struct auth_user *out)
{
	char *o = opts;

	str_copy(out->name, sizeof(out->name), user);
	out->quota = cfg->quota;
	while (*o != '\0') {
		size_t len = strcspn(o, ",");
		char *next = o + len + (o[len] == ',');

		o[len] = '\0';
		if (strncmp(o, "quota=", 6) == 0 && parse_size(o + 6, &out->quota) == 0) {
			o = next;
			continue;
		}
		if (*o != '\0') {
			log_warnx("%s: user %s: option '%s' ignored", cfg->passwd_file, user, o);
		}
		o = next;
	}
}

int
auth_lookup(const struct config *cfg, const char *user, struct auth_user *out)
{
	struct pw_entry e;
	int r;

	if (!name_user_valid(user)) {
		return AUTH_FAIL;
	}
	r = auth_find(cfg, user, &e);
	if (r <= 0) {
		return r < 0 ? AUTH_ERR : AUTH_FAIL;
	}
	auth_apply_opts(cfg, user, e.opts, out);
	return AUTH_OK;
}

int
auth_check(const struct config *cfg, const char *user, const char *pass,
    struct auth_user *out)
{
	struct pw_entry e;
	const char *setting;
	char res[AUTH_HASH_MAX];
	int known = 0, match = 0, r;

	/* Long passwords never reach crypt(): bcrypt and SHA-512 cost grows with length. */
	if (strnlen(pass, PASS_MAX + 1) > PASS_MAX) {
		return AUTH_FAIL;
	}
	if (name_user_valid(user)) {
		r = auth_find(cfg, user, &e);
		if (r < 0) {
			return AUTH_ERR;
		}
		known = r == 1 && auth_hash_supported(e.hash);
	} else {
		memset(&e, 0, sizeof(e));
	}
	/* Unknown users pay a crypt of the same kind so timing does not tell them apart. */
	setting = known ? e.hash : (e.first_hash[0] != '\0' ? e.first_hash : AUTH_DUMMY_SETTING);
	if (auth_crypt(pass, setting, res, sizeof(res)) == 0) {
		size_t n = strlen(res);

		match = known && n == strlen(e.hash) && ct_compare(res, e.hash, n) == 0;
	}
	wipe(res, sizeof(res));
	if (!match) {
		return AUTH_FAIL;
	}
	auth_apply_opts(cfg, user, e.opts, out);
	return AUTH_OK;
}

/* --- Failed-login throttle: a fixed table in runtime_dir/FAIL_FILE_NAME --- */

#define FAIL_MAGIC	"MNF1"
#define FAIL_HDR	24	/* magic[4] version le32 key le64 use-counter le64 */
#define FAIL_SLOT	24	/* hash le64 count le32 last-time le32 last-use le64 */
#define FAIL_SIZE	(FAIL_HDR + FAIL_TABLE_SLOTS * FAIL_SLOT)

/* Keyed FNV-1a of the address: the random key keeps other slots unguessable. */
static uint64_t
fail_hash(const unsigned char *key, const char *addr)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < 8; i++) {
		h = (h ^ key[i]) * 1099511628211ULL;
	}
	for (i = 0; addr[i] != '\0'; i++) {
		h = (h ^ (unsigned char)addr[i]) * 1099511628211ULL;
	}
	return h != 0 ? h : 1;
}

/* Slot of h, else an empty slot, else the least recently used one (by use counter). */
static unsigned char *
fail_slot(unsigned char *tab, uint64_t h, int *found)
{
	unsigned char *empty = NULL, *oldest = NULL;
	unsigned i;

	*found = 0;
	for (i = 0; i < FAIL_TABLE_SLOTS; i++) {
		unsigned char *s = tab + FAIL_HDR + i * FAIL_SLOT;

		if (get_le64(s) == h) {
			*found = 1;
			return s;
		}
		if (get_le64(s) == 0) {
			empty = empty != NULL ? empty : s;
		} else if (oldest == NULL || get_le64(s + 16) < get_le64(oldest + 16)) {
			oldest = s;
		}
	}
	return empty != NULL ? empty : oldest;
}

/*
 * Record a failure (failed = 1) or forget the address (failed = 0) under an fcntl lock.
 * Returns the address's recent failure count, or -1 if the table is unusable.
 */
static int
fail_update(const struct config *cfg, const char *addr, int failed)
{
	static int warned;
	unsigned char tab[FAIL_SIZE];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[PATH_LEN];
	unsigned char *s;
	uint32_t now = (uint32_t)time(NULL), count = 0;
	int fd = -1, found;

	if (str_fmt(path, sizeof(path), "%s/%s", cfg->runtime_dir, FAIL_FILE_NAME) < 0 ||
	    (fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (failed ? O_CREAT : 0), 0600)) < 0 ||
	    fcntl(fd, F_SETLKW, &fl) < 0) {
		goto fail;
	}
	if (read_full(fd, tab, sizeof(tab)) != (ssize_t)sizeof(tab) ||
	    memcmp(tab, FAIL_MAGIC, 4) != 0 || get_le32(tab + 4) != 1) {
		memset(tab, 0, sizeof(tab));
		memcpy(tab, FAIL_MAGIC, 4);
		put_le32(tab + 4, 1);
		if (random_bytes(tab + 8, 8) < 0) {
			goto fail;
		}
	}
	s = fail_slot(tab, fail_hash(tab + 8, addr), &found);
	if (found && now - get_le32(s + 12) < FAIL_WINDOW) {
		count = get_le32(s + 8);
	}
	count = failed ? count + 1 : 0;
	put_le64(tab + 16, get_le64(tab + 16) + 1);
	put_le64(s, count ? fail_hash(tab + 8, addr) : 0);
	put_le32(s + 8, count);
	put_le32(s + 12, count ? now : 0);
	put_le64(s + 16, count ? get_le64(tab + 16) : 0);
	if ((found || failed) && pwrite_all(fd, tab, sizeof(tab), 0) < 0) {
		goto fail;
	}
	close(fd);
	return (int)count;
fail:
	if (!warned && !(fd < 0 && !failed && errno == ENOENT)) {
		log_warn("failed-login table %s unusable, fixed delays only", path);
		warned = 1;
	}
	if (fd >= 0) {
		close(fd);
	}
	return -1;
}

/* Delay in ms after the count-th recent failure: doubles each time, capped. */
static unsigned
fail_delay_ms(int count)
{
	unsigned ms = FAIL_DELAY_BASE_MS;

	while (--count > 0 && ms < FAIL_DELAY_MAX_MS) {
		ms *= 2;
	}
	return ms < FAIL_DELAY_MAX_MS ? ms : FAIL_DELAY_MAX_MS;
}

unsigned
auth_fail_record(const struct config *cfg, const char *addr)
{
	int count = fail_update(cfg, addr, 1);
	unsigned ms = fail_delay_ms(count);

	log_debug("login delay %ums for %s (failure %d)", ms, addr, count);
	return ms;
}

void
auth_failed(const struct config *cfg, const char *addr)
{
	unsigned ms = auth_fail_record(cfg, addr);
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
		continue;
	}
}

void
auth_succeeded(const struct config *cfg, const char *addr)
{
	fail_update(cfg, addr, 0);
	/* Under serve, the session no longer counts against max_unauth. */
	report_login();
}

/* --- Setting a password: atomic rewrite of the passwd file --- */

/* "$6$" + 16 random salt characters + "$". */
static int
auth_make_setting(char *buf, size_t cap)
{
	static const char abc[] =
	    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char rnd[16];
	size_t i;

	if (cap < 21 || random_bytes(rnd, sizeof(rnd)) < 0) {
		return -1;
	}
	memcpy(buf, "$6$", 3);
	for (i = 0; i < 16; i++) {
		buf[3 + i] = abc[rnd[i] & 63];
	}
	buf[19] = '$';
	buf[20] = '\0';
	return 0;
}

static int
auth_write_entry(int fd, const char *user, const char *hash, const char *opts)
{
	char out[NAME_LEN + AUTH_HASH_MAX + AUTH_OPTS_MAX + 4];

	if (str_fmt(out, sizeof(out), "%s:%s%s%s\n", user, hash, opts[0] ? ":" : "", opts) < 0) {
		return -1;
	}
	return write_all(fd, out, strlen(out));
}

/* Copy the old lines of f into fd, replacing user's hash, keeping its options. */
static int
auth_copy_lines(FILE *f, int fd, const char *user, const char *hash, int *done)
{
	char *line = NULL, *copy = NULL, *h, *opts;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, f)) > 0) {
		free(copy);
		copy = strndup(line, (size_t)n);
		if (copy == NULL) {
			rc = -1;
			break;
		}
		copy[strcspn(copy, "\n")] = '\0';
		if (!*done && auth_split(copy, &h, &opts) == 0 && strcmp(copy, user) == 0) {
			*done = 1;
			rc = auth_write_entry(fd, user, hash, opts);
		} else {
			rc = write_all(fd, line, (size_t)n);
			if (rc == 0 && line[n - 1] != '\n') {
				rc = write_all(fd, "\n", 1);
			}
		}
	}
	free(copy);
	free(line);
	return rc < 0 || ferror(f) ? -1 : 0;
}

/* Write the new passwd contents into fd: old lines with user's hash replaced or added. */
static int
auth_copy_passwd(const struct config *cfg, int fd, const char *user, const char *hash)
{
	FILE *f = fopen(cfg->passwd_file, "re");
	int done = 0, rc;

	if (f == NULL && errno != ENOENT) {
		return -1;
	}
	if (f != NULL) {
		rc = auth_copy_lines(f, fd, user, hash, &done);
		fclose(f);
		if (rc < 0) {
			return -1;
		}
	}
	return done ? 0 : auth_write_entry(fd, user, hash, "");
}

/* Mode 0640, and when root the run user's group so that sessions can read it. */
static int
auth_set_owner(const struct config *cfg, int fd, char *err, size_t errlen)
{
	struct passwd *pw;

	if (fchmod(fd, 0640) < 0) {
		str_fmt(err, errlen, "chmod: %s", strerror(errno));
		return -1;
	}
	if (geteuid() != 0) {
		return 0;
	}
	pw = getpwnam(cfg->run_user);
	if (pw == NULL) {
		str_fmt(err, errlen, "run user '%s' does not exist (config key user)", cfg->run_user);
		return -1;
	}
	if (fchown(fd, 0, pw->pw_gid) < 0) {
		str_fmt(err, errlen, "chown: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Hash pass into hash (capacity cap); -1 on failure. */
static int
auth_hash(const char *pass, char *hash, size_t cap)
{
	char setting[24];

	if (auth_make_setting(setting, sizeof(setting)) < 0) {
		return -1;
	}
	return auth_sha512_crypt(pass, setting, hash, cap);
}

int
auth_set_password(const struct config *cfg, const char *user, const char *pass,
    char *err, size_t errlen)
{
	char hash[AUTH_HASH_MAX], tmp[PATH_LEN], dir[PATH_LEN];
	int fd = -1;

	if (!name_user_valid(user)) {
		str_fmt(err, errlen, "'%s' is not a valid user name (letters, digits, . _ - +)", user);
		return -1;
	}
	if (pass[0] == '\0' || strnlen(pass, PASS_MAX + 1) > PASS_MAX || strchr(pass, '\n')) {
		str_fmt(err, errlen, "password must be 1 to %d characters on one line", PASS_MAX);
		return -1;
	}
	if (auth_hash(pass, hash, sizeof(hash)) < 0) {
		str_fmt(err, errlen, "crypt() failed to make a SHA-512 hash");
		return -1;
	}
	if (str_copy(dir, sizeof(dir), cfg->passwd_file) < 0 ||
	    str_fmt(tmp, sizeof(tmp), "%s.XXXXXX", cfg->passwd_file) < 0) {
		str_fmt(err, errlen, "%s: path too long", cfg->passwd_file);
		return -1;
	}
	*strrchr(dir, '/') = '\0';
	if ((dir[0] != '\0' && mkdir_p(dir, 0755) < 0) || (fd = mkstemp(tmp)) < 0) {
		str_fmt(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (auth_set_owner(cfg, fd, err, errlen) < 0) {
		goto fail;
	}
	if (auth_copy_passwd(cfg, fd, user, hash) < 0 || fsync(fd) < 0) {
		goto fail_errno;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, cfg->passwd_file) < 0 || fsync_parent(cfg->passwd_file) < 0) {
		goto fail_errno;
	}
	return 0;
fail_errno:
	str_fmt(err, errlen, "writing %s: %s", cfg->passwd_file, strerror(errno));
fail:
	if (fd >= 0) {
		close(fd);
	}
	unlink(tmp);
	return -1;
}
