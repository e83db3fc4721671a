/*
 * `mailnook serve`: bind every listener and decode the TLS key as root, drop privileges,
 * then accept and fork one child per connection (the child calls session_run), within
 * caps on sessions in total, per source address and not yet logged in. Signals reach
 * the loop through a self-pipe; one connection's error never ends the listener.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "io.h"
#include "log.h"
#include "priv.h"
#include "report.h"
#include "session.h"
#include "tls.h"
#include "util.h"
#include "verbs.h"

/* After EMFILE/ENFILE from accept, stop accepting this long instead of spinning. */
#define NET_PAUSE_MS	1000

/* A source address, compared for max_per_ip. */
struct net_addr {
	int family;
	unsigned char a[16];
};

/* A refused connection being drained before close (see REFUSE_DRAIN_MS). */
struct net_drain {
	int fd;			/* -1 when the slot is free */
	int64_t until;
	size_t got;
};

struct net_child {
	pid_t pid;
	enum report_state state;	/* as last reported through the login pipe */
	uint64_t serial;	/* accept order: the lowest is the oldest */
	struct net_addr addr;
};

/*
 * The sessions, in a mapping of their own that each forked child unmaps: the listener
 * writes here after every fork, and a page written by either side after fork becomes
 * a private copy in the child.
 */
struct net_children {
	uint64_t serial;
	unsigned n;
	struct net_child c[MAX_CHILDREN_HARD];
};

/* Everything the listener owns; forked children inherit a copy, use only ctx and write
 * none of it (see struct net_children). */
struct net_server {
	struct config cfg;
	struct tls_server *tls;
	int lfd[MAX_LISTENERS];
	unsigned nl;
	int sig_r, login_r, login_w;
	int stopping;
	int64_t stop_kill_at;	/* SIGKILL the sessions left at this time; 0: not due */
	int64_t pause_until;
	struct net_children *kids;
	struct net_drain drain[REFUSE_DRAIN_SLOTS];
};

static void net_read_logins(struct net_server *s);

/* Written by signal handlers; each process owns its own copy after fork. */
static int net_sig_w = -1;

static void
net_on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	if (write(net_sig_w, &b, 1) < 0) {
		/* The pipe is full: the loop has wakeups pending already. */
	}
	errno = saved;
}

static void
net_signals(void (*handler)(int))
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ARRAY_LEN(sigs); i++) {
		sigaction(sigs[i], &sa, NULL);
	}
}

/* Block the signals the loop handles; the previous mask goes to old. */
static void
net_block_signals(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
}

static int
net_pipe(int *r, int *w)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		return -1;
	}
	*r = fds[0];
	*w = fds[1];
	return 0;
}

/* Socket bound and listening for l; -1 (logged) if the address family is missing. */
static int
net_listen_one(const struct listener_conf *l)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	int v6 = strchr(l->addr, ':') != NULL;
	int fd, on = 1;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(l->port);
		inet_pton(AF_INET6, l->addr, &a6->sin6_addr);
	} else {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(l->port);
		inet_pton(AF_INET, l->addr, &a4->sin_addr);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 && errno == EAFNOSUPPORT) {
		log_warn("no IPv%c here: not listening on %s:%u", v6 ? '6' : '4', l->addr, l->port);
		return -1;
	}
	/* V6ONLY so that [::]:110 and 0.0.0.0:110 can both be bound. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    (v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, v6 ? sizeof(*a6) : sizeof(*a4)) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		fatal(EX_OSERR, "cannot listen on %s%s%s:%u: %m", v6 ? "[" : "", l->addr,
		    v6 ? "]" : "", l->port);
	}
	log_info("listening on %s%s%s:%u %s%s", v6 ? "[" : "", l->addr, v6 ? "]" : "",
	    l->port, l->proto == PROTO_POP3 ? "pop3" : "imap", l->tls ? " tls" : "");
	return fd;
}

static void
net_listen_all(struct net_server *s)
{
	unsigned i, n = 0;

	for (i = 0; i < s->cfg.n_listen; i++) {
		s->lfd[i] = net_listen_one(&s->cfg.listen[i]);
		n += s->lfd[i] >= 0;
	}
	s->nl = s->cfg.n_listen;
	if (n == 0) {
		fatal(EX_OSERR, "no listener could be opened");
	}
}

/* forget: mark them closed (the listener); a forked child only closes its copies. */
static void
net_close_listeners(struct net_server *s, int forget)
{
	unsigned i;

	for (i = 0; i < s->nl; i++) {
		if (s->lfd[i] >= 0) {
			close(s->lfd[i]);
			if (forget) {
				s->lfd[i] = -1;
			}
		}
	}
}

