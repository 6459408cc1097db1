// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "view/jsonw.h"
#include "view/snapshot.h"

static void mem_obj(struct jw *w, const char *key, const struct ms_mem *mm)
{
	jw__obj(w, key);
	jw__u64(w, "alloc_count", mm->alloc_count);
	jw__u64(w, "alloc_bytes", mm->alloc_bytes);
	jw__u64(w, "free_count", mm->free_count);
	jw__u64(w, "free_bytes", mm->free_bytes);
	jw__u64(w, "live_count", mm->live_count);
	jw__u64(w, "live_bytes", mm->live_bytes);
	jw__u64(w, "peak_live_bytes", mm->peak_live_bytes);
	jw__end_obj(w);
}

static void pages_fields(struct jw *w, const struct ms_pages *p)
{
	jw__u64(w, "faults", p->faults);
	jw__u64(w, "fault_bytes", p->fault_bytes);
	jw__u64(w, "released_bytes", p->released_bytes);
	jw__u64(w, "resident_bytes", p->resident_bytes);
	jw__u64(w, "peak_resident_bytes", p->peak_resident_bytes);
}

/* By thread: the pages each one touched, in tasks or not. */
static void threads_arr(struct jw *w, const struct model *m)
{
	const struct ms_pages *p;
	uint32_t tid;
	bool rt;

	jw__arr(w, "threads");
	for (size_t i = 0; (p = model__page_thread(m, i, &tid, &rt)); i++) {
		if (!p->faults)
			continue;
		jw__obj(w, NULL);
		jw__u64(w, "tid", tid);
		jw__bool(w, "runtime", rt);
		pages_fields(w, p);
		jw__end_obj(w);
	}
	jw__end_arr(w);
}

/* Page-level mode's figures (docs/snapshot.md), null otherwise. */
static void page_level_obj(struct jw *w, const struct model *m, const char *why)
{
	const struct ms_page_totals *pt = model__pages(m);

	if (!model__page_level(m)) {
		jw__null(w, "page_level");
		return;
	}
	jw__obj(w, "page_level");
	jw__str(w, "reason", why);
	pages_fields(w, &pt->all);
	jw__u64(w, "mmap_count", pt->mmap_count);
	jw__u64(w, "mmap_anon_bytes", pt->mmap_anon_bytes);
	jw__u64(w, "munmap_count", pt->munmap_count);
	jw__u64(w, "madvise_count", pt->madvise_count);
	jw__u64(w, "brk_count", pt->brk_count);
	jw__u64(w, "mremap_count", pt->mremap_count);
	jw__u64(w, "size_guessed", pt->guessed);
	jw__obj(w, "runtime");
	pages_fields(w, model__runtime_pages(m));
	jw__end_obj(w);
	jw__obj(w, "outside_tasks");
	pages_fields(w, model__thread_pages(m));
	jw__end_obj(w);
	threads_arr(w, m);
	jw__end_obj(w);
}

static void totals_obj(struct jw *w, const struct model *m)
{
	const struct ms_totals *t = model__totals(m);

	jw__obj(w, "totals");
	jw__u64(w, "alloc_count", t->alloc_count);
	jw__u64(w, "free_count", t->free_count);
	jw__u64(w, "alloc_bytes", t->alloc_bytes);
	jw__u64(w, "free_bytes", t->free_bytes);
	jw__u64(w, "live_count", t->live_count);
	jw__u64(w, "live_bytes", t->live_bytes);
	jw__u64(w, "peak_live_bytes", t->peak_live_bytes);
	jw__u64(w, "lost_events", t->lost_events);
	jw__u64(w, "records", t->records);
	jw__u64(w, "stale_allocs", t->stale_allocs);
	jw__u64(w, "kernel_no_state", t->kernel_no_state);
	jw__u64(w, "bad_records", t->bad_records);
	jw__u64(w, "untracked_frees", t->untracked_frees);
	jw__u64(w, "stack_lost", t->stack_lost);
	jw__u64(w, "depth_overflow", t->depth_overflow);
	jw__u64(w, "unmatched_calls", t->unmatched);
	jw__u64(w, "read_failed", t->read_failed);
	jw__u64(w, "exec_released_count", t->exec_released_count);
	jw__u64(w, "exec_released_bytes", t->exec_released_bytes);
	jw__end_obj(w);
}

