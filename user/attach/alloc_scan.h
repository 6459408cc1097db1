/* SPDX-License-Identifier: MIT */
/* An allocator linked into the executable itself (issue 14): a static
 * jemalloc (any prefix: jemalloc-sys's _rjem_, or none), mimalloc or
 * tcmalloc, and Rust's global-allocator shim (__rust_alloc, also in its
 * v0-mangled local form). Reads the ELF only; attaching is exe_alloc.c's. */
#ifndef MS_ALLOC_SCAN_H
#define MS_ALLOC_SCAN_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum alloc_shim {
	ALLOC_SHIM_ALLOC, /* __rust_alloc(size, align) */
	ALLOC_SHIM_ZEROED, /* __rust_alloc_zeroed(size, align) */
	ALLOC_SHIM_REALLOC, /* __rust_realloc(ptr, old_size, align, new_size) */
	ALLOC_SHIM_DEALLOC, /* __rust_dealloc(ptr, size, align) */
	ALLOC_SHIM_N,
};

#define ALLOC_SCAN_PREFIX 32

struct alloc_scan {
	/* "jemalloc", "mimalloc", "tcmalloc", or "unknown" (the executable
	 * defines malloc, nothing else known); NULL: no allocator in it. */
	const char *name;
	char prefix[ALLOC_SCAN_PREFIX]; /* of its symbols: "_rjem_", "" */
	bool has_alloc; /* an allocating entry point was found */
	bool has_release; /* a releasing one (free, sdallocx, dallocx, ...) */
	struct {
		uint64_t vaddr, size; /* vaddr 0: absent */
	} shim[ALLOC_SHIM_N];
	/* name is from its strings: only an own malloc family was found
	 * (.dynsym of a stripped executable), not the allocator's own API. */
	bool named_by_strings;
	bool custom_global; /* __rg_alloc: a #[global_allocator] is set */
	bool symtab; /* the executable has .symtab */
	/* The symbols came from this separate debug file ("": from the
	 * executable); their addresses are the executable's. */
	char symfile[PATH_MAX];
	/* Its strings are in the executable: "jemalloc", "mimalloc",
	 * "tcmalloc"; NULL: none. With no name: a stripped static allocator
	 * whose entry points cannot be found. */
	const char *hint;
};

/* Which shim entry a function name is (plain or v0-mangled
 * _RNvCs<hash>_7___rustc12___rust_alloc): enum alloc_shim, or -1. */
int alloc_scan__shim_kind(const char *name);
/* Is name a jemalloc API symbol (<prefix>mallocx, <prefix>sdallocx,
 * <prefix>mallctl, ...)? Then
 * true and its prefix in prefix[len]. */
bool alloc_scan__jemalloc_prefix(const char *name, char *prefix, size_t len);
/* Scan the executable at path. 0 or negative errno. */
int alloc_scan__exe(const char *path, struct alloc_scan *out);
/* Probe the shim? Only over an allocator memscoped does not probe (a
 * custom #[global_allocator]): the shim calls, often tail-jumps into, the
 * allocator below, and both probed would count such calls twice. */
bool alloc_scan__probe_shim(const struct alloc_scan *s);
/* A static allocator is there, and none of its allocating entry points
 * can be found (stripped with no debug file: only its strings show it):
 * its allocations cannot be seen. */
bool alloc_scan__unprobeable(const struct alloc_scan *s);
/* "jemalloc (static, _rjem_)", "Rust global allocator (__rust_*)". */
void alloc_scan__describe(const struct alloc_scan *s, char *buf, size_t len);

#endif
