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

/* ---- finding ELF and debug files ------------------------------------- */

static int open_regular(const char *path)
{
	struct stat st;

	/* Mappings of device files must not be opened: open may block or
	 * have side effects. stat follows map_files and exe links. */
	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int find_elf(Dwfl_Module *mod, void **userdata, const char *name,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	static const char deleted_sfx[] = " (deleted)";
	struct sym_module *sm = *userdata;
	struct sym_proc *p = sm ? sm->p : NULL;
	char path[PATH_MAX + 64], clean[PATH_MAX], exe[PATH_MAX];
	const struct file_map *m;
	size_t len = strlen(name), sfx = sizeof(deleted_sfx) - 1;
	bool deleted = false;
	ssize_t n;
	int fd;

	if (!p || name[0] != '/' || len >= sizeof(clean))
		goto libdw;
	memcpy(clean, name, len + 1);
	if (len > sfx && !strcmp(clean + len - sfx, deleted_sfx)) {
		clean[len - sfx] = '\0';
		deleted = true;
	}
	/* The mapped inode itself, whatever its path has become since. Needs
	 * CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE). */
	m = sym_maps__find(p, base);
	if (m) {
		snprintf(path, sizeof(path),
			 "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)p->pid,
			 m->start, m->end);
		fd = open_regular(path);
		if (fd >= 0)
			goto found;
	}
	/* The path as the process sees it: other mount namespaces. */
	if (!deleted) {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)p->pid,
			 clean);
		fd = open_regular(path);
		if (fd >= 0)
			goto found;
	}
	/* A deleted main executable stays reachable through exe without any
	 * capability: the common "rebuilt while running" case. */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (!strcmp(exe, name)) {
			fd = open_regular(path);
			if (fd >= 0)
				goto found;
		}
	}
libdw:
	/* The host path, or for deleted files and the vDSO the image in
	 * memory (loaded segments only: dynamic symbols, CFI). */
	return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name,
					elfp);
found:
	/* The original path: separate debug files are looked for next to it. */
	*file_name = strdup(clean);
	if (!*file_name) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The separate debug file, found where gdb looks (debugfile.c: by build
 * id under --debug-dir and /usr/lib/debug, then by .gnu_debuglink) and
 * nowhere else: dwfl_standard_find_debuginfo would ask debuginfod when
 * DEBUGINFOD_URLS is set, a network fetch we never want in a tracer.
 * libdwfl takes the fd and the name. file_name is the binary as the
 * process names it (NULL for an image read from memory). */
int sym_debuginfo__find(Dwfl_Module *mod, void **userdata, const char *modname,
			GElf_Addr base, const char *file_name, const char *link,
			GElf_Word crc, char **debuginfo_file_name)
{
	const unsigned char *id = NULL;
	char path[PATH_MAX];
	GElf_Addr vaddr;
	int id_len = dwfl_module_build_id(mod, &id, &vaddr);
	int fd;

	if (debugfile__find(file_name, id, id_len > 0 ? (size_t)id_len : 0,
			    link, path, sizeof(path)))
		return -1;
	fd = open_regular(path);
	if (fd < 0)
		return -1;
	*debuginfo_file_name = strdup(path);
	if (!*debuginfo_file_name) {
		close(fd);
		return -1;
	}
	return fd;
}

const Dwfl_Callbacks sym_proc_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = sym_debuginfo__find,
};
