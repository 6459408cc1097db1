/* SPDX-License-Identifier: MIT */
/*
 * Records exactly as bpf/memscope.bpf.c sends them, for the unit tests and
 * ms-replay's synthetic streams. Who sends what:
 *
 *  - MS_REC_ALLOC, MS_REC_FREE: every allocator call; task is the
 *    innermost poll in progress on the thread (0 outside any). A free of
 *    the polled task's own cell carries the state word read before it.
 *  - MS_REC_TOKIO_POLL: one per tokio poll, at its end (MS_POLL_F_SEEN_*
 *    says how that end was seen), or just before a free of the task's own
 *    cell in the poll (MS_POLL_F_FREED; nothing then at the poll's end).
 *  - MS_REC_POLL_BEGIN with aux MS_RT_TOKIO: only for the runtime's own
 *    tasks (owner_id 0), at entry; their TOKIO_POLL has MS_POLL_F_BEGUN.
 *    tokio never gets an MS_REC_POLL_END.
 *  - MS_REC_POLL_BEGIN/END with aux MS_RT_USDT, MS_REC_TASK_SPAWN,
 *    _COMPLETE, _CANCEL, _FREE: USDT markers only.
 *  - MS_REC_TASK_SHUTDOWN: tokio's raw::shutdown.
 *  - MS_REC_PAGE: page-level mode only; task as for allocations.
 *
 * struct rec_tokio plays the BPF side's per-thread poll stack (tstates):
 * rec__tokio_enter() / rec__tokio_exit() / rec__tokio_free() turn a
 * test's "poll begins", "poll returns", "frees" into those records.
 */
#ifndef MS_TEST_RECORDS_H
#define MS_TEST_RECORDS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "memscope/events.h"

/* Where built records go: model__apply in the tests, a buffer in replay. */
typedef void (*rec_sink_fn)(void *ctx, const void *rec, size_t len);

static inline struct ms_hdr rec__hdr(uint16_t type, uint16_t aux, uint32_t pid,
				     uint32_t tid, uint64_t ts)
{
	struct ms_hdr h = {
		.type = type,
		.aux = aux,
		.pid = pid,
		.tid = tid,
		.ts_ns = ts,
	};

	return h;
}

static inline struct ms_alloc_rec rec__alloc(uint32_t pid, uint32_t tid,
					     uint64_t ts, uint16_t fn,
					     uint64_t addr, uint64_t size,
					     uint64_t old, uint64_t task)
{
	struct ms_alloc_rec r;

	memset(&r, 0, sizeof(r));
	r.h = rec__hdr(MS_REC_ALLOC, fn, pid, tid, ts);
	r.addr = addr;
	r.size = size;
	r.old_addr = old;
	r.task = task;
	return r;
}

/* task_state: only when addr == task (BPF reads it then, else 0). */
static inline struct ms_free_rec rec__free(uint32_t pid, uint32_t tid,
					   uint64_t ts, uint64_t addr,
					   uint64_t task, uint64_t task_state)
{
	struct ms_free_rec r;

	memset(&r, 0, sizeof(r));
	r.h = rec__hdr(MS_REC_FREE, MS_FN_FREE, pid, tid, ts);
	r.addr = addr;
	r.task = task;
	r.task_state = addr == task ? task_state : 0;
	return r;
}

/* What a tokio poll's entry read (ms_poll_entry's tokio fields). */
struct rec_poll_entry {
	uint64_t task, begin_ns, begin_state, vtable, task_id, owner_id;
	uint64_t future_word;
	uint32_t fn, flags; /* MS_POLL_F_READ_FAILED, MS_POLL_F_BEGUN */
	bool reported; /* its record went out at the free of its cell */
};

static inline struct ms_tokio_poll_rec
rec__tokio_poll(uint32_t pid, uint32_t tid, uint64_t end_ns,
		const struct rec_poll_entry *e, uint64_t state, uint32_t flags)
{
	struct ms_tokio_poll_rec r;

	memset(&r, 0, sizeof(r));
	r.h = rec__hdr(MS_REC_TOKIO_POLL, MS_RT_TOKIO, pid, tid, end_ns);
	r.task = e->task;
	r.begin_ns = e->begin_ns;
	r.begin_state = e->begin_state;
	r.state = state;
	r.vtable = e->vtable;
	r.task_id = e->task_id;
	r.owner_id = e->owner_id;
	r.fn = e->fn;
	r.flags = e->flags | flags;
	r.future_word = e->future_word;
	return r;
}

/* The entry record of a runtime task's poll (owner_id 0): flags 0. */
static inline struct ms_poll_rec
rec__runtime_poll_begin(uint32_t pid, uint32_t tid,
			const struct rec_poll_entry *e)
{
	struct ms_poll_rec r;

	memset(&r, 0, sizeof(r));
	r.h = rec__hdr(MS_REC_POLL_BEGIN, MS_RT_TOKIO, pid, tid, e->begin_ns);
	r.task = e->task;
	r.state = e->begin_state;
	r.vtable = e->vtable;
	r.task_id = e->task_id;
	r.owner_id = e->owner_id;
	r.fn = e->fn;
	return r;
}

/* USDT markers: poll_begin(id), poll_end(id, wakers). */
static inline struct ms_poll_rec rec__usdt_poll(uint16_t type, uint32_t pid,
						uint32_t tid, uint64_t ts,
						uint64_t id, int64_t wakers)
{
	struct ms_poll_rec r;

	memset(&r, 0, sizeof(r));
	r.h = rec__hdr(type, MS_RT_USDT, pid, tid, ts);
	r.task = id;
	r.state = type == MS_REC_POLL_END ? (uint64_t)wakers : 0;
	return r;
}

