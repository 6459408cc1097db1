// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/top_int.h"

/* ---- rows ---------------------------------------------------------------- */

const char *top_special__label(uint32_t row)
{
	return row == TOP_ROW_RUNTIME ? "runtime" : "outside";
}

const char *top_special__text(uint32_t row)
{
	return row == TOP_ROW_RUNTIME ? "outside tasks, on runtime threads" :
					"outside tasks, on other threads";
}

const struct ms_mem *top_special__mem(const struct top_src *s, uint32_t row)
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
		return strcasestr(top_special__text(row), filter) != NULL;
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
		max_mem(r, top_special__mem(s, special[i]));
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
