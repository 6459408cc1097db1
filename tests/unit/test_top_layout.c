// SPDX-License-Identifier: MIT
/*
 * The live view's layout without a terminal: cell formats, which rows in
 * which order (sort keys, filter, ended tasks), columns for a width, the
 * header, status and key lines, the detail screen, keys, and pausing.
 * The model is fed hand-built USDT records, as the BPF side would send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"
#include "view/top_layout.h"

#define START 1000000000000ull
#define MS 1000000ull
#define SEC 1000000000ull
#define PID 100
#define MAIN 100
#define W1 101

static struct model *cur;
static struct top_src src;
static struct top_rows rows;
static struct top_ui ui;

static void hdr(struct ms_hdr *h, uint16_t type, uint16_t aux, uint32_t tid,
		uint64_t t)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->aux = aux;
	h->pid = PID;
	h->tid = tid;
	h->ts_ns = START + t;
}

static void alloc(uint32_t tid, uint64_t t, uint64_t addr, uint64_t size,
		  uint64_t task)
{
	struct ms_alloc_rec r;

	memset(&r, 0, sizeof(r));
	hdr(&r.h, MS_REC_ALLOC, MS_FN_MALLOC, tid, t);
	r.addr = addr;
	r.size = size;
	r.task = task;
	assert_int_equal(model__apply(cur, &r, sizeof(r)), 0);
}

static void free_rec(uint32_t tid, uint64_t t, uint64_t addr, uint64_t task)
{
	struct ms_free_rec r;

	memset(&r, 0, sizeof(r));
	hdr(&r.h, MS_REC_FREE, MS_FN_FREE, tid, t);
	r.addr = addr;
	r.task = task;
	assert_int_equal(model__apply(cur, &r, sizeof(r)), 0);
}

static void poll_rec(uint16_t type, uint64_t t, uint64_t id, int64_t wakers)
{
	struct ms_poll_rec r;

	memset(&r, 0, sizeof(r));
	hdr(&r.h, type, MS_RT_USDT, W1, t);
	r.task = id;
	r.state = (uint64_t)wakers;
	assert_int_equal(model__apply(cur, &r, sizeof(r)), 0);
}

static void task_rec(uint16_t type, uint64_t t, uint64_t id, uint64_t parent,
		     uint64_t size)
{
	struct ms_task_rec r;

	memset(&r, 0, sizeof(r));
	hdr(&r.h, type, MS_RT_USDT, MAIN, t);
	r.task = id;
	r.parent = parent;
	r.size = size;
	assert_int_equal(model__apply(cur, &r, sizeof(r)), 0);
}

/*
 * Task 1 (future 256) holds 5000 bytes, pending with a waker.
 * Task 2 (child of 1, future 1024) holds 300, peaked at 200300, no waker.
 * Task 3 (child of 1, future 64) completed: ended normally.
 * Task 40 (future 128) cancelled: aborted.
 * 700 bytes outside tasks on main, 900 on the runtime thread W1.
 */
static struct top_info info = {
	.pid = PID,
	.command = "prog --flag",
	.now_ns = START + 10 * SEC,
	.rss_bytes = 3 << 20,
	.can_snapshot = true,
};

static int setup(void **state)
{
	struct model_opts o = { .start_ns = START,
				.never_finished_ns = 60 * SEC,
				.pid = PID };

	cur = model__new(&o);
	assert_non_null(cur);
	task_rec(MS_REC_TASK_SPAWN, 0, 1, 0, 256);
	task_rec(MS_REC_TASK_SPAWN, 1 * MS, 2, 1, 1024);
	task_rec(MS_REC_TASK_SPAWN, 2 * MS, 3, 1, 64);
	task_rec(MS_REC_TASK_SPAWN, 3 * MS, 40, 0, 128);
	poll_rec(MS_REC_POLL_BEGIN, 10 * MS, 1, 0);
	alloc(W1, 11 * MS, 0x1000, 5000, 1);
	poll_rec(MS_REC_POLL_END, 20 * MS, 1, 1);
	poll_rec(MS_REC_POLL_BEGIN, 21 * MS, 2, 0);
	alloc(W1, 22 * MS, 0x2000, 300, 2);
	alloc(W1, 23 * MS, 0x3000, 200000, 2);
	free_rec(W1, 24 * MS, 0x3000, 2);
	poll_rec(MS_REC_POLL_END, 30 * MS, 2, 0);
	poll_rec(MS_REC_POLL_BEGIN, 31 * MS, 3, 0);
	poll_rec(MS_REC_POLL_END, 32 * MS, 3, 1);
	task_rec(MS_REC_TASK_COMPLETE, 40 * MS, 3, 0, 0);
	task_rec(MS_REC_TASK_CANCEL, 50 * MS, 40, 0, 0);
	alloc(MAIN, 60 * MS, 0x4000, 700, 0);
	alloc(W1, 61 * MS, 0x5000, 900, 0);
	memset(&src, 0, sizeof(src));
	memset(&rows, 0, sizeof(rows));
	top_ui__init(&ui);
	top_src__update(&src, cur, &info);
	return 0;
}

static int teardown(void **state)
{
	top_rows__free(&rows);
	top_src__release(&src);
	model__free(cur);
	cur = NULL;
	return 0;
}

