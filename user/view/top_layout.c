// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/top_layout.h"

#define NS_PER_S UINT64_C(1000000000)
#define NS_PER_MS UINT64_C(1000000)

/* ---- text with highlight classes --------------------------------------- */

void top_line__clear(struct top_line *l)
{
	l->len = 0;
	l->text[0] = '\0';
}

static void line_vadd(struct top_line *l, enum top_hl hl, const char *fmt,
		      va_list ap)
{
	char buf[TOP_LINE_MAX + 1];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	for (int i = 0; i < n && buf[i] && l->len < TOP_LINE_MAX; i++) {
		unsigned char ch = (unsigned char)buf[i];

		/* One byte, one cell: anything else would shift the columns. */
		l->text[l->len] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		l->hl[l->len++] = (uint8_t)hl;
	}
	l->text[l->len] = '\0';
}

void top_line__add(struct top_line *l, enum top_hl hl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	line_vadd(l, hl, fmt, ap);
	va_end(ap);
}

void top_line__pad(struct top_line *l, int width, enum top_hl hl)
{
	if (width > TOP_LINE_MAX)
		width = TOP_LINE_MAX;
	while (l->len < width) {
		l->text[l->len] = ' ';
		l->hl[l->len++] = (uint8_t)hl;
	}
	l->text[l->len] = '\0';
}

/* ---- cell formats ------------------------------------------------------- */

/* Three significant digits: "9.77", "97.7", "977". */
static void fmt_sig3(char *buf, size_t len, double v, const char *unit)
{
	if (v < 9.995)
		snprintf(buf, len, "%.2f%s", v, unit);
	else if (v < 99.95)
		snprintf(buf, len, "%.1f%s", v, unit);
	else
		snprintf(buf, len, "%.0f%s", v, unit);
}

const char *top_fmt__bytes(char *buf, size_t len, uint64_t b, bool exact)
{
	static const char *const unit[] = { "K", "M", "G", "T", "P", "E" };
	double v = (double)b / 1024;
	int u = 0;

	if (exact || b < 1024) {
		snprintf(buf, len, exact ? "%" PRIu64 : "%" PRIu64 "B", b);
		return buf;
	}
	/* 999.5K would print as "1000K": one unit up reads better. */
	while (v >= 999.5 && u < 5) {
		v /= 1024;
		u++;
	}
	fmt_sig3(buf, len, v, unit[u]);
	return buf;
}

const char *top_fmt__count(char *buf, size_t len, uint64_t n)
{
	if (n < 10000000)
		snprintf(buf, len, "%" PRIu64, n);
	else if (n < 999500000)
		fmt_sig3(buf, len, (double)n / 1e6, "M");
	else if (n < 999500000000ull)
		fmt_sig3(buf, len, (double)n / 1e9, "G");
	else
		fmt_sig3(buf, len, (double)n / 1e12, "T");
	return buf;
}

const char *top_fmt__age(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = (ns + NS_PER_S / 2) / NS_PER_S; /* rounded, as %.1f is */

	if (ns < NS_PER_S)
		snprintf(buf, len, "%" PRIu64 "ms", ns / NS_PER_MS);
	else if (ns < 59950 * NS_PER_MS) /* 59.96 s would print as "60.0s" */
		snprintf(buf, len, "%.1fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60,
			 s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
			 s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
			 s / 3600 % 24);
	return buf;
}

const char *top_fmt__pct(char *buf, size_t len, uint64_t part, uint64_t whole)
{
	double p;

	if (!whole) {
		snprintf(buf, len, "-");
		return buf;
	}
	p = 100.0 * (double)part / (double)whole;
	snprintf(buf, len, "%.1f", p > 100 ? 100.0 : p);
	return buf;
}

