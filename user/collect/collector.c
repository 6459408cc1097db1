// SPDX-License-Identifier: MIT
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach.h"
#include "collect/collector.h"
#include "log.h"
#include "memscope/events.h"
#include "model/idmap.h"
#include "model/model.h"

#define BATCH 128
#define BATCH_REC 128 /* bytes: every record but stacks fits */

struct collector {
	struct collector_opts o;
	struct ring_buffer *rb;
	struct idmap *vtables; /* checked vtables */
	int mem_fd; /* /proc/PID/mem, read-only */
	uint64_t load_bias;
	int bias_state; /* 0 unknown, 1 known, -1 unavailable */
	uint64_t records;
	uint64_t rejected;
	uint64_t record_errors;
	/* Small records wait here and go to the model in batches, so that
	 * their table look-ups can be prefetched together. */
	size_t nbatch;
	const void *batch_ptr[BATCH];
	size_t batch_len[BATCH];
	uint64_t batch_buf[BATCH][BATCH_REC / 8];
};

static uint64_t exe_bias(struct collector *c)
{
	char path[64], line[4096];
	FILE *f;

	if (c->bias_state)
		return c->load_bias;
	c->bias_state = -1;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)c->o.pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	/* The executable is mapped first; its offset-0 mapping starts at
	 * bias + the vaddr of its first segment. */
	if (fgets(line, sizeof(line), f)) {
		unsigned long lo, off;

		if (sscanf(line, "%lx-%*x %*s %lx", &lo, &off) == 2) {
			c->load_bias = lo - off -
				       attach__exe_load_vaddr(c->o.attach);
			c->bias_state = 1;
		}
	}
	fclose(f);
	return c->load_bias;
}

/*
 * DESIGN.md: the Header/Vtable layout is not a stable ABI. A vtable is
 * trusted when its poll slot points back at the function that was probed
 * and its three offsets are ordered as tokio lays out a Cell.
 */
static void check_vtable(struct collector *c, const struct ms_poll_rec *r)
{
	uint64_t vt[MS_TOKIO_VT_WORDS], want;
	uint32_t seen;
	bool ok;

	if (!r->vtable || !idmap__get(c->vtables, r->vtable, &seen))
		return;
	idmap__put(c->vtables, r->vtable, 1);
	if (c->mem_fd < 0) {
		char path[64];

		/* Opened late: in launch mode the target has only now
		 * exec'd, and an earlier fd would show the old image. */
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)c->o.pid);
		c->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (c->mem_fd < 0)
			return; /* target gone: nothing to check against */
	}
	if (pread(c->mem_fd, vt, sizeof(vt), (off_t)r->vtable) !=
	    (ssize_t)sizeof(vt))
		return;
	want = attach__poll_vaddr(c->o.attach, r->fn);
	if (want && c->bias_state >= 0)
		want += exe_bias(c);
	ok = (!want || c->bias_state < 0 || vt[MS_TOKIO_VT_POLL] == want) &&
	     vt[8] <= vt[9] && vt[9] < vt[7] && vt[7] < (1u << 24) &&
	     vt[8] >= 16; /* a zero-sized scheduler shares its offset with the id */
	if (ok)
		return;
	pr_debug("vtable %#llx: poll %#llx (want %#llx) offsets %llu/%llu/%llu",
		 (unsigned long long)r->vtable, (unsigned long long)vt[0],
		 (unsigned long long)want, (unsigned long long)vt[7],
		 (unsigned long long)vt[8], (unsigned long long)vt[9]);
	model__reject_vtable(c->o.model, r->vtable);
	if (!c->rejected++)
		log__note("tokio task layout not recognised (vtable %#llx): "
			  "those tasks get poll-only attribution, no ids or "
			  "end states",
			  (unsigned long long)r->vtable);
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
		fprintf(f, "poll%s task=%#llx state=%#llx vt=%#llx id=%llu owner=%llu fn=%u flags=%u\n",
			h->type == MS_REC_POLL_BEGIN ? "_begin" : "_end",
			(unsigned long long)p->task,
			(unsigned long long)p->state,
			(unsigned long long)p->vtable,
			(unsigned long long)p->task_id,
			(unsigned long long)p->owner_id, p->fn, p->flags);
		break;
	case MS_REC_THREAD:
		fprintf(f, "thread %.16s\n", ((const struct ms_thread_rec *)data)->comm);
		break;
	default:
		fprintf(f, "task task=%#llx parent=%#llx size=%llu\n",
			(unsigned long long)t->task,
			(unsigned long long)t->parent,
			(unsigned long long)t->size);
	}
}

/* Records the batch does not take: stacks (and anything malformed, which
 * the model counts). */
static void on_stack(struct collector *c, const void *data, size_t len)
{
	model__apply(c->o.model, data, len);
}

static void flush(struct collector *c)
{
	if (!c->nbatch)
		return;
	model__apply_batch(c->o.model, c->batch_ptr, c->batch_len, c->nbatch);
	c->nbatch = 0;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct collector *c = ctx;
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
	    h->aux == MS_RT_TOKIO)
		check_vtable(c, data);
	if (len <= BATCH_REC && len >= sizeof(*h) && h->type != MS_REC_STACK) {
		memcpy(c->batch_buf[c->nbatch], data, len);
		c->batch_ptr[c->nbatch] = c->batch_buf[c->nbatch];
		c->batch_len[c->nbatch] = len;
		if (++c->nbatch == BATCH)
			flush(c);
		return 0;
	}
	flush(c);
	on_stack(c, data, len);
	return 0;
}

int collector__new(const struct collector_opts *opts, struct collector **out)
{
	struct collector *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->o = *opts;
	c->vtables = idmap__new();
	if (!c->vtables) {
		err = -ENOMEM;
		goto err_free;
	}
	c->rb = ring_buffer__new(opts->ringbuf_fd, on_record, c, NULL);
	if (!c->rb) {
		err = -errno;
		goto err_map;
	}
	c->mem_fd = -1;
	*out = c;
	return 0;
err_map:
	idmap__free(c->vtables);
err_free:
	free(c);
	return err;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	if (c->mem_fd >= 0)
		close(c->mem_fd);
	ring_buffer__free(c->rb);
	idmap__free(c->vtables);
	free(c);
}

int collector__fd(const struct collector *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

long collector__drain(struct collector *c)
{
	long total = 0;
	int n;

	/* ring_buffer__consume() returns at most INT_MAX per call. */
	do {
		n = ring_buffer__consume(c->rb);
		if (n < 0) {
			flush(c);
			return n;
		}
		total += n;
	} while (n > 0);
	flush(c);
	return total;
}

void collector__refresh_stats(struct collector *c)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum[MS_STAT_MAX] = { 0 };
	uint64_t *vals;

	if (ncpu <= 0)
		return;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return;
	for (uint32_t k = 0; k < MS_STAT_MAX; k++) {
		if (bpf_map_lookup_elem(c->o.stats_fd, &k, vals))
			continue;
		for (int i = 0; i < ncpu; i++)
			sum[k] += vals[i];
	}
	free(vals);
	model__set_kernel_stats(c->o.model, sum, MS_STAT_MAX);
}

uint64_t collector__records(const struct collector *c)
{
	return c->records;
}
