/*
 * mailnook: one binary, several verbs. Dispatch on argv[1], or on the program name when
 * called through a symlink named after a verb (mailnook-deliver, pop3 ...).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "params.h"
#include "verbs.h"

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
};

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct verb verbs[] = {
	{ "help", cmd_help, "help                      this text" },
	{ "version", cmd_version, "version                   print the version" },
	{ "pop3", cmd_pop3, "pop3 [--tls]              one POP3 session on stdin/stdout (inetd, tcpsvd)" },
	{ "imap", cmd_imap, "imap [--tls]              one IMAP session on stdin/stdout (inetd, tcpsvd)" },
	{ "cert", cmd_cert, "cert [--cert F] [--key F] [--days N] [--force] [NAME|IP]...  self-signed key and certificate" },
	{ "passwd", cmd_passwd, "passwd USER               set a password (stdin line, or tty twice)" },
	{ "check", cmd_check, "check [--repair] [--compact] USER|PATH  verify (rebuild, compact) a folder's side files" },
	{ "deliver", cmd_deliver, "deliver [-f SENDER] USER  append the message on stdin to USER's INBOX (MDA)" },
	{ "serve", cmd_serve, "serve [-f]                listen and fork a session per connection (-f: foreground)" },
};

static int
cmd_help(int argc, char **argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	printf("usage: mailnook [common options] VERB [verb options] [args]\n\nverbs:\n");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		printf("  %s\n", verbs[i].usage);
	}
	printf("\ncommon options: -c FILE (config, default %s), -o key=value (override),\n"
	    "  -f (foreground), -d (debug log to stderr)\n", DEF_CONFIG_FILE);
	return 0;
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("mailnook %s\n", MAILNOOK_VERSION);
	return 0;
}

static const struct verb *
find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].name, name) == 0) {
			return &verbs[i];
		}
	}
	return NULL;
}

/*
 * Global options come before the verb: "mailnook -c F -o k=v deliver -f S USER".
 * The verb gets { VERB, <those options>, "--", <its own arguments> }: config_from_args
 * reads up to the "--", the verb its own options after it, and the two never mix.
 */
static int
run_verb(const struct verb *v, int argc, char **argv, int nglobal, int first)
{
	char **vargv = calloc((size_t)argc + 2, sizeof(char *));
	int i, n = 0, rc;

	if (vargv == NULL) {
		fprintf(stderr, "mailnook: out of memory\n");
		return EX_OSERR;
	}
	vargv[n++] = argv[first - 1];
	for (i = 1; i <= nglobal; i++) {
		vargv[n++] = argv[i];
	}
	vargv[n++] = "--";
	for (i = first; i < argc; i++) {
		vargv[n++] = argv[i];
	}
	rc = v->run(n, vargv);
	free(vargv);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *prog = argc > 0 ? strrchr(argv[0], '/') : NULL;
	const struct verb *v;
	int nglobal;

	prog = prog ? prog + 1 : (argc > 0 ? argv[0] : "mailnook");
	if (strncmp(prog, "mailnook-", 9) == 0) {
		prog += 9;
	}
	v = find_verb(prog);
	if (v != NULL) {
		return run_verb(v, argc, argv, 0, 1);
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cmd_help(0, NULL);
		return argc < 2 ? 64 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		return cmd_version(0, NULL);
	}
	/* Only to find where the verb is; config_from_args reports bad options. */
	opterr = 0;
	while (getopt(argc, argv, "+c:o:fd") != -1) {
		continue;
	}
	nglobal = optind - 1;
	if (nglobal > 0 && strcmp(argv[optind - 1], "--") == 0) {
		nglobal--;
	}
	v = optind < argc ? find_verb(argv[optind]) : NULL;
	if (v == NULL) {
		fprintf(stderr, "mailnook: unknown verb '%s' (try: mailnook help)\n",
		    optind < argc ? argv[optind] : "");
		return EX_USAGE;
	}
	return run_verb(v, argc, argv, nglobal, optind + 1);
}
