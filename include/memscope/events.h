/* SPDX-License-Identifier: MIT */
/*
 * Records that flow from the BPF programs to memscoped through one ring
 * buffer. This header is shared by both sides: fixed-width fields only,
 * and every record starts with struct ms_hdr whose first field is the type.
 */
#ifndef MEMSCOPE_EVENTS_H
#define MEMSCOPE_EVENTS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define MS_COMM_LEN 16
#define MS_EXEC_PATH 256

enum ms_rec_type {
	MS_REC_ALLOC = 1, /* a successful allocation call (may free old) */
	MS_REC_FREE = 2, /* free(p), p != NULL */
	MS_REC_POLL_BEGIN = 3, /* a task poll starts on this thread */
	MS_REC_POLL_END = 4, /* that poll returned */
	MS_REC_TASK_SPAWN = 5, /* USDT runtimes only */
	MS_REC_TASK_COMPLETE = 6,
	MS_REC_TASK_CANCEL = 7,
	MS_REC_TASK_FREE = 8,
	MS_REC_TASK_SHUTDOWN = 9, /* tokio raw::shutdown */
	MS_REC_THREAD = 10, /* first record of a thread: its name */
	MS_REC_STACK = 11, /* user stack of the allocation just reported */
	MS_REC_EXEC = 12, /* --all: a process executed a new program */
	MS_REC_TOKIO_POLL = 13, /* a whole tokio task poll, at its end */
	MS_REC_RET_SITE = 14, /* a tokio poll returns to a new address */
	MS_REC_EXIT = 15, /* a watched process's last thread exits */
	MS_REC_FORK = 16, /* a watched process forks a new process */
	/* tokio: a JoinHandle is about to read or drop a task's output, and
	 * it is the task's JoinError::Cancelled (ms_task_rec) */
	MS_REC_TOKIO_CANCELLED = 17,
	MS_REC_PAGE = 18, /* page-level mode: memory mapped, touched, let go */
	MS_REC_TYPE_MAX,
};

/* Which call of the allocator family produced an MS_REC_ALLOC. */
enum ms_alloc_fn {
	MS_FN_MALLOC = 0,
	MS_FN_CALLOC,
	MS_FN_REALLOC,
	MS_FN_REALLOCARRAY,
	MS_FN_POSIX_MEMALIGN,
	MS_FN_MEMALIGN, /* also aligned_alloc: one address in glibc */
	MS_FN_VALLOC,
	MS_FN_PVALLOC,
	MS_FN_FREE,
	/* Allocator libraries other than glibc (jemalloc, mimalloc, tcmalloc,
	 * probed instead of libc when the program's malloc is theirs). */
	MS_FN_NEW, /* C++ operator new, new[], nothrow, aligned: size first */
	MS_FN_MALLOCX, /* mallocx(n, flags), mi_malloc_aligned(n, al), ... */
	MS_FN_RALLOCX, /* rallocx(p, n, flags): realloc, NULL never frees */
	MS_FN_XALLOCX, /* xallocx(p, n, extra, flags): resize in place */
	MS_FN_EXPAND, /* mi_expand(p, n): resize in place, p or NULL */
	MS_FN_DELETE, /* a release other than free (dallocx, sized delete):
			* reported at entry, what it calls is not */
	/* Rust's __rust_realloc(p, old_size, align, new_size), probed only
	 * over a global allocator memscoped does not know: NULL never
	 * frees. */
	MS_FN_RUST_REALLOC,
	MS_FN_MAX,
};

/* Which runtime's markers a task record came from. */
enum ms_runtime {
	MS_RT_NONE = 0,
	MS_RT_TOKIO = 1,
	MS_RT_USDT = 2,
};

struct ms_hdr {
	__u16 type;
	__u16 aux; /* ms_alloc_fn for allocs, ms_runtime for task records */
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 reserved; /* 0 */
	__u64 ts_ns; /* CLOCK_MONOTONIC */
};

/*
 * A realloc that moved or kept a block is one record: old_addr is freed,
 * addr of size is allocated. realloc(p, 0) has addr == 0.
 */
struct ms_alloc_rec {
	struct ms_hdr h;
	__u64 addr;
	__u64 size;
	__u64 old_addr;
	__u64 task; /* task being polled on this thread, 0 if none */
};

struct ms_free_rec {
	struct ms_hdr h;
	__u64 addr;
	__u64 task;
	/* The freed block is the task being polled: its state word, read
	 * before the free, since nothing can read it afterwards. */
	__u64 task_state;
};

