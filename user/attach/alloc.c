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

struct family_fn {
	const char *name;
	enum ms_alloc_fn fn;
};

/* aligned_alloc comes after memalign: in glibc they share one address, and
 * one probe serves both. */
static const struct family_fn family[] = {
	{ "malloc", MS_FN_MALLOC },
	{ "calloc", MS_FN_CALLOC },
	{ "realloc", MS_FN_REALLOC },
	{ "reallocarray", MS_FN_REALLOCARRAY },
	{ "posix_memalign", MS_FN_POSIX_MEMALIGN },
	{ "memalign", MS_FN_MEMALIGN },
	{ "aligned_alloc", MS_FN_MEMALIGN },
	{ "valloc", MS_FN_VALLOC },
	{ "pvalloc", MS_FN_PVALLOC },
};

int attach__place(struct elf_file *ef, const struct elf_sym *s,
		  enum prologue_kind kind, uint64_t *off)
{
	uint8_t code[64];
	size_t n = s->size && s->size < sizeof(code) ? s->size : sizeof(code);
	struct probe_place p = { 0, false };
	int err;

	if (elf__machine(ef) == 62 /* EM_X86_64 */ &&
	    !elf__read_vaddr(ef, s->vaddr, code, n))
		p = prologue__place(code, n, kind);
	err = elf__vaddr_to_off(ef, s->vaddr + p.offset, off);
	pr_debug("%s: probe at +%u (%s)", s->name, p.offset,
		 p.emulated ? "emulated" : "single-stepped");
	return err;
}

int attach__allocator(struct attach *a, const char *libc_path, bool floor)
{
	struct bpf_program *enter, *ret, *pm_ret, *fr;
	uint64_t seen[sizeof(family) / sizeof(family[0])];
	struct elf_file *ef;
	size_t nseen = 0;
	struct elf_sym s;
	uint64_t off;
	int err;

	enter = floor ? a->skel->progs.floor_enter : a->skel->progs.alloc_enter;
	ret = floor ? a->skel->progs.floor_ret : a->skel->progs.alloc_ret;
	pm_ret = floor ? a->skel->progs.floor_ret :
			 a->skel->progs.posix_memalign_ret;
	fr = floor ? a->skel->progs.floor_enter : a->skel->progs.free_enter;

	err = elf__open(libc_path, &ef);
	if (err)
		return err;
	/* free before the allocating calls (see pending_cmp). */
	if (elf__find_func(ef, "free", &s)) {
		pr_err("%s has no free: not a libc", libc_path);
		err = -ENOENT;
		goto out;
	}
	err = attach__place(ef, &s, PROLOGUE_FREE, &off);
	if (!err)
		err = attach__uprobe(a, fr, libc_path, off, false, MS_FN_FREE);
	if (err)
		goto out;
	for (size_t i = 0; i < sizeof(family) / sizeof(family[0]); i++) {
		const struct family_fn *f = &family[i];
		bool dup = false;

		if (elf__find_func(ef, f->name, &s)) {
			if (f->fn == MS_FN_MALLOC || f->fn == MS_FN_REALLOC ||
			    f->fn == MS_FN_CALLOC) {
				pr_err("%s has no %s: not a libc", libc_path,
				       f->name);
				err = -ENOENT;
				goto out;
			}
			pr_debug("%s: no %s", libc_path, f->name);
			continue;
		}
		for (size_t j = 0; j < nseen; j++)
			dup |= seen[j] == s.vaddr;
		if (dup)
			continue;
		seen[nseen++] = s.vaddr;
		/* The return probe first (see pending_cmp). */
		err = attach__place(ef, &s, PROLOGUE_ENTRY, &off);
		if (!err)
			err = attach__uprobe(
				a, f->fn == MS_FN_POSIX_MEMALIGN ? pm_ret : ret,
				libc_path, off, true, f->fn);
		if (!err)
			err = attach__uprobe(a, enter, libc_path, off, false,
					     f->fn);
		if (err)
			goto out;
	}
out:
	elf__close(ef);
	return err;
}
