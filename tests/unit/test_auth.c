/* Unit tests of auth.c: SHA-512 crypt and bcrypt vectors, the passwd file, the throttle. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "name.h"
#include "t.h"
#include "util.h"

static char dir[64];
static struct config cfg;

/* Vectors from the SHA-crypt specification: default and explicit rounds, long salt,
 * rounds below the minimum. */
static void
test_sha512_vectors(void)
{
	static const struct { const char *key, *setting, *out; } v[] = {
		{ "Hello world!", "$6$saltstring",
		  "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1" },
		{ "Hello world!", "$6$rounds=10000$saltstringsaltstring",
		  "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v." },
		{ "This is just a test", "$6$rounds=5000$toolongsaltstring",
		  "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0" },
		{ "the minimum number is still observed", "$6$rounds=10$roundstoolow",
		  "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX." },
	};
	char out[160];
	size_t i;

	for (i = 0; i < ARRAY_LEN(v); i++) {
		int rc = auth_sha512_crypt(v[i].key, v[i].setting, out, sizeof(out));

		CHECK(rc == 0 && strcmp(out, v[i].out) == 0, "sha512 crypt vector %zu", i);
	}
	CHECK(auth_sha512_crypt("x", "$5$abc", out, sizeof(out)) < 0, "sha512 crypt refuses $5$");
	CHECK(auth_sha512_crypt("x", "$6$rounds=x$abc", out, sizeof(out)) < 0,
	    "sha512 crypt refuses bad rounds");
	CHECK(auth_sha512_crypt("x", "$6$abc", out, 40) < 0, "sha512 crypt refuses a short buffer");
}

static void
write_passwd(const char *text)
{
	FILE *f = fopen(cfg.passwd_file, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror("write passwd");
		exit(1);
	}
}

static void
test_check(void)
{
	struct auth_user u;
	char longpass[PASS_MAX + 2];

	/* alice: "Hello world!" (spec vector); carol: bcrypt "U*U" (crypt_blowfish vector). */
	write_passwd("# comment\n\nalice:$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1:quota=10M\n"
	    "broken line\n"
	    "carol:$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\n"
	    "dave:*\n");
	memset(&u, 0, sizeof(u));
	CHECK(auth_check(&cfg, "alice", "Hello world!", &u) == AUTH_OK, "sha512 password accepted");
	CHECK(strcmp(u.name, "alice") == 0 && u.quota == 10u << 20, "quota option read");
	CHECK(auth_check(&cfg, "alice", "Hello world?", &u) == AUTH_FAIL, "wrong password refused");
	CHECK(auth_check(&cfg, "alice", "", &u) == AUTH_FAIL, "empty password refused");
	CHECK(auth_check(&cfg, "nobody-here", "Hello world!", &u) == AUTH_FAIL, "unknown user refused");
	CHECK(auth_check(&cfg, "../alice", "Hello world!", &u) == AUTH_FAIL, "invalid name refused");
	CHECK(auth_check(&cfg, "dave", "*", &u) == AUTH_FAIL, "disabled account refused");
	memset(longpass, 'a', sizeof(longpass) - 1);
	longpass[sizeof(longpass) - 1] = '\0';
	CHECK(auth_check(&cfg, "alice", longpass, &u) == AUTH_FAIL, "over-long password refused");
#if WITH_LIBC_CRYPT
	CHECK(auth_check(&cfg, "carol", "U*U", &u) == AUTH_OK && u.quota == cfg.quota,
	    "bcrypt password accepted, default quota");
	CHECK(auth_check(&cfg, "carol", "U*V", &u) == AUTH_FAIL, "bcrypt wrong password refused");
#else
	CHECK(auth_check(&cfg, "carol", "U*U", &u) == AUTH_FAIL,
	    "bcrypt refused without a libc crypt()");
#endif
	CHECK(auth_lookup(&cfg, "alice", &u) == AUTH_OK, "lookup known user");
	CHECK(auth_lookup(&cfg, "eve", &u) == AUTH_FAIL, "lookup unknown user");
	str_fmt(cfg.passwd_file, sizeof(cfg.passwd_file), "%s/missing", dir);
	CHECK(auth_check(&cfg, "alice", "Hello world!", &u) == AUTH_ERR, "missing file is AUTH_ERR");
	CHECK(auth_lookup(&cfg, "alice", &u) == AUTH_ERR, "lookup on missing file is AUTH_ERR");
	str_fmt(cfg.passwd_file, sizeof(cfg.passwd_file), "%s/passwd", dir);
}

