// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "offline/fmt.h"
#include "offline/report.h"

#define B(v) fmt__bytes(b[nb++ % 8], sizeof(b[0]), (v))

static int cmp_u64_desc(uint64_t x, uint64_t y)
{
	return x > y ? -1 : x < y ? 1 : 0;
}

static int by_id(const struct snap_task *x, const struct snap_task *y)
{
	return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

static int by_live(const void *a, const void *b)
{
	const struct snap_task *x = *(const struct snap_task *const *)a;
	const struct snap_task *y = *(const struct snap_task *const *)b;

	return cmp_u64_desc(x->mem.live_bytes, y->mem.live_bytes) ?:
		       cmp_u64_desc(x->mem.peak_live_bytes, y->mem.peak_live_bytes) ?:
		       by_id(x, y);
}

static int by_peak(const void *a, const void *b)
{
	const struct snap_task *x = *(const struct snap_task *const *)a;
	const struct snap_task *y = *(const struct snap_task *const *)b;

	return cmp_u64_desc(x->mem.peak_live_bytes, y->mem.peak_live_bytes) ?:
		       cmp_u64_desc(x->mem.live_bytes, y->mem.live_bytes)   ?:
		       by_id(x, y);
}

/* Tasks passing keep(), sorted; *n is how many. Caller frees. */
static const struct snap_task **
pick_tasks(const struct snap *s, bool (*keep)(const struct snap_task *),
	   int (*cmp)(const void *, const void *), size_t *n)
{
	const struct snap_task **v = calloc(s->ntasks ?: 1, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	for (size_t i = 0; i < s->ntasks; i++)
		if (keep(&s->tasks[i]))
			v[(*n)++] = &s->tasks[i];
	qsort(v, *n, sizeof(*v), cmp);
	return v;
}

static bool is_nf(const struct snap_task *t)
{
	return t->reason != SNAP_NF_NONE;
}

static bool holds(const struct snap_task *t)
{
	return t->mem.live_bytes > 0;
}

static bool peaked(const struct snap_task *t)
{
	return t->mem.peak_live_bytes > 0;
}

static int alert(struct report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int alert(struct report *r, const char *fmt, ...)
{
	char **a = realloc(r->alerts, (r->nalerts + 1) * sizeof(*a));
	va_list ap;
	int n;

	if (!a)
		return -ENOMEM;
	r->alerts = a;
	va_start(ap, fmt);
	n = vasprintf(&a[r->nalerts], fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	r->nalerts++;
	return 0;
}

static void kv(struct table *t, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void kv(struct table *t, const char *key, const char *fmt, ...)
{
	char *v = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->err = -ENOMEM;
		return;
	}
	table__row(t, 0);
	table__cell(t, "%s", key);
	table__cell(t, "%s", v);
	free(v);
}

static const char *exit_text(char *buf, size_t len, const struct snap *s)
{
	if (!s->exited)
		snprintf(buf, len, "running when the snapshot was taken");
	else if (!s->has_exit_status)
		snprintf(buf, len, "exited");
	else if (s->exit_status > 128 && s->exit_status < 128 + 65)
		snprintf(buf, len, "killed by signal %" PRId64,
			 s->exit_status - 128);
	else
		snprintf(buf, len, "exited with status %" PRId64,
			 s->exit_status);
	return buf;
}

static void sec_snapshot(struct table *t, const struct snap *s,
			 const struct report_opts *o)
{
	char b[8][64];
	unsigned nb = 0;
	const struct snap_totals *tt = &s->totals;

	table__init(t, "Snapshot", "ll", NULL);
	if (o->file)
		kv(t, "file", "%s", o->file);
	kv(t, "target", "%s", *s->command ? s->command : s->exe);
	kv(t, "pid", "%" PRIu64, s->pid);
	if (strcmp(s->exe, s->command))
		kv(t, "executable", "%s", s->exe);
	kv(t, "status", "%s", exit_text(b[nb++], sizeof(b[0]), s));
	kv(t, "runtime", "%s", s->runtime);
	kv(t, "mode", "%s%s", s->mode,
	   s->tasks_only ? " (no allocator probes: memory figures are 0)" : "");
	for (size_t i = 0; i < s->nallocators; i++)
		kv(t, i ? "" : "allocators", "%s", s->allocators[i]);
	if (!s->nallocators && !s->tasks_only)
		kv(t, "allocators", "%s", "none recorded in this snapshot");
	kv(t, "duration", "%s traced when the snapshot was taken",
	   fmt__duration(b[nb++], sizeof(b[0]), s->taken_ns));
	kv(t, "events", "%" PRIu64 " records, %" PRIu64 " lost", tt->records,
	   tt->lost_events);
	kv(t, "complete", "%s",
	   s->incomplete ?
		   "NO: events were lost or missed, figures may be low" :
		   "yes");
	if (s->generator)
		kv(t, "generator", "%s", s->generator);
}

static void sec_memory(struct table *t, const struct snap *s)
{
	const struct snap_totals *tt = &s->totals;
	char b[8][64];
	unsigned nb = 0;

	table__init(t, "Memory", "ll", NULL);
	kv(t, "live now", "%s in %" PRIu64 " blocks",
	   fmt__bytes_exact(b[nb++], sizeof(b[0]), tt->mem.live_bytes),
	   tt->mem.live_count);
	kv(t, "peak live", "%s",
	   fmt__bytes_exact(b[nb++], sizeof(b[0]), tt->mem.peak_live_bytes));
	kv(t, "allocated", "%s in %" PRIu64 " calls",
	   fmt__bytes_exact(b[nb++], sizeof(b[0]), tt->mem.alloc_bytes),
	   tt->mem.alloc_count);
	kv(t, "freed", "%s in %" PRIu64 " calls",
	   fmt__bytes_exact(b[nb++], sizeof(b[0]), tt->mem.free_bytes),
	   tt->mem.free_count);
	kv(t, "untracked frees",
	   "%" PRIu64 " (blocks allocated before tracing or by glibc itself)",
	   tt->untracked_frees);
	if (tt->stale_allocs)
		kv(t, "stale allocations", "%" PRIu64 " (a free was missed)",
		   tt->stale_allocs);
	if (tt->kernel_no_state)
		kv(t, "missed events",
		   "%" PRIu64 " (no per-thread kernel state)",
		   tt->kernel_no_state);
	if (tt->bad_records)
		kv(t, "bad records", "%" PRIu64, tt->bad_records);
}

static void sec_async(struct table *t, const struct snap *s)
{
	const struct snap_async *a = &s->async;
	char b[8][64];
	unsigned nb = 0;
	size_t nrt = 0;

	for (size_t i = 0; i < s->ntasks; i++)
		nrt += s->tasks[i].kind == SNAP_KIND_RUNTIME;
	table__init(t, "Async analysis", "ll", NULL);
	kv(t, "async allocations", "%" PRIu64 " (%s)",
	   a->async_allocation_count, B(a->async_allocation_bytes));
	kv(t, "future state overhead", "%s (sum of user tasks' future sizes)",
	   fmt__bytes_exact(b[nb++], sizeof(b[0]), a->future_state_overhead));
	kv(t, "average future size", "%s",
	   fmt__bytes_exact(b[nb++], sizeof(b[0]), a->average_future_size));
	kv(t, "largest future size", "%s",
	   fmt__bytes_exact(b[nb++], sizeof(b[0]), a->largest_future_size));
	if (a->has_task_cell_bytes)
		kv(t, "task cells",
		   "%s (the runtime's allocation per user task: header, future or its box, trailer)",
		   fmt__bytes_exact(b[nb++], sizeof(b[0]), a->task_cell_bytes));
	kv(t, "runtime overhead", "%s (runtime threads, outside any task)",
	   fmt__bytes_exact(b[nb++], sizeof(b[0]), a->runtime_overhead_bytes));
	kv(t, "user tasks",
	   "%" PRIu64 " alive, %" PRIu64 " completed, %" PRIu64 " cancelled",
	   a->tasks_alive, a->tasks_completed, a->tasks_cancelled);
	kv(t, "runtime tasks", "%zu", nrt);
	kv(t, "never finished", "%" PRIu64, a->never_finished_count);
}

static const char *const reason_help[] = {
	[SNAP_NF_ABORTED] = "aborted: cancelled before it completed",
	[SNAP_NF_NO_WAKER] =
		"no-waker: pending with no waker left, it can never be woken",
	[SNAP_NF_PENDING] = "pending: still pending past the threshold",
	[SNAP_NF_SHUTDOWN] = "shutdown: alive when the runtime shut down",
};

static void sec_never_finished(struct table *t, const struct snap *s,
			       const struct report_opts *o)
{
	static const char *const head[] = { "task",  "reason", "state",
					    "held",  "peak",   "age",
					    "polls", "future", "spawn site",
					    NULL };
	const struct snap_task **v;
	size_t nreason[5] = { 0 }, limit = o->top * 5;
	char b[8][64];
	char site[512];
	unsigned nb = 0;
	size_t n;

	table__init(t, "Tasks that never finished",
		    s->has_spawn_sites ? "llrrrrrrw" : "llrrrrrr", head);
	table__empty(
		t,
		"none: every task finished or is still within the never-finished threshold");
	v = pick_tasks(s, is_nf, by_live, &n);
	if (!v) {
		t->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n; i++)
		nreason[v[i]->reason]++;
	/* The ones holding the most first; thousands of rows help nobody. */
	for (size_t i = 0; i < n && i < limit; i++) {
		const struct snap_task *k = v[i];

		table__row(t, TABLE_ROW_ALERT);
		table__cell(t, "%" PRIu64, k->id);
		table__cell(t, "%s", snap_reason__name(k->reason));
		table__cell(t, "%s", snap_state__name(k->state));
		table__cell(t, "%s", B(k->mem.live_bytes));
		table__cell(t, "%s", B(k->mem.peak_live_bytes));
		table__cell(t, "%s", fmt__age(b[nb++ % 8], 64, s, k));
		table__cell(t, "%" PRIu64, k->polls);
		table__cell(t, "%s",
			    k->has_future_size ? B(k->future_size) : "?");
		table__cell(t, "%s", fmt__site(site, sizeof(site), k));
	}
	if (n > limit)
		table__note(
			t,
			"... and %zu more (%zu in all: %zu aborted, %zu no-waker, %zu pending, %zu shutdown)",
			n - limit, n, nreason[SNAP_NF_ABORTED],
			nreason[SNAP_NF_NO_WAKER], nreason[SNAP_NF_PENDING],
			nreason[SNAP_NF_SHUTDOWN]);
	for (int r = 1; r < 5; r++)
		if (nreason[r])
			table__note(t, "%s", reason_help[r]);
	free(v);
}

static void sec_largest(struct table *t, const struct snap *s,
			const struct report_opts *o, bool peak)
{
	static const char *const head_live[] = {
		"task",	     "kind",  "state",	"live",	      "blocks", "peak",
		"allocated", "polls", "future", "spawn site", NULL
	};
	static const char *const head_peak[] = {
		"task",	  "kind",  "state",  "peak",	   "live", "allocated",
		"allocs", "polls", "future", "spawn site", NULL
	};
	const struct snap_task **v;
	char b[8][64];
	char site[512];
	unsigned nb = 0;
	size_t n;

	table__init(t,
		    peak ? "Largest tasks by peak" :
			   "Largest tasks by live bytes",
		    s->has_spawn_sites ? "lllrrrrrrw" : "lllrrrrrr",
		    peak ? head_peak : head_live);
	table__empty(t, peak ? "no task allocated memory" :
			       "no task holds memory now");
	v = pick_tasks(s, peak ? peaked : holds, peak ? by_peak : by_live, &n);
	if (!v) {
		t->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n && i < o->top; i++) {
		const struct snap_task *k = v[i];
		const char *r = snap_reason__name(k->reason);

		table__row(t, r ? TABLE_ROW_ALERT : 0);
		table__cell(t, "%" PRIu64, k->id);
		table__cell(t, "%s", snap_kind__name(k->kind));
		table__cell(t, "%s%s%s%s", snap_state__name(k->state),
			    r ? " (" : "", r ?: "", r ? ")" : "");
		if (peak) {
			table__cell(t, "%s", B(k->mem.peak_live_bytes));
			table__cell(t, "%s", B(k->mem.live_bytes));
			table__cell(t, "%s", B(k->mem.alloc_bytes));
			table__cell(t, "%" PRIu64, k->mem.alloc_count);
		} else {
			table__cell(t, "%s", B(k->mem.live_bytes));
			table__cell(t, "%" PRIu64, k->mem.live_count);
			table__cell(t, "%s", B(k->mem.peak_live_bytes));
			table__cell(t, "%s", B(k->mem.alloc_bytes));
		}
		table__cell(t, "%" PRIu64, k->polls);
		table__cell(t, "%s",
			    k->has_future_size ? B(k->future_size) : "?");
		table__cell(t, "%s", fmt__site(site, sizeof(site), k));
	}
	if (n > o->top)
		table__note(t, "... and %zu more tasks", n - o->top);
	free(v);
}

static bool paged(const struct snap_task *t)
{
	return t->has_pages && t->pages.resident_bytes > 0;
}

static int by_paged(const void *a, const void *b)
{
	const struct snap_task *x = *(const struct snap_task *const *)a;
	const struct snap_task *y = *(const struct snap_task *const *)b;

	return cmp_u64_desc(x->pages.resident_bytes, y->pages.resident_bytes) ?:
		       by_id(x, y);
}

static void pages_row(struct table *t, const char *owner, const char *kind,
		      const struct snap_pages *p)
{
	char b[8][64];
	unsigned nb = 0;

	table__row(t, 0);
	table__cell(t, "%s", owner);
	table__cell(t, "%s", kind);
	table__cell(t, "%s", B(p->resident_bytes));
	table__cell(t, "%s", B(p->peak_resident_bytes));
	table__cell(t, "%s", B(p->fault_bytes));
	table__cell(t, "%" PRIu64, p->faults);
	table__cell(t, "%s", B(p->released_bytes));
}

/* Page-level mode: resident memory from the kernel's pages, by owner. */
static void sec_pages(struct table *t, const struct snap *s,
		      const struct report_opts *o)
{
	static const char *const head[] = { "owner",  "kind",	 "resident",
					    "peak",   "touched", "faults",
					    "let go", NULL };
	const struct snap_task **v;
	char id[32];
	size_t n;

	if (!s->page_level)
		return;
	table__init(t, "Page level (resident memory by task)", "llrrrrr", head);
	pages_row(t, "process", "all", &s->pages);
	pages_row(t, "runtime", "outside tasks", &s->pages_runtime);
	pages_row(t, "threads", "outside tasks", &s->pages_outside);
	v = pick_tasks(s, paged, by_paged, &n);
	if (!v) {
		t->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < n && i < o->top; i++) {
		snprintf(id, sizeof(id), "task %" PRIu64, v[i]->id);
		pages_row(t, id, snap_kind__name(v[i]->kind), &v[i]->pages);
	}
	if (n > o->top)
		table__note(t, "... and %zu more tasks", n - o->top);
	free(v);
	table__note(t, "page-level: %s",
		    s->page_reason ?: "no allocator could be probed");
	table__note(
		t,
		"page-level: anonymous pages the kernel gave each owner's threads on first write (a huge page whole), less those let go by munmap, madvise, brk or an mmap or mremap over them");
	table__note(t,
		    "calls seen: mmap %" PRIu64 ", munmap %" PRIu64
		    ", brk %" PRIu64 ", madvise %" PRIu64 ", mremap %" PRIu64,
		    s->mmap_count, s->munmap_count, s->brk_count,
		    s->madvise_count, s->mremap_count);
	if (s->pages_guessed)
		table__note(
			t,
			"%" PRIu64
			" faults counted as base pages: their region could not be looked up",
			s->pages_guessed);
}

static int by_site_live(const void *a, const void *b)
{
	const struct snap_site *x = *(const struct snap_site *const *)a;
	const struct snap_site *y = *(const struct snap_site *const *)b;

	return cmp_u64_desc(x->live_bytes, y->live_bytes)	    ?:
		       cmp_u64_desc(x->alloc_bytes, y->alloc_bytes) ?:
		       (x->id > y->id) - (x->id < y->id);
}

/* True when no name was found for the frame, only its module address. */
static bool unnamed(const struct snap_frame *f)
{
	return !(f->function && *f->function) && !(f->file && *f->file) &&
	       f->addr;
}

static void sec_sites(struct table *t, const struct snap *s,
		      const struct report_opts *o)
{
	static const char *const head[] = {
		"live",	   "allocated",	      "allocs",
		"samples", "allocation site", NULL
	};
	const struct snap_site **v = calloc(s->nsites ?: 1, sizeof(*v));
	char b[8][64], site[512];
	unsigned nb = 0;
	size_t n = 0;
	bool anon = false;

	table__init(t, "Allocation sites", "rrrrw", head);
	table__empty(
		t,
		"no sampled allocation stacks (memscoped --sample-bytes 0 or --tasks-only, or an older snapshot)");
	if (!v) {
		t->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < s->nsites; i++)
		if (s->sites[i].samples && s->sites[i].nframes)
			v[n++] = &s->sites[i];
	qsort(v, n, sizeof(*v), by_site_live);
	for (size_t i = 0; i < n && i < o->top; i++) {
		const struct snap_site *st = v[i];

		table__row(t, 0);
		table__cell(t, "%s", B(st->live_bytes));
		table__cell(t, "%s", B(st->alloc_bytes));
		table__cell(t, "%" PRIu64, st->alloc_count);
		table__cell(t, "%" PRIu64, st->samples);
		table__cell(t, "%s",
			    fmt__frame(site, sizeof(site), &st->frames[0]));
		anon |= unnamed(&st->frames[0]);
	}
	if (n > o->top)
		table__note(t, "... and %zu more sites", n - o->top);
	if (n)
		table__note(
			t,
			"estimates from sampled allocation stacks (memscoped --sample-bytes); the innermost frame, runtime and allocator frames folded");
	if (anon)
		table__note(
			t,
			"module+0xADDR: no debug file found for that build; memscope report --debug-dir DIR names it from DIR/.build-id/");
	free(v);
}

static void sec_classes(struct table *t, const struct snap *s)
{
	static const char *const head[] = { "size class", "blocks", "bytes",
					    "share", NULL };
	uint64_t total = 0;
	char b[8][64];
	unsigned nb = 0;

	table__init(t, "Live allocations by size class", "lrrr", head);
	table__empty(t, s->tasks_only ? "no data: tasks-only mode" :
					"no live allocations");
	for (size_t i = 0; i < s->nclasses; i++)
		total += s->classes[i].live_bytes;
	for (size_t i = 0; i < s->nclasses; i++) {
		const struct snap_class *c = &s->classes[i];
		const char *lo = B(c->min);

		/* Classes are powers of two: [min, max + 1) reads cleanly. */
		table__row(t, 0);
		if (c->max == UINT64_MAX)
			table__cell(t, "[%s, max]", lo);
		else
			table__cell(t, "[%s, %s)", lo, B(c->max + 1));
		table__cell(t, "%" PRIu64, c->live_count);
		table__cell(t, "%s", B(c->live_bytes));
		table__cell(t, "%.1f %%",
			    total ? 100.0 * (double)c->live_bytes /
					    (double)total :
				    0.0);
	}
}

static void mem_row(struct table *t, const char *name, const struct snap_mem *m)
{
	char b[8][64];
	unsigned nb = 0;

	table__row(t, 0);
	table__cell(t, "%s", name);
	table__cell(t, "%s", B(m->live_bytes));
	table__cell(t, "%" PRIu64, m->live_count);
	table__cell(t, "%s", B(m->peak_live_bytes));
	table__cell(t, "%s", B(m->alloc_bytes));
	table__cell(t, "%" PRIu64, m->alloc_count);
	table__cell(t, "%s", B(m->free_bytes));
}

static void sec_outside(struct table *t, const struct snap *s)
{
	static const char *const head[] = { "where", "live",	  "blocks",
					    "peak",  "allocated", "allocs",
					    "freed", NULL };

	table__init(t, "Runtime overhead and memory outside tasks", "lrrrrrr",
		    head);
	mem_row(t, "runtime overhead", &s->runtime_overhead);
	mem_row(t, "outside tasks", &s->outside_tasks);
	table__note(
		t,
		"runtime overhead: allocations on runtime threads (workers, threads that poll tasks) outside any task");
	table__note(
		t,
		"outside tasks: allocations on other threads (main, plain threads)");
}

static void sec_warnings(struct table *t, const struct snap *s)
{
	table__init(t, "Warnings", "l", NULL);
	table__empty(t, "none");
	for (size_t i = 0; i < s->nwarnings; i++) {
		table__row(t, 0);
		table__cell(t, "%s", s->warnings[i]);
	}
	if (s->tasks_only) {
		table__row(t, 0);
		table__cell(
			t,
			"tasks-only mode: memscoped did not probe the allocator, memory figures are 0");
	}
}

int report__build(const struct snap *s, const struct report_opts *o,
		  struct report *r)
{
	const struct snap_totals *tt = &s->totals;
	int err = 0;

	memset(r, 0, sizeof(*r));
	if (s->incomplete)
		err = alert(r,
			    "INCOMPLETE SNAPSHOT: %" PRIu64
			    " events lost, %" PRIu64 " missed, %" PRIu64
			    " stale allocations: memory figures may be low",
			    tt->lost_events, tt->kernel_no_state,
			    tt->stale_allocs);
	else if (tt->lost_events)
		err = alert(r, "%" PRIu64 " events lost: figures may be low",
			    tt->lost_events);
	if (err)
		goto err_free;
	sec_snapshot(&r->sec[REP_SNAPSHOT], s, o);
	sec_memory(&r->sec[REP_MEMORY], s);
	sec_async(&r->sec[REP_ASYNC], s);
	sec_never_finished(&r->sec[REP_NEVER_FINISHED], s, o);
	sec_pages(&r->sec[REP_PAGES], s, o);
	sec_largest(&r->sec[REP_BY_LIVE], s, o, false);
	sec_largest(&r->sec[REP_BY_PEAK], s, o, true);
	sec_sites(&r->sec[REP_SITES], s, o);
	sec_classes(&r->sec[REP_CLASSES], s);
	sec_outside(&r->sec[REP_OUTSIDE], s);
	sec_warnings(&r->sec[REP_WARNINGS], s);
	for (int i = 0; i < REP_NSECS; i++) {
		if (r->sec[i].err) {
			err = r->sec[i].err;
			goto err_free;
		}
	}
	return 0;

err_free:
	report__free(r);
	return err;
}

void report__free(struct report *r)
{
	for (size_t i = 0; i < r->nalerts; i++)
		free(r->alerts[i]);
	free(r->alerts);
	for (int i = 0; i < REP_NSECS; i++)
		table__free(&r->sec[i]);
	memset(r, 0, sizeof(*r));
}

int report__text(FILE *f, const struct snap *s, const struct report_opts *o)
{
	struct report r;
	int err;

	err = report__build(s, o, &r);
	if (err)
		return err;
	fputs("memscope report\n\n", f);
	for (size_t i = 0; i < r.nalerts; i++) {
		fputs("!!! ", f);
		esc__text(f, r.alerts[i]);
		fputs(" !!!\n\n", f);
	}
	for (int i = 0; i < REP_NSECS && !err; i++)
		err = table__print_text(f, &r.sec[i]);
	report__free(&r);
	return err;
}
