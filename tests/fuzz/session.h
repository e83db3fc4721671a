/*
 * Shared by the whole-session fuzz entries (fuzz_imap_session.c, fuzz_pop3_session.c):
 * the bytes are everything a client sends in one connection. Each input gets a fresh
 * store (user alice, password "secret", three messages in INBOX) in a private temp
 * dir, runs the protocol's session to its end, and must finish within FUZZ_CPU_MS of
 * CPU time: an input that takes longer aborts, so exponential paths are findings too.
 */
#ifndef MAILNOOK_FUZZ_SESSION_H
#define MAILNOOK_FUZZ_SESSION_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "io.h"
#include "log.h"
#include "session_ctx.h"
#include "util.h"

/* CPU time one input may take (a whole session); inputs past FUZZ_INPUT_MAX are skipped. */
#define FUZZ_CPU_MS	2000
#define FUZZ_INPUT_MAX	(64 * 1024)

/* The failed-login delay would make every wrong password a one-second sleep: here time
 * is not the behaviour under test, so sleeping returns at once. */
int
nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)req;
	(void)rem;
	return 0;
}

static struct config fuzz_cfg;
static char fuzz_dir[PATH_LEN], fuzz_input[PATH_LEN];

static void
fuzz_die(const char *what)
{
	perror(what);
	abort();
}

static void
fuzz_on_cpu(int sig)
{
	static const char msg[] = "fuzz: input took more than FUZZ_CPU_MS of CPU time\n";

	(void)sig;
	(void)write(2, msg, sizeof(msg) - 1);
	abort();
}

static int
fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
fuzz_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		fuzz_die(path);
	}
}

/* At exit: the temp dir and everything the sessions left in it. */
static void
fuzz_cleanup(void)
{
	(void)nftw(fuzz_dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* Once per process: the temp dir (removed at exit), config and passwd file. */
static void
fuzz_setup(void)
{
	char conf[PATH_LEN], text[4 * PATH_LEN], err[256];
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	if (str_fmt(fuzz_dir, sizeof(fuzz_dir), "%s/mailnook-fuzz.XXXXXX", base) < 0 ||
	    mkdtemp(fuzz_dir) == NULL) {
		fuzz_die("mkdtemp");
	}
	atexit(fuzz_cleanup);
	(void)str_fmt(conf, sizeof(conf), "%s/conf", fuzz_dir);
	(void)str_fmt(fuzz_input, sizeof(fuzz_input), "%s/input", fuzz_dir);
	(void)str_fmt(text, sizeof(text), "mail_root %s/mail\npasswd_file %s/passwd\n"
	    "runtime_dir %s\nplaintext_auth anywhere\nhostname fuzz.example\nlog syslog\n",
	    fuzz_dir, fuzz_dir, fuzz_dir);
	fuzz_write(conf, text);
	if (config_load(&fuzz_cfg, conf, NULL, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	log_open("mailnook-fuzz", 0);
	if (auth_set_password(&fuzz_cfg, "alice", "secret", err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGPROF, fuzz_on_cpu);
}

/* A fresh maildrop: three messages in INBOX, nothing else. */
static void
fuzz_store(void)
{
	char dir[PATH_LEN], inbox[PATH_LEN];

	(void)str_fmt(dir, sizeof(dir), "%s/mail", fuzz_dir);
	if (nftw(dir, fuzz_rm, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) {
		fuzz_die(dir);
	}
	(void)str_fmt(inbox, sizeof(inbox), "%s/mail/alice", fuzz_dir);
	if (mkdir_p(inbox, 0700) < 0) {
		fuzz_die(inbox);
	}
	(void)str_fmt(inbox, sizeof(inbox), "%s/mail/alice/INBOX", fuzz_dir);
	fuzz_write(inbox,
	    "From a@example.org Sat Nov 28 10:00:00 2026\n"
	    "From: Ann <a@example.org>\nTo: alice@example.org\nSubject: one\n"
	    "Date: Sat, 28 Nov 2026 10:00:00 +0000\nMessage-ID: <1@example.org>\n\nHello\n\n"
	    "From b@example.org Sat Nov 28 11:00:00 2026\n"
	    "From: b@example.org\nSubject: =?utf-8?q?two_=C3=A4?=\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\n"
	    "part one\n--x\nContent-Type: text/html\n\n<p>two</p>\n--x--\n\n"
	    "From c@example.org Sat Nov 28 12:00:00 2026\n"
	    "From: c@example.org\nSubject: three\n\n>From the start\nbye\n");
}

/* Run one whole session of proto with data as the client's bytes. */
static void
fuzz_session(const uint8_t *data, size_t size, enum proto proto,
    int (*run)(const struct session_ctx *, struct io *))
{
	static int ready;
	struct itimerval budget = { { 0, 0 }, { FUZZ_CPU_MS / 1000, (FUZZ_CPU_MS % 1000) * 1000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	struct session_ctx ctx;
	struct io io;
	int rfd, wfd;

	if (size > FUZZ_INPUT_MAX) {
		return;
	}
	if (!ready) {
		fuzz_setup();
		ready = 1;
	}
	fuzz_store();
	/* A regular file as the socket: reads never wait, and end in EOF. */
	rfd = open(fuzz_input, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	wfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (rfd < 0 || wfd < 0 || write_all(rfd, data, size) < 0 || lseek(rfd, 0, SEEK_SET) < 0) {
		fuzz_die("fuzz input");
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.cfg = &fuzz_cfg;
	ctx.proto = proto;
	io_init(&io, rfd, wfd);
	io_set_timeout(&io, fuzz_cfg.preauth_timeout);
	setitimer(ITIMER_PROF, &budget, NULL);
	(void)run(&ctx, &io);
	setitimer(ITIMER_PROF, &off, NULL);
	close(rfd);
	close(wfd);
}

#endif
