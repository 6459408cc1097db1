// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/allocs.h"
#include "model/idmap.h"
#include "model/model.h"

/* Owner indexes in live-allocation entries. */
#define OWNER_THREADS 0 /* outside any task, on a plain thread */
#define OWNER_RUNTIME 1 /* outside any task, on a runtime thread */
#define OWNER_TASK0 2 /* task i is owner i + OWNER_TASK0 */

#define POLL_STACK 4

struct sampled_block {
	double weight; /* bytes this sample stands for */
	double count; /* allocations it stands for */
	uint32_t site;
	uint32_t task; /* owning task index, or UINT32_MAX */
};

struct thread {
	uint32_t tid;
	bool runtime; /* a runtime worker: its own allocations are overhead */
	bool polled;
	uint32_t depth;
	uint32_t task[POLL_STACK];
	uint64_t begin_ns[POLL_STACK];
	uint64_t freed_key; /* the last tokio task that freed itself here */
};

/* A checked tokio task type (model__tokio_layout). */
struct vt_layout {
	uint64_t future_size;
	bool may_be_boxed;
};

/* What a tokio poll's entry read of its task. */
struct tokio_seen {
	uint64_t vtable, owner_id, task_id, future_word;
	uint32_t flags;
};

struct model {
	struct model_opts opts;
	struct allocs *allocs;
	struct idmap *task_keys; /* live task key -> index */
	struct idmap *tids; /* tid -> thread index */
	struct idmap *bad_vtables;
	struct idmap *vt_layouts; /* vtable -> index in layouts */
	struct idmap *freed_keys; /* key -> index of the last task freed there */
	struct vt_layout *layouts;
	size_t nlayouts, cap_layouts;
	struct ms_task *tasks;
	size_t ntasks, cap_tasks;
	struct thread *threads;
	size_t nthreads, cap_threads;
	struct ms_totals totals;
	struct ms_mem runtime_mem, thread_mem;
	uint64_t class_count[MS_SIZE_CLASSES], class_bytes[MS_SIZE_CLASSES];
	uint64_t next_own_id; /* ids for tasks whose tokio Id is unknown */
	uint64_t last_ns;
	enum ms_runtime runtime;
	struct ms_site *sites;
	size_t nsites, cap_sites;
	struct idmap *site_keys; /* hash of a site's pcs -> index */
	struct idmap *pending_spawn; /* tokio cell address -> site */
	struct idmap *sampled; /* live sampled block -> sample index */
	struct sampled_block *blocks;
	size_t nblocks, cap_blocks;
	uint32_t free_block; /* free list through sampled_block.site */
	/* Ended tasks, oldest first: candidates for recycling. */
	uint32_t *ended;
	size_t ended_head, ended_len, ended_cap;
	struct ms_async dropped; /* what recycled tasks contributed */
	uint64_t dropped_sized; /* of those, tasks with a known size */
	struct ms_sample *samples; /* ring of MS_SAMPLES_MAX */
	size_t nsamples, sample_head;
	uint64_t sampled_records;
};

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
	static const char *const n[] = { NULL, "aborted", "pending",
					 "no-waker", "shutdown" };

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
	m->sampled = idmap__new();
	m->next_own_id = 1;
	if (!m->opts.max_ended_tasks)
		m->opts.max_ended_tasks = 100000;
	m->free_block = UINT32_MAX;
	m->last_ns = opts->start_ns;
	if (!m->allocs || !m->task_keys || !m->tids || !m->bad_vtables ||
	    !m->vt_layouts || !m->freed_keys ||
	    !m->site_keys || !m->pending_spawn || !m->sampled) {
		model__free(m);
		return NULL;
	}
	return m;
}

void model__free(struct model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsites; i++) {
		struct ms_frame *f = (struct ms_frame *)m->sites[i].frames;

		for (uint32_t j = 0; j < m->sites[i].nframes; j++) {
			free((char *)f[j].function);
			free((char *)f[j].file);
			free((char *)f[j].module);
			free((char *)f[j].path);
			free((char *)f[j].build_id);
		}
		free(f);
	}
	free(m->sites);
	free(m->blocks);
	idmap__free(m->sampled);
	idmap__free(m->pending_spawn);
	idmap__free(m->site_keys);
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
	free(m);
}

