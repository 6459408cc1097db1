// SPDX-License-Identifier: GPL-2.0
/*
 * memscope's BPF side. It keeps only what must live in the kernel: per
 * thread, the allocator call in flight and the task being polled. Every
 * fact goes to user space as one fixed-size record in one ring buffer.
 *
 * Hot path budget: the uprobes themselves cost ~2.2 us per malloc+free pair
 * here; everything below is a few map look-ups and one ring-buffer reserve.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>
#include "memscope/events.h"

char LICENSE[] SEC("license") = "GPL";

/* Wake the reader only past this much unread data: one wake-up per record
 * would cost more than the record itself. The reader also polls on a timer. */
const volatile __u64 wake_bytes = 256 * 1024;

/* Allocation stacks: on average one per sample_bytes allocated (0: off).
 * Intervals come from a table of exponential variates (mean sample_bytes)
 * that user space fills, so sampling is a Poisson process over bytes and
 * weights can be scaled honestly. */
const volatile __u64 sample_bytes = 0;
const volatile bool spawn_stacks = false;
/* memscoped --all: every exec on the machine, not only the watched ones'. */
const volatile bool all_execs = false;

#define MAX_POLL_DEPTH MS_POLL_DEPTH
#define SAMPLE_TABLE 1024
#define VT_CACHE MS_VT_CACHE
/* A task's Header and the start of its Core: state, queue_next, vtable,
 * owner_id, then (repr(C) Core) scheduler, task id, and the stage where a
 * boxed future's pointer sits. */
#define HDR_WORDS MS_TOKIO_CELL_WORDS

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SAMPLE_TABLE);
	__type(key, __u32);
	__type(value, __u64);
} sample_intervals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ms_tstate);
} tstates SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by memscoped before load */
} rb SEC(".maps");

/* The processes memscoped watches (tgid): their execs, exits and forks
 * are reported. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} watched SEC(".maps");

/* tokio: the return sites of polls already told to user space. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} ret_sites SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MS_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Scratch for reading the stage of a task that ended (cancelled_in_poll). */
#define STAGE_SCAN_WORDS 64
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[STAGE_SCAN_WORDS]);
} stage_scan SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		(*v)++;
}

static __always_inline void fill_hdr(struct ms_hdr *h, __u16 type, __u16 aux)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	h->type = type;
	h->aux = aux;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->reserved =
		0; /* reserved: nothing reads it, and the helper call costs */
	h->ts_ns = bpf_ktime_get_ns();
}

static __always_inline void *reserve(__u64 size)
{
	void *r = bpf_ringbuf_reserve(&rb, size, 0);

	if (!r)
		stat_inc(MS_STAT_LOST);
	return r;
}

/* Asking the ring how full it is costs as much as a third of a record:
 * each thread asks every 16th record; the reader also polls on a timer. */
static __always_inline void submit(struct ms_tstate *ts,
				   void *r) /* ts: or NULL */
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if ((!ts || !(++ts->nsubmit & 15)) &&
	    bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= wake_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(r, flags);
}

/* The first record of each thread names it, so user space can tell runtime
 * worker threads from plain ones even after the thread is gone. */
static __always_inline void announce(struct ms_tstate *ts)
{
	struct ms_thread_rec *r;

	if (ts->announced)
		return;
	ts->announced = 1;
	r = reserve(sizeof(*r));
	if (!r)
		return;
	fill_hdr(&r->h, MS_REC_THREAD, 0);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	submit(ts, r);
}

static __always_inline struct ms_tstate *get_tstate(void)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct ms_tstate *ts;

	ts = bpf_task_storage_get(&tstates, t, 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!ts) {
		stat_inc(MS_STAT_NO_STATE);
		return 0;
	}
	announce(ts);
	return ts;
}

/* The innermost poll in progress on this thread, or NULL. */
static __always_inline struct ms_poll_entry *top_poll(struct ms_tstate *ts)
{
	__u32 d = ts->poll_depth;

	if (d == 0 || d > MAX_POLL_DEPTH)
		return 0;
	barrier_var(d);
	return &ts->polls[(d - 1) & (MAX_POLL_DEPTH - 1)];
}

static __always_inline __u64 current_task(struct ms_tstate *ts)
{
	struct ms_poll_entry *e = top_poll(ts);

	return e ? e->task : 0;
}

/* Does the stage of the task at header hold its JoinError::Cancelled? The
 * stage follows the id in the repr(C) Core and ends at the Trailer; the
 * JoinError lies within its first words (after tags of up to the future's
 * alignment, 128): a Repr::Cancelled (a null Box pointer, then a word)
 * and the task's id. Ids are small numbers, common in a future's old
 * words: the null pointer two words before must be there too, and past
 * the trailer (other memory) is never looked at. A global function: the
 * verifier checks its loop once, not at every place a poll may end. */
__noinline int stage_cancelled(__u64 header, __u64 vtable, __u64 task_id)
{
	__u64 vt[3], off, *w;
	__u32 zero = 0, n;

	w = bpf_map_lookup_elem(&stage_scan, &zero);
	if (!w || !task_id ||
	    bpf_probe_read_user(vt, sizeof(vt),
				(void *)(vtable + MS_TOKIO_VT_OFFSETS * 8)))
		return 0;
	/* vt: trailer_offset, scheduler_offset, id_offset */
	off = vt[2];
	if (off >= 4096 || vt[0] <= off + 8)
		return 0;
	n = (vt[0] - off - 8) / 8;
	if (n > STAGE_SCAN_WORDS)
		n = STAGE_SCAN_WORDS;
	if (bpf_probe_read_user(w, STAGE_SCAN_WORDS * sizeof(__u64),
				(void *)(header + off + 8))) {
		/* A small cell near the end of a mapping. */
		if (n > STAGE_SCAN_WORDS / 2 ||
		    bpf_probe_read_user(w, STAGE_SCAN_WORDS / 2 * sizeof(__u64),
					(void *)(header + off + 8)))
			return 0;
	}
	for (int i = 2; i < STAGE_SCAN_WORDS; i++)
		if (i < n && w[i] == task_id && w[i - 2] == 0)
			return 1;
	return 0;
}

