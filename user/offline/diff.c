// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "offline/diff.h"
#include "offline/fmt.h"
#include "offline/table.h"

#define B(v) fmt__bytes(bb[nb++ % 8], sizeof(bb[0]), (v))

/* A task of B (or of A alone) and its counterpart in the other snapshot. */
struct pair {
	const struct snap_task *a, *b;
	int64_t delta; /* live bytes, b - a (a missing counts as 0) */
};

static uint64_t live_of(const struct snap_task *t)
{
	return t ? t->mem.live_bytes : 0;
}

static int by_delta_desc(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;
	uint64_t pid, qid;

	if (p->delta != q->delta)
		return p->delta > q->delta ? -1 : 1;
	if (live_of(p->b) != live_of(q->b))
		return live_of(p->b) > live_of(q->b) ? -1 : 1;
	pid = p->b ? p->b->id : p->a->id;
	qid = q->b ? q->b->id : q->a->id;
	return pid < qid ? -1 : pid > qid;
}

static int by_delta_asc(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;

	/* Largest drop first; equal drops in id order, like growth. */
	if (p->delta != q->delta)
		return p->delta < q->delta ? -1 : 1;
	return p->b->id < q->b->id ? -1 : p->b->id > q->b->id;
}

static const char *state_text(char *buf, size_t len, const struct snap_task *t)
{
	const char *r;

	if (!t) {
		snprintf(buf, len, "gone");
		return buf;
	}
	r = snap_reason__name(t->reason);
	snprintf(buf, len, "%s%s%s%s", snap_state__name(t->state),
		 r ? " (" : "", r ?: "", r ? ")" : "");
	return buf;
}

static void header(struct table *t, const struct snap *a, const struct snap *b,
		   const struct diff_opts *o)
{
	static const char *const head[] = { "", "A", "B", NULL };
	char d[2][64];

	table__init(t, "Snapshots", "lll", head);
	if (o->file_a || o->file_b) {
		table__row(t, 0);
		table__cell(t, "file");
		table__cell(t, "%s", o->file_a ?: "");
		table__cell(t, "%s", o->file_b ?: "");
	}
	table__row(t, 0);
	table__cell(t, "target");
	table__cell(t, "%s", a->command);
	table__cell(t, "%s", b->command);
	table__row(t, 0);
	table__cell(t, "pid");
	table__cell(t, "%" PRIu64, a->pid);
	table__cell(t, "%" PRIu64, b->pid);
	table__row(t, 0);
	table__cell(t, "taken at");
	table__cell(t, "%s", fmt__duration(d[0], sizeof(d[0]), a->taken_ns));
	table__cell(t, "%s", fmt__duration(d[1], sizeof(d[1]), b->taken_ns));
	table__row(t, 0);
	table__cell(t, "complete");
	table__cell(t, "%s", a->incomplete ? "NO" : "yes");
	table__cell(t, "%s", b->incomplete ? "NO" : "yes");
	if (b->taken_ns >= a->taken_ns)
		table__note(t, "B was taken %s after A",
			    fmt__duration(d[0], sizeof(d[0]),
					  b->taken_ns - a->taken_ns));
}

static void row_bytes(struct table *t, const char *what, uint64_t x, uint64_t y)
{
	char bb[8][64];
	unsigned nb = 0;

	table__row(t, 0);
	table__cell(t, "%s", what);
	table__cell(t, "%s", B(x));
	table__cell(t, "%s", B(y));
	table__cell(t, "%s", fmt__delta_bytes(bb[nb++], sizeof(bb[0]), x, y));
}

static void row_count(struct table *t, const char *what, uint64_t x, uint64_t y)
{
	char d[32];

	table__row(t, 0);
	table__cell(t, "%s", what);
	table__cell(t, "%" PRIu64, x);
	table__cell(t, "%" PRIu64, y);
	table__cell(t, "%s", fmt__delta_count(d, sizeof(d), x, y));
}

static void totals(struct table *t, const struct snap *a, const struct snap *b)
{
	static const char *const head[] = { "", "A", "B", "change", NULL };
	const struct snap_totals *x = &a->totals, *y = &b->totals;

	table__init(t, "Totals", "lrrr", head);
	row_bytes(t, "live bytes", x->mem.live_bytes, y->mem.live_bytes);
	row_count(t, "live blocks", x->mem.live_count, y->mem.live_count);
	row_bytes(t, "peak live bytes", x->mem.peak_live_bytes,
		  y->mem.peak_live_bytes);
	row_bytes(t, "allocated bytes", x->mem.alloc_bytes, y->mem.alloc_bytes);
	row_count(t, "allocation calls", x->mem.alloc_count,
		  y->mem.alloc_count);
	row_bytes(t, "freed bytes", x->mem.free_bytes, y->mem.free_bytes);
	row_bytes(t, "runtime overhead, live", a->runtime_overhead.live_bytes,
		  b->runtime_overhead.live_bytes);
	row_bytes(t, "outside tasks, live", a->outside_tasks.live_bytes,
		  b->outside_tasks.live_bytes);
	row_bytes(t, "async allocations", a->async.async_allocation_bytes,
		  b->async.async_allocation_bytes);
	row_bytes(t, "future state overhead", a->async.future_state_overhead,
		  b->async.future_state_overhead);
	row_count(t, "tasks seen", a->ntasks, b->ntasks);
	row_count(t, "user tasks alive", a->async.tasks_alive,
		  b->async.tasks_alive);
	row_count(t, "never finished", a->async.never_finished_count,
		  b->async.never_finished_count);
	row_count(t, "lost events", x->lost_events, y->lost_events);
}

