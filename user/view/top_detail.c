// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/top_int.h"

/* ---- detail and help --------------------------------------------------- */

struct text {
	struct top_line *lines;
	size_t n, max;
};

static struct top_line *text_line(struct text *x)
{
	static struct top_line sink; /* past max: written, never shown */
	struct top_line *l = x->n < x->max ? &x->lines[x->n] : &sink;

	x->n += x->n < x->max;
	top_line__clear(l);
	return l;
}

static void text_kv(struct text *x, const char *key, enum top_hl hl,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void text_kv(struct text *x, const char *key, enum top_hl hl,
		    const char *fmt, ...)
{
	struct top_line *l = text_line(x);
	va_list ap;

	top_line__add(l, TOP_HL_LABEL, "   %-12s", key);
	va_start(ap, fmt);
	top_line__vadd(l, hl, fmt, ap);
	va_end(ap);
}

static void text_section(struct text *x, const char *title)
{
	text_line(x);
	top_line__add(text_line(x), TOP_HL_SECTION, " %s", title);
}

/* "100000 B (97.7K)": exact, and readable. */
static const char *both_bytes(char *buf, size_t len, uint64_t b)
{
	char h[32];

	if (b < 1024)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%" PRIu64 " B (%s)", b,
			 top_fmt__bytes(h, sizeof(h), b, false));
	return buf;
}

static void detail_mem(struct text *x, const struct ms_mem *mm)
{
	char b[64];

	text_kv(x, "live", TOP_HL_VALUE, "%s in %" PRIu64 " block%s",
		both_bytes(b, sizeof(b), mm->live_bytes), mm->live_count,
		mm->live_count == 1 ? "" : "s");
	text_kv(x, "peak", TOP_HL_VALUE, "%s",
		both_bytes(b, sizeof(b), mm->peak_live_bytes));
	text_kv(x, "allocated", TOP_HL_VALUE, "%s in %" PRIu64 " call%s",
		both_bytes(b, sizeof(b), mm->alloc_bytes), mm->alloc_count,
		mm->alloc_count == 1 ? "" : "s");
	text_kv(x, "freed", TOP_HL_VALUE, "%s in %" PRIu64 " call%s",
		both_bytes(b, sizeof(b), mm->free_bytes), mm->free_count,
		mm->free_count == 1 ? "" : "s");
}

static const char *nf_why(enum nf_reason r)
{
	switch (r) {
	case NF_ABORTED:
		return "cancelled before it completed";
	case NF_NO_WAKER:
		return "pending, and nothing holds its waker: it can never be woken";
	case NF_PENDING:
		return "still pending past the --never-finished threshold";
	case NF_SHUTDOWN:
		return "still alive when the runtime shut down";
	default:
		return "";
	}
}

static void task_ref(char *buf, size_t len, const struct ms_task *t, bool exact)
{
	const char *nf = nf_reason__name(t->nf_reason);
	char b[32];

	snprintf(buf, len, "%-10" PRIu64 " %-7s %-9s %-8s live %s", t->id,
		 task_kind__name(t->kind), task_state__name(t->state),
		 nf ? nf : "",
		 top_fmt__bytes(b, sizeof(b), t->mem.live_bytes, exact));
}

static void detail_special(struct text *x, const struct top_src *s,
			   uint32_t row)
{
	struct top_line *l = text_line(x);

	top_line__add(l, TOP_HL_SPECIAL, " %s",
		      row == TOP_ROW_RUNTIME ? "Runtime overhead" :
					       "Outside tasks");
	text_kv(x, "", TOP_HL_DIM, "%s",
		row == TOP_ROW_RUNTIME ?
			"allocations made outside any task on runtime threads (workers, threads that poll tasks)" :
			"allocations made outside any task on other threads (main, plain threads)");
	text_section(x, "Memory");
	detail_mem(x, top_special__mem(s, row));
}

/* " Task 7  user, pending  (tokio)  NEVER FINISHED: ..." and why. */
static void detail_title(struct text *x, const struct ms_task *t,
			 const char *nf)
{
	struct top_line *l = text_line(x);

	top_line__add(l, TOP_HL_SECTION, " Task %" PRIu64, t->id);
	top_line__add(l, TOP_HL_NORMAL, "  %s, %s", task_kind__name(t->kind),
		      task_state__name(t->state));
	top_line__add(l, TOP_HL_DIM, "  (%s)",
		      t->runtime == MS_RT_TOKIO ? "tokio" : "usdt");
	if (nf) {
		top_line__add(l, TOP_HL_NORMAL, "  ");
		top_line__add(l, TOP_HL_NF, "NEVER FINISHED: %s", nf);
	}
	if (nf)
		text_kv(x, "", TOP_HL_NF, "%s", nf_why(t->nf_reason));
}