static uint64_t rel_ns(const struct model *m, uint64_t ts)
{
	return ts > m->opts.start_ns ? ts - m->opts.start_ns : 0;
}

static unsigned size_class(uint64_t size)
{
	unsigned c = size ? 64 - __builtin_clzll(size) : 0;

	return c < MS_SIZE_CLASSES ? c : MS_SIZE_CLASSES - 1;
}

static struct ms_mem *owner_mem(struct model *m, uint32_t owner)
{
	if (owner == OWNER_THREADS)
		return &m->thread_mem;
	if (owner == OWNER_RUNTIME)
		return &m->runtime_mem;
	if (owner - OWNER_TASK0 < m->ntasks)
		return &m->tasks[owner - OWNER_TASK0].mem;
	return &m->thread_mem;
}

/* Make room for one more element in a doubling array. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t c;
	void *p;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : first;
	p = realloc(*arr, c * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = c;
	return 0;
}

static struct thread *thread_get(struct model *m, uint32_t tid)
{
	struct thread *t;
	uint32_t idx;

	if (!idmap__get(m->tids, tid, &idx))
		return &m->threads[idx];
	if (grow((void **)&m->threads, &m->cap_threads, m->nthreads,
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
		if (t->mem.live_count || t->in_poll) {
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

static struct ms_task *task_new(struct model *m, uint64_t key, uint8_t rt,
				uint32_t *idx_out)
{
	struct ms_task *t;

	uint32_t idx = recycle(m);

	if (idx == UINT32_MAX &&
	    grow((void **)&m->tasks, &m->cap_tasks, m->ntasks,
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

static struct ms_task *task_by_key(struct model *m, uint64_t key,
				   uint32_t *idx)
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

	if (key && task_by_key(m, key, &idx))
		return idx + OWNER_TASK0;
	return th && th->runtime ? OWNER_RUNTIME : OWNER_THREADS;
}

static void mem_alloc(struct ms_mem *mm, uint64_t size)
{
	mm->alloc_count++;
	mm->alloc_bytes += size;
	mm->live_count++;
	mm->live_bytes += size;
	if (mm->live_bytes > mm->peak_live_bytes)
		mm->peak_live_bytes = mm->live_bytes;
}

static void mem_release(struct ms_mem *mm, uint64_t size)
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
	mem_release(owner_mem(m, e->owner), e->size);
}

static void task_finish(struct model *m, struct ms_task *t, bool cancelled,
			uint64_t ts)
{
	if (t->state == TASK_COMPLETED || t->state == TASK_CANCELLED)
		return;
	t->state = cancelled ? TASK_CANCELLED : TASK_COMPLETED;
	t->ended_ns = rel_ns(m, ts);
	ended_push(m, (uint32_t)(t - m->tasks));
	/* A task nothing could wake stays "no-waker" when it is finally
	 * cancelled (at shutdown, by its runtime): that is the finding. */
	if (cancelled && t->nf_reason != NF_NO_WAKER)
		t->nf_reason = t->shutdown && !t->aborted ? NF_SHUTDOWN :
							    NF_ABORTED;
	else if (!cancelled)
		t->nf_reason = NF_NONE; /* it finished after all */
	if (t->kind == TASK_RUNTIME)
		t->nf_reason = NF_NONE;
}

/* The task's memory is gone; its key may be reused by a new task. */
static void task_release(struct model *m, struct ms_task *t, uint64_t ts)
{
	if (t->freed)
		return;
	if (t->state != TASK_COMPLETED && t->state != TASK_CANCELLED)
		task_finish(m, t, t->shutdown, ts);
	t->freed = true;
	idmap__del(m->task_keys, t->key);
	/* A poll record may still come for it: its end is seen late. */
	idmap__put(m->freed_keys, t->key, (uint32_t)(t - m->tasks));
}