/* Tasks in both snapshots whose live bytes moved, one way. */
static int changed(struct table *t, const struct snap *a, const struct snap *b,
		   const struct diff_opts *o, bool grew)
{
	static const char *const head[] = {
		"task",	  "state in A", "state in B", "live in A", "live in B",
		"change", "peak in B",	"spawn site", NULL
	};
	struct pair *v = calloc(b->ntasks ?: 1, sizeof(*v));
	char bb[8][64];
	char site[512];
	unsigned nb = 0;
	size_t n = 0;

	table__init(t, grew ? "Tasks that grew" : "Tasks that shrank",
		    b->has_spawn_sites ? "lllrrrrw" : "lllrrrr", head);
	table__empty(t, grew ? "no task holds more than in A" :
			       "no task holds less than in A");
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->ntasks; i++) {
		const struct snap_task *tb = &b->tasks[i];
		const struct snap_task *ta = snap__find_task(a, tb->id);
		int64_t d;

		/* Repeated ids: count each only once, for its first entry. */
		if (!ta || snap__find_task(b, tb->id) != tb)
			continue;
		d = delta__i64(ta->mem.live_bytes, tb->mem.live_bytes);
		if ((grew && d > 0) || (!grew && d < 0))
			v[n++] = (struct pair){ ta, tb, d };
	}
	qsort(v, n, sizeof(*v), grew ? by_delta_desc : by_delta_asc);
	for (size_t i = 0; i < n && i < o->top; i++) {
		table__row(t, v[i].b->reason ? TABLE_ROW_ALERT : 0);
		table__cell(t, "%" PRIu64, v[i].b->id);
		table__cell(t, "%s", state_text(bb[nb++ % 8], 64, v[i].a));
		table__cell(t, "%s", state_text(bb[nb++ % 8], 64, v[i].b));
		table__cell(t, "%s", B(v[i].a->mem.live_bytes));
		table__cell(t, "%s", B(v[i].b->mem.live_bytes));
		table__cell(t, "%s",
			    fmt__delta_bytes(bb[nb++ % 8], 64,
					     v[i].a->mem.live_bytes,
					     v[i].b->mem.live_bytes));
		table__cell(t, "%s", B(v[i].b->mem.peak_live_bytes));
		table__cell(t, "%s", fmt__site(site, sizeof(site), v[i].b));
	}
	if (n > o->top)
		table__note(t, "... and %zu more", n - o->top);
	free(v);
	return 0;
}

static int new_tasks(struct table *t, const struct snap *a,
		     const struct snap *b, const struct diff_opts *o)
{
	static const char *const head[] = { "task",	  "kind", "state",
					    "live",	  "peak", "future",
					    "spawn site", NULL };
	struct pair *v = calloc(b->ntasks ?: 1, sizeof(*v));
	char bb[8][64];
	char site[512];
	unsigned nb = 0;
	size_t n = 0;

	table__init(t, "New tasks in B",
		    b->has_spawn_sites ? "lllrrrw" : "lllrrr", head);
	table__empty(t, "none");
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->ntasks; i++) {
		const struct snap_task *tb = &b->tasks[i];

		if (!snap__find_task(a, tb->id))
			v[n++] = (struct pair){ NULL, tb,
						delta__i64(0, live_of(tb)) };
	}
	qsort(v, n, sizeof(*v), by_delta_desc);
	for (size_t i = 0; i < n && i < o->top; i++) {
		const struct snap_task *k = v[i].b;

		table__row(t, k->reason ? TABLE_ROW_ALERT : 0);
		table__cell(t, "%" PRIu64, k->id);
		table__cell(t, "%s", snap_kind__name(k->kind));
		table__cell(t, "%s", state_text(bb[nb++ % 8], 64, k));
		table__cell(t, "%s", B(k->mem.live_bytes));
		table__cell(t, "%s", B(k->mem.peak_live_bytes));
		table__cell(t, "%s",
			    k->has_future_size ? B(k->future_size) : "?");
		table__cell(t, "%s", fmt__site(site, sizeof(site), k));
	}
	if (n > o->top)
		table__note(t, "... and %zu more", n - o->top);
	free(v);
	return 0;
}