const char *top_fmt__clock(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = ns / NS_PER_S;

	if (s < 86400)
		snprintf(buf, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
			 s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, len,
			 "%" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
			 s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
	return buf;
}

const char *top_fmt__at(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = ns / NS_PER_S;

	if (s < 3600)
		snprintf(buf, len, "+%" PRIu64 ".%03" PRIu64 "s", s,
			 ns / NS_PER_MS % 1000);
	else
		snprintf(buf, len,
			 "+%" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%" PRIu64,
			 s / 3600, s / 60 % 60, s % 60,
			 ns / (NS_PER_S / 10) % 10);
	return buf;
}

const char *top_fmt__rate(char *buf, size_t len, double per_s)
{
	if (per_s < 0)
		per_s = 0;
	if (per_s < 999.5)
		snprintf(buf, len, "%.0f/s", per_s);
	else if (per_s < 999500)
		fmt_sig3(buf, len, per_s / 1e3, "k/s");
	else
		fmt_sig3(buf, len, per_s / 1e6, "M/s");
	return buf;
}

/* ---- the data shown ------------------------------------------------------ */

void top_src__update(struct top_src *s, const struct model *m,
		     const struct top_info *info)
{
	uint64_t start = model__start_ns(m);
	size_t n = model__sample_count(m), k;

	free(s->frozen);
	s->frozen = NULL;
	s->m = s->sites = m;
	s->ntasks = model__task_count(m);
	s->totals = *model__totals(m);
	model__async(m, &s->async);
	s->runtime = *model__runtime_mem(m);
	s->outside = *model__thread_mem(m);
	s->runtime_kind = model__runtime(m);
	s->incomplete = model__incomplete(m);
	s->now = info->now_ns > start ? info->now_ns - start : 0;

	/* Events per second over the last sampled second; before the first
	 * sample, since the start. */
	s->events_per_s = 0;
	if (n) {
		const struct ms_sample *last = model__sample_at(m, n - 1);
		uint64_t from = n > 1 ? model__sample_at(m, n - 2)->t_ns : 0;

		if (last->t_ns > from)
			s->events_per_s = (double)last->events * 1e9 /
					  (double)(last->t_ns - from);
	} else if (s->now) {
		s->events_per_s =
			(double)s->totals.records * 1e9 / (double)s->now;
	}
	k = n < TOP_SPARK_MAX ? n : TOP_SPARK_MAX;
	for (size_t i = 0; i < k; i++)
		s->spark[i] = model__sample_at(m, n - k + i)->live_bytes;
	s->nspark = k;

	s->info = *info;
	snprintf(s->command, sizeof(s->command), "%s",
		 info->command ? info->command : "");
	s->info.command = s->command;
}

int top_src__freeze(struct top_src *s)
{
	struct ms_task *copy = NULL;

	if (!s->m)
		return 0;
	if (s->ntasks) {
		copy = malloc(s->ntasks * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		for (size_t i = 0; i < s->ntasks; i++)
			copy[i] = *model__task(s->m, i);
	}
	s->frozen = copy;
	s->m = NULL;
	return 0;
}

void top_src__release(struct top_src *s)
{
	free(s->frozen);
	s->frozen = NULL;
	s->m = s->sites = NULL;
	s->ntasks = 0;
}

const struct ms_task *top_src__task(const struct top_src *s, size_t i)
{
	if (i >= s->ntasks)
		return NULL;
	return s->m ? model__task(s->m, i) : &s->frozen[i];
}

static const struct ms_site *task_site(const struct top_src *s,
				       const struct ms_task *t)
{
	const struct ms_site *site;

	if (!s->sites || t->spawn_site == MS_NO_SITE)
		return NULL;
	site = model__site(s->sites, t->spawn_site);
	return site && site->nframes ? site : NULL;
}

/* As memscope's reports print a frame; file: its base name, or all of it. */
static const char *frame_text(char *buf, size_t len, const struct ms_frame *f,
			      bool base)
{
	const char *fn = f->function && *f->function ? f->function : NULL;
	const char *file = f->file && *f->file ? f->file : NULL;
	const char *slash = file && base ? strrchr(file, '/') : NULL;

	if (slash && slash[1])
		file = slash + 1;
	if (file && f->line)
		snprintf(buf, len, "%s (%s:%u)", fn ? fn : "?", file, f->line);
	else if (file)
		snprintf(buf, len, "%s (%s)", fn ? fn : "?", file);
	else if (fn)
		snprintf(buf, len, "%s", fn);
	else if (f->module && *f->module && f->addr)
		/* Unnamed (a stripped module): where, for later (memscope
		 * report --debug-dir). */
		snprintf(buf, len, "%s+%#llx", f->module,
			 (unsigned long long)f->addr);
	else if (f->module && *f->module)
		snprintf(buf, len, "? (%s)", f->module);
	else
		snprintf(buf, len, "?");
	return buf;
}

const char *top_task__site(char *buf, size_t len, const struct top_src *s,
			   const struct ms_task *t)
{
	const struct ms_site *site = task_site(s, t);

	return site ? frame_text(buf, len, &site->frames[0], true) : NULL;
}

bool top_task__ended(const struct ms_task *t)
{
	return t->state == TASK_COMPLETED || t->state == TASK_CANCELLED;
}

uint64_t top_task__age(const struct ms_task *t, uint64_t now)
{
	uint64_t end = top_task__ended(t) ? t->ended_ns : now;

	return end > t->spawned_ns ? end - t->spawned_ns : 0;
}

/* ---- user interface state ----------------------------------------------- */

static const struct {
	const char *name;
	char key;
} sorts[TOP_SORT_MAX] = {
	[TOP_SORT_LIVE] = { "live", 'l' },
	[TOP_SORT_PEAK] = { "peak", 'p' },
	[TOP_SORT_AGE] = { "age", 'a' },
	[TOP_SORT_POLLS] = { "polls", 'o' },
	[TOP_SORT_FUTURE] = { "future", 'f' },
};

const char *top_sort__name(enum top_sort s)
{
	return (unsigned)s < TOP_SORT_MAX ? sorts[s].name : "?";
}

void top_ui__init(struct top_ui *ui)
{
	memset(ui, 0, sizeof(*ui));
	ui->sort = TOP_SORT_LIVE;
	ui->sel = TOP_NO_ROW;
	ui->detail = TOP_NO_ROW;
	ui->page = 1;
}

/* ---- rows ---------------------------------------------------------------- */

static const char *special_label(uint32_t row)
{
	return row == TOP_ROW_RUNTIME ? "runtime" : "outside";
}

static const char *special_text(uint32_t row)
{
	return row == TOP_ROW_RUNTIME ? "outside tasks, on runtime threads" :
					"outside tasks, on other threads";
}

static const struct ms_mem *special_mem(const struct top_src *s, uint32_t row)
{
	return row == TOP_ROW_RUNTIME ? &s->runtime : &s->outside;
}

bool top_row__matches(const struct top_src *s, uint32_t row, const char *filter)
{
	const struct ms_task *t;
	const char *nf, *site;
	char id[24], buf[256];

	if (!filter || !*filter)
		return true;
	if (row == TOP_ROW_RUNTIME || row == TOP_ROW_OUTSIDE)
		return strcasestr(special_text(row), filter) != NULL;
	t = top_src__task(s, row);
	if (!t)
		return false;
	snprintf(id, sizeof(id), "%" PRIu64, t->id);
	nf = nf_reason__name(t->nf_reason);
	site = top_task__site(buf, sizeof(buf), s, t);
	return strcasestr(id, filter) ||
	       strcasestr(task_state__name(t->state), filter) ||
	       (nf && strcasestr(nf, filter)) ||
	       (site && strcasestr(site, filter));
}

/* A row and its sort key, side by side: sorting never goes back to the
 * model, which matters with a million tasks. */
struct top_sort_item {
	uint64_t key, id;
	uint32_t idx;
};

static uint64_t sort_key(const struct ms_task *t, enum top_sort key,
			 uint64_t now)
{
	switch (key) {
	case TOP_SORT_PEAK:
		return t->mem.peak_live_bytes;
	case TOP_SORT_AGE:
		return top_task__age(t, now);
	case TOP_SORT_POLLS:
		return t->polls;
	case TOP_SORT_FUTURE:
		return t->future_size;
	default:
		return t->mem.live_bytes;
	}
}

/* Ties in id order, whatever the direction: rows must not jitter from one
 * frame to the next. */
static int cmp_tie(const struct top_sort_item *a, const struct top_sort_item *b)
{
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_desc(const void *pa, const void *pb)
{
	const struct top_sort_item *a = pa, *b = pb;

	if (a->key != b->key)
		return a->key > b->key ? -1 : 1;
	return cmp_tie(a, b);
}

static int cmp_asc(const void *pa, const void *pb)
{
	const struct top_sort_item *a = pa, *b = pb;

	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return cmp_tie(a, b);
}

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap : 64;

	if (n <= *cap)
		return p;
	while (c < n)
		c *= 2;
	p = realloc(p, c * size);
	if (p)
		*cap = c;
	return p;
}

static void max_mem(struct top_rows *r, const struct ms_mem *mm)
{
	if (mm->alloc_count > r->max_allocs)
		r->max_allocs = mm->alloc_count;
	if (mm->peak_live_bytes > r->max_bytes) /* live <= peak */
		r->max_bytes = mm->peak_live_bytes;
}

int top_rows__build(struct top_rows *r, const struct top_src *s,
		    const struct top_ui *ui)
{
	static const uint32_t special[] = { TOP_ROW_RUNTIME, TOP_ROW_OUTSIDE };
	struct top_sort_item *items;
	uint32_t *idx;
	size_t n = 0;

	r->n = r->nspecial = r->ended_hidden = r->filtered_out = 0;
	r->max_id = r->max_polls = r->max_allocs = r->max_bytes = 0;
	r->unknown_spawn = false;
	idx = grow(r->idx, &r->cap, s->ntasks + 2, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	r->idx = idx;
	items = grow(r->items, &r->items_cap, s->ntasks, sizeof(*items));
	if (!items)
		return -ENOMEM;
	r->items = items;

	for (size_t i = 0; i < 2; i++) {
		/* No runtime, no runtime overhead to speak of. */
		if (special[i] == TOP_ROW_RUNTIME &&
		    s->runtime_kind == MS_RT_NONE && !s->runtime.alloc_count)
			continue;
		if (!top_row__matches(s, special[i], ui->filter)) {
			r->filtered_out++;
			continue;
		}
		max_mem(r, special_mem(s, special[i]));
		r->idx[r->n++] = special[i];
	}
	r->nspecial = r->n;
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct ms_task *t = top_src__task(s, i);

		/* A task that ended normally is history; one that never
		 * finished (aborted...) stays in sight. */
		if (!ui->show_ended && top_task__ended(t) &&
		    t->nf_reason == NF_NONE) {
			r->ended_hidden++;
			continue;
		}
		if (ui->filter[0] &&
		    !top_row__matches(s, (uint32_t)i, ui->filter)) {
			r->filtered_out++;
			continue;
		}
		items[n].key = sort_key(t, ui->sort, s->now);
		items[n].id = t->id;
		items[n++].idx = (uint32_t)i;
		if (t->id > r->max_id)
			r->max_id = t->id;
		if (t->polls > r->max_polls)
			r->max_polls = t->polls;
		if (t->future_size > r->max_bytes)
			r->max_bytes = t->future_size;
		r->unknown_spawn |= !t->spawn_known;
		max_mem(r, &t->mem);
	}
	qsort(items, n, sizeof(*items), ui->reverse ? cmp_asc : cmp_desc);
	for (size_t i = 0; i < n; i++)
		r->idx[r->n++] = items[i].idx;
	return 0;
}

void top_rows__free(struct top_rows *r)
{
	free(r->idx);
	free(r->items);
	memset(r, 0, sizeof(*r));
}

static void keep_visible(struct top_ui *ui, size_t n)
{
	size_t page = ui->page ? ui->page : 1;

	if (ui->first > ui->sel_pos)
		ui->first = ui->sel_pos;
	if (ui->sel_pos >= ui->first + page)
		ui->first = ui->sel_pos + 1 - page;
	/* No empty space below the last row while rows are scrolled off. */
	if (ui->first + page > n)
		ui->first = n > page ? n - page : 0;
}

void top_ui__sync(struct top_ui *ui, const struct top_rows *r)
{
	size_t pos;

	if (!r->n) {
		ui->sel_pos = ui->first = 0;
		return;
	}
	if (ui->sel == TOP_NO_ROW) {
		/* Nothing chosen yet: the top task, like top(1). */
		pos = r->nspecial < r->n ? r->nspecial : 0;
	} else {
		for (pos = 0; pos < r->n && r->idx[pos] != ui->sel; pos++)
			;
		if (pos == r->n) {
			/* Gone (filtered out): stay at the same height. */
			pos = ui->sel_pos < r->n ? ui->sel_pos : r->n - 1;
			ui->sel = r->idx[pos];
		}
	}
	ui->sel_pos = pos;
	keep_visible(ui, r->n);
}

static int move_sel(struct top_ui *ui, const struct top_rows *r, long delta)
{
	long pos;

	if (!r->n)
		return TOP_ACT_NONE;
	pos = (long)ui->sel_pos + delta;
	if (pos < 0)
		pos = 0;
	if (pos >= (long)r->n)
		pos = (long)r->n - 1;
	ui->sel_pos = (size_t)pos;
	ui->sel = r->idx[pos];
	keep_visible(ui, r->n);
	return TOP_ACT_REDRAW;
}

static int filter_key(struct top_ui *ui, int key)
{
	size_t len = strlen(ui->filter);

	switch (key) {
	case TOP_KEY_ENTER:
		ui->editing = false;
		return TOP_ACT_REDRAW;
	case TOP_KEY_ESC:
		ui->filter[0] = '\0';
		ui->editing = false;
		break;
	case TOP_KEY_BACKSPACE:
		if (!len)
			return TOP_ACT_NONE;
		ui->filter[len - 1] = '\0';
		break;
	case TOP_KEY_CTRL_U:
		ui->filter[0] = '\0';
		break;
	case TOP_KEY_RESIZE:
	case TOP_KEY_CTRL_L:
		return TOP_ACT_REPAINT | TOP_ACT_REDRAW;
	default:
		if (key < 0x20 || key > 0x7e || len + 1 >= TOP_FILTER_MAX)
			return TOP_ACT_NONE;
		ui->filter[len] = (char)key;
		ui->filter[len + 1] = '\0';
		break;
	}
	/* The list changes under the cursor: back to its top. */
	ui->sel = TOP_NO_ROW;
	ui->first = 0;
	return TOP_ACT_REDRAW;
}

static int set_sort(struct top_ui *ui, enum top_sort s)
{
	/* The same key again turns the order round, as in htop. */
	ui->reverse = ui->sort == s ? !ui->reverse : false;
	ui->sort = s;
	return TOP_ACT_REDRAW;
}

/* Keys of the detail and log screens: a scrolled page of text. */
static int page_key(struct top_ui *ui, int key)
{
	size_t page = ui->page > 1 ? ui->page - 1 : 1;

	switch (key) {
	case TOP_KEY_UP:
	case 'k':
		ui->scroll = ui->scroll ? ui->scroll - 1 : 0;
		break;
	case TOP_KEY_DOWN:
	case 'j':
		ui->scroll++; /* top.c clamps it to the text */
		break;
	case TOP_KEY_PGUP:
		ui->scroll = ui->scroll > page ? ui->scroll - page : 0;
		break;
	case TOP_KEY_PGDN:
		ui->scroll += page;
		break;
	case TOP_KEY_HOME:
	case 'g':
		ui->scroll = 0;
		break;
	case TOP_KEY_END:
	case 'G':
		ui->scroll = SIZE_MAX / 2;
		break;
	case 'L':
		if (ui->screen != TOP_SCR_LOG)
			return TOP_ACT_NONE;
		/* fall through */
	case TOP_KEY_ESC:
	case TOP_KEY_LEFT:
	case TOP_KEY_BACKSPACE:
	case TOP_KEY_ENTER:
	case 'q':
	case 'Q':
		ui->screen = TOP_SCR_LIST;
		ui->scroll = 0;
		break;
	default:
		return TOP_ACT_NONE;
	}
	return TOP_ACT_REDRAW;
}

int top_ui__key(struct top_ui *ui, int key, const struct top_rows *r)
{
	if (ui->screen == TOP_SCR_HELP) {
		if (key == TOP_KEY_RESIZE || key == TOP_KEY_CTRL_L)
			return TOP_ACT_REPAINT | TOP_ACT_REDRAW;
		if (key == TOP_KEY_F10)
			return TOP_ACT_QUIT;
		ui->screen = ui->help_from;
		return TOP_ACT_REDRAW;
	}
	if (ui->editing)
		return filter_key(ui, key);

	switch (key) {
	case TOP_KEY_RESIZE:
	case TOP_KEY_CTRL_L:
		return TOP_ACT_REPAINT | TOP_ACT_REDRAW;
	case TOP_KEY_F10:
		return TOP_ACT_QUIT;
	case 's':
	case 'S':
		return TOP_ACT_SNAPSHOT | TOP_ACT_REDRAW;
	case ' ':
	case 'z':
		ui->paused = !ui->paused;
		return TOP_ACT_REDRAW;
	case '?':
	case 'h':
	case TOP_KEY_F1:
		ui->help_from = ui->screen;
		ui->screen = TOP_SCR_HELP;
		return TOP_ACT_REDRAW;
	}
	if (ui->screen != TOP_SCR_LIST)
		return page_key(ui, key);

	switch (key) {
	case 'q':
	case 'Q':
		return TOP_ACT_QUIT;
	case TOP_KEY_UP:
	case 'k':
		return move_sel(ui, r, -1);
	case TOP_KEY_DOWN:
	case 'j':
		return move_sel(ui, r, 1);
	case TOP_KEY_PGUP:
		return move_sel(ui, r, -(long)(ui->page ? ui->page : 1));
	case TOP_KEY_PGDN:
		return move_sel(ui, r, (long)(ui->page ? ui->page : 1));
	case TOP_KEY_HOME:
	case 'g':
		return move_sel(ui, r, -(long)r->n);
	case TOP_KEY_END:
	case 'G':
		return move_sel(ui, r, (long)r->n);
	case TOP_KEY_ENTER:
	case TOP_KEY_RIGHT:
		if (!r->n)
			return TOP_ACT_NONE;
		ui->detail = r->idx[ui->sel_pos < r->n ? ui->sel_pos : 0];
		ui->screen = TOP_SCR_DETAIL;
		ui->scroll = 0;
		return TOP_ACT_REDRAW;
	case '/':
		ui->editing = true;
		return TOP_ACT_REDRAW;
	case TOP_KEY_ESC:
		if (!ui->filter[0])
			return TOP_ACT_NONE;
		return filter_key(ui, TOP_KEY_ESC);
	case 'e':
	case 'E':
		ui->show_ended = !ui->show_ended;
		return TOP_ACT_REDRAW;
	case 'b':
	case 'B':
		ui->exact = !ui->exact;
		return TOP_ACT_REDRAW;
	case '\t':
	case ']':
		return TOP_ACT_NEXT_PROC | TOP_ACT_REDRAW;
	case '[':
		return TOP_ACT_PREV_PROC | TOP_ACT_REDRAW;
	case 'L':
		ui->screen = TOP_SCR_LOG;
		ui->scroll = SIZE_MAX / 2; /* the newest lines */
		return TOP_ACT_REDRAW;
	case '<':
		return set_sort(ui,
				(ui->sort + TOP_SORT_MAX - 1) % TOP_SORT_MAX);
	case '>':
		return set_sort(ui, (ui->sort + 1) % TOP_SORT_MAX);
	}
	for (int s = 0; s < TOP_SORT_MAX; s++)
		if (key == sorts[s].key || key == sorts[s].key - 'a' + 'A')
			return set_sort(ui, (enum top_sort)s);
	return TOP_ACT_NONE;
}

/* ---- columns ------------------------------------------------------------- */

static const struct {
	const char *name;
	int min;
	bool right;
} cols[TOP_COL_MAX] = {
	[TOP_COL_ID] = { "ID", 2, true },
	[TOP_COL_KIND] = { "KIND", 7, false },
	[TOP_COL_STATE] = { "STATE", 9, false },
	[TOP_COL_REASON] = { "REASON", 8, false },
	[TOP_COL_AGE] = { "AGE", 6, true },
	[TOP_COL_POLLS] = { "POLLS", 5, true },
	[TOP_COL_BUSY] = { "BUSY%", 5, true },
	[TOP_COL_FUTURE] = { "FUTURE", 6, true },
	[TOP_COL_LIVE] = { "LIVE", 6, true },
	[TOP_COL_PEAK] = { "PEAK", 6, true },
	[TOP_COL_ALLOCS] = { "ALLOCS", 6, true },
	[TOP_COL_SITE] = { "SPAWN SITE", 10, false },
};

/* Narrow terminals lose columns in this order; ID, STATE and LIVE stay. */
static const enum top_col drop_order[] = {
	TOP_COL_SITE, TOP_COL_KIND, TOP_COL_BUSY, TOP_COL_ALLOCS, TOP_COL_FUTURE,
	TOP_COL_POLLS, TOP_COL_PEAK, TOP_COL_AGE, TOP_COL_REASON,
};

/* The sorted column of each sort key. */
static const enum top_col sort_col[TOP_SORT_MAX] = {
	[TOP_SORT_LIVE] = TOP_COL_LIVE,
	[TOP_SORT_PEAK] = TOP_COL_PEAK,
	[TOP_SORT_AGE] = TOP_COL_AGE,
	[TOP_SORT_POLLS] = TOP_COL_POLLS,
	[TOP_SORT_FUTURE] = TOP_COL_FUTURE,
};

const char *top_col__name(enum top_col c)
{
	return (unsigned)c < TOP_COL_MAX ? cols[c].name : "?";
}

static int digits(uint64_t v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static void widen(int *w, int n)
{
	if (n > *w)
		*w = n;
}

/* As wide as top_fmt__count() makes any number up to max. */
static int count_width(uint64_t max)
{
	return max < 10000000 ? digits(max) : 7;
}

/* The text of one cell; "-" when there is nothing to say. */
static const char *cell(char *buf, size_t len, enum top_col c,
			const struct top_src *s, uint32_t row,
			const struct top_ui *ui)
{
	const struct ms_task *t;
	const struct ms_mem *mm;
	const char *nf;
	char age[24];

	if (row == TOP_ROW_RUNTIME || row == TOP_ROW_OUTSIDE) {
		mm = special_mem(s, row);
		switch (c) {
		case TOP_COL_ID:
			return special_label(row);
		case TOP_COL_LIVE:
			return top_fmt__bytes(buf, len, mm->live_bytes,
					      ui->exact);
		case TOP_COL_PEAK:
			return top_fmt__bytes(buf, len, mm->peak_live_bytes,
					      ui->exact);
		case TOP_COL_ALLOCS:
			return top_fmt__count(buf, len, mm->alloc_count);
		case TOP_COL_SITE:
			return special_text(row);
		default:
			return "-";
		}
	}
	t = top_src__task(s, row);
	if (!t)
		return "-";
	switch (c) {
	case TOP_COL_ID:
		snprintf(buf, len, "%" PRIu64, t->id);
		return buf;
	case TOP_COL_KIND:
		return task_kind__name(t->kind);
	case TOP_COL_STATE:
		return task_state__name(t->state);
	case TOP_COL_REASON:
		nf = nf_reason__name(t->nf_reason);
		return nf ? nf : "-";
	case TOP_COL_AGE:
		/* Spawned before attach: at least this old. */
		top_fmt__age(age, sizeof(age), top_task__age(t, s->now));
		snprintf(buf, len, "%s%s", t->spawn_known ? "" : ">", age);
		return buf;
	case TOP_COL_POLLS:
		return top_fmt__count(buf, len, t->polls);
	case TOP_COL_BUSY:
		return top_fmt__pct(buf, len, t->busy_ns,
				    top_task__age(t, s->now));
	case TOP_COL_FUTURE:
		if (!t->future_size)
			return "-";
		return top_fmt__bytes(buf, len, t->future_size, ui->exact);
	case TOP_COL_LIVE:
		return top_fmt__bytes(buf, len, t->mem.live_bytes, ui->exact);
	case TOP_COL_PEAK:
		return top_fmt__bytes(buf, len, t->mem.peak_live_bytes,
				      ui->exact);
	case TOP_COL_ALLOCS:
		return top_fmt__count(buf, len, t->mem.alloc_count);
	case TOP_COL_SITE:
	default: {
		const char *site = top_task__site(buf, len, s, t);

		return site ? site : "-";
	}
	}
}

static int row_width(const struct top_cols *c)
{
	int total = 0, n = 0;

	for (int i = 0; i < TOP_COL_MAX; i++) {
		if (!c->width[i])
			continue;
		total += c->width[i];
		n++;
	}
	return total + (n ? n - 1 : 0); /* one space between columns */
}

void top_cols__fit(struct top_cols *c, const struct top_src *s,
		   const struct top_rows *r, const struct top_ui *ui, int width)
{
	int fixed;

	for (int i = 0; i < TOP_COL_MAX; i++)
		c->width[i] = (int)strlen(cols[i].name) > cols[i].min ?
				      (int)strlen(cols[i].name) :
				      cols[i].min;
	/* Numbers are as wide as the widest of all rows (not only those on
	 * screen), so columns do not shift while scrolling. */
	if (r->nspecial)
		widen(&c->width[TOP_COL_ID], 7); /* "runtime", "outside" */
	widen(&c->width[TOP_COL_ID], digits(r->max_id));
	widen(&c->width[TOP_COL_POLLS], count_width(r->max_polls));
	widen(&c->width[TOP_COL_ALLOCS], count_width(r->max_allocs));
	/* Rounded bytes take 5 characters at most; ages 6, or 7 with the
	 * ">" of a task spawned before attach. */
	for (int i = TOP_COL_FUTURE; ui->exact && i <= TOP_COL_PEAK; i++)
		widen(&c->width[i], digits(r->max_bytes));
	if (r->unknown_spawn)
		widen(&c->width[TOP_COL_AGE], 7);

	c->width[TOP_COL_SITE] = 0;
	fixed = row_width(c);
	if (fixed + 1 + cols[TOP_COL_SITE].min <= width)
		c->width[TOP_COL_SITE] = width - fixed - 1; /* what is left */
	for (size_t d = 0; d < sizeof(drop_order) / sizeof(*drop_order) &&
			   row_width(c) > width;
	     d++)
		c->width[drop_order[d]] = 0;
	c->total = row_width(c);
}

static void add_cell(struct top_line *l, const struct top_cols *c,
		     enum top_col col, const char *text, enum top_hl hl,
		     bool *first)
{
	int w = c->width[col], n = (int)strlen(text);

	if (!w)
		return;
	if (!*first)
		top_line__add(l, hl, " ");
	*first = false;
	if (n > w) /* only the spawn site can be longer than its column */
		n = w;
	if (cols[col].right)
		top_line__add(l, hl, "%*.*s", w, n, text);
	else
		top_line__add(l, hl, "%-*.*s", w, n, text);
}

void top_cols__head(const struct top_cols *c, const struct top_ui *ui,
		    struct top_line *out)
{
	bool first = true;

	top_line__clear(out);
	for (int i = 0; i < TOP_COL_MAX; i++)
		add_cell(out, c, (enum top_col)i, cols[i].name,
			 i == (int)sort_col[ui->sort] ? TOP_HL_COLSORT :
							TOP_HL_COLHEAD,
			 &first);
}

static enum top_hl row_hl(const struct top_src *s, uint32_t row)
{
	const struct ms_task *t;

	if (row == TOP_ROW_RUNTIME || row == TOP_ROW_OUTSIDE)
		return TOP_HL_SPECIAL;
	t = top_src__task(s, row);
	if (!t)
		return TOP_HL_DIM;
	if (t->nf_reason != NF_NONE)
		return TOP_HL_NF;
	if (top_task__ended(t) || t->kind == TASK_RUNTIME)
		return TOP_HL_DIM;
	return TOP_HL_NORMAL;
}

void top_cols__row(const struct top_cols *c, const struct top_src *s,
		   uint32_t row, const struct top_ui *ui, struct top_line *out)
{
	enum top_hl hl = row_hl(s, row);
	bool first = true;
	char buf[TOP_LINE_MAX];

	top_line__clear(out);
	for (int i = 0; i < TOP_COL_MAX; i++)
		add_cell(out, c, (enum top_col)i,
			 cell(buf, sizeof(buf), (enum top_col)i, s, row, ui),
			 hl, &first);
}

/* ---- header ----------------------------------------------------------- */

/* Label and value pairs flowing over lines, as many as fit. */
struct flow {
	struct top_line *lines;
	int max, cur, width;
};

static void flow_item(struct flow *f, bool brk, const char *label,
		      enum top_hl vhl, const char *value)
{
	struct top_line *l;
	int need = 3 + (int)strlen(label) + 2 + (int)strlen(value);

	if (f->cur >= f->max)
		return;
	l = &f->lines[f->cur];
	if ((brk && l->len > 0) || (l->len > 0 && l->len + need > f->width)) {
		if (++f->cur >= f->max)
			return;
		l = &f->lines[f->cur];
		top_line__clear(l);
	}
	top_line__add(l, TOP_HL_NORMAL, l->len ? "   " : " ");
	if (label[0])
		top_line__add(l, TOP_HL_LABEL, "%s: ", label);
	top_line__add(l, vhl, "%s", value);
}

static void header_title(const struct top_src *s, const struct top_ui *ui,
			 int width, struct top_line *l)
{
	char right[96], up[32];
	int rlen, room;

	top_fmt__clock(up, sizeof(up), s->now);
	snprintf(right, sizeof(right), "up %s ", up);
	rlen = (int)strlen(right) + (ui->paused ? 9 : 0);
	top_line__clear(l);
	if (s->info.proc_count > 1)
		top_line__add(l, TOP_HL_TITLE, " memscoped  [%d/%d] pid %d  ",
			      s->info.proc_idx + 1, s->info.proc_count,
			      s->info.pid);
	else
		top_line__add(l, TOP_HL_TITLE, " memscoped  pid %d  ",
			      s->info.pid);
	room = width - rlen - l->len - 1;
	if (room > 0)
		top_line__add(l, TOP_HL_TITLE, "%.*s", room, s->command);
	top_line__pad(l, width - rlen, TOP_HL_TITLE);
	if (ui->paused) {
		top_line__add(l, TOP_HL_BADGE, " PAUSED ");
		top_line__add(l, TOP_HL_TITLE, " ");
	}
	top_line__add(l, TOP_HL_TITLE, "%s", right);
}

/* One line of level digits: each sample against the largest shown. */
static void spark(struct top_line *l, const uint64_t *v, size_t n)
{
	uint64_t max = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i] > max)
			max = v[i];
	for (size_t i = 0; i < n; i++) {
		/* Rounded up: a non-zero value never looks like zero. */
		unsigned lvl = max ? (unsigned)((v[i] * 8 + max - 1) / max) : 0;

		top_line__add(l, TOP_HL_SPARK, "%u", lvl);
	}
}

int top_header__build(const struct top_src *s, const struct top_ui *ui,
		      int width, struct top_line *lines, int max)
{
	/* Every line but the title for the figures; the sparkline only
	 * if one is left. */
	struct flow f = { lines + 1, max - 1, 0, width };
	const struct ms_totals *t = &s->totals;
	char b1[32], b2[32], v[96];
	int n;

	if (max < 1)
		return 0;
	header_title(s, ui, width, &lines[0]);
	if (max < 2)
		return 1;
	top_line__clear(&lines[1]);

	snprintf(v, sizeof(v), "%s%s",
		 s->runtime_kind == MS_RT_TOKIO ? "tokio" :
		 s->runtime_kind == MS_RT_USDT	? "usdt" :
						  "none seen",
		 s->info.tasks_only ? " (tasks only)" : "");
	flow_item(&f, false, "Runtime", TOP_HL_VALUE, v);
	flow_item(&f, false, "RSS", TOP_HL_VALUE,
		  s->info.rss_bytes ? top_fmt__bytes(b1, sizeof(b1),
						     s->info.rss_bytes, false) :
				      "-");
	snprintf(v, sizeof(v), "%s live in %" PRIu64 " blocks, peak %s",
		 top_fmt__bytes(b1, sizeof(b1), t->live_bytes, false),
		 t->live_count,
		 top_fmt__bytes(b2, sizeof(b2), t->peak_live_bytes, false));
	flow_item(&f, false, "Heap", TOP_HL_VALUE, v);
	flow_item(&f, false, "Events", TOP_HL_VALUE,
		  top_fmt__rate(b1, sizeof(b1), s->events_per_s));
	snprintf(v, sizeof(v), "%" PRIu64, t->lost_events);
	flow_item(&f, false, "Lost",
		  t->lost_events ? TOP_HL_ALERT : TOP_HL_VALUE, v);

	snprintf(v, sizeof(v),
		 "%" PRIu64 " alive, %" PRIu64 " completed, %" PRIu64
		 " cancelled",
		 s->async.tasks_alive, s->async.tasks_completed,
		 s->async.tasks_cancelled);
	flow_item(&f, true, "Tasks", TOP_HL_VALUE, v);
	snprintf(v, sizeof(v), "%" PRIu64, s->async.never_finished_count);
	flow_item(&f, false, "Never finished",
		  s->async.never_finished_count ? TOP_HL_ALERT : TOP_HL_VALUE,
		  v);
	if (s->incomplete)
		flow_item(
			&f, false, "", TOP_HL_BADGE,
			" INCOMPLETE: events were missed, figures may be low ");
	n = 1 + (f.cur < f.max ? f.cur + 1 : f.max);

	if (n < max) {
		struct top_line *l = &lines[n];
		size_t k = s->nspark;
		int room;

		top_line__clear(l);
		top_line__add(l, TOP_HL_LABEL, " Heap history: ");
		if (!k) {
			top_line__add(l, TOP_HL_DIM, "(one sample a second)");
		} else {
			uint64_t hi = 0;

			room = width - l->len - 24;
			if (room < 8)
				room = 8;
			if (k > (size_t)room)
				k = (size_t)room;
			for (size_t i = s->nspark - k; i < s->nspark; i++)
				if (s->spark[i] > hi)
					hi = s->spark[i];
			spark(l, s->spark + s->nspark - k, k);
			top_line__add(l, TOP_HL_DIM, " max %s, last %zus",
				      top_fmt__bytes(b1, sizeof(b1), hi, false),
				      k);
		}
		n++;
	}
	return n;
}

/* ---- status and footer ------------------------------------------------- */

void top_status__build(const struct top_src *s, const struct top_ui *ui,
		       const struct top_rows *r, const char *msg, int width,
		       struct top_line *out)
{
	char right[160];
	int off = 0, room;

	top_line__clear(out);
	if (ui->editing) {
		top_line__add(out, TOP_HL_LABEL, " Filter: ");
		top_line__add(out, TOP_HL_VALUE, "%s", ui->filter);
		top_line__add(out, TOP_HL_KEY, " ");
		top_line__add(
			out, TOP_HL_DIM,
			"   id, state or reason; Enter keeps it, Esc clears");
		return;
	}
	right[0] = '\0';
	if (ui->filter[0])
		off += snprintf(right + off, sizeof(right) - (size_t)off,
				"filter \"%s\"  ", ui->filter);
	if (ui->show_ended)
		off += snprintf(right + off, sizeof(right) - (size_t)off,
				"ended shown  ");
	else if (r->ended_hidden)
		off += snprintf(right + off, sizeof(right) - (size_t)off,
				"%zu ended hidden  ", r->ended_hidden);
	snprintf(right + off, sizeof(right) - (size_t)off, "sort %s %s ",
		 top_sort__name(ui->sort), ui->reverse ? "asc" : "desc");
	room = width - (int)strlen(right) - 3;
	if (msg && *msg && room > 0)
		top_line__add(out, TOP_HL_NORMAL, " %.*s", room, msg);
	top_line__pad(out, width - (int)strlen(right), TOP_HL_NORMAL);
	top_line__add(out, TOP_HL_DIM, "%s", right);
}

struct keyhelp {
	const char *key, *what;
};

void top_footer__build(const struct top_ui *ui, int width, struct top_line *out)
{
	static const struct keyhelp list[] = {
		{ "q", "Quit" },      { "Enter", "Detail" },
		{ "/", "Filter" },    { "l p a o f", "Sort" },
		{ "e", "Ended" },     { "b", "Bytes" },
		{ "Space", "Pause" }, { "s", "Snapshot" },
		{ "L", "Log" },	      { "?", "Help" },
	};
	static const struct keyhelp page[] = {
		{ "Esc", "Back" },    { "Up/Down", "Scroll" },
		{ "Space", "Pause" }, { "s", "Snapshot" },
		{ "?", "Help" },      { "F10", "Quit" },
	};
	static const struct keyhelp help[] = { { "any key", "Back" } };
	const struct keyhelp *k = list;
	size_t n = sizeof(list) / sizeof(*list);

	if (ui->screen == TOP_SCR_HELP) {
		k = help;
		n = 1;
	} else if (ui->screen != TOP_SCR_LIST) {
		k = page;
		n = sizeof(page) / sizeof(*page);
	}
	top_line__clear(out);
	for (size_t i = 0; i < n; i++) {
		const char *what = k[i].what;

		if (!strcmp(what, "Pause") && ui->paused)
			what = "Resume";
		if (out->len + (int)(strlen(k[i].key) + strlen(what)) + 3 >
		    width)
			break;
		top_line__add(out, TOP_HL_KEY, "%s", k[i].key);
		top_line__add(out, TOP_HL_NORMAL, " %s  ", what);
	}
}

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
	line_vadd(l, hl, fmt, ap);
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
	detail_mem(x, special_mem(s, row));
}

