/* SPDX-License-Identifier: MIT */
/* What the attach modules share (attach.c: links and their commit;
 * alloc.c: allocator probes; libs.c: finding libc and other libraries;
 * usdt.c: USDT markers; tokio.c: task functions). Not for the rest of
 * memscoped. */
#ifndef MS_ATTACH_INT_H
#define MS_ATTACH_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attach/elf.h"
#include "attach/prologue.h"
#include "attach/tokio_vt.h"

struct bpf_program;
struct bpf_link;

struct pending {
	struct bpf_program *prog;
	char *path;
	uint64_t off, cookie;
	bool ret;
	int rank; /* order of going live: see pending_cmp */
};

/* What tokio.c found in the executable. */
struct attach_tokio {
	uint64_t *poll_vaddr; /* cookie i: the i-th distinct poll function */
	size_t npoll;
	/* The task vtables, sorted by poll function: those of poll i start
	 * at vt_first[i]. */
	struct tokio_vt *vt;
	size_t *vt_first;
	size_t nvtables, nspawn;
	uint32_t version; /* tokio_vt__version_code(), 0: unknown */
	uint64_t exe_load_vaddr;
	char *exe_path;
	/* The load bias of the executable in the target; return sites are
	 * probed with their run-time address as cookie. */
	uint64_t bias;
	bool bias_known;
	uint64_t *ret_sites; /* return sites probed (vaddr in the file) */
	size_t nret_sites, cap_ret_sites, ret_unprobed;
	bool stripped; /* no symbols: spawn sites need a debug file */
	bool debug_file; /* symbols came from a separate debug file */
};

struct attach {
	struct memscope_bpf *skel;
	pid_t pid;
	struct bpf_link **links;
	size_t nlinks, cap;
	struct attach_tokio tokio;
	bool spawn_stacks;
	bool multi; /* queue probes for uprobe_multi links */
	struct pending *pending;
	size_t npending, cap_pending;
	int *fds; /* uprobe_multi link fds */
	size_t nfds, cap_fds;
	size_t nprobes, nusdt;
	/* The executable has a static allocator that cannot be probed. */
	bool exe_alloc_unprobeable;
};

/* A uprobe (ret: uretprobe) at file offset off of path; queued for a
 * uprobe_multi link when a->multi (attach__commit() makes the links).
 * Negative errno. */
int attach__uprobe(struct attach *a, struct bpf_program *prog, const char *path,
		   uint64_t off, bool ret, uint64_t cookie);
/* The file offset at which to probe the function s, past what the
 * prologue decoder says the kernel would single-step. */
int attach__place(struct elf_file *ef, const struct elf_sym *s,
		  enum prologue_kind kind, uint64_t *off);

/* Keeps l, to be destroyed with a. 0 or -ENOMEM (l destroyed). */
int attach__add_link(struct attach *a, struct bpf_link *l);

/* A library looked up by name: the path found goes to out. */
struct attach_lib {
	char *out;
	size_t len;
	bool found;
};

/* Is base (a file name) glibc's libc? */
bool attach_lib__is_libc(const char *base);
/* Where the dynamic loader would find a DT_NEEDED name (LD_LIBRARY_PATH,
 * then the system directories): true and lib->out set when found. */
bool attach_lib__find(const char *name, struct attach_lib *lib);

/* Does the ELF hold tokio task vtables? */
bool attach__is_tokio(struct elf_file *ef);

#endif
