/*
 * The connection I/O layer: non-blocking fds driven by poll() deadlines, a bounded line
 * reader, an exact-count reader, and a write buffer sent in large writes. The transport
 * below is plain fds or TLS (tls.c). Runs in the session process, never as root.
 */
#include "io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static ssize_t
plain_recv(struct io *io, void *buf, size_t len)
{
	return io_fd_read(io, buf, len);
}

static int
plain_send(struct io *io, const void *buf, size_t len)
{
	return io_fd_write(io, buf, len);
}

static int
plain_flush(struct io *io)
{
	(void)io;
	return 0;
}

static void
plain_close(struct io *io)
{
	(void)io;
}

static const struct io_transport plain_transport = {
	plain_recv, plain_send, plain_flush, plain_close
};

/*
 * The stop signal of a session process (io_stop_on): set by its handler. The signal is
 * blocked except inside ppoll, so it cannot slip in between the check and the wait.
 */
static volatile sig_atomic_t io_stopped;
static int io_have_wait_mask;
static sigset_t io_wait_mask;

static void
io_on_stop(int sig)
{
	(void)sig;
	io_stopped = 1;
}

int
io_stop_on(int sig)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = io_on_stop;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigaction(sig, &sa, NULL) < 0 || sigprocmask(SIG_BLOCK, &set, &io_wait_mask) < 0) {
		return -1;
	}
	sigdelset(&io_wait_mask, sig);
	io_have_wait_mask = 1;
	return 0;
}

int
io_wait_fd(int fd, int for_write, int timeout_ms)
{
	struct pollfd p;
	struct timespec ts;
	int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
	int wait = timeout_ms;
	int r;

	p.fd = fd;
	p.events = for_write ? POLLOUT : POLLIN;
	for (;;) {
		if (io_stopped) {
			return 0;
		}
		p.revents = 0;
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (long)(wait % 1000) * 1000000L;
		r = ppoll(&p, 1, wait < 0 ? NULL : &ts, io_have_wait_mask ? &io_wait_mask : NULL);
		if (r > 0) {
			return 1;
		}
		if (r == 0) {
			return 0;
		}
		if (errno != EINTR) {
			return -1;
		}
		/* A signal must not stretch the deadline. */
		if (deadline >= 0) {
			int64_t left = deadline - mono_ms();

			wait = left > 0 ? (int)left : 0;
		}
	}
}

ssize_t
io_fd_read(struct io *io, void *buf, size_t len)
{
	ssize_t n;
	int r;

	for (;;) {
		n = read(io->rfd, buf, len);
		if (n >= 0) {
			return n;
		}
		if (errno == EINTR) {
			continue;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			return -1;
		}
		r = io_wait_fd(io->rfd, 0, io_read_wait_ms(io));
		if (r == 0) {
			errno = ETIMEDOUT;
		}
		if (r <= 0) {
			return -1;
		}
	}
}

/* A peer that reads nothing for as long as it may stay idle is gone as well. */
static int
io_write_wait(const struct io *io)
{
	int ms = WRITE_TIMEOUT * 1000;

	return io->read_timeout_ms > 0 && io->read_timeout_ms < ms ? io->read_timeout_ms : ms;
}

int
io_fd_write(struct io *io, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;
	int r;

	while (len > 0) {
		n = write(io->wfd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			return -1;
		}
		r = io_wait_fd(io->wfd, 1, io_write_wait(io));
		if (r == 0) {
			errno = ETIMEDOUT;
		}
		if (r <= 0) {
			return -1;
		}
	}
	return 0;
}

static int
addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;

		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;

		return IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	}
	return 0;
}

/* Turn a v4-mapped IPv6 address (::ffff:a.b.c.d) into plain IPv4, in place. */
static void
unmap_v4(struct sockaddr_storage *ss)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;

	if (ss->ss_family != AF_INET6) {
		return;
	}
	memcpy(&a6, ss, sizeof(a6));
	if (!IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
		return;
	}
	memset(&a4, 0, sizeof(a4));
	a4.sin_family = AF_INET;
	a4.sin_port = a6.sin6_port;
	memcpy(&a4.sin_addr, &a6.sin6_addr.s6_addr[12], 4);
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &a4, sizeof(a4));
}

