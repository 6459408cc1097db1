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
#include "util.h"

/* ---- process ----------------------------------------------------------- */

static void module_free(struct sym_module *sm)
{
	free(sm->syms);
	free(sm);
}

static int mark_module(Dwfl_Module *mod, void **userdata, const char *name,
		       Dwarf_Addr start, void *arg)
{
	struct sym_proc *p = arg;
	struct sym_module *sm = *userdata;

	if (!sm) {
		sm = calloc(1, sizeof(*sm));
		if (!sm)
			return DWARF_CB_OK; /* find_elf falls back to libdw's */
		sm->p = p;
		sm->next = p->mods;
		p->mods = sm;
		*userdata = sm;
	}
	sm->live = true;
	return DWARF_CB_OK;
}

/* Gives every module its sym_module and frees those of the modules
 * libdwfl dropped at dwfl_report_end (it does not tell us). */
static void sync_modules(struct sym_proc *p)
{
	struct sym_module **link = &p->mods, *sm;

	dwfl_getmodules(p->dwfl, mark_module, p, 0);
	while ((sm = *link)) {
		if (!sm->live) {
			*link = sm->next;
			module_free(sm);
			continue;
		}
		sm->live = false;
		link = &sm->next;
	}
}

static int load_elf(Dwfl_Module *mod, void **userdata, const char *name,
		    Dwarf_Addr start, void *arg)
{
	Dwarf_Addr bias;

	dwfl_module_getelf(mod, &bias);
	return DWARF_CB_OK;
}

static void cache_clear(struct sym_proc *p)
{
	memset(p->cache, 0, CACHE_SLOTS * sizeof(*p->cache));
}

/* Reports the current mappings to libdw. Returns 1 when they changed, 0
 * when they did not (nothing done), or a negative errno. */
static int reload(struct sym_proc *p, bool force)
{
	char path[64], *buf = NULL;
	struct file_map *maps = NULL;
	size_t len = 0, nmaps;
	uint64_t sig;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
	err = sym_maps__read(path, &buf, &len);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	sig = ((uint64_t)strtab__hash(buf, len) << 32) ^ len;
	if (!force && sig == p->maps_sig) {
		free(buf);
		return 0;
	}
	/* A zombie's maps are empty: keep what we know of the process. */
	if (!len) {
		free(buf);
		return -ESRCH;
	}
	err = sym_maps__parse(buf, &maps, &nmaps);
	free(buf);
	if (err)
		return err;
	free(p->maps);
	p->maps = maps;
	p->nmaps = nmaps;

	/* Modules reported again with the same name and range keep their
	 * loaded ELF and CFI; the others are dropped. */
	dwfl_report_begin(p->dwfl);
	err = dwfl_linux_proc_report(p->dwfl, p->pid);
	if (dwfl_report_end(p->dwfl, NULL, NULL) && !err)
		err = -1;
	if (err)
		return err > 0 ? (err == ENOENT ? -ESRCH : -err) : -EIO;
	sync_modules(p);
	/* Open every ELF now, while /proc/PID/map_files still leads to it: a
	 * short-lived target may be gone when its stacks are symbolized. */
	dwfl_getmodules(p->dwfl, load_elf, NULL, 0);
	p->maps_sig = sig;
	cache_clear(p);
	return 1;
}

int sym_proc__auto_refresh(struct sym_proc *p)
{
	uint64_t now = util__now_ns();

	if (now < p->next_auto_refresh)
		return 0;
	p->next_auto_refresh = now + AUTO_REFRESH_NS;
	return reload(p, false);
}

int sym__open(pid_t pid, struct sym_proc **out)
{
	struct sym_proc *p;
	char path[64];
	int err;

	if (pid <= 0 || !out)
		return -EINVAL;
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	p->mem_fd = -1;
	p->cache = calloc(CACHE_SLOTS, sizeof(*p->cache));
	if (!p->cache || strtab__grow(&p->strs)) {
		err = -ENOMEM;
		goto fail;
	}
	elf_version(EV_CURRENT);
	p->dwfl = dwfl_begin(&sym_proc_callbacks);
	if (!p->dwfl) {
		err = -ENOMEM;
		goto fail;
	}

	memcpy(p->ehdr.e_ident, ELFMAG, SELFMAG);
	p->ehdr.e_ident[EI_CLASS] = ELFCLASS64;
	p->ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
	p->ehdr.e_ident[EI_VERSION] = EV_CURRENT;
	p->ehdr.e_type = ET_EXEC;
	p->ehdr.e_machine = EM_X86_64;
	p->ehdr.e_version = EV_CURRENT;
	p->ehdr.e_ehsize = sizeof(p->ehdr);
	p->arch = elf_memory((char *)&p->ehdr, sizeof(p->ehdr));
	/* Without process state we can still symbolize; unwinding reports
	 * the first pc only. */
	p->attached = p->arch && dwfl_attach_state(p->dwfl, p->arch, pid,
						   &sym_thread_callbacks, p);

	err = reload(p, true);
	if (err < 0)
		goto fail;
	if (!p->attached)
		p->attached = dwfl_attach_state(p->dwfl, NULL, pid,
						&sym_thread_callbacks, p);

	/* Only for the rare CFI expression that reads a module's data. */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	p->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	*out = p;
	return 0;
fail:
	sym__close(p);
	return err;
}

int sym__refresh(struct sym_proc *p)
{
	int err;

	if (!p)
		return -EINVAL;
	err = reload(p, false);
	return err < 0 ? err : 0;
}

void sym__close(struct sym_proc *p)
{
	if (!p)
		return;
	if (p->dwfl)
		dwfl_end(p->dwfl);
	if (p->arch)
		elf_end(p->arch);
	if (p->mem_fd >= 0)
		close(p->mem_fd);
	while (p->mods) {
		struct sym_module *next = p->mods->next;

		module_free(p->mods);
		p->mods = next;
	}
	strtab__free(&p->strs);
	free(p->maps);
	free(p->cache);
	free(p);
}
