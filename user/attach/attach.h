/* SPDX-License-Identifier: MIT */
/* Probe placement and attachment for one target process. */
#ifndef MS_ATTACH_H
#define MS_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct memscope_bpf;
struct attach;

/* Does the kernel have uprobe_multi links? Then attach__prepare_multi()
 * before load, and attach__commit() after the attach__*() calls. */
bool attach__multi_supported(void);
void attach__prepare_multi(struct memscope_bpf *skel);
/* spawn_stacks: also probe the functions that create tasks. multi: queue
 * uprobes and attach them in attach__commit() as uprobe_multi links. */
struct attach *attach__new(struct memscope_bpf *skel, pid_t pid,
			   bool spawn_stacks, bool multi);
int attach__commit(struct attach *a);
void attach__destroy(struct attach *a);

/* The whole malloc family of the libc (or allocator library) at path, and
 * an allocator library's own API and C++ operators. floor: attach the empty
 * programs instead (benchmarks). Negative errno. */
int attach__allocator(struct attach *a, const char *libc_path, bool floor);
/* The malloc family and allocator API of a static allocator in the
 * executable at path, its symbols starting with prefix ("_rjem_", ""),
 * read from symfile (its separate debug file) unless NULL or ""; any entry
 * may be missing. Returns the functions probed, or negative errno. */
int attach__allocator_static(struct attach *a, const char *path,
			     const char *symfile, const char *prefix,
			     bool floor);
/* An allocator linked into the executable (static jemalloc with any
 * prefix, mimalloc, tcmalloc; or Rust's __rust_* shim over a global
 * allocator memscoped does not know): probed, and described in desc
 * ("jemalloc (static, _rjem_)"; "" when there is none). Warns about
 * entry points missing. Returns the functions probed, or negative errno. */
int attach__exe_allocator(struct attach *a, const char *exe, bool floor,
			  char *desc, size_t len);
/* After attach__exe_allocator(): the executable has a static allocator
 * whose entry points cannot be found (stripped), so its allocations are
 * not seen (the case for page-level attribution). */
bool attach__exe_alloc_unprobeable(const struct attach *a);
/* The library whose malloc the program calls: the first in the loader's
 * order (LD_PRELOAD from /proc/PID/environ, then exe's DT_NEEDED breadth
 * first) that defines malloc. mapped: look the names up in pid's maps
 * (--pid), else where the loader would find them. out: its path, or libc
 * when there is no other (-ENOENT when none defines malloc). Allocators
 * linked into the executable itself are not looked for. */
int attach__find_malloc(const char *exe, pid_t pid, bool mapped,
			const char *libc, char *out, size_t len);
/* "glibc", "jemalloc", "mimalloc", "tcmalloc" (by their own API
 * symbols), or "unknown". */
const char *attach__allocator_name(const char *path);
/* tokio's task functions in the executable, found from its task vtables
 * (stripped or not): each task type's poll and shutdown, and where symbols
 * or a debug file exist, the functions that create tasks. Returns the
 * number of poll functions attached (0: none found), or negative errno. */
int attach__tokio(struct attach *a, const char *exe_path, bool floor);

struct attach_tokio_info {
	size_t vtables, polls, spawn_fns;
	size_t ret_sites; /* return sites of polls probed */
	size_t ret_unprobed; /* ... seen but with no place to probe */
	uint32_t version; /* tokio's, as 1047001; 0: unknown */
	bool stripped; /* no symbol table in the executable */
	bool debug_file; /* symbols from a separate debug file */
};
void attach__tokio_info(const struct attach *a, struct attach_tokio_info *out);
struct tokio_vt;
/* The task vtable at vaddr (in the executable's address space) among
 * those whose poll is the probed function fn: 0, or -ENOENT. */
int attach__tokio_vtable(const struct attach *a, uint32_t fn, uint64_t vaddr,
			 struct tokio_vt *out);
/* memscoped --all: is the program at exe async? MS_RT_TOKIO (tokio task
 * vtables, stripped or not), MS_RT_USDT (memscope markers in
 * it or its direct libraries), 0 (neither, or static), or negative errno. */
int attach__async_kind(const char *exe);
/* memscope USDT markers in the binary at path. Returns markers attached. */
int attach__usdt(struct attach *a, const char *path);
/* ... in the shared libraries the executable needs (launch mode) or that
 * the process has mapped (--pid). Returns markers attached. */
int attach__usdt_needed(struct attach *a, const char *exe);
int attach__usdt_mapped(struct attach *a, pid_t pid, const char *exe);

size_t attach__links(const struct attach *a);
/* Were task probes (tokio or USDT) found and attached? */
bool attach__runtime_found(const struct attach *a);
/* vaddr (in the executable) of tokio poll function idx, 0 if none. */
uint64_t attach__poll_vaddr(const struct attach *a, uint32_t idx);
uint64_t attach__exe_load_vaddr(const struct attach *a);
/* The executable's load bias in the target: 0, or -ENOENT if unknown. */
int attach__exe_bias(const struct attach *a, uint64_t *bias);
/* A tokio poll was seen returning to ret (a run-time address): probe that
 * return site if it is the executable's and was not probed yet. 1 when a
 * probe was added, 0 when none is needed or possible, negative errno. */
int attach__poll_return_site(struct attach *a, uint64_t ret);

/* Page-level mode (pages.c). Before load: load its programs (want), the
 * exact one for new pages where the kernel has it. */
void attach__pages_prepare(struct memscope_bpf *skel, bool want);
/* pid's mapped memory is reported (the programs are attached while any
 * process is on). Negative errno; -ENOTSUP when they were not loaded. */
int attach__pages_on(struct memscope_bpf *skel, pid_t pid);
void attach__pages_off(struct memscope_bpf *skel, pid_t pid);
/* Should exe (whose malloc is the library at alloc) fall back to page
 * level? Then true, and why in out. */
bool attach__pages_needed(const char *exe, const char *alloc, char *out,
			  size_t len);

/* Finders. out must hold PATH_MAX bytes. -ENOENT if not found. */
int attach__find_libc_pid(pid_t pid, char *out, size_t len);
int attach__find_libc_prog(const char *prog, char *out, size_t len);

#endif
