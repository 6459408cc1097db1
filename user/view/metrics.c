// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "view/metrics.h"

#define NSTATES 2 /* alive tasks: running, pending */
#define NENDED 2 /* completed, cancelled */
#define NREASONS 4 /* never-finished reasons */

static const char *const alive_names[NSTATES + 1] = { "running", "pending",
						      NULL };
static const char *const ended_names[NENDED + 1] = { "completed", "cancelled",
						     NULL };
static const enum nf_reason reasons[NREASONS] = { NF_ABORTED, NF_NO_WAKER,
						  NF_PENDING, NF_SHUTDOWN };
/* nf_reason__name()'s, checked by the unit test. */
static const char *const reason_names[NREASONS + 1] = { "aborted", "no-waker",
							"pending", "shutdown",
							NULL };

/* One spawn site's (or several sharing a name) figures in a process. */
struct site_row {
	char *name; /* the label value, unescaped */
	uint64_t live_bytes, alive, spawns;
};

/* A process's figures, read from its model once, before any line. */
struct pstat {
	const struct metrics_proc *src;
	char *labels; /* pid="..",exe="..",...: escaped, no braces */
	uint64_t live_bytes, live_blocks, peak_live_bytes;
	uint64_t alloc_bytes, free_bytes, alloc_calls, free_calls;
	uint64_t runtime_live_bytes, runtime_alloc_bytes;
	uint64_t outside_live_bytes, outside_alloc_bytes;
	uint64_t alive[NSTATES], ended[NENDED], nf[NREASONS];
	uint64_t future_bytes, future_max_bytes, cell_bytes;
	uint64_t lost_events, records, incomplete, model_bytes;
	/* page-level mode only (docs/snapshot.md, page_level) */
	bool page_level;
	uint64_t page_resident_bytes, page_fault_bytes, page_released_bytes;
	uint64_t page_runtime_bytes, page_outside_bytes;
	struct site_row *sites; /* the top ones, largest first */
	size_t nsites;
};

/*
 * One metric family. Its value for a process is the uint64 at off in
 * struct pstat, or, with a key, the array there indexed like vals.
 */
struct family {
	const char *name, *type, *help;
	size_t off;
	bool mem; /* a memory figure: none in tasks-only mode */
	bool pages; /* a page-level figure: only for processes in that mode */
	const char *key;
	const char *const *vals;
};

#define F(field) offsetof(struct pstat, field)

#define FAM(n, t, field, m, h)                                             \
	{                                                                  \
		.name = n, .type = t, .help = h, .off = F(field), .mem = m \
	}
#define FAM_PAGES(n, t, field, h)                                 \
	{                                                         \
		.name = n, .type = t, .help = h, .off = F(field), \
		.pages = true                                     \
	}
#define FAM_KEY(n, t, field, k, v, h)                                       \
	{                                                                   \
		.name = n, .type = t, .help = h, .off = F(field), .key = k, \
		.vals = v                                                   \
	}