/* The rows as "id,id,..." with "rt" and "out" for the two others. */
static const char *row_ids(void)
{
	static char buf[256];
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < rows.n && off < sizeof(buf) - 24; i++) {
		uint32_t r = rows.idx[i];

		if (r == TOP_ROW_RUNTIME)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
						"%srt", i ? "," : "");
		else if (r == TOP_ROW_OUTSIDE)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
						"%sout", i ? "," : "");
		else
			off += (size_t)snprintf(
				buf + off, sizeof(buf) - off, "%s%llu",
				i ? "," : "",
				(unsigned long long)top_src__task(&src, r)->id);
	}
	return buf;
}

static const char *build(void)
{
	assert_int_equal(top_rows__build(&rows, &src, &ui), 0);
	top_ui__sync(&ui, &rows);
	return row_ids();
}

static bool has(const struct top_line *l, const char *s)
{
	return strstr(l->text, s) != NULL;
}

static bool any_has(const struct top_line *l, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (has(&l[i], s))
			return true;
	return false;
}

/* The class of the first character of s in l. */
static int hl_at(const struct top_line *l, const char *s)
{
	const char *p = strstr(l->text, s);

	assert_non_null(p);
	return l->hl[p - l->text];
}

/* ---- formats ----------------------------------------------------------- */

static void test_fmt_bytes(void **state)
{
	char b[32];

	assert_string_equal(top_fmt__bytes(b, sizeof(b), 0, false), "0B");
	assert_string_equal(top_fmt__bytes(b, sizeof(b), 1023, false), "1023B");
	assert_string_equal(top_fmt__bytes(b, sizeof(b), 1024, false), "1.00K");
	assert_string_equal(top_fmt__bytes(b, sizeof(b), 100000, false),
			    "97.7K");
	assert_string_equal(top_fmt__bytes(b, sizeof(b), 999 * 1024, false),
			    "999K");
	/* 1023 K would read "1023K": one unit up. */
	assert_string_equal(top_fmt__bytes(b, sizeof(b), 1023 * 1024, false),
			    "1.00M");
	assert_string_equal(top_fmt__bytes(b, sizeof(b), 5ull << 30, false),
			    "5.00G");
	assert_string_equal(top_fmt__bytes(b, sizeof(b), 100000, true),
			    "100000");
	assert_string_equal(top_fmt__bytes(b, sizeof(b), UINT64_MAX, true),
			    "18446744073709551615");
	/* Never wider than 5 characters when rounded. */
	for (uint64_t v = 1; v < (1ull << 62); v = v * 3 + 7)
		assert_true(strlen(top_fmt__bytes(b, sizeof(b), v, false)) <=
			    5);
}

static void test_fmt_other(void **state)
{
	char b[32];

	assert_string_equal(top_fmt__count(b, sizeof(b), 9999999), "9999999");
	assert_string_equal(top_fmt__count(b, sizeof(b), 12345678), "12.3M");
	assert_string_equal(top_fmt__count(b, sizeof(b), 4560000000ull),
			    "4.56G");

	assert_string_equal(top_fmt__age(b, sizeof(b), 0), "0ms");
	assert_string_equal(top_fmt__age(b, sizeof(b), 850 * MS), "850ms");
	assert_string_equal(top_fmt__age(b, sizeof(b), 12300 * MS), "12.3s");
	assert_string_equal(top_fmt__age(b, sizeof(b), 59960 * MS), "1m00s");
	assert_string_equal(top_fmt__age(b, sizeof(b), 303 * SEC), "5m03s");
	assert_string_equal(top_fmt__age(b, sizeof(b), (2 * 3600 + 300) * SEC),
			    "2h05m");
	assert_string_equal(
		top_fmt__age(b, sizeof(b), (3 * 86400 + 4 * 3600) * SEC),
		"3d04h");

	assert_string_equal(top_fmt__pct(b, sizeof(b), 1, 0), "-");
	assert_string_equal(top_fmt__pct(b, sizeof(b), 1, 4), "25.0");
	assert_string_equal(top_fmt__pct(b, sizeof(b), 5, 4), "100.0");

	assert_string_equal(top_fmt__clock(b, sizeof(b), 151 * SEC), "0:02:31");
	assert_string_equal(
		top_fmt__clock(b, sizeof(b), (3 * 86400 + 3723) * SEC),
		"3d 01:02:03");
	assert_string_equal(top_fmt__at(b, sizeof(b), 1234 * MS), "+1.234s");
	assert_string_equal(top_fmt__at(b, sizeof(b), 3723400 * MS),
			    "+1:02:03.4");

	assert_string_equal(top_fmt__rate(b, sizeof(b), 0), "0/s");
	assert_string_equal(top_fmt__rate(b, sizeof(b), 950), "950/s");
	assert_string_equal(top_fmt__rate(b, sizeof(b), 12345), "12.3k/s");
	assert_string_equal(top_fmt__rate(b, sizeof(b), 1.2e6), "1.20M/s");
}

