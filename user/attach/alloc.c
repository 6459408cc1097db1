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

/*
 * What an allocator library adds to the family: its own API and C++'s
 * operators, which it defines ahead of libstdc++'s. Names at the address
 * of one probed already share its probe (tcmalloc's tc_malloc is malloc,
 * mimalloc's _ZdlPv is free): the first name in family, then here, wins.
 * Releases other than free are MS_FN_DELETE: they may call free.
 * Counting nothing: nallocx, sallocx, malloc_usable_size, mallctl,
 * mi_usable_size, tc_malloc_size.
 */
static const struct family_fn extra[] = {
	/* jemalloc */
	{ "mallocx", MS_FN_MALLOCX },
	{ "rallocx", MS_FN_RALLOCX },
	{ "xallocx", MS_FN_XALLOCX },
	{ "dallocx", MS_FN_DELETE },
	{ "sdallocx", MS_FN_DELETE },
	/* mimalloc */
	{ "mi_malloc", MS_FN_MALLOC },
	{ "mi_zalloc", MS_FN_MALLOC },
	{ "mi_calloc", MS_FN_CALLOC },
	{ "mi_realloc", MS_FN_REALLOC },
	{ "mi_expand", MS_FN_EXPAND },
	{ "mi_malloc_aligned", MS_FN_MALLOCX },
	{ "mi_zalloc_aligned", MS_FN_MALLOCX },
	{ "mi_new", MS_FN_NEW },
	{ "mi_free", MS_FN_DELETE },
	{ "mi_free_size", MS_FN_DELETE },
	/* tcmalloc */
	{ "tc_malloc", MS_FN_MALLOC },
	{ "tc_calloc", MS_FN_CALLOC },
	{ "tc_realloc", MS_FN_REALLOC },
	{ "tc_memalign", MS_FN_MEMALIGN },
	{ "tc_posix_memalign", MS_FN_POSIX_MEMALIGN },
	{ "tc_valloc", MS_FN_VALLOC },
	{ "tc_pvalloc", MS_FN_PVALLOC },
	{ "tc_new", MS_FN_NEW },
	{ "tc_newarray", MS_FN_NEW },
	{ "tc_new_nothrow", MS_FN_NEW },
	{ "tc_newarray_nothrow", MS_FN_NEW },
	{ "tc_free", MS_FN_DELETE },
	{ "tc_free_sized", MS_FN_DELETE },
	{ "tc_delete", MS_FN_DELETE },
	{ "tc_delete_sized", MS_FN_DELETE },
	{ "tc_deletearray", MS_FN_DELETE },
	{ "tc_deletearray_sized", MS_FN_DELETE },
	{ "tc_delete_nothrow", MS_FN_DELETE },
	{ "tc_deletearray_nothrow", MS_FN_DELETE },
	{ "tc_cfree", MS_FN_DELETE },
	/* C++ operator new and delete (size, or pointer, first) */
	{ "_Znwm", MS_FN_NEW },
	{ "_Znam", MS_FN_NEW },
	{ "_ZnwmRKSt9nothrow_t", MS_FN_NEW },
	{ "_ZnamRKSt9nothrow_t", MS_FN_NEW },
	{ "_ZnwmSt11align_val_t", MS_FN_NEW },
	{ "_ZnamSt11align_val_t", MS_FN_NEW },
	{ "_ZnwmSt11align_val_tRKSt9nothrow_t", MS_FN_NEW },
	{ "_ZnamSt11align_val_tRKSt9nothrow_t", MS_FN_NEW },
	{ "_ZdlPv", MS_FN_DELETE },
	{ "_ZdaPv", MS_FN_DELETE },
	{ "_ZdlPvm", MS_FN_DELETE },
	{ "_ZdaPvm", MS_FN_DELETE },
	{ "_ZdlPvRKSt9nothrow_t", MS_FN_DELETE },
	{ "_ZdaPvRKSt9nothrow_t", MS_FN_DELETE },
	{ "_ZdlPvSt11align_val_t", MS_FN_DELETE },
	{ "_ZdaPvSt11align_val_t", MS_FN_DELETE },
	{ "_ZdlPvmSt11align_val_t", MS_FN_DELETE },
	{ "_ZdaPvmSt11align_val_t", MS_FN_DELETE },
	{ "_ZdlPvSt11align_val_tRKSt9nothrow_t", MS_FN_DELETE },
	{ "_ZdaPvSt11align_val_tRKSt9nothrow_t", MS_FN_DELETE },
};

#define NFAMILY (sizeof(family) / sizeof(family[0]))
#define NEXTRA (sizeof(extra) / sizeof(extra[0]))

const char *attach__allocator_name(const char *path)
{
	const char *base = strrchr(path, '/');
	struct elf_file *ef;
	struct elf_sym s;
	const char *name = "unknown";

	if (attach_lib__is_libc(base ? base + 1 : path))
		return "glibc";
	if (elf__open(path, &ef))
		return name;
	/* By their own API: the file may have any name. */
	if (!elf__find_func(ef, "mallocx", &s) ||
	    !elf__find_func(ef, "je_malloc", &s))
		name = "jemalloc";
	else if (!elf__find_func(ef, "mi_malloc", &s))
		name = "mimalloc";
	else if (!elf__find_func(ef, "tc_malloc", &s))
		name = "tcmalloc";
	elf__close(ef);
	return name;
}

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

