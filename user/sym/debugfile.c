// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "attach/elf.h"
#include "sym/debugfile.h"

static char dirs[DEBUGFILE_MAX_DIRS][PATH_MAX];
static size_t ndirs;

int debugfile__add_dir(const char *dir)
{
	struct stat st;

	if (ndirs == DEBUGFILE_MAX_DIRS)
		return -E2BIG;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode))
		return -ENOENT;
	if (strlen(dir) >= sizeof(dirs[0]))
		return -ENAMETOOLONG;
	strcpy(dirs[ndirs++], dir);
	return 0;
}

void debugfile__clear_dirs(void)
{
	ndirs = 0;
}

void debugfile__hex(const uint8_t *id, size_t id_len, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < id_len; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	out[2 * id_len] = '\0';
}

/* A regular file whose build id, when both have one, is the wanted one. */
static bool matches(const char *path, const uint8_t *id, size_t id_len)
{
	uint8_t got[DEBUGFILE_ID_MAX];
	struct elf_file *ef;
	struct stat st;
	size_t n;

	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return false;
	if (elf__open(path, &ef))
		return false;
	n = elf__build_id(ef, got, sizeof(got));
	elf__close(ef);
	return !id_len || !n || (n == id_len && !memcmp(got, id, n));
}

static const char *dir_at(size_t i)
{
	return i < ndirs ? dirs[i] : "/usr/lib/debug";
}

static int try(char *out, size_t len, const uint8_t *id, size_t id_len,
	       const char *fmt, const char *a, const char *b)
{
	int n = snprintf(out, len, fmt, a, b);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return matches(out, id, id_len) ? 0 : -ENOENT;
}

int debugfile__find(const char *path, const uint8_t *id, size_t id_len,
		    const char *link, char *out, size_t len)
{
	char hex[2 * DEBUGFILE_ID_MAX + 1], dir[PATH_MAX];
	const char *slash;

	if (id_len > 1 && id_len <= DEBUGFILE_ID_MAX) {
		debugfile__hex(id, id_len, hex);
		for (size_t i = 0; i <= ndirs; i++) {
			char rest[2 * DEBUGFILE_ID_MAX + 8];

			snprintf(rest, sizeof(rest), "%.2s/%s.debug", hex,
				 hex + 2);
			if (!try(out, len, id, id_len, "%s/.build-id/%s",
				 dir_at(i), rest))
				return 0;
		}
	}
	if (!link || !*link || strchr(link, '/'))
		return -ENOENT;
	slash = path ? strrchr(path, '/') : NULL;
	if (slash && (size_t)(slash - path) < sizeof(dir)) {
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		/* Next to the binary, but never the binary itself. */
		if (strcmp(slash + 1, link) &&
		    !try(out, len, id, id_len, "%s/%s", dir, link))
			return 0;
		if (!try(out, len, id, id_len, "%s/.debug/%s", dir, link))
			return 0;
	} else {
		dir[0] = '\0';
	}
	for (size_t i = 0; i <= ndirs; i++) {
		char sub[PATH_MAX];

		if (dir[0] &&
		    snprintf(sub, sizeof(sub), "%s%s", dir_at(i), dir) <
			    (int)sizeof(sub) &&
		    !try(out, len, id, id_len, "%s/%s", sub, link))
			return 0;
		if (!try(out, len, id, id_len, "%s/%s", dir_at(i), link))
			return 0;
	}
	return -ENOENT;
}

int debugfile__find_for(const char *path, char *out, size_t len)
{
	uint8_t id[DEBUGFILE_ID_MAX];
	char link[NAME_MAX + 1];
	struct elf_file *ef;
	size_t n;
	int err;

	err = elf__open(path, &ef);
	if (err)
		return err;
	n = elf__build_id(ef, id, sizeof(id));
	err = elf__debuglink(ef, link, sizeof(link));
	elf__close(ef);
	return debugfile__find(path, id, n, err ? NULL : link, out, len);
}
