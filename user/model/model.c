// SPDX-License-Identifier: MIT
/* The model's core: allocations and their owners, totals, threads,
 * record dispatch. tokio.c and sites.c hold the rest (model_int.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "util.h"

const char *task_state__name(enum task_state s)
{
	static const char *const n[] = { "running", "pending", "completed",
					 "cancelled" };

	return (unsigned)s < 4 ? n[s] : "unknown";
}

const char *task_kind__name(enum task_kind k)
{
	return k == TASK_RUNTIME ? "runtime" : "user";
}

const char *nf_reason__name(enum nf_reason r)
{
	static const char *const n[] = { NULL, "aborted", "pending", "no-waker",
					 "shutdown" };

	return (unsigned)r < 5 ? n[r] : NULL;
}

struct model *model__new(const struct model_opts *opts)
{
	struct model *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->opts = *opts;
	m->allocs = allocs__new(0);
	m->task_keys = idmap__new();
	m->tids = idmap__new();
	m->bad_vtables = idmap__new();
	m->vt_layouts = idmap__new();
	m->freed_keys = idmap__new();
	m->site_keys = idmap__new();
	m->pending_spawn = idmap__new();
	m->pending_cancel = idmap__new();
	m->sampled = idmap__new();
	m->next_own_id = 1;
	if (!m->opts.max_ended_tasks)
		m->opts.max_ended_tasks = 100000;
	m->free_block = UINT32_MAX;
	m->last_ns = opts->start_ns;
	if (!m->allocs || !m->task_keys || !m->tids || !m->bad_vtables ||
	    !m->vt_layouts || !m->freed_keys || !m->site_keys ||
	    !m->pending_spawn || !m->pending_cancel || !m->sampled) {
		model__free(m);
		return NULL;
	}
	return m;
}

void model__free(struct model *m)
{
	if (!m)
		return;
	sites__free(m);
	idmap__free(m->pending_spawn);
	idmap__free(m->pending_cancel);
	free(m->ended);
	free(m->samples);
	free(m->threads);
	free(m->tasks);
	idmap__free(m->bad_vtables);
	idmap__free(m->vt_layouts);
	idmap__free(m->freed_keys);
	free(m->layouts);
	idmap__free(m->tids);
	idmap__free(m->task_keys);
	allocs__free(m->allocs);
	allocs__free(m->pages);
	free(m);
}

uint64_t model__rel_ns(const struct model *m, uint64_t ts)
{
	return ts > m->opts.start_ns ? ts - m->opts.start_ns : 0;
}

static unsigned size_class(uint64_t size)
{
	unsigned c = size ? 64 - __builtin_clzll(size) : 0;

	return c < MS_SIZE_CLASSES ? c : MS_SIZE_CLASSES - 1;
}

struct ms_mem *owner__mem(struct model *m, uint32_t owner)
{
	if (owner == OWNER_THREADS)
		return &m->thread_mem;
	if (owner == OWNER_RUNTIME)
		return &m->runtime_mem;
	if (owner - OWNER_TASK0 < m->ntasks)
		return &m->tasks[owner - OWNER_TASK0].mem;
	return &m->thread_mem;
}

struct thread *thread__get(struct model *m, uint32_t tid)
{
	struct thread *t;
	uint32_t idx;

	if (!idmap__get(m->tids, tid, &idx))
		return &m->threads[idx];
	if (util__grow((void **)&m->threads, &m->cap_threads, m->nthreads + 1,
		       sizeof(*m->threads), 64))
		return NULL;
	if (idmap__put(m->tids, tid, m->nthreads))
		return NULL;
	t = &m->threads[m->nthreads++];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	return t;
}

static void ended_push(struct model *m, uint32_t idx)
{
	if (m->ended_len == m->ended_cap) {
		size_t cap = m->ended_cap ? m->ended_cap * 2 : 1024;
		uint32_t *n = malloc(cap * sizeof(*n));

		if (!n)
			return; /* the task just stays in detail */
		for (size_t i = 0; i < m->ended_len; i++)
			n[i] = m->ended[(m->ended_head + i) % m->ended_cap];
		free(m->ended);
		m->ended = n;
		m->ended_cap = cap;
		m->ended_head = 0;
	}
	m->ended[(m->ended_head + m->ended_len++) % m->ended_cap] = idx;
}