static int
addr_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	const void *src;

	if (ss->ss_family == AF_INET) {
		src = &((const struct sockaddr_in *)(const void *)ss)->sin_addr;
	} else if (ss->ss_family == AF_INET6) {
		src = &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr;
	} else {
		return -1;
	}
	return inet_ntop(ss->ss_family, src, buf, (socklen_t)cap) == NULL ? -1 : 0;
}

/* Parse a textual address from the environment (tcpsvd, inetd wrappers). */
static int
addr_parse(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		unmap_v4(ss);
		return 0;
	}
	return -1;
}

static void
io_find_peer(struct io *io)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const char *env;

	memset(&ss, 0, sizeof(ss));
	if (getpeername(io->rfd, (struct sockaddr *)(void *)&ss, &sl) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		unmap_v4(&ss);
	} else if (((env = getenv("TCPREMOTEIP")) != NULL ||
	    (env = getenv("REMOTE_HOST")) != NULL) && addr_parse(env, &ss) == 0) {
		/* ss filled from the launcher's environment */
	} else {
		/*
		 * A pipe or socketpair with no launcher naming the peer: socat or a wrapper
		 * may be relaying a remote client, so an unknown peer counts as remote.
		 */
		(void)str_copy(io->peer, sizeof(io->peer), "unknown");
		io->peer_is_loopback = 0;
		return;
	}
	if (addr_text(&ss, io->peer, sizeof(io->peer)) < 0) {
		(void)str_copy(io->peer, sizeof(io->peer), "unknown");
	}
	io->peer_is_loopback = addr_is_loopback(&ss);
}

static void
fd_setup(int fd)
{
	int one = 1;
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		log_warn("fcntl O_NONBLOCK");
	}
	/* Replies must never wait for the client's delayed ACK (Nagle). */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 &&
	    errno != ENOTSOCK && errno != EOPNOTSUPP && errno != ENOPROTOOPT) {
		log_debug("TCP_NODELAY: %s", strerror(errno));
	}
}

void
io_init(struct io *io, int rfd, int wfd)
{
	/* the buffers are written before they are read: untouched, their pages cost nothing */
	memset(io, 0, offsetof(struct io, rbuf));
	io->rfd = rfd;
	io->wfd = wfd;
	io->tr = &plain_transport;
	io->read_timeout_ms = POP3_TIMEOUT * 1000;
	fd_setup(rfd);
	if (wfd != rfd) {
		fd_setup(wfd);
	}
	io_find_peer(io);
}

void
io_set_timeout(struct io *io, unsigned seconds)
{
	if (seconds == 0 || seconds > INT32_MAX / 1000) {
		seconds = POP3_TIMEOUT;
	}
	io->read_timeout_ms = (int)(seconds * 1000);
	io->deadline_ms = 0;
}

void
io_set_deadline(struct io *io, unsigned seconds)
{
	io->deadline_ms = mono_ms() + (int64_t)seconds * 1000;
}

int
io_read_wait_ms(const struct io *io)
{
	int64_t left;

	if (io->deadline_ms == 0) {
		return io->read_timeout_ms;
	}
	left = io->deadline_ms - mono_ms();
	if (left <= 0) {
		return 0;
	}
	return left < io->read_timeout_ms ? (int)left : io->read_timeout_ms;
}

/* Refill rbuf (only when empty); IO_OK or the reason nothing came. */
static int
io_fill(struct io *io)
{
	ssize_t n;

	if (io->wlen > 0 && io_flush(io) < 0) {
		return IO_ERR;
	}
	n = io->tr->recv(io, io->rbuf, sizeof(io->rbuf));
	if (n == 0) {
		return IO_EOF;
	}
	if (n < 0) {
		return errno == ETIMEDOUT ? IO_TIMEOUT : IO_ERR;
	}
	io->rpos = 0;
	io->rlen = (size_t)n;
	io->bytes_in += (uint64_t)n;
	return IO_OK;
}

