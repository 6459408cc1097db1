// SPDX-License-Identifier: MIT
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/tokio_vt.h"
#include "collect/collector.h"
#include "log.h"
#include "memscope/events.h"
#include "model/idmap.h"
#include "model/model.h"
#include "sym/sym.h"
#include "util.h"

#define BATCH 128
#define BATCH_REC 128 /* bytes: every record but stacks fits */

struct collector {
	struct collector_opts o;
	struct idmap *vtables; /* checked vtables */
	uint64_t records;
	uint64_t rejected;
	uint64_t record_errors;
	struct sym_proc *sym;
	bool sym_failed;
	struct idmap *stacks; /* hash of raw pcs -> site */
	uint64_t stacks_seen, symbolized, stack_ns;
	uint8_t stack_copy[MS_STACK_BYTES];
	struct sym_frame frames[64];
	/* Small records wait here and go to the model in batches, so that
	 * their table look-ups can be prefetched together. */
	size_t nbatch;
	const void *batch_ptr[BATCH];
	size_t batch_len[BATCH];
	uint64_t batch_buf[BATCH][BATCH_REC / 8];
};

/*
 * DESIGN.md: the Header/Vtable layout is not a stable ABI. A vtable is
 * trusted when it is, at the executable's load bias, one of the task
 * vtables found in the file for the poll function that was probed (whose
 * first slot is that function); then its layout tells the model the task
 * type's future size. No read of the target: it may be gone by the time
 * its last records are read.
 */
static void check_vtable(struct collector *c, uint64_t vtable, uint32_t fn)
{
	struct attach_tokio_info ti;
	struct tokio_layout lay;
	struct tokio_vt tv;
	uint32_t seen;
	uint64_t bias;

	if (!vtable || !idmap__get(c->vtables, vtable, &seen))
		return;
	idmap__put(c->vtables, vtable, 1);
	if (!attach__exe_bias(c->o.attach, &bias) && vtable >= bias &&
	    !attach__tokio_vtable(c->o.attach, fn, vtable - bias, &tv)) {
		attach__tokio_info(c->o.attach, &ti);
		if (!tokio_vt__layout(&tv, ti.version, &lay)) {
			model__tokio_layout(
				c->o.model, vtable, lay.future_size,
				(!ti.version ||
				 ti.version >= TOKIO_BOX_SINCE) &&
					lay.future_size <=
						TOKIO_BOXED_PAYLOAD_MAX);
			return;
		}
	}
	pr_debug(
		"vtable %#llx (fn %u, bias %#llx): not a task vtable of the executable",
		(unsigned long long)vtable, fn, (unsigned long long)bias);
	model__reject_vtable(c->o.model, vtable);
	if (!c->rejected++)
		log__note("tokio task layout not recognised (vtable %#llx): "
			  "those tasks get poll-only attribution, no ids or "
			  "end states",
			  (unsigned long long)vtable);
}

/* --trace-records: one line per record, for debugging the probes. */
static void trace_record(FILE *f, const void *data, size_t len)
{
	const struct ms_hdr *h = data;
	const struct ms_alloc_rec *a = data;
	const struct ms_free_rec *fr = data;
	const struct ms_poll_rec *p = data;
	const struct ms_task_rec *t = data;

	if (model__decode(data, len) < 0) {
		fprintf(f, "bad record len=%zu\n", len);
		return;
	}
	fprintf(f, "%llu tid=%u type=%u aux=%u ", (unsigned long long)h->ts_ns,
		h->tid, h->type, h->aux);
	switch (h->type) {
	case MS_REC_ALLOC:
		fprintf(f, "alloc addr=%#llx size=%llu old=%#llx task=%#llx\n",
			(unsigned long long)a->addr,
			(unsigned long long)a->size,
			(unsigned long long)a->old_addr,
			(unsigned long long)a->task);
		break;
	case MS_REC_FREE:
		fprintf(f, "free addr=%#llx task=%#llx state=%#llx\n",
			(unsigned long long)fr->addr,
			(unsigned long long)fr->task,
			(unsigned long long)fr->task_state);
		break;
	case MS_REC_POLL_BEGIN:
	case MS_REC_POLL_END:
		fprintf(f,
			"poll%s task=%#llx state=%#llx vt=%#llx id=%llu owner=%llu fn=%u flags=%u\n",
			h->type == MS_REC_POLL_BEGIN ? "_begin" : "_end",
			(unsigned long long)p->task,
			(unsigned long long)p->state,
			(unsigned long long)p->vtable,
			(unsigned long long)p->task_id,
			(unsigned long long)p->owner_id, p->fn, p->flags);
		break;
	case MS_REC_TOKIO_POLL: {
		const struct ms_tokio_poll_rec *tp = data;

		fprintf(f,
			"tokio_poll task=%#llx begin=%llu state=%#llx->%#llx vt=%#llx id=%llu owner=%llu fn=%u flags=%u word=%#llx\n",
			(unsigned long long)tp->task,
			(unsigned long long)tp->begin_ns,
			(unsigned long long)tp->begin_state,
			(unsigned long long)tp->state,
			(unsigned long long)tp->vtable,
			(unsigned long long)tp->task_id,
			(unsigned long long)tp->owner_id, tp->fn, tp->flags,
			(unsigned long long)tp->future_word);
		break;
	}
	case MS_REC_THREAD:
		fprintf(f, "thread %.16s\n",
			((const struct ms_thread_rec *)data)->comm);
		break;
	case MS_REC_EXEC:
		fprintf(f, "exec %.16s\n",
			((const struct ms_exec_rec *)data)->comm);
		break;
	default:
		fprintf(f, "task task=%#llx parent=%#llx size=%llu\n",
			(unsigned long long)t->task,
			(unsigned long long)t->parent,
			(unsigned long long)t->size);
	}
}

