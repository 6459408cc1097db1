// SPDX-License-Identifier: MIT
/*
 * hold_blocks N SIZE [--wait-go]: (with --wait-go, prints WAITING and
 * waits for a line first, then) mallocs N blocks of SIZE bytes, prints READY on
 * stdout and TRUTH {"blocks":N,"size":SIZE} on stderr, holds them until a
 * line (or EOF) on stdin, then frees them all and exits 0. For the test
 * that millions of live blocks are counted exactly and cheaply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	unsigned long n, size;
	char line[16];
	void **blocks;

	if (argc < 3 || argc > 4 || (n = strtoul(argv[1], NULL, 10)) == 0 ||
	    (size = strtoul(argv[2], NULL, 10)) == 0 ||
	    (argc == 4 && strcmp(argv[3], "--wait-go"))) {
		fprintf(stderr, "usage: hold_blocks N SIZE [--wait-go]\n");
		return 2;
	}
	if (argc == 4) {
		puts("WAITING");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			line[0] = 0;
	}
	/* The array itself is one more block. */
	blocks = malloc(n * sizeof(*blocks));
	if (!blocks)
		return 1;
	for (unsigned long i = 0; i < n; i++) {
		blocks[i] = malloc(size);
		if (!blocks[i])
			return 1;
		*(volatile char *)blocks[i] = 1;
	}
	fprintf(stderr, "TRUTH {\"blocks\":%lu,\"size\":%lu}\n", n, size);
	puts("READY");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	for (unsigned long i = 0; i < n; i++)
		free(blocks[i]);
	free(blocks);
	return 0;
}
