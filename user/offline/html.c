// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "offline/fmt.h"
#include "offline/html.h"

/* Plot geometry, in SVG user units (the page scales them down). */
#define W 960
#define H 300
#define ML 78 /* left margin: the y labels */
#define MR 20
#define MT 16
#define MB 42 /* bottom: x labels and the axis title */
#define PW (W - ML - MR)
#define PH (H - MT - MB)

/* Stacked per-task plot: this many tasks, then "other". */
#define NSERIES 8
/* Future-size bars shown at most. */
#define NBARS 30

static const char *const palette[NSERIES + 1] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
	"#edc948", "#9c755f", "#ff9da7", "#bab0ac",
};

static const char css[] =
	"body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;"
	"margin:0 auto;max-width:1040px;padding:12px 24px 40px;color:#222;background:#fff}"
	"h1{font-size:23px;margin:10px 0 2px}"
	"h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}"
	".sub{color:#555;margin:0 0 10px;overflow-wrap:anywhere}"
	"nav{font-size:13px;margin:6px 0 4px}nav a{margin-right:14px;color:#3567a3;text-decoration:none}"
	".banner{background:#fde2e1;border:2px solid #c62828;color:#8e0000;font-weight:bold;"
	"padding:10px 14px;margin:12px 0;border-radius:4px}"
	".cols{display:flex;flex-wrap:wrap;gap:0 40px}.cols section{flex:1 1 300px;min-width:0}"
	".scroll{overflow-x:auto}"
	"table{border-collapse:collapse;margin:4px 0;font-variant-numeric:tabular-nums}"
	"table.grid th,table.grid td{border-bottom:1px solid #e6e6e6;padding:3px 10px;"
	"text-align:left;white-space:nowrap}"
	"table.grid thead th{background:#f3f4f6;border-bottom:2px solid #ccc;font-weight:600}"
	"table.grid .num{text-align:right}"
	"table.grid .wrap{white-space:normal;overflow-wrap:anywhere;min-width:14em}"
	"table.kv th{text-align:left;font-weight:normal;color:#555;padding:2px 16px 2px 0;"
	"vertical-align:top;white-space:nowrap}"
	"table.kv td{padding:2px 0;overflow-wrap:anywhere}"
	"tr.alert td{background:#fff1f0}"
	"p.note{color:#666;font-size:12.5px;margin:3px 0}"
	"p.empty{color:#666;font-style:italic;margin:4px 0}"
	"svg{display:block;width:100%;height:auto;max-width:960px}"
	"svg text{font:12px system-ui,sans-serif;fill:#444}"
	"svg .grid{stroke:#e8e8e8;stroke-width:1}"
	"svg .axis{stroke:#888;stroke-width:1}"
	"svg .title{font-weight:600;fill:#333}"
	".legend{display:flex;flex-wrap:wrap;gap:4px 18px;font-size:12.5px;margin:6px 0 0}"
	".sw{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px;"
	"border-radius:2px}"
	"footer{margin-top:32px;color:#888;font-size:12px}";

/* A linear axis with "nice" ticks in a display unit. */
struct axis {
	double max; /* top of the axis, in raw units (bytes, ns) */
	double step; /* tick spacing, raw units */
	double scale; /* raw units per display unit */
	const char *unit;
};

static double nice(double x)
{
	double mag, f;

	if (!(x > 0))
		return 1;
	mag = pow(10, floor(log10(x)));
	f = x / mag;
	return (f <= 1	 ? 1 :
		f <= 2	 ? 2 :
		f <= 2.5 ? 2.5 :
		f <= 5	 ? 5 :
			   10) *
	       mag;
}

static void axis_ticks(struct axis *a, double max, int nticks)
{
	double m = max / a->scale, step;

	if (!(m > 0))
		m = 1;
	step = nice(m / nticks);
	a->step = step * a->scale;
	a->max = ceil(m / step - 1e-9) * step * a->scale;
	if (!(a->max > 0))
		a->max = a->scale;
}

static void bytes_axis(struct axis *a, double max)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int u = 0;

	a->scale = 1;
	while (max >= 1024 * a->scale && u < 4) {
		a->scale *= 1024;
		u++;
	}
	a->unit = units[u];
	axis_ticks(a, max, 5);
}

