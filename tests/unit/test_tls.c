/*
 * Unit tests of tls.c, pem.c and cert.c: a generated certificate loads, python's ssl
 * module completes a verified TLS 1.2 handshake against tls_start over a socketpair,
 * pipelined input larger than the io buffer does not stall replies, and garbage, a
 * truncated ClientHello and a silent peer all end the handshake cleanly.
 */
#include "params.h"

#if WITH_TLS
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cert.h"
#include "io.h"
#include "log.h"
#include "t.h"
#include "tls.h"
#include "util.h"

/* The client: argv fd mode cafile. Exit 0 when every reply was as expected. */
static const char client_py[] =
    "import socket, ssl, sys\n"
    "s = socket.socket(fileno=int(sys.argv[1]))\n"
    "ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n"
    "ctx.load_verify_locations(sys.argv[3])\n"
    "t = ctx.wrap_socket(s, server_hostname='localhost')\n"
    "assert t.version() == 'TLSv1.2', t.version()\n"
    "f = t.makefile('rwb')\n"
    "n = 1 if sys.argv[2] == 'echo' else 1000\n"
    "f.write(b''.join(b'line %04d\\r\\n' % i for i in range(n)))\n"
    "f.flush()\n"
    "for i in range(n):\n"
    "    got = f.readline()\n"
    "    assert got == b'+OK line %04d\\r\\n' % i, got\n"
    "t.close()\n";

static char dir[] = "/tmp/mailnook-tls-XXXXXX";
static char cert_path[PATH_LEN], key_path[PATH_LEN], cert2[PATH_LEN], key2[PATH_LEN];

static void
make_certs(void)
{
	static const char *const names[] = { "localhost", "127.0.0.1", "::1" };
	char fpr[96], err[256];
	struct stat st;
	int rc;
	const char *made = mkdtemp(dir);

	CHECK(made != NULL, "temporary directory");
	str_fmt(cert_path, sizeof(cert_path), "%s/cert.pem", dir);
	str_fmt(key_path, sizeof(key_path), "%s/key.pem", dir);
	str_fmt(cert2, sizeof(cert2), "%s/sub/cert2.pem", dir);
	str_fmt(key2, sizeof(key2), "%s/sub/key2.pem", dir);
	rc = cert_create(cert_path, key_path, names, 3, 30, 0, fpr, err, sizeof(err));
	CHECK(rc == 0, "cert_create: %s", rc == 0 ? "ok" : err);
	CHECK(strlen(fpr) == 95 && fpr[2] == ':', "fingerprint printed as hex pairs");
	CHECK(stat(key_path, &st) == 0 && (st.st_mode & 0777) == 0600, "key file is 0600");
	rc = cert_create(cert_path, key_path, names, 3, 30, 0, fpr, err, sizeof(err));
	CHECK(rc == -1, "existing files are kept without force");
	rc = cert_create(cert2, key2, names, 1, 30, 0, fpr, err, sizeof(err));
	CHECK(rc == 0, "second pair in a new directory: %s", rc == 0 ? "ok" : err);
	rc = cert_create(cert2, key2, names, 1, 30, 1, fpr, err, sizeof(err));
	CHECK(rc == 0, "force replaces");
}

static void
test_names(void)
{
	static const char *const bad[] = { "a b" };
	static const char *const many[CERT_NAMES_MAX + 1] = { "a", "b", "c", "d", "e", "f",
	    "g", "h", "i" };
	char fpr[96], err[256], c[PATH_LEN], k[PATH_LEN];
	int rc;

	str_fmt(c, sizeof(c), "%s/x.pem", dir);
	str_fmt(k, sizeof(k), "%s/y.pem", dir);
	rc = cert_create(c, k, bad, 1, 30, 0, fpr, err, sizeof(err));
	CHECK(rc == -1, "name with a space refused");
	rc = cert_create(c, k, many, CERT_NAMES_MAX + 1, 30, 0, fpr, err, sizeof(err));
	CHECK(rc == -1, "too many names refused");
	CHECK(access(k, F_OK) == -1, "nothing written on refusal");
}

static void
test_load(void)
{
	char err[512];
	struct tls_server *srv;

	srv = tls_load(cert_path, key2, err, sizeof(err));
	CHECK(srv == NULL && strstr(err, "does not match") != NULL,
	    "key of another certificate refused: %s", err);
	srv = tls_load(cert_path, "/nonexistent/key.pem", err, sizeof(err));
	CHECK(srv == NULL && strstr(err, "nonexistent") != NULL, "missing key file named");
	srv = tls_load(key_path, key_path, err, sizeof(err));
	CHECK(srv == NULL, "a key file as chain refused: %s", err);
}

