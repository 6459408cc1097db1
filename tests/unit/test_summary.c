// SPDX-License-Identifier: MIT
/* The end-of-run summary: byte formatting and what the text must say,
 * above all that lost events make the figures incomplete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"
#include "records.h"
#include "text.h"
#include "view/summary.h"

#define START 1000000000000ull
#define MS 1000000ull
#define PID 100
#define W1 101

static void test_fmt_bytes(void **state)
{
	char b[32];

	assert_string_equal(text__bytes(b, sizeof(b), 0), "0 B");
	assert_string_equal(text__bytes(b, sizeof(b), 1), "1 B");
	assert_string_equal(text__bytes(b, sizeof(b), 1023), "1023 B");
	assert_string_equal(text__bytes(b, sizeof(b), 1024), "1.0 KiB");
	assert_string_equal(text__bytes(b, sizeof(b), 1536), "1.5 KiB");
	assert_string_equal(text__bytes(b, sizeof(b), 1024 * 1024), "1.0 MiB");
	assert_string_equal(text__bytes(b, sizeof(b), 3 * 512 * 1024),
			    "1.5 MiB");
	assert_string_equal(text__bytes(b, sizeof(b), 1ull << 30), "1.0 GiB");
	assert_string_equal(text__bytes(b, sizeof(b), 5ull << 40), "5.0 TiB");
	/* Returns its buffer, so it can be used inside printf arguments. */
	assert_ptr_equal(text__bytes(b, sizeof(b), 7), b);
}

static void test_fmt_bytes_limits(void **state)
{
	char b[32], small[4];
	size_t n;

	/* TiB is the last unit: huge values stay in it, within the buffer. */
	text__bytes(b, sizeof(b), UINT64_MAX);
	n = strlen(b);
	assert_true(n < sizeof(b));
	assert_string_equal(b + n - 4, " TiB");
	/* A short buffer truncates, always terminated. */
	text__bytes(small, sizeof(small), 123456);
	assert_true(strlen(small) < sizeof(small));
}

/* Just under a unit boundary, rounding to one decimal must not give
 * "1024.0 KiB": that is "1.0 MiB". */
static void test_fmt_bytes_rounding_carry(void **state)
{
	char b[32];

	assert_string_equal(text__bytes(b, sizeof(b), 1024 * 1024 - 1),
			    "1.0 MiB");
	assert_string_equal(text__bytes(b, sizeof(b), 1024 * 1024 - 20),
			    "1.0 MiB");
	assert_string_equal(text__bytes(b, sizeof(b), (1ull << 30) - 1),
			    "1.0 GiB");
}

static void hdr(struct ms_hdr *h, uint16_t type, uint16_t aux, uint32_t tid,
		uint64_t t)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->aux = aux;
	h->pid = PID;
	h->tid = tid;
	h->ts_ns = START + t;
}

static void alloc(struct model *m, uint32_t tid, uint64_t t, uint64_t addr,
		  uint64_t size, uint64_t task)
{
	struct ms_alloc_rec r = { .addr = addr, .size = size, .task = task };

	hdr(&r.h, MS_REC_ALLOC, MS_FN_MALLOC, tid, t);
	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
}

static void free_rec(struct model *m, uint32_t tid, uint64_t t, uint64_t addr)
{
	struct ms_free_rec r = { .addr = addr };

	hdr(&r.h, MS_REC_FREE, MS_FN_FREE, tid, t);
	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
}

#define V 0x5600000aa000ull /* a task vtable */
#define V2 0x5600000bb000ull

/* A whole tokio poll on W1, its record sent at its end as BPF does
 * (allocations made in it were applied before). */
static void tpoll(struct model *m, uint64_t begin, uint64_t end, uint64_t task,
		  uint64_t st, uint64_t id)
{
	struct rec_poll_entry e = {
		.task = task,
		.begin_ns = START + begin,
		.begin_state = MS_TOKIO_RUNNING,
		.vtable = task == 0x10000 ? V : V2,
		.task_id = id,
		.owner_id = 1,
	};
	struct ms_tokio_poll_rec r = rec__tokio_poll(PID, W1, START + end, &e,
						     st, MS_POLL_F_SEEN_RETURN);

	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
}

