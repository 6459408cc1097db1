// SPDX-License-Identifier: MIT
/* The allocator inside the executable (alloc_scan.c finds it): its entry
 * points probed like a library's, or Rust's shim over an allocator
 * memscoped does not know; said when it cannot be probed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attach/alloc_scan.h"
#include "attach/attach.h"
#include "attach/attach_int.h"
#include "attach/elf.h"
#include "log.h"
#include "memscope.skel.h"
#include "memscope/events.h"

static const char *const shim_names[ALLOC_SHIM_N] = {
	[ALLOC_SHIM_ALLOC] = "__rust_alloc",
	[ALLOC_SHIM_ZEROED] = "__rust_alloc_zeroed",
	[ALLOC_SHIM_REALLOC] = "__rust_realloc",
	[ALLOC_SHIM_DEALLOC] = "__rust_dealloc",
};

/* alloc(size, align) and alloc_zeroed(size, align) have the size first,
 * as mallocx; dealloc(ptr, size, align) is a sized release. */
static const enum ms_alloc_fn shim_fn[ALLOC_SHIM_N] = {
	[ALLOC_SHIM_ALLOC] = MS_FN_MALLOCX,
	[ALLOC_SHIM_ZEROED] = MS_FN_MALLOCX,
	[ALLOC_SHIM_REALLOC] = MS_FN_RUST_REALLOC,
	[ALLOC_SHIM_DEALLOC] = MS_FN_DELETE,
};

static int probe_shim(struct attach *a, const char *exe,
		      const struct alloc_scan *sc, bool floor)
{
	struct memscope_bpf *k = a->skel;
	struct elf_file *ef;
	int err, n = 0;

	err = elf__open(exe, &ef);
	if (err)
		return err;
	/* The release first (see pending_cmp). */
	for (int i = ALLOC_SHIM_N; i-- > 0;) {
		struct elf_sym s = { .name = shim_names[i],
				     .vaddr = sc->shim[i].vaddr,
				     .size = sc->shim[i].size };
		bool rel = shim_fn[i] == MS_FN_DELETE;
		uint64_t off;

		if (!s.vaddr) {
			pr_warn("%s: Rust's %s not found: its calls are not seen",
				exe, shim_names[i]);
			continue;
		}
		err = attach__place(ef, &s, PROLOGUE_ENTRY, &off);
		if (!err && !rel)
			err = attach__uprobe(a,
					     floor ? k->progs.floor_ret :
						     k->progs.alloc_ret,
					     exe, off, true, shim_fn[i]);
		if (!err)
			err = attach__uprobe(a,
					     floor ? k->progs.floor_enter :
					     rel   ? k->progs.delete_enter :
						     k->progs.alloc_enter,
					     exe, off, false, shim_fn[i]);
		if (err)
			break;
		n++;
	}
	elf__close(ef);
	return err ? err : n;
}

/* An allocator's own API, beyond the malloc family. */
static const char *own_api(const char *name)
{
	if (!strcmp(name, "jemalloc"))
		return "mallocx, rallocx, xallocx, sdallocx, dallocx";
	return !strcmp(name, "mimalloc") ? "mi_*" : "tc_*";
}

/* Entry points the scan did not find, named with the prefix. */
static void warn_missing(const char *exe, const struct alloc_scan *sc)
{
	const char *p = sc->prefix;

	/* Stripped, but interposing malloc and friends: .dynsym has those,
	 * not the allocator's own API. */
	if (sc->has_alloc && sc->named_by_strings)
		pr_warn("%s: %s is linked in and the executable is stripped: its malloc family is probed, its own API (%s) is not found and calls to it are not seen",
			exe, sc->name, own_api(sc->name));
	if (!sc->has_alloc)
		pr_warn("%s: %s is linked in, but none of its allocating entry points (%smalloc, %scalloc, %srealloc, %smallocx, ...) was found: its allocations are not seen",
			exe, sc->name, p, p, p, p);
	else if (!sc->has_release)
		pr_warn("%s: %s is linked in, but none of its releases (%sfree, %ssdallocx, %sdallocx) was found: its frees are not seen",
			exe, sc->name, p, p, p);
}

/* The one line a user needs: what is there, what is missing, and what
 * the heap figures still cover. */
static void note_stripped(const char *exe, const struct alloc_scan *sc)
{
	const char *p = sc->prefix;
	char what[64 + ALLOC_SCAN_PREFIX], entries[64 + 4 * ALLOC_SCAN_PREFIX];

	if (p[0])
		snprintf(what, sizeof(what), "%s (%s)", sc->hint, p);
	else
		snprintf(what, sizeof(what), "%s", sc->hint);
	if (!strcmp(sc->hint, "jemalloc"))
		snprintf(entries, sizeof(entries),
			 "%smalloc, %smallocx, %ssdallocx, %sfree, ...", p, p,
			 p, p);
	else if (!strcmp(sc->hint, "mimalloc"))
		snprintf(entries, sizeof(entries), "mi_malloc, mi_free, ...");
	else
		snprintf(entries, sizeof(entries), "tc_malloc, tc_free, ...");
	log__note(
		"%s: %s is linked into the executable, which is stripped, with no debug file (--debug-dir): no symbol for its entry points (%s), its allocations cannot be probed, heap figures cover only glibc's",
		exe, what, entries);
}

int attach__exe_allocator(struct attach *a, const char *exe, bool floor,
			  char *desc, size_t len)
{
	struct alloc_scan sc;
	int n = 0;

	desc[0] = '\0';
	a->exe_alloc_unprobeable = false;
	if (alloc_scan__exe(exe, &sc))
		return 0; /* not an ELF we read: the caller said so already */
	if (!sc.name && !alloc_scan__probe_shim(&sc) &&
	    !alloc_scan__unprobeable(&sc))
		return 0;
	alloc_scan__describe(&sc, desc, len);
	if (sc.symfile[0])
		pr_info("%s is stripped: its allocator's symbols are read from %s",
			exe, sc.symfile);
	if (sc.name) {
		/* Once found below the shim, the shim is left alone: it
		 * tail-jumps into these entries (one call, two hits). */
		warn_missing(exe, &sc);
		if (sc.has_alloc)
			n = attach__allocator_static(a, exe, sc.symfile,
						     sc.prefix, floor);
	} else if (alloc_scan__probe_shim(&sc)) {
		n = probe_shim(a, exe, &sc, floor);
	}
	a->exe_alloc_unprobeable = alloc_scan__unprobeable(&sc);
	if (a->exe_alloc_unprobeable && !sc.name)
		note_stripped(exe, &sc);
	return n;
}

bool attach__exe_alloc_unprobeable(const struct attach *a)
{
	return a->exe_alloc_unprobeable;
}