/* MS_REC_TASK_*: USDT markers, or tokio's shutdown (state: its word). */
static inline struct ms_task_rec
rec__task(uint16_t type, uint16_t rt, uint32_t pid, uint32_t tid, uint64_t ts,
	  uint64_t task, uint64_t parent, uint64_t size, uint64_t state)
{
	struct ms_task_rec r;

	memset(&r, 0, sizeof(r));
	r.h = rec__hdr(type, rt, pid, tid, ts);
	r.task = task;
	r.parent = parent;
	r.size = size;
	r.state = state;
	return r;
}

static inline struct ms_thread_rec rec__thread(uint32_t pid, uint32_t tid,
					       uint64_t ts, const char *comm)
{
	struct ms_thread_rec r;

	memset(&r, 0, sizeof(r));
	r.h = rec__hdr(MS_REC_THREAD, 0, pid, tid, ts);
	memcpy(r.comm, comm, strnlen(comm, sizeof(r.comm)));
	return r;
}

/* A stack record without registers or stack bytes (8 KiB: filled in
 * place). */
static inline void rec__stack(struct ms_stack_rec *r, uint16_t kind,
			      uint32_t pid, uint32_t tid, uint64_t ts,
			      uint64_t addr, uint64_t size)
{
	memset(r, 0, sizeof(*r));
	r->h = rec__hdr(MS_REC_STACK, kind, pid, tid, ts);
	r->addr = addr;
	r->size = size;
}

/* Page-level mode: kind is enum ms_page_kind (mremap: old_* too). */
static inline struct ms_page_rec rec__page(uint32_t pid, uint32_t tid,
					   uint64_t ts, uint16_t kind,
					   uint64_t addr, uint64_t len,
					   uint64_t task)
{
	struct ms_page_rec r;

	memset(&r, 0, sizeof(r));
	r.h = rec__hdr(MS_REC_PAGE, kind, pid, tid, ts);
	r.addr = addr;
	r.len = len;
	r.task = task;
	return r;
}

/* ---- the BPF side's tokio poll stack, per thread -------------------- */

#define REC_THREADS 8

struct rec_tokio_thread {
	uint32_t tid;
	uint32_t depth;
	struct rec_poll_entry polls[MS_POLL_DEPTH];
};

struct rec_tokio {
	uint32_t pid;
	rec_sink_fn sink;
	void *ctx;
	struct rec_tokio_thread th[REC_THREADS];
};

static inline struct rec_tokio_thread *rec__tokio_thread(struct rec_tokio *s,
							 uint32_t tid)
{
	for (int i = 0; i < REC_THREADS; i++)
		if (s->th[i].tid == tid)
			return &s->th[i];
	for (int i = 0; i < REC_THREADS; i++)
		if (!s->th[i].tid) {
			s->th[i].tid = tid;
			return &s->th[i];
		}
	return NULL;
}

/* The innermost poll in progress on tid (the task allocations name). */
static inline uint64_t rec__tokio_current(struct rec_tokio *s, uint32_t tid)
{
	struct rec_tokio_thread *t = rec__tokio_thread(s, tid);

	return t && t->depth ? t->polls[t->depth - 1].task : 0;
}

/* raw::poll entry: a runtime task's (owner 0) poll is announced now. */
static inline void rec__tokio_enter(struct rec_tokio *s, uint32_t tid,
				    const struct rec_poll_entry *e)
{
	struct rec_tokio_thread *t = rec__tokio_thread(s, tid);
	struct rec_poll_entry *p;

	if (!t || t->depth >= MS_POLL_DEPTH)
		return;
	p = &t->polls[t->depth++];
	*p = *e;
	p->reported = false;
	if (p->owner_id || (p->flags & MS_POLL_F_READ_FAILED))
		return;
	p->flags |= MS_POLL_F_BEGUN;
	{
		struct ms_poll_rec r = rec__runtime_poll_begin(s->pid, tid, p);

		s->sink(s->ctx, &r, sizeof(r));
	}
}

/* The innermost poll on tid has returned with state (seen how: one of
 * MS_POLL_F_SEEN_*, maybe | MS_POLL_F_END_READ_FAILED). */
static inline void rec__tokio_exit(struct rec_tokio *s, uint32_t tid,
				   uint64_t ts, uint64_t state, uint32_t flags)
{
	struct rec_tokio_thread *t = rec__tokio_thread(s, tid);
	struct rec_poll_entry *p;

	if (!t || !t->depth)
		return;
	p = &t->polls[--t->depth];
	if (p->reported)
		return;
	{
		struct ms_tokio_poll_rec r =
			rec__tokio_poll(s->pid, tid, ts, p, state, flags);

		s->sink(s->ctx, &r, sizeof(r));
	}
}

/* free(addr) on tid: the polled task freeing its own cell sends its poll
 * record first, with the state its cell holds (st). */
static inline void rec__tokio_free(struct rec_tokio *s, uint32_t tid,
				   uint64_t ts, uint64_t addr, uint64_t st)
{
	struct rec_tokio_thread *t = rec__tokio_thread(s, tid);
	struct rec_poll_entry *p =
		t && t->depth ? &t->polls[t->depth - 1] : NULL;
	uint64_t task = p ? p->task : 0;
	struct ms_free_rec f;

	if (p && task == addr && !p->reported) {
		struct ms_tokio_poll_rec r = rec__tokio_poll(
			s->pid, tid, ts, p, st, MS_POLL_F_FREED);

		s->sink(s->ctx, &r, sizeof(r));
		p->reported = true;
	}
	f = rec__free(s->pid, tid, ts, addr, task, st);
	s->sink(s->ctx, &f, sizeof(f));
}

#endif