static void time_axis(struct axis *a, double max_ns)
{
	if (max_ns < 2e9) {
		a->scale = 1e6;
		a->unit = "ms";
	} else if (max_ns < 600e9) {
		a->scale = 1e9;
		a->unit = "s";
	} else {
		a->scale = 60e9;
		a->unit = "min";
	}
	axis_ticks(a, max_ns, 8);
}

static double px(const struct axis *x, double v)
{
	return ML + PW * (v / x->max);
}

static double py(const struct axis *y, double v)
{
	return MT + PH - PH * (v / y->max);
}

static void svg_open(FILE *f, int height, const char *label)
{
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
		"role=\"img\" aria-label=\"%s\">\n",
		W, height, label);
}

/* Grid, axes, tick labels and axis titles of a time/bytes plot. */
static void frame(FILE *f, const struct axis *x, const struct axis *y)
{
	int nt = 0;

	for (double v = 0; v <= y->max * (1 + 1e-9) && nt < 50;
	     v += y->step, nt++) {
		double yy = py(y, v);

		fprintf(f,
			"<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
			"<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g %s</text>\n",
			ML, yy, ML + PW, yy, ML - 6, yy + 4, v / y->scale,
			y->unit);
	}
	nt = 0;
	for (double v = 0; v <= x->max * (1 + 1e-9) && nt < 50;
	     v += x->step, nt++) {
		double xx = px(x, v);

		fprintf(f,
			"<line class=\"axis\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
			xx, MT + PH, xx, MT + PH + 5, xx, MT + PH + 18,
			v / x->scale);
	}
	fprintf(f,
		"<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
		"<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
		ML, MT, ML, MT + PH, ML, MT + PH, ML + PW, MT + PH);
	fprintf(f,
		"<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time since tracing started (%s)</text>\n",
		ML + PW / 2, H - 6, x->unit);
}

static double sample_max_t(const struct snap *s)
{
	double m = (double)s->taken_ns;

	for (size_t i = 0; i < s->nsamples; i++)
		if ((double)s->samples[i].t_ns > m)
			m = (double)s->samples[i].t_ns;
	return m;
}

static void no_plot(FILE *f, const char *why)
{
	fputs("<p class=\"empty\">", f);
	esc__html(f, why);
	fputs("</p>\n", f);
}

static void plot_memory(FILE *f, const struct snap *s)
{
	struct axis x, y;
	double ymax = 0;
	char b1[32], b2[32];

	fputs("<section id=\"memory-over-time\">\n<h2>Memory over time</h2>\n",
	      f);
	if (!s->nsamples) {
		no_plot(f,
			"no timeline samples: the trace was shorter than one sample interval");
		goto out;
	}
	for (size_t i = 0; i < s->nsamples; i++)
		if ((double)s->samples[i].live_bytes > ymax)
			ymax = (double)s->samples[i].live_bytes;
	time_axis(&x, sample_max_t(s));
	bytes_axis(&y, ymax);
	svg_open(f, H, "live heap bytes over time");
	frame(f, &x, &y);
	/* The area under the curve, then the curve on top. */
	fprintf(f,
		"<path fill=\"#4e79a7\" fill-opacity=\"0.18\" stroke=\"none\" d=\"M%.1f %.1f",
		px(&x, (double)s->samples[0].t_ns), py(&y, 0));
	for (size_t i = 0; i < s->nsamples; i++)
		fprintf(f, " L%.1f %.1f", px(&x, (double)s->samples[i].t_ns),
			py(&y, (double)s->samples[i].live_bytes));
	fprintf(f, " L%.1f %.1f Z\"/>\n",
		px(&x, (double)s->samples[s->nsamples - 1].t_ns), py(&y, 0));
	fputs("<polyline fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"2\" points=\"",
	      f);
	for (size_t i = 0; i < s->nsamples; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "",
			px(&x, (double)s->samples[i].t_ns),
			py(&y, (double)s->samples[i].live_bytes));
	fputs("\"/>\n", f);
	/* Markers (with a hover title) while they are few enough to see. */
	for (size_t i = 0; s->nsamples <= 120 && i < s->nsamples; i++) {
		const struct snap_sample *sm = &s->samples[i];

		fprintf(f,
			"<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#4e79a7\">"
			"<title>%s: %s live in %" PRIu64 " blocks, %" PRIu64
			" tasks alive</title></circle>\n",
			px(&x, (double)sm->t_ns),
			py(&y, (double)sm->live_bytes),
			fmt__duration(b1, sizeof(b1), sm->t_ns),
			fmt__bytes(b2, sizeof(b2), sm->live_bytes),
			sm->live_count, sm->tasks_alive);
	}
	fputs("</svg>\n", f);
	fprintf(f,
		"<p class=\"note\">Live heap bytes of the whole process, one sample per %s.</p>\n",
		fmt__duration(b1, sizeof(b1), s->interval_ns));
out:
	fputs("</section>\n", f);
}