static void classes_arr(struct jw *w, const struct model *m)
{
	uint64_t cnt[MS_SIZE_CLASSES], bytes[MS_SIZE_CLASSES];

	model__size_classes(m, cnt, bytes);
	jw__arr(w, "live_by_size");
	for (int c = 0; c < MS_SIZE_CLASSES; c++) {
		if (!cnt[c])
			continue;
		jw__obj(w, NULL);
		jw__u64(w, "min", c ? 1ull << (c - 1) : 0);
		jw__u64(w, "max",
			c ? (c < 64 ? (1ull << c) - 1 : UINT64_MAX) : 0);
		jw__u64(w, "live_count", cnt[c]);
		jw__u64(w, "live_bytes", bytes[c]);
		jw__end_obj(w);
	}
	jw__end_arr(w);
}

static void async_obj(struct jw *w, const struct model *m)
{
	struct ms_async a;

	model__async(m, &a);
	jw__obj(w, "async");
	jw__u64(w, "async_allocation_count", a.async_allocation_count);
	jw__u64(w, "async_allocation_bytes", a.async_allocation_bytes);
	jw__u64(w, "future_state_overhead", a.future_state_overhead);
	jw__u64(w, "average_future_size", a.average_future_size);
	jw__u64(w, "largest_future_size", a.largest_future_size);
	jw__u64(w, "task_cell_bytes", a.task_cell_bytes);
	jw__u64(w, "runtime_overhead_bytes", a.runtime_overhead_bytes);
	jw__u64(w, "never_finished_count", a.never_finished_count);
	jw__u64(w, "tasks_alive", a.tasks_alive);
	jw__u64(w, "tasks_completed", a.tasks_completed);
	jw__u64(w, "tasks_cancelled", a.tasks_cancelled);
	jw__u64(w, "tasks_dropped", a.tasks_dropped);
	jw__end_obj(w);
}

/* 0 is unknown: null. */
static void u64_or_null(struct jw *w, const char *key, uint64_t v)
{
	if (v)
		jw__u64(w, key, v);
	else
		jw__null(w, key);
}

static void frames_arr(struct jw *w, const struct ms_site *site)
{
	jw__arr(w, "frames");
	for (uint32_t i = 0; i < site->nframes; i++) {
		const struct ms_frame *f = &site->frames[i];

		jw__obj(w, NULL);
		jw__str(w, "function", f->function);
		jw__str(w, "file", f->file);
		u64_or_null(w, "line", f->line);
		jw__str(w, "module", f->module);
		jw__u64(w, "pc", f->pc);
		/* For memscope to symbolize later what could not be now. */
		jw__str(w, "build_id", f->build_id);
		u64_or_null(w, "addr", f->addr);
		jw__str(w, "path", f->path);
		jw__end_obj(w);
	}
	jw__end_arr(w);
}

/* Estimates, rounded; a negative one (rounding of sampled frees) is 0. */
static uint64_t est(double v)
{
	return v > 0 ? (uint64_t)(v + 0.5) : 0;
}

static void sites_arr(struct jw *w, const struct model *m)
{
	jw__arr(w, "sites");
	for (size_t i = 0; i < model__site_count(m); i++) {
		const struct ms_site *site = model__site(m, (uint32_t)i);

		jw__obj(w, NULL);
		jw__u64(w, "id", i);
		jw__u64(w, "spawns", site->spawns);
		jw__u64(w, "samples", site->samples);
		jw__u64(w, "alloc_count", est(site->alloc_count));
		jw__u64(w, "alloc_bytes", est(site->alloc_bytes));
		jw__u64(w, "live_count", est(site->live_count));
		jw__u64(w, "live_bytes", est(site->live_bytes));
		frames_arr(w, site);
		jw__end_obj(w);
	}
	jw__end_arr(w);
}

