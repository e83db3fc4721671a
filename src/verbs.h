/*
 * The verbs of the one binary; each takes the argv after the verb name is consumed
 * (argv[0] is the verb) and returns the process exit code.
 */
#ifndef MAILNOOK_VERBS_H
#define MAILNOOK_VERBS_H

int cmd_serve(int argc, char **argv);
int cmd_pop3(int argc, char **argv);
int cmd_imap(int argc, char **argv);
int cmd_deliver(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_cert(int argc, char **argv);

#endif
