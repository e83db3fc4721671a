/*
 * The config file ("key value" lines, # comments) and -o key=value overrides, validated
 * into one struct config that is read-only afterwards. Runs first in every verb, as
 * whoever started us (often root, before any privilege drop); it only reads one file.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "name.h"
#include "util.h"

enum cfg_type {
	T_PATH,		/* absolute path */
	T_INBOX,	/* absolute path with %u, or empty */
	T_USER,		/* account name */
	T_HOST,		/* DNS name */
	T_UINT,		/* unsigned within [min, max] */
	T_SIZE,		/* size with K/M/G within [min, max] */
	T_BOOL,		/* yes | no */
	T_PLAIN,	/* never | loopback | anywhere */
	T_LOG,		/* stderr | syslog */
	T_LISTEN,	/* ADDR:PORT pop3|imap [tls] */
	T_FOLDER	/* IMAP folder name: printable ASCII, no leading/trailing '/' */
};

#define F_EMPTY_OK 1	/* an empty value unsets the key */

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;		/* offsetof(struct config, field) */
	size_t cap;		/* string capacity */
	uint64_t min, max;	/* number range */
	int flags;
};

#define K_STR(n, t, f, fl) { n, t, offsetof(struct config, f), \
	sizeof(((struct config *)0)->f), 0, 0, fl }
#define K_NUM(n, t, f, lo, hi) { n, t, offsetof(struct config, f), 0, lo, hi, 0 }

static const struct cfg_key cfg_keys[] = {
	K_STR("mail_root", T_PATH, mail_root, 0),
	K_STR("inbox", T_INBOX, inbox, F_EMPTY_OK),
	K_STR("passwd_file", T_PATH, passwd_file, 0),
	K_STR("runtime_dir", T_PATH, runtime_dir, 0),
	K_STR("user", T_USER, run_user, 0),
	K_STR("hostname", T_HOST, hostname, 0),
	K_STR("tls_cert", T_PATH, tls_cert, F_EMPTY_OK),
	K_STR("tls_key", T_PATH, tls_key, F_EMPTY_OK),
	K_NUM("listen", T_LISTEN, listen, 0, 0),
	K_NUM("max_children", T_UINT, max_children, 1, MAX_CHILDREN_HARD),
	K_NUM("max_per_ip", T_UINT, max_per_ip, 1, MAX_CHILDREN_HARD),
	K_NUM("max_unauth", T_UINT, max_unauth, 1, MAX_CHILDREN_HARD),
	K_NUM("timeout", T_UINT, timeout, 1, 86400),
	K_NUM("preauth_timeout", T_UINT, preauth_timeout, 1, 3600),
	K_NUM("login_delay", T_UINT, login_delay, 0, 86400),
	K_NUM("lock_timeout", T_UINT, lock_timeout, 1, 3600),
	K_NUM("quota", T_SIZE, quota, 0, UINT64_MAX),
	K_NUM("max_message", T_SIZE, max_message, 1, MESSAGE_HARD_MAX),
	K_NUM("plaintext_auth", T_PLAIN, plaintext_auth, 0, 0),
	K_NUM("log", T_LOG, log_stderr, 0, 0),
	K_NUM("debug", T_BOOL, debug, 0, 0),
	K_STR("folder_sent", T_FOLDER, folder_sent, F_EMPTY_OK),
	K_STR("folder_drafts", T_FOLDER, folder_drafts, F_EMPTY_OK),
	K_STR("folder_trash", T_FOLDER, folder_trash, F_EMPTY_OK),
	K_STR("folder_junk", T_FOLDER, folder_junk, F_EMPTY_OK),
	K_STR("folder_archive", T_FOLDER, folder_archive, F_EMPTY_OK),
};

/* Where the line being parsed comes from, for error messages. */
struct cfg_parse {
	struct config *cfg;
	const char *where;	/* file name, or NULL for -o */
	unsigned line;
	int args_listen;	/* a -o listen already replaced the file's listeners */
	char *err;
	size_t errlen;
};

