/* SPDX-License-Identifier: MIT */
/*
 * Where a command's output goes: stdout, or a file replaced atomically
 * (a temporary file in the same directory, fsync, rename), so a reader
 * sees the old or the new file, never half of one. A symbolic link at
 * the destination is refused rather than followed or replaced.
 */
#ifndef MS_OFFLINE_OUTFILE_H
#define MS_OFFLINE_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>

struct outfile {
	FILE *f;
	char *path; /* NULL: stdout */
	char *tmp; /* NULL: written in place (stdout, a device or a FIFO) */
};

/*
 * path NULL or "-" means stdout. Returns 0, or a negative errno:
 * -ELOOP for a symbolic link, -EISDIR for a directory, -EINVAL for
 * another kind of file that cannot be replaced (socket).
 */
int outfile__open(struct outfile *o, const char *path);
/* Flush, sync and put the file in place; closes it either way. */
int outfile__commit(struct outfile *o);
/* Drop the output: the destination stays as it was. */
void outfile__abort(struct outfile *o);
bool outfile__is_tty(const struct outfile *o);

#endif