static const struct family proc_families[] = {
	FAM("memscope_heap_live_bytes", "gauge", live_bytes, true,
	    "Bytes in heap blocks allocated and not yet freed (the sizes the program asked for)."),
	FAM("memscope_heap_live_blocks", "gauge", live_blocks, true,
	    "Heap blocks allocated and not yet freed."),
	FAM("memscope_heap_peak_live_bytes", "gauge", peak_live_bytes, true,
	    "The most memscope_heap_live_bytes has been since memscoped attached."),
	FAM("memscope_heap_allocated_bytes_total", "counter", alloc_bytes, true,
	    "Bytes asked for by successful allocation calls (realloc included)."),
	FAM("memscope_heap_freed_bytes_total", "counter", free_bytes, true,
	    "Bytes released: free, the old block of a realloc, realloc(p, 0)."),
	FAM("memscope_heap_allocations_total", "counter", alloc_calls, true,
	    "Successful allocation calls (malloc family, realloc included)."),
	FAM("memscope_heap_frees_total", "counter", free_calls, true,
	    "Releases of blocks memscoped saw allocated."),
	FAM("memscope_runtime_overhead_live_bytes", "gauge", runtime_live_bytes,
	    true,
	    "Live bytes the async runtime's threads allocated outside any task."),
	FAM("memscope_runtime_overhead_allocated_bytes_total", "counter",
	    runtime_alloc_bytes, true,
	    "Bytes the async runtime's threads allocated outside any task."),
	FAM("memscope_outside_tasks_live_bytes", "gauge", outside_live_bytes,
	    true,
	    "Live bytes other threads (main, plain threads) allocated outside any task."),
	FAM("memscope_outside_tasks_allocated_bytes_total", "counter",
	    outside_alloc_bytes, true,
	    "Bytes other threads (main, plain threads) allocated outside any task."),
	FAM_PAGES(
		"memscope_page_level_resident_bytes", "gauge",
		page_resident_bytes,
		"Page-level mode: anonymous memory the process's threads touched and have not let go (no allocator could be probed)."),
	FAM_PAGES(
		"memscope_page_level_touched_bytes_total", "counter",
		page_fault_bytes,
		"Page-level mode: anonymous memory newly touched (page faults, a huge page at once)."),
	FAM_PAGES(
		"memscope_page_level_released_bytes_total", "counter",
		page_released_bytes,
		"Page-level mode: touched memory let go (munmap, madvise, brk, mremap)."),
	FAM_PAGES(
		"memscope_page_level_runtime_overhead_bytes", "gauge",
		page_runtime_bytes,
		"Page-level mode: resident memory the runtime's threads touched outside any task."),
	FAM_PAGES(
		"memscope_page_level_outside_tasks_bytes", "gauge",
		page_outside_bytes,
		"Page-level mode: resident memory other threads touched outside any task."),
	FAM_KEY("memscope_tasks", "gauge", alive, "state", alive_names,
		"User tasks alive now, by state (running: in a poll now)."),
	FAM_KEY("memscope_tasks_ended_total", "counter", ended, "state",
		ended_names, "User tasks that ended, by how."),
	FAM_KEY("memscope_tasks_never_finished", "gauge", nf, "reason",
		reason_names,
		"User tasks that never finished, by reason (see docs/snapshot.md)."),
	FAM("memscope_task_future_bytes", "gauge", future_bytes, false,
	    "Sum of the future (state machine) sizes of the user tasks alive now."),
	FAM("memscope_task_future_max_bytes", "gauge", future_max_bytes, false,
	    "The largest future size of any user task seen."),
	FAM("memscope_task_cell_bytes", "gauge", cell_bytes, false,
	    "Sum of the runtime's per-task allocations (tokio cells) of the user tasks alive now."),
	FAM("memscope_lost_events_total", "counter", lost_events, false,
	    "Records of this process lost (ring buffer full): figures may be low."),
	FAM("memscope_incomplete", "gauge", incomplete, false,
	    "1 when events were lost or missed: the figures may be low."),
	FAM("memscope_records_total", "counter", records, false,
	    "Records memscoped received for this process."),
	FAM("memscope_model_memory_bytes", "gauge", model_bytes, false,
	    "Memory memscoped's model of this process takes."),
};

#undef FAM_KEY
#undef FAM_PAGES
#undef FAM
#undef F

