// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for memscope's snapshot reader: bytes go through the
 * loader and, when they load, through every command (report, HTML,
 * diff, export) into a sink. Build: CC=clang cmake -DMEMSCOPE_FUZZ=ON;
 * run: fuzz_snapshot tests/fuzz/corpus (see docs/memscope.md). The same
 * function is replayed over the corpus by the unit test
 * offline_corpus_replay, without libFuzzer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offline/diff.h"
#include "offline/export.h"
#include "offline/html.h"
#include "offline/report.h"
#include "offline/snap.h"
#include "profile.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The smallest valid snapshot: the other side of the diffs. */
static const char base_json[] =
	"{\"schema\":\"memscope.snapshot/1\",\"generator\":\"memscoped 0.1.0\","
	"\"target\":{\"pid\":1,\"command\":\"x\",\"exe\":\"/x\",\"exited\":false,"
	"\"exit_status\":null},\"taken_ns\":5,\"mode\":\"full\","
	"\"incomplete\":false,\"runtime\":\"tokio\",\"totals\":{\"alloc_count\":1,"
	"\"free_count\":0,\"alloc_bytes\":8,\"free_bytes\":0,\"live_count\":1,"
	"\"live_bytes\":8,\"peak_live_bytes\":8,\"lost_events\":0,\"records\":1,"
	"\"stale_allocs\":0,\"kernel_no_state\":0,\"bad_records\":0,"
	"\"untracked_frees\":0},\"live_by_size\":[],\"runtime_overhead\":"
	"{\"alloc_count\":0,\"alloc_bytes\":0,\"free_count\":0,\"free_bytes\":0,"
	"\"live_count\":0,\"live_bytes\":0,\"peak_live_bytes\":0},"
	"\"outside_tasks\":{\"alloc_count\":0,\"alloc_bytes\":0,\"free_count\":0,"
	"\"free_bytes\":0,\"live_count\":0,\"live_bytes\":0,\"peak_live_bytes\":0},"
	"\"async\":{\"async_allocation_count\":0,\"async_allocation_bytes\":0,"
	"\"future_state_overhead\":0,\"average_future_size\":0,"
	"\"largest_future_size\":0,\"runtime_overhead_bytes\":0,"
	"\"never_finished_count\":0,\"tasks_alive\":1,\"tasks_completed\":0,"
	"\"tasks_cancelled\":0},\"tasks\":[{\"id\":3,\"kind\":\"user\","
	"\"state\":\"pending\",\"never_finished\":false,"
	"\"never_finished_reason\":null,\"parent\":null,\"spawned_ns\":1,"
	"\"ended_ns\":null,\"polls\":1,\"busy_ns\":1,\"future_size\":128,"
	"\"alloc_count\":1,\"alloc_bytes\":8,\"free_count\":0,\"free_bytes\":0,"
	"\"live_count\":1,\"live_bytes\":8,\"peak_live_bytes\":8,"
	"\"outliving_count\":0,\"outliving_bytes\":0,\"runtime\":\"tokio\","
	"\"key\":3,\"spawn_site\":[{\"function\":\"main\",\"file\":\"m.rs\","
	"\"line\":3,\"module\":\"x\"}]}],\"timeline\":{\"interval_ns\":1000000000,"
	"\"samples\":[]},\"warnings\":[]}";

static ssize_t sink_write(void *cookie, const char *buf, size_t len)
{
	return (ssize_t)len;
}

static FILE *sink(void)
{
	static FILE *f;

	/* Output is discarded in memory: no syscall per buffer. */
	if (!f)
		f = fopencookie(NULL, "w", (cookie_io_functions_t){
						   .write = sink_write });
	if (!f)
		abort();
	return f;
}

static void check_pprof(const struct snap *s)
{
	Perftools__Profiles__Profile *p;
	uint8_t *buf;
	size_t len;

	if (export__pprof_encode(s, &buf, &len))
		return;
	/* What we encode must decode, with the right shape. */
	p = perftools__profiles__profile__unpack(NULL, len, buf);
	if (!p || p->n_sample_type != 4 || p->n_string_table < 1 ||
	    p->string_table[0][0] != '\0')
		abort();
	for (size_t i = 0; i < p->n_sample; i++) {
		if (p->sample[i]->n_value != 4 || !p->sample[i]->n_location_id)
			abort();
		for (size_t j = 0; j < p->sample[i]->n_location_id; j++)
			if (!p->sample[i]->location_id[j] ||
			    p->sample[i]->location_id[j] > p->n_location)
				abort();
	}
	perftools__profiles__profile__free_unpacked(p, NULL);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_opts ro = { .file = "fuzz", .top = 3 };
	struct diff_opts dopt = { .file_a = "a", .file_b = "b", .top = 3 };
	static struct snap *base;
	struct snap *s;
	char err[512];
	FILE *f = sink();

	if (!base && snap__load_mem(base_json, sizeof(base_json) - 1, &base,
				    err, sizeof(err)))
		abort();
	memset(err, 'x', sizeof(err));
	if (snap__load_mem((const char *)data, size, &s, err, sizeof(err))) {
		/* The error contract: one non-empty line. */
		if (!memchr(err, '\0', sizeof(err)) || !err[0] ||
		    strchr(err, '\n'))
			abort();
		return 0;
	}
	report__text(f, s, &ro);
	html__report(f, s, &ro);
	export__json(f, s);
	export__folded(f, s);
	export__pprof(f, s);
	check_pprof(s);
	diff__text(f, s, s, &dopt);
	diff__text(f, base, s, &dopt);
	diff__text(f, s, base, &dopt);
	fflush(f);
	snap__free(s);
	return 0;
}