/* Add one task to async figures; *sized counts tasks of known size. */
static void async_add(struct ms_async *a, uint64_t *sized,
		      const struct ms_task *t)
{
	a->async_allocation_count += t->mem.alloc_count;
	a->async_allocation_bytes += t->mem.alloc_bytes;
	if (t->kind != TASK_USER)
		return;
	a->task_cell_bytes += t->cell_size;
	if (t->future_size) {
		(*sized)++;
		a->future_state_overhead += t->future_size;
		if (t->future_size > a->largest_future_size)
			a->largest_future_size = t->future_size;
	}
	if (t->nf_reason != NF_NONE)
		a->never_finished_count++;
	if (t->state == TASK_COMPLETED)
		a->tasks_completed++;
	else if (t->state == TASK_CANCELLED)
		a->tasks_cancelled++;
	else
		a->tasks_alive++;
}

/* Fold a (ended) task's figures into the aggregate of let-go tasks. */
static void drop_task(struct model *m, const struct ms_task *t)
{
	m->dropped.tasks_dropped++;
	async_add(&m->dropped, &m->dropped_sized, t);
}

/*
 * A slot to reuse once more ended tasks are kept than allowed: the oldest
 * ended task that holds no memory (nothing in the live table names it).
 * Tasks still holding memory stay, and are looked at again later.
 */
static uint32_t recycle(struct model *m)
{
	size_t tries = m->ended_len < 8 ? m->ended_len : 8;

	if (m->ended_len <= m->opts.max_ended_tasks)
		return UINT32_MAX;
	while (tries--) {
		uint32_t idx = m->ended[m->ended_head], cur;
		struct ms_task *t = &m->tasks[idx];

		m->ended_head = (m->ended_head + 1) % m->ended_cap;
		m->ended_len--;
		if (t->mem.live_count || t->in_poll ||
		    t->pages.resident_bytes) {
			ended_push(m, idx);
			continue;
		}
		if (!idmap__get(m->task_keys, t->key, &cur) && cur == idx)
			idmap__del(m->task_keys, t->key);
		drop_task(m, t);
		return idx;
	}
	return UINT32_MAX;
}

struct ms_task *task__new(struct model *m, uint64_t key, uint8_t rt,
			  uint32_t *idx_out)
{
	struct ms_task *t;

	uint32_t idx = recycle(m);

	if (idx == UINT32_MAX &&
	    util__grow((void **)&m->tasks, &m->cap_tasks, m->ntasks + 1,
		       sizeof(*m->tasks), 256))
		return NULL;
	if (idx == UINT32_MAX)
		idx = (uint32_t)m->ntasks;
	if (idmap__put(m->task_keys, key, idx))
		return NULL;
	*idx_out = idx;
	if (idx == m->ntasks)
		m->ntasks++;
	t = &m->tasks[idx];
	memset(t, 0, sizeof(*t));
	t->key = key;
	t->parent = MS_TASK_NO_PARENT;
	t->spawn_site = MS_NO_SITE;
	t->runtime = rt;
	t->state = TASK_PENDING;
	if (m->runtime == MS_RT_NONE)
		m->runtime = rt;
	return t;
}

struct ms_task *task__by_key(struct model *m, uint64_t key, uint32_t *idx)
{
	uint32_t i;

	if (!key || idmap__get(m->task_keys, key, &i))
		return NULL;
	if (idx)
		*idx = i;
	return &m->tasks[i];
}

/* Who owns what a thread allocates right now. */
static uint32_t current_owner(struct model *m, struct thread *th, uint64_t key)
{
	uint32_t idx;

	if (key && task__by_key(m, key, &idx))
		return idx + OWNER_TASK0;
	return th && th->runtime ? OWNER_RUNTIME : OWNER_THREADS;
}

uint32_t owner__of(struct model *m, struct thread *th, uint64_t task,
		   uint64_t ts)
{
	uint32_t owner = current_owner(m, th, task), idx;

	/* Not a task that already freed itself in this poll; a cell at that
	 * address again is a new task. In a tokio task's first poll, its
	 * record comes at the poll's end, what it allocates first. */
	if (owner < OWNER_TASK0 && task && m->runtime != MS_RT_USDT &&
	    (allocs__find(m->allocs, task) || !th || task != th->freed_key) &&
	    tokio__in_poll(m, th, task, ts, &idx))
		owner = idx + OWNER_TASK0;
	return owner;
}

