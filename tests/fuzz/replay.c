// SPDX-License-Identifier: MIT
/*
 * Replays files through the fuzz harness without libFuzzer: the corpus
 * (and any crash file) as an ordinary test. A file named good-* must
 * load and bad-* must be refused; others (fuzzer finds) only must not
 * crash.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "offline/snap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int failures, files;

static void replay(const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct snap *s = NULL;
	char err[512];
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;
	int ret;

	if (!f) {
		fprintf(stderr, "FAIL %s: cannot open\n", path);
		failures++;
		return;
	}
	do {
		char *nb;

		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb)
				abort();
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	files++;
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	ret = snap__load_mem(buf, len, &s, err, sizeof(err));
	if (!strncmp(base, "good-", 5) && ret) {
		fprintf(stderr, "FAIL %s: should load: %s\n", path, err);
		failures++;
	} else if (!strncmp(base, "bad-", 4) && !ret) {
		fprintf(stderr, "FAIL %s: should be refused\n", path);
		failures++;
	} else {
		printf("ok %s%s%s\n", base, ret ? ": " : "", ret ? err : "");
	}
	snap__free(s);
	free(buf);
}

static void walk(const char *path)
{
	struct dirent **ents;
	struct stat st;
	int n;

	if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
		replay(path);
		return;
	}
	/* Sorted, so the output is the same every run. */
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "FAIL %s: cannot list\n", path);
		failures++;
		return;
	}
	for (int i = 0; i < n; i++) {
		char *p;

		if (ents[i]->d_name[0] != '.' &&
		    asprintf(&p, "%s/%s", path, ents[i]->d_name) > 0) {
			replay(p);
			free(p);
		}
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++)
		walk(argv[i]);
	printf("%d files, %d failures\n", files, failures);
	return failures || !files ? 1 : 0;
}
