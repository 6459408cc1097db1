// SPDX-License-Identifier: MIT
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/attach_int.h"
#include "attach/elf.h"
#include "attach/prologue.h"
#include "log.h"
#include "memscope.skel.h"
#include "memscope/events.h"

bool attach_lib__is_libc(const char *base)
{
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-2.", 7);
}

int attach__find_libc_pid(pid_t pid, char *out, size_t len)
{
	char path[64], line[PATH_MAX + 128];
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char *p = strchr(line, '/'), *base;
		size_t n;

		if (!p || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		n = strlen(p);
		while (n && p[n - 1] == '\n')
			p[--n] = '\0';
		base = strrchr(p, '/') + 1;
		if (!attach_lib__is_libc(base))
			continue;
		/* Replaced or deleted since it was mapped: go through the
		 * mapping itself, which still names the old inode. */
		if (n > 10 && !strcmp(p + n - 10, " (deleted)"))
			snprintf(out, len, "/proc/%d/map_files/%lx-%lx",
				 (int)pid, lo, hi);
		else
			snprintf(out, len, "%s", p);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu",
	"/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu",
	"/usr/lib/aarch64-linux-gnu",
	"/lib64",
	"/usr/lib64",
	"/lib",
	"/usr/lib",
};

/* Where the dynamic loader would find a DT_NEEDED name (the common cases:
 * LD_LIBRARY_PATH, then the system directories). */
bool attach_lib__find(const char *name, struct attach_lib *nc)
{
	const char *ld = getenv("LD_LIBRARY_PATH");

	if (ld && *ld) {
		char dirs[PATH_MAX], *save, *d;

		snprintf(dirs, sizeof(dirs), "%s", ld);
		for (d = strtok_r(dirs, ":", &save); d;
		     d = strtok_r(NULL, ":", &save)) {
			snprintf(nc->out, nc->len, "%s/%s", d, name);
			if (!access(nc->out, R_OK))
				return nc->found = true;
		}
	}
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		snprintf(nc->out, nc->len, "%s/%s", lib_dirs[i], name);
		if (!access(nc->out, R_OK))
			return nc->found = true;
	}
	return false;
}

static int needed_cb(const char *name, void *ctx)
{
	if (!attach_lib__is_libc(name))
		return 0;
	return attach_lib__find(name, ctx);
}

int attach__find_libc_prog(const char *prog, char *out, size_t len)
{
	struct attach_lib nc = { out, len, false };
	struct elf_file *ef;
	int err;

	err = elf__open(prog, &ef);
	if (err)
		return err;
	if (!elf__is_dynamic(ef)) {
		elf__close(ef);
		return -ENOENT;
	}
	elf__foreach_needed(ef, needed_cb, &nc);
	elf__close(ef);
	return nc.found ? 0 : -ENOENT;
}

/* Where a library name is mapped in pid, by file name ("" if nowhere). */
static void mapped_path(pid_t pid, const char *name, char *out, size_t len)
{
	char path[64], line[PATH_MAX + 128];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, '/');
		size_t n;

		if (!p)
			continue;
		n = strlen(p);
		while (n && p[n - 1] == '\n')
			p[--n] = '\0';
		if (!strcmp(strrchr(p, '/') + 1, name)) {
			snprintf(out, len, "%s", p);
			break;
		}
	}
	fclose(f);
}

/* The dynamic loader's search order for symbols, as far as it matters
 * here: LD_PRELOAD, then the executable's DT_NEEDED libraries breadth
 * first (each library once). */
#define SCOPE_MAX 128

struct scope {
	char *names[SCOPE_MAX];
	size_t n;
};

static int scope_add(const char *name, void *ctx)
{
	struct scope *sc = ctx;

	for (size_t i = 0; i < sc->n; i++)
		if (!strcmp(sc->names[i], name))
			return 0;
	if (sc->n < SCOPE_MAX && (sc->names[sc->n] = strdup(name)))
		sc->n++;
	return 0;
}

/* LD_PRELOAD from the process's environment (what its loader read). */
static void scope_preload(struct scope *sc, pid_t pid)
{
	char path[64], *env = NULL, *save, *tok;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getdelim(&env, &cap, '\0', f) > 0) {
		if (strncmp(env, "LD_PRELOAD=", 11))
			continue;
		for (tok = strtok_r(env + 11, " :", &save); tok;
		     tok = strtok_r(NULL, " :", &save))
			scope_add(tok, sc);
		break;
	}
	free(env);
	fclose(f);
}

int attach__find_malloc(const char *exe, pid_t pid, bool mapped,
			const char *libc, char *out, size_t len)
{
	struct scope sc = { .n = 0 };
	struct elf_file *ef;
	struct elf_sym s;
	int err = -ENOENT;

	snprintf(out, len, "%s", libc);
	if (pid > 0)
		scope_preload(&sc, pid);
	if (!elf__open(exe, &ef)) {
		/* Its calls to malloc never reach a library: its own malloc
		 * is attach__exe_allocator()'s. */
		elf__foreach_needed(ef, scope_add, &sc);
		elf__close(ef);
	}
	for (size_t i = 0; i < sc.n; i++) {
		char path[PATH_MAX];
		struct attach_lib lib = { path, sizeof(path), false };
		const char *name = sc.names[i];

		path[0] = '\0';
		if (strchr(name, '/'))
			snprintf(path, sizeof(path), "%s", name);
		else if (mapped && pid > 0)
			mapped_path(pid, name, path, sizeof(path));
		if (!path[0] && !strchr(name, '/'))
			attach_lib__find(name, &lib);
		if (!path[0] || elf__open(path, &ef))
			continue;
		if (!elf__find_func(ef, "malloc", &s)) {
			const char *base = strrchr(path, '/');

			/* libc itself: keep the path the caller found. */
			if (!attach_lib__is_libc(base ? base + 1 : path))
				snprintf(out, len, "%s", path);
			err = 0;
			elf__close(ef);
			break;
		}
		/* Not the allocator: its own needs come later. */
		elf__foreach_needed(ef, scope_add, &sc);
		elf__close(ef);
	}
	for (size_t i = 0; i < sc.n; i++)
		free(sc.names[i]);
	return err;
}
