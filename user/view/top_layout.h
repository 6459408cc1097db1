/* SPDX-License-Identifier: MIT */
/*
 * The live view's layout: which rows, in which order, which columns fit,
 * and every piece of text on the screen, as plain data. No curses here
 * (top.c draws what this builds), so all of it is unit-tested without a
 * terminal. The view only reads the model.
 */
#ifndef MS_TOP_LAYOUT_H
#define MS_TOP_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

/* What the view shows that is not in the model: memscoped passes it in. */
struct top_info {
	int pid;
	const char *command;
	uint64_t now_ns; /* CLOCK_MONOTONIC */
	uint64_t rss_bytes; /* the target's resident set, 0: unknown */
	bool tasks_only; /* no allocator probes: memory figures are 0 */
	bool can_snapshot; /* -s FILE was given */
	int proc_idx, proc_count; /* --all: which of how many processes */
};

/* ---- text with highlight classes --------------------------------------- */

/* What a piece of text means; top.c maps each class to colours. */
enum top_hl {
	TOP_HL_NORMAL,
	TOP_HL_DIM, /* ended tasks, runtime tasks, "-" */
	TOP_HL_LABEL, /* "RSS", "Tasks" in the header */
	TOP_HL_VALUE,
	TOP_HL_ALERT, /* lost events, never-finished count */
	TOP_HL_TITLE, /* the title bar */
	TOP_HL_BADGE, /* PAUSED, INCOMPLETE */
	TOP_HL_COLHEAD, /* the column header bar */
	TOP_HL_COLSORT, /* the sorted column's header */
	TOP_HL_NF, /* a never-finished task */
	TOP_HL_SPECIAL, /* the runtime overhead and outside-task rows */
	TOP_HL_KEY, /* a key in the footer */
	TOP_HL_SPARK, /* sparkline: the text is a level digit 0..8 */
	TOP_HL_SECTION, /* a heading in the detail and help screens */
	TOP_HL_MAX,
};

#define TOP_LINE_MAX 400

/* One screen line: ASCII text and a class per character. */
struct top_line {
	int len;
	char text[TOP_LINE_MAX + 1];
	uint8_t hl[TOP_LINE_MAX];
};

