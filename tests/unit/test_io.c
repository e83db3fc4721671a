/*
 * io.c over pipes and socketpairs: line framing, the over-long line rule, NUL bytes,
 * exact reads, read and write deadlines, buffered writes, peer address of a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include "io.h"
#include "util.h"
#include "t.h"

static struct io io;

/* io reading from a pipe that already holds data (writer closed when eof). */
static int
feed(const char *data, size_t n, int eof)
{
	int p[2];

	if (pipe(p) < 0 || write_all(p[1], data, n) < 0) {
		return -1;
	}
	if (eof) {
		close(p[1]);
	}
	io_init(&io, p[0], p[0]);
	io.read_timeout_ms = 200;
	return p[1];
}

static void
test_lines(void)
{
	char line[16];
	size_t len;
	int rc;

	(void)feed("USER a\r\nLIST\nNOOP\r\n", 19, 1);
	rc = io_getline(&io, line, sizeof(line), &len);
	CHECK(rc == IO_OK && len == 6 && strcmp(line, "USER a") == 0, "CRLF line");
	rc = io_getline(&io, line, sizeof(line), &len);
	CHECK(rc == IO_OK && strcmp(line, "LIST") == 0, "bare LF line");
	CHECK(io_pending(&io) == 6, "pending bytes counted (%zu)", io_pending(&io));
	rc = io_getline(&io, line, sizeof(line), &len);
	CHECK(rc == IO_OK && strcmp(line, "NOOP") == 0, "third line");
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_EOF, "EOF after last line");
	CHECK(io.bytes_in == 19, "bytes_in counted");
	close(io.rfd);
}

static void
test_toolong(void)
{
	char big[10000], line[16];
	size_t len;

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	{
		int w = feed(big, sizeof(big), 0);

		CHECK(write_all(w, "QUIT\r\n", 6) == 0, "write after long line");
		close(w);
	}
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_TOOLONG, "long line rejected");
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_OK && strcmp(line, "QUIT") == 0,
	    "next line intact after long line, not its tail");
	close(io.rfd);

	/* exactly cap-1 bytes fit, cap do not */
	(void)feed("123456789012345\n1234567890123456\nok\n", 36, 1);
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_OK && len == 15, "15 bytes fit in 16");
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_TOOLONG, "16 bytes do not");
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_OK && strcmp(line, "ok") == 0,
	    "line after");
	close(io.rfd);
}

static void
test_nul_and_partial(void)
{
	char line[16];
	size_t len;

	(void)feed("LI\0ST\r\nNOO", 10, 1);
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_OK && len == 5 &&
	    memchr(line, '\0', len) != NULL, "NUL kept inside the line for the caller");
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_EOF, "EOF mid-line is EOF");
	close(io.rfd);
}

static void
test_read_exact(void)
{
	char buf[8200];
	char *data = malloc(9000);
	int w;

	memset(data, 'a', 9000);
	memcpy(data, "x\r\n", 3);
	w = feed(data, 9000, 1);
	(void)w;
	{
		char line[8];
		size_t len;

		CHECK(io_getline(&io, line, sizeof(line), &len) == IO_OK, "line before literal");
	}
	CHECK(io_read(&io, buf, sizeof(buf)) == IO_OK && buf[0] == 'a' && buf[8199] == 'a',
	    "io_read across buffer refills");
	CHECK(io_pending(&io) + 8200 + 3 <= 9000, "pending after literal");
	io_discard_input(&io);
	CHECK(io_pending(&io) == 0, "discard input");
	CHECK(io_read(&io, buf, 1000) == IO_EOF, "short literal at EOF");
	close(io.rfd);
	free(data);
}

static void
test_read_timeout(void)
{
	char line[16];
	size_t len;
	int64_t t0;
	int w = feed("", 0, 0);

	t0 = mono_ms();
	CHECK(io_getline(&io, line, sizeof(line), &len) == IO_TIMEOUT, "read timeout");
	CHECK(mono_ms() - t0 >= 190 && mono_ms() - t0 < 2000, "timeout took about 200 ms");
	close(w);
	close(io.rfd);
}

static void
test_writes(void)
{
	int sv[2];
	char buf[64];
	ssize_t n;
	char *big;
	int64_t t0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	io_init(&io, sv[0], sv[0]);
	CHECK(!io.peer_is_loopback && strcmp(io.peer, "unknown") == 0,
	    "a socketpair with no launcher variable is an unknown, remote peer");
	io.read_timeout_ms = 200;
	io_printf(&io, "+OK %d %s\r\n", 3, "x");
	io_puts(&io, "+OK\r\n");
	n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
	CHECK(n < 0 && errno == EAGAIN, "nothing sent before flush");
	CHECK(io_flush(&io) == 0, "flush");
	n = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);
	CHECK(n == 14 && memcmp(buf, "+OK 3 x\r\n+OK\r\n", 14) == 0, "replies sent in one write");
	CHECK(io.bytes_out == 14, "bytes_out");

	/* The peer never reads: the writer must give up, not block. */
	big = calloc(1, 4 << 20);
	t0 = mono_ms();
	io_write(&io, big, 4 << 20);
	CHECK(io_flush(&io) < 0 && io.failed, "write to a peer that never reads fails");
	CHECK(mono_ms() - t0 < 3000, "and gives up within the deadline");
	free(big);
	close(sv[0]);
	close(sv[1]);
}

