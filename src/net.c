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

#define NET_BACKLOG	64
/* After EMFILE/ENFILE from accept, stop accepting this long instead of spinning. */
#define NET_PAUSE_MS	1000

/* A source address, compared for max_per_ip. */
struct net_addr {
	int family;
	unsigned char a[16];
};

struct net_child {
	pid_t pid;
	int authed;		/* reported a login through the login pipe */
	struct net_addr addr;
};

/* Everything the listener owns; forked children inherit a copy and use only ctx. */
struct net_server {
	struct config cfg;
	struct tls_server *tls;
	int lfd[MAX_LISTENERS];
	unsigned nl;
	int sig_r, login_r, login_w;
	int stopping;
	int64_t stop_kill_at;	/* SIGKILL the sessions left at this time; 0: not due */
	int64_t pause_until;
	unsigned nchild;
	struct net_child child[MAX_CHILDREN_HARD];
};

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
	    listen(fd, NET_BACKLOG) < 0) {
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

static void
net_close_listeners(struct net_server *s)
{
	unsigned i;

	for (i = 0; i < s->nl; i++) {
		if (s->lfd[i] >= 0) {
			close(s->lfd[i]);
			s->lfd[i] = -1;
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

/* Which cap a new connection from a would exceed, or NULL if it may be served. */
static const char *
net_over_cap(const struct net_server *s, const struct net_addr *a)
{
	unsigned i, same = 0, unauth = 0;

	for (i = 0; i < s->nchild; i++) {
		same += memcmp(&s->child[i].addr, a, sizeof(*a)) == 0;
		unauth += !s->child[i].authed;
	}
	if (s->nchild >= s->cfg.max_children || s->nchild >= MAX_CHILDREN_HARD) {
		return "max_children";
	}
	if (same >= s->cfg.max_per_ip) {
		return "max_per_ip";
	}
	if (unauth >= s->cfg.max_unauth) {
		return "max_unauth";
	}
	return NULL;
}

/* A short protocol-correct refusal; on TLS ports there is nothing plain to say. */
static void
net_refuse(int fd, const struct listener_conf *l, const char *addr, const char *cap)
{
	const char *msg = l->proto == PROTO_POP3 ? "-ERR [SYS/TEMP] too many connections\r\n" :
	    "* BYE [UNAVAILABLE] too many connections\r\n";

	log_info("refused %s: too many connections (%s)", addr, cap);
	if (!l->tls && send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		log_debug("refusal to %s not sent", addr);
	}
	close(fd);
}

/* In the forked child: shed the listener's fds and signal set-up, run the session. */
static void
net_child_run(struct net_server *s, int fd, const struct listener_conf *l,
    const sigset_t *mask)
{
	struct session_ctx ctx;
	sigset_t m = *mask;

	/* SIGTERM stays blocked from fork until io waits for it: none is lost. */
	sigaddset(&m, SIGTERM);
	net_signals(SIG_DFL);
	sigprocmask(SIG_SETMASK, &m, NULL);
	if (io_stop_on(SIGTERM) < 0) {
		log_warn("session stop signal");
	}
	net_close_listeners(s);
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

static void
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
		return;
	}
	net_addr_of(&ss, &a, text, sizeof(text));
	cap = net_over_cap(s, &a);
	if (cap != NULL) {
		net_refuse(fd, l, text, cap);
		return;
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
		return;
	}
	s->child[s->nchild].pid = pid;
	s->child[s->nchild].authed = 0;
	s->child[s->nchild].addr = a;
	s->nchild++;
}

static struct net_child *
net_find_child(struct net_server *s, pid_t pid)
{
	unsigned i;

	for (i = 0; i < s->nchild; i++) {
		if (s->child[i].pid == pid) {
			return &s->child[i];
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
		*c = s->child[--s->nchild];
	}
}

static void
net_read_logins(struct net_server *s)
{
	int32_t pids[64];
	ssize_t n, i;

	while ((n = read(s->login_r, pids, sizeof(pids))) > 0) {
		for (i = 0; i < n / (ssize_t)sizeof(pids[0]); i++) {
			struct net_child *c = net_find_child(s, (pid_t)pids[i]);

			if (c != NULL) {
				c->authed = 1;
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

	for (i = 0; i < s->nchild; i++) {
		kill(s->child[i].pid, sig);
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
	net_close_listeners(s);
	net_signal_children(s, SIGTERM);
	log_info("stopping: no new connections, closing %u sessions", s->nchild);
}

/* The grace is over: kill what is left, once; net_reap collects them. */
static void
net_stop_overdue(struct net_server *s)
{
	if (s->stop_kill_at == 0 || mono_ms() < s->stop_kill_at) {
		return;
	}
	s->stop_kill_at = 0;
	if (s->nchild > 0) {
		log_warnx("stopping: killing %u sessions that did not close", s->nchild);
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

/* poll set: [0] signals, [1] logins, then the open listeners (idx maps back). */
static int
net_wait(struct net_server *s, struct pollfd *pfd, unsigned *idx, unsigned *n)
{
	int64_t now = mono_ms();
	int timeout = -1;
	unsigned i;

	pfd[0].fd = s->sig_r;
	pfd[1].fd = s->login_r;
	pfd[0].events = pfd[1].events = POLLIN;
	*n = 2;
	if (s->stop_kill_at != 0) {
		timeout = s->stop_kill_at > now ? (int)(s->stop_kill_at - now) : 0;
	} else if (now < s->pause_until) {
		timeout = (int)(s->pause_until - now);
	} else {
		for (i = 0; i < s->nl; i++) {
			if (s->lfd[i] >= 0) {
				idx[*n] = i;
				pfd[*n].fd = s->lfd[i];
				pfd[(*n)++].events = POLLIN;
			}
		}
	}
	return poll(pfd, *n, timeout);
}

static void
net_loop(struct net_server *s)
{
	struct pollfd pfd[MAX_LISTENERS + 2];
	unsigned idx[MAX_LISTENERS + 2];
	unsigned i, n;

	while (!s->stopping || s->nchild > 0) {
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
		for (i = 2; i < n && !s->stopping; i++) {
			if (pfd[i].revents) {
				net_accept(s, idx[i]);
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

	if (s == NULL) {
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