int
io_getpart(struct io *io, char *buf, size_t cap, size_t *len)
{
	size_t n = 0, take, i;
	unsigned char *lf;
	int rc;

	for (;;) {
		if (io->rpos == io->rlen && (rc = io_fill(io)) != IO_OK) {
			return rc;
		}
		i = io->rlen - io->rpos;
		lf = memchr(io->rbuf + io->rpos, '\n', i);
		take = lf != NULL ? (size_t)(lf - (io->rbuf + io->rpos)) : i;
		if (take > cap - n) {
			take = cap - n;
			lf = NULL;
		}
		memcpy(buf + n, io->rbuf + io->rpos, take);
		n += take;
		/* Lines carry passwords: leave no copy behind in the buffer. */
		i = take + (lf != NULL);
		wipe(io->rbuf + io->rpos, i);
		io->rpos += i;
		if (lf != NULL || n == cap) {
			*len = n;
			return lf != NULL ? IO_OK : IO_MORE;
		}
	}
}

int
io_getline(struct io *io, char *line, size_t cap, size_t *len)
{
	size_t n;
	int rc, toolong = 0;

	/* A line too long is read to its LF all the same: the rest must not become a command. */
	while ((rc = io_getpart(io, line, cap - 1, &n)) == IO_MORE) {
		toolong = 1;
	}
	if (rc != IO_OK || toolong) {
		if (toolong) {
			wipe(line, cap);
		}
		return rc != IO_OK ? rc : IO_TOOLONG;
	}
	if (n > 0 && line[n - 1] == '\r') {
		n--;
	}
	line[n] = '\0';
	*len = n;
	return IO_OK;
}

int
io_read(struct io *io, void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t take;
	int rc;

	while (n > 0) {
		if (io->rpos == io->rlen && (rc = io_fill(io)) != IO_OK) {
			return rc;
		}
		take = io->rlen - io->rpos;
		if (take > n) {
			take = n;
		}
		memcpy(p, io->rbuf + io->rpos, take);
		/* Literals carry passwords too (LOGIN, AUTHENTICATE). */
		wipe(io->rbuf + io->rpos, take);
		io->rpos += take;
		p += take;
		n -= take;
	}
	return IO_OK;
}

size_t
io_pending(const struct io *io)
{
	return io->rlen - io->rpos;
}

void
io_discard_input(struct io *io)
{
	io->rpos = 0;
	io->rlen = 0;
}

/* Send the buffer through the transport; sticky failure. */
static void
io_drain(struct io *io)
{
	if (io->wlen == 0 || io->failed) {
		io->wlen = 0;
		return;
	}
	if (io->tr->send(io, io->wbuf, io->wlen) < 0) {
		if (errno == ETIMEDOUT) {
			log_warnx("write timeout to %s: client stopped reading", io->peer);
		} else if (errno == EPIPE || errno == ECONNRESET) {
			log_info("connection closed by %s", io->peer);
		} else {
			log_warn("write to %s", io->peer);
		}
		io->failed = 1;
	}
	io->wlen = 0;
}

void
io_write(struct io *io, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t room;

	io->bytes_out += n;
	while (n > 0 && !io->failed) {
		room = sizeof(io->wbuf) - io->wlen;
		if (room == 0) {
			io_drain(io);
			continue;
		}
		if (room > n) {
			room = n;
		}
		memcpy(io->wbuf + io->wlen, p, room);
		io->wlen += room;
		p += room;
		n -= room;
	}
}

void
io_puts(struct io *io, const char *s)
{
	io_write(io, s, strlen(s));
}

void
io_printf(struct io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	io_vprintf(io, fmt, ap);
	va_end(ap);
}

void
io_vprintf(struct io *io, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);

	if (n < 0) {
		io->failed = 1;
		return;
	}
	if ((size_t)n >= sizeof(buf)) {
		log_warnx("io_printf: reply truncated");
		n = (int)sizeof(buf) - 1;
	}
	io_write(io, buf, (size_t)n);
}

int
io_flush(struct io *io)
{
	io_drain(io);
	if (!io->failed && io->tr->flush(io) < 0) {
		io->failed = 1;
	}
	return io->failed ? -1 : 0;
}

void
io_close(struct io *io)
{
	(void)io_flush(io);
	io->tr->close(io);
}
