// SPDX-License-Identifier: MIT
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sym/debugfile.h"
#include "sym/sym_int.h"

/* ---- /proc/PID/maps ------------------------------------------------- */

int sym_maps__read(const char *path, char **out, size_t *out_len)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap), *nbuf;
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				err = -ENOMEM;
				goto fail;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

/* File-backed mappings, in address order as the kernel lists them: the
 * start-end names that /proc/PID/map_files wants. */
int sym_maps__parse(char *buf, struct file_map **out, size_t *out_n)
{
	size_t n = 0, cap = 0;
	struct file_map *maps = NULL, *nmaps;
	char *line, *save = NULL;

	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		uint64_t start, end, off, ino;
		unsigned int maj, min;
		int pos = 0;

		if (sscanf(line,
			   "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64
			   " %x:%x %" SCNu64 " %n",
			   &start, &end, &off, &maj, &min, &ino, &pos) < 6 ||
		    pos <= 0 || line[pos] != '/')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nmaps = realloc(maps, cap * sizeof(*maps));
			if (!nmaps) {
				free(maps);
				return -ENOMEM;
			}
			maps = nmaps;
		}
		maps[n].start = start;
		maps[n].end = end;
		n++;
	}
	*out = maps;
	*out_n = n;
	return 0;
}

const struct file_map *sym_maps__find(const struct sym_proc *p, uint64_t start)
{
	size_t lo = 0, hi = p->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->maps[mid].start == start)
			return &p->maps[mid];
		if (p->maps[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