/*
 * The TLS key and chain, decoded before fork; on SIGHUP the new files replace the old
 * ones only if they load. This is the one place serve (re)loads TLS material.
 */
static int
net_load_tls(struct net_server *s)
{
#if WITH_TLS
	struct tls_server *fresh;
	char err[256];

	if (s->cfg.tls_cert[0] == '\0') {
		return 0;
	}
	fresh = tls_load(s->cfg.tls_cert, s->cfg.tls_key, err, sizeof(err));
	if (fresh == NULL) {
		log_warnx("TLS not (re)loaded: %s", err);
		return -1;
	}
	if (s->tls != NULL) {
		tls_free(s->tls);
	}
	s->tls = fresh;
#else
	(void)s;
#endif
	return 0;
}

static void
net_daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		fatal(EX_OSERR, "fork: %m");
	}
	if (pid > 0) {
		_exit(0);
	}
	if (setsid() < 0) {
		fatal(EX_OSERR, "setsid: %m");
	}
	/* The second fork leaves a process that can never reacquire a terminal. */
	pid = fork();
	if (pid < 0) {
		fatal(EX_OSERR, "fork: %m");
	}
	if (pid > 0) {
		_exit(0);
	}
	fd = open("/dev/null", O_RDWR);
	if (chdir("/") < 0 || fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
		fatal(EX_OSERR, "daemonize: %m");
	}
	if (fd > 2) {
		close(fd);
	}
}

static void
net_addr_of(const struct sockaddr_storage *ss, struct net_addr *a, char *text, size_t cap)
{
	const void *src;

	memset(a, 0, sizeof(*a));
	a->family = ss->ss_family;
	if (ss->ss_family == AF_INET6) {
		src = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		memcpy(a->a, src, 16);
	} else {
		src = &((const struct sockaddr_in *)ss)->sin_addr;
		memcpy(a->a, src, 4);
	}
	if (inet_ntop(ss->ss_family, src, text, (socklen_t)cap) == NULL) {
		str_copy(text, cap, "unknown");
	}
}

static int
net_same_addr(const struct net_addr *x, const struct net_addr *y)
{
	return memcmp(x, y, sizeof(*x)) == 0;
}

/* May child c be evicted to make room? Only sessions not logged in; for max_unauth
 * only those holding a pre-login place (not asleep after a failure). */
static int
net_evictable(const struct net_child *c, int unauth_only)
{
	return unauth_only ? c->state == REPORT_PRELOGIN : c->state != REPORT_AUTHED;
}

/* Evictable sessions from a. */
static unsigned
net_count_from(const struct net_server *s, const struct net_addr *a, int unauth_only)
{
	unsigned i, n = 0;

	for (i = 0; i < s->kids->n; i++) {
		n += net_evictable(&s->kids->c[i], unauth_only) &&
		    net_same_addr(&s->kids->c[i].addr, a);
	}
	return n;
}

/*
 * A cap is full and a newcomer from a waits: end the oldest evictable session of the
 * address holding the most of them, if that address holds at least two more than a
 * (so that no address can shut others out by opening sessions, and two addresses never
 * evict each other in turn). Returns 1 if a place was freed.
 */