#define MAX_PCS 64
#define MAX_SITE_FRAMES 16

/* tokio's task creation and the allocator: never the spawn site. */
static bool is_spawn_machinery(const struct sym_frame *f)
{
	static const char *const prefix[] = {
		"tokio::", "<tokio::",	     "__rust", "__rdl",
		"__rg_",   "alloc::alloc::", "malloc", "calloc",
		"realloc", "posix_memalign", "crt_",
	};
	const char *fn = f->function;

	if (!fn)
		return false;
	if (!strncmp(fn, "__rustc::", 9))
		return true;
	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (!strncmp(fn, prefix[i], strlen(prefix[i])))
			return true;
	return false;
}

static uint64_t pcs_hash(const uint64_t *pcs, int n, uint16_t kind)
{
	uint64_t h = UTIL_FNV_OFFSET ^ kind;

	for (int i = 0; i < n; i++)
		h = util__fnv_step(h, pcs[i]);
	return h | 1; /* idmap keys are never 0 */
}

/*
 * Stacks -> sites. Unwind with CFI (sym__unwind), fall back to the
 * kernel's frame-pointer walk when CFI yields nothing, fold the runtime's
 * and the allocator's frames so that the first user frame leads, intern
 * the site in the model. The same stack repeats: its raw pcs are hashed
 * and looked up first, so symbolization happens once per distinct stack.
 */
static uint32_t stack_site(struct collector *c, const struct ms_stack_rec *r)
{
	struct ms_frame frames[MAX_SITE_FRAMES];
	uint64_t pcs[MAX_PCS], key;
	struct sym_regs regs = {
		.ip = r->ip,
		.sp = r->sp,
		.bp = r->bp,
		.bx = r->bx,
		.r12 = r->r12,
		.r13 = r->r13,
		.r14 = r->r14,
		.r15 = r->r15,
	};
	int n = 0, first = 0, nf = 0;
	uint32_t site;

	if (!c->sym && !c->sym_failed) {
		int err = sym__open(c->o.pid, &c->sym);

		if (err) {
			c->sym_failed = true;
			log__note("cannot symbolize pid %d: %s: stacks dropped",
				  (int)c->o.pid, strerror(-err));
		}
	}
	if (!c->sym)
		return MS_NO_SITE;
	if (r->stack_len) {
		size_t len = r->stack_len <= MS_STACK_BYTES ? r->stack_len :
							      MS_STACK_BYTES;

		/* Undo the uretprobe trampolines (ours, on raw::poll and
		 * the spawn functions): CFI cannot walk through them. */
		memcpy(c->stack_copy, r->stack, len);
		for (uint32_t i = 0; i < r->nret && i < MS_STACK_RET_FIX; i++) {
			uint64_t off = r->ret_slot[i] - r->sp;

			if (r->ret_slot[i] >= r->sp && off + 8 <= len)
				memcpy(c->stack_copy + off, &r->ret_addr[i], 8);
		}
		n = sym__unwind(c->sym, &regs, c->stack_copy, len, pcs,
				MAX_PCS);
	}
	if (n <= 1 && r->fp_depth > 1) {
		n = (int)(r->fp_depth < MAX_PCS ? r->fp_depth : MAX_PCS);
		memcpy(pcs, r->fp_ips, (size_t)n * sizeof(pcs[0]));
	}
	if (n <= 0)
		return MS_NO_SITE;
	key = pcs_hash(pcs, n, r->h.aux);
	if (!idmap__get(c->stacks, key, &site))
		return site;
	c->symbolized++;
	/* Fold the leading frames of the runtime, the standard library and
	 * the allocator. When that leaves only the outermost frame (user
	 * code inlined into library frames, as in release builds without
	 * debug info), fold only tokio's and the allocator's own frames, so
	 * the frame that called spawn still leads. */
	for (int i = 0; i < n && i < MAX_PCS; i++) {
		int rc = sym__frame(c->sym, pcs[i], i > 0, &c->frames[i]);

		if (rc && log__level() >= MS_LOG_DEBUG)
			pr_debug("pc %#llx: %s", (unsigned long long)pcs[i],
				 strerror(-rc));
	}
	for (first = 0;
	     first + 1 < n && sym__is_runtime_frame(&c->frames[first]); first++)
		;
	if (first + 1 >= n && n > 1)
		for (first = 0;
		     first + 1 < n && is_spawn_machinery(&c->frames[first]);
		     first++)
			;
	for (int i = first; i < n && nf < MAX_SITE_FRAMES; i++) {
		const struct sym_frame *f = &c->frames[i];

		frames[nf].pc = f->pc;
		frames[nf].function = f->function;
		frames[nf].file = f->file;
		frames[nf].module = f->module;
		frames[nf].line = f->line > 0 ? (uint32_t)f->line : 0;
		frames[nf].path = f->path;
		frames[nf].build_id = f->build_id;
		frames[nf].addr = f->addr;
		nf++;
	}
	site = model__site_intern(c->o.model, frames, (uint32_t)nf);
	idmap__put(c->stacks, key, site);
	return site;
}