#define COMPLETE_CANCELLED (MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED)

/* A poll that ended the task with CANCELLED set since its entry: was the
 * future cancelled, or did it return Ready anyway? (The JoinHandle may
 * take the output first: tokio_output sees it then.) */
static __always_inline bool cancelled_in_poll(struct ms_tstate *ts,
					      const struct ms_poll_entry *e,
					      __u64 state)
{
	if ((state & COMPLETE_CANCELLED) != COMPLETE_CANCELLED ||
	    (e->state & MS_TOKIO_CANCELLED))
		return false;
	return stage_cancelled(e->task, e->vtable, e->task_id);
}

static __always_inline void emit_tokio_poll(struct ms_tstate *ts,
					    struct ms_poll_entry *e,
					    __u64 state, __u32 flags)
{
	struct ms_tokio_poll_rec *r;

	if (cancelled_in_poll(ts, e, state))
		flags |= MS_POLL_F_CANCELLED_IN_POLL;
	r = reserve(sizeof(*r));
	if (!r)
		return;
	fill_hdr(&r->h, MS_REC_TOKIO_POLL, MS_RT_TOKIO);
	r->task = e->task;
	r->begin_ns = e->begin_ns;
	r->begin_state = e->state;
	r->state = state;
	r->vtable = e->vtable;
	r->task_id = e->task_id;
	r->owner_id = e->owner_id;
	r->fn = e->fn;
	r->flags = e->flags | flags;
	r->future_word = e->future_word;
	submit(ts, r);
}

/* Has this tokio poll returned? The thread runs above the stack slot of
 * its return address (sp: the stack pointer at the probe, as at a
 * function's entry), or, at or below it (the caller called something else
 * since), that slot no longer holds the return address. At the slot with
 * the return address still in it, the thread may not have left the poll's
 * own entry probe yet (preempted on its way back to user space): only a
 * new poll's entry (at_entry) proves the old one over then. */
static __always_inline bool poll_returned(const struct ms_poll_entry *e,
					  __u64 sp, bool at_entry)
{
	__u64 slot;

	if (sp > e->entry_sp || (at_entry && sp == e->entry_sp))
		return true;
	if (bpf_probe_read_user(&slot, sizeof(slot), (void *)e->entry_sp))
		return false;
	return slot != e->ret_addr;
}

/* Polls of this thread that have returned: their records go now, with
 * the state their task has now. */
static __always_inline void close_returned(struct ms_tstate *ts, __u64 sp,
					   __u32 why, bool at_entry)
{
	for (int i = 0; i < MAX_POLL_DEPTH; i++) {
		struct ms_poll_entry *e = top_poll(ts);
		__u64 state = 0;
		__u32 flags = 0;

		if (!e || !e->tokio || !poll_returned(e, sp, at_entry))
			return;
		ts->poll_depth--;
		if (e->reported)
			continue;
		/* Freed since by another thread: user space knows it by
		 * the free's record, which came first. */
		if (bpf_probe_read_user(&state, sizeof(state), (void *)e->task))
			flags = MS_POLL_F_END_READ_FAILED;
		emit_tokio_poll(ts, e, state, flags | why);
	}
}

/* ---- allocator family -------------------------------------------------- */

/*
 * Entry of any allocating call; the attach cookie says which. glibc's
 * functions call each other (realloc(NULL, n) -> malloc, reallocarray ->
 * realloc, memalign -> malloc): only the outermost call is reported.
 */
SEC("uprobe")
int alloc_enter(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();
	__u64 fn = bpf_get_attach_cookie(ctx);
	__u64 sp = PT_REGS_SP(ctx);
	__u64 a0, a1, a2;

	if (!ts)
		return 0;
	if (ts->poll_depth)
		close_returned(ts, sp, MS_POLL_F_SEEN_ALLOC, false);
	/* A return we never saw (longjmp out of a hook, uretprobe depth
	 * limit) would leave depth stuck: an entry at or above the outer
	 * frame proves the old outer call is gone. At the same frame it may
	 * be a tail call (reallocarray -> realloc); above it, the old call's
	 * allocation was surely missed. A pvalloc that jumps to what it
	 * calls (mimalloc, tcmalloc) stays the outer call: its size is the
	 * one asked for, not the one it rounded to. */
	if (ts->depth && (sp > ts->outer_sp ||
			  (sp == ts->outer_sp && ts->fn != MS_FN_PVALLOC))) {
		if (sp > ts->outer_sp)
			stat_inc(MS_STAT_UNMATCHED);
		ts->depth = 0;
	}
	if (ts->depth++)
		return 0;
	ts->outer_sp = sp;
	ts->fn = fn;
	a0 = PT_REGS_PARM1(ctx);
	a1 = PT_REGS_PARM2(ctx);
	a2 = PT_REGS_PARM3(ctx);
	switch (fn) {
	case MS_FN_MALLOC:
	case MS_FN_VALLOC:
	case MS_FN_PVALLOC:
	case MS_FN_NEW:
	case MS_FN_MALLOCX:
		ts->args[0] = a0; /* size */
		ts->args[1] = 0;
		break;
	case MS_FN_CALLOC:
		/* Overflowing n * m makes calloc fail: no record then. */
		ts->args[0] = a0 * a1;
		ts->args[1] = 0;
		break;
	case MS_FN_REALLOC:
	case MS_FN_RALLOCX:
	case MS_FN_XALLOCX:
	case MS_FN_EXPAND:
		ts->args[0] = a1;
		ts->args[1] = a0; /* old block */
		break;
	case MS_FN_RUST_REALLOC:
		ts->args[0] = PT_REGS_PARM4(ctx); /* new size */
		ts->args[1] = a0;
		break;
	case MS_FN_REALLOCARRAY:
		/* On overflow glibc fails with ENOMEM and keeps the block; a
		 * wrapped product must not look like realloc(p, 0). */
		ts->args[0] = a1 * a2;
		/* Keep clang from turning the check into a 128-bit multiply,
		 * which BPF does not have. */
		asm volatile("" : "+r"(a1));
		if (a1 && ts->args[0] / a1 != a2)
			ts->fn = MS_FN_MAX;
		ts->args[1] = a0;
		break;
	case MS_FN_POSIX_MEMALIGN:
		ts->args[0] = a2; /* size */
		ts->args[1] = 0;
		ts->args[2] = a0; /* void **memptr */
		break;
	case MS_FN_MEMALIGN:
		ts->args[0] = a1;
		ts->args[1] = 0;
		break;
	default:
		ts->fn = MS_FN_MAX;
	}
	return 0;
}

