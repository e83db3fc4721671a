/*
 * One client session from its first byte to exit: the `pop3` verb (inetd, tcpsvd,
 * systemd with the connection on stdin/stdout) and serve's forked children both call
 * session_run. cmd_pop3 starts as root under inetd, loads the TLS key, then drops
 * privileges before reading a byte from the client.
 */
#include "session.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include "imap.h"
#include "io.h"
#include "log.h"
#include "pop3.h"
#include "priv.h"
#include "tls.h"
#include "util.h"
#include "verbs.h"

/*
 * SIGXCPU: the session has spent SESSION_CPU_MAX seconds of CPU. Whatever it was doing
 * is abandoned as a crash would be (the store survives those); log_emit formats on the
 * stack, and should syslog's lock be held, the hard limit ends the process anyway.
 */
static void
session_on_xcpu(int sig)
{
	(void)sig;
	log_warnx("session reached its CPU time limit, closing");
	_exit(EX_TEMPFAIL);
}

/* The CPU budget of this process (it serves exactly one connection). */
static void
session_limit_cpu(void)
{
	struct rlimit rl = { SESSION_CPU_MAX, SESSION_CPU_MAX + SESSION_CPU_GRACE }, old;
	struct sigaction sa;

	/* A launcher's lower limit stays; unprivileged, we could not raise it anyway. */
	if (getrlimit(RLIMIT_CPU, &old) == 0) {
		if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < rl.rlim_cur) {
			rl.rlim_cur = old.rlim_cur;
		}
		rl.rlim_max = rl.rlim_cur + SESSION_CPU_GRACE;
		if (old.rlim_max != RLIM_INFINITY && old.rlim_max < rl.rlim_max) {
			rl.rlim_max = old.rlim_max;
			rl.rlim_cur = rl.rlim_cur < rl.rlim_max ? rl.rlim_cur : rl.rlim_max;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = session_on_xcpu;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGXCPU, &sa, NULL) < 0 || setrlimit(RLIMIT_CPU, &rl) < 0) {
		log_warn("no CPU time limit for this session");
	}
}

int
session_run(const struct session_ctx *ctx, int rfd, int wfd)
{
	struct io io;

	/* A client that hangs up makes writes fail with EPIPE; that is handled there. */
	(void)signal(SIGPIPE, SIG_IGN);
	session_limit_cpu();
	io_init(&io, rfd, wfd);
	io_set_timeout(&io, ctx->cfg->preauth_timeout);
	/* Logging in (TLS, STARTTLS, retries) gets one budget, not one per line. */
	io_set_deadline(&io, ctx->cfg->preauth_timeout);
	log_info("connect from %s", io.peer);
	if (ctx->implicit_tls) {
#if WITH_TLS
		if (ctx->tls == NULL) {
			log_warnx("implicit TLS asked but no certificate loaded");
			return 1;
		}
		if (tls_start(&io, ctx->tls, ctx->cfg->preauth_timeout) < 0) {
			return 1;
		}
		log_info("tls %s from %s", tls_describe(&io), io.peer);
#else
		log_warnx("implicit TLS asked but TLS is not built in");
		return EX_UNAVAILABLE;
#endif
	}
	switch (ctx->proto) {
	case PROTO_POP3:
		return pop3_session(ctx, &io);
	case PROTO_IMAP:
		return imap_session(ctx, &io);
	}
	return EX_UNAVAILABLE;
}

#if WITH_TLS
/* Decode the key and chain while still privileged (the key is root-only). */
static const struct tls_server *
session_load_tls(const struct config *cfg)
{
	const struct tls_server *srv;
	char err[256];

	if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0') {
		return NULL;
	}
	srv = tls_load(cfg->tls_cert, cfg->tls_key, err, sizeof(err));
	if (srv == NULL) {
		fatal(EX_CONFIG, "tls: %s", err);
	}
	return srv;
}
#endif

/* One session of proto on stdin/stdout: the pop3 and imap verbs. */
static int
session_verb(int argc, char **argv, enum proto proto)
{
	struct config cfg;
	const char *name = proto == PROTO_POP3 ? "pop3" : "imap";
	struct session_ctx ctx;
	int i, first;

	config_from_args(&cfg, argc, argv, &first);
	memset(&ctx, 0, sizeof(ctx));
	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "--tls") == 0) {
			ctx.implicit_tls = 1;
		} else {
			fprintf(stderr, "usage: mailnook [-c FILE] [-o key=value] %s [--tls]\n", name);
			return EX_USAGE;
		}
	}
	ctx.cfg = &cfg;
	ctx.proto = proto;
#if WITH_TLS
	ctx.tls = session_load_tls(&cfg);
#endif
	if (ctx.implicit_tls && ctx.tls == NULL) {
		fatal(EX_CONFIG, "%s --tls needs tls_cert and tls_key", name);
	}
	priv_check_secrets(&cfg);
	priv_drop(&cfg);
	return session_run(&ctx, 0, 1);
}

int
cmd_pop3(int argc, char **argv)
{
	return session_verb(argc, argv, PROTO_POP3);
}

int
cmd_imap(int argc, char **argv)
{
	return session_verb(argc, argv, PROTO_IMAP);
}