/* Records the batch does not take: stacks (and anything malformed, which
 * the model counts). */
static void on_stack(struct collector *c, const void *data, size_t len)
{
	const struct ms_stack_rec *r = data;
	uint64_t t0 = util__now_ns();
	uint32_t site;

	if (model__decode(data, len) != MS_REC_STACK) {
		model__apply(c->o.model, data, len);
		return;
	}
	site = stack_site(c, r);
	pr_debug("stack kind %u addr %#llx size %llu -> site %u", r->h.aux,
		 (unsigned long long)r->addr, (unsigned long long)r->size,
		 site);
	if (site != MS_NO_SITE) {
		switch (r->h.aux) {
		case MS_STACK_SPAWN:
			model__spawn_site(c->o.model, MS_RT_TOKIO, r->addr,
					  site);
			break;
		case MS_STACK_SPAWN_USDT:
			model__spawn_site(c->o.model, MS_RT_USDT, r->addr,
					  site);
			break;
		case MS_STACK_SAMPLE: {
			/* Poisson sampling over bytes: a block of size s was
			 * sampled with probability 1 - exp(-s / N). */
			double s = (double)r->size,
			       nb = (double)c->o.sample_bytes;
			double w = nb > 0 ? s / -expm1(-s / nb) : s;

			model__sampled_alloc(c->o.model, r->addr, r->size, w,
					     site);
			break;
		}
		}
	}
	c->stacks_seen++;
	c->stack_ns += util__now_ns() - t0;
}

static void flush(struct collector *c)
{
	if (!c->nbatch)
		return;
	model__apply_batch(c->o.model, c->batch_ptr, c->batch_len, c->nbatch);
	c->nbatch = 0;
}

void collector__flush(struct collector *c)
{
	flush(c);
}

void collector__feed(struct collector *c, const void *data, size_t len)
{
	const struct ms_hdr *h = data;

	c->records++;
	if (c->o.trace)
		trace_record(c->o.trace, data, len);
	if (c->o.record) {
		uint32_t n = (uint32_t)len;

		if (fwrite(&n, sizeof(n), 1, c->o.record) != 1 ||
		    fwrite(data, len, 1, c->o.record) != 1)
			c->record_errors++;
	}
	if (len >= sizeof(struct ms_poll_rec) && h->type == MS_REC_POLL_BEGIN &&
	    h->aux == MS_RT_TOKIO) {
		const struct ms_poll_rec *p = data;

		check_vtable(c, p->vtable, p->fn);
	} else if (len >= sizeof(struct ms_tokio_poll_rec) &&
		   h->type == MS_REC_TOKIO_POLL) {
		const struct ms_tokio_poll_rec *p = data;

		check_vtable(c, p->vtable, p->fn);
	}
	if (len >= sizeof(struct ms_ret_site_rec) &&
	    h->type == MS_REC_RET_SITE) {
		const struct ms_ret_site_rec *r = data;
		int n = attach__poll_return_site(c->o.attach, r->ret);

		if (n < 0)
			pr_debug("return site %#llx: cannot probe: %s",
				 (unsigned long long)r->ret, strerror(-n));
	}
	if (len <= BATCH_REC && len >= sizeof(*h) && h->type != MS_REC_STACK) {
		memcpy(c->batch_buf[c->nbatch], data, len);
		c->batch_ptr[c->nbatch] = c->batch_buf[c->nbatch];
		c->batch_len[c->nbatch] = len;
		if (++c->nbatch == BATCH)
			flush(c);
		return;
	}
	flush(c);
	on_stack(c, data, len);
}

