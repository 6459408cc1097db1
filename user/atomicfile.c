// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"

/* The directory part of path ("." when none) and its last component. */
static int split(const char *path, char **dir, const char **base)
{
	const char *slash = strrchr(path, '/');

	*base = slash ? slash + 1 : path;
	if (!**base)
		return -EISDIR;
	if (!slash)
		*dir = strdup(".");
	else if (slash == path)
		*dir = strdup("/");
	else
		*dir = strndup(path, (size_t)(slash - path));
	return *dir ? 0 : -ENOMEM;
}

static int open_dir(const char *path, const char **base)
{
	char *dir;
	int fd, err;

	err = split(path, &dir, base);
	if (err)
		return err;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd < 0 ? -errno : fd;
	free(dir);
	return err;
}

/* The target itself: a directory or a link is not replaced. */
static int check_target(int dirfd, const char *base)
{
	struct stat st;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	return 0;
}

/* A hidden name next to the target no one can guess: ".BASE.RANDOM". */
static int tmp_name(const char *base, char *out, size_t len)
{
	unsigned long long r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		return -EIO;
	if ((size_t)snprintf(out, len, ".%s.%016llx", base, r) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int atomicfile__check(const char *path)
{
	const char *base;
	int dirfd, fd, err;

	dirfd = open_dir(path, &base);
	if (dirfd < 0)
		return dirfd;
	err = check_target(dirfd, base);
	if (!err && faccessat(dirfd, ".", W_OK | X_OK, AT_EACCESS))
		err = -errno;
	if (!err) {
		/* Really writable (a read-only mount, a full quota)? An
		 * unnamed file proves it and vanishes. */
		fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		else if (errno != EOPNOTSUPP && errno != EISDIR &&
			 errno != EINVAL)
			err = -errno;
	}
	close(dirfd);
	return err;
}

int atomicfile__open(struct atomicfile *af, const char *path, mode_t mode)
{
	char name[NAME_MAX + 1];
	const char *base;
	int err;

	memset(af, 0, sizeof(*af));
	af->fd = -1;
	af->dirfd = open_dir(path, &base);
	if (af->dirfd < 0)
		return af->dirfd;
	err = check_target(af->dirfd, base);
	if (err)
		goto fail;
	af->path = strdup(path);
	if (!af->path) {
		err = -ENOMEM;
		goto fail;
	}
	af->fd = openat(af->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
	if (af->fd >= 0) {
		/* O_TMPFILE applies the umask; the mode is ours to set. */
		if (fchmod(af->fd, mode)) {
			err = -errno;
			goto fail;
		}
		return 0;
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
		err = -errno;
		goto fail;
	}
	for (int i = 0; i < 16; i++) {
		err = tmp_name(base, name, sizeof(name));
		if (err)
			goto fail;
		af->fd = openat(af->dirfd, name,
				O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
					O_CLOEXEC,
				mode);
		if (af->fd >= 0 || errno != EEXIST)
			break;
	}
	if (af->fd < 0) {
		err = -errno;
		goto fail;
	}
	af->tmp = strdup(name);
	if (!af->tmp || fchmod(af->fd, mode)) {
		err = af->tmp ? -errno : -ENOMEM;
		unlinkat(af->dirfd, name, 0);
		goto fail;
	}
	return 0;
fail:
	atomicfile__abort(af);
	return err;
}

int atomicfile__write(struct atomicfile *af, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(af->fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The unnamed file gets a hidden name, to be renamed over the target. */
static int link_tmp(struct atomicfile *af, const char *base)
{
	char proc[64], name[NAME_MAX + 1];
	int err;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", af->fd);
	for (int i = 0; i < 16; i++) {
		err = tmp_name(base, name, sizeof(name));
		if (err)
			return err;
		if (!linkat(AT_FDCWD, proc, af->dirfd, name,
			    AT_SYMLINK_FOLLOW)) {
			af->tmp = strdup(name);
			if (af->tmp)
				return 0;
			unlinkat(af->dirfd, name, 0);
			return -ENOMEM;
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int atomicfile__commit(struct atomicfile *af)
{
	const char *base = strrchr(af->path, '/');
	int err = 0;

	base = base ? base + 1 : af->path;
	if (fsync(af->fd))
		err = -errno;
	if (!err && !af->tmp)
		err = link_tmp(af, base);
	/* The target may have become a link or a directory meanwhile. */
	if (!err)
		err = check_target(af->dirfd, base);
	if (!err && renameat(af->dirfd, af->tmp, af->dirfd, base))
		err = -errno;
	if (!err) {
		free(af->tmp);
		af->tmp = NULL;
	}
	atomicfile__abort(af);
	return err;
}

void atomicfile__abort(struct atomicfile *af)
{
	if (af->tmp && af->dirfd >= 0)
		unlinkat(af->dirfd, af->tmp, 0);
	if (af->fd >= 0)
		close(af->fd);
	if (af->dirfd >= 0)
		close(af->dirfd);
	free(af->tmp);
	free(af->path);
	memset(af, 0, sizeof(*af));
	af->fd = -1;
	af->dirfd = -1;
}
