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

/* ---- symbolization -------------------------------------------------------- */

/* Which of several symbols at one address names it: global over weak
 * over local, functions over untyped labels, sized over sizeless. */
static int msym_rank(const GElf_Sym *sym)
{
	int rank = 0;

	switch (GELF_ST_BIND(sym->st_info)) {
	case STB_GLOBAL:
		rank += 4;
		break;
	case STB_WEAK:
		rank += 2;
		break;
	}
	if (GELF_ST_TYPE(sym->st_info) != STT_NOTYPE)
		rank += 8;
	if (sym->st_size)
		rank += 16;
	return rank;
}

static int msym_cmp(const void *a, const void *b)
{
	const struct msym *x = a, *y = b;
	size_t ux, uy, lx, ly;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return y->rank - x->rank; /* best first */
	/* Aliases: the public name (malloc, not __libc_malloc), as perf. */
	ux = strspn(x->name, "_");
	uy = strspn(y->name, "_");
	if (ux != uy)
		return ux < uy ? -1 : 1;
	lx = strlen(x->name);
	ly = strlen(y->name);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void module_index(struct sym_module *sm, Dwfl_Module *mod)
{
	int n = dwfl_module_getsymtab(mod);
	size_t k = 0;

	sm->indexed = true;
	if (n <= 1)
		return;
	sm->syms = malloc((size_t)n * sizeof(*sm->syms));
	if (!sm->syms)
		return;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name;
		int type;

		name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx,
					       NULL, NULL);
		type = GELF_ST_TYPE(sym.st_info);
		if (!name || !name[0] || shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC &&
		     type != STT_NOTYPE))
			continue;
		sm->syms[k++] = (struct msym){
			.addr = addr,
			.size = sym.st_size,
			.name = name,
			.rank = msym_rank(&sym),
		};
	}
	qsort(sm->syms, k, sizeof(*sm->syms), msym_cmp);
	/* One symbol per address: the best-ranked, first after sorting. */
	sm->nsyms = 0;
	for (size_t i = 0; i < k; i++) {
		if (sm->nsyms &&
		    sm->syms[sm->nsyms - 1].addr == sm->syms[i].addr)
			continue;
		sm->syms[sm->nsyms++] = sm->syms[i];
	}
}

/* The symbol that contains ADDR, or the closest sizeless one before it
 * (hand-written assembly), like dwfl_module_addrinfo but O(log n). */
static const char *module_symbol(Dwfl_Module *mod, Dwarf_Addr addr)
{
	void **ud = NULL;
	struct sym_module *sm;
	size_t lo = 0, hi;

	dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	sm = ud ? *ud : NULL;
	if (!sm) {
		GElf_Off off;
		GElf_Sym sym;

		return dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL,
					    NULL);
	}
	if (!sm->indexed)
		module_index(sm, mod);
	hi = sm->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sm->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo: first symbol above ADDR. A sizeless symbol right before it
	 * counts; a few steps back cover a sized symbol followed by an
	 * inner label. */
	for (size_t i = lo, steps = 0; i > 0 && steps < 4; i--, steps++) {
		const struct msym *m = &sm->syms[i - 1];

		if (m->size ? addr - m->addr < m->size : steps == 0)
			return m->name;
	}
	return NULL;
}

/* Function name from DWARF, for code the symbol tables do not cover. The
 * outermost subprogram is named, as the symbol table would. */
static const char *dwarf_function(Dwfl_Module *mod, Dwarf_Addr addr)
{
	Dwarf_Die *cu, *scopes = NULL;
	Dwarf_Attribute attr;
	const char *name = NULL;
	Dwarf_Addr bias;
	int n;

	cu = dwfl_module_addrdie(mod, addr, &bias);
	if (!cu)
		return NULL;
	n = dwarf_getscopes(cu, addr - bias, &scopes);
	for (int i = n - 1; i >= 0; i--) {
		if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram)
			continue;
		name = dwarf_formstring(dwarf_attr_integrate(
			&scopes[i], DW_AT_linkage_name, &attr));
		if (!name)
			name = dwarf_diename(&scopes[i]);
		break;
	}
	free(scopes);
	return name;
}

/* " (deleted)" that /proc/PID/maps appends to a file removed since. */
static size_t name_len(const char *name)
{
	static const char deleted_sfx[] = " (deleted)";
	size_t len = strlen(name), sfx = sizeof(deleted_sfx) - 1;

	if (len > sfx && !strcmp(name + len - sfx, deleted_sfx))
		len -= sfx;
	return len;
}

const char *sym_module__basename(struct strtab *strs, const char *name)
{
	const char *base;

	if (!name)
		return NULL;
	if (!strncmp(name, "[vdso", 5))
		return strtab__intern(strs, "[vdso]", 6);
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	return strtab__intern(strs, base, name_len(base));
}