void mem__alloc(struct ms_mem *mm, uint64_t size)
{
	mm->alloc_count++;
	mm->alloc_bytes += size;
	mm->live_count++;
	mm->live_bytes += size;
	if (mm->live_bytes > mm->peak_live_bytes)
		mm->peak_live_bytes = mm->live_bytes;
}

void mem__release(struct ms_mem *mm, uint64_t size)
{
	mm->live_count--;
	mm->live_bytes -= size;
}

static void live_add(struct model *m, const struct alloc_entry *e)
{
	unsigned c = size_class(e->size);

	m->class_count[c]++;
	m->class_bytes[c] += e->size;
	m->totals.live_count++;
	m->totals.live_bytes += e->size;
	if (m->totals.live_bytes > m->totals.peak_live_bytes)
		m->totals.peak_live_bytes = m->totals.live_bytes;
}

static void live_del(struct model *m, const struct alloc_entry *e)
{
	unsigned c = size_class(e->size);

	m->class_count[c]--;
	m->class_bytes[c] -= e->size;
	m->totals.live_count--;
	m->totals.live_bytes -= e->size;
	mem__release(owner__mem(m, e->owner), e->size);
}

/* Why a cancelled task never finished: a task nothing could wake stays
 * "no-waker" when it is finally cancelled (at shutdown, by its runtime):
 * that is the finding. */
enum nf_reason task__cancel_reason(const struct ms_task *t)
{
	if (t->nf_reason == NF_NO_WAKER)
		return NF_NO_WAKER;
	return (t->shutdown || t->shutdown_in_poll) && !t->aborted ?
		       NF_SHUTDOWN :
		       NF_ABORTED;
}

void task__finish(struct model *m, struct ms_task *t, bool cancelled,
		  uint64_t ts)
{
	if (t->state == TASK_COMPLETED || t->state == TASK_CANCELLED)
		return;
	t->state = cancelled ? TASK_CANCELLED : TASK_COMPLETED;
	t->ended_ns = model__rel_ns(m, ts);
	ended_push(m, (uint32_t)(t - m->tasks));
	t->nf_reason = cancelled ? task__cancel_reason(t) :
				   NF_NONE; /* it finished after all */
	if (t->kind == TASK_RUNTIME)
		t->nf_reason = NF_NONE;
}

/* The task's memory is gone; its key may be reused by a new task. */
void task__release(struct model *m, struct ms_task *t, uint64_t ts)
{
	if (t->freed)
		return;
	if (t->state != TASK_COMPLETED && t->state != TASK_CANCELLED)
		task__finish(m, t, t->shutdown, ts);
	t->freed = true;
	idmap__del(m->task_keys, t->key);
	/* A poll record may still come for it: its end is seen late. */
	idmap__put(m->freed_keys, t->key, (uint32_t)(t - m->tasks));
}

/* A block changes owner: its figures go along (as if the new owner had
 * allocated it; the old owner's peak stays what it was). */
void owner__move(struct model *m, struct alloc_entry *b, uint32_t to)
{
	struct ms_mem *from = owner__mem(m, b->owner);

	from->alloc_count--;
	from->alloc_bytes -= b->size;
	mem__release(from, b->size);
	b->owner = to;
	mem__alloc(owner__mem(m, to), b->size);
}

/* A thread that polls tasks is a runtime thread: what it allocates
 * outside them is the runtime's overhead. */
void thread__polls(struct model *m, struct thread *th)
{
	th->polled = true;
	if (th->tid != m->opts.pid)
		th->runtime = true;
}