static void test_line(void **state)
{
	struct top_line l;
	char big[TOP_LINE_MAX * 2];

	top_line__clear(&l);
	top_line__add(&l, TOP_HL_LABEL, "a\tb\x1b");
	assert_string_equal(l.text, "a?b?"); /* one byte, one cell */
	top_line__add(&l, TOP_HL_VALUE, "%d", 42);
	assert_string_equal(l.text, "a?b?42");
	assert_int_equal(l.hl[0], TOP_HL_LABEL);
	assert_int_equal(l.hl[4], TOP_HL_VALUE);
	top_line__pad(&l, 10, TOP_HL_DIM);
	assert_int_equal(l.len, 10);
	assert_int_equal(l.hl[9], TOP_HL_DIM);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	top_line__add(&l, TOP_HL_NORMAL, "%s", big);
	assert_int_equal(l.len, TOP_LINE_MAX);
	assert_int_equal((int)strlen(l.text), TOP_LINE_MAX);
}

/* ---- rows -------------------------------------------------------------- */

static void test_rows_default(void **state)
{
	/* Largest live first; 3 ended normally: hidden; 40 was aborted: a
	 * never-finished task stays in sight. */
	assert_string_equal(build(), "rt,out,1,2,40");
	assert_int_equal(rows.nspecial, 2);
	assert_int_equal(rows.ended_hidden, 1);
	assert_int_equal(rows.filtered_out, 0);
	/* Nothing chosen: the top task is selected, not the runtime row. */
	assert_int_equal(ui.sel_pos, 2);
	assert_int_equal(ui.sel, TOP_NO_ROW);

	ui.show_ended = true;
	assert_string_equal(build(), "rt,out,1,2,3,40"); /* ties: id order */
	assert_int_equal(rows.ended_hidden, 0);
}

static void test_rows_sort(void **state)
{
	ui.show_ended = true;
	ui.sort = TOP_SORT_PEAK;
	assert_string_equal(build(), "rt,out,2,1,3,40");
	ui.reverse = true;
	assert_string_equal(build(), "rt,out,3,40,1,2");
	ui.reverse = false;
	ui.sort = TOP_SORT_FUTURE;
	assert_string_equal(build(), "rt,out,2,1,40,3");
	ui.sort = TOP_SORT_POLLS; /* 1, 2, 3 polled once; 40 never */
	assert_string_equal(build(), "rt,out,1,2,3,40");
	ui.sort = TOP_SORT_AGE; /* alive ones age; ended ones lived 38, 47 ms */
	assert_string_equal(build(), "rt,out,1,2,40,3");
}

static void test_rows_filter(void **state)
{
	snprintf(ui.filter, sizeof(ui.filter), "no-waker");
	assert_string_equal(build(), "2");
	assert_int_equal(rows.filtered_out, 4); /* rt, out, 1, 40 */
	assert_int_equal(rows.ended_hidden, 1);
	snprintf(ui.filter, sizeof(ui.filter),
		 "PEND"); /* case does not matter */
	assert_string_equal(build(), "1,2");
	snprintf(ui.filter, sizeof(ui.filter), "4"); /* ids */
	assert_string_equal(build(), "40");
	snprintf(ui.filter, sizeof(ui.filter), "abort");
	assert_string_equal(build(), "40");
	snprintf(ui.filter, sizeof(ui.filter), "runtime threads");
	assert_string_equal(build(), "rt");
	snprintf(ui.filter, sizeof(ui.filter), "zzz");
	assert_string_equal(build(), "");
	assert_int_equal(ui.sel_pos, 0);
	assert_true(top_row__matches(&src, 0, ""));
	assert_true(top_row__matches(&src, 0, NULL));
}

/* The selection follows its task through a re-sort and a filter. */
static void test_selection(void **state)
{
	build();
	assert_int_equal(top_ui__key(&ui, TOP_KEY_DOWN, &rows), TOP_ACT_REDRAW);
	assert_int_equal(ui.sel_pos, 3);
	assert_int_equal(top_src__task(&src, ui.sel)->id, 2);
	ui.sort = TOP_SORT_PEAK;
	assert_string_equal(build(), "rt,out,2,1,40");
	assert_int_equal(ui.sel_pos, 2);
	assert_int_equal(top_src__task(&src, ui.sel)->id, 2);
	/* Up past the top stops there; End, Home. */
	for (int i = 0; i < 5; i++)
		top_ui__key(&ui, TOP_KEY_UP, &rows);
	assert_int_equal(ui.sel_pos, 0);
	assert_int_equal(ui.sel, TOP_ROW_RUNTIME);
	top_ui__key(&ui, TOP_KEY_END, &rows);
	assert_int_equal(ui.sel_pos, 4);
	top_ui__key(&ui, 'g', &rows);
	assert_int_equal(ui.sel_pos, 0);
	/* Selected row filtered out: the position stays, clamped. */
	top_ui__key(&ui, TOP_KEY_END, &rows);
	snprintf(ui.filter, sizeof(ui.filter), "pending");
	assert_string_equal(build(), "2,1");
	assert_int_equal(ui.sel_pos, 1);
	assert_int_equal(top_src__task(&src, ui.sel)->id, 1);
}