/* Which file, and where in it: the module's path and build id, and addr
 * as an ELF virtual address of that file. These stay valid after the
 * process is gone, so memscope can symbolize the frame later from a
 * debug file (a stripped binary leaves us nothing better now). */
static void identify(struct strtab *strs, Dwfl_Module *mod, const char *name,
		     Dwarf_Addr addr, struct sym_frame *out)
{
	char hex[2 * DEBUGFILE_ID_MAX + 1];
	const unsigned char *id;
	Dwarf_Addr bias = 0;
	GElf_Addr vaddr;
	int n;

	out->module = sym_module__basename(strs, name);
	if (name && name[0] == '/')
		out->path = strtab__intern(strs, name, name_len(name));
	/* No ELF: the offset from the module's start is all we would have,
	 * and it is not an address of any file. */
	if (dwfl_module_getelf(mod, &bias))
		out->addr = addr - bias;
	n = dwfl_module_build_id(mod, &id, &vaddr);
	if (n > 0 && n <= DEBUGFILE_ID_MAX) {
		debugfile__hex(id, (size_t)n, hex);
		out->build_id = strtab__intern(strs, hex, 2 * (size_t)n);
	}
}

/* Function (demangled), file and line of addr in mod. */
void sym_frame__describe(struct strtab *strs, char *namebuf, size_t size,
			 Dwfl_Module *mod, Dwarf_Addr addr,
			 struct sym_frame *out)
{
	const char *name, *file;
	Dwfl_Line *line;
	int lineno = 0, len;

	name = module_symbol(mod, addr);
	if (!name)
		name = dwarf_function(mod, addr);
	if (name) {
		len = sym__demangle(name, namebuf, size);
		if (len > 0)
			out->function =
				strtab__intern(strs, namebuf, (size_t)len);
	}

	line = dwfl_module_getsrc(mod, addr);
	file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) :
		      NULL;
	if (file) {
		out->file = strtab__intern(strs, file, strlen(file));
		out->line = out->file ? lineno : 0;
	}
}

/* Does addr fall in one of the module's loaded segments? libdwfl gives a
 * module the whole span of its file's mappings, and a program that also
 * maps that file by hand (libelf does, for example) stretches it over
 * whatever lies between: another library there is not this module. */
static bool in_segment(Dwfl_Module *mod, Dwarf_Addr addr)
{
	Dwarf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	size_t n;

	if (!elf || elf_getphdrnum(elf, &n))
		return true; /* nothing to check against: trust the span */
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (addr - bias >= (ph.p_vaddr & ~0xfffull) &&
		    addr - bias <
			    ((ph.p_vaddr + ph.p_memsz + 0xfff) & ~0xfffull))
			return true;
	}
	return false;
}

static int resolve(struct sym_proc *p, uint64_t pc, bool is_ret,
		   struct sym_frame *out)
{
	Dwarf_Addr addr = is_ret && pc ? pc - 1 : pc;
	Dwfl_Module *mod;
	const char *name;

	memset(out, 0, sizeof(*out));
	out->pc = pc;
	mod = dwfl_addrmodule(p->dwfl, addr);
	if (!mod || !in_segment(mod, addr))
		return -ENOENT;
	name = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	identify(&p->strs, mod, name, addr, out);
	sym_frame__describe(&p->strs, p->namebuf, sizeof(p->namebuf), mod, addr,
			    out);
	return 0;
}

static struct cache_slot *cache_slot(struct sym_proc *p, uint64_t pc,
				     bool is_ret)
{
	uint64_t h = (pc ^ (uint64_t)is_ret) * 0x9e3779b97f4a7c15ull;

	return &p->cache[(h >> 32) & (CACHE_SLOTS - 1)];
}

int sym__frame(struct sym_proc *p, uint64_t pc, bool is_return_address,
	       struct sym_frame *out)
{
	struct cache_slot *s;
	int rc;

	if (!p || !out)
		return -EINVAL;
	s = cache_slot(p, pc, is_return_address);
	if (s->used && s->pc == pc && s->is_ret == is_return_address) {
		*out = s->f;
		rc = s->rc;
	} else {
		rc = resolve(p, pc, is_return_address, out);
	}
	/* A refresh empties the cache, so store after it. */
	if (rc == -ENOENT && sym_proc__auto_refresh(p) > 0)
		rc = resolve(p, pc, is_return_address, out);
	s = cache_slot(p, pc, is_return_address);
	s->used = true;
	s->pc = pc;
	s->is_ret = is_return_address;
	s->rc = rc;
	s->f = *out;
	return rc;
}