static int on_alloc(struct model *m, const struct ms_alloc_rec *r)
{
	struct thread *th = thread__get(m, r->h.tid);
	struct alloc_entry e, old;
	uint32_t owner;

	/* xallocx and mi_expand to the size the block has: nothing
	 * happened (see docs/snapshot.md). */
	if ((r->h.aux == MS_FN_XALLOCX || r->h.aux == MS_FN_EXPAND) &&
	    r->addr == r->old_addr) {
		const struct alloc_entry *cur =
			allocs__find(m->allocs, r->addr);

		if (cur && cur->size == r->size)
			return 0;
	}
	if (r->old_addr) {
		sample__release(m, r->old_addr);
		if (!allocs__remove(m->allocs, r->old_addr, &old)) {
			live_del(m, &old);
			m->totals.free_count++;
			m->totals.free_bytes += old.size;
			owner__mem(m, old.owner)->free_count++;
			owner__mem(m, old.owner)->free_bytes += old.size;
		} else {
			m->totals.untracked_frees++;
		}
	}
	if (!r->addr)
		return 0; /* realloc(p, 0) */
	owner = owner__of(m, th, r->task, r->h.ts_ns);
	e.addr = r->addr;
	e.size = r->size;
	e.owner = owner;
	e.t_ms = (uint32_t)(model__rel_ns(m, r->h.ts_ns) / 1000000);
	if (allocs__insert(m->allocs, &e, &old) == -EEXIST) {
		/* A free we never saw (lost record): drop the stale block. */
		m->totals.stale_allocs++;
		live_del(m, &old);
	}
	m->totals.alloc_count++;
	m->totals.alloc_bytes += r->size;
	live_add(m, &e);
	mem__alloc(owner__mem(m, owner), r->size);
	return 0;
}

static int on_free(struct model *m, const struct ms_free_rec *r)
{
	struct alloc_entry old;
	struct ms_task *t;

	/* A tokio task's Cell is freed: the task has ended. If it freed
	 * itself during its own poll, BPF read its last state first (its
	 * MS_POLL_F_FREED poll record, just before, carried it too: this one
	 * still counts when that record was lost to a full ring buffer). */
	t = task__by_key(m, r->addr, NULL);
	if (r->task == r->addr) {
		struct thread *th = thread__get(m, r->h.tid);

		if (th)
			th->freed_key = r->addr;
	}
	if (t && t->runtime == MS_RT_TOKIO) {
		if (r->task == r->addr && r->task_state)
			tokio__state(m, t, r->task_state, r->h.ts_ns);
		task__release(m, t, r->h.ts_ns);
	}
	sample__release(m, r->addr);
	idmap__del(m->pending_spawn, r->addr);
	idmap__del(m->pending_cancel, r->addr);
	if (allocs__remove(m->allocs, r->addr, &old)) {
		m->totals.untracked_frees++;
		return 0;
	}
	live_del(m, &old);
	m->totals.free_count++;
	m->totals.free_bytes += old.size;
	owner__mem(m, old.owner)->free_count++;
	owner__mem(m, old.owner)->free_bytes += old.size;
	return 0;
}

/* Sent by the USDT markers at each poll's entry, and for tokio only for
 * the runtime's own tasks (owner_id 0), whose poll may last as long as the
 * runtime: their MS_REC_TOKIO_POLL (MS_POLL_F_BEGUN) closes it. */
static int on_poll_begin(struct model *m, const struct ms_poll_rec *r)
{
	struct thread *th = thread__get(m, r->h.tid);
	struct ms_task *t;
	uint32_t idx;

	if (!th)
		return -ENOMEM;
	t = task__by_key(m, r->task, &idx);
	if (!t && r->h.aux == MS_RT_TOKIO) {
		t = tokio__discover(m, r->task, r->h.ts_ns, &idx);
	} else if (!t) {
		/* A USDT task alive before attach. */
		t = task__new(m, r->task, MS_RT_USDT, &idx);
		if (t) {
			t->id = r->task;
			t->spawned_ns = model__rel_ns(m, r->h.ts_ns);
		}
	}
	if (!t)
		return -ENOMEM;
	if (t->runtime == MS_RT_TOKIO)
		tokio__identify(m, t,
				&(struct tokio_seen){
					.vtable = r->vtable,
					.owner_id = r->owner_id,
					.task_id = r->task_id,
					.flags = r->flags,
				});
	thread__polls(m, th);
	if (th->depth < POLL_STACK) {
		th->task[th->depth] = idx;
		th->begin_ns[th->depth] = r->h.ts_ns;
	}
	th->depth++;
	t->in_poll = true;
	if (r->h.aux == MS_RT_TOKIO && !(r->flags & MS_POLL_F_READ_FAILED))
		t->begin_state = r->state;
	t->state = TASK_RUNNING;
	t->polls++;
	t->last_poll_ns = model__rel_ns(m, r->h.ts_ns);
	return 0;
}

/* Sent by the USDT markers only: a tokio poll's end is its
 * MS_REC_TOKIO_POLL. */