size_t top_detail__build(const struct top_src *s, uint32_t row,
			 const struct top_ui *ui, struct top_line *lines,
			 size_t max)
{
	struct text x = { lines, 0, max };
	const struct ms_task *t;
	const char *nf;
	char b[64], b2[64], line[320];
	uint64_t age;
	size_t nchild = 0;

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

	{
		struct top_line *l = text_line(&x);

		top_line__add(l, TOP_HL_SECTION, " Task %" PRIu64, t->id);
		top_line__add(l, TOP_HL_NORMAL, "  %s, %s",
			      task_kind__name(t->kind),
			      task_state__name(t->state));
		top_line__add(l, TOP_HL_DIM, "  (%s)",
			      t->runtime == MS_RT_TOKIO ? "tokio" : "usdt");
		if (nf) {
			top_line__add(l, TOP_HL_NORMAL, "  ");
			top_line__add(l, TOP_HL_NF, "NEVER FINISHED: %s", nf);
		}
	}
	if (nf)
		text_kv(&x, "", TOP_HL_NF, "%s", nf_why(t->nf_reason));

	text_section(&x, "Memory");
	detail_mem(&x, &t->mem);
	if (top_task__ended(t) && t->mem.live_bytes)
		text_kv(&x, "outliving", TOP_HL_ALERT,
			"%s still live after it ended",
			both_bytes(b, sizeof(b), t->mem.live_bytes));
	if (t->future_size)
		text_kv(&x, "future", TOP_HL_VALUE, "%s",
			both_bytes(b, sizeof(b), t->future_size));
	else
		text_kv(&x, "future", TOP_HL_DIM, "unknown");
	if (t->cell_size)
		text_kv(&x, "task cell", TOP_HL_VALUE, "%s  (tokio's allocation for the task)",
			both_bytes(b, sizeof(b), t->cell_size));

	text_section(&x, "Activity");
	text_kv(&x, "age", TOP_HL_VALUE, "%s%s%s",
		t->spawn_known ? "" : "at least ",
		top_fmt__age(b, sizeof(b), age),
		top_task__ended(t) ? " (its lifetime)" : "");
	text_kv(&x, "polls", TOP_HL_VALUE, "%" PRIu64 ", busy %.3f ms (%s%%)",
		t->polls, (double)t->busy_ns / 1e6,
		top_fmt__pct(b2, sizeof(b2), t->busy_ns, age));

	text_section(&x, "Family");
	if (t->parent != MS_TASK_NO_PARENT && top_src__task(s, t->parent)) {
		task_ref(line, sizeof(line), top_src__task(s, t->parent),
			 ui->exact);
		text_kv(&x, "parent", TOP_HL_NORMAL, "%s", line);
	} else {
		text_kv(&x, "parent", TOP_HL_DIM, "none known");
	}
	for (size_t i = 0; i < s->ntasks; i++)
		nchild += top_src__task(s, i)->parent == row;
	if (!nchild)
		text_kv(&x, "children", TOP_HL_DIM, "none");
	else
		text_kv(&x, "children", TOP_HL_VALUE, "%zu", nchild);
	for (size_t i = 0; i < s->ntasks && nchild; i++) {
		const struct ms_task *c = top_src__task(s, i);

		if (c->parent != row)
			continue;
		task_ref(line, sizeof(line), c, ui->exact);
		text_kv(&x, "",
			c->nf_reason	   ? TOP_HL_NF :
			top_task__ended(c) ? TOP_HL_DIM :
					     TOP_HL_NORMAL,
			"%s", line);
	}

	text_section(&x, "Lifecycle");
	if (t->spawn_known)
		text_kv(&x, top_fmt__at(b, sizeof(b), t->spawned_ns),
			TOP_HL_NORMAL, "spawned");
	else
		text_kv(&x, top_fmt__at(b, sizeof(b), t->spawned_ns),
			TOP_HL_DIM,
			"first seen (spawned before memscoped attached)");
	if (t->polls)
		text_kv(&x, top_fmt__at(b, sizeof(b), t->last_poll_ns),
			TOP_HL_NORMAL, "last poll (%" PRIu64 " poll%s)%s",
			t->polls, t->polls == 1 ? "" : "s",
			t->in_poll ? ", in it now" : "");
	else
		text_kv(&x, "", TOP_HL_DIM, "never polled");
	if (top_task__ended(t))
		text_kv(&x, top_fmt__at(b, sizeof(b), t->ended_ns),
			nf ? TOP_HL_NF : TOP_HL_NORMAL, "%s%s%s",
			t->state == TASK_CANCELLED ? "cancelled" : "completed",
			nf ? ": never finished, " : "", nf ? nf : "");
	else
		text_kv(&x, top_fmt__at(b, sizeof(b), s->now),
			nf ? TOP_HL_NF : TOP_HL_NORMAL, "now: %s%s%s",
			task_state__name(t->state),
			nf ? ", never finished: " : "", nf ? nf : "");

	text_section(&x, "Spawn site");
	if (task_site(s, t)) {
		const struct ms_site *site = task_site(s, t);

		for (uint32_t i = 0; i < site->nframes; i++) {
			char key[16];

			snprintf(key, sizeof(key), "#%u", i);
			text_kv(&x, key, i ? TOP_HL_NORMAL : TOP_HL_VALUE, "%s",
				frame_text(line, sizeof(line), &site->frames[i],
					   false));
		}
	} else {
		text_kv(&x, "", TOP_HL_DIM,
			"not known (spawned before attach, or no spawn stacks)");
	}

	text_section(&x, "Allocation sites (sampled, estimated)");
	if (!t->nalloc_sites)
		text_kv(&x, "", TOP_HL_DIM,
			"none sampled yet (one stack per --sample-bytes allocated)");
	for (uint32_t i = 0; i < t->nalloc_sites; i++) {
		const struct ms_task_site *ts = &t->alloc_sites[i];
		const struct ms_site *site = model__site(s->sites, ts->site);
		char live[32], total[32];

		top_fmt__bytes(live, sizeof(live),
			       ts->live_bytes > 0 ? (uint64_t)ts->live_bytes : 0,
			       false);
		top_fmt__bytes(total, sizeof(total), (uint64_t)ts->alloc_bytes,
			       false);
		text_kv(&x, live, TOP_HL_VALUE, "live (%s allocated)  %s", total,
			site && site->nframes ?
				frame_text(line, sizeof(line), &site->frames[0],
					   false) :
				"?");
	}
	return x.n;
}

size_t top_help__build(struct top_line *lines, size_t max)
{
	static const struct keyhelp keys[] = {
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
	static const struct keyhelp legend[] = {
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
