/*
 * `mailnook passwd USER`: set a user's password in the passwd file. The password is one
 * line on stdin, or typed twice on the terminal with echo off. Runs as root (the file
 * is root's, readable by the run user's group); it never touches mail.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "name.h"
#include "util.h"
#include "verbs.h"

/*
 * Read one line from fd into buf (capacity cap) a byte at a time, so that no stdio
 * buffer keeps a copy of the password. 0, or -1 when empty, too long or unreadable.
 */
static int
passwd_read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char c;
	ssize_t r;

	while ((r = read(fd, &c, 1)) == 1 || (r < 0 && errno == EINTR)) {
		if (r < 0) {
			continue;
		}
		if (c == '\n') {
			break;
		}
		if (n + 1 >= cap) {
			return -1;
		}
		buf[n++] = c;
	}
	if (r < 0) {
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\r') {
		n--;
	}
	buf[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* Prompt on the terminal with echo off; 0 or -1. */
static int
passwd_prompt(int tty, const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	int rc;

	if (tcgetattr(tty, &old) < 0) {
		return -1;
	}
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	/* Echo off before the prompt: whatever is typed after seeing it stays unechoed. */
	if (tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
		return -1;
	}
	if (write_all(tty, prompt, strlen(prompt)) < 0) {
		tcsetattr(tty, TCSAFLUSH, &old);
		return -1;
	}
	rc = passwd_read_line(tty, buf, cap);
	if (tcsetattr(tty, TCSAFLUSH, &old) < 0) {
		rc = -1;
	}
	return rc;
}

/* The new password into pass: from the terminal twice, else one line of stdin. */
static int
passwd_get(char *pass, size_t cap)
{
	char again[PASS_MAX + 2];
	int tty, rc;

	if (!isatty(STDIN_FILENO)) {
		if (passwd_read_line(STDIN_FILENO, pass, cap) < 0) {
			fprintf(stderr, "mailnook passwd: expected one line of 1 to %d characters "
			    "on stdin\n", PASS_MAX);
			return -1;
		}
		return 0;
	}
	tty = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (tty < 0) {
		tty = STDIN_FILENO;
	}
	rc = passwd_prompt(tty, "New password: ", pass, cap);
	if (rc == 0) {
		rc = passwd_prompt(tty, "Retype new password: ", again, sizeof(again));
	}
	if (rc == 0 && strcmp(pass, again) != 0) {
		fprintf(stderr, "mailnook passwd: the passwords differ\n");
		rc = -1;
	}
	wipe(again, sizeof(again));
	if (tty != STDIN_FILENO) {
		close(tty);
	}
	return rc;
}

int
cmd_passwd(int argc, char **argv)
{
	struct config cfg;
	char pass[PASS_MAX + 2];
	char err[512];
	int first, rc = EXIT_FAILURE;

	config_from_args(&cfg, argc, argv, &first);
	if (argc - first != 1) {
		fprintf(stderr, "usage: mailnook [-c FILE] passwd USER  (password on stdin or tty)\n");
		return EX_USAGE;
	}
	if (!name_user_valid(argv[first])) {
		fprintf(stderr, "mailnook passwd: '%s' is not a valid user name\n", argv[first]);
		return EX_USAGE;
	}
	if (passwd_get(pass, sizeof(pass)) == 0) {
		if (auth_set_password(&cfg, argv[first], pass, err, sizeof(err)) < 0) {
			fprintf(stderr, "mailnook passwd: %s\n", err);
		} else {
			log_info("password set user=%s", argv[first]);
			printf("password set for %s in %s\n", argv[first], cfg.passwd_file);
			rc = 0;
		}
	}
	wipe(pass, sizeof(pass));
	return rc;
}