/* tokio: task = Header address; USDT: task = the runtime's id. */
struct ms_poll_rec {
	struct ms_hdr h;
	__u64 task;
	__u64 state; /* tokio: Header.state; USDT poll_end: wakers (s64) */
	__u64 vtable; /* tokio: Header.vtable at poll begin */
	__u64 task_id; /* tokio: Id read through the vtable's id_offset */
	__u64 owner_id; /* tokio: Header.owner_id */
	__u32 fn; /* index of the probed poll function (attach cookie) */
	__u32 flags;
};

#define MS_POLL_F_READ_FAILED 1u /* task memory could not be read */
#define MS_POLL_F_END_READ_FAILED 2u /* ... at the poll's end */
#define MS_POLL_F_BEGUN 4u /* a POLL_BEGIN record went out at entry */
#define MS_POLL_F_FREED 8u /* sent at the free of its own cell, in the poll */
/* How the end of a tokio poll was seen (no return probe): */
#define MS_POLL_F_SEEN_POLL 16u /* the thread's next poll */
#define MS_POLL_F_SEEN_ALLOC 32u /* its next allocation or free */
#define MS_POLL_F_SEEN_SWITCH 64u /* its next context switch */
#define MS_POLL_F_SEEN_RETURN 128u /* a probe at its return site: exact */
/* The task was cancelled in this poll: CANCELLED came while it ran
 * (abort(), runtime shutdown), its future returned Pending, and tokio
 * stored the task's JoinError::Cancelled (it holds the task's id) in the
 * stage. Without it, CANCELLED set during a poll that completed the task
 * means the future returned Ready: a completion. */
#define MS_POLL_F_CANCELLED_IN_POLL 256u

/*
 * tokio: one record per poll, sent when it ends (a record at entry costs
 * a second ring-buffer reservation per poll, which two workers contend
 * for). The runtime's own tasks (owner_id 0, a blocking-pool thread's
 * lifelong poll) also get an MS_REC_POLL_BEGIN at entry. A task that frees
 * its own cell in the poll gets this record just before that free.
 *
 * There is no return probe (a pending one can keep the kernel from ever
 * releasing the probes, issue 11). A poll ends at a probe on the first
 * instruction the kernel emulates after the call that made it (its return
 * site, found in the code or when a poll first returns there). Where there
 * is none, a poll has ended when its thread runs at or above the stack
 * slot of its return address, or that slot holds another value, seen at
 * the thread's next probe (a poll, an allocation, a free) or when it is
 * next switched out; ts_ns is then late by up to that time. flags say
 * which (MS_POLL_F_SEEN_*).
 */
struct ms_tokio_poll_rec {
	struct ms_hdr h; /* ts_ns: the end of the poll */
	__u64 task; /* Header address */
	__u64 begin_ns;
	__u64 begin_state; /* Header.state at entry */
	__u64 state; /* ... at the end */
	__u64 vtable;
	__u64 task_id;
	__u64 owner_id;
	__u32 fn;
	__u32 flags;
	/* The word where a boxed future's pointer sits (tokio boxes futures
	 * over 16 KiB at spawn, 1.41+), read at entry: user space knows from
	 * the vtable's layout whether it is one. */
	__u64 future_word;
};

/* The first poll seen returning to ret (an address in the target): user
 * space probes the return site if it had not found it in the code. */
struct ms_ret_site_rec {
	struct ms_hdr h;
	__u64 ret;
};

struct ms_task_rec {
	struct ms_hdr h;
	__u64 task;
	__u64 parent;
	__u64 size;
	/* MS_REC_TASK_SHUTDOWN: tokio's Header.state when raw::shutdown was
	 * entered (CANCELLED set: aborted before the shutdown);
	 * MS_REC_TOKIO_CANCELLED: the state word read then. */
	__u64 state;
};

struct ms_thread_rec {
	struct ms_hdr h;
	char comm[MS_COMM_LEN];
};

/* h.pid is the process that called execve() (every process with --all, the
 * watched ones otherwise); comm is its new name (for --trace-records:
 * memscoped reads the rest from /proc). */
struct ms_exec_rec {
	struct ms_hdr h;
	char comm[MS_COMM_LEN];
	char path[MS_EXEC_PATH]; /* as given to execve (may be cut) */
};

/* h.pid exits: its status as wait(2) encodes it (exit code << 8, or the
 * signal number, | 0x80 with a core dump). */
struct ms_exit_rec {
	struct ms_hdr h;
	__u32 status;
	__u32 pad;
};

/* h.pid forked child, a new process (threads are not forks). */
struct ms_fork_rec {
	struct ms_hdr h;
	__u32 child;
	__u32 pad;
};