static int cfg_error(struct cfg_parse *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Format "file:line: key: message" (or "-o key: message") into p->err; returns -1. */
static int
cfg_error(struct cfg_parse *p, const char *key, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0) {
		msg[0] = '\0';
	}
	va_end(ap);
	if (p->where == NULL) {
		str_fmt(p->err, p->errlen, "-o %s: %s", key, msg);
	} else if (key == NULL) {
		str_fmt(p->err, p->errlen, "%s:%u: %s", p->where, p->line, msg);
	} else {
		str_fmt(p->err, p->errlen, "%s:%u: %s: %s", p->where, p->line, key, msg);
	}
	return -1;
}

static void
cfg_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	str_copy(cfg->mail_root, sizeof(cfg->mail_root), DEF_MAIL_ROOT);
	str_copy(cfg->passwd_file, sizeof(cfg->passwd_file), DEF_PASSWD_FILE);
	str_copy(cfg->runtime_dir, sizeof(cfg->runtime_dir), DEF_RUNTIME_DIR);
	str_copy(cfg->run_user, sizeof(cfg->run_user), DEF_RUN_USER);
	cfg->max_children = DEF_MAX_CHILDREN;
	cfg->max_per_ip = DEF_MAX_PER_IP;
	cfg->max_unauth = DEF_MAX_UNAUTH;
	cfg->timeout = POP3_TIMEOUT;
	cfg->preauth_timeout = PREAUTH_TIMEOUT;
	str_copy(cfg->folder_sent, sizeof(cfg->folder_sent), DEF_FOLDER_SENT);
	str_copy(cfg->folder_drafts, sizeof(cfg->folder_drafts), DEF_FOLDER_DRAFTS);
	str_copy(cfg->folder_trash, sizeof(cfg->folder_trash), DEF_FOLDER_TRASH);
	str_copy(cfg->folder_junk, sizeof(cfg->folder_junk), DEF_FOLDER_JUNK);
	str_copy(cfg->folder_archive, sizeof(cfg->folder_archive), DEF_FOLDER_ARCHIVE);
	cfg->max_message = DEF_MAX_MESSAGE;
	cfg->plaintext_auth = PLAIN_LOOPBACK;
}

static int
cfg_valid_host(const char *s)
{
	size_t i;

	if (s[0] == '\0' || s[0] == '-' || s[0] == '.') {
		return 0;
	}
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.')) {
			return 0;
		}
	}
	return 1;
}

/* inbox: every '%' must start "%u", and there must be at least one. */
static int
cfg_valid_inbox(const char *s)
{
	const char *q;
	int users = 0;

	for (q = strchr(s, '%'); q != NULL; q = strchr(q + 2, '%')) {
		if (q[1] != 'u') {
			return 0;
		}
		users++;
	}
	return users > 0;
}

/* A special-use folder name: printable ASCII parts between single '/', none "." or "..". */
static int
cfg_valid_folder(const char *v)
{
	const char *p;

	if (v[0] == '/' || v[0] == '.' || (v[0] != '\0' && v[strlen(v) - 1] == '/') ||
	    strstr(v, "//") != NULL || strstr(v, "/.") != NULL || str_ieq(v, "INBOX")) {
		return 0;
	}
	for (p = v; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '%' || *p == '*' || *p == '"' || *p == '\\') {
			return 0;
		}
	}
	return 1;
}

