/* SPDX-License-Identifier: MIT */
/* Unwinder and symbolizer for one traced process, on top of libdwfl: what
 * the sym_*.c files share. sym.h is the public face.
 *
 * Modules come from dwfl_linux_proc_report; their ELF files are opened by
 * our find_elf so that what is really mapped is read, even when the path
 * now names another file or nothing. Unwinding runs libdwfl's CFI
 * unwinder on a pseudo-thread whose registers and stack are the captured
 * ones (Dwfl_Thread_Callbacks), not on the live process. */

#ifndef MS_SYM_INT_H
#define MS_SYM_INT_H

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdint.h>

#include "sym/sym.h"

/* Direct-mapped pc -> frame cache: allocation and spawn sites repeat, and
 * a bounded table needs no eviction policy. Power of two. */
#define CACHE_SLOTS 8192
/* sym__frame and sym__unwind re-read the maps by themselves on a miss, at
 * most this often, so that a dlopen'ed library shows up without making
 * every unknown pc (JIT code, garbage) cost a /proc read. */
#define AUTO_REFRESH_NS 1000000000ull
#define NAME_BUF 4096
#define CHUNK_BYTES 65536

/* DWARF register numbers of the x86-64 psABI. */
enum { DW_RBX = 3, DW_RBP = 6, DW_RSP = 7, DW_R12 = 12, DW_RIP = 16 };

struct file_map {
	uint64_t start, end;
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

/* Interned strings: open addressing over pointers into chunks. */
struct strtab {
	const char **slots;
	uint32_t *hashes;
	size_t mask, count;
	struct chunk *chunks;
};

/* A function symbol, address already relocated to the process. */
struct msym {
	uint64_t addr, size;
	const char *name; /* in the module's ELF string table */
	int rank;
};

/* What we keep per libdw module (its userdata). libdwfl's own address ->
 * symbol lookup scans the whole symbol table on every call (170 us for
 * glibc's 10k symbols), so each module gets a sorted index on first use. */
struct sym_module {
	struct sym_proc *p;
	struct sym_module *next;
	bool live, indexed;
	struct msym *syms;
	size_t nsyms;
};

struct cache_slot {
	uint64_t pc;
	bool used, is_ret;
	int rc;
	struct sym_frame f;
};

/* State of one sym__unwind, seen by the thread callbacks. */
struct unwind {
	const struct sym_regs *regs;
	const uint8_t *stack;
	uint64_t lo, hi; /* the copy covers [lo, hi) */
	uint64_t last_sp;
	uint64_t *pcs;
	int max, n;
	bool first_seen;
};

struct sym_proc {
	pid_t pid;
	Dwfl *dwfl;
	Elf *arch;
	bool attached;
	int mem_fd;
	struct file_map *maps;
	size_t nmaps;
	struct sym_module *mods;
	uint64_t maps_sig;
	uint64_t next_auto_refresh;
	struct unwind *cur;
	struct strtab strs;
	struct cache_slot *cache;
	char namebuf[NAME_BUF];
	/* An ELF header alone: tells libdw the architecture without loading a
	 * module, so the process state exists before any find_elf runs. */
	Elf64_Ehdr ehdr;
};

/* ---- interned strings (sym_strtab.c) ------------------------------------ */

/* 32-bit FNV-1a over len bytes: the table's hash; also tells whether
 * /proc/PID/maps changed. */
uint32_t strtab__hash(const char *s, size_t len);
/* Doubles the slots (the first call allocates them). 0 or -ENOMEM. */
int strtab__grow(struct strtab *t);
/* The one copy of s[0, len), NUL-terminated; NULL without memory. */
const char *strtab__intern(struct strtab *t, const char *s, size_t len);
void strtab__free(struct strtab *t);

/* ---- /proc/PID/maps (sym_maps.c) --------------------------------------- */

/* The whole file, NUL-terminated (proc files have no size). 0 or -errno. */
int sym_maps__read(const char *path, char **out, size_t *out_len);
/* The file-backed mappings of a maps text (buf is cut up), in address
 * order. 0 or -ENOMEM. */
int sym_maps__parse(char *buf, struct file_map **out, size_t *out_n);
/* The mapping that starts at start, or NULL. */
const struct file_map *sym_maps__find(const struct sym_proc *p, uint64_t start);

/* ---- finding ELF and debug files (sym_find.c) -------------------------- */

/* A process's modules: ELF files as really mapped, debug files locally. */
extern const Dwfl_Callbacks sym_proc_callbacks;
/* Debug files from disk only (debugfile.h), never debuginfod. */
int sym_debuginfo__find(Dwfl_Module *mod, void **userdata, const char *modname,
			GElf_Addr base, const char *file_name, const char *link,
			GElf_Word crc, char **debuginfo_file_name);

/* ---- unwinding (sym_unwind.c) ------------------------------------------ */

/* The pseudo-thread: registers and stack from the capture (p->cur). */
extern const Dwfl_Thread_Callbacks sym_thread_callbacks;

/* ---- the process (sym_proc.c) ------------------------------------------ */

/* Re-reads the maps if the last time is long enough ago (AUTO_REFRESH_NS):
 * > 0 when they changed, 0 when not or too soon, < 0 on error. */
int sym_proc__auto_refresh(struct sym_proc *p);

/* ---- symbolization (sym_resolve.c) ------------------------------------- */

/* "libc.so.6", "[vdso]": the module's base name, interned. */
const char *sym_module__basename(struct strtab *strs, const char *name);
/* Function (demangled), file and line of addr in mod, interned in strs;
 * namebuf is scratch for the demangler. */
void sym_frame__describe(struct strtab *strs, char *namebuf, size_t size,
			 Dwfl_Module *mod, Dwarf_Addr addr,
			 struct sym_frame *out);

#endif