static int
net_evict(struct net_server *s, const struct net_addr *a, int unauth_only, const char *why)
{
	unsigned i, n, most = 0, victim = 0;
	char text[ADDR_LEN];

	for (i = 0; i < s->kids->n; i++) {
		if (!net_evictable(&s->kids->c[i], unauth_only)) {
			continue;
		}
		n = net_count_from(s, &s->kids->c[i].addr, unauth_only);
		if (n > most || (n == most && s->kids->c[i].serial < s->kids->c[victim].serial)) {
			most = n;
			victim = i;
		}
	}
	if (most < net_count_from(s, a, unauth_only) + 2) {
		return 0;
	}
	if (inet_ntop(s->kids->c[victim].addr.family, s->kids->c[victim].addr.a, text,
	    sizeof(text)) == NULL) {
		str_copy(text, sizeof(text), "unknown");
	}
	/* Not logged in, it holds no mail lock; SIGKILL ends it even mid-handshake. */
	log_info("evicted the oldest session not logged in from %s (%s full)", text, why);
	kill(s->kids->c[victim].pid, SIGKILL);
	s->kids->c[victim] = s->kids->c[--s->kids->n];
	return 1;
}

/*
 * Which cap a new connection from a would exceed, or NULL if it may be served. The
 * address's own cap comes first; a full total or pre-login cap then costs the busiest
 * address its oldest pre-login session rather than refusing someone new.
 */
static const char *
net_over_cap(struct net_server *s, const struct net_addr *a)
{
	unsigned i, same = 0, unauth = 0;

	for (i = 0; i < s->kids->n; i++) {
		same += net_same_addr(&s->kids->c[i].addr, a);
		unauth += s->kids->c[i].state == REPORT_PRELOGIN;
	}
	if (same >= s->cfg.max_per_ip) {
		return "max_per_ip";
	}
	if ((s->kids->n >= s->cfg.max_children || s->kids->n >= MAX_CHILDREN_HARD) &&
	    !net_evict(s, a, 0, "max_children")) {
		return "max_children";
	}
	if (unauth >= s->cfg.max_unauth && !net_evict(s, a, 1, "max_unauth")) {
		return "max_unauth";
	}
	return NULL;
}

static void
net_drain_close(struct net_drain *d)
{
	close(d->fd);
	d->fd = -1;
}

/* Read what a refused client sent; close at its EOF, an error, or enough bytes. */
static void
net_drain_read(struct net_drain *d)
{
	char junk[4096];
	ssize_t n = read(d->fd, junk, sizeof(junk));

	if (n > 0) {
		d->got += (size_t)n;
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    d->got >= REFUSE_DRAIN_BYTES) {
		net_drain_close(d);
	}
}

/* Keep fd (our side shut) until the client closes too, in a free or the oldest slot. */
static void
net_drain_add(struct net_server *s, int fd)
{
	struct net_drain *d = &s->drain[0];
	unsigned i;

	for (i = 0; i < REFUSE_DRAIN_SLOTS && d->fd >= 0; i++) {
		if (s->drain[i].fd < 0 || s->drain[i].until < d->until) {
			d = &s->drain[i];
		}
	}
	if (d->fd >= 0) {
		net_drain_close(d);
	}
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		close(fd);
		return;
	}
	d->fd = fd;
	d->until = mono_ms() + REFUSE_DRAIN_MS;
	d->got = 0;
}

/*
 * A short protocol-correct refusal (on TLS ports there is nothing plain to say), then an
 * orderly end: FIN now, close once the client's bytes are read, never a reset.
 */
static void
net_refuse(struct net_server *s, int fd, const struct listener_conf *l, const char *addr,
    const char *cap)
{
	const char *msg = l->proto == PROTO_POP3 ? "-ERR [SYS/TEMP] too many connections\r\n" :
	    "* BYE [UNAVAILABLE] too many connections\r\n";

	log_info("refused %s: too many connections (%s)", addr, cap);
	if (!l->tls && send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		log_debug("refusal to %s not sent", addr);
	}
	if (shutdown(fd, SHUT_WR) < 0) {
		close(fd);
		return;
	}
	net_drain_add(s, fd);
}