void top_line__clear(struct top_line *l);
/* Append printf-style text in one class; cut at TOP_LINE_MAX. */
void top_line__add(struct top_line *l, enum top_hl hl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Spaces in class hl up to column width. */
void top_line__pad(struct top_line *l, int width, enum top_hl hl);

/* ---- cell formats ------------------------------------------------------- */

/* "392B", "97.7K", "977K", "1.43M"; exact: "100000". */
const char *top_fmt__bytes(char *buf, size_t len, uint64_t b, bool exact);
/* Up to 7 digits as they are, then "12.3M", "4.56G". */
const char *top_fmt__count(char *buf, size_t len, uint64_t n);
/* "850ms", "12.3s", "5m03s", "2h05m", "3d04h". */
const char *top_fmt__age(char *buf, size_t len, uint64_t ns);
/* part/whole in percent, one decimal ("12.5"); "-" when whole is 0. */
const char *top_fmt__pct(char *buf, size_t len, uint64_t part, uint64_t whole);
/* Uptime: "0:02:31", "3d 01:02:03". */
const char *top_fmt__clock(char *buf, size_t len, uint64_t ns);
/* A point of the trace: "+1.234s", "+1:02:03.4". */
const char *top_fmt__at(char *buf, size_t len, uint64_t ns);
/* Events per second: "0/s", "950/s", "12.3k/s", "1.20M/s". */
const char *top_fmt__rate(char *buf, size_t len, double per_s);

/* ---- the data shown: live from the model, or frozen --------------------- */

#define TOP_SPARK_MAX 240
#define TOP_COMMAND_MAX 256

struct top_src {
	const struct model *m; /* following the model; NULL when frozen */
	/* Sites are interned for good and their frames never change: read
	 * from the model even when frozen. */
	const struct model *sites;
	struct ms_task *frozen; /* paused: a copy of the tasks */
	size_t ntasks;
	struct ms_totals totals;
	struct ms_async async;
	struct ms_mem runtime, outside;
	/* Page-level mode (model__page_level): its figures, labelled so. */
	bool page_level;
	struct ms_pages pages, pages_runtime, pages_outside;
	enum ms_runtime runtime_kind;
	bool incomplete;
	uint64_t now; /* ns since trace start */
	double events_per_s;
	size_t nspark;
	uint64_t spark
		[TOP_SPARK_MAX]; /* live bytes, one a second, oldest first */
	struct top_info info; /* info.command points to command */
	char command[TOP_COMMAND_MAX];
};

/* Follow the model: everything but the tasks is copied (it is small). */
void top_src__update(struct top_src *s, const struct model *m,
		     const struct top_info *info);
/* Copy the tasks too: the display stops following the model. -ENOMEM. */
int top_src__freeze(struct top_src *s);
void top_src__release(struct top_src *s);
const struct ms_task *top_src__task(const struct top_src *s, size_t i);
/* Ended (completed or cancelled). */
bool top_task__ended(const struct ms_task *t);
/* The innermost user frame of a task's spawn site, "function (file:line)"
 * with the file's base name; NULL when unknown. */
const char *top_task__site(char *buf, size_t len, const struct top_src *s,
			   const struct ms_task *t);
/* Since spawn; for an ended task its lifetime. */
uint64_t top_task__age(const struct ms_task *t, uint64_t now);

/* ---- user interface state ----------------------------------------------- */

enum top_sort {
	TOP_SORT_LIVE,
	TOP_SORT_PEAK,
	TOP_SORT_AGE,
	TOP_SORT_POLLS,
	TOP_SORT_FUTURE,
	TOP_SORT_MAX,
};

const char *top_sort__name(enum top_sort s);

enum top_screen { TOP_SCR_LIST, TOP_SCR_DETAIL, TOP_SCR_HELP, TOP_SCR_LOG };

/* Keys beyond plain characters; top.c translates curses' codes. */
enum top_key {
	TOP_KEY_UP = 0x10000,
	TOP_KEY_DOWN,
	TOP_KEY_PGUP,
	TOP_KEY_PGDN,
	TOP_KEY_HOME,
	TOP_KEY_END,
	TOP_KEY_LEFT,
	TOP_KEY_RIGHT,
	TOP_KEY_ENTER,
	TOP_KEY_ESC,
	TOP_KEY_BACKSPACE,
	TOP_KEY_RESIZE,
	TOP_KEY_F1,
	TOP_KEY_F10,
	TOP_KEY_CTRL_L,
	TOP_KEY_CTRL_U,
};

/* What a key asks of the caller (bits). */
enum top_act {
	TOP_ACT_NONE = 0,
	TOP_ACT_REDRAW = 1, /* the view changed: draw now */
	TOP_ACT_QUIT = 2,
	TOP_ACT_SNAPSHOT = 4,
	TOP_ACT_REPAINT = 8, /* repaint the whole terminal */
	TOP_ACT_NEXT_PROC = 16, /* --all: show the next process */
	TOP_ACT_PREV_PROC = 32,
};

/* Rows that are not tasks; task rows are task indexes in the model. */
#define TOP_ROW_RUNTIME UINT32_MAX
#define TOP_ROW_OUTSIDE (UINT32_MAX - 1)
#define TOP_NO_ROW (UINT32_MAX - 2)

#define TOP_FILTER_MAX 64

struct top_ui {
	enum top_screen screen, help_from;
	enum top_sort sort;
	bool reverse; /* smallest first */
	bool show_ended; /* ended tasks that finished normally, too */
	bool exact; /* bytes as exact numbers */
	bool paused;
	bool editing; /* typing the filter */
	char filter[TOP_FILTER_MAX];
	uint32_t sel; /* selected row: a task index or TOP_ROW_* */
	size_t sel_pos, first; /* its position; first row on screen */
	size_t page; /* table rows on screen */
	uint32_t detail; /* the row the detail screen shows */
	size_t scroll; /* detail and log screens */
};

void top_ui__init(struct top_ui *ui);

/* ---- rows ---------------------------------------------------------------- */

struct top_sort_item;

struct top_rows {
	uint32_t *idx; /* in display order: the two outside-task rows, tasks */
	size_t n, cap;
	size_t nspecial;
	size_t ended_hidden; /* ended tasks left out (show with 'e') */
	size_t filtered_out; /* rows the filter left out */
	/* Maxima over the rows, for the column widths. */
	uint64_t max_id, max_polls, max_allocs, max_bytes;
	bool unknown_spawn; /* a task spawned before attach */
	struct top_sort_item *items; /* sort scratch */
	size_t items_cap;
};

/* Filter and sort. 0 or -ENOMEM. */
int top_rows__build(struct top_rows *r, const struct top_src *s,
		    const struct top_ui *ui);
void top_rows__free(struct top_rows *r);
/* Does row match the filter text (id, state, reason, spawn site;
 * case-insensitive)? */
bool top_row__matches(const struct top_src *s, uint32_t row,
		      const char *filter);

/* After a rebuild: find the selected row again (it follows its task
 * through re-sorting), keep it on screen. */
void top_ui__sync(struct top_ui *ui, const struct top_rows *r);
/* Handle one key (a character or TOP_KEY_*); rows: the rows on screen. */
int top_ui__key(struct top_ui *ui, int key, const struct top_rows *r);

/* ---- columns ------------------------------------------------------------- */

enum top_col {
	TOP_COL_ID,
	TOP_COL_KIND,
	TOP_COL_STATE,
	TOP_COL_REASON,
	TOP_COL_AGE,
	TOP_COL_POLLS,
	TOP_COL_BUSY,
	TOP_COL_FUTURE,
	TOP_COL_LIVE,
	TOP_COL_PEAK,
	TOP_COL_ALLOCS,
	TOP_COL_PAGES, /* page-level resident bytes (page-level mode only) */
	TOP_COL_SITE,
	TOP_COL_MAX,
};

struct top_cols {
	int width[TOP_COL_MAX]; /* 0: left out, the terminal is too narrow */
	int total; /* the line's width */
};

const char *top_col__name(enum top_col c);
/* Which columns fit in width, and how wide (from the rows' contents). */
void top_cols__fit(struct top_cols *c, const struct top_src *s,
		   const struct top_rows *r, const struct top_ui *ui,
		   int width);
void top_cols__head(const struct top_cols *c, const struct top_ui *ui,
		    struct top_line *out);
void top_cols__row(const struct top_cols *c, const struct top_src *s,
		   uint32_t row, const struct top_ui *ui, struct top_line *out);

/* ---- screens ------------------------------------------------------------- */

/* The title bar (line 0) and the summary lines below it, at most max lines
 * in all. Returns the number of lines. */
int top_header__build(const struct top_src *s, const struct top_ui *ui,
		      int width, struct top_line *lines, int max);
/* The status line: the latest message on the left, view state right. */
void top_status__build(const struct top_src *s, const struct top_ui *ui,
		       const struct top_rows *r, const char *msg, int width,
		       struct top_line *out);
/* The key bar. */
void top_footer__build(const struct top_ui *ui, int width,
		       struct top_line *out);
/* The detail screen of a row. Returns the number of lines (at most max). */
size_t top_detail__build(const struct top_src *s, uint32_t row,
			 const struct top_ui *ui, struct top_line *lines,
			 size_t max);
size_t top_help__build(struct top_line *lines, size_t max);

#endif
