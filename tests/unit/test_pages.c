// SPDX-License-Identifier: MIT
/* Page-level mode (user/model/pages.c): pages charged to the owner an
 * allocation would have had, and given back to it whoever releases them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/model.h"
#include "records.h"

#define PID 4242u
#define W1 4243u /* a tokio worker */
#define START 1000000000ull
#define V 0x5600000aa000ull
#define TA 0x55d100001000ull /* task A's Header */
#define TB 0x55d100002000ull
#define MAP 0x7f0000000000ull /* 2 MiB aligned */
#define PG 4096ull
#define HUGE (2ull << 20)

static struct model *cur;
static struct rec_tokio emu;

static void apply_sink(void *ctx, const void *rec, size_t len)
{
	assert_int_equal(model__apply(ctx, rec, len), 0);
}

static struct model *new_model(void)
{
	struct model_opts o = { .start_ns = START, .pid = PID };

	memset(&emu, 0, sizeof(emu));
	emu.pid = PID;
	emu.sink = apply_sink;
	cur = emu.ctx = model__new(&o);
	assert_non_null(cur);
	model__set_page_level(cur);
	return cur;
}

static int free_model(void **state)
{
	(void)state;
	model__free(cur);
	cur = NULL;
	return 0;
}

/* A poll of task (its tokio Id id) begins on tid. */
static void poll_in(uint32_t tid, uint64_t t, uint64_t task, uint64_t id)
{
	struct rec_poll_entry e = {
		.task = task,
		.begin_ns = START + t,
		.begin_state = (3ull << MS_TOKIO_REF_SHIFT) | MS_TOKIO_RUNNING,
		.vtable = V,
		.task_id = id,
		.owner_id = 1,
	};

	rec__tokio_enter(&emu, tid, &e);
}

/* ... and returns pending. */
static void poll_out(uint32_t tid, uint64_t t)
{
	rec__tokio_exit(&emu, tid, START + t,
			(3ull << MS_TOKIO_REF_SHIFT) | MS_TOKIO_JOIN_INTEREST,
			MS_POLL_F_SEEN_RETURN);
}

static void page(uint32_t tid, uint64_t t, uint16_t kind, uint64_t addr,
		 uint64_t len)
{
	struct ms_page_rec r = rec__page(PID, tid, START + t, kind, addr, len,
					 rec__tokio_current(&emu, tid));

	apply_sink(cur, &r, sizeof(r));
}

/* n base pages from addr, touched one by one. */
static void touch(uint32_t tid, uint64_t t, uint64_t addr, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		page(tid, t, MS_PAGE_FAULT, addr + i * PG, PG);
}

static const struct ms_task *task_by_id(uint64_t id)
{
	for (size_t i = 0; i < model__task_count(cur); i++)
		if (model__task(cur, i)->id == id)
			return model__task(cur, i);
	fail_msg("no task %llu", (unsigned long long)id);
	return NULL;
}

/* Two tasks touch their memory in their polls; the pages stay theirs
 * after the polls, and a munmap by another thread gives them back to
 * their task, not to that thread. */
static void test_tasks(void **state)
{
	(void)state;
	new_model();
	poll_in(W1, 10, TA, 1);
	touch(W1, 11, MAP, 16);
	poll_out(W1, 12);
	poll_in(W1, 20, TB, 2);
	touch(W1, 21, MAP + 64 * PG, 1);
	poll_out(W1, 22);
	touch(PID, 30, MAP + 128 * PG, 2); /* main thread, no task */
	assert_int_equal(task_by_id(1)->pages.resident_bytes, 16 * PG);
	assert_int_equal(task_by_id(1)->pages.faults, 16);
	assert_int_equal(task_by_id(2)->pages.resident_bytes, PG);
	assert_int_equal(model__thread_pages(cur)->resident_bytes, 2 * PG);
	assert_int_equal(model__pages(cur)->all.resident_bytes, 19 * PG);
	/* By thread: what each touched, in tasks or not. */
	{
		const struct ms_pages *p;
		uint64_t w1 = 0, main = 0;
		uint32_t tid;
		bool rt;

		for (size_t i = 0; (p = model__page_thread(cur, i, &tid, &rt));
		     i++) {
			if (tid == W1) {
				assert_true(rt); /* it polled tasks */
				w1 = p->resident_bytes;
			} else if (tid == PID) {
				main = p->resident_bytes;
			}
		}
		assert_int_equal(w1, 17 * PG);
		assert_int_equal(main, 2 * PG);
	}
	/* A page touched again (copy on write) is no growth. */
	poll_in(W1, 40, TA, 1);
	touch(W1, 41, MAP, 1);
	page(W1, 42, MS_PAGE_MUNMAP, MAP, 8 * PG);
	poll_out(W1, 43);
	assert_int_equal(task_by_id(1)->pages.resident_bytes, 8 * PG);
	page(PID, 50, MS_PAGE_MUNMAP, MAP, 64 * PG + PG);
	assert_int_equal(task_by_id(1)->pages.resident_bytes, 0);
	assert_int_equal(task_by_id(1)->pages.released_bytes, 16 * PG);
	assert_int_equal(task_by_id(1)->pages.peak_resident_bytes, 16 * PG);
	assert_int_equal(task_by_id(2)->pages.resident_bytes, 0);
	assert_int_equal(model__thread_pages(cur)->resident_bytes, 2 * PG);
	assert_int_equal(model__thread_pages(cur)->released_bytes, 0);
	assert_int_equal(model__pages(cur)->all.resident_bytes, 2 * PG);
	assert_int_equal(model__pages(cur)->munmap_count, 2);
	{
		uint32_t tid;
		bool rt;
		const struct ms_pages *p =
			model__page_thread(cur, 0, &tid, &rt);

		/* W1's pages went back to W1 (and to their tasks). */
		for (size_t i = 1; p && tid != W1; i++)
			p = model__page_thread(cur, i, &tid, &rt);
		assert_non_null(p);
		assert_int_equal(p->resident_bytes, 0);
		assert_int_equal(p->released_bytes, 17 * PG);
	}
	assert_true(model__page_level(cur));
}