static void test_scroll(void **state)
{
	ui.show_ended = true;
	build();
	ui.page = 2;
	top_ui__key(&ui, TOP_KEY_PGDN, &rows);
	assert_int_equal(ui.sel_pos, 4); /* from the top task (2), a page */
	assert_int_equal(ui.first, 3);
	top_ui__key(&ui, TOP_KEY_DOWN, &rows);
	top_ui__key(&ui, TOP_KEY_DOWN, &rows);
	assert_int_equal(ui.sel_pos, 5);
	assert_int_equal(ui.first, 4);
	top_ui__key(&ui, TOP_KEY_PGUP, &rows);
	assert_int_equal(ui.sel_pos, 3);
	assert_int_equal(ui.first, 3);
	/* A taller window: no empty space under the last row. */
	ui.page = 10;
	top_ui__sync(&ui, &rows);
	assert_int_equal(ui.first, 0);
}

/* ---- keys -------------------------------------------------------------- */

static void test_keys_sort(void **state)
{
	build();
	assert_int_equal(top_ui__key(&ui, 'p', &rows), TOP_ACT_REDRAW);
	assert_int_equal(ui.sort, TOP_SORT_PEAK);
	assert_false(ui.reverse);
	top_ui__key(&ui, 'p', &rows); /* again: smallest first */
	assert_true(ui.reverse);
	top_ui__key(&ui, 'a', &rows);
	assert_int_equal(ui.sort, TOP_SORT_AGE);
	assert_false(ui.reverse);
	top_ui__key(&ui, 'o', &rows);
	assert_int_equal(ui.sort, TOP_SORT_POLLS);
	top_ui__key(&ui, 'F', &rows);
	assert_int_equal(ui.sort, TOP_SORT_FUTURE);
	top_ui__key(&ui, '>', &rows);
	assert_int_equal(ui.sort, TOP_SORT_LIVE);
	top_ui__key(&ui, '<', &rows);
	assert_int_equal(ui.sort, TOP_SORT_FUTURE);
	top_ui__key(&ui, 'l', &rows);
	assert_int_equal(ui.sort, TOP_SORT_LIVE);
	assert_string_equal(top_sort__name(ui.sort), "live");
}

static void test_keys_modes(void **state)
{
	build();
	assert_int_equal(top_ui__key(&ui, 'x', &rows), TOP_ACT_NONE);
	assert_int_equal(top_ui__key(&ui, 's', &rows),
			 TOP_ACT_SNAPSHOT | TOP_ACT_REDRAW);
	assert_int_equal(top_ui__key(&ui, TOP_KEY_RESIZE, &rows) &
				 TOP_ACT_REPAINT,
			 TOP_ACT_REPAINT);
	top_ui__key(&ui, ' ', &rows);
	assert_true(ui.paused);
	top_ui__key(&ui, ' ', &rows);
	assert_false(ui.paused);
	top_ui__key(&ui, 'e', &rows);
	assert_true(ui.show_ended);
	top_ui__key(&ui, 'b', &rows);
	assert_true(ui.exact);

	/* Enter: the selected task's detail; q there goes back, not out. */
	assert_int_equal(top_ui__key(&ui, TOP_KEY_ENTER, &rows),
			 TOP_ACT_REDRAW);
	assert_int_equal(ui.screen, TOP_SCR_DETAIL);
	assert_int_equal(top_src__task(&src, ui.detail)->id, 1);
	top_ui__key(&ui, TOP_KEY_DOWN, &rows);
	assert_int_equal(ui.scroll, 1);
	assert_int_equal(top_ui__key(&ui, 'q', &rows), TOP_ACT_REDRAW);
	assert_int_equal(ui.screen, TOP_SCR_LIST);
	assert_int_equal(ui.scroll, 0);

	/* Help from anywhere; any key returns. */
	top_ui__key(&ui, '?', &rows);
	assert_int_equal(ui.screen, TOP_SCR_HELP);
	assert_int_equal(top_ui__key(&ui, 'q', &rows), TOP_ACT_REDRAW);
	assert_int_equal(ui.screen, TOP_SCR_LIST);

	top_ui__key(&ui, 'L', &rows);
	assert_int_equal(ui.screen, TOP_SCR_LOG);
	top_ui__key(&ui, TOP_KEY_ESC, &rows);
	assert_int_equal(ui.screen, TOP_SCR_LIST);

	assert_int_equal(top_ui__key(&ui, 'q', &rows), TOP_ACT_QUIT);
	assert_int_equal(top_ui__key(&ui, TOP_KEY_F10, &rows), TOP_ACT_QUIT);
}

