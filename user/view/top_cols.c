// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/top_int.h"

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
	[TOP_COL_PAGES] = { "PAGE-LVL", 8, true },
	[TOP_COL_SITE] = { "SPAWN SITE", 10, false },
};

/* Narrow terminals lose columns in this order; ID, STATE and LIVE stay
 * (page-level mode's PAGE-LVL goes last). */
static const enum top_col drop_order[] = {
	TOP_COL_SITE,	TOP_COL_KIND,  TOP_COL_BUSY, TOP_COL_ALLOCS,
	TOP_COL_FUTURE, TOP_COL_POLLS, TOP_COL_PEAK, TOP_COL_AGE,
	TOP_COL_REASON, TOP_COL_PAGES,
};

/* The sorted column of each sort key. */
static const enum top_col sort_col[TOP_SORT_MAX] = {
	[TOP_SORT_LIVE] = TOP_COL_LIVE,	    [TOP_SORT_PEAK] = TOP_COL_PEAK,
	[TOP_SORT_AGE] = TOP_COL_AGE,	    [TOP_SORT_POLLS] = TOP_COL_POLLS,
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
		mm = top_special__mem(s, row);
		switch (c) {
		case TOP_COL_ID:
			return top_special__label(row);
		case TOP_COL_LIVE:
			return top_fmt__bytes(buf, len, mm->live_bytes,
					      ui->exact);
		case TOP_COL_PEAK:
			return top_fmt__bytes(buf, len, mm->peak_live_bytes,
					      ui->exact);
		case TOP_COL_ALLOCS:
			return top_fmt__count(buf, len, mm->alloc_count);
		case TOP_COL_PAGES:
			return top_fmt__bytes(
				buf, len,
				row == TOP_ROW_RUNTIME ?
					s->pages_runtime.resident_bytes :
					s->pages_outside.resident_bytes,
				ui->exact);
		case TOP_COL_SITE:
			return top_special__text(row);
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
	case TOP_COL_PAGES:
		return top_fmt__bytes(buf, len, t->pages.resident_bytes,
				      ui->exact);
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
	if (ui->exact)
		widen(&c->width[TOP_COL_PAGES], 12);
	if (!s->page_level) /* the column of page-level mode only */
		c->width[TOP_COL_PAGES] = 0;

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