static void detail_task_mem(struct text *x, const struct ms_task *t)
{
	char b[64];

	text_section(x, "Memory");
	detail_mem(x, &t->mem);
	if (top_task__ended(t) && t->mem.live_bytes)
		text_kv(x, "outliving", TOP_HL_ALERT,
			"%s still live after it ended",
			both_bytes(b, sizeof(b), t->mem.live_bytes));
	if (t->future_size)
		text_kv(x, "future", TOP_HL_VALUE, "%s",
			both_bytes(b, sizeof(b), t->future_size));
	else
		text_kv(x, "future", TOP_HL_DIM, "unknown");
	if (t->cell_size)
		text_kv(x, "task cell", TOP_HL_VALUE,
			"%s  (tokio's allocation for the task)",
			both_bytes(b, sizeof(b), t->cell_size));
}

static void detail_activity(struct text *x, const struct ms_task *t,
			    uint64_t age)
{
	char b[64], b2[64];

	text_section(x, "Activity");
	text_kv(x, "age", TOP_HL_VALUE, "%s%s%s",
		t->spawn_known ? "" : "at least ",
		top_fmt__age(b, sizeof(b), age),
		top_task__ended(t) ? " (its lifetime)" : "");
	text_kv(x, "polls", TOP_HL_VALUE, "%" PRIu64 ", busy %.3f ms (%s%%)",
		t->polls, (double)t->busy_ns / 1e6,
		top_fmt__pct(b2, sizeof(b2), t->busy_ns, age));
}

/* The parent, then the children: task row's, by a pass over all tasks. */
static void detail_family(struct text *x, const struct top_src *s, uint32_t row,
			  const struct ms_task *t, const struct top_ui *ui)
{
	char line[320];
	size_t nchild = 0;

	text_section(x, "Family");
	if (t->parent != MS_TASK_NO_PARENT && top_src__task(s, t->parent)) {
		task_ref(line, sizeof(line), top_src__task(s, t->parent),
			 ui->exact);
		text_kv(x, "parent", TOP_HL_NORMAL, "%s", line);
	} else {
		text_kv(x, "parent", TOP_HL_DIM, "none known");
	}
	for (size_t i = 0; i < s->ntasks; i++)
		nchild += top_src__task(s, i)->parent == row;
	if (!nchild)
		text_kv(x, "children", TOP_HL_DIM, "none");
	else
		text_kv(x, "children", TOP_HL_VALUE, "%zu", nchild);
	for (size_t i = 0; i < s->ntasks && nchild; i++) {
		const struct ms_task *c = top_src__task(s, i);

		if (c->parent != row)
			continue;
		task_ref(line, sizeof(line), c, ui->exact);
		text_kv(x, "",
			c->nf_reason	   ? TOP_HL_NF :
			top_task__ended(c) ? TOP_HL_DIM :
					     TOP_HL_NORMAL,
			"%s", line);
	}
}

static void detail_lifecycle(struct text *x, const struct top_src *s,
			     const struct ms_task *t, const char *nf)
{
	char b[64];

	text_section(x, "Lifecycle");
	if (t->spawn_known)
		text_kv(x, top_fmt__at(b, sizeof(b), t->spawned_ns),
			TOP_HL_NORMAL, "spawned");
	else
		text_kv(x, top_fmt__at(b, sizeof(b), t->spawned_ns), TOP_HL_DIM,
			"first seen (spawned before memscoped attached)");
	if (t->polls)
		text_kv(x, top_fmt__at(b, sizeof(b), t->last_poll_ns),
			TOP_HL_NORMAL, "last poll (%" PRIu64 " poll%s)%s",
			t->polls, t->polls == 1 ? "" : "s",
			t->in_poll ? ", in it now" : "");
	else
		text_kv(x, "", TOP_HL_DIM, "never polled");
	if (top_task__ended(t))
		text_kv(x, top_fmt__at(b, sizeof(b), t->ended_ns),
			nf ? TOP_HL_NF : TOP_HL_NORMAL, "%s%s%s",
			t->state == TASK_CANCELLED ? "cancelled" : "completed",
			nf ? ": never finished, " : "", nf ? nf : "");
	else
		text_kv(x, top_fmt__at(b, sizeof(b), s->now),
			nf ? TOP_HL_NF : TOP_HL_NORMAL, "now: %s%s%s",
			task_state__name(t->state),
			nf ? ", never finished: " : "", nf ? nf : "");
}