static void task_obj(struct jw *w, const struct ms_task *t, bool pages)
{
	const char *nf = nf_reason__name(t->nf_reason);
	bool ended = t->state == TASK_COMPLETED || t->state == TASK_CANCELLED;

	jw__obj(w, NULL);
	jw__u64(w, "id", t->id);
	jw__str(w, "kind", task_kind__name(t->kind));
	jw__str(w, "state", task_state__name(t->state));
	jw__bool(w, "never_finished", nf != NULL);
	jw__str(w, "never_finished_reason", nf);
	if (t->parent != MS_TASK_NO_PARENT)
		jw__u64(w, "parent", t->parent_id);
	else
		jw__null(w, "parent");
	if (t->spawn_known)
		jw__u64(w, "spawned_ns", t->spawned_ns);
	else
		jw__null(w, "spawned_ns");
	if (ended)
		jw__u64(w, "ended_ns", t->ended_ns);
	else
		jw__null(w, "ended_ns");
	jw__u64(w, "polls", t->polls);
	jw__u64(w, "busy_ns", t->busy_ns);
	u64_or_null(w, "future_size", t->future_size);
	u64_or_null(w, "cell_size", t->cell_size);
	jw__u64(w, "alloc_count", t->mem.alloc_count);
	jw__u64(w, "alloc_bytes", t->mem.alloc_bytes);
	jw__u64(w, "free_count", t->mem.free_count);
	jw__u64(w, "free_bytes", t->mem.free_bytes);
	jw__u64(w, "live_count", t->mem.live_count);
	jw__u64(w, "live_bytes", t->mem.live_bytes);
	jw__u64(w, "peak_live_bytes", t->mem.peak_live_bytes);
	/* What it allocated and nobody freed after it ended. */
	jw__u64(w, "outliving_count", ended ? t->mem.live_count : 0);
	jw__u64(w, "outliving_bytes", ended ? t->mem.live_bytes : 0);
	jw__str(w, "runtime", t->runtime == MS_RT_TOKIO ? "tokio" : "usdt");
	jw__u64(w, "key", t->key);
	if (pages) {
		jw__obj(w, "page_level");
		pages_fields(w, &t->pages);
		jw__end_obj(w);
	}
	if (t->nalloc_sites) {
		jw__arr(w, "alloc_sites");
		for (uint32_t i = 0; i < t->nalloc_sites; i++) {
			const struct ms_task_site *ts = &t->alloc_sites[i];

			jw__obj(w, NULL);
			jw__u64(w, "site", ts->site);
			jw__u64(w, "live_bytes", est(ts->live_bytes));
			jw__u64(w, "alloc_bytes", est(ts->alloc_bytes));
			jw__end_obj(w);
		}
		jw__end_arr(w);
	}
	/* The frames are the site's, in sites[]: written once, not once
	 * per task (a server's thousands of tasks share a few sites). */
	if (t->spawn_site != MS_NO_SITE)
		jw__u64(w, "spawn_site_id", t->spawn_site);
	jw__end_obj(w);
}

static void timeline_obj(struct jw *w, const struct model *m)
{
	jw__obj(w, "timeline");
	jw__u64(w, "interval_ns", 1000000000ull);
	jw__arr(w, "samples");
	for (size_t i = 0; i < model__sample_count(m); i++) {
		const struct ms_sample *s = model__sample_at(m, i);

		jw__obj(w, NULL);
		jw__u64(w, "t_ns", s->t_ns);
		jw__u64(w, "live_bytes", s->live_bytes);
		jw__u64(w, "live_count", s->live_count);
		jw__u64(w, "tasks_alive", s->tasks_alive);
		jw__u64(w, "events", s->events);
		jw__arr(w, "top_tasks");
		for (uint32_t j = 0; j < s->ntop; j++) {
			jw__obj(w, NULL);
			jw__u64(w, "id", s->top[j].id);
			jw__u64(w, "live_bytes", s->top[j].live_bytes);
			jw__end_obj(w);
		}
		jw__end_arr(w);
		jw__end_obj(w);
	}
	jw__end_arr(w);
	jw__end_obj(w);
}

