/* SPDX-License-Identifier: MIT */
/*
 * The model: what memscoped knows about one traced process. Records go in
 * through model__apply(); views read it through the accessors. No I/O here,
 * so all of it is unit-tested without a kernel.
 */
#ifndef MS_MODEL_H
#define MS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memscope/events.h"

enum task_state { TASK_RUNNING, TASK_PENDING, TASK_COMPLETED, TASK_CANCELLED };
enum task_kind { TASK_USER, TASK_RUNTIME };
enum nf_reason {
	NF_NONE,
	NF_ABORTED, /* cancelled before completing */
	NF_PENDING, /* still pending after the threshold */
	NF_NO_WAKER, /* pending and nothing can wake it */
	NF_SHUTDOWN, /* still alive when the runtime shut down */
};

/* Memory figures of one owner: a task, the runtime, or plain threads. */
struct ms_mem {
	uint64_t alloc_count, alloc_bytes;
	uint64_t free_count, free_bytes;
	uint64_t live_count, live_bytes;
	uint64_t peak_live_bytes;
};

/*
 * Page-level figures of one owner (page-level mode: no allocator probed,
 * or --page-level): anonymous memory the kernel gave its threads, page by
 * page (a huge page at once), and what of it was let go since (munmap,
 * madvise, brk, an mmap or mremap over it).
 */
struct ms_pages {
	uint64_t faults; /* new pages (or huge pages) touched */
	uint64_t fault_bytes; /* their bytes: resident growth */
	uint64_t released_bytes; /* of those, let go */
	uint64_t resident_bytes; /* fault_bytes - released_bytes */
	uint64_t peak_resident_bytes;
};

/* The process's page-level figures and the calls behind them. */
struct ms_page_totals {
	struct ms_pages all;
	uint64_t mmap_count, mmap_anon_bytes; /* anonymous mappings made */
	uint64_t munmap_count, madvise_count, brk_count, mremap_count;
	/* Faults whose page size was not known (a base page assumed). */
	uint64_t guessed;
};

#define MS_TASK_NO_PARENT UINT32_MAX
#define MS_NO_SITE UINT32_MAX
#define MS_TASK_SITES 4

/* One symbolized frame of a site (strings owned by the model). */
struct ms_frame {
	uint64_t pc;
	const char *function, *file, *module; /* NULL: unknown */
	uint32_t line; /* 0: unknown */
	/* Enough to symbolize it later from a debug file (a stripped
	 * binary): the module's file (full path), its GNU build id (hex),
	 * and the ELF virtual address looked up (pc - 1 for a return
	 * address; sym_frame.addr). NULL / 0: unknown. */
	const char *path, *build_id;
	uint64_t addr;
};

/* A code location that allocates or spawns: a stack, runtime frames
 * folded away so the first user frame leads. Figures of sampled
 * allocations are estimates scaled by their sampling weight. */
struct ms_site {
	uint32_t nframes;
	const struct ms_frame *frames;
	uint64_t spawns; /* tasks spawned here */
	uint64_t samples; /* sampled allocations */
	double alloc_count, alloc_bytes; /* estimated */
	double live_count, live_bytes; /* estimated */
};