/* ---- label values ------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p, or 0 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *p)
{
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		unsigned char lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		unsigned char hi = p[0] == 0xed ? 0x9f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 :
									   0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		unsigned char lo = p[0] == 0xf0 ? 0x90 : 0x80;
		unsigned char hi = p[0] == 0xf4 ? 0x8f : 0xbf;

		return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
				       (p[3] & 0xc0) == 0x80 ?
			       4 :
			       0;
	}
	return 0;
}

void metrics__label_value(FILE *f, const char *v)
{
	const unsigned char *p = (const unsigned char *)(v ?: "");

	while (*p) {
		size_t n = utf8_len(p);

		if (!n) {
			fputs("\xef\xbf\xbd", f);
			p++;
		} else if (*p == '\\') {
			fputs("\\\\", f);
		} else if (*p == '"') {
			fputs("\\\"", f);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else {
			fwrite(p, 1, n, f);
		}
		p += n;
	}
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

const char *metrics__container_id(const char *cgroup, char *buf, size_t len)
{
	static const char *const prefixes[] = {
		"docker-", "cri-containerd-", "crio-",
		"libpod-", "containerd-",     ""
	};
	const char *end;

	if (!cgroup || len < 65)
		return NULL;
	/* The innermost component that names a container: a process may sit
	 * in a cgroup below its container's. */
	end = cgroup + strlen(cgroup);
	while (end > cgroup) {
		const char *start = end;
		size_t n;

		while (start > cgroup && start[-1] != '/')
			start--;
		n = (size_t)(end - start);
		if (n > 6 && !strncmp(end - 6, ".scope", 6))
			n -= 6;
		for (size_t i = 0; i < sizeof(prefixes) / sizeof(*prefixes);
		     i++) {
			size_t pl = strlen(prefixes[i]);

			if (n == pl + 64 && !strncmp(start, prefixes[i], pl) &&
			    all_hex(start + pl, 64)) {
				memcpy(buf, start + pl, 64);
				buf[64] = '\0';
				return buf;
			}
		}
		end = start > cgroup ? start - 1 : cgroup;
	}
	return NULL;
}

/* The path of the line of /proc/PID/cgroup whose controller list is
 * ctrl ("" for the unified hierarchy), unless it is the root. */
static bool cgroup_line(const char *text, const char *ctrl, char *buf,
			size_t len)
{
	size_t cl = strlen(ctrl);

	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n'), *c1 = strchr(l, ':'), *c2;
		size_t pl;

		if (!nl)
			nl = l + strlen(l);
		c2 = c1 && c1 < nl ?
			     memchr(c1 + 1, ':', (size_t)(nl - c1 - 1)) :
			     NULL;
		if (c2 && (size_t)(c2 - c1 - 1) == cl &&
		    !strncmp(c1 + 1, ctrl, cl)) {
			pl = (size_t)(nl - c2 - 1);
			if (pl && !(pl == 1 && c2[1] == '/') && pl < len) {
				memcpy(buf, c2 + 1, pl);
				buf[pl] = '\0';
				return true;
			}
		}
		l = *nl ? nl + 1 : NULL;
	}
	return false;
}

const char *metrics__parse_cgroup(const char *text, char *buf, size_t len)
{
	/* Hybrid hosts list a unified "0::/" next to the v1 hierarchies
	 * that hold the real placement. */
	if (cgroup_line(text, "", buf, len) ||
	    cgroup_line(text, "name=systemd", buf, len) ||
	    cgroup_line(text, "memory", buf, len))
		return buf;
	return NULL;
}

const char *metrics__site_name(const struct ms_site *site, char *buf,
			       size_t len)
{
	const struct ms_frame *fr;
	const char *mod;

	if (!site || !site->nframes) {
		snprintf(buf, len, "?");
		return buf;
	}
	fr = &site->frames[0];
	if (fr->function && *fr->function) {
		snprintf(buf, len, "%s", fr->function);
		return buf;
	}
	/* Stripped: the module's file and the address in it, the same in
	 * every run of that build (docs/snapshot.md, frames' addr). */
	mod = fr->module && *fr->module ? fr->module : NULL;
	if (!mod && fr->path && *fr->path) {
		const char *slash = strrchr(fr->path, '/');

		mod = slash && slash[1] ? slash + 1 : fr->path;
	}
	if (fr->addr)
		snprintf(buf, len, "%s+0x%" PRIx64, mod ?: "?", fr->addr);
	else
		snprintf(buf, len, "%s@0x%" PRIx64, mod ?: "?", fr->pc);
	return buf;
}

/* ---- figures ------------------------------------------------------ */

