/* SPDX-License-Identifier: MIT */
/*
 * Inside the model (model.h is its interface): the state all its parts
 * share, and what they call of each other.
 *   model.c  allocations, owners, totals; records dispatched; threads,
 *            tasks' life (USDT markers), timeline samples, exec
 *   tokio.c  tokio tasks: found from their cells and poll records, their
 *            end from Header.state words (the end-state rules)
 *   sites.c  spawn and allocation sites, byte-sampled blocks
 *   pages.c  page-level mode: pages mapped and let go, by owner
 */
#ifndef MS_MODEL_INT_H
#define MS_MODEL_INT_H

#include <stdbool.h>
#include <stdint.h>

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
	struct ms_pages
		pages; /* page-level: what it touched, in tasks or not */
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
	struct idmap
		*freed_keys; /* key -> index of the last task freed there */
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
	/* tokio cells whose output was seen cancelled before any poll record
	 * of theirs (MS_REC_TOKIO_CANCELLED) -> 1 */
	struct idmap *pending_cancel;
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
	/* Page-level mode: resident pages (addr, bytes, owner) by address. */
	bool page_level;
	struct allocs *pages;
	struct ms_page_totals page_totals;
	struct ms_pages runtime_pages, thread_pages;
	uint64_t brk; /* the heap's end, 0: not seen yet */
};

/* model.c */
uint64_t model__rel_ns(const struct model *m, uint64_t ts);
struct ms_mem *owner__mem(struct model *m, uint32_t owner);
void owner__move(struct model *m, struct alloc_entry *b, uint32_t to);
void mem__alloc(struct ms_mem *mm, uint64_t size);
void mem__release(struct ms_mem *mm, uint64_t size);
struct thread *thread__get(struct model *m, uint32_t tid);
/* Who owns what thread th gets while it polls task (0: none) at ts. */
uint32_t owner__of(struct model *m, struct thread *th, uint64_t task,
		   uint64_t ts);
void thread__polls(struct model *m, struct thread *th);
struct ms_task *task__new(struct model *m, uint64_t key, uint8_t rt,
			  uint32_t *idx_out);
struct ms_task *task__by_key(struct model *m, uint64_t key, uint32_t *idx);
enum nf_reason task__cancel_reason(const struct ms_task *t);
void task__finish(struct model *m, struct ms_task *t, bool cancelled,
		  uint64_t ts);
void task__release(struct model *m, struct ms_task *t, uint64_t ts);

/* tokio.c */
void tokio__state(struct model *m, struct ms_task *t, uint64_t st, uint64_t ts);
struct ms_task *tokio__discover(struct model *m, uint64_t key, uint64_t ts_ns,
				uint32_t *idx_out);
void tokio__identify(struct model *m, struct ms_task *t,
		     const struct tokio_seen *s);
struct ms_task *tokio__in_poll(struct model *m, struct thread *th, uint64_t key,
			       uint64_t begin_ns, uint32_t *idx);
int tokio__apply_poll(struct model *m, const struct ms_tokio_poll_rec *r);
int tokio__output_cancelled(struct model *m, const struct ms_task_rec *r);

/* pages.c */
int pages__apply(struct model *m, const struct ms_page_rec *r);
void pages__exec(struct model *m);

/* sites.c */
void sample__release(struct model *m, uint64_t addr);
void sites__free(struct model *m);

#endif /* MS_MODEL_INT_H */