static int on_poll_end(struct model *m, const struct ms_poll_rec *r)
{
	struct thread *th = thread__get(m, r->h.tid);
	struct ms_task *t;
	uint32_t idx;

	if (!th)
		return -ENOMEM;
	if (r->h.aux != MS_RT_USDT)
		return 0;
	if (th->depth)
		th->depth--;
	/* The thread's own poll stack names the task this poll was for: by
	 * key, a task freed during its poll could already be confused with
	 * a new one at the same address on another thread. */
	t = NULL;
	if (th->depth < POLL_STACK) {
		idx = th->task[th->depth];
		if (idx < m->ntasks && m->tasks[idx].key == r->task) {
			t = &m->tasks[idx];
			if (r->h.ts_ns > th->begin_ns[th->depth])
				t->busy_ns +=
					r->h.ts_ns - th->begin_ns[th->depth];
		}
	}
	if (!t)
		t = task__by_key(m, r->task, &idx);
	if (!t)
		return 0;
	t->in_poll = false;
	/* Freed during its poll: its free record came first and already
	 * settled its state. */
	if (t->freed)
		return 0;
	if (t->state == TASK_RUNNING)
		t->state = TASK_PENDING;
	/* state: the USDT marker's waker count (tokio polls end with an
	 * MS_REC_TOKIO_POLL instead). */
	if (t->state == TASK_PENDING && (int64_t)r->state == 0 &&
	    t->kind == TASK_USER)
		t->nf_reason = NF_NO_WAKER;
	return 0;
}

/* TASK_SPAWN, _COMPLETE, _CANCEL, _FREE: the USDT markers; TASK_SHUTDOWN:
 * tokio's raw::shutdown. */
static int on_task(struct model *m, const struct ms_task_rec *r)
{
	struct ms_task *t;
	uint32_t idx, pidx;

	t = task__by_key(m, r->task, &idx);
	switch (r->h.type) {
	case MS_REC_TASK_SPAWN:
		if (t) /* id reused without a free marker */
			task__release(m, t, r->h.ts_ns);
		t = task__new(m, r->task, r->h.aux, &idx);
		if (!t)
			return -ENOMEM;
		t->id = r->task;
		t->spawn_known = true;
		t->spawned_ns = model__rel_ns(m, r->h.ts_ns);
		t->future_size = r->size;
		if (r->parent && task__by_key(m, r->parent, &pidx)) {
			t->parent = pidx;
			t->parent_id = m->tasks[pidx].id;
		}
		break;
	case MS_REC_TASK_COMPLETE:
		if (t)
			task__finish(m, t, false, r->h.ts_ns);
		break;
	case MS_REC_TASK_CANCEL:
		if (t)
			task__finish(m, t, true, r->h.ts_ns);
		break;
	case MS_REC_TASK_SHUTDOWN:
		/* A task in a poll is left alone by tokio's shutdown (it only
		 * marks it CANCELLED): its poll decides how it ends. One that
		 * is COMPLETE already (its poll is releasing it) completed. */
		if (t && (r->state & MS_TOKIO_COMPLETE))
			t->complete_at_shutdown = true;
		if (t && !t->in_poll && t->state != TASK_COMPLETED &&
		    t->state != TASK_CANCELLED &&
		    !(r->state & MS_TOKIO_COMPLETE)) {
			t->shutdown = true;
			t->shutdown_ns = r->h.ts_ns;
			/* CANCELLED already set: abort() came first, and the
			 * runtime shut down before it could run again. */
			t->aborted = (r->state & MS_TOKIO_CANCELLED) &&
				     !(r->state & MS_TOKIO_COMPLETE);
			if (t->kind == TASK_USER && t->nf_reason != NF_NO_WAKER)
				t->nf_reason =
					t->aborted ? NF_ABORTED : NF_SHUTDOWN;
		}
		break;
	case MS_REC_TASK_FREE:
		if (t)
			task__release(m, t, r->h.ts_ns);
		break;
	}
	return 0;
}

static int on_thread(struct model *m, const struct ms_thread_rec *r)
{
	struct thread *th = thread__get(m, r->h.tid);

	if (!th)
		return -ENOMEM;
	/* tokio names its workers and blocking threads this way by default;
	 * threads that poll tasks are recognised on their first poll. */
	if (!strncmp(r->comm, "tokio-runtime", 13) ||
	    !strncmp(r->comm, "tokio-rt-", 9))
		th->runtime = true;
	return 0;
}