/* In the forked child: shed the listener's fds and signal set-up, run the session. */
static void
net_child_run(struct net_server *s, int fd, const struct listener_conf *l,
    const sigset_t *mask)
{
	struct session_ctx ctx;
	unsigned i;
	sigset_t m = *mask;

	/* SIGTERM stays blocked from fork until io waits for it: none is lost. */
	sigaddset(&m, SIGTERM);
	net_signals(SIG_DFL);
	sigprocmask(SIG_SETMASK, &m, NULL);
	if (io_stop_on(SIGTERM) < 0) {
		log_warn("session stop signal");
	}
	net_close_listeners(s, 0);
	/* A copy kept here would hold a refused connection open past the listener's close. */
	for (i = 0; i < REFUSE_DRAIN_SLOTS; i++) {
		if (s->drain[i].fd >= 0) {
			close(s->drain[i].fd);
		}
	}
	(void)munmap(s->kids, sizeof(*s->kids));
	close(s->sig_r);
	close(net_sig_w);
	close(s->login_r);
	net_sig_w = -1;
	report_attach(s->login_w);
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &s->cfg;
	ctx.tls = s->tls;
	ctx.proto = l->proto;
	ctx.implicit_tls = l->tls;
	exit(session_run(&ctx, fd, fd));
}

/* Take one connection from listener li: 1 if one was taken (served or refused), 0 when
 * the queue is empty or accept failed. */
static int
net_accept(struct net_server *s, unsigned li)
{
	const struct listener_conf *l = &s->cfg.listen[li];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct net_addr a;
	char text[ADDR_LEN];
	const char *cap;
	sigset_t old;
	pid_t pid;
	int fd;

	fd = accept4(s->lfd[li], (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_warn("accept");
			s->pause_until = mono_ms() + NET_PAUSE_MS;
		}
		return 0;
	}
	net_addr_of(&ss, &a, text, sizeof(text));
	/* Logins reported since the last look free pre-login places. */
	net_read_logins(s);
	cap = net_over_cap(s, &a);
	if (cap != NULL) {
		net_refuse(s, fd, l, text, cap);
		return 1;
	}
	/* Signals stay blocked across fork so that the child never runs our handler. */
	net_block_signals(&old);
	pid = fork();
	if (pid == 0) {
		net_child_run(s, fd, l, &old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fd);
	if (pid < 0) {
		log_warn("fork for %s", text);
		return 1;
	}
	s->kids->c[s->kids->n].pid = pid;
	s->kids->c[s->kids->n].state = REPORT_PRELOGIN;
	s->kids->c[s->kids->n].serial = ++s->kids->serial;
	s->kids->c[s->kids->n].addr = a;
	s->kids->n++;
	return 1;
}

static struct net_child *
net_find_child(struct net_server *s, pid_t pid)
{
	unsigned i;

	for (i = 0; i < s->kids->n; i++) {
		if (s->kids->c[i].pid == pid) {
			return &s->kids->c[i];
		}
	}
	return NULL;
}

static void
net_reap(struct net_server *s)
{
	struct net_child *c;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		c = net_find_child(s, pid);
		if (c == NULL) {
			continue;
		}
		if (WIFSIGNALED(st)) {
			log_warnx("session %ld killed by signal %d", (long)pid, WTERMSIG(st));
		}
		*c = s->kids->c[--s->kids->n];
	}
}