static int proc_labels(struct pstat *ps)
{
	const struct metrics_proc *p = ps->src;
	const char *cg = p->cgroup && *p->cgroup && strcmp(p->cgroup, "/") ?
				 p->cgroup :
				 NULL;
	const char *rt = p->runtime;
	char idbuf[65];
	size_t len;
	FILE *f;

	if (!rt) {
		enum ms_runtime r = model__runtime(p->model);

		rt = r == MS_RT_TOKIO ? "tokio" :
		     r == MS_RT_USDT  ? "usdt" :
					"none";
	}
	f = open_memstream(&ps->labels, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "pid=\"%" PRIu32 "\",exe=\"", p->pid);
	metrics__label_value(f, p->exe);
	fputs("\",runtime=\"", f);
	metrics__label_value(f, rt);
	fputc('"', f);
	if (cg) {
		const char *id =
			metrics__container_id(cg, idbuf, sizeof(idbuf));

		fputs(",cgroup=\"", f);
		metrics__label_value(f, cg);
		fputc('"', f);
		if (id)
			fprintf(f, ",container_id=\"%s\"", id);
	}
	if (fclose(f) || !ps->labels)
		return -ENOMEM;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int by_live_desc(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	if (x->alive != y->alive)
		return x->alive > y->alive ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void free_rows(struct site_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].name);
	free(rows);
}

/*
 * The top k spawn sites by the live bytes of the tasks spawned there.
 * Sites are merged by label: two stacks that differ below their first
 * frame would otherwise make two series with the same labels, which
 * Prometheus refuses.
 */
static int top_sites(struct pstat *ps, const uint64_t *live,
		     const uint64_t *alive, unsigned int k)
{
	const struct model *m = ps->src->model;
	size_t nsites = model__site_count(m), n = 0, out = 0;
	struct site_row *rows;
	char buf[1024];

	if (!k || !nsites)
		return 0;
	rows = calloc(nsites, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < nsites; i++) {
		const struct ms_site *s = model__site(m, (uint32_t)i);

		if (!s->spawns && !live[i] && !alive[i])
			continue;
		rows[n].name = strdup(metrics__site_name(s, buf, sizeof(buf)));
		if (!rows[n].name) {
			free_rows(rows, n);
			return -ENOMEM;
		}
		rows[n].live_bytes = live[i];
		rows[n].alive = alive[i];
		rows[n].spawns = s->spawns;
		n++;
	}
	qsort(rows, n, sizeof(*rows), by_name);
	for (size_t i = 0; i < n; i++) {
		if (out && !strcmp(rows[out - 1].name, rows[i].name)) {
			rows[out - 1].live_bytes += rows[i].live_bytes;
			rows[out - 1].alive += rows[i].alive;
			rows[out - 1].spawns += rows[i].spawns;
			free(rows[i].name);
		} else {
			rows[out++] = rows[i];
		}
	}
	/* Sites whose tasks all ended and freed everything are no news. */
	n = out;
	out = 0;
	for (size_t i = 0; i < n; i++) {
		if (rows[i].live_bytes || rows[i].alive)
			rows[out++] = rows[i];
		else
			free(rows[i].name);
	}
	qsort(rows, out, sizeof(*rows), by_live_desc);
	for (size_t i = k; i < out; i++)
		free(rows[i].name);
	ps->sites = rows;
	ps->nsites = out < k ? out : k;
	return 0;
}

static bool task_alive(const struct ms_task *t)
{
	return t->state == TASK_RUNNING || t->state == TASK_PENDING;
}