static void
test_epipe(void)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	close(sv[1]);
	io_init(&io, sv[0], sv[0]);
	io_puts(&io, "+OK\r\n");
	CHECK(io_flush(&io) < 0, "EPIPE reported, not fatal");
	close(sv[0]);
}

/* A pipe under tcpsvd: the address comes from the environment. */
static void
test_peer_env(void)
{
	static const struct {
		const char *env, *want;
		int loopback;
	} t[] = {
		{ "192.0.2.7", "192.0.2.7", 0 },
		{ "::ffff:127.0.0.1", "127.0.0.1", 1 },
		{ "::1", "::1", 1 },
		{ "2001:db8::1", "2001:db8::1", 0 },
		{ "not-an-address", "unknown", 0 },
	};
	size_t i;
	int p[2];

	for (i = 0; i < ARRAY_LEN(t); i++) {
		CHECK(pipe(p) == 0, "pipe");
		setenv("TCPREMOTEIP", t[i].env, 1);
		io_init(&io, p[0], p[1]);
		CHECK(strcmp(io.peer, t[i].want) == 0 && io.peer_is_loopback == t[i].loopback,
		    "TCPREMOTEIP=%s gives %s (loopback %d)", t[i].env, io.peer, io.peer_is_loopback);
		close(p[0]);
		close(p[1]);
	}
	unsetenv("TCPREMOTEIP");
	CHECK(pipe(p) == 0, "pipe");
	io_init(&io, p[0], p[1]);
	CHECK(strcmp(io.peer, "unknown") == 0 && !io.peer_is_loopback,
	    "a pipe and no launcher variable: unknown, remote (%s, loopback %d)", io.peer,
	    io.peer_is_loopback);
	close(p[0]);
	close(p[1]);
}

/* A TCP connection over loopback (family AF_INET or AF_INET6, v4-mapped when dual). */
static void
tcp_peer(int family, const char *bind_addr, const char *connect_addr, const char *want)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct sockaddr *sa;
	socklen_t sl;
	int ls, c, s, one = 0, v6only = 0;
	socklen_t ol = sizeof(one);

	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	ls = socket(family, SOCK_STREAM, 0);
	if (family == AF_INET) {
		a4.sin_family = AF_INET;
		(void)inet_pton(AF_INET, bind_addr, &a4.sin_addr);
		sa = (struct sockaddr *)&a4;
		sl = sizeof(a4);
	} else {
		(void)setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
		a6.sin6_family = AF_INET6;
		(void)inet_pton(AF_INET6, bind_addr, &a6.sin6_addr);
		sa = (struct sockaddr *)&a6;
		sl = sizeof(a6);
	}
	if (ls < 0 || bind(ls, sa, sl) < 0 || listen(ls, 1) < 0 || getsockname(ls, sa, &sl) < 0) {
		/* No IPv6 on this host: nothing to test. */
		printf("# skip: cannot listen on %s\n", bind_addr);
		if (ls >= 0) {
			close(ls);
		}
		return;
	}
	if (strchr(connect_addr, ':') == NULL) {
		a4.sin_family = AF_INET;
		a4.sin_port = family == AF_INET ? a4.sin_port : a6.sin6_port;
		(void)inet_pton(AF_INET, connect_addr, &a4.sin_addr);
		c = socket(AF_INET, SOCK_STREAM, 0);
		sa = (struct sockaddr *)&a4;
		sl = sizeof(a4);
	} else {
		(void)inet_pton(AF_INET6, connect_addr, &a6.sin6_addr);
		c = socket(AF_INET6, SOCK_STREAM, 0);
	}
	if (c < 0 || connect(c, sa, sl) < 0 || (s = accept(ls, NULL, NULL)) < 0) {
		CHECK(0, "connect to %s", connect_addr);
		return;
	}
	io_init(&io, s, s);
	CHECK(strcmp(io.peer, want) == 0 && io.peer_is_loopback, "TCP peer %s is %s (%s)",
	    connect_addr, want, io.peer);
	CHECK(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, &ol) == 0 && one, "TCP_NODELAY set");
	close(c);
	close(s);
	close(ls);
}

int
main(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	unsetenv("TCPREMOTEIP");
	unsetenv("REMOTE_HOST");
	test_lines();
	test_toolong();
	test_nul_and_partial();
	test_read_exact();
	test_read_timeout();
	test_writes();
	test_epipe();
	test_peer_env();
	tcp_peer(AF_INET, "127.0.0.1", "127.0.0.1", "127.0.0.1");
	tcp_peer(AF_INET6, "::", "127.0.0.1", "127.0.0.1");
	tcp_peer(AF_INET6, "::1", "::1", "::1");
	return t_done();
}