static __always_inline __u64 next_interval(void)
{
	__u32 k = bpf_get_prandom_u32() % SAMPLE_TABLE;
	__u64 *v = bpf_map_lookup_elem(&sample_intervals, &k);

	return v && *v ? *v : sample_bytes;
}

/* sp_skip: bytes the probe site moved %rsp by (markers.h steps over the red
 * zone), so that sp and the copy match what the CFI at ip describes. */
static __always_inline void emit_stack(struct pt_regs *ctx, __u16 kind,
				       __u64 addr, __u64 size, __u64 sp_skip)
{
	struct ms_stack_rec *r;
	__u64 sp = PT_REGS_SP(ctx) + sp_skip;
	long n;

	r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
	if (!r) {
		stat_inc(MS_STAT_STACK_LOST);
		return;
	}
	fill_hdr(&r->h, MS_REC_STACK, kind);
	r->addr = addr;
	r->size = size;
	r->ip = PT_REGS_IP(ctx);
	r->sp = sp;
	r->bp = ctx->bp;
	r->bx = ctx->bx;
	r->r12 = ctx->r12;
	r->r13 = ctx->r13;
	r->r14 = ctx->r14;
	r->r15 = ctx->r15;
	/* A shallow stack ends before sp + MS_STACK_BYTES, and a read that
	 * crosses the end of the mapping fails whole: copy less. */
	r->stack_len = 0;
	if (!bpf_probe_read_user(r->stack, MS_STACK_BYTES, (void *)sp)) {
		r->stack_len = MS_STACK_BYTES;
	} else {
		/* Up to the end of sp's page, then one page more: the
		 * mapping may end anywhere (a coroutine stack in the heap). */
		__u32 rest = 4096 - (sp & 4095);

		for (int i = 1; i >= 0; i--) {
			__u32 len = rest + i * 4096;

			if (len > MS_STACK_BYTES || len == 0)
				continue;
			if (!bpf_probe_read_user(r->stack, len, (void *)sp)) {
				r->stack_len = len;
				break;
			}
		}
	}
	r->nret = 0;
	if (bpf_core_field_exists(struct uprobe_task, return_instances)) {
		struct task_struct *t = bpf_get_current_task_btf();
		struct return_instance *ri;

		ri = BPF_CORE_READ(t, utask, return_instances);
		for (int i = 0; i < MS_STACK_RET_FIX && ri; i++) {
			r->ret_slot[i] = BPF_CORE_READ(ri, stack);
			r->ret_addr[i] = BPF_CORE_READ(ri, orig_ret_vaddr);
			r->nret = i + 1;
			ri = BPF_CORE_READ(ri, next);
		}
	}
	n = bpf_get_stack(ctx, r->fp_ips, sizeof(r->fp_ips), BPF_F_USER_STACK);
	r->fp_depth = n > 0 ? (__u32)(n / sizeof(__u64)) : 0;
	submit(NULL, r);
}

/* Whether this allocation's stack is wanted, and why. */
static __always_inline __u16 stack_kind(struct ms_tstate *ts, __u64 size)
{
	if (ts->spawn_depth && !ts->spawn_taken && spawn_stacks) {
		ts->spawn_taken = 1;
		return MS_STACK_SPAWN;
	}
	if (!sample_bytes)
		return 0;
	/* A new thread draws its first interval before counting. */
	if (!ts->announced_sample) {
		ts->announced_sample = 1;
		ts->sample_left = (__s64)next_interval();
	}
	ts->sample_left -= (__s64)size;
	if (ts->sample_left > 0)
		return 0;
	/* Memoryless: the next interval starts afresh. */
	ts->sample_left = (__s64)next_interval();
	return MS_STACK_SAMPLE;
}

static __always_inline int emit_alloc(struct pt_regs *ctx, struct ms_tstate *ts,
				      __u64 addr)
{
	struct ms_alloc_rec *r;
	__u16 kind;
	__u64 size = ts->args[0], old = ts->args[1];
	__u32 fn = ts->fn;

	if (fn >= MS_FN_MAX || fn == MS_FN_DELETE)
		return 0;
	if (!addr) {
		/* Failed: nothing happened, except realloc(p, 0), which
		 * freed p and returned NULL. */
		if (!(fn == MS_FN_REALLOC || fn == MS_FN_REALLOCARRAY) ||
		    size != 0 || old == 0)
			return 0;
	}
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_ALLOC, fn);
	r->addr = addr;
	r->size = size;
	r->old_addr = old;
	r->task = current_task(ts);
	submit(ts, r);
	/* A resize in place is no new block to sample (and may count
	 * nothing: user space compares the sizes). */
	if (fn == MS_FN_XALLOCX || fn == MS_FN_EXPAND)
		return 0;
	if (addr && (kind = stack_kind(ts, size)))
		emit_stack(ctx, kind, addr, size, 0);
	return 0;
}