/* Alive in A; completed, cancelled or no longer listed in B. */
static int ended_tasks(struct table *t, const struct snap *a,
		       const struct snap *b, const struct diff_opts *o)
{
	static const char *const head[] = { "task",	 "state in B",
					    "live in A", "live in B",
					    "change",	 NULL };
	struct pair *v = calloc(a->ntasks ?: 1, sizeof(*v));
	char bb[8][64];
	unsigned nb = 0;
	size_t n = 0;

	table__init(t, "Tasks that ended between A and B", "llrrr", head);
	table__empty(t, "none");
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a->ntasks; i++) {
		const struct snap_task *ta = &a->tasks[i];
		const struct snap_task *tb = snap__find_task(b, ta->id);

		if (snap_task__ended(ta) || snap__find_task(a, ta->id) != ta)
			continue;
		if (tb && !snap_task__ended(tb))
			continue;
		v[n++] = (struct pair){ ta, tb,
					delta__i64(live_of(ta), live_of(tb)) };
	}
	qsort(v, n, sizeof(*v), by_delta_desc);
	for (size_t i = 0; i < n && i < o->top; i++) {
		table__row(t, v[i].b && v[i].b->reason ? TABLE_ROW_ALERT : 0);
		table__cell(t, "%" PRIu64, v[i].a->id);
		table__cell(t, "%s", state_text(bb[nb++ % 8], 64, v[i].b));
		table__cell(t, "%s", B(live_of(v[i].a)));
		table__cell(t, "%s", v[i].b ? B(live_of(v[i].b)) : "?");
		table__cell(t, "%s",
			    v[i].b ? fmt__delta_bytes(bb[nb++ % 8], 64,
						      live_of(v[i].a),
						      live_of(v[i].b)) :
				     "?");
	}
	if (n > o->top)
		table__note(t, "... and %zu more", n - o->top);
	free(v);
	return 0;
}

/* ---- by spawn site ------------------------------------------------- */

struct site_ent {
	char *key;
	bool in_b;
	uint64_t live;
};

struct site_sum {
	const char *key;
	size_t ntasks[2];
	uint64_t live[2];
	int64_t delta;
};

static int by_key(const void *x, const void *y)
{
	const struct site_ent *p = x, *q = y;

	return strcmp(p->key, q->key);
}

static int sum_by_delta(const void *x, const void *y)
{
	const struct site_sum *p = x, *q = y;

	if (p->delta != q->delta)
		return p->delta > q->delta ? -1 : 1;
	if (p->live[1] != q->live[1])
		return p->live[1] > q->live[1] ? -1 : 1;
	return strcmp(p->key, q->key);
}

static int add_sites(const struct snap *s, bool in_b, struct site_ent *e,
		     size_t *n)
{
	char buf[512];

	for (size_t i = 0; i < s->ntasks; i++) {
		const struct snap_task *t = &s->tasks[i];

		if (t->nframes)
			fmt__frame(buf, sizeof(buf), &t->spawn_site[0]);
		else
			snprintf(buf, sizeof(buf), "(no spawn site)");
		e[*n].key = strdup(buf);
		if (!e[*n].key)
			return -ENOMEM;
		e[*n].in_b = in_b;
		e[*n].live = t->mem.live_bytes;
		(*n)++;
	}
	return 0;
}

static int sites(struct table *t, const struct snap *a, const struct snap *b,
		 const struct diff_opts *o)
{
	static const char *const head[] = { "spawn site", "tasks in A",
					    "tasks in B", "live in A",
					    "live in B",  "change",
					    NULL };
	size_t n = 0, ns = 0, total = a->ntasks + b->ntasks;
	struct site_ent *e = calloc(total ?: 1, sizeof(*e));
	struct site_sum *sum = calloc(total ?: 1, sizeof(*sum));
	char bb[8][64];
	unsigned nb = 0;
	int err;

	table__init(t, "By spawn site", "wrrrrr", head);
	table__empty(t, "no spawn sites in these snapshots");
	err = !e || !sum ? -ENOMEM : 0;
	err = err ?: add_sites(a, false, e, &n);
	err = err ?: add_sites(b, true, e, &n);
	if (err)
		goto out;
	qsort(e, n, sizeof(*e), by_key);
	for (size_t i = 0; i < n; i++) {
		struct site_sum *cur;

		if (!ns || strcmp(sum[ns - 1].key, e[i].key))
			sum[ns++].key = e[i].key;
		cur = &sum[ns - 1];
		cur->ntasks[e[i].in_b]++;
		/* Saturate: a hostile file must not wrap the sums. */
		cur->live[e[i].in_b] =
			cur->live[e[i].in_b] + e[i].live < e[i].live ?
				UINT64_MAX :
				cur->live[e[i].in_b] + e[i].live;
	}
	for (size_t i = 0; i < ns; i++)
		sum[i].delta = delta__i64(sum[i].live[0], sum[i].live[1]);
	qsort(sum, ns, sizeof(*sum), sum_by_delta);
	for (size_t i = 0; i < ns && i < o->top; i++) {
		table__row(t, 0);
		table__cell(t, "%s", sum[i].key);
		table__cell(t, "%zu", sum[i].ntasks[0]);
		table__cell(t, "%zu", sum[i].ntasks[1]);
		table__cell(t, "%s", B(sum[i].live[0]));
		table__cell(t, "%s", B(sum[i].live[1]));
		table__cell(t, "%s",
			    fmt__delta_bytes(bb[nb++ % 8], 64, sum[i].live[0],
					     sum[i].live[1]));
	}
	if (ns > o->top)
		table__note(t, "... and %zu more", ns - o->top);
	table__note(t,
		    "tasks grouped by the innermost frame of their spawn site");
out:
	for (size_t i = 0; i < n; i++)
		free(e[i].key);
	free(e);
	free(sum);
	return err;
}