struct idmax {
	uint64_t id, max;
};

static int by_id_then_max(const void *a, const void *b)
{
	const struct idmax *x = a, *y = b;

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->max > y->max ? -1 : x->max < y->max;
}

static int by_max_desc(const void *a, const void *b)
{
	const struct idmax *x = a, *y = b;

	if (x->max != y->max)
		return x->max > y->max ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The tasks to plot: the NSERIES with the highest peak in top_tasks. */
static int pick_series(const struct snap *s, uint64_t *ids, size_t *n)
{
	size_t total = 0, k = 0;
	struct idmax *v;

	for (size_t i = 0; i < s->nsamples; i++)
		total += s->samples[i].ntop;
	*n = 0;
	if (!total)
		return 0;
	v = calloc(total, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->nsamples; i++)
		for (size_t j = 0; j < s->samples[i].ntop; j++)
			v[k++] = (struct idmax){
				s->samples[i].top[j].id,
				s->samples[i].top[j].live_bytes
			};
	/* One entry per id with its maximum, then the largest first. */
	qsort(v, total, sizeof(*v), by_id_then_max);
	k = 0;
	for (size_t i = 0; i < total; i++)
		if (!k || v[k - 1].id != v[i].id)
			v[k++] = v[i];
	qsort(v, k, sizeof(*v), by_max_desc);
	for (size_t i = 0; i < k && i < NSERIES; i++)
		ids[(*n)++] = v[i].id;
	free(v);
	return 0;
}

static void series_label(FILE *f, const struct snap *s, uint64_t id)
{
	const struct snap_task *t = snap__find_task(s, id);
	char buf[96];

	if (t)
		esc__html(f, fmt__task(buf, sizeof(buf), t));
	else
		fprintf(f, "task %" PRIu64, id);
}

static int plot_by_task(FILE *f, const struct snap *s)
{
	uint64_t ids[NSERIES];
	size_t nser = 0, n = s->nsamples;
	double *stack = NULL, ymax = 0;
	bool other = false;
	struct axis x, y;
	int err;

	fputs("<section id=\"memory-by-task\">\n<h2>Memory over time by task</h2>\n",
	      f);
	err = pick_series(s, ids, &nser);
	if (err)
		return err;
	if (!nser) {
		no_plot(f, n ? "no task held memory at any sample" :
			       "no timeline samples");
		goto out;
	}
	/* stack[i * (NSERIES + 2) + k]: the top of layer k at sample i. */
	stack = calloc(n * (NSERIES + 2), sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct snap_sample *sm = &s->samples[i];
		double *row = &stack[i * (NSERIES + 2)];
		double val[NSERIES + 1] = { 0 };

		for (size_t j = 0; j < sm->ntop; j++) {
			size_t k;

			for (k = 0; k < nser && ids[k] != sm->top[j].id; k++)
				;
			val[k < nser ? k : NSERIES] +=
				(double)sm->top[j].live_bytes;
			if (k == nser && sm->top[j].live_bytes)
				other = true;
		}
		row[0] = 0;
		for (size_t k = 0; k < nser; k++)
			row[k + 1] = row[k] + val[k];
		row[nser + 1] = row[nser] + val[NSERIES];
		if (row[nser + 1] > ymax)
			ymax = row[nser + 1];
		if ((double)sm->live_bytes > ymax)
			ymax = (double)sm->live_bytes;
	}
	time_axis(&x, sample_max_t(s));
	bytes_axis(&y, ymax);
	svg_open(f, H, "live bytes of the largest tasks over time, stacked");
	frame(f, &x, &y);
	for (size_t k = 0; k < nser + (other ? 1 : 0); k++) {
		const char *color = palette[k < nser ? k : NSERIES];

		/* Layer k: its top edge forward, its bottom edge back. */
		fprintf(f,
			"<path fill=\"%s\" fill-opacity=\"0.85\" stroke=\"%s\" stroke-width=\"1\" d=\"",
			color, color);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%.1f %.1f", i ? " L" : "M",
				px(&x, (double)s->samples[i].t_ns),
				py(&y, stack[i * (NSERIES + 2) + k + 1]));
		for (size_t i = n; i-- > 0;)
			fprintf(f, " L%.1f %.1f",
				px(&x, (double)s->samples[i].t_ns),
				py(&y, stack[i * (NSERIES + 2) + k]));
		fputs(" Z\"><title>", f);
		if (k < nser)
			series_label(f, s, ids[k]);
		else
			fputs("other tasks", f);
		fputs("</title></path>\n", f);
	}
	/* What the whole process held, for scale. */
	fputs("<polyline fill=\"none\" stroke=\"#222\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\" points=\"",
	      f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "",
			px(&x, (double)s->samples[i].t_ns),
			py(&y, (double)s->samples[i].live_bytes));
	fputs("\"><title>all live memory</title></polyline>\n</svg>\n", f);
	fputs("<div class=\"legend\">", f);
	for (size_t k = 0; k < nser; k++) {
		fprintf(f,
			"<span><span class=\"sw\" style=\"background:%s\"></span>",
			palette[k]);
		series_label(f, s, ids[k]);
		fputs("</span>", f);
	}
	if (other)
		fprintf(f,
			"<span><span class=\"sw\" style=\"background:%s\"></span>other tasks</span>",
			palette[NSERIES]);
	fputs("<span><span class=\"sw\" style=\"background:none;border-top:2px dashed #222;height:0;width:16px\"></span>all live memory</span></div>\n",
	      f);
	fputs("<p class=\"note\">Stacked live bytes of the tasks that held the most; each sample lists its largest tasks only, so smaller holders count as zero.</p>\n",
	      f);
out:
	fputs("</section>\n", f);
	free(stack);
	return 0;
}