SEC("uretprobe")
int alloc_ret(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();
	__u64 rc;

	if (!ts || !ts->depth)
		return 0;
	if (--ts->depth)
		return 0;
	rc = PT_REGS_RC(ctx);
	/* xallocx returns the block's real size: at least the size asked
	 * for when it could resize in place, and the block stays where it
	 * is. */
	if (ts->fn == MS_FN_XALLOCX)
		rc = rc >= ts->args[0] ? ts->args[1] : 0;
	return emit_alloc(ctx, ts, rc);
}

SEC("uretprobe")
int posix_memalign_ret(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();
	__u64 addr = 0;

	if (!ts || !ts->depth)
		return 0;
	if (--ts->depth)
		return 0;
	if (PT_REGS_RC(ctx) != 0)
		return 0; /* EINVAL or ENOMEM: nothing allocated */
	if (bpf_probe_read_user(&addr, sizeof(addr), (void *)ts->args[2])) {
		stat_inc(MS_STAT_READ_FAILED);
		return 0;
	}
	return emit_alloc(ctx, ts, addr);
}

static __always_inline int emit_free(struct ms_tstate *ts, __u64 addr)
{
	struct ms_poll_entry *e;
	struct ms_free_rec *r;
	__u64 task, state = 0;

	e = top_poll(ts);
	task = e ? e->task : 0;
	if (task == addr) {
		/* The polled task frees its own cell: its poll record goes
		 * now, with the last state the cell holds. */
		if (bpf_probe_read_user(&state, sizeof(state), (void *)addr)) {
			stat_inc(MS_STAT_READ_FAILED);
			state = 0;
		}
		if (e->tokio && !e->reported) {
			emit_tokio_poll(ts, e, state, MS_POLL_F_FREED);
			e->reported = 1;
		}
	}
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_FREE, MS_FN_FREE);
	r->addr = addr;
	r->task = task;
	r->task_state = state;
	submit(ts, r);
	return 0;
}

/* Placed after glibc's NULL check when the prologue allows, so it only
 * sees non-NULL pointers and hits an emulated instruction. */
SEC("uprobe")
int free_enter(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();
	__u64 addr = PT_REGS_PARM1(ctx);
	__u64 sp = PT_REGS_SP(ctx);

	if (!ts || !addr)
		return 0;
	/* Inside realloc(p, 0) and friends; or inside a release that was
	 * reported already (a sized delete calling, or jumping to, free). */
	if (ts->depth && (sp < ts->outer_sp ||
			  (sp == ts->outer_sp && ts->fn == MS_FN_DELETE)))
		return 0;
	if (ts->poll_depth)
		close_returned(ts, sp, MS_POLL_F_SEEN_ALLOC, false);
	return emit_free(ts, addr);
}

/*
 * A release at another address than free (dallocx, sdallocx, operator
 * delete, mi_free_size): it may call free or another of them, so it is
 * nested like an allocating call (alloc_ret ends it, reporting nothing)
 * and reports its free at entry. Attached with free_enter, before the
 * allocating entries (see pending_cmp).
 */
SEC("uprobe")
int delete_enter(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();
	__u64 addr = PT_REGS_PARM1(ctx);
	__u64 sp = PT_REGS_SP(ctx);

	if (!ts)
		return 0;
	if (ts->poll_depth)
		close_returned(ts, sp, MS_POLL_F_SEEN_ALLOC, false);
	/* As in alloc_enter, a stale depth is dropped; but at the outer
	 * call's frame this is a tail call from it (an aligned delete
	 * jumping to sdallocx), which reported the release already. */
	if (ts->depth && sp > ts->outer_sp) {
		stat_inc(MS_STAT_UNMATCHED);
		ts->depth = 0;
	}
	if (ts->depth++)
		return 0;
	ts->outer_sp = sp;
	ts->fn = MS_FN_DELETE;
	return addr ? emit_free(ts, addr) : 0;
}

/* ---- tokio ------------------------------------------------------------- */

/* A poll begins: its slot (NULL past MAX_POLL_DEPTH, still counted). */
static __always_inline struct ms_poll_entry *push_poll(struct ms_tstate *ts,
						       __u64 task)
{
	__u32 d = ts->poll_depth;
	struct ms_poll_entry *e;

	ts->poll_depth = d + 1;
	if (d >= MAX_POLL_DEPTH) {
		stat_inc(MS_STAT_DEPTH_OVERFLOW);
		return 0;
	}
	/* The compiler knows d < MAX_POLL_DEPTH and would drop the mask the
	 * verifier needs to see. */
	barrier_var(d);
	e = &ts->polls[d & (MAX_POLL_DEPTH - 1)];
	e->task = task;
	e->tokio = 0;
	e->reported = 0;
	e->entry_sp = 0;
	e->ret_addr = 0;
	return e;
}

/* A poll ends: its slot (NULL if it had none). */
static __always_inline struct ms_poll_entry *pop_poll(struct ms_tstate *ts)
{
	struct ms_poll_entry *e = top_poll(ts);

	if (ts->poll_depth)
		ts->poll_depth--;
	return e;
}

/* Offsets of a vtable, from the thread's cache or read once: the id's,
 * and (<< 32) where a boxed future's pointer would be. The Core is
 * repr(C): scheduler, id, tokio_unstable's spawn location, then the stage,
 * a repr(C) enum (1.40+) whose 8-byte tag precedes a boxed future's
 * pointer. ~0: unreadable. */
