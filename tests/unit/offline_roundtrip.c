// SPDX-License-Identifier: MIT
/*
 * A snapshot written by memscoped's writer (user/view/snapshot.c) and read
 * back by memscope's reader (user/offline/snap.c): what the model said is
 * what memscope sees. The model is fed records as BPF sends them
 * (records.h).
 */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/model.h"
#include "offline/snap.h"
#include "records.h"
#include "view/snapshot.h"

#define START 1000000000000ull
#define MS 1000000ull
#define PID 100
#define W1 101
#define W2 102
#define K 0x55d100001000ull
#define H 0x55d100002000ull
#define X1 0x55d100020000ull
#define X2 0x55d100020100ull
#define V 0x5600000aa000ull
#define REFS(n) ((uint64_t)(n) << MS_TOKIO_REF_SHIFT)

static struct model *cur;
static struct snap *back;

static int teardown(void **state)
{
	model__free(cur);
	snap__free(back);
	cur = NULL;
	back = NULL;
	return 0;
}

static void apply_sink(void *ctx, const void *rec, size_t len)
{
	assert_int_equal(model__apply(ctx, rec, len), 0);
}

static void alloc(struct model *m, uint32_t tid, uint64_t t, uint64_t addr,
		  uint64_t size, uint64_t task)
{
	struct ms_alloc_rec r = rec__alloc(PID, tid, START + t, MS_FN_MALLOC,
					   addr, size, 0, task);

	apply_sink(m, &r, sizeof(r));
}

static const struct snapshot_meta meta = {
	.pid = PID,
	.command = "prog --serve",
	.exe = "/usr/bin/prog",
	.now_ns = START + 1000 * MS,
	.exit_status = -1,
};

/*
 * K (id 1) spawns H (id 7) in its poll; H allocates 100 bytes, then
 * frees its own cell in its poll (completed). K stays idle with wakers.
 */
static struct model *traced(void)
{
	struct model_opts o = { .start_ns = START,
				.never_finished_ns = 5000 * MS,
				.pid = PID };
	struct rec_tokio bpf = { .pid = PID, .sink = apply_sink };
	struct rec_poll_entry k = { .task = K,
				    .begin_ns = START + 2 * MS,
				    .begin_state = MS_TOKIO_RUNNING,
				    .vtable = V,
				    .task_id = 1,
				    .owner_id = 1 };
	struct rec_poll_entry h = k;

	cur = model__new(&o);
	assert_non_null(cur);
	bpf.ctx = cur;
	model__tokio_layout(cur, V, 200, false);
	alloc(cur, PID, 1 * MS, K, 512, 0);
	rec__tokio_enter(&bpf, W1, &k);
	alloc(cur, W1, 3 * MS, H, 256, K);
	rec__tokio_exit(&bpf, W1, START + 4 * MS,
			REFS(3) | MS_TOKIO_JOIN_INTEREST, MS_POLL_F_SEEN_POLL);
	h.task = H;
	h.task_id = 7;
	h.begin_ns = START + 10 * MS;
	rec__tokio_enter(&bpf, W2, &h);
	alloc(cur, W2, 11 * MS, X1, 100, H);
	alloc(cur, W2, 12 * MS, X2, 40, H);
	rec__tokio_free(&bpf, W2, START + 13 * MS, X2, 0);
	rec__tokio_free(&bpf, W2, START + 20 * MS, H,
			MS_TOKIO_COMPLETE | REFS(0));
	rec__tokio_exit(&bpf, W2, START + 21 * MS, 0, MS_POLL_F_SEEN_RETURN);
	return cur;
}

static void roundtrip(const struct model *m)
{
	char err[256] = "", *text = NULL;
	size_t len = 0;

	assert_int_equal(snapshot__text(m, &meta, &text, &len), 0);
	if (snap__load_mem(text, len, &back, err, sizeof(err)))
		fail_msg("memscope does not read memscoped's snapshot: %s",
			 err);
	free(text);
}