/* What an MS_REC_PAGE says (h.aux). */
enum ms_page_kind {
	/* New anonymous memory: the kernel gave the thread len bytes at
	 * addr (one page, or a large folio: a transparent huge page). */
	MS_PAGE_FAULT = 1,
	/* mmap returned addr for len bytes: whatever was mapped there is
	 * gone (MAP_FIXED); flags: the mmap flags (MAP_ANONYMOUS). */
	MS_PAGE_MMAP = 2,
	MS_PAGE_MUNMAP = 3, /* [addr, addr + len) unmapped */
	MS_PAGE_BRK = 4, /* the heap ends at addr now (brk's result) */
	/* madvise(addr, len, flags) with MADV_DONTNEED, _FREE, _REMOVE or
	 * _DONTNEED_LOCKED: the pages are let go. */
	MS_PAGE_MADVISE = 5,
	/* mremap moved or resized [old_addr, + old_len) to [addr, + len). */
	MS_PAGE_MREMAP = 6,
	MS_PAGE_KIND_MAX,
};

/*
 * Page-level mode (no allocator to probe): what the kernel maps for the
 * process, attributed like an allocation to the task in a poll on the
 * thread (task, 0 if none). Releases are sent at the syscall's entry, so
 * they come before anything mapped again at those addresses.
 */
struct ms_page_rec {
	struct ms_hdr h; /* aux: enum ms_page_kind */
	__u64 addr;
	__u64 len;
	__u64 old_addr; /* MS_PAGE_MREMAP */
	__u64 old_len;
	__u64 task;
	__u32 flags;
	__u32 pad;
};

/* Why a stack was taken (ms_stack_rec.h.aux). */
enum ms_stack_kind {
	MS_STACK_SAMPLE = 1, /* byte-sampled allocation; weight = bytes */
	MS_STACK_SPAWN = 2, /* tokio: the allocation of a task being spawned */
	MS_STACK_SPAWN_USDT = 3, /* USDT task_spawn marker: addr is the id */
};

#define MS_STACK_BYTES 8192
#define MS_STACK_FP_DEPTH 32
#define MS_STACK_RET_FIX 8

/*
 * Registers and a copy of the stack at the allocation's return site,
 * unwound in user space with DWARF CFI (no frame pointers in Rust release
 * builds or Debian's glibc), perf-style. fp_ips is the kernel's frame-
 * pointer walk, the fast path where frame pointers are valid.
 */
struct ms_stack_rec {
	struct ms_hdr h;
	__u64 addr; /* the allocation (its MS_REC_ALLOC came first) */
	__u64 size;
	__u64 ip, sp, bp, bx, r12, r13, r14, r15;
	__u32 stack_len; /* bytes of stack copied from sp */
	__u32 fp_depth;
	/* Functions with a pending uretprobe have their return address
	 * replaced by the kernel's trampoline: the real ones, by stack slot,
	 * so user space can put them back before unwinding. */
	__u32 nret;
	__u32 pad;
	__u64 ret_slot[MS_STACK_RET_FIX];
	__u64 ret_addr[MS_STACK_RET_FIX];
	__u64 fp_ips[MS_STACK_FP_DEPTH];
	__u8 stack[MS_STACK_BYTES];
};

/*
 * Per-thread state, the BPF task storage "tstates". memscoped also reads it
 * (by pidfd, once a second) for the polls that have not returned yet: a
 * tokio poll's record is sent at its end.
 */
#define MS_POLL_DEPTH 4 /* power of two */
#define MS_VT_CACHE 16 /* power of two */

/* One poll in progress on a thread. */
struct ms_poll_entry {
	__u64 task; /* tokio: Header address; USDT: the runtime's id */
	/* tokio only, what the poll's entry read: */
	__u64 begin_ns;
	__u64 state;
	__u64 vtable;
	__u64 task_id;
	__u64 owner_id;
	__u32 fn;
	__u32 flags; /* MS_POLL_F_* */
	__u32 tokio; /* 0: a USDT poll's slot */
	__u32 reported; /* its record went out at the free of its cell */
	__u64 future_word; /* see ms_tokio_poll_rec */
	/* tokio: the stack pointer at entry (the slot of the return
	 * address) and what that slot held. The poll has returned once the
	 * thread runs at or above the slot, or the slot holds something
	 * else: no return probe is needed to see it end. */
	__u64 entry_sp;
	__u64 ret_addr;
};