static __always_inline __u64 vt_offsets(struct ms_tstate *ts, __u64 vtable)
{
	__u32 k = (vtable >> 3) & (VT_CACHE - 1);
	__u64 vt[4], last, offs;

	if (ts->vt_addr[k] == vtable)
		return ts->vt_offs[k];
	if (bpf_probe_read_user(vt, sizeof(vt),
				(void *)(vtable + MS_TOKIO_VT_OFFSETS * 8))) {
		if (bpf_probe_read_user(
			    vt, 3 * sizeof(__u64),
			    (void *)(vtable + MS_TOKIO_VT_OFFSETS * 8)))
			return ~0ull;
		vt[3] = 0;
	}
	last = vt[2];
	/* The same test as tokio_vt__location_off(). */
	if (!(vt[3] & 7) && vt[3] >= vt[2] + 8 && vt[3] <= vt[2] + 16 &&
	    vt[3] + 8 <= vt[0])
		last = vt[3];
	offs = (vt[2] & 0xffffffffull) | ((last + 16) & 0xffffffffull) << 32;
	ts->vt_addr[k] = vtable;
	ts->vt_offs[k] = offs;
	return offs;
}

/* A poll returns to ret: user space hears of each such site once, and
 * probes it unless it found it in the code already. */
static __always_inline void note_ret_site(struct ms_tstate *ts, __u64 ret)
{
	struct ms_ret_site_rec *r;
	__u8 one = 1;

	if (ret == ts->ret_seen[0] || ret == ts->ret_seen[1])
		return;
	ts->ret_seen[1] = ts->ret_seen[0];
	ts->ret_seen[0] = ret;
	if (bpf_map_lookup_elem(&ret_sites, &ret) ||
	    bpf_map_update_elem(&ret_sites, &ret, &one, BPF_NOEXIST))
		return;
	r = reserve(sizeof(*r));
	if (!r)
		return;
	fill_hdr(&r->h, MS_REC_RET_SITE, MS_RT_TOKIO);
	r->ret = ret;
	submit(ts, r);
}

/* raw::poll(NonNull<Header>): one copy per future type; cookie = index.
 * Reading user memory costs ~75 ns a call here: one read of the Header
 * and the Core's start gives state, vtable, owner and (usually) the id. */
SEC("uprobe")
int tokio_poll_enter(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();
	__u64 header = PT_REGS_PARM1(ctx);
	__u64 hw[HDR_WORDS], offs, off, fw, sp = PT_REGS_SP(ctx);
	struct ms_poll_entry *e;
	struct ms_poll_rec *r;

	if (!ts)
		return 0;
	/* The thread's previous poll has returned by now (or this one runs
	 * inside it, below its stack slot). */
	if (ts->poll_depth)
		close_returned(ts, sp, MS_POLL_F_SEEN_POLL, true);
	e = push_poll(ts, header);
	if (!e)
		return 0;
	e->entry_sp = sp;
	if (bpf_probe_read_user(&e->ret_addr, sizeof(e->ret_addr), (void *)sp))
		e->ret_addr = 0;
	else
		note_ret_site(ts, e->ret_addr);
	e->begin_ns = bpf_ktime_get_ns();
	e->fn = bpf_get_attach_cookie(ctx);
	e->flags = 0;
	e->tokio = 1;
	e->task_id = 0;
	e->future_word = 0;
	if (bpf_probe_read_user(hw, sizeof(hw), (void *)header)) {
		stat_inc(MS_STAT_READ_FAILED);
		e->flags = MS_POLL_F_READ_FAILED;
		e->state = e->vtable = e->owner_id = 0;
		return 0;
	}
	e->state = hw[0];
	e->vtable = hw[2];
	e->owner_id = hw[3];
	/* The offsets are validated per vtable in user space; bad ones only
	 * yield an id or a word that is then ignored. */
	offs = vt_offsets(ts, hw[2]);
	off = offs & 0xffffffffull;
	fw = offs >> 32;
	if (off == 32)
		e->task_id = hw[4];
	else if (off == 40)
		e->task_id = hw[5];
	else if (off == 48)
		e->task_id = hw[6];
	else if (off < 4096 && bpf_probe_read_user(&e->task_id, sizeof(__u64),
						   (void *)(header + off)))
		e->task_id = 0;
	for (int i = 4; i < HDR_WORDS; i++)
		if (fw == i * 8)
			e->future_word = hw[i];
	if (hw[3])
		return 0;
	/* The runtime's own task: its poll may last as long as the runtime,
	 * so user space hears of it now. */
	e->flags |= MS_POLL_F_BEGUN;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_POLL_BEGIN, MS_RT_TOKIO);
	r->h.ts_ns = e->begin_ns;
	r->task = header;
	r->fn = e->fn;
	r->flags = 0;
	r->state = e->state;
	r->vtable = e->vtable;
	r->owner_id = e->owner_id;
	r->task_id = e->task_id;
	submit(ts, r);
	return 0;
}

/* The first emulated instruction after a call that polls tasks; cookie =
 * the return address of that call. The thread's innermost poll made from
 * there has returned (a poll of its own further in would be deeper). */
SEC("uprobe")
int poll_return(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();
	__u64 ret = bpf_get_attach_cookie(ctx), state = 0;
	struct ms_poll_entry *e;
	__u32 flags = MS_POLL_F_SEEN_RETURN;

	if (!ts)
		return 0;
	e = top_poll(ts);
	if (!e || !e->tokio || e->ret_addr != ret ||
	    PT_REGS_SP(ctx) <= e->entry_sp)
		return 0;
	ts->poll_depth--;
	if (e->reported)
		return 0;
	if (bpf_probe_read_user(&state, sizeof(state), (void *)e->task))
		flags |= MS_POLL_F_END_READ_FAILED;
	emit_tokio_poll(ts, e, state, flags);
	return 0;
}

