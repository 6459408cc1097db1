// SPDX-License-Identifier: MIT
/*
 * ms-replay: the daemon's user-space half (record decoding + model) with no
 * kernel involved, for benchmarks.
 *
 *   ms-replay FILE             replay a `memscoped --record FILE` stream
 *   ms-replay --synthetic      per-record cost and memory at 10k, 100k and
 *                              1M live allocations and 100k tasks
 *
 * Prints records per second (one core) and resident bytes per live
 * allocation and per task, as the model accounts them.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collect/collector.h"
#include "log.h"
#include "model/model.h"
#include "util.h"
#include "records.h" /* tests/unit: records as BPF sends them */

static int replay_file(const char *path)
{
	static char buf[sizeof(struct ms_stack_rec) + 64];
	char magic[8];
	struct model *m;
	uint64_t n = 0, t0, t1;
	uint32_t len;
	FILE *f;
	int err = 0;

	f = fopen(path, "rb");
	if (!f) {
		pr_err("%s: %s", path, strerror(errno));
		return 2;
	}
	if (fread(magic, sizeof(magic), 1, f) != 1 ||
	    memcmp(magic, MS_RECORD_MAGIC, 8)) {
		pr_err("%s: not a memscoped --record file", path);
		fclose(f);
		return 2;
	}
	m = model__new(
		&(struct model_opts){ .never_finished_ns = 10000000000ull });
	if (!m) {
		fclose(f);
		return 1;
	}
	t0 = util__now_ns();
	while (fread(&len, sizeof(len), 1, f) == 1) {
		if (len > sizeof(buf) || fread(buf, len, 1, f) != 1) {
			pr_err("%s: truncated or corrupt at record %llu", path,
			       (unsigned long long)n);
			err = 2;
			break;
		}
		model__apply(m, buf, len);
		n++;
	}
	t1 = util__now_ns();
	printf("records %llu in %.3f s: %.2f M records/s; model %zu bytes\n",
	       (unsigned long long)n, (double)(t1 - t0) / 1e9,
	       t1 > t0 ? (double)n / ((double)(t1 - t0) / 1e3) : 0.0,
	       model__mem_bytes(m));
	model__free(m);
	fclose(f);
	return err;
}

/* ---- synthetic streams ------------------------------------------------ */

