/* SPDX-License-Identifier: MIT */
/*
 * Files replaced whole or not at all: written to an unnamed file in the
 * target's directory (O_TMPFILE; where the filesystem has none, a
 * randomly named one created exclusively), fsync'ed, then renamed over
 * the target. A reader sees the old or the new file, never a torn one; a
 * writer killed mid-write leaves nothing behind (O_TMPFILE) or at most its
 * hidden temporary file (the fallback). A symbolic link at the target is
 * refused, never followed.
 */
#ifndef MS_ATOMICFILE_H
#define MS_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

struct atomicfile {
	int fd;
	int dirfd;
	char *path; /* the target */
	char *tmp; /* the fallback's name, or NULL */
};

/* Can a file be written at path? 0, or negative errno: -ENOENT (no such
 * directory), -ENOTDIR, -EISDIR (path is a directory), -ELOOP (a
 * symbolic link), -EACCES, -EROFS... Creates nothing that stays. */
int atomicfile__check(const char *path);
/* 0 with af open for writing (af->fd), or negative errno. */
int atomicfile__open(struct atomicfile *af, const char *path, mode_t mode);
/* Writes len bytes. Negative errno. */
int atomicfile__write(struct atomicfile *af, const void *buf, size_t len);
/* fsync and rename into place; af is closed either way. Negative errno. */
int atomicfile__commit(struct atomicfile *af);
/* Drops what was written. */
void atomicfile__abort(struct atomicfile *af);

#endif