/* Apply a tokio Header.state word read at poll end or at the task's free. */
static void tokio_state(struct model *m, struct ms_task *t, uint64_t st,
			uint64_t ts)
{
	uint64_t refs = st >> MS_TOKIO_REF_SHIFT;

	if (model__vtable_rejected(m, t->vtable))
		return;
	if (st & MS_TOKIO_COMPLETE) {
		/* tokio sets CANCELLED on a running task at shutdown or on
		 * abort, and the poll may still complete it normally: it
		 * was cancelled only if CANCELLED was set when the poll
		 * began (then the poll is the cancellation) or the runtime
		 * shut it down while idle. */
		task_finish(m, t,
			    (st & MS_TOKIO_CANCELLED) &&
				    ((t->begin_state & MS_TOKIO_CANCELLED) ||
				     t->shutdown),
			    ts);
		return;
	}
	if (st & (MS_TOKIO_RUNNING | MS_TOKIO_NOTIFIED))
		return;
	/* Idle: references left are the owner list's, the JoinHandle's and
	 * those of wakers. None of the latter: nothing can ever wake it. */
	if (t->kind == TASK_USER && refs >= 1 &&
	    refs <= 1 + !!(st & MS_TOKIO_JOIN_INTEREST))
		t->nf_reason = NF_NO_WAKER;
}

/* A sampled block is freed: what it stood for is no longer live. */
static void release_sample(struct model *m, uint64_t addr)
{
	struct sampled_block *b;
	uint32_t idx;

	if (idmap__get(m->sampled, addr, &idx))
		return;
	idmap__del(m->sampled, addr);
	b = &m->blocks[idx];
	if (b->site < m->nsites) {
		m->sites[b->site].live_bytes -= b->weight;
		m->sites[b->site].live_count -= b->count;
	}
	if (b->task < m->ntasks) {
		struct ms_task *t = &m->tasks[b->task];

		for (uint32_t i = 0; i < t->nalloc_sites; i++)
			if (t->alloc_sites[i].site == b->site)
				t->alloc_sites[i].live_bytes -= b->weight;
	}
	b->site = m->free_block;
	m->free_block = idx;
}

/* First sight of a tokio task: its Cell is the allocation at its Header
 * address, which tells spawn time, size and the spawning task. Who it is
 * (vtable, owner, id) comes with its poll record: tokio_identify(). */
static struct ms_task *tokio_discover(struct model *m, uint64_t key,
				      uint64_t ts_ns, uint32_t *idx_out)
{
	const struct alloc_entry *cell = allocs__find(m->allocs, key);
	struct ms_task *t;
	uint32_t idx;

	t = task_new(m, key, MS_RT_TOKIO, &idx);
	if (!t)
		return NULL;
	*idx_out = idx;
	t->kind = TASK_USER;
	if (!idmap__get(m->pending_spawn, key, &t->spawn_site))
		idmap__del(m->pending_spawn, key);
	else
		t->spawn_site = MS_NO_SITE;
	if (cell) {
		t->spawn_known = true;
		t->spawned_ns = (uint64_t)cell->t_ms * 1000000;
		t->cell_size = cell->size;
		if (cell->owner >= OWNER_TASK0 &&
		    cell->owner - OWNER_TASK0 != idx) {
			t->parent = cell->owner - OWNER_TASK0;
			t->parent_id = m->tasks[t->parent].id;
		}
	} else {
		t->spawned_ns = rel_ns(m, ts_ns);
	}
	return t;
}

static const struct vt_layout *layout_of(const struct model *m,
					 uint64_t vtable)
{
	uint32_t i;

	if (!vtable || idmap__get(m->vt_layouts, vtable, &i) ||
	    i >= m->nlayouts)
		return NULL;
	return &m->layouts[i];
}

/* A block changes owner: its figures go along (as if the new owner had
 * allocated it; the old owner's peak stays what it was). */
static void move_owner(struct model *m, struct alloc_entry *b, uint32_t to)
{
	struct ms_mem *from = owner_mem(m, b->owner);

	from->alloc_count--;
	from->alloc_bytes -= b->size;
	mem_release(from, b->size);
	b->owner = to;
	mem_alloc(owner_mem(m, to), b->size);
}

/*
 * tokio 1.41+ moved a large future into a Box at spawn, and the Cell
 * holds its pointer: the word read at poll entry is a block over the
 * threshold that the spawner allocated before the Cell. That block is the
 * future: its size is the future's, and it belongs to the task.
 */
