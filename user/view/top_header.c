// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/top_int.h"

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
	if (s->page_level) {
		snprintf(v, sizeof(v), "%s resident, peak %s",
			 top_fmt__bytes(b1, sizeof(b1), s->pages.resident_bytes,
					false),
			 top_fmt__bytes(b2, sizeof(b2),
					s->pages.peak_resident_bytes, false));
		flow_item(&f, false, "Page-level", TOP_HL_VALUE, v);
	}
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

void top_footer__build(const struct top_ui *ui, int width, struct top_line *out)
{
	static const struct top_keyhelp list[] = {
		{ "q", "Quit" },      { "Enter", "Detail" },
		{ "/", "Filter" },    { "l p a o f", "Sort" },
		{ "e", "Ended" },     { "b", "Bytes" },
		{ "Space", "Pause" }, { "s", "Snapshot" },
		{ "L", "Log" },	      { "?", "Help" },
	};
	static const struct top_keyhelp page[] = {
		{ "Esc", "Back" },    { "Up/Down", "Scroll" },
		{ "Space", "Pause" }, { "s", "Snapshot" },
		{ "?", "Help" },      { "F10", "Quit" },
	};
	static const struct top_keyhelp help[] = { { "any key", "Back" } };
	const struct top_keyhelp *k = list;
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
