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

/* ---- files, without a process --------------------------------------- */

struct sym_file {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	struct sym_module sm; /* the module's symbol index */
	struct strtab strs;
	char namebuf[NAME_BUF];
};

/* dwfl_report_elf gives the module its ELF: nothing to find. */
static int no_elf(Dwfl_Module *mod, void **userdata, const char *name,
		  Dwarf_Addr base, char **file_name, Elf **elfp)
{
	return -1;
}

static const Dwfl_Callbacks file_callbacks = {
	.find_elf = no_elf,
	.find_debuginfo = sym_debuginfo__find,
	.section_address = dwfl_offline_section_address,
};

int sym__file_open(const char *path, struct sym_file **out)
{
	struct sym_file *f;
	struct stat st;
	void **ud = NULL;
	const char *base;
	int fd, err;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	/* Paths may come from an untrusted snapshot: never open a FIFO or a
	 * device, whose open may block or have side effects. */
	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = calloc(1, sizeof(*f));
	if (!f || strtab__grow(&f->strs)) {
		err = -ENOMEM;
		goto fail;
	}
	elf_version(EV_CURRENT);
	f->dwfl = dwfl_begin(&file_callbacks);
	if (!f->dwfl) {
		err = -ENOMEM;
		goto fail;
	}
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	/* Loaded at its own addresses (bias 0, add_p_vaddr): an address of
	 * the module is an ELF virtual address of the file. */
	dwfl_report_begin(f->dwfl);
	f->mod = dwfl_report_elf(f->dwfl, base, path, fd, 0, true);
	dwfl_report_end(f->dwfl, NULL, NULL);
	if (!f->mod) {
		err = -ENOEXEC;
		goto fail;
	}
	fd = -1; /* the module's now */
	dwfl_module_info(f->mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	if (ud)
		*ud = &f->sm;
	*out = f;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	sym__file_close(f);
	return err;
}

int sym__file_frame(struct sym_file *f, uint64_t addr, struct sym_frame *out)
{
	const char *name;

	if (!f || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->pc = addr;
	name = dwfl_module_info(f->mod, NULL, NULL, NULL, NULL, NULL, NULL,
				NULL);
	out->module = sym_module__basename(&f->strs, name);
	out->addr = addr;
	sym_frame__describe(&f->strs, f->namebuf, sizeof(f->namebuf), f->mod,
			    addr, out);
	return out->function || out->file ? 0 : -ENOENT;
}

void sym__file_close(struct sym_file *f)
{
	if (!f)
		return;
	if (f->dwfl)
		dwfl_end(f->dwfl);
	free(f->sm.syms);
	strtab__free(&f->strs);
	free(f);
}