static struct model *new_model(void)
{
	struct model_opts o = { .start_ns = START,
				.never_finished_ns = 5000 * MS,
				.pid = PID };
	struct model *m = model__new(&o);

	assert_non_null(m);
	return m;
}

/* summary__print into memory; the caller frees the text. */
static char *print(const struct model *m, uint64_t now)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	summary__print(f, m, now);
	fclose(f);
	assert_non_null(text);
	return text;
}

static void assert_contains(const char *text, const char *what)
{
	if (!strstr(text, what))
		fail_msg("summary lacks \"%s\":\n%s", what, text);
}

static void test_print_totals(void **state)
{
	struct model *m = new_model();
	char *text;

	alloc(m, PID, 1 * MS, 0x1000, 1000, 0);
	alloc(m, PID, 2 * MS, 0x2000, 2000, 0);
	alloc(m, PID, 3 * MS, 0x3000, 48, 0);
	free_rec(m, PID, 4 * MS, 0x2000);
	text = print(m, START + 2500 * MS);
	assert_contains(text, "2.50 s traced");
	assert_contains(text, "allocations");
	assert_contains(text, " 3  3.0 KiB"); /* 3048 bytes */
	assert_contains(text, "frees");
	assert_contains(text, " 1  2.0 KiB");
	assert_contains(text, "live");
	assert_contains(text, " 2  1.0 KiB (peak 3.0 KiB)");
	assert_contains(text, "lost events");
	/* Nothing lost: no warning. */
	assert_null(strstr(text, "INCOMPLETE"));
	/* No runtime seen: no task section. */
	assert_null(strstr(text, "tasks:"));
	free(text);
	model__free(m);
}

static void test_print_incomplete(void **state)
{
	struct model *m = new_model();
	uint64_t st[MS_STAT_MAX] = { 0 };
	char *text;

	alloc(m, PID, 1 * MS, 0x1000, 10, 0);
	st[MS_STAT_LOST] = 5;
	model__set_kernel_stats(m, st, MS_STAT_MAX);
	text = print(m, START + 1000 * MS);
	assert_contains(text, "INCOMPLETE");
	assert_contains(text, "lost events            5");
	free(text);
	model__free(m);
}

/* Each figure of the async line in its own place (all differ here). */
static void test_print_tasks(void **state)
{
	struct model *m = new_model();
	char *text;

	/* Two tasks: futures of 1000 and 3000 bytes in Cells of 1 KiB and
	 * 3 KiB, 100 bytes allocated inside; W1 polls, so its 5 KiB outside
	 * tasks are runtime overhead. */
	model__tokio_layout(m, V, 1000, false);
	model__tokio_layout(m, V2, 3000, false);
	alloc(m, PID, 1 * MS, 0x10000, 1024, 0);
	alloc(m, PID, 1 * MS, 0x20000, 3072, 0);
	alloc(m, W1, 3 * MS, 0x30000, 100, 0x10000);
	tpoll(m, 2 * MS, 4 * MS, 0x10000,
	      MS_TOKIO_COMPLETE | (1ull << MS_TOKIO_REF_SHIFT), 7);
	tpoll(m, 5 * MS, 6 * MS, 0x20000, 1ull << MS_TOKIO_REF_SHIFT,
	      8); /* no waker */
	alloc(m, W1, 7 * MS, 0x40000, 5120, 0);
	text = print(m, START + 1000 * MS);
	assert_contains(text, "tasks: 1 alive, 1 completed, 0 cancelled, "
			      "1 never finished");
	assert_contains(text, "1 allocations in tasks (100 B)");
	assert_contains(text, "future state 3.9 KiB (average 2.0 KiB, "
			      "largest 2.9 KiB), task cells 4.0 KiB, "
			      "runtime overhead 5.0 KiB");
	assert_contains(text, "never finished: task 8 (pending): no-waker, "
			      "1 polls, future 2.9 KiB");
	free(text);
	model__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_bytes),
		cmocka_unit_test(test_fmt_bytes_limits),
		cmocka_unit_test(test_fmt_bytes_rounding_carry),
		cmocka_unit_test(test_print_totals),
		cmocka_unit_test(test_print_incomplete),
		cmocka_unit_test(test_print_tasks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