static void same_mem(const struct snap_mem *s, const struct ms_mem *m)
{
	assert_int_equal(s->alloc_count, m->alloc_count);
	assert_int_equal(s->alloc_bytes, m->alloc_bytes);
	assert_int_equal(s->free_count, m->free_count);
	assert_int_equal(s->free_bytes, m->free_bytes);
	assert_int_equal(s->live_count, m->live_count);
	assert_int_equal(s->live_bytes, m->live_bytes);
	assert_int_equal(s->peak_live_bytes, m->peak_live_bytes);
}

static void test_roundtrip_tasks(void **state)
{
	const struct model *m = traced();
	const struct ms_totals *t = model__totals(m);
	const struct snap_task *k, *h;
	struct ms_async a;

	roundtrip(m);
	assert_int_equal(back->pid, PID);
	assert_string_equal(back->runtime, "tokio");
	assert_false(back->incomplete);
	assert_int_equal(back->totals.records, t->records);
	assert_int_equal(back->totals.mem.alloc_count, t->alloc_count);
	assert_int_equal(back->totals.mem.live_bytes, t->live_bytes);
	assert_int_equal(back->totals.untracked_frees, t->untracked_frees);
	assert_int_equal(back->ntasks, model__task_count(m));
	for (size_t i = 0; i < model__task_count(m); i++) {
		const struct ms_task *mt = model__task(m, i);
		const struct snap_task *st = snap__find_task(back, mt->id);

		assert_non_null(st);
		assert_int_equal(st->state, (int)mt->state);
		assert_int_equal(st->polls, mt->polls);
		assert_int_equal(st->busy_ns, mt->busy_ns);
		same_mem(&st->mem, &mt->mem);
	}
	k = snap__find_task(back, 1);
	h = snap__find_task(back, 7);
	assert_non_null(k);
	assert_non_null(h);
	assert_int_equal(h->state, SNAP_COMPLETED);
	assert_int_equal(h->reason, SNAP_NF_NONE);
	assert_true(h->has_parent);
	assert_int_equal(h->parent, 1);
	assert_int_equal(h->cell_size, 256);
	assert_int_equal(h->future_size, 200);
	assert_int_equal(h->busy_ns, 10 * MS);
	assert_int_equal(k->state, SNAP_PENDING);
	model__async(m, &a);
	assert_int_equal(back->async.async_allocation_bytes,
			 a.async_allocation_bytes);
	assert_int_equal(back->async.tasks_completed, a.tasks_completed);
	assert_int_equal(back->async.tasks_alive, a.tasks_alive);
	same_mem(&back->runtime_overhead, model__runtime_mem(m));
	same_mem(&back->outside_tasks, model__thread_mem(m));
}

/* Losses the kernel side counted reach the document: incomplete. */
static void test_roundtrip_kernel_losses(void **state)
{
	struct model *m = traced();
	uint64_t st[MS_STAT_MAX] = { 0 };

	st[MS_STAT_STACK_LOST] = 5;
	st[MS_STAT_READ_FAILED] = 2;
	model__set_kernel_stats(m, st, MS_STAT_MAX);
	roundtrip(m);
	assert_true(back->incomplete);
	snap__free(back);
	back = NULL;
	st[MS_STAT_STACK_LOST] = 0;
	st[MS_STAT_LOST] = 3;
	model__set_kernel_stats(m, st, MS_STAT_MAX);
	roundtrip(m);
	assert_true(back->incomplete);
	assert_int_equal(back->totals.lost_events, 3);
}

/* The reader takes the writer's schema name and no other version. */
static void test_roundtrip_schema(void **state)
{
	char err[256] = "", *text = NULL, *p;
	size_t len = 0;

	assert_int_equal(snapshot__text(traced(), &meta, &text, &len), 0);
	p = strstr(text, "\"" MS_SNAPSHOT_SCHEMA "\"");
	assert_non_null(p);
	/* memscope.snapshot/1 -> /9: a version this memscope does not read */
	p[strlen(MS_SNAPSHOT_SCHEMA)] = '9';
	assert_int_equal(snap__load_mem(text, len, &back, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unsupported snapshot version"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_roundtrip_tasks, teardown),
		cmocka_unit_test_teardown(test_roundtrip_kernel_losses,
					  teardown),
		cmocka_unit_test_teardown(test_roundtrip_schema, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