static void hdr(struct ms_hdr *h, uint16_t type, uint16_t aux, uint32_t tid,
		uint64_t ts)
{
	h->type = type;
	h->aux = aux;
	h->pid = 1000;
	h->tid = tid;
	h->reserved = 0;
	h->ts_ns = ts;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* A task's first poll as BPF reports it: one record at its end, idle with
 * wakers alive. */
static void first_poll(struct model *m, uint64_t task, uint64_t id,
		       uint64_t vtable, uint64_t *ts)
{
	struct rec_poll_entry e = {
		.task = task,
		.begin_ns = (*ts)++,
		.begin_state = 0x1,
		.vtable = vtable,
		.task_id = id,
		.owner_id = 1,
	};
	struct ms_tokio_poll_rec p =
		rec__tokio_poll(1000, 1001, (*ts)++, &e, (3ull << 6) | 0x8,
				MS_POLL_F_SEEN_POLL);

	model__apply(m, &p, sizeof(p));
}

/*
 * Build a model holding `live` allocations spread over `tasks` tokio tasks,
 * then time a steady state of alloc/free pairs inside task polls: the
 * per-record cost must not grow with the table.
 */
#define BATCH 64

static void synthetic(size_t live, size_t tasks, size_t pairs, bool batched)
{
	static struct ms_free_rec fb[BATCH / 2];
	static struct ms_alloc_rec ab[BATCH / 2];
	const void *recs[BATCH];
	size_t lens[BATCH];
	struct model *m = model__new(&(struct model_opts){
		.never_finished_ns = 1000000000000ull, .pid = 1000 });
	struct ms_alloc_rec a = { 0 };
	uint64_t ts = 1, t0, t1, base = 0x10000000ull;
	uint64_t *addrs = calloc(live, sizeof(*addrs));
	size_t records = 0, before;

	if (!m || !addrs)
		exit(1);
	/* Spawn the tasks: the cell allocation, then a first poll. */
	for (size_t i = 0; i < tasks; i++) {
		hdr(&a.h, MS_REC_ALLOC, MS_FN_MALLOC, 1001, ts++);
		a.addr = base + (i << 10);
		a.size = 384;
		a.old_addr = 0;
		a.task = 0;
		model__apply(m, &a, sizeof(a));
		first_poll(m, a.addr, i + 1, 0x5000, &ts);
	}
	/* The live set, allocated inside polls of random tasks. */
	for (size_t i = 0; i < live; i++) {
		uint64_t task = base + ((rnd() % (tasks ? tasks : 1)) << 10);

		hdr(&a.h, MS_REC_ALLOC, MS_FN_MALLOC, 1001, ts++);
		addrs[i] = 0x100000000000ull + (uint64_t)i * 48;
		a.addr = addrs[i];
		a.size = 16 + rnd() % 256;
		a.task = tasks ? task : 0;
		model__apply(m, &a, sizeof(a));
	}
	before = model__mem_bytes(m);
	/* Steady state: replace random live blocks, as a service would;
	 * in batches, as the collector hands records over. */
	t0 = util__now_ns();
	for (size_t i = 0; i < pairs; i += BATCH / 2) {
		for (size_t j = 0; j < BATCH / 2; j++) {
			size_t k = rnd() % live;
			struct ms_free_rec *f = &fb[j];
			struct ms_alloc_rec *b = &ab[j];

			hdr(&f->h, MS_REC_FREE, MS_FN_FREE, 1002, ts++);
			f->addr = addrs[k];
			f->task = 0;
			hdr(&b->h, MS_REC_ALLOC, MS_FN_MALLOC, 1002, ts++);
			addrs[k] += 0x10;
			b->addr = addrs[k];
			b->size = 64;
			b->old_addr = 0;
			b->task = tasks ? base + ((rnd() % tasks) << 10) : 0;
			recs[2 * j] = f;
			lens[2 * j] = sizeof(*f);
			recs[2 * j + 1] = b;
			lens[2 * j + 1] = sizeof(*b);
		}
		if (batched)
			model__apply_batch(m, recs, lens, BATCH);
		else
			for (size_t j = 0; j < BATCH; j++)
				model__apply(m, recs[j], lens[j]);
		records += BATCH;
	}
	t1 = util__now_ns();
	printf("%9zu live %7zu tasks %-9s %6.1f ns/record  %5.2f M records/s  "
	       "%5.1f bytes/live allocation (model total %.1f MiB)\n",
	       live, tasks, batched ? "batched:" : "one by one:",
	       (double)(t1 - t0) / (double)records,
	       (double)records / ((double)(t1 - t0) / 1e3),
	       (double)model__alloc_table_bytes(m) / (double)(live + tasks),
	       (double)before / 1048576.0);
	model__free(m);
	free(addrs);
}

static void synthetic_tasks(size_t tasks)
{
	struct model *m = model__new(&(struct model_opts){
		.never_finished_ns = 1000000000000ull, .pid = 1000 });
	struct ms_alloc_rec a = { 0 };
	size_t empty;
	uint64_t ts = 1;

	if (!m)
		exit(1);
	empty = model__mem_bytes(m);
	for (size_t i = 0; i < tasks; i++) {
		hdr(&a.h, MS_REC_ALLOC, MS_FN_MALLOC, 1001, ts++);
		a.addr = 0x10000000ull + (i << 10);
		a.size = 384;
		model__apply(m, &a, sizeof(a));
		first_poll(m, a.addr, i + 1, 0, &ts);
	}
	printf("%zu tasks: %.1f bytes per task (cell allocation included)\n",
	       tasks, (double)(model__mem_bytes(m) - empty) / (double)tasks);
	model__free(m);
}

int main(int argc, char **argv)
{
	log__set_prog("ms-replay");
	if (argc == 2 && strcmp(argv[1], "--synthetic")) {
		return replay_file(argv[1]);
	} else if (argc == 2) {
		for (int b = 0; b < 2; b++) {
			synthetic(10000, 1000, 4000000, b);
			synthetic(100000, 10000, 4000000, b);
			synthetic(1000000, 100000, 4000000, b);
		}
		synthetic_tasks(100000);
		return 0;
	}
	fprintf(stderr, "usage: ms-replay FILE | ms-replay --synthetic\n");
	return 2;
}
