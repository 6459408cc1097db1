// SPDX-License-Identifier: MIT
/* tokio tasks in the model: found from their cells and poll records
 * (MS_REC_TOKIO_POLL, and MS_REC_POLL_BEGIN for the runtime's own), how
 * they ended from the Header.state words BPF read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "util.h"

/* Apply a tokio Header.state word read at poll end or at the task's free. */
void tokio__state(struct model *m, struct ms_task *t, uint64_t st, uint64_t ts)
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
		task__finish(m, t,
			     (st & MS_TOKIO_CANCELLED) &&
				     !t->complete_at_shutdown &&
				     ((t->begin_state & MS_TOKIO_CANCELLED) ||
				      t->cancelled_in_poll || t->shutdown),
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

/* First sight of a tokio task: its Cell is the allocation at its Header
 * address, which tells spawn time, size and the spawning task. Who it is
 * (vtable, owner, id) comes with its poll record: tokio__identify(). */
struct ms_task *tokio__discover(struct model *m, uint64_t key, uint64_t ts_ns,
				uint32_t *idx_out)
{
	const struct alloc_entry *cell = allocs__find(m->allocs, key);
	struct ms_task *t;
	uint32_t idx;

	t = task__new(m, key, MS_RT_TOKIO, &idx);
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
		t->spawned_ns = model__rel_ns(m, ts_ns);
	}
	return t;
}

static const struct vt_layout *layout_of(const struct model *m, uint64_t vtable)
{
	uint32_t i;

	if (!vtable || idmap__get(m->vt_layouts, vtable, &i) ||
	    i >= m->nlayouts)
		return NULL;
	return &m->layouts[i];
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
		owner__move(m, b, idx + OWNER_TASK0);
}