static int by_future_desc(const void *a, const void *b)
{
	const struct snap_task *x = *(const struct snap_task *const *)a;
	const struct snap_task *y = *(const struct snap_task *const *)b;

	if (x->future_size != y->future_size)
		return x->future_size > y->future_size ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int plot_futures(FILE *f, const struct snap *s)
{
	const struct snap_task **v = calloc(s->ntasks ?: 1, sizeof(*v));
	const int lw = 230, bh = 18, gap = 5, right = 110;
	double max = 0, avg = (double)s->async.average_future_size;
	size_t n = 0, shown;
	bool any_nf = false, any_rt = false;
	char b1[32];
	int height;

	if (!v)
		return -ENOMEM;
	fputs("<section id=\"future-sizes\">\n<h2>Future sizes</h2>\n", f);
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].has_future_size)
			v[n++] = &s->tasks[i];
	if (!n) {
		no_plot(f, "no task has a known future size");
		goto out;
	}
	qsort(v, n, sizeof(*v), by_future_desc);
	shown = n < NBARS ? n : NBARS;
	max = (double)v[0]->future_size;
	if (!(max > 0))
		max = 1;
	height = 12 + (int)shown * (bh + gap) + 22;
	svg_open(f, height, "future size of each task");
	for (size_t i = 0; i < shown; i++) {
		const struct snap_task *t = v[i];
		double w = (W - lw - right) * ((double)t->future_size / max);
		int yy = 12 + (int)i * (bh + gap);
		const char *color = t->reason			 ? "#e15759" :
				    t->kind == SNAP_KIND_RUNTIME ? "#bab0ac" :
								   "#4e79a7";
		char name[96];

		any_nf |= t->reason != SNAP_NF_NONE;
		any_rt |= t->kind == SNAP_KIND_RUNTIME;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
			lw - 8, yy + 13);
		esc__html(f, fmt__task(name, sizeof(name), t));
		fprintf(f,
			"</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>",
			lw, yy, w < 1 ? 1 : w, bh, color);
		esc__html(f, name);
		fprintf(f,
			": %" PRIu64 " bytes</title></rect>"
			"<text x=\"%.1f\" y=\"%d\">%s</text>\n",
			t->future_size, lw + (w < 1 ? 1 : w) + 6, yy + 13,
			fmt__bytes(b1, sizeof(b1), t->future_size));
	}
	fprintf(f,
		"<line class=\"axis\" x1=\"%d\" y1=\"6\" x2=\"%d\" y2=\"%d\"/>\n",
		lw, lw, height - 22);
	if (avg > 0 && avg <= max) {
		double ax = lw + (W - lw - right) * (avg / max);

		fprintf(f,
			"<line x1=\"%.1f\" y1=\"6\" x2=\"%.1f\" y2=\"%d\" stroke=\"#222\" stroke-dasharray=\"4 3\"/>"
			"<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">average %s</text>\n",
			ax, ax, height - 22, ax, height - 6,
			fmt__bytes(b1, sizeof(b1),
				   s->async.average_future_size));
	}
	fputs("</svg>\n<div class=\"legend\"><span><span class=\"sw\" style=\"background:#4e79a7\"></span>user task</span>",
	      f);
	if (any_nf)
		fputs("<span><span class=\"sw\" style=\"background:#e15759\"></span>never finished</span>",
		      f);
	if (any_rt)
		fputs("<span><span class=\"sw\" style=\"background:#bab0ac\"></span>runtime task</span>",
		      f);
	fputs("</div>\n<p class=\"note\">The size of each task's future (its state machine; for tokio, the task allocation including tokio's header and trailer).",
	      f);
	if (n > shown)
		fprintf(f, " The %zu largest of %zu tasks.", shown, n);
	fputs("</p>\n", f);