/* A huge page counts whole once; base-page faults inside it are no
 * growth; a partial madvise takes only the overlap. */
static void test_huge(void **state)
{
	(void)state;
	new_model();
	poll_in(W1, 10, TA, 1);
	page(W1, 11, MS_PAGE_FAULT, MAP, HUGE);
	touch(W1, 12, MAP + 5 * PG, 3);
	poll_out(W1, 13);
	assert_int_equal(task_by_id(1)->pages.resident_bytes, HUGE);
	assert_int_equal(task_by_id(1)->pages.faults, 1);
	page(PID, 20, MS_PAGE_MADVISE, MAP + 4 * PG, 2 * PG);
	assert_int_equal(task_by_id(1)->pages.resident_bytes, HUGE - 2 * PG);
	page(PID, 21, MS_PAGE_MADVISE, MAP, HUGE);
	assert_int_equal(task_by_id(1)->pages.resident_bytes, 0);
	assert_int_equal(model__pages(cur)->madvise_count, 2);
}

/* brk shrinking, mmap over pages, mremap moving and shrinking. */
static void test_calls(void **state)
{
	uint64_t heap = 0x55d200000000ull;
	struct ms_page_rec r;

	(void)state;
	new_model();
	page(PID, 1, MS_PAGE_BRK, heap, 0);
	page(PID, 2, MS_PAGE_BRK, heap + 32 * PG, 0);
	touch(PID, 3, heap, 32);
	page(PID, 4, MS_PAGE_BRK, heap + 8 * PG, 0);
	assert_int_equal(model__thread_pages(cur)->resident_bytes, 8 * PG);
	page(PID, 5, MS_PAGE_MMAP, heap + 4 * PG, 2 * PG); /* MAP_FIXED */
	assert_int_equal(model__thread_pages(cur)->resident_bytes, 6 * PG);
	assert_int_equal(model__pages(cur)->brk_count, 3);
	assert_int_equal(model__pages(cur)->mmap_count, 1);

	/* Task A's 4 pages move, and shrink to 3 (the 4th goes). */
	poll_in(W1, 10, TA, 1);
	touch(W1, 11, MAP, 4);
	poll_out(W1, 12);
	r = rec__page(PID, PID, START + 13, MS_PAGE_MREMAP, MAP + HUGE, 3 * PG,
		      0);
	r.old_addr = MAP;
	r.old_len = 4 * PG;
	apply_sink(cur, &r, sizeof(r));
	assert_int_equal(task_by_id(1)->pages.resident_bytes, 3 * PG);
	/* They are at the new place now, still task A's. */
	page(PID, 14, MS_PAGE_MUNMAP, MAP, HUGE);
	assert_int_equal(task_by_id(1)->pages.resident_bytes, 3 * PG);
	page(PID, 15, MS_PAGE_MUNMAP, MAP + HUGE, 3 * PG);
	assert_int_equal(task_by_id(1)->pages.resident_bytes, 0);
	assert_int_equal(model__pages(cur)->mremap_count, 1);
}

/* A munmap of a huge reservation walks the table, not the range; an
 * exec lets every page go. */
static void test_large_range(void **state)
{
	(void)state;
	new_model();
	poll_in(W1, 10, TA, 1);
	touch(W1, 11, MAP + (1ull << 30), 10);
	poll_out(W1, 12);
	touch(PID, 13, MAP + (3ull << 30), 5);
	page(PID, 20, MS_PAGE_MUNMAP, MAP, 2ull << 30);
	assert_int_equal(task_by_id(1)->pages.resident_bytes, 0);
	assert_int_equal(model__thread_pages(cur)->resident_bytes, 5 * PG);
	model__exec(cur, START + 30);
	assert_int_equal(model__thread_pages(cur)->resident_bytes, 0);
	assert_int_equal(model__pages(cur)->all.resident_bytes, 0);
}

static void test_bad(void **state)
{
	struct ms_page_rec r;

	(void)state;
	new_model();
	r = rec__page(PID, PID, START, MS_PAGE_KIND_MAX, MAP, PG, 0);
	assert_int_equal(model__apply(cur, &r, sizeof(r)), -EINVAL);
	r = rec__page(PID, PID, START, MS_PAGE_FAULT, MAP, 0, 0);
	assert_int_equal(model__apply(cur, &r, sizeof(r)), -EINVAL);
	assert_int_equal(model__pages(cur)->all.faults, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tasks, free_model),
		cmocka_unit_test_teardown(test_huge, free_model),
		cmocka_unit_test_teardown(test_calls, free_model),
		cmocka_unit_test_teardown(test_large_range, free_model),
		cmocka_unit_test_teardown(test_bad, free_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