/* Run the python client on one end; serve lines on the other. */
static void
test_python(const struct tls_server *srv, const char *mode, int lines)
{
	struct io io;
	char line[64], reply[80], fdtxt[16];
	int sv[2], status = -1, n = 0, ok = 1, rc;
	size_t len;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		CHECK(0, "socketpair");
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		str_fmt(fdtxt, sizeof(fdtxt), "%d", sv[1]);
		execlp("python3", "python3", "-c", client_py, fdtxt, mode, cert_path,
		    (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	io_init(&io, sv[0], sv[0]);
	io_set_timeout(&io, 10);
	rc = tls_start(&io, srv, 10);
	CHECK(rc == 0 && io.secure == 1, "%s: handshake with python ssl", mode);
	CHECK(strncmp(tls_describe(&io), "TLSv1.2 ECDHE-ECDSA-", 20) == 0,
	    "%s: described as %s", mode, tls_describe(&io));
	while (rc == 0 && io_getline(&io, line, sizeof(line), &len) == IO_OK) {
		ok &= len == 9;
		str_fmt(reply, sizeof(reply), "+OK %s\r\n", line);
		io_puts(&io, reply);
		n++;
	}
	io_close(&io);
	close(sv[0]);
	waitpid(pid, &status, 0);
	CHECK(n == lines && ok, "%s: %d lines served (want %d)", mode, n, lines);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: client saw every reply",
	    mode);
}

/* The peer sends bytes (possibly none) and then waits or hangs up. */
static void
test_bad_peer(const struct tls_server *srv, const char *what, const void *bytes,
    size_t n, int hang_up, int64_t max_ms)
{
	struct io io;
	int sv[2], rc;
	int64_t t0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		CHECK(0, "socketpair");
		return;
	}
	rc = n == 0 ? 0 : write_all(sv[1], bytes, n);
	CHECK(rc == 0, "%s: sent", what);
	if (hang_up) {
		close(sv[1]);
	}
	io_init(&io, sv[0], sv[0]);
	t0 = mono_ms();
	rc = tls_start(&io, srv, 1);
	t0 = mono_ms() - t0;
	CHECK(rc == -1 && io.secure == 0 && io.failed, "%s: handshake refused", what);
	CHECK(t0 < max_ms, "%s: ended in %lld ms (limit %lld)", what, (long long)t0,
	    (long long)max_ms);
	close(sv[0]);
	if (!hang_up) {
		close(sv[1]);
	}
}

static void
test_bad_peers(const struct tls_server *srv)
{
	static const char garbage[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
	/* A TLS 1.2 ClientHello record header promising 512 bytes, cut after 11. */
	static const unsigned char hello_cut[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
	    0x00, 0x01, 0xfc, 0x03, 0x03 };
	/* SSL 3.0 ClientHello with no suites: version refused before anything else. */
	static const unsigned char ssl3[] = { 0x16, 0x03, 0x00, 0x00, 0x2d, 0x01, 0x00, 0x00,
	    0x29, 0x03, 0x00 };

	test_bad_peer(srv, "garbage", garbage, sizeof(garbage) - 1, 0, 900);
	test_bad_peer(srv, "truncated ClientHello", hello_cut, sizeof(hello_cut), 1, 900);
	test_bad_peer(srv, "SSL 3.0 hello", ssl3, sizeof(ssl3), 1, 900);
	test_bad_peer(srv, "silent client", NULL, 0, 0, 2500);
}

static void
remove_certs(void)
{
	char sub[PATH_LEN];

	unlink(cert_path);
	unlink(key_path);
	unlink(cert2);
	unlink(key2);
	str_fmt(sub, sizeof(sub), "%s/sub", dir);
	rmdir(sub);
	rmdir(dir);
}

int
main(void)
{
	struct tls_server *srv;
	char err[512];

	signal(SIGPIPE, SIG_IGN);
	log_open("test_tls", 1);
	make_certs();
	test_names();
	test_load();
	srv = tls_load(cert_path, key_path, err, sizeof(err));
	CHECK(srv != NULL, "tls_load of the generated pair: %s", srv ? "ok" : err);
	if (srv != NULL) {
		test_python(srv, "echo", 1);
		test_python(srv, "pipeline", 1000);
		test_bad_peers(srv);
		tls_free(srv);
	}
	remove_certs();
	return t_done();
}

#else
#include <stdio.h>

/* Built with TLS=0: nothing to test. */
int
main(void)
{
	printf("TLS not built in\n");
	return 0;
}
#endif