static void tokio_boxed(struct model *m, struct ms_task *t, uint32_t idx,
			uint64_t word)
{
	struct alloc_entry *b = word ? allocs__find(m->allocs, word) : NULL;
	const struct alloc_entry *cell = allocs__find(m->allocs, t->key);

	if (!b || b->size <= MS_TOKIO_BOX_THRESHOLD || word == t->key)
		return;
	if (cell && (b->owner != cell->owner || b->t_ms > cell->t_ms))
		return;
	t->future_size = b->size;
	if (b->owner != idx + OWNER_TASK0)
		move_owner(m, b, idx + OWNER_TASK0);
}

static void tokio_identify(struct model *m, struct ms_task *t,
			   const struct tokio_seen *s)
{
	bool bad = (s->flags & MS_POLL_F_READ_FAILED) ||
		   model__vtable_rejected(m, s->vtable);
	const struct vt_layout *lay = bad ? NULL : layout_of(m, s->vtable);

	if (t->identified)
		return;
	t->identified = true;
	t->vtable = s->vtable;
	t->owner_id = s->owner_id;
	/* Blocking-pool tasks (worker launch, spawn_blocking) are never bound
	 * to an owner list: the runtime's own machinery. */
	t->kind = (!bad && s->owner_id == 0) ? TASK_RUNTIME : TASK_USER;
	if (t->id == 0)
		t->id = s->task_id && !bad ? s->task_id :
					     (1ull << 63) | m->next_own_id++;
	if (!lay)
		return;
	t->future_size = lay->future_size;
	if (lay->may_be_boxed)
		tokio_boxed(m, t, (uint32_t)(t - m->tasks), s->future_word);
}

void model__tokio_layout(struct model *m, uint64_t vtable,
			 uint64_t future_size, bool may_be_boxed)
{
	struct vt_layout *l;

	if (!vtable || layout_of(m, vtable) ||
	    grow((void **)&m->layouts, &m->cap_layouts, m->nlayouts,
		 sizeof(*m->layouts), 64))
		return;
	l = &m->layouts[m->nlayouts];
	l->future_size = future_size;
	l->may_be_boxed = may_be_boxed;
	if (!idmap__put(m->vt_layouts, vtable, (uint32_t)m->nlayouts))
		m->nlayouts++;
}

/* A thread that polls tasks is a runtime thread: what it allocates
 * outside them is the runtime's overhead. */
static void thread_polls(struct model *m, struct thread *th)
{
	th->polled = true;
	if (th->tid != m->opts.pid)
		th->runtime = true;
}

/* key is in a poll on th since begin_ns (tokio: its record comes at the
 * poll's end): find or create the task, and it runs. */
static struct ms_task *tokio_in_poll(struct model *m, struct thread *th,
				     uint64_t key, uint64_t begin_ns,
				     uint32_t *idx)
{
	struct ms_task *t = task_by_key(m, key, idx);

	if (!t)
		t = tokio_discover(m, key, begin_ns, idx);
	if (!t || t->runtime != MS_RT_TOKIO)
		return NULL;
	if (th)
		thread_polls(m, th);
	if (t->state != TASK_COMPLETED && t->state != TASK_CANCELLED) {
		t->state = TASK_RUNNING;
		t->in_poll = true;
		t->last_poll_ns = rel_ns(m, begin_ns);
	}
	return t;
}

static int on_alloc(struct model *m, const struct ms_alloc_rec *r)
{
	struct thread *th = thread_get(m, r->h.tid);
	struct alloc_entry e, old;
	uint32_t owner;

	if (r->old_addr) {
		release_sample(m, r->old_addr);
		if (!allocs__remove(m->allocs, r->old_addr, &old)) {
			live_del(m, &old);
			m->totals.free_count++;
			m->totals.free_bytes += old.size;
			owner_mem(m, old.owner)->free_count++;
			owner_mem(m, old.owner)->free_bytes += old.size;
		} else {
			m->totals.untracked_frees++;
		}
	}
	if (!r->addr)
		return 0; /* realloc(p, 0) */
	owner = current_owner(m, th, r->task);
	/* Not a task that already freed itself in this poll; a cell at that
	 * address again is a new task. */
	if (owner < OWNER_TASK0 && r->task && m->runtime != MS_RT_USDT &&
	    (allocs__find(m->allocs, r->task) ||
	     !th || r->task != th->freed_key)) {
		/* In a tokio task's first poll: its record comes at the
		 * poll's end, its allocations first. */
		uint32_t idx;

		if (tokio_in_poll(m, th, r->task, r->h.ts_ns, &idx))
			owner = idx + OWNER_TASK0;
	}
	e.addr = r->addr;
	e.size = r->size;
	e.owner = owner;
	e.t_ms = (uint32_t)(rel_ns(m, r->h.ts_ns) / 1000000);
	if (allocs__insert(m->allocs, &e, &old) == -EEXIST) {
		/* A free we never saw (lost record): drop the stale block. */
		m->totals.stale_allocs++;
		live_del(m, &old);
	}
	m->totals.alloc_count++;
	m->totals.alloc_bytes += r->size;
	live_add(m, &e);
	mem_alloc(owner_mem(m, owner), r->size);
	return 0;
}

