/*
 * Shared by the fuzz entries: declares the entry libFuzzer calls and, without
 * -DMAILNOOK_LIBFUZZER, a main that feeds each file named on the command line to it
 * (at most 1 MiB of each), so saved inputs replay under any compiler.
 */
#ifndef MAILNOOK_FUZZ_REPLAY_H
#define MAILNOOK_FUZZ_REPLAY_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "util.h"

/* Runs the code under test on data[0..size); returns 0 (crashes are the finding). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef MAILNOOK_LIBFUZZER
/* Replay saved inputs: PROGRAM FILE... */
int
main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	ssize_t n;
	int i, fd;

	for (i = 1; i < argc; i++) {
		if ((fd = open(argv[i], O_RDONLY)) < 0 || (n = read_full(fd, buf, sizeof(buf))) < 0) {
			perror(argv[i]);
			return 1;
		}
		close(fd);
		LLVMFuzzerTestOneInput(buf, (size_t)n);
	}
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
#endif

#endif