static int
cfg_set_string(struct cfg_parse *p, const struct cfg_key *k, const char *v)
{
	char *dst = (char *)p->cfg + k->off;

	if (v[0] == '\0' && !(k->flags & F_EMPTY_OK)) {
		return cfg_error(p, k->name, "value missing");
	}
	if (strlen(v) >= k->cap) {
		return cfg_error(p, k->name, "too long (at most %zu bytes)", k->cap - 1);
	}
	if (v[0] != '\0' && (k->type == T_PATH || k->type == T_INBOX) && v[0] != '/') {
		return cfg_error(p, k->name, "'%s' is a relative path; give an absolute one", v);
	}
	if (v[0] != '\0' && k->type == T_INBOX && !cfg_valid_inbox(v)) {
		return cfg_error(p, k->name, "needs %%u for the user name (and no other %%)");
	}
	if (k->type == T_USER && !name_user_valid(v)) {
		return cfg_error(p, k->name, "'%s' is not a valid user name", v);
	}
	if (k->type == T_HOST && !cfg_valid_host(v)) {
		return cfg_error(p, k->name, "'%s' is not a valid host name", v);
	}
	if (k->type == T_FOLDER && !cfg_valid_folder(v)) {
		return cfg_error(p, k->name, "'%s' is not a folder name (printable ASCII, "
		    "no leading, trailing or double '/', no '.' parts)", v);
	}
	return str_copy(dst, k->cap, v);
}

static int
cfg_set_number(struct cfg_parse *p, const struct cfg_key *k, const char *v)
{
	void *dst = (char *)p->cfg + k->off;
	uint64_t n;

	if (k->type == T_SIZE) {
		if (parse_size(v, &n) < 0) {
			return cfg_error(p, k->name, "'%s' is not a size (digits, optional K/M/G)", v);
		}
	} else if (parse_u64(v, strlen(v), UINT64_MAX, &n) < 0) {
		return cfg_error(p, k->name, "'%s' is not a number", v);
	}
	if (n < k->min || n > k->max) {
		return cfg_error(p, k->name, "%s out of range %llu..%llu", v,
		    (unsigned long long)k->min, (unsigned long long)k->max);
	}
	if (k->type == T_SIZE) {
		memcpy(dst, &n, sizeof(uint64_t));
	} else {
		unsigned u = (unsigned)n;

		memcpy(dst, &u, sizeof(unsigned));
	}
	return 0;
}

/* Index of v in the NULL-terminated words, or -1. */
static int
cfg_word(const char *v, const char *const *words)
{
	int i;

	for (i = 0; words[i] != NULL; i++) {
		if (strcmp(v, words[i]) == 0) {
			return i;
		}
	}
	return -1;
}

static int
cfg_set_enum(struct cfg_parse *p, const struct cfg_key *k, const char *v)
{
	static const char *const bools[] = { "no", "yes", NULL };
	static const char *const plains[] = { "never", "loopback", "anywhere", NULL };
	static const char *const logs[] = { "syslog", "stderr", NULL };
	const char *const *words = k->type == T_BOOL ? bools :
	    k->type == T_PLAIN ? plains : logs;
	int i = cfg_word(v, words);

	if (i < 0) {
		return cfg_error(p, k->name, "'%s' is not one of %s|%s%s%s", v, words[0],
		    words[1], words[2] ? "|" : "", words[2] ? words[2] : "");
	}
	if (k->type == T_PLAIN) {
		p->cfg->plaintext_auth = (enum plain_auth)i;
	} else {
		memcpy((char *)p->cfg + k->off, &i, sizeof(int));
	}
	return 0;
}