static int on_free(struct model *m, const struct ms_free_rec *r)
{
	struct alloc_entry old;
	struct ms_task *t;

	/* A tokio task's Cell is freed: the task has ended. If it freed
	 * itself during its own poll, BPF read its last state first. */
	t = task_by_key(m, r->addr, NULL);
	if (r->task == r->addr) {
		struct thread *th = thread_get(m, r->h.tid);

		if (th)
			th->freed_key = r->addr;
	}
	if (t && t->runtime == MS_RT_TOKIO) {
		if (r->task == r->addr && r->task_state)
			tokio_state(m, t, r->task_state, r->h.ts_ns);
		task_release(m, t, r->h.ts_ns);
	}
	release_sample(m, r->addr);
	idmap__del(m->pending_spawn, r->addr);
	if (allocs__remove(m->allocs, r->addr, &old)) {
		m->totals.untracked_frees++;
		return 0;
	}
	live_del(m, &old);
	m->totals.free_count++;
	m->totals.free_bytes += old.size;
	owner_mem(m, old.owner)->free_count++;
	owner_mem(m, old.owner)->free_bytes += old.size;
	return 0;
}

static int on_poll_begin(struct model *m, const struct ms_poll_rec *r)
{
	struct thread *th = thread_get(m, r->h.tid);
	struct ms_task *t;
	uint32_t idx;

	if (!th)
		return -ENOMEM;
	t = task_by_key(m, r->task, &idx);
	if (!t && r->h.aux == MS_RT_TOKIO) {
		t = tokio_discover(m, r->task, r->h.ts_ns, &idx);
	} else if (!t) {
		/* A USDT task alive before attach. */
		t = task_new(m, r->task, MS_RT_USDT, &idx);
		if (t) {
			t->id = r->task;
			t->spawned_ns = rel_ns(m, r->h.ts_ns);
		}
	}
	if (!t)
		return -ENOMEM;
	if (t->runtime == MS_RT_TOKIO)
		tokio_identify(m, t, &(struct tokio_seen){
					     .vtable = r->vtable,
					     .owner_id = r->owner_id,
					     .task_id = r->task_id,
					     .flags = r->flags,
				     });
	thread_polls(m, th);
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
	t->last_poll_ns = rel_ns(m, r->h.ts_ns);
	return 0;
}

/* A tokio poll returned with the task's state word st (unless the read
 * failed): how the task stands now. */
static void tokio_poll_ended(struct model *m, struct ms_task *t, uint64_t st,
			     bool read_failed, uint64_t ts)
{
	uint64_t refs = st >> MS_TOKIO_REF_SHIFT;

	if (!read_failed && refs < (1ull << 24) &&
	    (refs || (st & MS_TOKIO_COMPLETE))) {
		tokio_state(m, t, st, ts);
	} else if (!model__vtable_rejected(m, t->vtable)) {
		/* The poll freed the task and no free record said so
		 * (--tasks-only, or a free on another thread raced the
		 * read): its memory no longer holds a state. A task is
		 * freed in its poll only once it ended. */
		task_finish(m, t,
			    (t->begin_state & MS_TOKIO_CANCELLED) ||
				    t->shutdown,
			    ts);
		task_release(m, t, ts);
	}
}

/* Sent by the USDT markers only: a tokio poll's end is its
 * MS_REC_TOKIO_POLL. */
static int on_poll_end(struct model *m, const struct ms_poll_rec *r)
{
	struct thread *th = thread_get(m, r->h.tid);
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
				t->busy_ns += r->h.ts_ns - th->begin_ns[th->depth];
		}
	}
	if (!t)
		t = task_by_key(m, r->task, &idx);
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

