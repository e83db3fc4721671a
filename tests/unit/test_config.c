/* Unit tests of config.c: every key, overrides, listeners, and every kind of bad line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "t.h"
#include "util.h"

static char dir[64], path[128];
static struct config cfg;
static char err[512];

static int
load_text(const char *text, char **ov, int n)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror("write config");
		exit(1);
	}
	err[0] = '\0';
	return config_load(&cfg, path, ov, n, err, sizeof(err));
}

static void
test_good(void)
{
	static const char text[] =
	    "# a comment\n"
	    "\n"
	    "   mail_root   /srv/m  \n"
	    "inbox /var/spool/mail/%u\n"
	    "passwd_file /etc/p\n"
	    "runtime_dir /run/mn\n"
	    "user mailer\n"
	    "hostname mail.example.org\n"
	    "tls_cert /etc/c.pem\n"
	    "tls_key /etc/k.pem\n"
	    "listen 127.0.0.1:1110 pop3\n"
	    "listen [::1]:995 pop3 tls\n"
	    "listen 0.0.0.0:143 imap\n"
	    "max_children 50\n"
	    "max_per_ip 3\n"
	    "max_unauth 4\n"
	    "timeout 700\n"
	    "preauth_timeout 30\n"
	    "login_delay 60\n"
	    "quota 10M\n"
	    "max_message 2K\n"
	    "plaintext_auth anywhere\n"
	    "log stderr\n"
	    "debug yes\n";
	char buf[PATH_LEN];

	CHECK(load_text(text, NULL, 0) == 0, "full config loads (%s)", err);
	CHECK(strcmp(cfg.mail_root, "/srv/m") == 0, "mail_root trimmed");
	CHECK(strcmp(cfg.passwd_file, "/etc/p") == 0 && strcmp(cfg.runtime_dir, "/run/mn") == 0,
	    "passwd_file, runtime_dir");
	CHECK(strcmp(cfg.run_user, "mailer") == 0 && strcmp(cfg.hostname, "mail.example.org") == 0,
	    "user, hostname");
	CHECK(strcmp(cfg.tls_cert, "/etc/c.pem") == 0 && strcmp(cfg.tls_key, "/etc/k.pem") == 0,
	    "tls_cert, tls_key");
	CHECK(cfg.n_listen == 3, "three listeners");
	CHECK(strcmp(cfg.listen[0].addr, "127.0.0.1") == 0 && cfg.listen[0].port == 1110 &&
	    cfg.listen[0].proto == PROTO_POP3 && !cfg.listen[0].tls, "listener 1");
	CHECK(strcmp(cfg.listen[1].addr, "::1") == 0 && cfg.listen[1].port == 995 &&
	    cfg.listen[1].tls, "IPv6 listener with tls");
	CHECK(cfg.listen[2].proto == PROTO_IMAP && cfg.listen[2].port == 143, "imap listener");
	CHECK(cfg.max_children == 50 && cfg.max_per_ip == 3 && cfg.max_unauth == 4, "caps");
	CHECK(cfg.timeout == 700 && cfg.preauth_timeout == 30 && cfg.login_delay == 60, "timeouts");
	CHECK(cfg.quota == 10u << 20 && cfg.max_message == 2048, "sizes");
	CHECK(cfg.plaintext_auth == PLAIN_ANYWHERE && cfg.log_stderr && cfg.debug, "enums");
	CHECK(config_inbox_path(&cfg, "bob", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "/var/spool/mail/bob") == 0, "inbox with %%u");
	CHECK(config_inbox_path(&cfg, "b", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "/var/spool/mail/b") == 0, "inbox with a one-letter user");
	CHECK(config_inbox_path(&cfg, "../x", buf, sizeof(buf)) < 0, "inbox refuses ../x");
	CHECK(config_inbox_path(&cfg, "bob", buf, 10) < 0, "inbox path too long for buffer");
	CHECK(config_user_dir(&cfg, "bob", buf, sizeof(buf)) == 0 && strcmp(buf, "/srv/m/bob") == 0,
	    "user dir");
}

static void
test_defaults(void)
{
	char buf[PATH_LEN];

	CHECK(load_text("mail_root /m\n", NULL, 0) == 0, "minimal config loads");
	CHECK(strcmp(cfg.passwd_file, DEF_PASSWD_FILE) == 0 && strcmp(cfg.run_user, DEF_RUN_USER) == 0 &&
	    cfg.max_children == DEF_MAX_CHILDREN && cfg.timeout == POP3_TIMEOUT &&
	    cfg.plaintext_auth == PLAIN_LOOPBACK && !cfg.log_stderr && !cfg.debug, "defaults");
	CHECK(cfg.hostname[0] != '\0', "hostname defaults to gethostname()");
	CHECK(cfg.n_listen == 4 && cfg.listen[0].port == 110 && strcmp(cfg.listen[1].addr, "::") == 0 &&
	    cfg.listen[1].proto == PROTO_POP3 && cfg.listen[3].port == 143 &&
	    cfg.listen[3].proto == PROTO_IMAP && !cfg.listen[3].tls,
	    "default listeners: POP3 110 and IMAP 143 on IPv4 and IPv6");
	CHECK(config_inbox_path(&cfg, "bob", buf, sizeof(buf)) == 0 && strcmp(buf, "/m/bob/INBOX") == 0,
	    "default inbox");
	CHECK(load_text("tls_cert /c\ntls_key /k\n", NULL, 0) == 0 && cfg.n_listen == 8 &&
	    cfg.listen[4].port == 995 && cfg.listen[5].tls && cfg.listen[7].port == 993 &&
	    cfg.listen[7].proto == PROTO_IMAP, "tls_cert adds 995 and 993 tls listeners");
}

static void
test_overrides(void)
{
	char *ov1[] = { "listen=127.0.0.1:2000 pop3", "listen=[::1]:2001 pop3", "max_per_ip=2" };
	char *ov2[] = { "timeout" };
	char *ov3[] = { "nosuch=1" };
	char *ov4[] = { "tls_cert=" , "tls_key=" };

	CHECK(load_text("listen 0.0.0.0:1 pop3\nlisten 0.0.0.0:2 pop3\nmax_per_ip 5\n", ov1, 3) == 0,
	    "overrides load (%s)", err);
	CHECK(cfg.n_listen == 2 && cfg.listen[0].port == 2000 && cfg.listen[1].port == 2001,
	    "first -o listen replaces the file's, later ones add");
	CHECK(cfg.max_per_ip == 2, "-o wins over the file");
	CHECK(cfg.n_overrides == 3 && cfg.overrides[2] == ov1[2] && cfg.file == path,
	    "source kept for reload");
	CHECK(load_text("", ov2, 1) < 0 && strstr(err, "-o timeout") && strstr(err, "key=value"),
	    "override without '=': %s", err);
	CHECK(load_text("", ov3, 1) < 0 && strstr(err, "-o nosuch: unknown key"),
	    "unknown override key: %s", err);
	CHECK(load_text("tls_cert /c\ntls_key /k\n", ov4, 2) == 0 && cfg.tls_cert[0] == '\0',
	    "empty override unsets tls_cert");
}

static void
test_bad(void)
{
	static const struct { const char *text, *want; } v[] = {
		{ "mail_root /m\nfoo bar\n", ":2: foo: unknown key" },
		{ "max_children x\n", ":1: max_children: 'x' is not a number" },
		{ "max_children -1\n", "max_children: '-1' is not a number" },
		{ "max_children 0\n", "max_children: 0 out of range" },
		{ "max_children 99999999999999999999999\n", "is not a number" },
		{ "timeout 10s\n", "timeout: '10s' is not a number" },
		{ "quota 10X\n", "quota: '10X' is not a size" },
		{ "max_message 0\n", "max_message: 0 out of range" },
		{ "mail_root srv/mail\n", "mail_root: 'srv/mail' is a relative path" },
		{ "mail_root\n", "mail_root: value missing" },
		{ "inbox /var/mail/all\n", "inbox: needs %u" },
		{ "inbox /var/mail/%s\n", "inbox: needs %u" },
		{ "user ro/ot\n", "user: 'ro/ot' is not a valid user name" },
		{ "hostname bad_host!\n", "hostname: 'bad_host!' is not a valid host name" },
		{ "listen 127.0.0.1:0 pop3\n", "listen: port 0" },
		{ "listen 127.0.0.1:65536 pop3\n", "listen: bad port" },
		{ "listen 127.0.0.1 pop3\n", "listen: '127.0.0.1' needs ADDR:PORT" },
		{ "listen 127.0.0.1:110 smtp\n", "listen: protocol must be pop3 or imap" },
		{ "listen 127.0.0.1:110 pop3 ssl\n", "listen: third word must be 'tls'" },
		{ "listen 127.0.0.1:110\n", "listen: expected ADDR:PORT" },
		{ "listen 1.2.3:110 pop3\n", "listen: '1.2.3' is not an IPv4" },
		{ "listen ::1:110 pop3\n", "not an IPv4" },
		{ "listen [::g]:110 pop3\n", "'::g' is not an IPv6" },
		{ "listen [::1:110 pop3\n", "must look like [::1]:PORT" },
		{ "listen 127.0.0.1:995 pop3 tls\n", "tls needs tls_cert" },
		{ "tls_cert /c\n", "tls_cert and tls_key must be set together" },
		{ "plaintext_auth maybe\n", "plaintext_auth: 'maybe' is not one of never|loopback|anywhere" },
		{ "log file\n", "log: 'file' is not one of syslog|stderr" },
		{ "debug 1\n", "debug: '1' is not one of no|yes" },
	};
	char longline[CONFIG_LINE_MAX + 100];
	char nine[9 * 32 + 1];
	size_t i;

	for (i = 0; i < ARRAY_LEN(v); i++) {
		int rc = load_text(v[i].text, NULL, 0);

		CHECK(rc < 0 && strstr(err, v[i].want) != NULL && strncmp(err, path, strlen(path)) == 0,
		    "bad line %zu: %s", i, err);
	}
	memset(longline, 'a', sizeof(longline) - 2);
	memcpy(longline, "mail_root /", 11);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	CHECK(load_text(longline, NULL, 0) < 0 && strstr(err, ":1: line longer than"),
	    "over-long line: %s", err);
	memset(longline, 'a', PATH_LEN + 20);
	memcpy(longline, "mail_root /", 11);
	longline[PATH_LEN + 20] = '\0';
	CHECK(load_text(longline, NULL, 0) < 0 && strstr(err, "mail_root: too long"),
	    "over-long path: %s", err);
	nine[0] = '\0';
	for (i = 0; i < 9; i++) {
		size_t n = strlen(nine);

		str_fmt(nine + n, sizeof(nine) - n, "listen 127.0.0.1:%zu pop3\n", 100 + i);
	}
	CHECK(load_text(nine, NULL, 0) < 0 && strstr(err, ":9: listen: more than"),
	    "too many listeners: %s", err);
	CHECK(config_load(&cfg, "/nonexistent/mailnook.conf", NULL, 0, err, sizeof(err)) < 0 &&
	    strstr(err, "/nonexistent/mailnook.conf"), "missing named file is an error");
}

static void
test_args(void)
{
	char conf[160];
	char *argv[] = { "deliver", "-c", conf, "-o", "max_unauth=7", "-d", "--", "-f", "sender",
	    "bob", NULL };
	int first = 0;

	str_copy(conf, sizeof(conf), path);
	load_text("mail_root /m\n", NULL, 0);
	config_from_args(&cfg, 10, argv, &first);
	CHECK(first == 7 && optind == 7 && strcmp(argv[first], "-f") == 0,
	    "verb arguments start after --");
	CHECK(cfg.max_unauth == 7 && cfg.debug && cfg.log_stderr && !cfg.foreground,
	    "-o and -d applied");
	CHECK(strcmp(cfg.mail_root, "/m") == 0, "-c file read");
	cfg.n_listen = 1;
	str_copy(cfg.listen[0].addr, sizeof(cfg.listen[0].addr), "127.0.0.9");
	if (load_text("mail_root /n\nmax_unauth 3\n", NULL, 0) < 0) {
		return;
	}
	cfg.n_listen = 1;
	cfg.file = conf;
	cfg.overrides[0] = argv[4];
	cfg.n_overrides = 1;
	CHECK(config_reload(&cfg, err, sizeof(err)) == 0 && strcmp(cfg.mail_root, "/n") == 0 &&
	    cfg.max_unauth == 7 && cfg.n_listen == 1, "reload reads the file, keeps -o and listeners");
	if (load_text("mail_root relative\n", NULL, 0) == 0) {
		return;
	}
	cfg.file = conf;
	CHECK(config_reload(&cfg, err, sizeof(err)) < 0 && strstr(err, "relative"),
	    "reload reports a bad file");
}

int
main(void)
{
	char cmd[128];

	str_copy(dir, sizeof(dir), "/tmp/mailnook-config.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	str_fmt(path, sizeof(path), "%s/mailnook.conf", dir);
	test_good();
	test_defaults();
	test_overrides();
	test_bad();
	test_args();
	str_fmt(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0) {
		return 1;
	}
	return t_done();
}
