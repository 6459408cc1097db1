// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "view/snapshot.h"

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static struct json_object *mem_obj(const struct ms_mem *mm)
{
	struct json_object *o = json_object_new_object();

	add_u64(o, "alloc_count", mm->alloc_count);
	add_u64(o, "alloc_bytes", mm->alloc_bytes);
	add_u64(o, "free_count", mm->free_count);
	add_u64(o, "free_bytes", mm->free_bytes);
	add_u64(o, "live_count", mm->live_count);
	add_u64(o, "live_bytes", mm->live_bytes);
	add_u64(o, "peak_live_bytes", mm->peak_live_bytes);
	return o;
}

static struct json_object *totals_obj(const struct model *m)
{
	const struct ms_totals *t = model__totals(m);
	struct json_object *o = json_object_new_object();

	add_u64(o, "alloc_count", t->alloc_count);
	add_u64(o, "free_count", t->free_count);
	add_u64(o, "alloc_bytes", t->alloc_bytes);
	add_u64(o, "free_bytes", t->free_bytes);
	add_u64(o, "live_count", t->live_count);
	add_u64(o, "live_bytes", t->live_bytes);
	add_u64(o, "peak_live_bytes", t->peak_live_bytes);
	add_u64(o, "lost_events", t->lost_events);
	add_u64(o, "records", t->records);
	add_u64(o, "stale_allocs", t->stale_allocs);
	add_u64(o, "kernel_no_state", t->kernel_no_state);
	add_u64(o, "bad_records", t->bad_records);
	add_u64(o, "untracked_frees", t->untracked_frees);
	add_u64(o, "stack_lost", t->stack_lost);
	add_u64(o, "depth_overflow", t->depth_overflow);
	add_u64(o, "unmatched_calls", t->unmatched);
	add_u64(o, "read_failed", t->read_failed);
	add_u64(o, "exec_released_count", t->exec_released_count);
	add_u64(o, "exec_released_bytes", t->exec_released_bytes);
	return o;
}

static struct json_object *classes_arr(const struct model *m)
{
	uint64_t cnt[MS_SIZE_CLASSES], bytes[MS_SIZE_CLASSES];
	struct json_object *a = json_object_new_array();

