/*
 * mailnook: one binary, several verbs. Dispatch on argv[1], or on the program name when
 * called through a symlink named after a verb (mailnook-deliver, pop3 ...).
 */
#include <stdio.h>
#include <string.h>

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
	{ "cert", cmd_cert, "cert [--cert F] [--key F] [--days N] [--force] [NAME|IP]...  self-signed key and certificate" },
	{ "pop3", cmd_pop3, "pop3 [--tls]              one POP3 session on stdin/stdout (inetd, tcpsvd)" },
};

static int
cmd_help(int argc, char **argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	printf("usage: mailnook VERB [options] [args]\n\nverbs:\n");
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

int
main(int argc, char **argv)
{
	const char *prog = argc > 0 ? strrchr(argv[0], '/') : NULL;
	const struct verb *v;

	prog = prog ? prog + 1 : (argc > 0 ? argv[0] : "mailnook");
	if (strncmp(prog, "mailnook-", 9) == 0) {
		prog += 9;
	}
	v = find_verb(prog);
	if (v != NULL) {
		return v->run(argc, argv);
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cmd_help(0, NULL);
		return argc < 2 ? 64 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		return cmd_version(0, NULL);
	}
	v = find_verb(argv[1]);
	if (v == NULL) {
		fprintf(stderr, "mailnook: unknown verb '%s' (try: mailnook help)\n", argv[1]);
		return 64;
	}
	return v->run(argc - 1, argv + 1);
}