static void test_keys_filter(void **state)
{
	build();
	top_ui__key(&ui, TOP_KEY_DOWN, &rows);
	assert_int_equal(top_ui__key(&ui, '/', &rows), TOP_ACT_REDRAW);
	assert_true(ui.editing);
	/* Typing: every key is text, even q and s. */
	assert_int_equal(top_ui__key(&ui, 'q', &rows), TOP_ACT_REDRAW);
	assert_int_equal(top_ui__key(&ui, 's', &rows), TOP_ACT_REDRAW);
	assert_string_equal(ui.filter, "qs");
	top_ui__key(&ui, TOP_KEY_BACKSPACE, &rows);
	top_ui__key(&ui, TOP_KEY_BACKSPACE, &rows);
	assert_int_equal(top_ui__key(&ui, TOP_KEY_BACKSPACE, &rows),
			 TOP_ACT_NONE);
	for (const char *p = "pend"; *p; p++)
		top_ui__key(&ui, *p, &rows);
	assert_int_equal(ui.sel, TOP_NO_ROW); /* back to the top of the list */
	assert_string_equal(build(), "1,2");
	top_ui__key(&ui, TOP_KEY_ENTER, &rows);
	assert_false(ui.editing);
	assert_string_equal(ui.filter, "pend");
	/* Esc in the list clears a filter. */
	assert_int_equal(top_ui__key(&ui, TOP_KEY_ESC, &rows), TOP_ACT_REDRAW);
	assert_string_equal(ui.filter, "");
	assert_int_equal(top_ui__key(&ui, TOP_KEY_ESC, &rows), TOP_ACT_NONE);
	/* Esc while typing drops it; Ctrl-U empties it. */
	top_ui__key(&ui, '/', &rows);
	top_ui__key(&ui, 'z', &rows);
	top_ui__key(&ui, TOP_KEY_CTRL_U, &rows);
	assert_string_equal(ui.filter, "");
	top_ui__key(&ui, 'z', &rows);
	top_ui__key(&ui, TOP_KEY_ESC, &rows);
	assert_false(ui.editing);
	assert_string_equal(ui.filter, "");
	/* The filter has a bound. */
	top_ui__key(&ui, '/', &rows);
	for (int i = 0; i < 2 * TOP_FILTER_MAX; i++)
		top_ui__key(&ui, 'a', &rows);
	assert_int_equal(strlen(ui.filter), TOP_FILTER_MAX - 1);
}

/* ---- columns ----------------------------------------------------------- */

static void test_cols_fit(void **state)
{
	struct top_cols c;
	struct top_line l;

	build();
	top_cols__fit(&c, &src, &rows, &ui, 160);
	/* All but page-level mode's own column. */
	for (int i = 0; i < TOP_COL_MAX; i++)
		assert_int_equal(c.width[i] > 0, i != TOP_COL_PAGES);
	assert_int_equal(c.total, 160); /* the spawn site takes the rest */
	top_cols__head(&c, &ui, &l);
	assert_int_equal(l.len, 160);
	assert_true(has(&l, "ID KIND    STATE     REASON"));
	assert_true(has(&l, "SPAWN SITE"));
	assert_int_equal(hl_at(&l, "LIVE"), TOP_HL_COLSORT);
	assert_int_equal(hl_at(&l, "PEAK"), TOP_HL_COLHEAD);

	top_cols__fit(&c, &src, &rows, &ui, 80);
	assert_true(c.total <= 80);
	assert_int_equal(c.width[TOP_COL_SITE], 0);
	assert_true(c.width[TOP_COL_ID] && c.width[TOP_COL_STATE] &&
		    c.width[TOP_COL_LIVE] && c.width[TOP_COL_REASON]);

	top_cols__fit(&c, &src, &rows, &ui, 30);
	assert_true(c.total <= 30);
	for (int i = 0; i < TOP_COL_MAX; i++)
		assert_int_equal(c.width[i] > 0, i == TOP_COL_ID ||
							 i == TOP_COL_STATE ||
							 i == TOP_COL_LIVE);
	/* Page-level mode: its column, kept as long as STATE and LIVE. */
	model__set_page_level(cur);
	top_src__update(&src, cur, &info);
	build();
	top_cols__fit(&c, &src, &rows, &ui, 160);
	assert_true(c.width[TOP_COL_PAGES] > 0);
	top_cols__head(&c, &ui, &l);
	assert_true(has(&l, "PAGE-LVL"));
	top_cols__fit(&c, &src, &rows, &ui, 40);
	assert_true(c.total <= 40);
	assert_true(c.width[TOP_COL_PAGES] > 0);
	/* Widths follow the widest value of any row. */
	top_cols__fit(&c, &src, &rows, &ui, 160);
	assert_int_equal(c.width[TOP_COL_ID], 7); /* "runtime" */
	assert_int_equal(c.width[TOP_COL_AGE], 6);
	ui.exact = true;
	top_cols__fit(&c, &src, &rows, &ui, 160);
	assert_int_equal(c.width[TOP_COL_PEAK], 6); /* 200300 */
	assert_int_equal(c.width[TOP_COL_FUTURE], 6);
	ui.exact = false;
	/* A task alive before attach (first seen in a poll): ">AGE". */
	{
		struct ms_poll_rec p;

		memset(&p, 0, sizeof(p));
		hdr(&p.h, MS_REC_POLL_BEGIN, MS_RT_USDT, W1, 90 * MS);
		p.task = 123456789012ull;
		assert_int_equal(model__apply(cur, &p, sizeof(p)), 0);
	}
	top_src__update(&src, cur, &info);
	build();
	top_cols__fit(&c, &src, &rows, &ui, 160);
	assert_int_equal(c.width[TOP_COL_ID], 12);
	assert_int_equal(c.width[TOP_COL_AGE], 7);
	{
		struct top_line l2;

		top_cols__row(&c, &src, 4, &ui, &l2);
		assert_true(has(
			&l2,
			"123456789012 user    running   -          >9.9s "));
	}
	/* Too narrow even for those: they stay, top.c cuts the line. */
	top_cols__fit(&c, &src, &rows, &ui, 10);
	assert_true(c.width[TOP_COL_LIVE] > 0);
}