/*
 * A whole tokio poll, reported at its end (or just before the task freed
 * its own cell in it). Allocations made during the poll came first and
 * may have created the task already; a runtime task's poll also had a
 * POLL_BEGIN at entry.
 */
/* Could the poll of r be one of task t's? Not if t is a later task at
 * the same address: another tokio id, or spawned after the poll began. */
static bool poll_of(const struct model *m, const struct ms_task *t,
		    const struct ms_tokio_poll_rec *r)
{
	if (t->identified && r->task_id && t->id != r->task_id &&
	    !(t->id >> 63))
		return false;
	return !t->spawn_known ||
	       t->spawned_ns <= rel_ns(m, r->begin_ns) + 1000000;
}

/*
 * A poll's record came after its task was freed (another thread freed it
 * between the poll's return and the moment its end was seen): the freed
 * task gets the poll and its time, the state word (read from freed
 * memory) is ignored. NULL if the record is for a task not seen freed.
 */
static struct ms_task *late_poll_task(struct model *m,
				      const struct ms_tokio_poll_rec *r)
{
	struct ms_task *t;
	uint32_t idx;

	if (idmap__get(m->freed_keys, r->task, &idx) || idx >= m->ntasks)
		return NULL;
	t = &m->tasks[idx];
	if (t->key != r->task || !t->freed || !poll_of(m, t, r))
		return NULL;
	return t;
}

static int on_tokio_poll(struct model *m, const struct ms_tokio_poll_rec *r)
{
	struct thread *th = thread_get(m, r->h.tid);
	struct ms_task *t = NULL;
	uint32_t idx;

	if (!th)
		return -ENOMEM;
	if ((r->flags & MS_POLL_F_BEGUN) && th->depth) {
		th->depth--;
		if (th->depth < POLL_STACK) {
			idx = th->task[th->depth];
			if (idx < m->ntasks && m->tasks[idx].key == r->task)
				t = &m->tasks[idx];
		}
		if (t)
			t->polls--; /* counted at its POLL_BEGIN */
	}
	if (!t) {
		t = task_by_key(m, r->task, &idx);
		if (t && !poll_of(m, t, r))
			t = NULL;
	}
	if (!t && (t = late_poll_task(m, r))) {
		t->polls++;
		if (r->h.ts_ns > r->begin_ns)
			t->busy_ns += r->h.ts_ns - r->begin_ns;
		return 0;
	}
	if (!t && task_by_key(m, r->task, NULL))
		return 0; /* a poll of a task let go of, now at a reused key */
	if (!t) {
		t = tokio_discover(m, r->task, r->begin_ns, &idx);
		if (!t)
			return -ENOMEM;
	}
	tokio_identify(m, t, &(struct tokio_seen){
				     .vtable = r->vtable,
				     .owner_id = r->owner_id,
				     .task_id = r->task_id,
				     .future_word = r->future_word,
				     .flags = r->flags,
			     });
	thread_polls(m, th);
	t->in_poll = false;
	/* Shut down while in this poll (its record came first, from another
	 * thread): tokio left it alone, its poll decides how it ends. */
	if (t->shutdown && t->shutdown_ns >= r->begin_ns &&
	    t->shutdown_ns <= r->h.ts_ns && !t->freed) {
		t->shutdown = false;
		if (t->nf_reason == NF_SHUTDOWN)
			t->nf_reason = NF_NONE;
	}
	t->polls++;
	t->last_poll_ns = rel_ns(m, r->begin_ns);
	if (r->h.ts_ns > r->begin_ns)
		t->busy_ns += r->h.ts_ns - r->begin_ns;
	if (t->freed)
		return 0;
	if (!(r->flags & MS_POLL_F_READ_FAILED))
		t->begin_state = r->begin_state;
	if (t->state == TASK_RUNNING)
		t->state = TASK_PENDING;
	tokio_poll_ended(m, t, r->state,
			 r->flags & MS_POLL_F_END_READ_FAILED, r->h.ts_ns);
	return 0;
}

void model__poll_running(struct model *m, uint32_t tid,
			 const struct ms_poll_entry *e)
{
	struct ms_task *t;
	uint32_t idx;

	if (!e->task)
		return;
	t = tokio_in_poll(m, thread_get(m, tid), e->task, e->begin_ns, &idx);
	if (t)
		tokio_identify(m, t, &(struct tokio_seen){
					     .vtable = e->vtable,
					     .owner_id = e->owner_id,
					     .task_id = e->task_id,
					     .future_word = e->future_word,
					     .flags = e->flags,
				     });
}