static void detail_spawn_site(struct text *x, const struct top_src *s,
			      const struct ms_task *t)
{
	char line[320];

	text_section(x, "Spawn site");
	if (top_src__spawn_site(s, t)) {
		const struct ms_site *site = top_src__spawn_site(s, t);

		for (uint32_t i = 0; i < site->nframes; i++) {
			char key[16];

			snprintf(key, sizeof(key), "#%u", i);
			text_kv(x, key, i ? TOP_HL_NORMAL : TOP_HL_VALUE, "%s",
				top_frame__text(line, sizeof(line),
						&site->frames[i], false));
		}
	} else {
		text_kv(x, "", TOP_HL_DIM,
			"not known (spawned before attach, or no spawn stacks)");
	}
}

static void detail_alloc_sites(struct text *x, const struct top_src *s,
			       const struct ms_task *t)
{
	char line[320];

	text_section(x, "Allocation sites (sampled, estimated)");
	if (!t->nalloc_sites)
		text_kv(x, "", TOP_HL_DIM,
			"none sampled yet (one stack per --sample-bytes allocated)");
	for (uint32_t i = 0; i < t->nalloc_sites; i++) {
		const struct ms_task_site *ts = &t->alloc_sites[i];
		const struct ms_site *site = model__site(s->sites, ts->site);
		char live[32], total[32];

		top_fmt__bytes(live, sizeof(live),
			       ts->live_bytes > 0 ? (uint64_t)ts->live_bytes :
						    0,
			       false);
		top_fmt__bytes(total, sizeof(total), (uint64_t)ts->alloc_bytes,
			       false);
		text_kv(x, live, TOP_HL_VALUE, "live (%s allocated)  %s", total,
			site && site->nframes ?
				top_frame__text(line, sizeof(line),
						&site->frames[0], false) :
				"?");
	}
}

size_t top_detail__build(const struct top_src *s, uint32_t row,
			 const struct top_ui *ui, struct top_line *lines,
			 size_t max)
{
	struct text x = { lines, 0, max };
	const struct ms_task *t;
	const char *nf;
	uint64_t age;

	if (row == TOP_ROW_RUNTIME || row == TOP_ROW_OUTSIDE) {
		detail_special(&x, s, row);
		return x.n;
	}
	t = top_src__task(s, row);
	if (!t) {
		top_line__add(text_line(&x), TOP_HL_DIM, " no such task");
		return x.n;
	}
	nf = nf_reason__name(t->nf_reason);
	age = top_task__age(t, s->now);

	detail_title(&x, t, nf);
	detail_task_mem(&x, t);
	detail_activity(&x, t, age);
	detail_family(&x, s, row, t, ui);
	detail_lifecycle(&x, s, t, nf);
	detail_spawn_site(&x, s, t);
	detail_alloc_sites(&x, s, t);
	return x.n;
}

size_t top_help__build(struct top_line *lines, size_t max)
{
	static const struct top_keyhelp keys[] = {
		{ "Up Down j k", "select a row (PgUp PgDn Home End too)" },
		{ "Enter", "the selected task: memory, family, lifecycle" },
		{ "l p a o f",
		  "sort by live bytes, peak, age, polls, future size" },
		{ "", "(the same key again: smallest first)" },
		{ "< >", "previous / next sort column" },
		{ "/", "filter by id, state or reason (Esc clears)" },
		{ "e", "show or hide tasks that ended normally" },
		{ "b", "bytes exact or rounded (K = 1024)" },
		{ "Space", "pause: freeze the display (tracing goes on)" },
		{ "s", "write a snapshot now (-s FILE)" },
		{ "L", "memscoped's messages and the target's output" },
		{ "Tab ] [", "--all: next / previous process" },
		{ "Ctrl-L", "repaint the screen" },
		{ "q  Ctrl-C",
		  "quit: final snapshot and summary (q: back in sub-screens)" },
	};
	static const struct top_keyhelp legend[] = {
		{ "red",
		  "never finished: aborted, no-waker, pending, shutdown" },
		{ "dim", "ended tasks and the runtime's own tasks" },
		{ "runtime", "allocations outside tasks on runtime threads" },
		{ "outside", "allocations outside tasks on other threads" },
		{ ">AGE", "spawned before memscoped attached: at least" },
		{ "FUTURE", "the task's own size (tokio: its whole cell)" },
		{ "SPAWN SITE", "the innermost user frame of the spawn" },
	};
	struct text x = { lines, 0, max };

	top_line__add(text_line(&x), TOP_HL_SECTION, " memscoped: keys");
	text_line(&x);
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		struct top_line *l = text_line(&x);

		top_line__add(l, TOP_HL_KEY, "   %-12s", keys[i].key);
		top_line__add(l, TOP_HL_NORMAL, " %s", keys[i].what);
	}
	text_section(&x, "What the rows mean");
	for (size_t i = 0; i < sizeof(legend) / sizeof(*legend); i++)
		text_kv(&x, legend[i].key, TOP_HL_NORMAL, "%s", legend[i].what);
	return x.n;
}