out:
	fputs("</section>\n", f);
	free(v);
	return 0;
}

static void head(FILE *f, const struct snap *s)
{
	const char *target = *s->command ? s->command : s->exe;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>memscope report: ",
	      f);
	esc__html(f, target);
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", css);
}

int html__report(FILE *f, const struct snap *s, const struct report_opts *o)
{
	struct report r;
	char b1[32];
	int err;

	err = report__build(s, o, &r);
	if (err)
		return err;
	head(f, s);
	fputs("<header>\n<h1>memscope report</h1>\n<p class=\"sub\">", f);
	esc__html(f, *s->command ? s->command : s->exe);
	fprintf(f, " &middot; pid %" PRIu64 " &middot; ", s->pid);
	esc__html(f, s->runtime);
	fprintf(f, " &middot; %s traced</p>\n",
		fmt__duration(b1, sizeof(b1), s->taken_ns));
	fputs("<nav><a href=\"#memory-over-time\">memory over time</a><a href=\"#memory-by-task\">by task</a>"
	      "<a href=\"#future-sizes\">future sizes</a><a href=\"#tasks-that-never-finished\">never finished</a>"
	      "<a href=\"#largest-tasks-by-live-bytes\">largest tasks</a><a href=\"#warnings\">warnings</a></nav>\n</header>\n",
	      f);
	for (size_t i = 0; i < r.nalerts; i++) {
		fputs("<div class=\"banner\">", f);
		esc__html(f, r.alerts[i]);
		fputs("</div>\n", f);
	}
	fputs("<div class=\"cols\">\n", f);
	err = table__print_html(f, &r.sec[REP_SNAPSHOT]);
	err = err ?: table__print_html(f, &r.sec[REP_MEMORY]);
	err = err ?: table__print_html(f, &r.sec[REP_ASYNC]);
	fputs("</div>\n", f);
	if (err)
		goto out;
	plot_memory(f, s);
	err = plot_by_task(f, s);
	err = err ?: plot_futures(f, s);
	for (int i = REP_NEVER_FINISHED; i < REP_NSECS && !err; i++)
		err = table__print_html(f, &r.sec[i]);
	fputs("<footer>memscope " MS_VERSION, f);
	if (s->generator) {
		fputs(" &middot; snapshot by ", f);
		esc__html(f, s->generator);
	}
	fputs("</footer>\n</body>\n</html>\n", f);
out:
	report__free(&r);
	return err;
}