struct ms_task {
	uint64_t key; /* tokio: Header address; USDT: the runtime's id */
	uint64_t id; /* tokio Id (or memscope's own number), USDT id */
	uint32_t parent; /* task index, MS_TASK_NO_PARENT (may be stale once
			  * the parent's slot was recycled: use parent_id) */
	uint64_t parent_id; /* valid when parent != MS_TASK_NO_PARENT */
	uint8_t kind; /* enum task_kind */
	uint8_t state; /* enum task_state */
	uint8_t nf_reason; /* enum nf_reason */
	uint8_t runtime; /* enum ms_runtime */
	bool freed; /* its memory was released: the key may be reused */
	bool shutdown; /* the runtime shut it down */
	bool spawn_known; /* spawn seen (not alive before attach) */
	bool in_poll;
	bool identified; /* tokio: vtable, owner and id are known */
	bool aborted; /* tokio: cancelled by abort() before any shutdown */
	uint64_t shutdown_ns; /* when the runtime shut it down (raw) */
	uint64_t spawned_ns, ended_ns, last_poll_ns; /* since trace start */
	uint64_t polls, busy_ns;
	/* The future's (state machine's) size, what size_of_val gives
	 * before spawn; tokio: from the task type's layout, or the box it
	 * was moved into at spawn. 0: unknown. */
	uint64_t future_size;
	uint64_t cell_size; /* tokio: the runtime's allocation per task (its
			     * Cell: header, future or its box, trailer) */
	uint64_t vtable, owner_id;
	uint64_t begin_state; /* tokio: Header.state when the last poll began */
	/* tokio: its last poll cancelled it (MS_POLL_F_CANCELLED_IN_POLL or
	 * MS_REC_TOKIO_CANCELLED); the runtime's shutdown came while that
	 * poll ran */
	bool cancelled_in_poll, shutdown_in_poll;
	bool complete_at_shutdown; /* tokio: COMPLETE when shut down */
	uint32_t spawn_site; /* MS_NO_SITE: unknown */
	struct ms_mem mem;
	struct ms_pages pages; /* page-level mode */
	/* Where this task's sampled allocations come from (estimates), the
	 * largest live first once model__task_sites() sorted them. */
	uint32_t nalloc_sites;
	struct ms_task_site {
		uint32_t site;
		double live_bytes, alloc_bytes;
	} alloc_sites[MS_TASK_SITES];
};

struct ms_totals {
	uint64_t alloc_count, free_count;
	uint64_t alloc_bytes, free_bytes;
	uint64_t live_count, live_bytes;
	uint64_t peak_live_bytes;
	uint64_t records;
	/* Anything below non-zero makes the figures possibly incomplete. */
	uint64_t lost_events; /* ring buffer full */
	uint64_t kernel_no_state; /* per-thread state unavailable */
	uint64_t stale_allocs; /* an address allocated twice: a free missed */
	uint64_t bad_records;
	uint64_t stack_lost; /* stacks that did not fit: sites are short */
	uint64_t depth_overflow; /* calls or polls nested too deep to follow */
	uint64_t unmatched; /* allocator calls whose return was missed */
	/* Informational. */
	uint64_t untracked_frees; /* blocks allocated before attach */
	uint64_t exec_released_count, exec_released_bytes; /* live at an exec */
	uint64_t read_failed;
};

#define MS_SIZE_CLASSES 64 /* class c: sizes in [2^(c-1), 2^c), class 0: 0 */

struct ms_async {
	uint64_t async_allocation_count; /* allocations made inside tasks */
	uint64_t async_allocation_bytes;
	uint64_t future_state_overhead; /* sum of future sizes */
	uint64_t average_future_size;
	uint64_t largest_future_size;
	uint64_t task_cell_bytes; /* sum of the cells of user tasks */
	uint64_t runtime_overhead_bytes;
	uint64_t never_finished_count;
	uint64_t tasks_alive, tasks_completed, tasks_cancelled;
	uint64_t tasks_dropped; /* ended tasks whose details were let go */
};

#define MS_SAMPLE_TOP 8
#define MS_SAMPLES_MAX 3600 /* one per second: the last hour */

struct ms_sample {
	uint64_t t_ns; /* since trace start */
	uint64_t live_bytes, live_count;
	uint64_t tasks_alive;
	uint64_t events; /* records since the previous sample */
	uint32_t ntop;
	struct {
		uint64_t id, live_bytes;
	} top[MS_SAMPLE_TOP]; /* the tasks holding most, largest first */
};

struct model_opts {
	uint64_t start_ns; /* CLOCK_MONOTONIC at trace start */
	uint64_t never_finished_ns; /* pending threshold */
	uint32_t pid; /* the traced process (its tid == pid: main thread) */
	/* Ended tasks kept in detail (0: 100000). Beyond, the oldest ended
	 * ones holding no memory are folded into aggregate figures, so the
	 * model stays bounded however many tasks a service spawns. */
	size_t max_ended_tasks;
};

struct model;

struct model *model__new(const struct model_opts *opts);
void model__free(struct model *m);

/* Record type of a raw record after a size check, or -EINVAL. */
int model__decode(const void *rec, size_t len);
/* Apply one record as read from the ring buffer. Returns 0, or -EINVAL
 * for a malformed record (counted in bad_records). */
int model__apply(struct model *m, const void *rec, size_t len);
/* Apply n records in order. Same result as n model__apply() calls, but the
 * live-table slots of the whole batch are fetched into the cache first:
 * at a million live blocks every look-up is a cache miss otherwise. */