static void test_cols_rows(void **state)
{
	struct top_cols c;
	struct top_line l;
	char id[8], kind[16], st[16], reason[16], age[16], polls[16], busy[16],
		fut[16], live[32], peak[32], allocs[16], site[64];

	build();
	top_cols__fit(&c, &src, &rows, &ui, 160);
	top_cols__row(&c, &src, rows.idx[3], &ui, &l); /* task 2 */
	assert_int_equal(l.len, 160);
	assert_int_equal(
		sscanf(l.text,
		       "%7s %15s %15s %15s %15s %15s %15s %15s %31s %31s %15s %63s",
		       id, kind, st, reason, age, polls, busy, fut, live, peak,
		       allocs, site),
		12);
	assert_string_equal(id, "2");
	assert_string_equal(kind, "user");
	assert_string_equal(st, "pending");
	assert_string_equal(reason, "no-waker");
	assert_string_equal(age, "10.0s");
	assert_string_equal(polls, "1");
	assert_string_equal(fut, "1.00K");
	assert_string_equal(live, "300B");
	assert_string_equal(peak, "196K");
	assert_string_equal(allocs, "2");
	assert_string_equal(site, "-");
	assert_int_equal(l.hl[0], TOP_HL_NF);

	ui.exact = true;
	top_cols__fit(&c, &src, &rows, &ui, 160);
	top_cols__row(&c, &src, rows.idx[3], &ui, &l);
	assert_true(has(&l, " 1024 "));
	assert_true(has(&l, " 300 "));
	assert_true(has(&l, " 200300 "));

	/* The runtime row: its own label and memory. */
	top_cols__row(&c, &src, rows.idx[0], &ui, &l);
	assert_int_equal(sscanf(l.text, "%7s", id), 1);
	assert_string_equal(id, "runtime");
	assert_true(has(&l, " 900 "));
	assert_true(has(&l, "outside tasks, on runtime threads"));
	assert_int_equal(l.hl[0], TOP_HL_SPECIAL);
	top_cols__row(&c, &src, rows.idx[1], &ui, &l);
	assert_true(has(&l, " 700 "));
	/* A normal pending task; an ended one is dim. */
	top_cols__row(&c, &src, rows.idx[2], &ui, &l);
	assert_int_equal(l.hl[0], TOP_HL_NORMAL);
	ui.show_ended = true;
	assert_string_equal(build(), "rt,out,1,2,3,40");
	top_cols__row(&c, &src, rows.idx[4], &ui, &l);
	assert_int_equal(l.hl[0], TOP_HL_DIM);
}

/* ---- header, status, footer ------------------------------------------- */

static void test_header(void **state)
{
	struct top_line l[6];
	uint64_t st[MS_STAT_MAX] = { 0 };
	int n;

	n = top_header__build(&src, &ui, 160, l, 6);
	assert_int_equal(n, 4); /* title, figures, tasks, history */
	assert_int_equal(l[0].len, 160);
	assert_true(has(&l[0], " memscoped  pid 100  prog --flag"));
	assert_true(has(&l[0], "up 0:00:10 "));
	assert_int_equal(l[0].hl[0], TOP_HL_TITLE);
	assert_true(has(&l[1], "Runtime: usdt"));
	assert_true(has(&l[1], "RSS: 3.00M"));
	assert_true(has(&l[1], "Heap: 6.74K live in 4 blocks, peak 200K"));
	assert_true(has(&l[1], "Lost: 0"));
	assert_int_equal(hl_at(&l[1], "Runtime"), TOP_HL_LABEL);
	assert_int_equal(hl_at(&l[1], "usdt"), TOP_HL_VALUE);
	assert_true(has(&l[2], "Tasks: 2 alive, 1 completed, 1 cancelled"));
	assert_true(has(&l[2], "Never finished: 2"));
	assert_int_equal(hl_at(&l[2], "2 alive"), TOP_HL_VALUE);
	assert_int_equal(hl_at(&l[2], "Never finished: 2"), TOP_HL_LABEL);
	assert_true(has(&l[3], "Heap history: (one sample a second)"));
	for (int i = 0; i < n; i++)
		assert_true(l[i].len <= 160);

	/* Lost events and a paused display stand out. */
	st[MS_STAT_LOST] = 7;
	model__set_kernel_stats(cur, st, MS_STAT_MAX);
	model__sample(cur, START + 1 * SEC);
	alloc(MAIN, 1100 * MS, 0x6000, 60000, 0);
	model__sample(cur, START + 2 * SEC);
	top_src__update(&src, cur, &info);
	ui.paused = true;
	n = top_header__build(&src, &ui, 160, l, 6);
	assert_true(has(&l[0], " PAUSED "));
	assert_int_equal(hl_at(&l[0], "PAUSED"), TOP_HL_BADGE);
	assert_true(has(&l[1], "Lost: 7"));
	assert_int_equal(hl_at(&l[1], "7"), TOP_HL_ALERT);
	assert_true(any_has(l, (size_t)n, "INCOMPLETE"));
	/* Two samples: a little (rounded up, not 0), then the whole scale. */
	assert_true(
		any_has(l, (size_t)n, "Heap history: 18 max 65.3K, last 2s"));

	/* Narrow and short: the figures wrap, the title is cut to fit. */
	n = top_header__build(&src, &ui, 50, l, 3);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++)
		assert_true(l[i].len <= 50);
	assert_true(has(&l[0], "up 0:00:10"));
	assert_int_equal(top_header__build(&src, &ui, 50, l, 1), 1);
}

