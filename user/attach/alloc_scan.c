// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "attach/alloc_scan.h"
#include "attach/elf.h"
#include "sym/debugfile.h"

/* Identifiers as rustc's v0 mangling writes them: a length, then "_" when
 * the identifier starts with one or a digit. */
static const char *const shim_v0[ALLOC_SHIM_N] = {
	[ALLOC_SHIM_ALLOC] = "12___rust_alloc",
	[ALLOC_SHIM_ZEROED] = "19___rust_alloc_zeroed",
	[ALLOC_SHIM_REALLOC] = "14___rust_realloc",
	[ALLOC_SHIM_DEALLOC] = "14___rust_dealloc",
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

int alloc_scan__shim_kind(const char *name)
{
	for (int k = 0; k < ALLOC_SHIM_N; k++) {
		/* The plain name is the v0 identifier without its length
		 * and separator. */
		const char *plain = strchr(shim_v0[k], '_') + 1;

		if (!strcmp(name, plain) ||
		    (!strncmp(name, "_RNv", 4) && ends_with(name, shim_v0[k])))
			return k;
	}
	return -1;
}

/* What a #[global_allocator] adds: the shim calls __rg_alloc (often
 * inlined into it). */
static bool is_custom_global(const char *name)
{
	return !strcmp(name, "__rg_alloc") ||
	       (!strncmp(name, "_RNv", 4) && ends_with(name, "10___rg_alloc"));
}

/* The default, System: the shim calls std's __rdl_alloc, which the
 * linker drops when a #[global_allocator] replaces it. */
static bool is_default_global(const char *name)
{
	return !strcmp(name, "__rdl_alloc") ||
	       (!strncmp(name, "_RNv", 4) && ends_with(name, "11___rdl_alloc"));
}

bool alloc_scan__jemalloc_prefix(const char *name, char *prefix, size_t len)
{
	/* Names only jemalloc has; any may be gone (--gc-sections). */
	static const char *const api[] = {
		"mallocx", "rallocx", "xallocx", "sdallocx",
		"dallocx", "nallocx", "sallocx", "mallctl",
	};

	for (size_t i = 0; i < sizeof(api) / sizeof(api[0]); i++) {
		size_t n = strlen(name), m = strlen(api[i]);

		if (!ends_with(name, api[i]) || n - m >= len)
			continue;
		/* A prefix is a C identifier's start, never a word of
		 * another name (nallocx, je_..._mallocx internals). */
		if (n > m && name[n - m - 1] != '_')
			continue;
		snprintf(prefix, len, "%.*s", (int)(n - m), name);
		return true;
	}
	return false;
}

struct scan_ctx {
	struct alloc_scan *out;
	bool jemalloc, mi, tc, rdl;
};

static int scan_cb(const struct elf_sym *s, void *ctx)
{
	struct scan_ctx *c = ctx;
	char prefix[ALLOC_SCAN_PREFIX];
	int k = alloc_scan__shim_kind(s->name);

	if (k >= 0) {
		c->out->shim[k].vaddr = s->vaddr;
		c->out->shim[k].size = s->size;
	} else if (is_custom_global(s->name)) {
		c->out->custom_global = true;
	} else if (is_default_global(s->name)) {
		c->rdl = true;
	} else if (!s->global) {
		/* An API is exported: a program's own static do_mallocx
		 * is no allocator. */
	} else if (alloc_scan__jemalloc_prefix(s->name, prefix,
					       sizeof(prefix))) {
		/* The shortest: internals may carry the prefix twice. */
		if (!c->jemalloc || strlen(prefix) < strlen(c->out->prefix))
			memcpy(c->out->prefix, prefix, sizeof(prefix));
		c->jemalloc = true;
	} else if (!strcmp(s->name, "mi_malloc")) {
		c->mi = true;
	} else if (!strcmp(s->name, "tc_malloc")) {
		c->tc = true;
	}
	return 0;
}

static bool any_entry(struct elf_file *ef, const char *prefix,
		      const char *const *names)
{
	struct elf_sym s;
	char buf[128];

	for (; *names; names++) {
		snprintf(buf, sizeof(buf), "%s%s", prefix, *names);
		if (!elf__find_func(ef, buf, &s))
			return true;
	}
	return false;
}

static const char *const allocating[] = {
	"malloc",  "calloc",	     "realloc",	      "mallocx",
	"rallocx", "posix_memalign", "aligned_alloc", "memalign",
	"valloc",  "mi_malloc",	     "tc_malloc",     NULL,
};
static const char *const releasing[] = {
	"free", "sdallocx", "dallocx", "mi_free", "tc_free", NULL,
};

/* Strings a static allocator leaves in a stripped executable. */
static const char *strings_hint(struct elf_file *ef)
{
	if (elf__section_contains(ef, ".rodata", "<jemalloc>"))
		return "jemalloc";
	if (elf__section_contains(ef, ".rodata", "mimalloc: "))
		return "mimalloc";
	if (elf__section_contains(ef, ".rodata", "tcmalloc: "))
		return "tcmalloc";
	return NULL;
}

/* What the symbols of ef say (the executable's, or its debug file's). */
static void scan_symbols(struct elf_file *ef, struct alloc_scan *out)
{
	struct scan_ctx c = { .out = out };
	struct elf_sym s;

	elf__foreach_func(ef, scan_cb, &c);
	if (!c.rdl && out->shim[ALLOC_SHIM_ALLOC].vaddr)
		out->custom_global = true;
	/* gperftools exports jemalloc's sdallocx and nallocx too: its own
	 * tc_malloc decides. */
	if (c.tc)
		out->name = "tcmalloc";
	else if (c.mi)
		out->name = "mimalloc";
	else if (c.jemalloc)
		out->name = "jemalloc";
	if (c.tc || c.mi)
		out->prefix[0] = '\0';
	else if (!elf__find_func(ef, "malloc", &s))
		out->name = "unknown"; /* its own malloc, in .dynsym */
	if (out->name) {
		out->has_alloc = any_entry(ef, out->prefix, allocating);
		out->has_release = any_entry(ef, out->prefix, releasing);
	}
}

/* A stripped executable's separate debug file (--debug-dir, build id,
 * .gnu_debuglink) has the symbols: 0 when it named an allocator. */
static int scan_debug_file(const char *path, struct alloc_scan *out)
{
	struct alloc_scan d = { .symtab = true, .hint = out->hint };
	struct elf_file *df;

	if (debugfile__find_for(path, d.symfile, sizeof(d.symfile)) ||
	    elf__open(d.symfile, &df))
		return -ENOENT;
	scan_symbols(df, &d);
	elf__close(df);
	if (!d.name && !alloc_scan__probe_shim(&d))
		return -ENOENT;
	*out = d;
	return 0;
}

int alloc_scan__exe(const char *path, struct alloc_scan *out)
{
	struct elf_file *ef;
	int err;

	memset(out, 0, sizeof(*out));
	err = elf__open(path, &ef);
	if (err)
		return err;
	out->symtab = elf__has_symtab(ef);
	scan_symbols(ef, out);
	out->hint = strings_hint(ef);
	if (!out->symtab && (!out->name || !strcmp(out->name, "unknown")) &&
	    !scan_debug_file(path, out))
		goto out;
	/* jemalloc-sys's prefix shows in the variable it reads. */
	if (!out->name && out->hint && !strcmp(out->hint, "jemalloc") &&
	    elf__section_contains(ef, ".rodata", "_RJEM_MALLOC_CONF"))
		snprintf(out->prefix, sizeof(out->prefix), "_rjem_");
	/* An own malloc in .dynsym only (stripped), named by its strings. */
	if (out->name && !strcmp(out->name, "unknown") && out->hint) {
		out->name = out->hint;
		out->named_by_strings = true;
	}
out:
	elf__close(ef);
	return 0;
}

bool alloc_scan__probe_shim(const struct alloc_scan *s)
{
	return !s->name && s->custom_global && s->shim[ALLOC_SHIM_ALLOC].vaddr;
}

bool alloc_scan__unprobeable(const struct alloc_scan *s)
{
	if (s->name)
		return !s->has_alloc;
	/* Its strings with symbols for none of it: text that merely names
	 * an allocator, not one linked in. */
	return s->hint && !s->symtab && !alloc_scan__probe_shim(s);
}

void alloc_scan__describe(const struct alloc_scan *s, char *buf, size_t len)
{
	if (s->name && s->prefix[0])
		snprintf(buf, len, "%s (static, %s)", s->name, s->prefix);
	else if (s->name)
		snprintf(buf, len, "%s (static)", s->name);
	else if (alloc_scan__probe_shim(s))
		snprintf(buf, len, "Rust global allocator (__rust_*)");
	else if (s->hint && s->prefix[0])
		snprintf(buf, len, "%s (static, %s, stripped: not probed)",
			 s->hint, s->prefix);
	else if (s->hint)
		snprintf(buf, len, "%s (static, stripped: not probed)",
			 s->hint);
	else
		snprintf(buf, len, "none");
}