static int proc_stat(struct pstat *ps, const struct metrics_proc *p,
		     unsigned int k)
{
	const struct model *m = p->model;
	const struct ms_totals *t = model__totals(m);
	const struct ms_mem *rm = model__runtime_mem(m);
	const struct ms_mem *om = model__thread_mem(m);
	size_t nsites = model__site_count(m);
	uint64_t *live = NULL, *alive = NULL;
	struct ms_async a;
	int err;

	memset(ps, 0, sizeof(*ps));
	ps->src = p;
	err = proc_labels(ps);
	if (err)
		return err;
	ps->live_bytes = t->live_bytes;
	ps->live_blocks = t->live_count;
	ps->peak_live_bytes = t->peak_live_bytes;
	ps->alloc_bytes = t->alloc_bytes;
	ps->free_bytes = t->free_bytes;
	ps->alloc_calls = t->alloc_count;
	ps->free_calls = t->free_count;
	ps->runtime_live_bytes = rm->live_bytes;
	ps->runtime_alloc_bytes = rm->alloc_bytes;
	ps->outside_live_bytes = om->live_bytes;
	ps->outside_alloc_bytes = om->alloc_bytes;
	ps->lost_events = t->lost_events;
	ps->records = t->records;
	ps->incomplete = model__incomplete(m);
	ps->model_bytes = model__mem_bytes(m);
	ps->page_level = model__page_level(m);
	if (ps->page_level) {
		const struct ms_page_totals *pt = model__pages(m);

		ps->page_resident_bytes = pt->all.resident_bytes;
		ps->page_fault_bytes = pt->all.fault_bytes;
		ps->page_released_bytes = pt->all.released_bytes;
		ps->page_runtime_bytes =
			model__runtime_pages(m)->resident_bytes;
		ps->page_outside_bytes = model__thread_pages(m)->resident_bytes;
	}
	/* Ended tasks let go of in detail are in these aggregates. */
	model__async(m, &a);
	ps->ended[0] = a.tasks_completed;
	ps->ended[1] = a.tasks_cancelled;
	ps->future_max_bytes = a.largest_future_size;

	if (k && nsites) {
		live = calloc(nsites, sizeof(*live));
		alive = calloc(nsites, sizeof(*alive));
		if (!live || !alive) {
			err = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < model__task_count(m); i++) {
		const struct ms_task *tk = model__task(m, i);

		if (live && tk->spawn_site < nsites) {
			live[tk->spawn_site] += tk->mem.live_bytes;
			alive[tk->spawn_site] += task_alive(tk);
		}
		if (tk->kind != TASK_USER)
			continue;
		if (task_alive(tk)) {
			ps->alive[tk->state == TASK_RUNNING ? 0 : 1]++;
			ps->future_bytes += tk->future_size;
			ps->cell_bytes += tk->cell_size;
		}
		for (int r = 0; r < NREASONS; r++)
			if (tk->nf_reason == reasons[r])
				ps->nf[r]++;
	}
	if (live)
		err = top_sites(ps, live, alive, k);
out:
	free(live);
	free(alive);
	return err;
}

static void pstat_free(struct pstat *ps)
{
	free(ps->labels);
	free_rows(ps->sites, ps->nsites);
}

/* ---- writing ------------------------------------------------------ */

static void header(FILE *f, const char *name, const char *type,
		   const char *help)
{
	/* HELP text escapes \ and newline; ours have neither. */
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_double(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else
		fprintf(f, "%.15g", v);
}

/* Does the process have this family's figure? */
static bool proc_has(const struct family *fam, const struct pstat *ps)
{
	return !(fam->mem && ps->src->tasks_only) &&
	       !(fam->pages && !ps->page_level);
}

static void proc_family(FILE *f, const struct family *fam,
			const struct pstat *ps, size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n && !any; i++)
		any = proc_has(fam, &ps[i]);
	if (!any)
		return;
	header(f, fam->name, fam->type, fam->help);
	for (size_t i = 0; i < n; i++) {
		const uint64_t *v =
			(const uint64_t *)((const char *)&ps[i] + fam->off);

		if (!proc_has(fam, &ps[i]))
			continue;
		if (!fam->key) {
			fprintf(f, "%s{%s} %" PRIu64 "\n", fam->name,
				ps[i].labels, *v);
			continue;
		}
		for (size_t j = 0; fam->vals[j]; j++)
			fprintf(f, "%s{%s,%s=\"%s\"} %" PRIu64 "\n", fam->name,
				ps[i].labels, fam->key, fam->vals[j], v[j]);
	}
}

enum site_fig { SITE_LIVE, SITE_ALIVE, SITE_SPAWNS };

static void site_family(FILE *f, const char *name, const char *type,
			const char *help, enum site_fig which,
			const struct pstat *ps, size_t n)
{
	bool any = false;

	for (size_t i = 0; i < n; i++)
		any |= ps[i].nsites > 0;
	if (!any)
		return;
	header(f, name, type, help);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < ps[i].nsites; j++) {
			const struct site_row *r = &ps[i].sites[j];
			uint64_t v = which == SITE_LIVE	 ? r->live_bytes :
				     which == SITE_ALIVE ? r->alive :
							   r->spawns;

			fprintf(f, "%s{%s,spawn_site=\"", name, ps[i].labels);
			metrics__label_value(f, r->name);
			fprintf(f, "\"} %" PRIu64 "\n", v);
		}
	}
}