/* "1.2.3.4:110" or "[::1]:110" (len bytes at s) into l->addr and l->port. */
static int
cfg_parse_addrport(struct cfg_parse *p, const char *s, size_t len, struct listener_conf *l)
{
	const char *colon = memrchr(s, ':', len);
	const char *a = s;
	char addr[ADDR_LEN];
	unsigned char bin[16];
	size_t alen;
	int af = AF_INET;
	uint32_t port;

	if (colon == NULL) {
		return cfg_error(p, "listen", "'%.*s' needs ADDR:PORT", (int)len, s);
	}
	alen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (alen < 2 || s[alen - 1] != ']') {
			return cfg_error(p, "listen", "IPv6 address must look like [::1]:PORT");
		}
		a++;
		alen -= 2;
		af = AF_INET6;
	}
	if (alen == 0 || alen >= sizeof(addr)) {
		return cfg_error(p, "listen", "bad address in '%.*s'", (int)len, s);
	}
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (inet_pton(af, addr, bin) != 1) {
		return cfg_error(p, "listen", "'%s' is not an IPv%c address", addr,
		    af == AF_INET ? '4' : '6');
	}
	if (parse_u32(colon + 1, len - (size_t)(colon + 1 - s), 65535, &port) < 0) {
		return cfg_error(p, "listen", "bad port in '%.*s'", (int)len, s);
	}
	if (port == 0) {
		return cfg_error(p, "listen", "port 0");
	}
	str_copy(l->addr, sizeof(l->addr), addr);
	l->port = (uint16_t)port;
	return 0;
}

/* Split v into at most max words (start and length); the count, or max + 1 if more. */
static size_t
cfg_words(const char *v, const char **tok, size_t *toklen, size_t max)
{
	size_t n = 0;

	v += strspn(v, " \t");
	while (*v != '\0') {
		size_t len = strcspn(v, " \t");

		if (n == max) {
			return max + 1;
		}
		tok[n] = v;
		toklen[n++] = len;
		v += len;
		v += strspn(v, " \t");
	}
	return n;
}

static int
cfg_set_listen(struct cfg_parse *p, const char *v)
{
	struct listener_conf l;
	const char *tok[3];
	size_t toklen[3];
	size_t n = cfg_words(v, tok, toklen, 3);

	if (n < 2 || n > 3) {
		return cfg_error(p, "listen", "expected ADDR:PORT pop3|imap [tls]");
	}
	memset(&l, 0, sizeof(l));
	if (cfg_parse_addrport(p, tok[0], toklen[0], &l) < 0) {
		return -1;
	}
	if (toklen[1] == 4 && memcmp(tok[1], "pop3", 4) == 0) {
		l.proto = PROTO_POP3;
	} else if (toklen[1] == 4 && memcmp(tok[1], "imap", 4) == 0) {
		l.proto = PROTO_IMAP;
	} else {
		return cfg_error(p, "listen", "protocol must be pop3 or imap");
	}
	if (n == 3) {
		if (toklen[2] != 3 || memcmp(tok[2], "tls", 3) != 0) {
			return cfg_error(p, "listen", "third word must be 'tls'");
		}
		l.tls = 1;
	}
	/* The first -o listen replaces the file's listeners; later ones add to it. */
	if (p->where == NULL && !p->args_listen) {
		p->cfg->n_listen = 0;
		p->args_listen = 1;
	}
	if (p->cfg->n_listen >= MAX_LISTENERS) {
		return cfg_error(p, "listen", "more than %d listeners", MAX_LISTENERS);
	}
	p->cfg->listen[p->cfg->n_listen++] = l;
	return 0;
}

static int
cfg_set(struct cfg_parse *p, const char *key, const char *v)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(cfg_keys); i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (strcmp(key, k->name) != 0) {
			continue;
		}
		switch (k->type) {
		case T_LISTEN:
			return cfg_set_listen(p, v);
		case T_UINT:
		case T_SIZE:
			return cfg_set_number(p, k, v);
		case T_BOOL:
		case T_PLAIN:
		case T_LOG:
			return cfg_set_enum(p, k, v);
		default:
			return cfg_set_string(p, k, v);
		}
	}
	return cfg_error(p, key, "unknown key");
}

/* One file line (newline removed): blank, # comment, or "key value". */
static int
cfg_line(struct cfg_parse *p, char *line)
{
	char *key = line + strspn(line, " \t");
	char *v, *end;

	if (*key == '\0' || *key == '#') {
		return 0;
	}
	v = key + strcspn(key, " \t");
	if (*v != '\0') {
		*v++ = '\0';
		v += strspn(v, " \t");
	}
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) {
		*--end = '\0';
	}
	return cfg_set(p, key, v);
}

