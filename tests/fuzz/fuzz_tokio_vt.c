// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the tokio vtable scanner: it reads ELF images of
 * any program memscoped is pointed at, so damaged ones must give warnings,
 * never a crash. Build: CC=clang cmake -DMEMSCOPE_FUZZ=ON; run:
 * fuzz_tokio_vt tests/fuzz/vt_corpus. Without libFuzzer (MS_REPLAY_MAIN),
 * the same function replays the corpus as the unit test
 * unit.tokio_vt_corpus_replay.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach/tokio_vt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tokio_vt_set s;
	int err = tokio_vt__scan(data, size, &s);

	if (err && err != -ENOEXEC && err != -ENOMEM)
		abort();
	for (size_t i = 0; i < s.n; i++) {
		struct tokio_layout l;

		/* Whatever the scanner accepts, the layout reads. */
		if (tokio_vt__layout(&s.vt[i], 0, &l) ||
		    l.future_off + l.future_size != s.vt[i].trailer_off)
			abort();
	}
	tokio_vt__release(&s);
	return 0;
}

#ifdef MS_REPLAY_MAIN
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || (n > 0 && fread(buf, (size_t)n, 1, f) != 1)) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int files = 0, failures = 0;

	for (int i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *de;
		char path[4096];

		if (!d) {
			fprintf(stderr, "FAIL %s: cannot open\n", argv[i]);
			return 1;
		}
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
				 de->d_name);
			files++;
			if (replay_file(path)) {
				fprintf(stderr, "FAIL %s: cannot read\n", path);
				failures++;
			}
		}
		closedir(d);
	}
	printf("%d files replayed, %d failures\n", files, failures);
	return failures || !files;
}
#endif