static void
test_set_password(void)
{
	struct auth_user u;
	struct stat st;
	char err[256], buf[1024];
	FILE *f;
	size_t n;

	write_passwd("# users\nbob:$6$x$y:quota=1G\nalice:$6$old$old\n");
	CHECK(auth_set_password(&cfg, "bob", "new secret", err, sizeof(err)) == 0, "set bob");
	CHECK(auth_set_password(&cfg, "zed", "zed pass", err, sizeof(err)) == 0, "add zed");
	CHECK(auth_check(&cfg, "bob", "new secret", &u) == AUTH_OK && u.quota == 1ull << 30,
	    "bob's new password works, option kept");
	CHECK(auth_check(&cfg, "zed", "zed pass", &u) == AUTH_OK, "zed's password works");
	f = fopen(cfg.passwd_file, "r");
	n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[n] = '\0';
	if (f) {
		fclose(f);
	}
	CHECK(strncmp(buf, "# users\nbob:$6$", 15) == 0 && strstr(buf, "\nalice:$6$old$old\nzed:$6$"),
	    "other lines kept in order");
	CHECK(stat(cfg.passwd_file, &st) == 0 && (st.st_mode & 0777) == 0640, "mode 0640");
	CHECK(auth_set_password(&cfg, "a:b", "x", err, sizeof(err)) < 0, "bad name refused");
	CHECK(auth_set_password(&cfg, "bob", "", err, sizeof(err)) < 0, "empty password refused");
	CHECK(auth_set_password(&cfg, "bob", "a\nb", err, sizeof(err)) < 0, "newline refused");
}

static void
test_throttle(void)
{
	char addr[32];
	unsigned i, ms[7];
	FILE *f;

	for (i = 0; i < ARRAY_LEN(ms); i++) {
		ms[i] = auth_fail_record(&cfg, "192.0.2.1");
	}
	CHECK(ms[0] == FAIL_DELAY_BASE_MS && ms[1] == 2 * FAIL_DELAY_BASE_MS &&
	    ms[2] == 4 * FAIL_DELAY_BASE_MS, "delay doubles: %u %u %u", ms[0], ms[1], ms[2]);
	CHECK(ms[6] == FAIL_DELAY_MAX_MS, "delay capped at %u", ms[6]);
	CHECK(auth_fail_record(&cfg, "192.0.2.2") == FAIL_DELAY_BASE_MS, "other address unaffected");
	auth_succeeded(&cfg, "192.0.2.1");
	CHECK(auth_fail_record(&cfg, "192.0.2.1") == FAIL_DELAY_BASE_MS, "success forgets failures");
	for (i = 0; i < 3 * FAIL_TABLE_SLOTS; i++) {
		str_fmt(addr, sizeof(addr), "198.51.100.%u", i);
		auth_fail_record(&cfg, addr);
	}
	CHECK(auth_fail_record(&cfg, "198.51.100.1") == FAIL_DELAY_BASE_MS,
	    "table full: oldest entries recycled");
	str_fmt(addr, sizeof(addr), "198.51.100.%u", 3 * FAIL_TABLE_SLOTS - 1);
	CHECK(auth_fail_record(&cfg, addr) == 2 * FAIL_DELAY_BASE_MS, "recent entry kept");
	str_fmt(addr, sizeof(addr), "%s/run/%s", dir, FAIL_FILE_NAME);
	f = fopen(addr, "w");
	if (f) {
		fputs("garbage", f);
		fclose(f);
	}
	CHECK(auth_fail_record(&cfg, "192.0.2.9") == FAIL_DELAY_BASE_MS &&
	    auth_fail_record(&cfg, "192.0.2.9") == 2 * FAIL_DELAY_BASE_MS, "corrupt table rebuilt");
	str_fmt(cfg.runtime_dir, sizeof(cfg.runtime_dir), "%s/no/such/dir", dir);
	CHECK(auth_fail_record(&cfg, "192.0.2.9") == FAIL_DELAY_BASE_MS &&
	    auth_fail_record(&cfg, "192.0.2.9") == FAIL_DELAY_BASE_MS, "missing runtime dir: base delay");
}

static void
test_names(void)
{
	static const struct { const char *name; int ok; } v[] = {
		{ "alice", 1 }, { "a.b-c_d+e", 1 }, { "Bob9", 1 }, { "", 0 }, { ".x", 0 },
		{ "-x", 0 }, { "a/b", 0 }, { "a:b", 0 }, { "a b", 0 }, { "..", 0 }, { "\xc3\xa9", 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
	};
	size_t i;

	for (i = 0; i < ARRAY_LEN(v); i++) {
		CHECK(name_user_valid(v[i].name) == v[i].ok, "name \"%s\"", v[i].name);
	}
}

int
main(void)
{
	char run[80];

	str_copy(dir, sizeof(dir), "/tmp/mailnook-auth.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	str_fmt(run, sizeof(run), "%s/run", dir);
	mkdir(run, 0700);
	memset(&cfg, 0, sizeof(cfg));
	str_fmt(cfg.passwd_file, sizeof(cfg.passwd_file), "%s/passwd", dir);
	str_copy(cfg.runtime_dir, sizeof(cfg.runtime_dir), run);
	str_copy(cfg.run_user, sizeof(cfg.run_user), "nobody");
	cfg.quota = 5000;
	test_sha512_vectors();
	test_check();
	test_set_password();
	test_names();
	test_throttle();
	str_fmt(run, sizeof(run), "rm -rf %s", dir);
	if (system(run) != 0) {
		return 1;
	}
	return t_done();
}