static int
cfg_read_file(struct cfg_parse *p, FILE *f)
{
	char line[CONFIG_LINE_MAX + 2];

	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);

		p->line++;
		if (len > 0 && line[len - 1] == '\n') {
			line[--len] = '\0';
		} else if (!feof(f)) {
			return cfg_error(p, NULL, "line longer than %d bytes", CONFIG_LINE_MAX);
		}
		if (cfg_line(p, line) < 0) {
			return -1;
		}
	}
	if (ferror(f)) {
		return cfg_error(p, NULL, "read error: %s", strerror(errno));
	}
	return 0;
}

/* Listeners when the config names none; the tls ones only with a certificate. */
static const struct listener_conf cfg_default_listeners[] = {
	{ "0.0.0.0", 110, PROTO_POP3, 0 }, { "::", 110, PROTO_POP3, 0 },
	{ "0.0.0.0", 143, PROTO_IMAP, 0 }, { "::", 143, PROTO_IMAP, 0 },
	{ "0.0.0.0", 995, PROTO_POP3, 1 }, { "::", 995, PROTO_POP3, 1 },
	{ "0.0.0.0", 993, PROTO_IMAP, 1 }, { "::", 993, PROTO_IMAP, 1 },
};

static void
cfg_add_default_listeners(struct config *cfg)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(cfg_default_listeners) && cfg->n_listen < MAX_LISTENERS; i++) {
		if (!cfg_default_listeners[i].tls || cfg->tls_cert[0] != '\0') {
			cfg->listen[cfg->n_listen++] = cfg_default_listeners[i];
		}
	}
}

/* Checks across keys and defaults that depend on other keys; errors name the file. */
static int
cfg_finish(struct cfg_parse *p, const char *file)
{
	struct config *cfg = p->cfg;
	unsigned i;

	if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
		str_fmt(p->err, p->errlen, "%s: tls_cert and tls_key must be set together", file);
		return -1;
	}
	if (cfg->n_listen == 0) {
		cfg_add_default_listeners(cfg);
	}
	for (i = 0; i < cfg->n_listen; i++) {
		if (cfg->listen[i].tls && cfg->tls_cert[0] == '\0') {
			str_fmt(p->err, p->errlen, "%s: listen %s:%u tls needs tls_cert and tls_key",
			    file, cfg->listen[i].addr, cfg->listen[i].port);
			return -1;
		}
	}
	if (cfg->hostname[0] == '\0') {
		if (gethostname(cfg->hostname, sizeof(cfg->hostname) - 1) < 0 ||
		    !cfg_valid_host(cfg->hostname)) {
			str_copy(cfg->hostname, sizeof(cfg->hostname), "localhost");
		}
	}
	return 0;
}

static int
cfg_apply_override(struct cfg_parse *p, char *ov)
{
	char key[32];
	const char *eq = strchr(ov, '=');

	if (eq == NULL || eq == ov || (size_t)(eq - ov) >= sizeof(key)) {
		str_fmt(p->err, p->errlen, "-o %s: expected key=value", ov);
		return -1;
	}
	memcpy(key, ov, (size_t)(eq - ov));
	key[eq - ov] = '\0';
	return cfg_set(p, key, eq + 1);
}

int
config_load(struct config *cfg, const char *path, char *const *overrides,
    int n_overrides, char *err, size_t errlen)
{
	struct cfg_parse p = { cfg, path ? path : DEF_CONFIG_FILE, 0, 0, err, errlen };
	FILE *f;
	int i;

	cfg_defaults(cfg);
	if (n_overrides < 0 || n_overrides > MAX_OVERRIDES) {
		str_fmt(err, errlen, "more than %d -o options", MAX_OVERRIDES);
		return -1;
	}
	f = fopen(p.where, "re");
	if (f == NULL && !(path == NULL && errno == ENOENT)) {
		str_fmt(err, errlen, "%s: %s", p.where, strerror(errno));
		return -1;
	}
	if (f != NULL) {
		int rc = cfg_read_file(&p, f);

		fclose(f);
		if (rc < 0) {
			return -1;
		}
	}
	p.where = NULL;
	for (i = 0; i < n_overrides; i++) {
		if (cfg_apply_override(&p, overrides[i]) < 0) {
			return -1;
		}
		cfg->overrides[i] = overrides[i];
	}
	cfg->n_overrides = n_overrides;
	cfg->file = path;
	return cfg_finish(&p, path ? path : DEF_CONFIG_FILE);
}