static int new_never_finished(struct table *t, const struct snap *a,
			      const struct snap *b, const struct diff_opts *o)
{
	static const char *const head[] = { "task",	  "reason", "state",
					    "held",	  "age",    "polls",
					    "spawn site", NULL };
	struct pair *v = calloc(b->ntasks ?: 1, sizeof(*v));
	char bb[8][64];
	char site[512];
	unsigned nb = 0;
	size_t n = 0;

	table__init(t, "New never-finished tasks in B",
		    b->has_spawn_sites ? "llrrrrw" : "llrrrr", head);
	table__empty(t, "none");
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < b->ntasks; i++) {
		const struct snap_task *tb = &b->tasks[i];
		const struct snap_task *ta = snap__find_task(a, tb->id);

		if (tb->reason && (!ta || !ta->reason))
			v[n++] = (struct pair){ ta, tb,
						delta__i64(0, live_of(tb)) };
	}
	qsort(v, n, sizeof(*v), by_delta_desc);
	for (size_t i = 0; i < n && i < o->top; i++) {
		const struct snap_task *k = v[i].b;

		table__row(t, TABLE_ROW_ALERT);
		table__cell(t, "%" PRIu64, k->id);
		table__cell(t, "%s", snap_reason__name(k->reason));
		table__cell(t, "%s", snap_state__name(k->state));
		table__cell(t, "%s", B(k->mem.live_bytes));
		table__cell(t, "%s", fmt__age(bb[nb++ % 8], 64, b, k));
		table__cell(t, "%" PRIu64, k->polls);
		table__cell(t, "%s", fmt__site(site, sizeof(site), k));
	}
	if (n > o->top)
		table__note(t, "... and %zu more", n - o->top);
	free(v);
	return 0;
}

enum { D_HEAD, D_TOTALS, D_GREW, D_SHRANK, D_NEW, D_ENDED, D_SITES, D_NF, D_N };

int diff__text(FILE *f, const struct snap *a, const struct snap *b,
	       const struct diff_opts *o)
{
	struct table t[D_N];
	int err = 0;

	memset(t, 0, sizeof(t));
	header(&t[D_HEAD], a, b, o);
	totals(&t[D_TOTALS], a, b);
	err = err ?: changed(&t[D_GREW], a, b, o, true);
	err = err ?: changed(&t[D_SHRANK], a, b, o, false);
	err = err ?: new_tasks(&t[D_NEW], a, b, o);
	err = err ?: ended_tasks(&t[D_ENDED], a, b, o);
	if (!err && (a->has_spawn_sites || b->has_spawn_sites))
		err = sites(&t[D_SITES], a, b, o);
	err = err ?: new_never_finished(&t[D_NF], a, b, o);
	if (err)
		goto out;
	fputs("memscope diff: what changed from A to B\n\n", f);
	if (a->pid != b->pid || strcmp(a->command, b->command))
		fputs("!!! A and B may not be snapshots of the same process (different pid or command) !!!\n\n",
		      f);
	if (b->taken_ns < a->taken_ns)
		fputs("!!! B was taken before A: the changes below run backwards !!!\n\n",
		      f);
	if (a->incomplete || b->incomplete)
		fputs("!!! INCOMPLETE SNAPSHOT: events were lost or missed, figures may be low !!!\n\n",
		      f);
	for (int i = 0; i < D_N && !err; i++)
		if (t[i].title)
			err = table__print_text(f, &t[i]);
out:
	for (int i = 0; i < D_N; i++)
		table__free(&t[i]);
	return err;
}