static const char *runtime_name(enum ms_runtime rt)
{
	return rt == MS_RT_TOKIO ? "tokio" : rt == MS_RT_USDT ? "usdt" : "none";
}

static void target_obj(struct jw *w, const struct snapshot_meta *meta)
{
	jw__obj(w, "target");
	jw__u64(w, "pid", meta->pid);
	jw__str(w, "command", meta->command ?: "");
	jw__str(w, "exe", meta->exe ?: "");
	jw__bool(w, "exited", meta->target_exited);
	if (meta->target_exited && meta->exit_status >= 0)
		jw__i64(w, "exit_status", meta->exit_status);
	else
		jw__null(w, "exit_status");
	jw__u64(w, "forks", meta->forks);
	if (meta->nexecs) {
		jw__arr(w, "execs");
		for (unsigned int i = 0; i < meta->nexecs; i++) {
			jw__obj(w, NULL);
			jw__u64(w, "t_ns", meta->execs[i].t_ns);
			jw__str(w, "exe", meta->execs[i].exe);
			jw__str(w, "command", meta->execs[i].command);
			jw__end_obj(w);
		}
		jw__end_arr(w);
	}
	jw__end_obj(w);
}

int snapshot__write_file(const struct model *m,
			 const struct snapshot_meta *meta, FILE *f)
{
	uint64_t start = model__start_ns(m);
	struct jw w;

	jw__init(&w, f);
	jw__obj(&w, NULL);
	jw__str(&w, "schema", MS_SNAPSHOT_SCHEMA);
	jw__str(&w, "generator", "memscoped " MS_VERSION);
	target_obj(&w, meta);
	jw__u64(&w, "taken_ns",
		meta->now_ns > start ? meta->now_ns - start : 0);
	jw__str(&w, "mode", meta->tasks_only ? "tasks-only" : "full");
	jw__bool(&w, "incomplete", model__incomplete(m));
	jw__str(&w, "runtime", runtime_name(model__runtime(m)));
	jw__arr(&w, "allocators");
	if (meta->allocator)
		jw__str(&w, NULL, meta->allocator);
	if (meta->allocator_static)
		jw__str(&w, NULL, meta->allocator_static);
	jw__end_arr(&w);
	totals_obj(&w, m);
	page_level_obj(&w, m, meta->page_level);
	classes_arr(&w, m);
	mem_obj(&w, "runtime_overhead", model__runtime_mem(m));
	mem_obj(&w, "outside_tasks", model__thread_mem(m));
	async_obj(&w, m);
	jw__arr(&w, "tasks");
	for (size_t i = 0; i < model__task_count(m); i++)
		task_obj(&w, model__task(m, i), model__page_level(m));
	jw__end_arr(&w);
	timeline_obj(&w, m);
	sites_arr(&w, m);
	jw__arr(&w, "warnings");
	for (const char *const *s = meta->warnings; s && *s; s++)
		jw__str(&w, NULL, *s);
	jw__end_arr(&w);
	jw__end_obj(&w);
	fputc('\n', f);
	return jw__status(&w);
}

int snapshot__text(const struct model *m, const struct snapshot_meta *meta,
		   char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);
	int err;

	if (!f)
		return -errno;
	err = snapshot__write_file(m, meta, f);
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(*text);
		*text = NULL;
	}
	return err;
}

int snapshot__write(const struct model *m, const struct snapshot_meta *meta,
		    const char *path)
{
	struct atomicfile af;
	FILE *f;
	int fd, err;

	err = atomicfile__open(&af, path, 0600);
	if (err)
		return err;
	/* Buffered writes to the unnamed file; closed before the commit
	 * fsyncs and renames it. */
	fd = dup(af.fd);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		atomicfile__abort(&af);
		return err;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	err = snapshot__write_file(m, meta, f);
	if (fclose(f) && !err)
		err = -errno ?: -EIO;
	if (err) {
		atomicfile__abort(&af);
		return err;
	}
	return atomicfile__commit(&af);
}
