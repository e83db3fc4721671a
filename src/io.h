/*
 * Every byte of a client connection goes through here: buffered reads with a bounded
 * line reader and an exact-count reader (IMAP literals), buffered writes, poll()
 * deadlines on both directions, and a pluggable transport (plain fds, or TLS in tls.c).
 */
#ifndef MAILNOOK_IO_H
#define MAILNOOK_IO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "params.h"

/* Small enough that struct io's fields and the first bytes of rbuf and of wbuf (all a short
 * command touches) mostly share one page; a literal takes a few more reads. */
#define IO_RBUF 1024
/* Large enough that one RETR chunk is one TCP write; small enough for a router. */
#define IO_WBUF 16384

/* Results of io_getline/io_read. */
enum io_rc {
	IO_OK = 0,
	IO_EOF = -1,		/* peer closed */
	IO_TIMEOUT = -2,	/* no byte within the read timeout */
	IO_TOOLONG = -3,	/* line exceeded cap: consumed to its end, not returned */
	IO_ERR = -4,		/* transport error (errno or TLS alert logged) */
	IO_MORE = -5		/* io_getpart: the buffer is full, the line goes on */
};

struct io;

/* A transport moves bytes between the buffers and the peer. */
struct io_transport {
	/* Read up to len bytes, waiting at most until the io's read deadline:
	 * >0 bytes, 0 at orderly EOF, -1 on error (errno ETIMEDOUT on timeout). */
	ssize_t (*recv)(struct io *io, void *buf, size_t len);
	/* Send exactly len bytes within the write timeout; 0 or -1. */
	int (*send)(struct io *io, const void *buf, size_t len);
	/* Push out anything the transport itself buffers (TLS records); 0 or -1. */
	int (*flush)(struct io *io);
	/* Orderly shutdown (TLS close_notify); errors ignored. */
	void (*close)(struct io *io);
};

struct io {
	int rfd, wfd;			/* the same socket twice, or stdin/stdout under inetd */
	int read_timeout_ms;		/* idle limit for one read */
	int64_t deadline_ms;		/* mono_ms() no read waits past, 0 none (login) */
	const struct io_transport *tr;
	void *tr_ctx;			/* transport state (struct tls_session *) */
	int failed;			/* sticky: a write failed, stop talking */
	uint64_t bytes_in, bytes_out;	/* application bytes, for the logout line */
	char peer[ADDR_LEN];		/* client address text, "unknown" if none */
	int peer_is_loopback;
	int secure;			/* 1 once TLS is active */
	size_t rpos, rlen;
	size_t wlen;
	/* last: io_init clears only what comes before them */
	unsigned char rbuf[IO_RBUF];
	unsigned char wbuf[IO_WBUF];
};

/* Set up io on fds with the plain transport: fds made non-blocking, TCP_NODELAY on
 * sockets; peer from getpeername() (v4-mapped shown as IPv4), else $TCPREMOTEIP or
 * $REMOTE_HOST, else "unknown", which counts as remote (not loopback). */
void io_init(struct io *io, int rfd, int wfd);
/* Idle limit for each read from now on (0 means the RFC 1939 minimum, POP3_TIMEOUT);
 * this also ends any deadline (the login it bounded is over). */
void io_set_timeout(struct io *io, unsigned seconds);
/* An absolute limit, seconds from now, on all reads together: the whole login, however
 * many bytes or NOOPs arrive, must be done by then (IO_TIMEOUT after it). */
void io_set_deadline(struct io *io, unsigned seconds);
/* How long the next read may wait: the idle limit, or less when the deadline is near. */
int io_read_wait_ms(const struct io *io);

/* Read one line ending in LF (CR before it removed) into line (capacity cap >= 2, NUL
 * terminated, *len without terminator; it may contain NUL bytes: callers check).
 * A line longer than cap-1 is read to its LF and IO_TOOLONG returned. Buffered output
 * is flushed before waiting for input, so pipelined replies go out in order. */
int io_getline(struct io *io, char *line, size_t cap, size_t *len);
/* The next piece of a line into buf (cap bytes, no terminator): IO_OK with *len bytes once
 * the line's LF is consumed (the LF is not stored, a CR before it is), IO_MORE with *len ==
 * cap when buf is full and the line goes on (at once, consuming nothing, for cap 0), or an
 * error. */
int io_getpart(struct io *io, char *buf, size_t cap, size_t *len);
/* Read exactly n bytes (a literal); IO_OK or an error. */
int io_read(struct io *io, void *buf, size_t n);
/* Bytes received but not yet consumed: nonzero at STARTTLS means injection. */
size_t io_pending(const struct io *io);
/* Drop buffered input (after a TLS upgrade, forget everything said before). */
void io_discard_input(struct io *io);

/* Buffered output; errors are sticky in io->failed and reported by io_flush. */
void io_write(struct io *io, const void *buf, size_t n);
void io_puts(struct io *io, const char *s);
void io_printf(struct io *io, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* io_printf with a va_list; a result over 1023 bytes is cut there and logged. */
void io_vprintf(struct io *io, const char *fmt, va_list ap);
/* Send everything buffered; 0 or -1. Call before reading the next command. */
int io_flush(struct io *io);
/* Flush and shut the transport down. */
void io_close(struct io *io);

/* Raw fd helpers shared with transports: wait for readability/writability up to
 * timeout_ms (-1 forever); 1 ready, 0 timeout, -1 error. */
int io_wait_fd(int fd, int for_write, int timeout_ms);
/*
 * Make signal sig (serve's stop, SIGTERM) end the session: from then on every wait above
 * returns as a timeout would, at once, so the session closes with its BYE or -ERR after
 * the command in progress. Blocks sig outside the wait; 0 or -1.
 */
int io_stop_on(int sig);
/* Read what is there (up to len) from io->rfd, waiting at most read_timeout_ms:
 * >0 bytes, 0 at EOF, -1 on error (errno ETIMEDOUT on timeout). The fds are
 * non-blocking after io_init, so transports use these instead of read/write. */
ssize_t io_fd_read(struct io *io, void *buf, size_t len);
/* Write all len bytes to io->wfd; each wait for room is bounded by WRITE_TIMEOUT or
 * the read timeout if shorter (a peer that stops reading is dropped). 0, or -1 with
 * errno (ETIMEDOUT, EPIPE). */
int io_fd_write(struct io *io, const void *buf, size_t len);

#endif