int collector__new(const struct collector_opts *opts, struct collector **out)
{
	struct collector *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->o = *opts;
	c->vtables = idmap__new();
	c->stacks = idmap__new();
	if (!c->vtables || !c->stacks) {
		idmap__free(c->stacks);
		idmap__free(c->vtables);
		free(c);
		return -ENOMEM;
	}
	/* Open the symbolizer now, while the target surely lives (launch
	 * mode: stopped right after exec): a short-lived target may be gone
	 * by the time its first stack is read. */
	if (opts->stacks && sym__open(opts->pid, &c->sym))
		c->sym = NULL;
	*out = c;
	return 0;
}

void collector__exec(struct collector *c, struct attach *a)
{
	flush(c);
	c->o.attach = a;
	idmap__clear(c->vtables);
	idmap__clear(c->stacks);
	/* The old image's modules: the next stack opens the new ones. */
	sym__close(c->sym);
	c->sym = NULL;
	c->sym_failed = false;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	if (c->stacks_seen)
		pr_debug("stacks: %llu, %llu distinct, %.1f us each",
			 (unsigned long long)c->stacks_seen,
			 (unsigned long long)c->symbolized,
			 (double)c->stack_ns / 1e3 / (double)c->stacks_seen);
	sym__close(c->sym);
	idmap__free(c->stacks);
	idmap__free(c->vtables);
	free(c);
}

/* The kernel's per-CPU counters, summed: sum[k] for k < MS_STAT_MAX. */
static void read_stats(int fd, uint64_t *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0)
		return;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (uint32_t k = 0; k < MS_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (int i = 0; i < ncpu; i++)
			sum[k] += vals[i];
	}
	free(vals);
}

uint64_t collector__kernel_stat(int stats_fd, unsigned int stat)
{
	uint64_t sum[MS_STAT_MAX] = { 0 };

	read_stats(stats_fd, sum);
	return stat < MS_STAT_MAX ? sum[stat] : 0;
}

void collector__refresh_stats(struct collector *c)
{
	uint64_t sum[MS_STAT_MAX] = { 0 };

	read_stats(c->o.stats_fd, sum);
	model__set_kernel_stats(c->o.model, sum, MS_STAT_MAX);
}

uint64_t collector__records(const struct collector *c)
{
	return c->records;
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL /* Linux 6.9: a pidfd for any thread */
#endif

void collector__scan_polls(struct collector *c, uint64_t min_ns)
{
	struct ms_tstate st;
	struct dirent *de;
	char path[64];
	uint64_t now;
	DIR *dir;

	if (c->o.tstates_fd < 0 || !attach__poll_vaddr(c->o.attach, 0))
		return; /* no tokio task functions probed */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)c->o.pid);
	dir = opendir(path);
	if (!dir)
		return;
	now = util__now_ns();
	while ((de = readdir(dir))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		uint32_t n;
		int fd;

		if (*end || tid <= 0)
			continue;
		fd = (int)syscall(SYS_pidfd_open, (pid_t)tid, PIDFD_THREAD);
		if (fd < 0)
			continue;
		if (bpf_map_lookup_elem(c->o.tstates_fd, &fd, &st)) {
			close(fd);
			continue; /* no state: it never hit a probe */
		}
		close(fd);
		n = st.poll_depth < MS_POLL_DEPTH ? st.poll_depth :
						    MS_POLL_DEPTH;
		for (uint32_t k = 0; k < n; k++) {
			const struct ms_poll_entry *e = &st.polls[k];

			if (!e->tokio || e->reported || e->begin_ns > now ||
			    now - e->begin_ns < min_ns)
				continue;
			check_vtable(c, e->vtable, e->fn);
			model__poll_running(c->o.model, (uint32_t)tid, e);
		}
	}
	closedir(dir);
}