void tokio__identify(struct model *m, struct ms_task *t,
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

void model__tokio_layout(struct model *m, uint64_t vtable, uint64_t future_size,
			 bool may_be_boxed)
{
	struct vt_layout *l;

	if (!vtable || layout_of(m, vtable) ||
	    util__grow((void **)&m->layouts, &m->cap_layouts, m->nlayouts + 1,
		       sizeof(*m->layouts), 64))
		return;
	l = &m->layouts[m->nlayouts];
	l->future_size = future_size;
	l->may_be_boxed = may_be_boxed;
	if (!idmap__put(m->vt_layouts, vtable, (uint32_t)m->nlayouts))
		m->nlayouts++;
}

/* key is in a poll on th since begin_ns (tokio: its record comes at the
 * poll's end): find or create the task, and it runs. */
struct ms_task *tokio__in_poll(struct model *m, struct thread *th, uint64_t key,
			       uint64_t begin_ns, uint32_t *idx)
{
	struct ms_task *t = task__by_key(m, key, idx);

	if (!t)
		t = tokio__discover(m, key, begin_ns, idx);
	if (!t || t->runtime != MS_RT_TOKIO)
		return NULL;
	if (th)
		thread__polls(m, th);
	if (t->state != TASK_COMPLETED && t->state != TASK_CANCELLED) {
		t->state = TASK_RUNNING;
		t->in_poll = true;
		t->last_poll_ns = model__rel_ns(m, begin_ns);
	}
	return t;
}

/* A tokio poll returned with the task's state word st (unless the read
 * failed): how the task stands now. */
static void tokio_poll_ended(struct model *m, struct ms_task *t, uint64_t st,
			     bool read_failed, uint64_t ts)
{
	uint64_t refs = st >> MS_TOKIO_REF_SHIFT;

	if (!read_failed && refs < (1ull << 24) &&
	    (refs || (st & MS_TOKIO_COMPLETE))) {
		tokio__state(m, t, st, ts);
	} else if (!model__vtable_rejected(m, t->vtable)) {
		/* The poll freed the task and no free record said so
		 * (--tasks-only, or a free on another thread raced the
		 * read): its memory no longer holds a state. A task is
		 * freed in its poll only once it ended. */
		task__finish(m, t,
			     (t->begin_state & MS_TOKIO_CANCELLED) ||
				     t->cancelled_in_poll || t->shutdown,
			     ts);
		task__release(m, t, ts);
	}
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
	       t->spawned_ns <= model__rel_ns(m, r->begin_ns) + 1000000;
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

int tokio__apply_poll(struct model *m, const struct ms_tokio_poll_rec *r)
{
	struct thread *th = thread__get(m, r->h.tid);
	struct ms_task *t = NULL;
	uint32_t idx, seen;

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
		t = task__by_key(m, r->task, &idx);
		if (t && !poll_of(m, t, r))
			t = NULL;
	}
	if (!t && (t = late_poll_task(m, r))) {
		t->polls++;
		if (r->h.ts_ns > r->begin_ns)
			t->busy_ns += r->h.ts_ns - r->begin_ns;
		return 0;
	}
	if (!t && task__by_key(m, r->task, NULL))
		return 0; /* a poll of a task let go of, now at a reused key */
	if (!t) {
		t = tokio__discover(m, r->task, r->begin_ns, &idx);
		if (!t)
			return -ENOMEM;
	}
	tokio__identify(m, t,
			&(struct tokio_seen){
				.vtable = r->vtable,
				.owner_id = r->owner_id,
				.task_id = r->task_id,
				.future_word = r->future_word,
				.flags = r->flags,
			});
	thread__polls(m, th);
	t->in_poll = false;
	if ((r->flags & MS_POLL_F_CANCELLED_IN_POLL) ||
	    !idmap__get(m->pending_cancel, r->task, &seen)) {
		t->cancelled_in_poll = true;
		idmap__del(m->pending_cancel, r->task);
	}
	/* Shut down while in this poll (its record came first, from another
	 * thread): tokio left it alone, its poll decides how it ends: it
	 * completed, or it cancelled the task (then the shutdown did). */
	if (t->shutdown && t->shutdown_ns >= r->begin_ns &&
	    t->shutdown_ns <= r->h.ts_ns && !t->freed &&
	    !t->cancelled_in_poll) {
		t->shutdown = false;
		t->shutdown_in_poll = true;
		if (t->nf_reason == NF_SHUTDOWN)
			t->nf_reason = NF_NONE;
	}
	t->polls++;
	t->last_poll_ns = model__rel_ns(m, r->begin_ns);
	if (r->h.ts_ns > r->begin_ns)
		t->busy_ns += r->h.ts_ns - r->begin_ns;
	if (t->freed)
		return 0;
	if (!(r->flags & MS_POLL_F_READ_FAILED))
		t->begin_state = r->begin_state;
	if (t->state == TASK_RUNNING)
		t->state = TASK_PENDING;
	tokio_poll_ended(m, t, r->state, r->flags & MS_POLL_F_END_READ_FAILED,
			 r->h.ts_ns);
	return 0;
}

/*
 * A JoinHandle is about to read or drop the task's output, and it is the
 * task's JoinError::Cancelled: it was cancelled, even if its last poll
 * looked like a completion (abort() or the shutdown landed while that poll
 * ran, the future returned Pending, and the handle took the output before
 * the poll's end was seen).
 */
int tokio__output_cancelled(struct model *m, const struct ms_task_rec *r)
{
	struct ms_task *t = task__by_key(m, r->task, NULL);

	if (!t) /* its one poll's record is still to come */
		return idmap__put(m->pending_cancel, r->task, 1);
	if (t->runtime != MS_RT_TOKIO || t->kind != TASK_USER ||
	    t->complete_at_shutdown || model__vtable_rejected(m, t->vtable))
		return 0;
	t->cancelled_in_poll = true;
	if (t->state != TASK_COMPLETED)
		return 0; /* its poll's record, still to come, ends it */
	t->state = TASK_CANCELLED;
	t->nf_reason = task__cancel_reason(t);
	return 0;
}

void model__poll_running(struct model *m, uint32_t tid,
			 const struct ms_poll_entry *e)
{
	struct ms_task *t;
	uint32_t idx;

	if (!e->task)
		return;
	t = tokio__in_poll(m, thread__get(m, tid), e->task, e->begin_ns, &idx);
	if (t)
		tokio__identify(m, t,
				&(struct tokio_seen){
					.vtable = e->vtable,
					.owner_id = e->owner_id,
					.task_id = e->task_id,
					.future_word = e->future_word,
					.flags = e->flags,
				});
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