static void
net_read_logins(struct net_server *s)
{
	int32_t rec[64][2];
	ssize_t n, i;

	/* Records are written whole (below PIPE_BUF), so reads end on record boundaries. */
	while ((n = read(s->login_r, rec, sizeof(rec))) > 0) {
		for (i = 0; i < n / (ssize_t)sizeof(rec[0]); i++) {
			struct net_child *c = net_find_child(s, (pid_t)rec[i][0]);

			if (c != NULL && c->state != REPORT_AUTHED && rec[i][1] >= REPORT_PRELOGIN &&
			    rec[i][1] <= REPORT_AUTHED) {
				c->state = (enum report_state)rec[i][1];
			}
		}
	}
}

static void
net_reload(struct net_server *s)
{
	char err[512];

	if (config_reload(&s->cfg, err, sizeof(err)) < 0) {
		log_warnx("reload failed, keeping the running config: %s", err);
		return;
	}
	net_load_tls(s);
	log_info("reloaded config (listeners unchanged)");
}

static void
net_signal_children(struct net_server *s, int sig)
{
	unsigned i;

	for (i = 0; i < s->kids->n; i++) {
		kill(s->kids->c[i].pid, sig);
	}
}

/*
 * Stop: no new connections, and every session is told to close (it ends the command in
 * progress, says BYE or -ERR and exits). Those left after the grace, or at a second
 * stop signal, are killed: serve must not leave sessions behind.
 */
static void
net_stop(struct net_server *s)
{
	if (s->stopping) {
		s->stop_kill_at = mono_ms();
		return;
	}
	s->stopping = 1;
	s->stop_kill_at = mono_ms() + SERVE_STOP_GRACE_MS;
	net_close_listeners(s, 1);
	net_signal_children(s, SIGTERM);
	log_info("stopping: no new connections, closing %u sessions", s->kids->n);
}

/* The grace is over: kill what is left, once; net_reap collects them. */
static void
net_stop_overdue(struct net_server *s)
{
	if (s->stop_kill_at == 0 || mono_ms() < s->stop_kill_at) {
		return;
	}
	s->stop_kill_at = 0;
	if (s->kids->n > 0) {
		log_warnx("stopping: killing %u sessions that did not close", s->kids->n);
		net_signal_children(s, SIGKILL);
	}
}

static void
net_signal_events(struct net_server *s)
{
	unsigned char sigs[32];
	ssize_t n, i;

	while ((n = read(s->sig_r, sigs, sizeof(sigs))) > 0) {
		for (i = 0; i < n; i++) {
			if (sigs[i] == SIGCHLD) {
				net_reap(s);
			} else if (sigs[i] == SIGHUP) {
				net_reload(s);
			} else {
				net_stop(s);
			}
		}
	}
}

/* Close refused connections whose drain time is up; ms until the next one is, or -1. */
static int
net_drain_expire(struct net_server *s)
{
	int64_t now = mono_ms(), next = -1;
	unsigned i;

	for (i = 0; i < REFUSE_DRAIN_SLOTS; i++) {
		struct net_drain *d = &s->drain[i];

		if (d->fd >= 0 && d->until <= now) {
			net_drain_close(d);
		} else if (d->fd >= 0 && (next < 0 || d->until - now < next)) {
			next = d->until - now;
		}
	}
	return (int)next;
}

static void
net_poll_add(struct pollfd *pfd, unsigned *idx, unsigned *n, int fd, unsigned what)
{
	idx[*n] = what;
	pfd[*n].fd = fd;
	pfd[*n].events = POLLIN;
	pfd[(*n)++].revents = 0;
}

/*
 * poll set: [0] signals, [1] logins, then the open listeners and the refused connections
 * being drained; idx maps back (a listener's index, or NET_DRAIN_IDX + a drain slot).
 */
