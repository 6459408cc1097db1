// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "offline/outfile.h"

/* A name in path's directory: ".NAME.tmp-PID-N", created exclusively. */
static int open_tmp(const char *path, char **tmp_out)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dirlen = slash ? (int)(slash - path + 1) : 0;
	char *tmp;
	int fd = -1;

	for (int i = 0; i < 100; i++) {
		unsigned long r = (unsigned long)time(NULL) ^
				  ((unsigned long)getpid() << 16) ^
				  (unsigned long)i * 2654435761ul;

		if (asprintf(&tmp, "%.*s.%s.tmp-%d-%lx", dirlen, path, base,
			     (int)getpid(), r) < 0)
			return -ENOMEM;
		if (strlen(tmp) >= PATH_MAX) {
			free(tmp);
			return -ENAMETOOLONG;
		}
		/* Mode 0666 less umask: what any tool creating a file gives. */
		fd = open(tmp,
			  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			  0666);
		if (fd >= 0) {
			*tmp_out = tmp;
			return fd;
		}
		free(tmp);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int outfile__open(struct outfile *o, const char *path)
{
	struct stat st;
	int fd, err;

	memset(o, 0, sizeof(*o));
	if (!path || !strcmp(path, "-")) {
		o->f = stdout;
		return 0;
	}
	if (!*path)
		return -ENOENT;
	o->path = strdup(path);
	if (!o->path)
		return -ENOMEM;
	if (!lstat(path, &st)) {
		if (S_ISLNK(st.st_mode)) {
			err = -ELOOP;
			goto err_free;
		}
		if (S_ISDIR(st.st_mode)) {
			err = -EISDIR;
			goto err_free;
		}
		/*
		 * A device or FIFO (/dev/null, a pipe to another program)
		 * is written to, never replaced by a regular file.
		 */
		if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
			fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				err = -errno;
				goto err_free;
			}
			goto fdopen;
		}
		if (!S_ISREG(st.st_mode)) {
			err = -EINVAL;
			goto err_free;
		}
	} else if (errno != ENOENT) {
		err = -errno;
		goto err_free;
	}
	fd = open_tmp(path, &o->tmp);
	if (fd < 0) {
		err = fd;
		goto err_free;
	}
fdopen:
	o->f = fdopen(fd, "w");
	if (!o->f) {
		err = -errno;
		close(fd);
		goto err_unlink;
	}
	return 0;

err_unlink:
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
err_free:
	free(o->path);
	memset(o, 0, sizeof(*o));
	return err;
}

bool outfile__is_tty(const struct outfile *o)
{
	return o->f && isatty(fileno(o->f));
}

int outfile__commit(struct outfile *o)
{
	int err = 0;

	if (!o->f)
		return -EBADF;
	if (fflush(o->f) || ferror(o->f))
		err = -(errno ?: EIO);
	if (o->f == stdout) {
		memset(o, 0, sizeof(*o));
		return err;
	}
	/* The data must be on disk before the name points at it. */
	if (!err && o->tmp && fsync(fileno(o->f)))
		err = -errno;
	if (fclose(o->f) && !err)
		err = -(errno ?: EIO);
	o->f = NULL;
	if (!err && o->tmp && rename(o->tmp, o->path))
		err = -errno;
	if (err && o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof(*o));
	return err;
}

void outfile__abort(struct outfile *o)
{
	if (o->f && o->f != stdout)
		fclose(o->f);
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof(*o));
}