/* A thread of a traced process is switched out: its polls that returned
 * end now (a worker that parks after a poll, with no probe to come). */
SEC("tp_btf/sched_switch")
int BPF_PROG(poll_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct ms_tstate *ts;
	struct pt_regs *regs;

	ts = bpf_task_storage_get(&tstates, prev, 0, 0);
	if (!ts || !ts->poll_depth)
		return 0;
	regs = (struct pt_regs *)bpf_task_pt_regs(prev);
	close_returned(ts, BPF_CORE_READ(regs, sp), MS_POLL_F_SEEN_SWITCH,
		       false);
	return 0;
}

static __always_inline int emit_task(__u16 type, __u16 rt, __u64 task,
				     __u64 parent, __u64 size, __u64 state)
{
	struct ms_task_rec *r = reserve(sizeof(*r));

	if (!r)
		return 0;
	fill_hdr(&r->h, type, rt);
	r->task = task;
	r->parent = parent;
	r->size = size;
	r->state = state;
	submit(NULL, r);
	return 0;
}

/* raw::shutdown: the runtime is shutting down and cancels this task. Its
 * state word tells whether abort() had cancelled it before. */
SEC("uprobe")
int tokio_shutdown(struct pt_regs *ctx)
{
	__u64 task = PT_REGS_PARM1(ctx), state = 0;

	if (!get_tstate())
		return 0;
	if (bpf_probe_read_user(&state, sizeof(state), (void *)task))
		stat_inc(MS_STAT_READ_FAILED);
	return emit_task(MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, task, 0, 0, state);
}

/* raw::try_read_output and raw::drop_join_handle_slow: a JoinHandle takes
 * or drops the output of a task that completed. If it is the task's
 * JoinError::Cancelled, the task was cancelled, however its last poll
 * looked when it ended. */
SEC("uprobe")
int tokio_output(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();
	__u64 task = PT_REGS_PARM1(ctx), hw[3], id, off;
	struct ms_task_rec *r;

	if (!ts || bpf_probe_read_user(hw, sizeof(hw), (void *)task) ||
	    (hw[0] & COMPLETE_CANCELLED) != COMPLETE_CANCELLED)
		return 0;
	off = vt_offsets(ts, hw[2]) & 0xffffffffull;
	if (off >= 4096 ||
	    bpf_probe_read_user(&id, sizeof(id), (void *)(task + off)) ||
	    !stage_cancelled(task, hw[2], id))
		return 0;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_TOKIO_CANCELLED, MS_RT_TOKIO);
	r->task = task;
	r->parent = 0;
	r->size = 0;
	r->state = hw[0];
	submit(ts, r);
	return 0;
}

/* Functions that spawn tasks (tokio's OwnedTasks::bind, spawn_blocking...):
 * the first allocation inside is the task's, and its stack is the spawn
 * site. */
SEC("uprobe")
int spawn_enter(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();

	if (!ts)
		return 0;
	if (!ts->spawn_depth++)
		ts->spawn_taken = 0;
	return 0;
}

/* OwnedTasks::bind_inner(&self, task, notified) (tokio 1.30+): the cell
 * was allocated by the caller, which is the spawn path; task and notified
 * are the same Header. */
SEC("uprobe")
int spawn_bound(struct pt_regs *ctx)
{
	__u64 task = PT_REGS_PARM2(ctx);

	if (!spawn_stacks || !task || task != PT_REGS_PARM3(ctx) ||
	    !get_tstate())
		return 0;
	emit_stack(ctx, MS_STACK_SPAWN, task, 0, 0);
	return 0;
}

SEC("uretprobe")
int spawn_ret(struct pt_regs *ctx)
{
	struct ms_tstate *ts = get_tstate();

	if (ts && ts->spawn_depth)
		ts->spawn_depth--;
	return 0;
}

/* ---- USDT markers (include/memscope/markers.h) ------------------------- */

SEC("usdt")
int BPF_USDT(usdt_spawn, __u64 id, __u64 parent, __u64 size)
{
	if (!get_tstate())
		return 0;
	emit_task(MS_REC_TASK_SPAWN, MS_RT_USDT, id, parent, size, 0);
	/* addr = the task id: user space files it under the task. */
	if (spawn_stacks)
		emit_stack(ctx, MS_STACK_SPAWN_USDT, id, 0, 128);
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt_poll_begin, __u64 id)
{
	struct ms_tstate *ts = get_tstate();
	struct ms_poll_rec *r;

	if (!ts)
		return 0;
	push_poll(ts, id);
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_POLL_BEGIN, MS_RT_USDT);
	r->task = id;
	r->state = r->vtable = r->task_id = r->owner_id = 0;
	r->fn = 0;
	r->flags = 0;
	submit(ts, r);
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt_poll_end, __u64 id, __s64 wakers)
{
	struct ms_tstate *ts = get_tstate();
	struct ms_poll_rec *r;

	if (!ts)
		return 0;
	pop_poll(ts);
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_POLL_END, MS_RT_USDT);
	r->task = id;
	r->state = (__u64)wakers;
	r->vtable = r->task_id = r->owner_id = 0;
	r->fn = 0;
	r->flags = 0;
	submit(ts, r);
	return 0;
}

SEC("usdt")
int BPF_USDT(usdt_complete, __u64 id)
{
	if (!get_tstate())
		return 0;
	return emit_task(MS_REC_TASK_COMPLETE, MS_RT_USDT, id, 0, 0, 0);
}