static int on_task(struct model *m, const struct ms_task_rec *r)
{
	struct ms_task *t;
	uint32_t idx, pidx;

	t = task_by_key(m, r->task, &idx);
	switch (r->h.type) {
	case MS_REC_TASK_SPAWN:
		if (t) /* id reused without a free marker */
			task_release(m, t, r->h.ts_ns);
		t = task_new(m, r->task, r->h.aux, &idx);
		if (!t)
			return -ENOMEM;
		t->id = r->task;
		t->spawn_known = true;
		t->spawned_ns = rel_ns(m, r->h.ts_ns);
		t->future_size = r->size;
		if (r->parent && task_by_key(m, r->parent, &pidx)) {
			t->parent = pidx;
			t->parent_id = m->tasks[pidx].id;
		}
		break;
	case MS_REC_TASK_COMPLETE:
		if (t)
			task_finish(m, t, false, r->h.ts_ns);
		break;
	case MS_REC_TASK_CANCEL:
		if (t)
			task_finish(m, t, true, r->h.ts_ns);
		break;
	case MS_REC_TASK_SHUTDOWN:
		/* A task in a poll is left alone by tokio's shutdown (it only
		 * marks it CANCELLED): its poll decides how it ends. */
		if (t && !t->in_poll && t->state != TASK_COMPLETED &&
		    t->state != TASK_CANCELLED) {
			t->shutdown = true;
			t->shutdown_ns = r->h.ts_ns;
			/* CANCELLED already set: abort() came first, and the
			 * runtime shut down before it could run again. */
			t->aborted = (r->state & MS_TOKIO_CANCELLED) &&
				     !(r->state & MS_TOKIO_COMPLETE);
			if (t->kind == TASK_USER && t->nf_reason != NF_NO_WAKER)
				t->nf_reason = t->aborted ? NF_ABORTED :
							    NF_SHUTDOWN;
		}
		break;
	case MS_REC_TASK_FREE:
		if (t)
			task_release(m, t, r->h.ts_ns);
		break;
	}
	return 0;
}

static int on_thread(struct model *m, const struct ms_thread_rec *r)
{
	struct thread *th = thread_get(m, r->h.tid);

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
	[MS_REC_TOKIO_POLL] = sizeof(struct ms_tokio_poll_rec),
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
		return on_tokio_poll(m, rec);
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
		task_release(m, t, ts_ns);
	}
	idmap__clear(m->pending_spawn);
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
	uint64_t now = rel_ns(m, now_ns);

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
	s->t_ns = rel_ns(m, now_ns);
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

static uint64_t site_hash(const struct ms_frame *f, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint32_t i = 0; i < n; i++) {
		h ^= f[i].pc;
		h *= 0x100000001b3ull;
	}
	return h | 1; /* idmap keys are never 0 */
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

uint32_t model__site_intern(struct model *m, const struct ms_frame *frames,
			    uint32_t nframes)
{
	uint64_t h = site_hash(frames, nframes);
	struct ms_frame *copy;
	struct ms_site *s;
	uint32_t idx;

	if (!nframes)
		return MS_NO_SITE;
	if (!idmap__get(m->site_keys, h, &idx))
		return idx;
	if (grow((void **)&m->sites, &m->cap_sites, m->nsites,
		 sizeof(*m->sites), 64))
		return MS_NO_SITE;
	copy = calloc(nframes, sizeof(*copy));
	if (!copy)
		return MS_NO_SITE;
	for (uint32_t i = 0; i < nframes; i++) {
		copy[i].pc = frames[i].pc;
		copy[i].line = frames[i].line;
		copy[i].function = dup_or_null(frames[i].function);
		copy[i].file = dup_or_null(frames[i].file);
		copy[i].module = dup_or_null(frames[i].module);
		copy[i].path = dup_or_null(frames[i].path);
		copy[i].build_id = dup_or_null(frames[i].build_id);
		copy[i].addr = frames[i].addr;
	}
	idx = (uint32_t)m->nsites;
	if (idmap__put(m->site_keys, h, idx)) {
		for (uint32_t i = 0; i < nframes; i++) {
			free((char *)copy[i].function);
			free((char *)copy[i].file);
			free((char *)copy[i].module);
			free((char *)copy[i].path);
			free((char *)copy[i].build_id);
		}
		free(copy);
		return MS_NO_SITE;
	}
	s = &m->sites[m->nsites++];
	memset(s, 0, sizeof(*s));
	s->frames = copy;
	s->nframes = nframes;
	return idx;
}