static const size_t rec_size[MS_REC_TYPE_MAX] = {
	[MS_REC_ALLOC] = sizeof(struct ms_alloc_rec),
	[MS_REC_FREE] = sizeof(struct ms_free_rec),
	[MS_REC_POLL_BEGIN] = sizeof(struct ms_poll_rec),
	[MS_REC_POLL_END] = sizeof(struct ms_poll_rec),
	[MS_REC_TASK_SPAWN] = sizeof(struct ms_task_rec),
	[MS_REC_TASK_COMPLETE] = sizeof(struct ms_task_rec),
	[MS_REC_TASK_CANCEL] = sizeof(struct ms_task_rec),
	[MS_REC_TASK_FREE] = sizeof(struct ms_task_rec),
	[MS_REC_TASK_SHUTDOWN] = sizeof(struct ms_task_rec),
	[MS_REC_THREAD] = sizeof(struct ms_thread_rec),
	[MS_REC_STACK] = sizeof(struct ms_stack_rec),
	[MS_REC_EXEC] = sizeof(struct ms_exec_rec),
	[MS_REC_RET_SITE] = sizeof(struct ms_ret_site_rec),
	[MS_REC_EXIT] = sizeof(struct ms_exit_rec),
	[MS_REC_FORK] = sizeof(struct ms_fork_rec),
	[MS_REC_TOKIO_CANCELLED] = sizeof(struct ms_task_rec),
	[MS_REC_TOKIO_POLL] = sizeof(struct ms_tokio_poll_rec),
	[MS_REC_PAGE] = sizeof(struct ms_page_rec),
};

int model__decode(const void *rec, size_t len)
{
	const struct ms_hdr *h = rec;

	if (len < sizeof(*h) || h->type == 0 || h->type >= MS_REC_TYPE_MAX ||
	    len < rec_size[h->type])
		return -EINVAL;
	return h->type;
}

int model__apply(struct model *m, const void *rec, size_t len)
{
	int type = model__decode(rec, len);
	const struct ms_hdr *h = rec;

	if (type < 0) {
		m->totals.bad_records++;
		return type;
	}
	m->totals.records++;
	if (h->ts_ns > m->last_ns)
		m->last_ns = h->ts_ns;
	switch (type) {
	case MS_REC_ALLOC:
		return on_alloc(m, rec);
	case MS_REC_FREE:
		return on_free(m, rec);
	case MS_REC_POLL_BEGIN:
		return on_poll_begin(m, rec);
	case MS_REC_POLL_END:
		return on_poll_end(m, rec);
	case MS_REC_THREAD:
		return on_thread(m, rec);
	case MS_REC_STACK:
		return 0; /* the collector symbolizes them (I/O) */
	case MS_REC_EXEC:
		return 0; /* memscoped --all decides what to watch */
	case MS_REC_RET_SITE:
		return 0; /* the collector probes it */
	case MS_REC_EXIT:
	case MS_REC_FORK:
		return 0; /* memscoped's business: the process, not the model */
	case MS_REC_TOKIO_POLL:
		return tokio__apply_poll(m, rec);
	case MS_REC_TOKIO_CANCELLED:
		return tokio__output_cancelled(m, rec);
	case MS_REC_PAGE:
		return pages__apply(m, rec);
	default:
		return on_task(m, rec);
	}
}

/*
 * Three passes so that each one's loads were requested by the previous:
 * slots of the live table and task map; then the owners those entries
 * name; then the updates themselves.
 */
void model__apply_batch(struct model *m, const void *const *recs,
			const size_t *lens, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ms_alloc_rec *a = recs[i];

		if (model__decode(recs[i], lens[i]) < 0)
			continue;
		if (a->h.type == MS_REC_ALLOC) {
			allocs__prefetch(m->allocs, a->addr);
			if (a->old_addr)
				allocs__prefetch(m->allocs, a->old_addr);
			if (a->task)
				idmap__prefetch(m->task_keys, a->task);
		} else if (a->h.type == MS_REC_FREE) {
			allocs__prefetch(m->allocs,
					 ((const struct ms_free_rec *)a)->addr);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct ms_alloc_rec *a = recs[i];
		const struct alloc_entry *e;
		uint32_t idx;

		if (model__decode(recs[i], lens[i]) < 0)
			continue;
		if (a->h.type == MS_REC_ALLOC) {
			if (a->task && !idmap__get(m->task_keys, a->task, &idx))
				__builtin_prefetch(&m->tasks[idx].mem, 1, 1);
		} else if (a->h.type == MS_REC_FREE) {
			e = allocs__find(m->allocs,
					 ((const struct ms_free_rec *)a)->addr);
			if (e && e->owner >= OWNER_TASK0 &&
			    e->owner - OWNER_TASK0 < m->ntasks)
				__builtin_prefetch(
					&m->tasks[e->owner - OWNER_TASK0].mem,
					1, 1);
		}
	}
	for (size_t i = 0; i < n; i++)
		model__apply(m, recs[i], lens[i]);
}