SEC("usdt")
int BPF_USDT(usdt_cancel, __u64 id)
{
	if (!get_tstate())
		return 0;
	return emit_task(MS_REC_TASK_CANCEL, MS_RT_USDT, id, 0, 0, 0);
}

SEC("usdt")
int BPF_USDT(usdt_free, __u64 id)
{
	if (!get_tstate())
		return 0;
	return emit_task(MS_REC_TASK_FREE, MS_RT_USDT, id, 0, 0, 0);
}

/* ---- processes: exec, exit, fork ------------------------------------- */

static __always_inline bool is_watched(__u32 tgid)
{
	return bpf_map_lookup_elem(&watched, &tgid) != 0;
}

/* A process runs a new program: memscoped re-reads it and probes it
 * (--all: decides whether to watch it). Woken at once, since the sooner the
 * probes are in, the less of the program goes unseen. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(proc_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct ms_exec_rec *r;

	if (!all_execs && !is_watched(bpf_get_current_pid_tgid() >> 32))
		return 0;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_EXEC, 0);
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	if (bpf_probe_read_kernel_str(r->path, sizeof(r->path),
				      BPF_CORE_READ(bprm, filename)) < 0)
		r->path[0] = '\0';
	bpf_ringbuf_submit(r, 0);
	return 0;
}

#define MS_SIGNAL_GROUP_EXIT 0x4 /* include/linux/sched/signal.h */

/* The last thread of a watched process exits: its exit status, which
 * only the parent could wait for otherwise. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(proc_exit, struct task_struct *p)
{
	struct signal_struct *sig = BPF_CORE_READ(p, signal);
	struct ms_exit_rec *r;
	__u32 status;

	if (!is_watched(BPF_CORE_READ(p, tgid)) ||
	    BPF_CORE_READ(sig, live.counter) != 0)
		return 0;
	status = BPF_CORE_READ(sig, flags) & MS_SIGNAL_GROUP_EXIT ?
			 BPF_CORE_READ(sig, group_exit_code) :
			 BPF_CORE_READ(p, exit_code);
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_EXIT, 0);
	r->status = status;
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* A watched process forks: its child is not followed, only counted. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(proc_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 pid = BPF_CORE_READ(child, pid);
	struct ms_fork_rec *r;

	if (pid != BPF_CORE_READ(child, tgid) ||
	    !is_watched(BPF_CORE_READ(parent, tgid)))
		return 0;
	r = reserve(sizeof(*r));
	if (!r)
		return 0;
	fill_hdr(&r->h, MS_REC_FORK, 0);
	r->child = pid;
	r->pad = 0;
	submit(NULL, r);
	return 0;
}

/* ---- page level: no allocator to probe --------------------------------- */

/* Processes in page-level mode (tgid). Every program below runs for the
 * whole machine once attached, which memscoped does only when one process
 * needs it: the first thing each does is this look-up. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} paged SEC(".maps");

#define MS_PAGE_SIZE 4096
#define MS_MADV_DONTNEED 4
#define MS_MADV_FREE 8
#define MS_MADV_REMOVE 9
#define MS_MADV_DONTNEED_LOCKED 24

static __always_inline bool is_paged(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&paged, &tgid) != 0;
}

/* The per-thread state, with the polls that have returned by now closed
 * (their ends are only seen at a later probe): what the page is charged
 * to is the poll the thread is really in. */
static __always_inline struct ms_tstate *page_tstate(void)
{
	struct ms_tstate *ts = get_tstate();
	struct pt_regs *regs;

	if (!ts || !ts->poll_depth)
		return ts;
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	close_returned(ts, BPF_CORE_READ(regs, sp), MS_POLL_F_SEEN_ALLOC,
		       false);
	return ts;
}

static __always_inline void emit_page(struct ms_tstate *ts, __u16 kind,
				      __u64 addr, __u64 len, __u64 old_addr,
				      __u64 old_len, __u32 flags)
{
	struct ms_page_rec *r = reserve(sizeof(*r));

	if (!r)
		return;
	fill_hdr(&r->h, MS_REC_PAGE, kind);
	r->addr = addr;
	r->len = len;
	r->old_addr = old_addr;
	r->old_len = old_len;
	r->task = current_task(ts);
	r->flags = flags;
	r->pad = 0;
	submit(ts, r);
}

/* The tracepoint's record (arch/x86/include/asm/trace/exceptions.h). */
struct ms_fault_ctx {
	__u64 common;
	unsigned long address;
	unsigned long ip;
	unsigned long error_code;
};

/* Transparent huge pages, as /sys/kernel/mm/transparent_hugepage/enabled
 * says (memscoped reads it): 0 never, 1 madvise, 2 always. */
const volatile __u32 thp_mode = 0;

#define MS_HPAGE_SIZE (2ull << 20)
#define MS_VM_HUGEPAGE 0x20000000ull
#define MS_VM_NOHUGEPAGE 0x40000000ull

struct fault_vma {
	__u64 addr;
	__u64 start, end; /* out: the region */
	__u64 len; /* out: what the fault maps */
};

/* An anonymous region where the kernel may map a 2 MiB page at once: its
 * aligned 2 MiB lies in the region and THP is on for it. */
static long fault_vma_cb(struct task_struct *task, struct vm_area_struct *vma,
			 struct fault_vma *f)
{
	__u64 flags = BPF_CORE_READ(vma, vm_flags);
	__u64 start = f->addr & ~(MS_HPAGE_SIZE - 1);
	bool thp;