#define NET_DRAIN_IDX	MAX_LISTENERS
static int
net_wait(struct net_server *s, struct pollfd *pfd, unsigned *idx, unsigned *n)
{
	int64_t now = mono_ms();
	int timeout = net_drain_expire(s);
	unsigned i;

	*n = 0;
	net_poll_add(pfd, idx, n, s->sig_r, 0);
	net_poll_add(pfd, idx, n, s->login_r, 0);
	if (s->stop_kill_at != 0) {
		int left = s->stop_kill_at > now ? (int)(s->stop_kill_at - now) : 0;

		if (timeout < 0 || left < timeout) {
			timeout = left;
		}
	} else if (now < s->pause_until) {
		if (timeout < 0 || s->pause_until - now < timeout) {
			timeout = (int)(s->pause_until - now);
		}
	} else {
		for (i = 0; i < s->nl; i++) {
			if (s->lfd[i] >= 0) {
				net_poll_add(pfd, idx, n, s->lfd[i], i);
			}
		}
	}
	for (i = 0; i < REFUSE_DRAIN_SLOTS; i++) {
		if (s->drain[i].fd >= 0) {
			net_poll_add(pfd, idx, n, s->drain[i].fd, NET_DRAIN_IDX + i);
		}
	}
	return poll(pfd, *n, timeout);
}

static void
net_loop(struct net_server *s)
{
	struct pollfd pfd[MAX_LISTENERS + 2 + REFUSE_DRAIN_SLOTS];
	unsigned idx[MAX_LISTENERS + 2 + REFUSE_DRAIN_SLOTS];
	unsigned i, k, n;

	for (i = 0; i < REFUSE_DRAIN_SLOTS; i++) {
		s->drain[i].fd = -1;
	}
	while (!s->stopping || s->kids->n > 0) {
		if (net_wait(s, pfd, idx, &n) < 0) {
			if (errno != EINTR) {
				fatal(EX_OSERR, "poll: %m");
			}
			continue;
		}
		if (pfd[0].revents) {
			net_signal_events(s);
		}
		if (pfd[1].revents) {
			net_read_logins(s);
		}
		for (i = 2; i < n; i++) {
			if (!pfd[i].revents) {
				continue;
			}
			if (idx[i] >= NET_DRAIN_IDX) {
				net_drain_read(&s->drain[idx[i] - NET_DRAIN_IDX]);
				continue;
			}
			/* Empty the queue (a burst after a reboot), a batch at a time. */
			for (k = 0; k < ACCEPT_BATCH && !s->stopping && net_accept(s, idx[i]); k++) {
				continue;
			}
		}
		net_stop_overdue(s);
	}
	log_info("stopped");
}

static int
net_usage(void)
{
	fprintf(stderr, "usage: mailnook [-c FILE] [-o key=value] serve [-f]\n");
	return EX_USAGE;
}

int
cmd_serve(int argc, char **argv)
{
	struct net_server *s = calloc(1, sizeof(*s));
	int first, c;

	if (s != NULL) {
		s->kids = mmap(NULL, sizeof(*s->kids), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (s == NULL || s->kids == MAP_FAILED) {
		fatal(EX_OSERR, "out of memory");
	}
	config_from_args(&s->cfg, argc, argv, &first);
	optind = first;
	while ((c = getopt(argc, argv, "+f")) != -1) {
		if (c != 'f') {
			return net_usage();
		}
		s->cfg.foreground = 1;
	}
	if (optind != argc) {
		return net_usage();
	}
	signal(SIGPIPE, SIG_IGN);
	priv_check_secrets(&s->cfg);
	net_listen_all(s);
	if (net_load_tls(s) < 0) {
		fatal(EX_OSERR, "cannot serve TLS without its key and certificate");
	}
	/* Drop before detaching, so that a failure still reaches the terminal. */
	priv_drop(&s->cfg);
	if (!s->cfg.foreground) {
		if (s->cfg.log_stderr) {
			log_warnx("log stderr with a detached server: its lines go to /dev/null "
			    "(use -f or log syslog)");
		}
		net_daemonize();
	}
	if (net_pipe(&s->sig_r, &net_sig_w) < 0 || net_pipe(&s->login_r, &s->login_w) < 0) {
		fatal(EX_OSERR, "pipe: %m");
	}
	net_signals(net_on_signal);
	net_loop(s);
	return 0;
}
