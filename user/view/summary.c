// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>

#include "text.h"
#include "view/summary.h"

static void print_classes(FILE *f, const struct model *m)
{
	uint64_t cnt[MS_SIZE_CLASSES], bytes[MS_SIZE_CLASSES];
	char b1[32], b2[32], b3[32];

	model__size_classes(m, cnt, bytes);
	fprintf(f, "  live allocations by size:\n");
	for (int c = 0; c < MS_SIZE_CLASSES; c++) {
		uint64_t lo = c ? 1ull << (c - 1) : 0;
		uint64_t hi = c ? (1ull << c) - 1 : 0;

		if (!cnt[c])
			continue;
		fprintf(f, "    %10s .. %-10s %10" PRIu64 " allocs %12s\n",
			text__bytes(b1, sizeof(b1), lo),
			text__bytes(b2, sizeof(b2), hi), cnt[c],
			text__bytes(b3, sizeof(b3), bytes[c]));
	}
}

static void print_tasks(FILE *f, const struct model *m)
{
	struct ms_async a;
	char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
	size_t shown = 0;

	model__async(m, &a);
	fprintf(f,
		"  tasks: %" PRIu64 " alive, %" PRIu64 " completed, %" PRIu64
		" cancelled, %" PRIu64 " never finished\n",
		a.tasks_alive, a.tasks_completed, a.tasks_cancelled,
		a.never_finished_count);
	fprintf(f,
		"  async: %" PRIu64
		" allocations in tasks (%s), future state %s"
		" (average %s, largest %s), task cells %s, runtime overhead %s\n",
		a.async_allocation_count,
		text__bytes(b1, sizeof(b1), a.async_allocation_bytes),
		text__bytes(b2, sizeof(b2), a.future_state_overhead),
		text__bytes(b3, sizeof(b3), a.average_future_size),
		text__bytes(b4, sizeof(b4), a.largest_future_size),
		text__bytes(b6, sizeof(b6), a.task_cell_bytes),
		text__bytes(b5, sizeof(b5), a.runtime_overhead_bytes));
	for (size_t i = 0; i < model__task_count(m); i++) {
		const struct ms_task *t = model__task(m, i);
		const char *nf = nf_reason__name(t->nf_reason);

		if (!nf)
			continue;
		if (shown++ == 20) {
			fprintf(f, "    ... (see the snapshot for all)\n");
			break;
		}
		fprintf(f,
			"    never finished: task %" PRIu64
			" (%s): %s, %" PRIu64 " polls, future %s, holds %s\n",
			t->id, task_state__name(t->state), nf, t->polls,
			text__bytes(b1, sizeof(b1), t->future_size),
			text__bytes(b2, sizeof(b2), t->mem.live_bytes));
	}
}

/* The tasks holding most page-level memory, largest first (n at most). */
static size_t top_paged(const struct model *m, const struct ms_task **top,
			size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < model__task_count(m); i++) {
		const struct ms_task *t = model__task(m, i);
		size_t j;

		if (!t->pages.resident_bytes)
			continue;
		if (k == n &&
		    t->pages.resident_bytes <= top[n - 1]->pages.resident_bytes)
			continue;
		j = k < n ? k++ : n - 1;
		while (j > 0 && top[j - 1]->pages.resident_bytes <
					t->pages.resident_bytes) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = t;
	}
	return k;
}

/* Page-level mode: resident memory by owner, from the kernel's pages. */
static void print_pages(FILE *f, const struct model *m)
{
	const struct ms_page_totals *pt = model__pages(m);
	const struct ms_task *top[10];
	size_t n = top_paged(m, top, 10);
	char b1[32], b2[32], b3[32];
	const struct ms_pages *p;
	uint32_t tid;
	bool rt;

	fprintf(f,
		"  page-level  resident %s (peak %s), %" PRIu64
		" pages touched, %s let go (mmap %" PRIu64 ", munmap %" PRIu64
		", brk %" PRIu64 ", madvise %" PRIu64 ", mremap %" PRIu64 ")\n",
		text__bytes(b1, sizeof(b1), pt->all.resident_bytes),
		text__bytes(b2, sizeof(b2), pt->all.peak_resident_bytes),
		pt->all.faults,
		text__bytes(b3, sizeof(b3), pt->all.released_bytes),
		pt->mmap_count, pt->munmap_count, pt->brk_count,
		pt->madvise_count, pt->mremap_count);
	fprintf(f, "  page-level  runtime %s, outside tasks %s\n",
		text__bytes(b1, sizeof(b1),
			    model__runtime_pages(m)->resident_bytes),
		text__bytes(b2, sizeof(b2),
			    model__thread_pages(m)->resident_bytes));
	fprintf(f, "  page-level  by thread:");
	for (size_t i = 0; (p = model__page_thread(m, i, &tid, &rt)); i++)
		if (p->resident_bytes)
			fprintf(f, " %" PRIu32 "%s %s;", tid,
				rt ? " (runtime)" : "",
				text__bytes(b1, sizeof(b1), p->resident_bytes));
	fputc('\n', f);
	if (pt->guessed)
		fprintf(f,
			"  page-level  %" PRIu64
			" faults counted as base pages (their region could not be looked up)\n",
			pt->guessed);
	for (size_t i = 0; i < n; i++)
		fprintf(f,
			"    page-level: task %" PRIu64
			" (%s) holds %s (peak %s)\n",
			top[i]->id, task_state__name(top[i]->state),
			text__bytes(b1, sizeof(b1),
				    top[i]->pages.resident_bytes),
			text__bytes(b2, sizeof(b2),
				    top[i]->pages.peak_resident_bytes));
}

void summary__print(FILE *f, const struct model *m, uint64_t now_ns)
{
	const struct ms_totals *t = model__totals(m);
	uint64_t start = model__start_ns(m);
	char b1[32], b2[32], b3[32];

	fprintf(f, "memscoped summary (%.2f s traced)%s\n",
		now_ns > start ? (double)(now_ns - start) / 1e9 : 0.0,
		model__incomplete(m) ?
			"  [INCOMPLETE: events were lost or missed]" :
			"");
	fprintf(f, "  allocations %12" PRIu64 "  %s\n", t->alloc_count,
		text__bytes(b1, sizeof(b1), t->alloc_bytes));
	fprintf(f, "  frees       %12" PRIu64 "  %s\n", t->free_count,
		text__bytes(b2, sizeof(b2), t->free_bytes));
	fprintf(f, "  live        %12" PRIu64 "  %s (peak %s)\n", t->live_count,
		text__bytes(b1, sizeof(b1), t->live_bytes),
		text__bytes(b3, sizeof(b3), t->peak_live_bytes));
	fprintf(f, "  lost events %12" PRIu64 "%s\n", t->lost_events,
		t->kernel_no_state || t->stale_allocs || t->stack_lost ||
				t->depth_overflow || t->unmatched ?
			"  (plus missed state, frees, calls or stacks: see snapshot)" :
			"");
	if (model__page_level(m))
		print_pages(f, m);
	print_classes(f, m);
	if (model__runtime(m) != MS_RT_NONE)
		print_tasks(f, m);
}
