// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/top_int.h"

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