static int exec_release(const struct alloc_entry *e, void *ctx)
{
	struct model *m = ctx;

	m->totals.exec_released_count++;
	m->totals.exec_released_bytes += e->size;
	live_del(m, e);
	return 0;
}

void model__exec(struct model *m, uint64_t ts_ns)
{
	pages__exec(m);
	allocs__foreach(m->allocs, exec_release, m);
	allocs__clear(m->allocs);
	for (size_t i = 0; i < m->nblocks; i++)
		m->blocks[i].site = UINT32_MAX;
	idmap__clear(m->sampled);
	m->nblocks = 0;
	m->free_block = UINT32_MAX;
	for (size_t i = 0; i < m->ntasks; i++) {
		struct ms_task *t = &m->tasks[i];

		if (t->freed)
			continue;
		t->in_poll = false;
		if (t->state != TASK_COMPLETED && t->state != TASK_CANCELLED)
			t->shutdown = true;
		task__release(m, t, ts_ns);
	}
	idmap__clear(m->pending_spawn);
	idmap__clear(m->pending_cancel);
	idmap__clear(m->vt_layouts);
	m->nlayouts = 0;
	idmap__clear(m->bad_vtables);
	idmap__clear(m->freed_keys);
	/* Only the thread that called exec lives on, in a new program. */
	for (size_t i = 0; i < m->nthreads; i++) {
		m->threads[i].depth = 0;
		m->threads[i].polled = false;
		m->threads[i].runtime = false;
		m->threads[i].freed_key = 0;
	}
}

void model__tick(struct model *m, uint64_t now_ns)
{
	uint64_t now = model__rel_ns(m, now_ns);

	for (size_t i = 0; i < m->ntasks; i++) {
		struct ms_task *t = &m->tasks[i];

		if (t->kind != TASK_USER || t->nf_reason != NF_NONE ||
		    t->state == TASK_COMPLETED || t->state == TASK_CANCELLED)
			continue;
		if (now >= t->spawned_ns + m->opts.never_finished_ns)
			t->nf_reason = NF_PENDING;
	}
}

void model__sample(struct model *m, uint64_t now_ns)
{
	struct ms_sample *s;

	if (!m->samples) {
		m->samples = calloc(MS_SAMPLES_MAX, sizeof(*m->samples));
		if (!m->samples)
			return;
	}
	s = &m->samples[(m->sample_head + m->nsamples) % MS_SAMPLES_MAX];
	if (m->nsamples == MS_SAMPLES_MAX)
		m->sample_head = (m->sample_head + 1) % MS_SAMPLES_MAX;
	else
		m->nsamples++;
	memset(s, 0, sizeof(*s));
	s->t_ns = model__rel_ns(m, now_ns);
	s->live_bytes = m->totals.live_bytes;
	s->live_count = m->totals.live_count;
	s->events = m->totals.records - m->sampled_records;
	m->sampled_records = m->totals.records;
	for (size_t i = 0; i < m->ntasks; i++) {
		const struct ms_task *t = &m->tasks[i];
		uint32_t j;

		if (t->kind == TASK_USER && t->state != TASK_COMPLETED &&
		    t->state != TASK_CANCELLED)
			s->tasks_alive++;
		if (!t->mem.live_bytes)
			continue;
		/* Insertion into the small sorted top list. */
		if (s->ntop == MS_SAMPLE_TOP &&
		    t->mem.live_bytes <= s->top[MS_SAMPLE_TOP - 1].live_bytes)
			continue;
		j = s->ntop < MS_SAMPLE_TOP ? s->ntop++ : MS_SAMPLE_TOP - 1;
		while (j > 0 && s->top[j - 1].live_bytes < t->mem.live_bytes) {
			s->top[j] = s->top[j - 1];
			j--;
		}
		s->top[j].id = t->id;
		s->top[j].live_bytes = t->mem.live_bytes;
	}
}