	f->start = BPF_CORE_READ(vma, vm_start);
	f->end = BPF_CORE_READ(vma, vm_end);
	if (BPF_CORE_READ(vma, vm_file))
		return 0;
	thp = (thp_mode == 2 && !(flags & MS_VM_NOHUGEPAGE)) ||
	      (thp_mode == 1 && (flags & MS_VM_HUGEPAGE));
	if (thp && start >= f->start && start + MS_HPAGE_SIZE <= f->end)
		f->len = MS_HPAGE_SIZE;
	return 0;
}

/* The page size a fault at addr maps. The region look-up fails while its
 * lock is taken for writing (another thread's mmap, munmap, madvise):
 * then the thread's last region answers if addr is in it, as it is when
 * a task writes a buffer page after page. */
static __always_inline __u64 fault_len(struct ms_tstate *ts, __u64 addr)
{
	struct fault_vma f = { .addr = addr, .len = MS_PAGE_SIZE };
	__u64 start = addr & ~(MS_HPAGE_SIZE - 1);

	if (!thp_mode)
		return MS_PAGE_SIZE;
	if (!bpf_find_vma(bpf_get_current_task_btf(), addr, fault_vma_cb, &f,
			  0)) {
		ts->fault_vma_start = f.start;
		ts->fault_vma_end = f.end;
		ts->fault_len = f.len;
		return f.len;
	}
	if (addr >= ts->fault_vma_start && addr < ts->fault_vma_end) {
		if (ts->fault_len == MS_HPAGE_SIZE &&
		    (start < ts->fault_vma_start ||
		     start + MS_HPAGE_SIZE > ts->fault_vma_end))
			return MS_PAGE_SIZE;
		return ts->fault_len;
	}
	stat_inc(MS_STAT_PAGE_GUESSED);
	return MS_PAGE_SIZE;
}

/* A write fault from user space: the first write to a page gets it new
 * memory (a read maps the shared zero page), so does a copy on write;
 * user space counts each page once. The tracepoint comes before the fault
 * is handled, so whether it maps a huge page is judged from the region:
 * a region whose huge page could not be had is counted whole. */
SEC("tp/exceptions/page_fault_user")
int page_fault(struct ms_fault_ctx *ctx)
{
	struct ms_tstate *ts;
	__u64 len;

	if (!(ctx->error_code & 2) || !is_paged())
		return 0;
	ts = page_tstate();
	if (!ts)
		return 0;
	len = fault_len(ts, ctx->address);
	emit_page(ts, MS_PAGE_FAULT, ctx->address & ~(len - 1), len, 0, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_munmap")
int page_munmap(struct trace_event_raw_sys_enter *ctx)
{
	struct ms_tstate *ts;

	if (!is_paged() || !(ts = page_tstate()))
		return 0;
	emit_page(ts, MS_PAGE_MUNMAP, ctx->args[0], ctx->args[1], 0, 0, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_madvise")
int page_madvise(struct trace_event_raw_sys_enter *ctx)
{
	__u64 advice = ctx->args[2];
	struct ms_tstate *ts;

	if (advice != MS_MADV_DONTNEED && advice != MS_MADV_FREE &&
	    advice != MS_MADV_REMOVE && advice != MS_MADV_DONTNEED_LOCKED)
		return 0;
	if (!is_paged() || !(ts = page_tstate()))
		return 0;
	emit_page(ts, MS_PAGE_MADVISE, ctx->args[0], ctx->args[1], 0, 0,
		  (__u32)advice);
	return 0;
}

/* mmap and mremap: the address is the result, the rest the arguments. */
SEC("tp/syscalls/sys_enter_mmap")
int page_mmap_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct ms_tstate *ts;

	if (!is_paged() || !(ts = get_tstate()))
		return 0;
	ts->sys_args[0] = ctx->args[1]; /* len */
	ts->sys_args[1] = ctx->args[3]; /* flags */
	return 0;
}

/* A result in the last page of the address space is an error. */
#define MS_SYS_FAILED(rc) ((unsigned long)(rc) >= (unsigned long)-4095)

SEC("tp/syscalls/sys_exit_mmap")
int page_mmap_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct ms_tstate *ts;

	if (MS_SYS_FAILED(ctx->ret) || !is_paged() || !(ts = page_tstate()))
		return 0;
	emit_page(ts, MS_PAGE_MMAP, ctx->ret, ts->sys_args[0], 0, 0,
		  (__u32)ts->sys_args[1]);
	return 0;
}

SEC("tp/syscalls/sys_enter_mremap")
int page_mremap_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct ms_tstate *ts;

	if (!is_paged() || !(ts = get_tstate()))
		return 0;
	ts->sys_args[0] = ctx->args[0]; /* old address */
	ts->sys_args[1] = ctx->args[1]; /* old length */
	ts->sys_args[2] = ctx->args[2]; /* new length */
	return 0;
}

SEC("tp/syscalls/sys_exit_mremap")
int page_mremap_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct ms_tstate *ts;

	if (MS_SYS_FAILED(ctx->ret) || !is_paged() || !(ts = page_tstate()))
		return 0;
	emit_page(ts, MS_PAGE_MREMAP, ctx->ret, ts->sys_args[2],
		  ts->sys_args[0], ts->sys_args[1], 0);
	return 0;
}

SEC("tp/syscalls/sys_exit_brk")
int page_brk(struct trace_event_raw_sys_exit *ctx)
{
	struct ms_tstate *ts;

	if (!is_paged() || !(ts = page_tstate()))
		return 0;
	emit_page(ts, MS_PAGE_BRK, ctx->ret, 0, 0, 0, 0);
	return 0;
}

/* ---- the floor: same probe set, empty programs (benchmarks only) ------- */

SEC("uprobe")
int floor_enter(struct pt_regs *ctx)
{
	return 0;
}

SEC("uretprobe")
int floor_ret(struct pt_regs *ctx)
{
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return 0;
}