void model__spawn_site(struct model *m, enum ms_runtime rt, uint64_t key,
		       uint32_t site)
{
	struct ms_task *t;

	if (site >= m->nsites)
		return;
	m->sites[site].spawns++;
	/* USDT: the spawn record came first; tokio: the task is known only
	 * at its first poll, so keep the site under the cell's address. */
	t = task_by_key(m, key, NULL);
	if (t && t->runtime == rt && rt == MS_RT_USDT)
		t->spawn_site = site;
	else if (rt == MS_RT_TOKIO)
		idmap__put(m->pending_spawn, key, site);
}

/* A task keeps its few heaviest sites: a new one takes the slot of the
 * lightest when it weighs more. */
static void task_site_add(struct ms_task *t, uint32_t site, double weight)
{
	uint32_t i, low = 0;

	for (i = 0; i < t->nalloc_sites; i++) {
		if (t->alloc_sites[i].site == site) {
			t->alloc_sites[i].live_bytes += weight;
			t->alloc_sites[i].alloc_bytes += weight;
			return;
		}
		if (t->alloc_sites[i].alloc_bytes <
		    t->alloc_sites[low].alloc_bytes)
			low = i;
	}
	if (t->nalloc_sites < MS_TASK_SITES)
		low = t->nalloc_sites++;
	else if (t->alloc_sites[low].alloc_bytes >= weight)
		return;
	t->alloc_sites[low].site = site;
	t->alloc_sites[low].live_bytes = weight;
	t->alloc_sites[low].alloc_bytes = weight;
}

void model__sampled_alloc(struct model *m, uint64_t addr, uint64_t size,
			  double weight, uint32_t site)
{
	const struct alloc_entry *e;
	struct sampled_block *b;
	struct ms_site *s;
	uint32_t idx;

	if (site >= m->nsites || !allocs__find(m->allocs, addr))
		return;
	s = &m->sites[site];
	s->samples++;
	s->alloc_bytes += weight;
	s->alloc_count += size ? weight / (double)size : 1;
	s->live_bytes += weight;
	s->live_count += size ? weight / (double)size : 1;
	if (m->free_block != UINT32_MAX && m->free_block < m->nblocks) {
		idx = m->free_block;
		m->free_block = m->blocks[idx].site;
	} else {
		if (grow((void **)&m->blocks, &m->cap_blocks, m->nblocks,
			 sizeof(*m->blocks), 256))
			return;
		idx = (uint32_t)m->nblocks++;
	}
	b = &m->blocks[idx];
	b->weight = weight;
	b->count = size ? weight / (double)size : 1;
	b->site = site;
	b->task = UINT32_MAX;
	e = allocs__find(m->allocs, addr);
	if (e && e->owner >= OWNER_TASK0 && e->owner - OWNER_TASK0 < m->ntasks) {
		b->task = e->owner - OWNER_TASK0;
		task_site_add(&m->tasks[b->task], site, weight);
	}
	if (idmap__put(m->sampled, addr, idx)) {
		b->site = m->free_block;
		m->free_block = idx;
	}
}

size_t model__site_count(const struct model *m)
{
	return m->nsites;
}

const struct ms_site *model__site(const struct model *m, uint32_t idx)
{
	return idx < m->nsites ? &m->sites[idx] : NULL;
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
}

void model__reject_vtable(struct model *m, uint64_t vtable)
{
	if (vtable)
		idmap__put(m->bad_vtables, vtable, 1);
}

bool model__vtable_rejected(const struct model *m, uint64_t vtable)
{
	uint32_t v;

	return vtable && !idmap__get(m->bad_vtables, vtable, &v);
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

	return t->lost_events || t->kernel_no_state || t->stale_allocs ||
	       t->bad_records || t->stack_lost || t->depth_overflow ||
	       t->unmatched;
}