	model__size_classes(m, cnt, bytes);
	for (int c = 0; c < MS_SIZE_CLASSES; c++) {
		struct json_object *o;

		if (!cnt[c])
			continue;
		o = json_object_new_object();
		add_u64(o, "min", c ? 1ull << (c - 1) : 0);
		add_u64(o, "max", c ? (c < 64 ? (1ull << c) - 1 : UINT64_MAX) :
				      0);
		add_u64(o, "live_count", cnt[c]);
		add_u64(o, "live_bytes", bytes[c]);
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *async_obj(const struct model *m)
{
	struct json_object *o = json_object_new_object();
	struct ms_async a;

	model__async(m, &a);
	add_u64(o, "async_allocation_count", a.async_allocation_count);
	add_u64(o, "async_allocation_bytes", a.async_allocation_bytes);
	add_u64(o, "future_state_overhead", a.future_state_overhead);
	add_u64(o, "average_future_size", a.average_future_size);
	add_u64(o, "largest_future_size", a.largest_future_size);
	add_u64(o, "task_cell_bytes", a.task_cell_bytes);
	add_u64(o, "runtime_overhead_bytes", a.runtime_overhead_bytes);
	add_u64(o, "never_finished_count", a.never_finished_count);
	add_u64(o, "tasks_alive", a.tasks_alive);
	add_u64(o, "tasks_completed", a.tasks_completed);
	add_u64(o, "tasks_cancelled", a.tasks_cancelled);
	add_u64(o, "tasks_dropped", a.tasks_dropped);
	return o;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static struct json_object *frames_arr(const struct ms_site *site)
{
	struct json_object *a = json_object_new_array();

	for (uint32_t i = 0; i < site->nframes; i++) {
		const struct ms_frame *f = &site->frames[i];
		struct json_object *o = json_object_new_object();

		add_str(o, "function", f->function);
		add_str(o, "file", f->file);
		if (f->line)
			add_u64(o, "line", f->line);
		else
			json_object_object_add(o, "line", NULL);
		add_str(o, "module", f->module);
		add_u64(o, "pc", f->pc);
		/* For memscope to symbolize later what could not be now. */
		add_str(o, "build_id", f->build_id);
		if (f->addr)
			add_u64(o, "addr", f->addr);
		else
			json_object_object_add(o, "addr", NULL);
		add_str(o, "path", f->path);
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *sites_arr(const struct model *m)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < model__site_count(m); i++) {
		const struct ms_site *site = model__site(m, (uint32_t)i);
		struct json_object *o = json_object_new_object();

		add_u64(o, "id", i);
		add_u64(o, "spawns", site->spawns);
		add_u64(o, "samples", site->samples);
		add_u64(o, "alloc_count", (uint64_t)(site->alloc_count + 0.5));
		add_u64(o, "alloc_bytes", (uint64_t)(site->alloc_bytes + 0.5));
		add_u64(o, "live_count",
			site->live_count > 0 ? (uint64_t)(site->live_count + 0.5) :
					       0);
		add_u64(o, "live_bytes",
			site->live_bytes > 0 ? (uint64_t)(site->live_bytes + 0.5) :
					       0);
		json_object_object_add(o, "frames", frames_arr(site));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *task_obj(const struct model *m,
				    const struct ms_task *t)
{
	struct json_object *o = json_object_new_object();
	const char *nf = nf_reason__name(t->nf_reason);
	bool ended = t->state == TASK_COMPLETED || t->state == TASK_CANCELLED;

	add_u64(o, "id", t->id);
	json_object_object_add(o, "kind",
			       json_object_new_string(task_kind__name(t->kind)));
	json_object_object_add(o, "state", json_object_new_string(
						   task_state__name(t->state)));
	json_object_object_add(o, "never_finished",
			       json_object_new_boolean(nf != NULL));
	json_object_object_add(o, "never_finished_reason",
			       nf ? json_object_new_string(nf) : NULL);
	if (t->parent != MS_TASK_NO_PARENT)
		add_u64(o, "parent", t->parent_id);
	else
		json_object_object_add(o, "parent", NULL);
	if (t->spawn_known)
		add_u64(o, "spawned_ns", t->spawned_ns);
	else
		json_object_object_add(o, "spawned_ns", NULL);
	if (ended)
		add_u64(o, "ended_ns", t->ended_ns);
	else
		json_object_object_add(o, "ended_ns", NULL);
	add_u64(o, "polls", t->polls);
	add_u64(o, "busy_ns", t->busy_ns);
	if (t->future_size)
		add_u64(o, "future_size", t->future_size);
	else
		json_object_object_add(o, "future_size", NULL);
	if (t->cell_size)
		add_u64(o, "cell_size", t->cell_size);
	else
		json_object_object_add(o, "cell_size", NULL);
	add_u64(o, "alloc_count", t->mem.alloc_count);
	add_u64(o, "alloc_bytes", t->mem.alloc_bytes);
	add_u64(o, "free_count", t->mem.free_count);
	add_u64(o, "free_bytes", t->mem.free_bytes);
	add_u64(o, "live_count", t->mem.live_count);
	add_u64(o, "live_bytes", t->mem.live_bytes);
	add_u64(o, "peak_live_bytes", t->mem.peak_live_bytes);
	/* What it allocated and nobody freed after it ended. */
	add_u64(o, "outliving_count", ended ? t->mem.live_count : 0);
	add_u64(o, "outliving_bytes", ended ? t->mem.live_bytes : 0);
	json_object_object_add(o, "runtime",
			       json_object_new_string(t->runtime == MS_RT_TOKIO ?
							      "tokio" :
							      "usdt"));
	add_u64(o, "key", t->key);
	if (t->nalloc_sites) {
		struct json_object *arr = json_object_new_array();

		for (uint32_t i = 0; i < t->nalloc_sites; i++) {
			const struct ms_task_site *ts = &t->alloc_sites[i];
			struct json_object *so = json_object_new_object();

			add_u64(so, "site", ts->site);
			add_u64(so, "live_bytes", ts->live_bytes > 0 ?
						  (uint64_t)(ts->live_bytes + 0.5) :
						  0);
			add_u64(so, "alloc_bytes",
				(uint64_t)(ts->alloc_bytes + 0.5));
			json_object_array_add(arr, so);
		}
		json_object_object_add(o, "alloc_sites", arr);
	}
	if (t->spawn_site != MS_NO_SITE) {
		add_u64(o, "spawn_site_id", t->spawn_site);
		json_object_object_add(o, "spawn_site",
				       frames_arr(model__site(m, t->spawn_site)));
	}
	return o;
}

static struct json_object *timeline_obj(const struct model *m)
{
	struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();

	add_u64(o, "interval_ns", 1000000000ull);
	for (size_t i = 0; i < model__sample_count(m); i++) {
		const struct ms_sample *s = model__sample_at(m, i);
		struct json_object *so = json_object_new_object();
		struct json_object *top = json_object_new_array();

		add_u64(so, "t_ns", s->t_ns);
		add_u64(so, "live_bytes", s->live_bytes);
		add_u64(so, "live_count", s->live_count);
		add_u64(so, "tasks_alive", s->tasks_alive);
		add_u64(so, "events", s->events);
		for (uint32_t j = 0; j < s->ntop; j++) {
			struct json_object *t = json_object_new_object();

			add_u64(t, "id", s->top[j].id);
			add_u64(t, "live_bytes", s->top[j].live_bytes);
			json_object_array_add(top, t);
		}
		json_object_object_add(so, "top_tasks", top);
		json_object_array_add(arr, so);
	}
	json_object_object_add(o, "samples", arr);
	return o;
}

static const char *runtime_name(enum ms_runtime rt)
{
	return rt == MS_RT_TOKIO ? "tokio" : rt == MS_RT_USDT ? "usdt" : "none";
}

struct json_object *snapshot__build(const struct model *m,
				    const struct snapshot_meta *meta)
{
	struct json_object *doc = json_object_new_object();
	struct json_object *tasks = json_object_new_array();
	struct json_object *target = json_object_new_object();
	struct json_object *warn = json_object_new_array();
	uint64_t start = model__start_ns(m);

	json_object_object_add(doc, "schema",
			       json_object_new_string(MS_SNAPSHOT_SCHEMA));
	json_object_object_add(doc, "generator",
			       json_object_new_string("memscoped " MS_VERSION));
	add_u64(target, "pid", meta->pid);
	json_object_object_add(target, "command",
			       json_object_new_string(meta->command ?: ""));
	json_object_object_add(target, "exe",
			       json_object_new_string(meta->exe ?: ""));
	json_object_object_add(target, "exited",
			       json_object_new_boolean(meta->target_exited));
	if (meta->target_exited && meta->exit_status >= 0)
		json_object_object_add(target, "exit_status",
				       json_object_new_int(meta->exit_status));
	else
		json_object_object_add(target, "exit_status", NULL);
	add_u64(target, "forks", meta->forks);
	if (meta->nexecs) {
		struct json_object *arr = json_object_new_array();

		for (unsigned i = 0; i < meta->nexecs; i++) {
			struct json_object *x = json_object_new_object();

			add_u64(x, "t_ns", meta->execs[i].t_ns);
			add_str(x, "exe", meta->execs[i].exe);
			add_str(x, "command", meta->execs[i].command);
			json_object_array_add(arr, x);
		}
		json_object_object_add(target, "execs", arr);
	}
	json_object_object_add(doc, "target", target);
	add_u64(doc, "taken_ns", meta->now_ns > start ? meta->now_ns - start : 0);
	json_object_object_add(doc, "mode", json_object_new_string(
						    meta->tasks_only ? "tasks-only" :
								       "full"));
	json_object_object_add(doc, "incomplete",
			       json_object_new_boolean(model__incomplete(m)));
	json_object_object_add(doc, "runtime", json_object_new_string(
						       runtime_name(model__runtime(m))));
	json_object_object_add(doc, "totals", totals_obj(m));
	json_object_object_add(doc, "live_by_size", classes_arr(m));
	json_object_object_add(doc, "runtime_overhead",
			       mem_obj(model__runtime_mem(m)));
	json_object_object_add(doc, "outside_tasks",
			       mem_obj(model__thread_mem(m)));
	json_object_object_add(doc, "async", async_obj(m));
	for (size_t i = 0; i < model__task_count(m); i++)
		json_object_array_add(tasks, task_obj(m, model__task(m, i)));
	json_object_object_add(doc, "tasks", tasks);
	json_object_object_add(doc, "timeline", timeline_obj(m));
	json_object_object_add(doc, "sites", sites_arr(m));
	for (const char *const *w = meta->warnings; w && *w; w++)
		json_object_array_add(warn, json_object_new_string(*w));
	json_object_object_add(doc, "warnings", warn);
	return doc;
}

int snapshot__write_json(struct json_object *doc, const char *path)
{
	struct atomicfile af;
	const char *text;
	int err;

	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	if (!text)
		return -ENOMEM;
	err = atomicfile__open(&af, path, 0600);
	if (err)
		return err;
	err = atomicfile__write(&af, text, strlen(text));
	if (!err)
		err = atomicfile__write(&af, "\n", 1);
	if (err) {
		atomicfile__abort(&af);
		return err;
	}
	return atomicfile__commit(&af);
}

int snapshot__write(const struct model *m, const struct snapshot_meta *meta,
		    const char *path)
{
	struct json_object *doc = snapshot__build(m, meta);
	int err;

	if (!doc)
		return -ENOMEM;
	err = snapshot__write_json(doc, path);
	json_object_put(doc);
	return err;
}