static void test_status_footer(void **state)
{
	struct top_line l;

	build();
	top_status__build(&src, &ui, &rows, "snapshot written to x.json", 100,
			  &l);
	assert_int_equal(l.len, 100);
	assert_true(has(&l, " snapshot written to x.json"));
	assert_true(has(&l, "1 ended hidden  sort live desc "));
	ui.reverse = true;
	snprintf(ui.filter, sizeof(ui.filter), "pe");
	build();
	top_status__build(&src, &ui, &rows, NULL, 100, &l);
	assert_true(has(&l, "filter \"pe\""));
	ui.show_ended = true;
	top_status__build(&src, &ui, &rows, NULL, 100, &l);
	assert_true(has(&l, "ended shown  sort live asc"));
	assert_true(has(&l, "sort live asc"));
	ui.editing = true;
	top_status__build(&src, &ui, &rows, "x", 100, &l);
	assert_true(has(&l, "Filter: pe"));

	top_footer__build(&ui, 200, &l);
	assert_true(has(&l, "q Quit"));
	assert_true(has(&l, "Space Pause"));
	assert_true(has(&l, "? Help"));
	assert_int_equal(hl_at(&l, "q Quit"), TOP_HL_KEY);
	ui.paused = true;
	top_footer__build(&ui, 200, &l);
	assert_true(has(&l, "Space Resume"));
	/* Narrow: whole items only. */
	top_footer__build(&ui, 30, &l);
	assert_true(l.len <= 30);
	assert_true(has(&l, "q Quit"));
	assert_false(has(&l, "Help"));
	ui.screen = TOP_SCR_DETAIL;
	top_footer__build(&ui, 200, &l);
	assert_true(has(&l, "Esc Back"));
}

/* ---- detail ------------------------------------------------------------ */

static void test_detail(void **state)
{
	struct top_line *l = calloc(100, sizeof(*l));
	size_t n;

	assert_non_null(l);
	/* Task 1: two children, no parent. */
	n = top_detail__build(&src, 0, &ui, l, 100);
	assert_true(n > 10);
	assert_true(has(&l[0], "Task 1"));
	assert_true(any_has(l, n, "live        5000 B (4.88K) in 1 block"));
	assert_true(any_has(l, n, "future      256 B"));
	assert_true(any_has(l, n, "parent      none known"));
	assert_true(any_has(l, n, "children    2"));
	assert_true(any_has(l, n, "none sampled yet"));
	assert_true(any_has(l, n, "+0.000s     spawned"));
	assert_true(any_has(l, n, "+0.010s     last poll (1 poll)"));
	assert_true(any_has(l, n, "+10.000s    now: pending"));
	/* Task 2: never finished, parent 1. */
	n = top_detail__build(&src, 1, &ui, l, 100);
	assert_true(has(&l[0], "NEVER FINISHED: no-waker"));
	assert_int_equal(hl_at(&l[0], "NEVER"), TOP_HL_NF);
	assert_true(any_has(l, n, "peak        200300 B (196K)"));
	assert_true(any_has(l, n, "parent      1 "));
	assert_true(any_has(l, n, "children    none"));
	/* Task 40: aborted, with its end. */
	n = top_detail__build(&src, 3, &ui, l, 100);
	assert_true(any_has(l, n,
			    "+0.050s     cancelled: never finished, aborted"));
	/* The runtime row, and a row that is not there. */
	n = top_detail__build(&src, TOP_ROW_RUNTIME, &ui, l, 100);
	assert_true(has(&l[0], "Runtime overhead"));
	assert_true(any_has(l, n, "live        900 B in 1 block"));
	n = top_detail__build(&src, 999, &ui, l, 100);
	assert_int_equal(n, 1);
	/* Bounded by max. */
	assert_int_equal(top_detail__build(&src, 0, &ui, l, 3), 3);
	n = top_help__build(l, 100);
	assert_true(any_has(l, n, "l p a o f"));
	free(l);
}

/* ---- spawn sites --------------------------------------------------------- */