/* One function's probes, unless its address has one already. */
static int probe_fn(struct attach *a, struct elf_file *ef, const char *path,
		    const struct family_fn *f, const struct elf_sym *s,
		    struct bpf_program *enter, struct bpf_program *ret,
		    uint64_t *seen, size_t *nseen)
{
	uint64_t off;
	int err;

	for (size_t j = 0; j < *nseen; j++)
		if (seen[j] == s->vaddr)
			return 0;
	seen[(*nseen)++] = s->vaddr;
	/* The return probe first (see pending_cmp). */
	err = attach__place(ef, s, PROLOGUE_ENTRY, &off);
	if (!err)
		err = attach__uprobe(a, ret, path, off, true, f->fn);
	if (!err)
		err = attach__uprobe(a, enter, path, off, false, f->fn);
	return err;
}

/* prefix + name, looked up in ef (a static allocator's symbols carry its
 * prefix: jemalloc-sys's _rjem_malloc). */
static int find_prefixed(struct elf_file *ef, const char *prefix,
			 const char *name, struct elf_sym *s)
{
	char buf[128];

	if (!*prefix)
		return elf__find_func(ef, name, s);
	snprintf(buf, sizeof(buf), "%s%s", prefix, name);
	return elf__find_func(ef, buf, s);
}

/* The programs each kind of entry attaches. */
struct alloc_progs {
	struct bpf_program *enter, *ret, *pm_ret, *fr, *del;
};

static void alloc_progs(const struct attach *a, bool floor,
			struct alloc_progs *p)
{
	struct memscope_bpf *k = a->skel;

	p->enter = floor ? k->progs.floor_enter : k->progs.alloc_enter;
	p->ret = floor ? k->progs.floor_ret : k->progs.alloc_ret;
	p->pm_ret = floor ? k->progs.floor_ret : k->progs.posix_memalign_ret;
	p->fr = floor ? k->progs.floor_enter : k->progs.free_enter;
	p->del = floor ? k->progs.floor_enter : k->progs.delete_enter;
}

/* One table's entries of kind releases (MS_FN_DELETE) or the others. */
static int probe_table(struct attach *a, struct elf_file *ef,
		       struct elf_file *sef, const char *path,
		       const char *prefix, const struct family_fn *t, size_t n,
		       bool releases, const struct alloc_progs *p,
		       uint64_t *seen, size_t *nseen)
{
	struct elf_sym s;
	int err;

	for (size_t i = 0; i < n; i++) {
		const struct family_fn *f = &t[i];

		if ((f->fn == MS_FN_DELETE) != releases ||
		    find_prefixed(sef, prefix, f->name, &s))
			continue;
		err = probe_fn(a, ef, path, f, &s, releases ? p->del : p->enter,
			       f->fn == MS_FN_POSIX_MEMALIGN ? p->pm_ret :
							       p->ret,
			       seen, nseen);
		if (err)
			return err;
	}
	return 0;
}

/* The releases first, then what allocates (see pending_cmp); any entry may
 * be missing. Symbols are looked up in sef (ef, or its debug file), code
 * read and probed in ef. extras: the allocator API and C++ operators too.
 * Returns the functions probed, or negative errno. */
static int probe_module(struct attach *a, struct elf_file *ef,
			struct elf_file *sef, const char *path,
			const char *prefix, bool extras, bool floor)
{
	uint64_t seen[1 + NFAMILY + NEXTRA];
	size_t nx = extras ? NEXTRA : 0;
	struct alloc_progs p;
	size_t nseen = 0;
	struct elf_sym s;
	uint64_t off;
	int err = 0;

	alloc_progs(a, floor, &p);
	if (!find_prefixed(sef, prefix, "free", &s)) {
		err = attach__place(ef, &s, PROLOGUE_FREE, &off);
		if (!err)
			err = attach__uprobe(a, p.fr, path, off, false,
					     MS_FN_FREE);
		if (err)
			return err;
		seen[nseen++] = s.vaddr;
	}
	/* The other releases may call free. */
	err = probe_table(a, ef, sef, path, prefix, extra, nx, true, &p, seen,
			  &nseen);
	if (!err)
		err = probe_table(a, ef, sef, path, prefix, family, NFAMILY,
				  false, &p, seen, &nseen);
	if (!err)
		err = probe_table(a, ef, sef, path, prefix, extra, nx, false,
				  &p, seen, &nseen);
	pr_debug("%s: %zu allocator functions (prefix '%s') probed", path,
		 nseen, prefix);
	return err ? err : (int)nseen;
}

int attach__allocator_static(struct attach *a, const char *path,
			     const char *symfile, const char *prefix,
			     bool floor)
{
	struct elf_file *ef, *sef = NULL;
	int n;

	n = elf__open(path, &ef);
	if (n)
		return n;
	if (symfile && *symfile) {
		n = elf__open(symfile, &sef);
		if (n)
			goto out;
	}
	/* The linker drops the entries the program never calls
	 * (--gc-sections): none is required. */
	n = probe_module(a, ef, sef ? sef : ef, path, prefix, true, floor);
out:
	if (sef)
		elf__close(sef);
	elf__close(ef);
	return n;
}

int attach__allocator(struct attach *a, const char *path, bool floor)
{
	static const char *const required[] = { "free", "malloc", "calloc",
						"realloc" };
	const char *base = strrchr(path, '/');
	struct elf_file *ef;
	struct elf_sym s;
	int n;

	n = elf__open(path, &ef);
	if (n)
		return n;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (elf__find_func(ef, required[i], &s)) {
			pr_err("%s has no %s: not an allocator", path,
			       required[i]);
			n = -ENOENT;
			goto out;
		}
	}
	/* glibc's probes stay what they were: its family only. */
	n = probe_module(a, ef, ef, path, "",
			 !attach_lib__is_libc(base ? base + 1 : path), floor);
out:
	elf__close(ef);
	return n < 0 ? n : 0;
}