size_t model__sample_count(const struct model *m)
{
	return m->nsamples;
}

const struct ms_sample *model__sample_at(const struct model *m, size_t i)
{
	if (i >= m->nsamples)
		return NULL;
	return &m->samples[(m->sample_head + i) % MS_SAMPLES_MAX];
}

void model__set_kernel_stats(struct model *m, const uint64_t *st, size_t n)
{
	if (n > MS_STAT_LOST)
		m->totals.lost_events = st[MS_STAT_LOST];
	if (n > MS_STAT_NO_STATE)
		m->totals.kernel_no_state = st[MS_STAT_NO_STATE];
	if (n > MS_STAT_READ_FAILED)
		m->totals.read_failed = st[MS_STAT_READ_FAILED];
	if (n > MS_STAT_DEPTH_OVERFLOW)
		m->totals.depth_overflow = st[MS_STAT_DEPTH_OVERFLOW];
	if (n > MS_STAT_STACK_LOST)
		m->totals.stack_lost = st[MS_STAT_STACK_LOST];
	if (n > MS_STAT_UNMATCHED)
		m->totals.unmatched = st[MS_STAT_UNMATCHED];
	if (n > MS_STAT_PAGE_GUESSED)
		m->page_totals.guessed = st[MS_STAT_PAGE_GUESSED];
}

const struct ms_totals *model__totals(const struct model *m)
{
	return &m->totals;
}

const struct ms_mem *model__runtime_mem(const struct model *m)
{
	return &m->runtime_mem;
}

const struct ms_mem *model__thread_mem(const struct model *m)
{
	return &m->thread_mem;
}

void model__size_classes(const struct model *m, uint64_t count[MS_SIZE_CLASSES],
			 uint64_t bytes[MS_SIZE_CLASSES])
{
	memcpy(count, m->class_count, sizeof(m->class_count));
	memcpy(bytes, m->class_bytes, sizeof(m->class_bytes));
}

void model__async(const struct model *m, struct ms_async *a)
{
	uint64_t sized = m->dropped_sized;

	/* Tasks let go of still count, from their aggregate. */
	*a = m->dropped;
	for (size_t i = 0; i < m->ntasks; i++)
		async_add(a, &sized, &m->tasks[i]);
	a->average_future_size = sized ? a->future_state_overhead / sized : 0;
	a->runtime_overhead_bytes = m->runtime_mem.alloc_bytes;
}

enum ms_runtime model__runtime(const struct model *m)
{
	return m->runtime;
}

size_t model__task_count(const struct model *m)
{
	return m->ntasks;
}

const struct ms_task *model__task(const struct model *m, size_t idx)
{
	return idx < m->ntasks ? &m->tasks[idx] : NULL;
}

uint64_t model__start_ns(const struct model *m)
{
	return m->opts.start_ns;
}

uint64_t model__last_ns(const struct model *m)
{
	return m->last_ns;
}

size_t model__alloc_table_bytes(const struct model *m)
{
	return allocs__mem_bytes(m->allocs);
}

size_t model__mem_bytes(const struct model *m)
{
	return sizeof(*m) + allocs__mem_bytes(m->allocs) +
	       m->cap_layouts * sizeof(*m->layouts) +
	       idmap__mem_bytes(m->vt_layouts) +
	       idmap__mem_bytes(m->task_keys) + idmap__mem_bytes(m->tids) +
	       m->cap_tasks * sizeof(struct ms_task) +
	       m->cap_threads * sizeof(struct thread) +
	       (m->samples ? MS_SAMPLES_MAX * sizeof(struct ms_sample) : 0);
}

bool model__incomplete(const struct model *m)
{
	const struct ms_totals *t = &m->totals;

	/* Page sizes guessed (page_level.size_guessed) are not here: the
	 * guess, a base page, is what the kernel maps unless the region
	 * asked for huge pages. */
	return t->lost_events || t->kernel_no_state || t->stale_allocs ||
	       t->bad_records || t->stack_lost || t->depth_overflow ||
	       t->unmatched;
}