static void test_spawn_site(void **state)
{
	struct ms_frame fr[2] = {
		{ .pc = 0x1000,
		  .function = "app::serve::{{closure}}",
		  .file = "/src/app/serve.rs",
		  .line = 42,
		  .module = "app" },
		{ .pc = 0x2000, .module = "/usr/lib/libc.so.6" },
	};
	struct top_line *l = calloc(100, sizeof(*l));
	struct top_cols c;
	struct top_line row;
	uint32_t site;
	char buf[128];
	size_t n;

	assert_non_null(l);
	site = model__site_intern(cur, fr, 2);
	assert_int_not_equal(site, MS_NO_SITE);
	model__spawn_site(cur, MS_RT_USDT, 2, site); /* task 2 */
	top_src__update(&src, cur, &info);
	build();
	assert_string_equal(
		top_task__site(buf, sizeof(buf), &src, top_src__task(&src, 1)),
		"app::serve::{{closure}} (serve.rs:42)");
	assert_null(
		top_task__site(buf, sizeof(buf), &src, top_src__task(&src, 0)));
	top_cols__fit(&c, &src, &rows, &ui, 160);
	top_cols__row(&c, &src, 1, &ui, &row);
	assert_true(has(&row, " app::serve::{{closure}} (serve.rs:42)"));
	top_cols__row(&c, &src, 0, &ui, &row);
	assert_true(has(&row, " -   "));
	/* Narrow column: cut, not wrapped. */
	top_cols__fit(&c, &src, &rows, &ui, 100);
	top_cols__row(&c, &src, 1, &ui, &row);
	assert_int_equal(row.len, 100);

	/* The filter finds tasks by where they were spawned. */
	snprintf(ui.filter, sizeof(ui.filter), "SERVE");
	assert_string_equal(build(), "2");

	/* Task 1's 5000-byte block was a sampled allocation at that site:
	 * its detail lists the site with the estimate. */
	model__sampled_alloc(cur, 0x1000, 5000, 5000.0, site);
	top_src__update(&src, cur, &info);
	ui.filter[0] = '\0';
	n = top_detail__build(&src, 0, &ui, l, 100);
	assert_true(any_has(
		l, n,
		"4.88K       live (4.88K allocated)  app::serve::{{closure}} (/src/app/serve.rs:42)"));
	assert_false(any_has(l, n, "none sampled yet"));

	n = top_detail__build(&src, 1, &ui, l, 100);
	assert_true(any_has(
		l, n,
		"#0          app::serve::{{closure}} (/src/app/serve.rs:42)"));
	assert_true(any_has(l, n, "#1          ? (/usr/lib/libc.so.6)"));
	n = top_detail__build(&src, 0, &ui, l, 100);
	assert_true(any_has(l, n, "not known (spawned before attach"));

	/* Still there when frozen: sites do not change. */
	assert_int_equal(top_src__freeze(&src), 0);
	assert_non_null(
		top_task__site(buf, sizeof(buf), &src, top_src__task(&src, 1)));
	free(l);
}

/* ---- pausing ----------------------------------------------------------- */

static void test_freeze(void **state)
{
	struct top_info later = info;

	assert_int_equal(top_src__freeze(&src), 0);
	assert_null(src.m);
	/* The model moves on: task 1 grows, task 50 is spawned. */
	poll_rec(MS_REC_POLL_BEGIN, 70 * MS, 1, 0);
	alloc(W1, 71 * MS, 0x7000, 1000000, 1);
	poll_rec(MS_REC_POLL_END, 72 * MS, 1, 1);
	task_rec(MS_REC_TASK_SPAWN, 73 * MS, 50, 0, 32);
	assert_string_equal(build(), "rt,out,1,2,40");
	assert_int_equal(top_src__task(&src, 0)->mem.live_bytes, 5000);
	/* Sorting and filtering still work on the frozen rows. */
	ui.sort = TOP_SORT_FUTURE;
	assert_string_equal(build(), "rt,out,2,1,40");
	/* Resume: the model as it is now. */
	later.now_ns += SEC;
	top_src__update(&src, cur, &later);
	assert_non_null(src.m);
	ui.sort = TOP_SORT_LIVE;
	assert_string_equal(build(), "rt,out,1,2,40,50");
	assert_int_equal(top_src__task(&src, 0)->mem.live_bytes, 1005000);
	assert_int_equal(src.now, 11 * SEC);
	/* A frozen empty model is fine too. */
	top_src__release(&src);
	assert_null(top_src__task(&src, 0));
	assert_int_equal(top_src__freeze(&src), 0);
}

/* --all: Tab and ] go to the next process, [ to the previous one; the
 * title says which of how many. memscoped does the switching. */
static void test_processes(void **state)
{
	struct top_info two = info;
	struct top_line l[6];

	build();
	assert_int_equal(top_ui__key(&ui, '\t', &rows),
			 TOP_ACT_NEXT_PROC | TOP_ACT_REDRAW);
	assert_int_equal(top_ui__key(&ui, ']', &rows),
			 TOP_ACT_NEXT_PROC | TOP_ACT_REDRAW);
	assert_int_equal(top_ui__key(&ui, '[', &rows),
			 TOP_ACT_PREV_PROC | TOP_ACT_REDRAW);
	top_header__build(&src, &ui, 160, l, 6);
	assert_false(has(&l[0], "[1/"));
	two.proc_idx = 1;
	two.proc_count = 3;
	top_src__update(&src, cur, &two);
	top_header__build(&src, &ui, 160, l, 6);
	assert_true(has(&l[0], " memscoped  [2/3] pid "));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_fmt_other),
		cmocka_unit_test(test_line),
		T(test_rows_default),
		T(test_rows_sort),
		T(test_rows_filter),
		T(test_selection),
		T(test_scroll),
		T(test_keys_sort),
		T(test_keys_modes),
		T(test_keys_filter),
		T(test_cols_fit),
		T(test_cols_rows),
		T(test_header),
		T(test_status_footer),
		T(test_processes),
		T(test_detail),
		T(test_spawn_site),
		T(test_freeze),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