void model__apply_batch(struct model *m, const void *const *recs,
			const size_t *lens, size_t n);
/* The process ran another program (exec) at ts_ns: the old image's
 * blocks are gone (counted in exec_released_*), its tasks that were alive
 * end (cancelled, never finished: shutdown), and what was learnt of its
 * task types is forgotten. */
void model__exec(struct model *m, uint64_t ts_ns);
/* Time-based detectors (pending threshold). now_ns: CLOCK_MONOTONIC. */
void model__tick(struct model *m, uint64_t now_ns);
/* A tokio task has been in a poll on tid since begin_ns and that poll has
 * not returned (its record comes at its end): memscoped's look at the
 * threads' BPF state says so. First sight creates the task. */
void model__poll_running(struct model *m, uint32_t tid,
			 const struct ms_poll_entry *e);
/* A tokio task type's layout (its vtable checked by the collector): how
 * big its future is inline, and whether the word read at poll entry may
 * be the pointer to a future tokio boxed at spawn. */
void model__tokio_layout(struct model *m, uint64_t vtable, uint64_t future_size,
			 bool may_be_boxed);
/* Counters read from the kernel side (absolute values). */
/* Intern a site: frames are copied (strings too). Returns its index, or
 * MS_NO_SITE when out of memory or nframes is 0. */
uint32_t model__site_intern(struct model *m, const struct ms_frame *frames,
			    uint32_t nframes);
/* The stack of a spawn: key is the task's allocation address (tokio) or
 * its id (USDT). */
void model__spawn_site(struct model *m, enum ms_runtime rt, uint64_t key,
		       uint32_t site);
/* A sampled allocation of size at addr stands for weight bytes. */
void model__sampled_alloc(struct model *m, uint64_t addr, uint64_t size,
			  double weight, uint32_t site);
size_t model__site_count(const struct model *m);
const struct ms_site *model__site(const struct model *m, uint32_t idx);
/* Append a timeline sample (the caller calls it about once a second). */
void model__sample(struct model *m, uint64_t now_ns);
size_t model__sample_count(const struct model *m);
/* Sample i, oldest first. */
const struct ms_sample *model__sample_at(const struct model *m, size_t i);
void model__set_kernel_stats(struct model *m, const uint64_t *st, size_t n);
/* The tokio layout check for a vtable failed: ignore what was read
 * through it (ids, state), keep attributing allocations by poll. */
void model__reject_vtable(struct model *m, uint64_t vtable);
bool model__vtable_rejected(const struct model *m, uint64_t vtable);

/* Page-level mode: the process's MS_REC_PAGE records are its memory
 * figures' source (views label them "page-level"). */
void model__set_page_level(struct model *m);
bool model__page_level(const struct model *m);
const struct ms_page_totals *model__pages(const struct model *m);
const struct ms_pages *model__runtime_pages(const struct model *m);
const struct ms_pages *model__thread_pages(const struct model *m);
/* Page-level figures of thread i (0 <= i, NULL past the last): the pages
 * it touched itself, whichever task it was polling; *tid and *runtime
 * (a runtime worker) say which thread. */
const struct ms_pages *model__page_thread(const struct model *m, size_t i,
					  uint32_t *tid, bool *runtime);

const struct ms_totals *model__totals(const struct model *m);
const struct ms_mem *model__runtime_mem(const struct model *m);
const struct ms_mem *model__thread_mem(const struct model *m);
void model__size_classes(const struct model *m, uint64_t count[MS_SIZE_CLASSES],
			 uint64_t bytes[MS_SIZE_CLASSES]);
void model__async(const struct model *m, struct ms_async *out);
enum ms_runtime model__runtime(const struct model *m);
size_t model__task_count(const struct model *m);
const struct ms_task *model__task(const struct model *m, size_t idx);
uint64_t model__start_ns(const struct model *m);
uint64_t model__last_ns(const struct model *m);
size_t model__mem_bytes(const struct model *m);
size_t model__alloc_table_bytes(const struct model *m);
bool model__incomplete(const struct model *m);

const char *task_state__name(enum task_state s);
const char *task_kind__name(enum task_kind k);
const char *nf_reason__name(enum nf_reason r); /* NULL for NF_NONE */

#endif