static void self_u64(FILE *f, const char *name, const char *type,
		     const char *help, uint64_t v)
{
	header(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, v);
}

static void self_section(FILE *f, const struct metrics_self *s)
{
	header(f, "memscope_daemon_build_info", "gauge",
	       "Always 1: the memscoped version serving these figures.");
	fputs("memscope_daemon_build_info{version=\"", f);
	metrics__label_value(f, MS_VERSION);
	fputs("\"} 1\n", f);
	self_u64(f, "memscope_daemon_resident_memory_bytes", "gauge",
		 "memscoped's own resident set size.", s->rss_bytes);
	self_u64(f, "memscope_daemon_ring_buffer_size_bytes", "gauge",
		 "Size of the ring buffer the BPF programs write records to.",
		 s->ring_bytes);
	self_u64(f, "memscope_daemon_ring_buffer_used_bytes", "gauge",
		 "Bytes waiting in the ring buffer at the last refresh.",
		 s->ring_used_bytes);
	self_u64(f, "memscope_daemon_records_total", "counter",
		 "Records drained from the ring buffer, all processes.",
		 s->records_total);
	header(f, "memscope_daemon_records_per_second", "gauge",
	       "Records drained per second over the last refresh interval.");
	fputs("memscope_daemon_records_per_second ", f);
	write_double(f, s->records_per_sec);
	fputc('\n', f);
	self_u64(
		f, "memscope_daemon_lost_events_total", "counter",
		"Records dropped because the ring buffer was full, all processes.",
		s->lost_events_total);
	self_u64(f, "memscope_daemon_probes", "gauge",
		 "Probes (BPF links) attached now.", s->probes);
	self_u64(f, "memscope_daemon_watched_processes", "gauge",
		 "Processes watched now.", s->watched);
	self_u64(f, "memscope_daemon_attach_failures_total", "counter",
		 "Processes memscoped found but failed to attach to.",
		 s->attach_failures_total);
}

int metrics__write(FILE *f, const struct metrics_proc *procs, size_t n,
		   const struct metrics_self *self,
		   const struct metrics_opts *opts)
{
	unsigned int k = opts ? opts->sites : METRICS_SITES_DEFAULT;
	struct pstat *ps = calloc(n ?: 1, sizeof(*ps));
	size_t done = 0;
	int err = 0;

	if (!ps)
		return -ENOMEM;
	for (; done < n; done++) {
		err = proc_stat(&ps[done], &procs[done], k);
		if (err) {
			done++;
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(proc_families) / sizeof(*proc_families);
	     i++)
		proc_family(f, &proc_families[i], ps, n);
	site_family(
		f, "memscope_spawn_site_live_bytes", "gauge",
		"Live bytes of the tasks spawned at this site (the sites holding the most).",
		SITE_LIVE, ps, n);
	site_family(f, "memscope_spawn_site_alive_tasks", "gauge",
		    "Tasks spawned at this site and alive now.", SITE_ALIVE, ps,
		    n);
	site_family(f, "memscope_spawn_site_spawned_tasks_total", "counter",
		    "Tasks spawned at this site since memscoped attached.",
		    SITE_SPAWNS, ps, n);
	if (self)
		self_section(f, self);
	if (fflush(f) || ferror(f))
		err = -EIO;
out:
	for (size_t i = 0; i < done; i++)
		pstat_free(&ps[i]);
	free(ps);
	return err;
}

int metrics__render(char **out, size_t *len, const struct metrics_proc *procs,
		    size_t n, const struct metrics_self *self,
		    const struct metrics_opts *opts)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);
	int err;

	*out = NULL;
	*len = 0;
	if (!f)
		return -ENOMEM;
	err = metrics__write(f, procs, n, self, opts);
	/* open_memstream's only failure is memory. */
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err) {
		free(buf);
		return err == -EIO ? -ENOMEM : err;
	}
	*out = buf;
	*len = blen;
	return 0;
}
