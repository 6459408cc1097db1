/* SPDX-License-Identifier: MIT */
/*
 * The snapshot as memscope sees it: a "memscope.snapshot/1" document
 * (docs/snapshot.md) checked field by field and copied into plain structs.
 * Everything the offline commands know comes from here; no I/O beyond
 * reading the file.
 */
#ifndef MS_OFFLINE_SNAP_H
#define MS_OFFLINE_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memscope/schema.h"

#define SNAP_SCHEMA MS_SNAPSHOT_SCHEMA /* the version this reads */
/* Far above any real snapshot (an hour of timeline is ~1 MiB). */
#define SNAP_MAX_BYTES (1024ull * 1024 * 1024)

struct json_object;

struct snap_mem {
	uint64_t alloc_count, alloc_bytes;
	uint64_t free_count, free_bytes;
	uint64_t live_count, live_bytes;
	uint64_t peak_live_bytes;
};

struct snap_totals {
	struct snap_mem mem;
	uint64_t lost_events, records, stale_allocs, kernel_no_state;
	uint64_t bad_records, untracked_frees;
};

struct snap_async {
	uint64_t async_allocation_count, async_allocation_bytes;
	uint64_t future_state_overhead;
	uint64_t average_future_size, largest_future_size;
	bool has_task_cell_bytes; /* absent in older snapshots */
	uint64_t task_cell_bytes;
	uint64_t runtime_overhead_bytes;
	uint64_t never_finished_count;
	uint64_t tasks_alive, tasks_completed, tasks_cancelled;
};

enum snap_kind { SNAP_KIND_USER, SNAP_KIND_RUNTIME };
enum snap_state { SNAP_RUNNING, SNAP_PENDING, SNAP_COMPLETED, SNAP_CANCELLED };
enum snap_reason {
	SNAP_NF_NONE,
	SNAP_NF_ABORTED,
	SNAP_NF_NO_WAKER,
	SNAP_NF_PENDING,
	SNAP_NF_SHUTDOWN,
};

/* One frame of a spawn_site or a site; NULL strings and 0 mean unknown.
 * build_id, path and addr (absent in older snapshots) say where the
 * frame is in its module's file, so that memscope can symbolize it from
 * a debug file (resym.h) when memscoped could not (a stripped binary). */
struct snap_frame {
	char *function, *file, *module;
	uint64_t line;
	char *build_id; /* hex */
	char *path; /* the module's file, full path */
	uint64_t addr; /* ELF virtual address in that file */
	bool resolved; /* function or file found by memscope, not memscoped */
};

/* sites[]: where tasks were spawned and sampled allocations made. */
struct snap_site {
	uint64_t id, spawns, samples;
	uint64_t alloc_count, alloc_bytes, live_count,
		live_bytes; /* estimates */
	struct snap_frame *frames; /* innermost first */
	size_t nframes;
};

/* Page-level figures of one owner (page_level objects). */
struct snap_pages {
	uint64_t faults, fault_bytes, released_bytes;
	uint64_t resident_bytes, peak_resident_bytes;
};

struct snap_task {
	uint64_t id;
	enum snap_kind kind;
	enum snap_state state;
	enum snap_reason reason;
	bool has_parent, has_spawned, has_ended, has_future_size;
	uint64_t parent, spawned_ns, ended_ns, future_size;
	bool has_cell_size; /* tokio's per-task allocation (its Cell) */
	uint64_t cell_size;
	uint64_t polls, busy_ns;
	struct snap_mem mem;
	uint64_t outliving_count, outliving_bytes;
	bool has_pages; /* page-level mode */
	struct snap_pages pages;
	char *runtime;
	uint64_t key;
	struct snap_frame *spawn_site; /* innermost user frame first */
	size_t nframes;
	bool has_site_id; /* spawn_site_id: its site in sites[] */
	uint64_t site_id;
	/* spawn_site is not the task's own: it is the frames of site
	 * frames_owner (an index into sites, when frames_of_site) or of
	 * task frames_owner (an earlier task of the same site). */
	bool frames_shared, frames_of_site;
	size_t frames_owner;
};

struct snap_top {
	uint64_t id, live_bytes;
};

struct snap_sample {
	uint64_t t_ns, live_bytes, live_count, tasks_alive, events;
	struct snap_top *top;
	size_t ntop;
};

struct snap_class {
	uint64_t min, max, live_count, live_bytes;
};

struct snap {
	char *generator; /* NULL when absent */
	uint64_t pid;
	char *command, *exe;
	bool exited, has_exit_status;
	int64_t exit_status;
	uint64_t taken_ns;
	char *mode;
	bool tasks_only;
	bool incomplete;
	char *runtime;
	struct snap_totals totals;
	struct snap_class *classes;
	size_t nclasses;
	struct snap_mem runtime_overhead, outside_tasks;
	struct snap_async async;
	/* Page-level mode (page_level not null): the process, its runtime,
	 * outside tasks, the calls seen, and why the mode was used. */
	bool page_level;
	char *page_reason; /* NULL: not said */
	struct snap_pages pages, pages_runtime, pages_outside;
	uint64_t mmap_count, mmap_anon_bytes, munmap_count, madvise_count;
	uint64_t brk_count, mremap_count, pages_guessed;
	struct snap_task *tasks;
	size_t ntasks;
	size_t *by_id; /* indexes into tasks, sorted by id, for lookups */
	bool has_spawn_sites; /* some task has a non-empty spawn_site */
	struct snap_site *sites; /* absent in older snapshots: none */
	size_t nsites;
	uint64_t interval_ns;
	struct snap_sample *samples;
	size_t nsamples;
	char **warnings;
	size_t nwarnings;
	char **allocators; /* "NAME (PATH)", as probed; absent: none */
	size_t nallocators;
	/* The validated document itself: export --format json prints it.
	 * A large snapshot is read piece by piece instead (the whole tree
	 * would take ten times the file): then doc is NULL and raw holds
	 * the text as it was read. */
	struct json_object *doc;
	char *raw;
	size_t rawlen;
};

/* Snapshots this large are read piece by piece: tasks[] and sites[] one
 * element at a time, so memory stays within about twice the file. */
#define SNAP_STREAM_BYTES (16ull * 1024 * 1024)

/*
 * Read and check a snapshot. On failure returns a negative errno and
 * leaves one line (no newline, no file name) in err: -EINVAL for a file
 * that is not a valid snapshot, -EFBIG when it is too large, or the
 * error that reading it met.
 */
int snap__load_file(const char *path, struct snap **out, char *err,
		    size_t errlen);
int snap__load_mem(const char *buf, size_t len, struct snap **out, char *err,
		   size_t errlen);
void snap__free(struct snap *s);
/* Frees the text a large snapshot keeps for export__json (raw). */
void snap__drop_text(struct snap *s);
/* Frees a frame's strings and zeroes it. */
void snap_frame__clear(struct snap_frame *f);

/* The task with this id (the first one, were ids ever repeated), or NULL. */
const struct snap_task *snap__find_task(const struct snap *s, uint64_t id);

const char *snap_state__name(enum snap_state st);
const char *snap_reason__name(enum snap_reason r); /* NULL for none */
const char *snap_kind__name(enum snap_kind k);

static inline bool snap_task__ended(const struct snap_task *t)
{
	return t->state == SNAP_COMPLETED || t->state == SNAP_CANCELLED;
}

#endif