struct ms_tstate {
	__u64 args[3];
	__u64 outer_sp; /* stack pointer at the outermost allocator entry */
	struct ms_poll_entry
		polls[MS_POLL_DEPTH]; /* innermost at poll_depth-1 */
	__u32 depth; /* allocator calls in flight on this thread */
	__u32 fn; /* outermost allocator call */
	__u32 poll_depth;
	__u32 announced;
	__s64 sample_left; /* bytes until the next sampled allocation */
	__u32 spawn_depth; /* inside a task-spawning function */
	__u32 spawn_taken; /* its stack was taken already */
	__u32 announced_sample;
	__u32 nsubmit;
	/* tokio: return sites this thread saw lately (known to user space) */
	__u64 ret_seen[2];
	/* tokio: the offsets of recently polled vtables (id, and where a
	 * boxed future's pointer would be, << 32), so that a poll reads the
	 * task's memory once instead of three times. */
	__u64 vt_addr[MS_VT_CACHE];
	__u64 vt_offs[MS_VT_CACHE];
	/* Page-level mode: a syscall's arguments, kept for its exit; the
	 * region of the thread's last write fault, and its page size. */
	__u64 sys_args[3];
	__u64 fault_vma_start, fault_vma_end, fault_len;
};

/* Indexes in the per-CPU "stats" array map. */
enum ms_stat {
	MS_STAT_LOST = 0, /* ring buffer full: a record was dropped */
	MS_STAT_NO_STATE, /* no per-thread state: an event was not seen */
	MS_STAT_READ_FAILED, /* task memory unreadable */
	MS_STAT_DEPTH_OVERFLOW, /* allocator or poll nesting too deep */
	MS_STAT_STACK_LOST, /* a stack record did not fit the ring buffer */
	MS_STAT_UNMATCHED, /* an allocator call's return was never seen */
	/* Page level: a fault's region could not be looked up (its lock was
	 * taken) nor was it the thread's last one: a base page was assumed. */
	MS_STAT_PAGE_GUESSED,
	MS_STAT_MAX,
};

/* tokio Header.state bits (tokio 1.x, runtime/task/state.rs). */
#define MS_TOKIO_RUNNING 0x01ull
#define MS_TOKIO_COMPLETE 0x02ull
#define MS_TOKIO_NOTIFIED 0x04ull
#define MS_TOKIO_JOIN_INTEREST 0x08ull
#define MS_TOKIO_JOIN_WAKER 0x10ull
#define MS_TOKIO_CANCELLED 0x20ull
#define MS_TOKIO_REF_SHIFT 6
/* tokio 1.41+ boxes futures larger than this at spawn (release builds):
 * the task's Cell then holds only the pointer. */
#define MS_TOKIO_BOX_THRESHOLD 16384

/* tokio Vtable: 7 function pointers, then trailer/scheduler/id offsets
 * (and with tokio_unstable, 1.46+, the spawn location's). */
#define MS_TOKIO_VT_POLL 0
#define MS_TOKIO_VT_OFFSETS 7
#define MS_TOKIO_VT_WORDS 11
/* Words of a task read at poll entry: Header, then Core's start. */
#define MS_TOKIO_CELL_WORDS 10

/* The layout both sides rely on: no padding a compiler could place
 * differently, and sizes the decoder checks. */
_Static_assert(sizeof(struct ms_hdr) == 24, "ms_hdr");
_Static_assert(sizeof(struct ms_alloc_rec) == 56, "ms_alloc_rec");
_Static_assert(sizeof(struct ms_free_rec) == 48, "ms_free_rec");
_Static_assert(sizeof(struct ms_poll_rec) == 72, "ms_poll_rec");
_Static_assert(sizeof(struct ms_tokio_poll_rec) == 96, "ms_tokio_poll_rec");
_Static_assert(sizeof(struct ms_task_rec) == 56, "ms_task_rec");
_Static_assert(sizeof(struct ms_ret_site_rec) == 32, "ms_ret_site_rec");
_Static_assert(sizeof(struct ms_exit_rec) == 32, "ms_exit_rec");
_Static_assert(sizeof(struct ms_fork_rec) == 32, "ms_fork_rec");
_Static_assert(sizeof(struct ms_page_rec) == 72, "ms_page_rec");
_Static_assert(sizeof(struct ms_thread_rec) == 40, "ms_thread_rec");
_Static_assert(sizeof(struct ms_exec_rec) == 40 + MS_EXEC_PATH, "ms_exec_rec");
_Static_assert(sizeof(struct ms_stack_rec) ==
		       24 + 10 * 8 + 16 + 16 * MS_STACK_RET_FIX +
			       8 * MS_STACK_FP_DEPTH + MS_STACK_BYTES,
	       "ms_stack_rec");
_Static_assert(sizeof(struct ms_poll_entry) == 88, "ms_poll_entry");
/* memscoped reads task storage by pidfd into its own ms_tstate. */
_Static_assert(sizeof(struct ms_tstate) == 32 + MS_POLL_DEPTH * 88 + 16 + 8 +
						   16 + 16 + 16 * MS_VT_CACHE +
						   48,
	       "ms_tstate");

#endif /* MEMSCOPE_EVENTS_H */