int
config_reload(struct config *cfg, char *err, size_t errlen)
{
	struct config *fresh = malloc(sizeof(*fresh));

	if (fresh == NULL) {
		str_fmt(err, errlen, "out of memory");
		return -1;
	}
	if (config_load(fresh, cfg->file, cfg->overrides, cfg->n_overrides, err, errlen) < 0) {
		free(fresh);
		return -1;
	}
	/* Sockets are bound and the log is open: those stay as they were. */
	memcpy(fresh->listen, cfg->listen, sizeof(fresh->listen));
	fresh->n_listen = cfg->n_listen;
	fresh->foreground = cfg->foreground;
	fresh->log_stderr = cfg->log_stderr;
	*cfg = *fresh;
	free(fresh);
	log_set_debug(cfg->debug);
	return 0;
}

void
config_from_args(struct config *cfg, int argc, char **argv, int *optind_out)
{
	/* -d is -o debug=yes -o log=stderr, so that a SIGHUP reload keeps it. */
	static char debug_on[] = "debug=yes", log_err[] = "log=stderr";
	char *ov[MAX_OVERRIDES];
	const char *file = NULL;
	char err[512];
	int n = 0, fg = 0, c;

	optind = 0;
	while ((c = getopt(argc, argv, "+c:o:fd")) != -1) {
		if (c == '?' || ((c == 'o' || c == 'd') && n + (c == 'd') >= MAX_OVERRIDES)) {
			fprintf(stderr, "mailnook %s: usage: mailnook [-c FILE] [-o key=value]... "
			    "[-f] [-d] %s ...\n", argv[0], argv[0]);
			exit(EX_USAGE);
		}
		if (c == 'c') {
			file = optarg;
		} else if (c == 'o') {
			ov[n++] = optarg;
		} else if (c == 'd') {
			ov[n++] = debug_on;
			ov[n++] = log_err;
		} else {
			fg = 1;
		}
	}
	if (config_load(cfg, file, ov, n, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailnook: %s\n", err);
		exit(EX_USAGE);
	}
	cfg->foreground = fg;
	log_open("mailnook", cfg->log_stderr);
	log_set_debug(cfg->debug);
	*optind_out = optind;
}

int
config_user_dir(const struct config *cfg, const char *user, char *buf, size_t cap)
{
	if (!name_user_valid(user)) {
		return -1;
	}
	return str_fmt(buf, cap, "%s/%s", cfg->mail_root, user) < 0 ? -1 : 0;
}

int
config_inbox_path(const struct config *cfg, const char *user, char *buf, size_t cap)
{
	const char *s = cfg->inbox;
	size_t n = 0, ulen = strlen(user);

	if (s[0] == '\0') {
		if (config_user_dir(cfg, user, buf, cap) < 0) {
			return -1;
		}
		n = strlen(buf);
		return str_fmt(buf + n, cap - n, "/INBOX") < 0 ? -1 : 0;
	}
	if (!name_user_valid(user)) {
		return -1;
	}
	for (; *s != '\0'; s++) {
		int is_user = s[0] == '%' && s[1] == 'u';
		size_t add = is_user ? ulen : 1;

		if (n + add >= cap) {
			return -1;
		}
		memcpy(buf + n, is_user ? user : s, add);
		s += is_user;
		n += add;
	}
	buf[n] = '\0';
	return 0;
}
