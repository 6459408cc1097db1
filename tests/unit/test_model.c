// SPDX-License-Identifier: MIT
/*
 * The model fed with hand-built records, as the BPF side would send them.
 * The expectations follow the accounting rules, not the implementation:
 *  - every successful allocation call is one alloc of the size asked;
 *  - realloc frees old_addr (counted only if tracked) and allocates addr;
 *  - a free of an untracked block only counts in untracked_frees;
 *  - an address allocated twice is a missed free: stale, incomplete;
 *  - tokio tasks are found from their Cell allocation and poll records,
 *    USDT tasks from their markers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"
#include "records.h"

#define START 1000000000000ull /* CLOCK_MONOTONIC at trace start */
#define NF_NS 5000000000ull /* never-finished threshold: 5 s */
#define MS 1000000ull
#define PID 100
#define MAIN 100 /* the main thread: tid == pid */
#define W1 101
#define W2 102
#define W3 103

/* Addresses: heap blocks and tokio Headers (Cells). */
#define A1 0x55d100010000ull
#define A2 0x55d100010100ull
#define A3 0x55d100010200ull
#define X1 0x55d100020000ull
#define X2 0x55d100020100ull
#define X3 0x55d100020200ull
#define K 0x55d100001000ull
#define H 0x55d100002000ull
#define H2 0x55d100003000ull
#define H3 0x55d100004000ull
#define H4 0x55d100005000ull
#define H5 0x55d100006000ull
#define R 0x55d100007000ull
#define V 0x5600000aa000ull /* a vtable */
#define VBAD 0x5600000bb000ull

#define REFS(n) ((uint64_t)(n) << MS_TOKIO_REF_SHIFT)
#define IDLE3 (REFS(3) | MS_TOKIO_JOIN_INTEREST) /* wakers alive */

/* The test's model, freed by the teardown even when an assertion fails
 * half-way (so a failing test does not also show up as a leak). */
static struct model *cur;

/* The BPF side's tokio poll stacks, reset with each new model. */
static struct rec_tokio emu;

static struct model *new_model(void)
{
	struct model_opts o = {
		.start_ns = START,
		.never_finished_ns = NF_NS,
		.pid = PID,
	};

	memset(&emu, 0, sizeof(emu));
	cur = model__new(&o);
	assert_non_null(cur);
	return cur;
}

/* A second model and a record list, for tests that compare two runs. */
static struct model *cur2;
static struct rec_list *recs;
static void free_recs(struct rec_list *l);

static int free_model(void **state)
{
	model__free(cur);
	model__free(cur2);
	free_recs(recs);
	cur = cur2 = NULL;
	recs = NULL;
	return 0;
}

static void hdr(struct ms_hdr *h, uint16_t type, uint16_t aux, uint32_t tid,
		uint64_t t)
{
	*h = rec__hdr(type, aux, PID, tid, START + t);
}

static void apply_sink(void *ctx, const void *rec, size_t len)
{
	assert_int_equal(model__apply(ctx, rec, len), 0);
}

static struct rec_tokio *bpf(struct model *m)
{
	emu.pid = PID;
	emu.sink = apply_sink;
	emu.ctx = m;
	return &emu;
}

static void alloc_fn(struct model *m, uint32_t tid, uint64_t t, uint16_t fn,
		     uint64_t addr, uint64_t size, uint64_t old, uint64_t task)
{
	struct ms_alloc_rec r =
		rec__alloc(PID, tid, START + t, fn, addr, size, old, task);

	apply_sink(m, &r, sizeof(r));
}

static void alloc(struct model *m, uint32_t tid, uint64_t t, uint64_t addr,
		  uint64_t size, uint64_t task)
{
	alloc_fn(m, tid, t, MS_FN_MALLOC, addr, size, 0, task);
}

static void realloc_rec(struct model *m, uint32_t tid, uint64_t t, uint64_t old,
			uint64_t addr, uint64_t size, uint64_t task)
{
	alloc_fn(m, tid, t, MS_FN_REALLOC, addr, size, old, task);
}

/* free(addr) on tid, in task's poll: the polled task freeing its own cell
 * sends its poll record first (MS_POLL_F_FREED), as BPF does. */
static void free_rec(struct model *m, uint32_t tid, uint64_t t, uint64_t addr,
		     uint64_t task, uint64_t task_state)
{
	struct ms_free_rec r;

	if (task && task == rec__tokio_current(bpf(m), tid)) {
		rec__tokio_free(bpf(m), tid, START + t, addr, task_state);
		return;
	}
	r = rec__free(PID, tid, START + t, addr, task, task_state);
	apply_sink(m, &r, sizeof(r));
}

/* tokio raw::poll entry with an explicit state word: no record unless
 * the task is the runtime's (owner 0); the record comes at its end. */
static void tbegin_st(struct model *m, uint32_t tid, uint64_t t, uint64_t task,
		      uint64_t id, uint64_t owner, uint64_t st)
{
	struct rec_poll_entry e = {
		.task = task,
		.begin_ns = START + t,
		.begin_state = st,
		.vtable = V,
		.task_id = id,
		.owner_id = owner,
	};

	rec__tokio_enter(bpf(m), tid, &e);
}

/* tokio raw::poll entry: Header.state (RUNNING now), vtable, Id, owner. */
static void tbegin(struct model *m, uint32_t tid, uint64_t t, uint64_t task,
		   uint64_t id, uint64_t owner)
{
	tbegin_st(m, tid, t, task, id, owner, IDLE3 | MS_TOKIO_RUNNING);
}

/* An entry whose vtable (owner 1) or read failed (then nothing read). */
static void tbegin_vt(struct model *m, uint32_t tid, uint64_t t, uint64_t task,
		      uint64_t id, uint64_t st, uint64_t vtable, uint32_t flags)
{
	struct rec_poll_entry e = {
		.task = task,
		.begin_ns = START + t,
		.begin_state = st,
		.vtable = vtable,
		.task_id = id,
		.owner_id = flags & MS_POLL_F_READ_FAILED ? 0 : 1,
		.flags = flags,
	};

	rec__tokio_enter(bpf(m), tid, &e);
}

/* tokio raw::poll return, seen at its return site: the state word
 * decides. The poll's one record goes out now. */
static void tend(struct model *m, uint32_t tid, uint64_t t, uint64_t task,
		 uint64_t st)
{
	assert_int_equal(rec__tokio_current(bpf(m), tid), task);
	rec__tokio_exit(bpf(m), tid, START + t, st, MS_POLL_F_SEEN_RETURN);
}

/* memscoped reads the polls in progress from BPF task storage once a
 * second (model__poll_running): the innermost one on tid. */
static void running(struct model *m, uint32_t tid)
{
	struct rec_tokio_thread *th = rec__tokio_thread(bpf(m), tid);
	const struct rec_poll_entry *p;
	struct ms_poll_entry e;

	assert_true(th && th->depth);
	p = &th->polls[th->depth - 1];
	memset(&e, 0, sizeof(e));
	e.task = p->task;
	e.begin_ns = p->begin_ns;
	e.state = p->begin_state;
	e.vtable = p->vtable;
	e.task_id = p->task_id;
	e.owner_id = p->owner_id;
	e.flags = p->flags;
	e.tokio = 1;
	e.future_word = p->future_word;
	model__poll_running(m, tid, &e);
}

static void ubegin(struct model *m, uint32_t tid, uint64_t t, uint64_t id)
{
	struct ms_poll_rec r =
		rec__usdt_poll(MS_REC_POLL_BEGIN, PID, tid, START + t, id, 0);

	apply_sink(m, &r, sizeof(r));
}

/* USDT poll end: state carries the waker count (s64, -1 unknown). */
static void uend(struct model *m, uint32_t tid, uint64_t t, uint64_t id,
		 int64_t wakers)
{
	struct ms_poll_rec r = rec__usdt_poll(MS_REC_POLL_END, PID, tid,
					      START + t, id, wakers);

	apply_sink(m, &r, sizeof(r));
}

static void task_rec(struct model *m, uint16_t type, uint16_t rt, uint32_t tid,
		     uint64_t t, uint64_t task, uint64_t parent, uint64_t size)
{
	struct ms_task_rec r =
		rec__task(type, rt, PID, tid, START + t, task, parent, size, 0);

	apply_sink(m, &r, sizeof(r));
}

static void thread_rec(struct model *m, uint32_t tid, uint64_t t,
		       const char *comm)
{
	struct ms_thread_rec r = rec__thread(PID, tid, START + t, comm);

	apply_sink(m, &r, sizeof(r));
}

static const struct ms_task *task_by_id(const struct model *m, uint64_t id)
{
	const struct ms_task *found = NULL;

	for (size_t i = 0; i < model__task_count(m); i++) {
		const struct ms_task *t = model__task(m, i);

		if (t->id == id) {
			/* Ids are unique among the tasks we build here. */
			assert_null(found);
			found = t;
		}
	}
	if (!found)
		fail_msg("no task with id %llu", (unsigned long long)id);
	return found;
}

static size_t task_index(const struct model *m, const struct ms_task *t)
{
	for (size_t i = 0; i < model__task_count(m); i++)
		if (model__task(m, i) == t)
			return i;
	fail_msg("task not in the model");
	return 0;
}

/* ---- plain allocation accounting ----------------------------------- */

static void test_alloc_free_totals(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);
	const struct ms_mem *th = model__thread_mem(m);

	alloc(m, MAIN, 1 * MS, A1, 64, 0);
	alloc_fn(m, MAIN, 2 * MS, MS_FN_CALLOC, A2, 100, 0, 0);
	alloc_fn(m, MAIN, 3 * MS, MS_FN_POSIX_MEMALIGN, A3, 1000, 0, 0);
	assert_int_equal(t->alloc_count, 3);
	assert_int_equal(t->alloc_bytes, 1164);
	assert_int_equal(t->live_count, 3);
	assert_int_equal(t->live_bytes, 1164);
	assert_int_equal(t->peak_live_bytes, 1164);
	assert_int_equal(t->free_count, 0);
	free_rec(m, MAIN, 4 * MS, A2, 0, 0);
	assert_int_equal(t->free_count, 1);
	assert_int_equal(t->free_bytes, 100);
	assert_int_equal(t->live_count, 2);
	assert_int_equal(t->live_bytes, 1064);
	assert_int_equal(t->peak_live_bytes, 1164);
	assert_int_equal(t->records, 4);
	assert_int_equal(t->untracked_frees, 0);
	assert_int_equal(t->stale_allocs, 0);
	/* Outside any task on the main thread: plain thread memory. */
	assert_int_equal(th->alloc_count, 3);
	assert_int_equal(th->alloc_bytes, 1164);
	assert_int_equal(th->free_count, 1);
	assert_int_equal(th->free_bytes, 100);
	assert_int_equal(th->live_count, 2);
	assert_int_equal(th->live_bytes, 1064);
	assert_int_equal(th->peak_live_bytes, 1164);
	assert_int_equal(model__runtime_mem(m)->alloc_count, 0);
	assert_false(model__incomplete(m));
	assert_int_equal(model__runtime(m), MS_RT_NONE);
	assert_int_equal(model__task_count(m), 0);
	assert_int_equal(model__start_ns(m), START);
	assert_int_equal(model__last_ns(m), START + 4 * MS);
	assert_true(model__mem_bytes(m) > 0);
}

static void test_realloc_moves(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);

	alloc(m, MAIN, 1 * MS, A1, 100, 0);
	realloc_rec(m, MAIN, 2 * MS, A1, A2, 200, 0);
	/* One free of the old block, one alloc of the size asked. */
	assert_int_equal(t->alloc_count, 2);
	assert_int_equal(t->alloc_bytes, 300);
	assert_int_equal(t->free_count, 1);
	assert_int_equal(t->free_bytes, 100);
	assert_int_equal(t->live_count, 1);
	assert_int_equal(t->live_bytes, 200);
	assert_int_equal(t->peak_live_bytes, 200);
	assert_int_equal(t->untracked_frees, 0);
	/* The new block is the live one: freeing it empties the model. */
	free_rec(m, MAIN, 3 * MS, A2, 0, 0);
	free_rec(m, MAIN, 4 * MS, A1, 0, 0); /* already gone */
	assert_int_equal(t->live_count, 0);
	assert_int_equal(t->live_bytes, 0);
	assert_int_equal(t->free_count, 2);
	assert_int_equal(t->untracked_frees, 1);
}

/* xallocx and mi_expand: a resize in place counts like a realloc only when
 * the size changes; to the same size it counts nothing. */
static void test_resize_in_place(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);

	alloc_fn(m, MAIN, 1 * MS, MS_FN_MALLOCX, A1, 100, 0, 0);
	alloc_fn(m, MAIN, 2 * MS, MS_FN_XALLOCX, A1, 100, A1, 0);
	assert_int_equal(t->alloc_count, 1);
	assert_int_equal(t->free_count, 0);
	alloc_fn(m, MAIN, 3 * MS, MS_FN_XALLOCX, A1, 300, A1, 0);
	assert_int_equal(t->alloc_count, 2);
	assert_int_equal(t->alloc_bytes, 400);
	assert_int_equal(t->free_count, 1);
	assert_int_equal(t->free_bytes, 100);
	assert_int_equal(t->live_bytes, 300);
	alloc_fn(m, MAIN, 4 * MS, MS_FN_EXPAND, A1, 300, A1, 0);
	assert_int_equal(t->alloc_count, 2);
	alloc_fn(m, MAIN, 5 * MS, MS_FN_EXPAND, A1, 50, A1, 0);
	assert_int_equal(t->alloc_count, 3);
	assert_int_equal(t->free_bytes, 400);
	assert_int_equal(t->live_count, 1);
	assert_int_equal(t->live_bytes, 50);
	assert_int_equal(t->untracked_frees, 0);
	assert_int_equal(t->stale_allocs, 0);
}

static void test_realloc_in_place(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);

	alloc(m, MAIN, 1 * MS, A1, 100, 0);
	realloc_rec(m, MAIN, 2 * MS, A1, A1, 50, 0);
	assert_int_equal(t->alloc_count, 2);
	assert_int_equal(t->alloc_bytes, 150);
	assert_int_equal(t->free_count, 1);
	assert_int_equal(t->free_bytes, 100);
	assert_int_equal(t->live_count, 1);
	assert_int_equal(t->live_bytes, 50);
	assert_int_equal(t->peak_live_bytes, 100);
	assert_int_equal(t->stale_allocs, 0);
	assert_false(model__incomplete(m));
}

/* realloc of a block from before attach: the free is not ours to count. */
static void test_realloc_untracked_old(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);

	realloc_rec(m, MAIN, 1 * MS, A1, A2, 64, 0);
	assert_int_equal(t->untracked_frees, 1);
	assert_int_equal(t->free_count, 0);
	assert_int_equal(t->free_bytes, 0);
	assert_int_equal(t->alloc_count, 1);
	assert_int_equal(t->alloc_bytes, 64);
	assert_int_equal(t->live_count, 1);
	assert_int_equal(t->live_bytes, 64);
	assert_false(model__incomplete(m));
}

/* realloc(p, 0): addr 0, old p, size 0. p is freed, nothing is live. */
static void test_realloc_zero(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);

	alloc(m, MAIN, 1 * MS, A1, 100, 0);
	realloc_rec(m, MAIN, 2 * MS, A1, 0, 0, 0);
	assert_int_equal(t->free_count, 1);
	assert_int_equal(t->free_bytes, 100);
	assert_int_equal(t->live_count, 0);
	assert_int_equal(t->live_bytes, 0);
	/* No block came out of it: alloc - free == live still holds. */
	assert_int_equal(t->alloc_count, 1);
	assert_int_equal(t->alloc_bytes, 100);
	assert_int_equal(t->untracked_frees, 0);
	assert_int_equal(model__thread_mem(m)->live_count, 0);
	/* Of an untracked block: informational only. */
	realloc_rec(m, MAIN, 3 * MS, A2, 0, 0, 0);
	assert_int_equal(t->untracked_frees, 1);
	assert_int_equal(t->free_count, 1);
	assert_int_equal(t->live_count, 0);
	assert_false(model__incomplete(m));
}

static void test_free_untracked(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);

	free_rec(m, MAIN, 1 * MS, A1, 0, 0);
	free_rec(m, W1, 2 * MS, A2, 0, 0);
	assert_int_equal(t->untracked_frees, 2);
	assert_int_equal(t->free_count, 0);
	assert_int_equal(t->free_bytes, 0);
	assert_int_equal(t->live_count, 0);
	assert_int_equal(t->live_bytes, 0);
	assert_int_equal(model__thread_mem(m)->free_count, 0);
	assert_int_equal(model__thread_mem(m)->live_count, 0);
	/* Blocks from before attach are expected, not a loss. */
	assert_false(model__incomplete(m));
}

static void test_duplicate_alloc_is_stale(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);
	const struct ms_mem *th = model__thread_mem(m);

	alloc(m, MAIN, 1 * MS, A1, 100, 0);
	alloc(m, MAIN, 2 * MS, A1, 300, 0); /* a free was missed */
	assert_int_equal(t->stale_allocs, 1);
	assert_true(model__incomplete(m));
	assert_int_equal(t->alloc_count, 2);
	assert_int_equal(t->alloc_bytes, 400);
	/* Only the newer block is live. */
	assert_int_equal(t->live_count, 1);
	assert_int_equal(t->live_bytes, 300);
	assert_int_equal(th->live_count, 1);
	assert_int_equal(th->live_bytes, 300);
	free_rec(m, MAIN, 3 * MS, A1, 0, 0);
	assert_int_equal(t->free_count, 1);
	assert_int_equal(t->free_bytes, 300);
	assert_int_equal(t->live_count, 0);
	assert_int_equal(t->live_bytes, 0);
	assert_int_equal(th->live_count, 0);
	assert_int_equal(th->live_bytes, 0);
}

static void test_size_classes(void **state)
{
	/* Class c holds sizes in [2^(c-1), 2^c); class 0 holds size 0. */
	static const uint64_t sizes[] = { 0, 1,	   2,	 3,    4,	  7,
					  8, 1023, 1024, 1025, 1ull << 40 };
	static const unsigned cls[] = { 0, 1, 2, 2, 3, 3, 4, 10, 11, 11, 41 };
	uint64_t cnt[MS_SIZE_CLASSES], bytes[MS_SIZE_CLASSES];
	uint64_t ecnt[MS_SIZE_CLASSES] = { 0 }, ebytes[MS_SIZE_CLASSES] = { 0 };
	struct model *m = new_model();

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		alloc(m, MAIN, 1 * MS, A1 + i * 16, sizes[i], 0);
		ecnt[cls[i]]++;
		ebytes[cls[i]] += sizes[i];
	}
	model__size_classes(m, cnt, bytes);
	for (int c = 0; c < MS_SIZE_CLASSES; c++) {
		if (cnt[c] != ecnt[c] || bytes[c] != ebytes[c])
			fail_msg("class %d: %llu/%llu, want %llu/%llu", c,
				 (unsigned long long)cnt[c],
				 (unsigned long long)bytes[c],
				 (unsigned long long)ecnt[c],
				 (unsigned long long)ebytes[c]);
	}
	/* Classes describe live blocks: a free takes its block out. */
	free_rec(m, MAIN, 2 * MS, A1 + 3 * 16, 0, 0); /* the 3-byte one */
	model__size_classes(m, cnt, bytes);
	assert_int_equal(cnt[2], 1);
	assert_int_equal(bytes[2], 2);
	/* Sizes of 2^63 and more land in the last class, not past it. */
	alloc(m, MAIN, 3 * MS, A3, 1ull << 63, 0);
	model__size_classes(m, cnt, bytes);
	assert_int_equal(cnt[MS_SIZE_CLASSES - 1], 1);
}

/* One entry per record type, written from events.h's struct of each
 * type (not from the decoder's table): a record is valid from the end of
 * its last field, which is also its struct's size (no tail padding). */
#define REC(ty, st, last)           \
	[ty] = { sizeof(struct st), \
		 offsetof(struct st, last) + sizeof(((struct st *)0)->last) }
static const struct {
	size_t size, end;
} rec_sizes[MS_REC_TYPE_MAX] = {
	REC(MS_REC_ALLOC, ms_alloc_rec, task),
	REC(MS_REC_FREE, ms_free_rec, task_state),
	REC(MS_REC_POLL_BEGIN, ms_poll_rec, flags),
	REC(MS_REC_POLL_END, ms_poll_rec, flags),
	REC(MS_REC_TASK_SPAWN, ms_task_rec, state),
	REC(MS_REC_TASK_COMPLETE, ms_task_rec, state),
	REC(MS_REC_TASK_CANCEL, ms_task_rec, state),
	REC(MS_REC_TASK_FREE, ms_task_rec, state),
	REC(MS_REC_TASK_SHUTDOWN, ms_task_rec, state),
	REC(MS_REC_THREAD, ms_thread_rec, comm),
	REC(MS_REC_STACK, ms_stack_rec, stack),
	REC(MS_REC_EXEC, ms_exec_rec, path),
	REC(MS_REC_TOKIO_POLL, ms_tokio_poll_rec, future_word),
	REC(MS_REC_RET_SITE, ms_ret_site_rec, ret),
	REC(MS_REC_EXIT, ms_exit_rec, pad),
	REC(MS_REC_FORK, ms_fork_rec, pad),
	REC(MS_REC_TOKIO_CANCELLED, ms_task_rec, state),
	REC(MS_REC_PAGE, ms_page_rec, pad),
};
#undef REC

static void test_decode(void **state)
{
	/* Big enough for any record, aligned for all of them. */
	static union {
		struct ms_hdr h;
		struct ms_stack_rec s;
		uint8_t raw[sizeof(struct ms_stack_rec) + 64];
	} buf;

	for (unsigned ty = MS_REC_ALLOC; ty < MS_REC_TYPE_MAX; ty++) {
		size_t sz = rec_sizes[ty].size;

		/* A type added to events.h must be added above. */
		if (!sz)
			fail_msg("type %u: no size in this test", ty);
		assert_int_equal(rec_sizes[ty].end, sz);
		memset(&buf, 0, sizeof(buf));
		buf.h.type = ty;
		assert_int_equal(model__decode(&buf, sz), ty);
		/* Longer is fine (ring buffer rounding), shorter is not. */
		assert_int_equal(model__decode(&buf, sz + 8), ty);
		if (model__decode(&buf, sz - 1) != -EINVAL)
			fail_msg("type %u: %zu bytes decode", ty, sz - 1);
	}
	/* Every record type carries a payload after its header, including
	 * types added later: a bare header must never pass as a record. */
	for (unsigned ty = MS_REC_ALLOC; ty < MS_REC_TYPE_MAX; ty++) {
		memset(&buf, 0, sizeof(buf));
		buf.h.type = ty;
		if (model__decode(&buf, sizeof(struct ms_hdr)) != -EINVAL)
			fail_msg("type %u: a bare header decodes", ty);
	}
	memset(&buf, 0, sizeof(buf));
	assert_int_equal(model__decode(&buf, sizeof(buf)), -EINVAL); /* 0 */
	buf.h.type = MS_REC_TYPE_MAX;
	assert_int_equal(model__decode(&buf, sizeof(buf)), -EINVAL);
	buf.h.type = 0xffff;
	assert_int_equal(model__decode(&buf, sizeof(buf)), -EINVAL);
	buf.h.type = MS_REC_ALLOC;
	assert_int_equal(model__decode(&buf, sizeof(struct ms_hdr) - 1),
			 -EINVAL);
	assert_int_equal(model__decode(&buf, 0), -EINVAL);
}

static void test_apply_bad_records(void **state)
{
	struct model *m = new_model();
	const struct ms_totals *t = model__totals(m);
	struct ms_alloc_rec r;
	struct ms_hdr h;

	memset(&r, 0, sizeof(r));
	hdr(&r.h, MS_REC_ALLOC, MS_FN_MALLOC, MAIN, 1 * MS);
	r.addr = A1;
	r.size = 10;
	/* Truncated: must not be applied. */
	assert_int_equal(model__apply(m, &r, sizeof(r) - 8), -EINVAL);
	assert_int_equal(t->bad_records, 1);
	assert_int_equal(t->alloc_count, 0);
	assert_int_equal(t->live_count, 0);
	/* Unknown type. */
	r.h.type = 77;
	assert_int_equal(model__apply(m, &r, sizeof(r)), -EINVAL);
	r.h.type = 0;
	assert_int_equal(model__apply(m, &r, sizeof(r)), -EINVAL);
	/* Shorter than a header. */
	memset(&h, 0, sizeof(h));
	h.type = MS_REC_FREE;
	assert_int_equal(model__apply(m, &h, 2), -EINVAL);
	assert_int_equal(t->bad_records, 4);
	assert_int_equal(t->records, 0);
	assert_int_equal(t->alloc_count, 0);
	assert_true(model__incomplete(m));
	/* Good records still go through afterwards. */
	alloc(m, MAIN, 2 * MS, A1, 10, 0);
	assert_int_equal(t->records, 1);
	assert_int_equal(t->alloc_count, 1);
}

/* ---- tokio ---------------------------------------------------------- */

/*
 * Task K (id 1) found first: its Cell at K came from the main thread.
 * While K is polled on W1 it spawns H (Cell of 256 bytes at H), then
 * goes idle with wakers alive. H is first polled at 10 ms as id 7.
 */
static struct model *tokio_k_spawns_h(void)
{
	struct model *m = new_model();

	alloc(m, MAIN, 1 * MS, K, 512, 0);
	tbegin(m, W1, 2 * MS, K, 1, 1);
	alloc(m, W1, 3 * MS, H, 256, K);
	tend(m, W1, 4 * MS, K, IDLE3);
	tbegin(m, W1, 10 * MS, H, 7, 1);
	return m;
}

static void test_tokio_discovery(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *k, *h;

	/* H's first poll is in progress: no record yet, memscoped reads it
	 * from BPF task storage. */
	running(m, W1);
	k = task_by_id(m, 1);
	h = task_by_id(m, 7);

	assert_int_equal(model__runtime(m), MS_RT_TOKIO);
	assert_int_equal(model__task_count(m), 2);
	assert_int_equal(k->key, K);
	assert_int_equal(k->parent, MS_TASK_NO_PARENT);
	assert_int_equal(k->state, TASK_PENDING);
	assert_int_equal(k->nf_reason, NF_NONE);
	assert_int_equal(k->cell_size, 512);
	assert_int_equal(k->future_size, 0); /* no layout for V given */
	assert_int_equal(k->busy_ns, 2 * MS);
	assert_int_equal(h->key, H);
	assert_int_equal(h->runtime, MS_RT_TOKIO);
	assert_int_equal(h->kind, TASK_USER);
	assert_int_equal(h->owner_id, 1);
	assert_int_equal(h->vtable, V);
	/* The Cell tells size, spawn time and the spawning task. */
	assert_int_equal(h->cell_size, 256);
	assert_true(h->spawn_known);
	assert_int_equal(h->spawned_ns, 3 * MS);
	assert_int_not_equal(h->parent, MS_TASK_NO_PARENT);
	assert_int_equal(h->parent, task_index(m, k));
	assert_int_equal(model__task(m, h->parent)->id, 1);
	assert_int_equal(h->state, TASK_RUNNING);
	assert_true(h->in_poll);
	assert_int_equal(h->polls, 0); /* counted when its record comes */
	assert_int_equal(h->last_poll_ns, 10 * MS);
	/* The Cell itself was allocated by K: it is K's memory. */
	assert_int_equal(k->mem.alloc_count, 1);
	assert_int_equal(k->mem.alloc_bytes, 256);
	assert_int_equal(k->mem.live_count, 1);
}

static void test_tokio_attribution(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *h;

	alloc(m, W1, 11 * MS, X1, 100, H);
	alloc(m, W1, 12 * MS, X2, 200, H);
	free_rec(m, W1, 13 * MS, X1, H, 0);
	/* realloc inside H of a block H owns: free 200, alloc 250. */
	realloc_rec(m, W1, 14 * MS, X2, X3, 250, H);
	tend(m, W1, 15 * MS, H, IDLE3);
	h = task_by_id(m, 7);
	assert_int_equal(h->mem.alloc_count, 3);
	assert_int_equal(h->mem.alloc_bytes, 550);
	assert_int_equal(h->mem.free_count, 2);
	assert_int_equal(h->mem.free_bytes, 300);
	assert_int_equal(h->mem.live_count, 1);
	assert_int_equal(h->mem.live_bytes, 250);
	assert_int_equal(h->mem.peak_live_bytes, 300);
	assert_int_equal(h->state, TASK_PENDING);
	assert_false(h->in_poll);
	assert_int_equal(h->nf_reason, NF_NONE);
	/* Freed elsewhere later: still H's block that went away. */
	free_rec(m, MAIN, 20 * MS, X3, 0, 0);
	h = task_by_id(m, 7);
	assert_int_equal(h->mem.live_count, 0);
	assert_int_equal(h->mem.live_bytes, 0);
	assert_int_equal(h->mem.free_count, 3);
	assert_int_equal(h->mem.peak_live_bytes, 300);
	assert_int_equal(model__thread_mem(m)->free_count, 0);
	assert_int_equal(model__totals(m)->live_count, 2); /* K, H cells */
}

static void test_tokio_complete(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *h;

	tend(m, W1, 25 * MS, H,
	     MS_TOKIO_COMPLETE | MS_TOKIO_JOIN_INTEREST | REFS(2));
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->ended_ns, 25 * MS);
	assert_int_equal(h->nf_reason, NF_NONE);
	assert_int_equal(h->busy_ns, 15 * MS);
	assert_false(h->in_poll);
	/* Its Cell freed later by the JoinHandle's owner: ended, freed. */
	free_rec(m, W1, 30 * MS, H, K, 0);
	h = task_by_id(m, 7);
	assert_true(h->freed);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->ended_ns, 25 * MS);
	assert_int_equal(task_by_id(m, 1)->mem.live_count, 0);
}

/* abort() of an idle task: tokio sets CANCELLED and schedules it; the
 * poll that begins CANCELLED is the cancellation. */
static void test_tokio_cancelled(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *h;

	tend(m, W1, 15 * MS, H, REFS(3) | MS_TOKIO_JOIN_INTEREST);
	tbegin_st(m, W1, 20 * MS, H, 7, 1,
		  MS_TOKIO_RUNNING | MS_TOKIO_CANCELLED | REFS(3));
	tend(m, W1, 25 * MS, H,
	     MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | REFS(1));
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_CANCELLED);
	assert_int_equal(h->nf_reason, NF_ABORTED);
	assert_int_equal(h->ended_ns, 25 * MS);
}

/* CANCELLED set while the task runs (abort() or runtime shutdown racing
 * its last poll) and the future completes anyway: tokio hands its output
 * to the JoinHandle, so it completed. */
static void test_tokio_cancel_races_completion(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *h;

	task_rec(m, MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, MAIN, 12 * MS, H, 0, 0);
	tend(m, W1, 25 * MS, H,
	     MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | REFS(1));
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->nf_reason, NF_NONE);
	assert_false(h->shutdown);
}

/* One idle task per state word, each with its own Cell. */
static const struct ms_task *idle_task(struct model *m, uint64_t key,
				       uint64_t id, uint64_t owner, uint64_t st,
				       uint64_t t)
{
	alloc(m, MAIN, t, key, 128, 0);
	tbegin(m, W1, t + 1, key, id, owner);
	tend(m, W1, t + 2, key, st);
	return task_by_id(m, id);
}

static void test_tokio_no_waker(void **state)
{
	struct model *m = new_model();

	/* Only the owner list's reference: nothing can wake it. */
	assert_int_equal(idle_task(m, H, 21, 1, REFS(1), 1 * MS)->nf_reason,
			 NF_NO_WAKER);
	/* Owner list + JoinHandle, no waker. */
	assert_int_equal(idle_task(m, H2, 22, 1,
				   REFS(2) | MS_TOKIO_JOIN_INTEREST, 2 * MS)
				 ->nf_reason,
			 NF_NO_WAKER);
	/* Owner list + JoinHandle + one waker. */
	assert_int_equal(idle_task(m, H3, 23, 1,
				   REFS(3) | MS_TOKIO_JOIN_INTEREST, 3 * MS)
				 ->nf_reason,
			 NF_NONE);
	/* Owner list + one waker (JoinHandle dropped). */
	assert_int_equal(idle_task(m, H4, 24, 1, REFS(2), 4 * MS)->nf_reason,
			 NF_NONE);
	/* Already notified: it will be polled again. */
	assert_int_equal(
		idle_task(m, H5, 25, 1, REFS(1) | MS_TOKIO_NOTIFIED, 5 * MS)
			->nf_reason,
		NF_NONE);
	assert_int_equal(task_by_id(m, 21)->state, TASK_PENDING);
	assert_int_equal(task_by_id(m, 22)->state, TASK_PENDING);
}

/* owner_id 0: the runtime's own blocking-pool task, never flagged. */
static void test_tokio_runtime_task(void **state)
{
	struct model *m = new_model();
	const struct ms_task *r = idle_task(m, R, 31, 0, REFS(1), 1 * MS);
	struct ms_async a;

	assert_int_equal(r->kind, TASK_RUNTIME);
	assert_int_equal(r->nf_reason, NF_NONE);
	model__tick(m, START + 10 * NF_NS);
	assert_int_equal(task_by_id(m, 31)->nf_reason, NF_NONE);
	task_rec(m, MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, W1, 2 * NF_NS, R, 0, 0);
	assert_int_equal(task_by_id(m, 31)->nf_reason, NF_NONE);
	free_rec(m, W1, 2 * NF_NS + 1, R, 0, 0);
	r = task_by_id(m, 31);
	assert_int_equal(r->nf_reason, NF_NONE);
	assert_true(r->freed);
	model__async(m, &a);
	assert_int_equal(a.never_finished_count, 0);
	assert_int_equal(a.future_state_overhead, 0);
	assert_int_equal(a.largest_future_size, 0);
}

/*
 * The task frees its own Cell during its poll (the usual end of a
 * detached task): BPF reads the state before the free. The address may
 * then be a new task.
 */
static void test_tokio_free_during_poll_and_reuse(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *h, *n;

	alloc(m, W1, 11 * MS, X1, 50, H);
	tend(m, W1, 11 * MS + 1, H, REFS(2));
	tbegin_st(m, W1, 11 * MS + 2, H, 7, 1,
		  MS_TOKIO_RUNNING | MS_TOKIO_CANCELLED | REFS(2));
	free_rec(m, W1, 12 * MS, H, H,
		 MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | REFS(0));
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_CANCELLED);
	assert_int_equal(h->nf_reason, NF_ABORTED);
	assert_int_equal(h->ended_ns, 12 * MS);
	assert_true(h->freed);
	/* Its record went out before the free (ending the poll there):
	 * none at the poll's return. */
	tend(m, W1, 13 * MS, H, REFS(1));
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_CANCELLED);
	assert_int_equal(h->nf_reason, NF_ABORTED);
	assert_int_equal(h->busy_ns, 2 * MS - 1); /* two polls */
	/* K's Cell allocation is gone, H's own block stays H's. */
	assert_int_equal(task_by_id(m, 1)->mem.live_count, 0);
	assert_int_equal(task_by_id(m, 1)->mem.free_count, 1);
	assert_int_equal(h->mem.live_count, 1);

	/* Same address, new task. */
	alloc(m, W1, 20 * MS, H, 384, K);
	tbegin(m, W2, 21 * MS, H, 8, 1);
	running(m, W2);
	assert_int_equal(model__task_count(m), 3);
	n = task_by_id(m, 8);
	assert_int_equal(n->key, H);
	assert_int_equal(n->cell_size, 384);
	assert_int_equal(n->state, TASK_RUNNING);
	assert_int_equal(n->nf_reason, NF_NONE);
	assert_false(n->freed);
	assert_int_equal(model__task(m, n->parent)->id, 1);
	alloc(m, W2, 22 * MS, X2, 70, H);
	tend(m, W2, 23 * MS, H, IDLE3);
	n = task_by_id(m, 8);
	h = task_by_id(m, 7);
	assert_int_equal(n->mem.alloc_count, 1);
	assert_int_equal(n->mem.alloc_bytes, 70);
	assert_int_equal(n->state, TASK_PENDING);
	assert_int_equal(n->busy_ns, 2 * MS);
	/* The old one is untouched by the new one's life. */
	assert_int_equal(h->mem.alloc_count, 1);
	assert_int_equal(h->state, TASK_CANCELLED);
	assert_int_equal(h->polls, 2);
}

/* After the poll end, a task that freed itself is not in a poll any
 * more (a live view must not show it as running forever). */
static void test_tokio_free_during_poll_ends_poll(void **state)
{
	struct model *m = tokio_k_spawns_h();

	free_rec(m, W1, 12 * MS, H, H, MS_TOKIO_COMPLETE | REFS(0));
	tend(m, W1, 13 * MS, H, 0);
	assert_false(task_by_id(m, 7)->in_poll);
}

/*
 * H's poll on W1 returned, but its end is seen late (W1's next probe or
 * switch). Meanwhile W2 frees H (its last reference) and reuses the Cell
 * for a new task, which it starts polling. W1's record then comes (its
 * state word read from memory that is not the old task's any more): it
 * belongs to the old task, must not end the new task's poll nor give it a
 * verdict.
 */
static void test_tokio_poll_end_after_reuse(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *n;

	running(m, W1); /* memscoped saw H in its poll */
	free_rec(m, W2, 12 * MS, H, 0, 0);
	alloc(m, W2, 12 * MS + 1, H, 384, 0);
	tbegin(m, W2, 12 * MS + 2, H, 8, 1);
	running(m, W2);
	rec__tokio_exit(bpf(m), W1, START + 13 * MS, REFS(1),
			MS_POLL_F_SEEN_SWITCH);
	n = task_by_id(m, 8);
	assert_int_equal(n->state, TASK_RUNNING);
	assert_true(n->in_poll);
	assert_int_equal(n->nf_reason, NF_NONE);
	assert_int_equal(task_by_id(m, 7)->busy_ns, 3 * MS);
	assert_int_equal(task_by_id(m, 7)->polls, 1);
	tend(m, W2, 14 * MS, H, IDLE3);
	n = task_by_id(m, 8);
	assert_int_equal(n->state, TASK_PENDING);
	assert_false(n->in_poll);
	assert_int_equal(n->busy_ns, 2 * MS - 2);
}

/* Completed (not cancelled) and freed in its own poll. */
static void test_tokio_complete_free_during_poll(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *h;

	free_rec(m, W1, 12 * MS, H, H, MS_TOKIO_COMPLETE | REFS(0));
	tend(m, W1, 13 * MS, H, 0);
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->nf_reason, NF_NONE);
	assert_true(h->freed);
}

static void test_tokio_shutdown(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *h;
	struct ms_async a;

	tend(m, W1, 15 * MS, H, IDLE3);
	task_rec(m, MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, W1, 100 * MS, H, 0, 0);
	free_rec(m, W1, 101 * MS, H, 0, 0);
	h = task_by_id(m, 7);
	assert_true(h->freed);
	assert_true(h->shutdown);
	assert_int_equal(h->nf_reason, NF_SHUTDOWN);
	assert_true(h->state == TASK_CANCELLED);
	assert_int_equal(h->ended_ns, 101 * MS);
	/* Shutting down a task that already completed changes nothing. */
	alloc(m, MAIN, 102 * MS, H2, 128, 0);
	tbegin(m, W1, 103 * MS, H2, 9, 1);
	tend(m, W1, 104 * MS, H2,
	     MS_TOKIO_COMPLETE | MS_TOKIO_JOIN_INTEREST | REFS(2));
	task_rec(m, MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, W1, 105 * MS, H2, 0, 0);
	assert_int_equal(task_by_id(m, 9)->state, TASK_COMPLETED);
	assert_int_equal(task_by_id(m, 9)->nf_reason, NF_NONE);
	model__async(m, &a);
	assert_int_equal(a.never_finished_count, 1);
}

/* tokio's one record per poll (MS_REC_TOKIO_POLL), sent at the end, built
 * whole (its allocations, if any, were applied before). */
static void tpoll_rec(struct model *m, uint32_t tid, uint64_t end,
		      const struct rec_poll_entry *e, uint64_t st,
		      uint32_t flags)
{
	struct ms_tokio_poll_rec r =
		rec__tokio_poll(PID, tid, START + end, e, st, flags);

	apply_sink(m, &r, sizeof(r));
}

static void tpoll(struct model *m, uint32_t tid, uint64_t begin, uint64_t end,
		  uint64_t task, uint64_t bst, uint64_t st, uint64_t id,
		  uint64_t owner, uint32_t flags)
{
	struct rec_poll_entry e = {
		.task = task,
		.begin_ns = START + begin,
		.begin_state = bst,
		.vtable = V,
		.task_id = id,
		.owner_id = owner,
	};

	tpoll_rec(m, tid, end, &e, st, flags);
}

/* A whole poll with the word the entry read where a boxed future's
 * pointer would sit. */
static void tpoll_word(struct model *m, uint32_t tid, uint64_t begin,
		       uint64_t end, uint64_t task, uint64_t st, uint64_t id,
		       uint64_t vtable, uint64_t word)
{
	struct rec_poll_entry e = {
		.task = task,
		.begin_ns = START + begin,
		.begin_state = IDLE3 | MS_TOKIO_RUNNING,
		.vtable = vtable,
		.task_id = id,
		.owner_id = 1,
		.future_word = word,
	};

	tpoll_rec(m, tid, end, &e, st, MS_POLL_F_SEEN_POLL);
}

/* The future's size comes from its task type's layout; the cell is the
 * runtime's per-task allocation, a figure of its own. */
static void test_tokio_layout_future_size(void **state)
{
	struct model *m = new_model();
	const struct ms_task *h, *k;
	struct ms_async a;

	model__tokio_layout(m, V, 184, false);
	alloc_fn(m, MAIN, 1 * MS, MS_FN_POSIX_MEMALIGN, H, 384, 0, 0);
	tpoll_word(m, W1, 2 * MS, 3 * MS, H, IDLE3, 7, V, 0xdead);
	/* A task type the collector did not vouch for: size unknown. */
	alloc_fn(m, MAIN, 4 * MS, MS_FN_POSIX_MEMALIGN, K, 256, 0, 0);
	tpoll_word(m, W1, 5 * MS, 6 * MS, K, IDLE3, 8, VBAD, 0);
	h = task_by_id(m, 7);
	k = task_by_id(m, 8);
	assert_int_equal(h->future_size, 184);
	assert_int_equal(h->cell_size, 384);
	assert_int_equal(k->future_size, 0);
	assert_int_equal(k->cell_size, 256);
	model__async(m, &a);
	assert_int_equal(a.future_state_overhead, 184);
	assert_int_equal(a.largest_future_size, 184);
	assert_int_equal(a.average_future_size, 184);
	assert_int_equal(a.task_cell_bytes, 640);
}

/* tokio 1.41+: a future over 16 KiB was boxed by the spawner just before
 * the cell; the cell holds its pointer. The box is the future, and the
 * task's. A small future whose first word points at a big block the task
 * did not get from its spawner stays the size its layout says. */
static void test_tokio_boxed_future(void **state)
{
	struct model *m = new_model();
	const struct ms_task *h, *k;

	model__tokio_layout(m, V, 32, true);
	alloc(m, MAIN, 1 * MS, X1, 100120, 0); /* Box::pin(future) */
	alloc_fn(m, MAIN, 1 * MS, MS_FN_POSIX_MEMALIGN, H, 256, 0, 0);
	assert_int_equal(model__thread_mem(m)->live_bytes, 100120 + 256);
	tpoll_word(m, W1, 2 * MS, 3 * MS, H, IDLE3, 7, V, X1);
	h = task_by_id(m, 7);
	assert_int_equal(h->future_size, 100120);
	assert_int_equal(h->cell_size, 256);
	assert_int_equal(h->mem.live_bytes, 100120);
	assert_int_equal(h->mem.alloc_count, 1);
	assert_int_equal(model__thread_mem(m)->live_bytes, 256);
	assert_int_equal(model__thread_mem(m)->alloc_count, 1);
	assert_int_equal(model__totals(m)->live_bytes, 100120 + 256);
	/* Freed by the task: its figures, nobody else's. */
	free_rec(m, W1, 4 * MS, X1, H, 0);
	assert_int_equal(task_by_id(m, 7)->mem.free_bytes, 100120);
	assert_int_equal(model__thread_mem(m)->free_count, 0);

	/* A block allocated after the cell is no boxed future. */
	alloc_fn(m, MAIN, 5 * MS, MS_FN_POSIX_MEMALIGN, K, 256, 0, 0);
	alloc(m, MAIN, 6 * MS, X2, 40000, 0);
	tpoll_word(m, W1, 7 * MS, 8 * MS, K, IDLE3, 8, V, X2);
	k = task_by_id(m, 8);
	assert_int_equal(k->future_size, 32);
	assert_int_equal(k->mem.live_bytes, 0);
	/* Nor is a small one. */
	alloc(m, MAIN, 9 * MS, X3, 16384, 0);
	alloc_fn(m, MAIN, 9 * MS, MS_FN_POSIX_MEMALIGN, H2, 256, 0, 0);
	tpoll_word(m, W1, 10 * MS, 11 * MS, H2, IDLE3, 9, V, X3);
	assert_int_equal(task_by_id(m, 9)->future_size, 32);
}

/* The leak demo: tasks aborted, then the runtime shut down before they
 * ran again. CANCELLED was set when raw::shutdown came: aborted, not
 * shutdown. A task alive and never aborted: shutdown. */
static void test_tokio_aborted_then_shutdown(void **state)
{
	struct model *m = new_model();
	struct ms_task_rec r;

	alloc(m, MAIN, 1 * MS, H, 256, 0);
	tpoll_word(m, W1, 2 * MS, 3 * MS, H, IDLE3, 7, V, 0);
	alloc(m, MAIN, 1 * MS, H2, 256, 0);
	tpoll_word(m, W1, 4 * MS, 5 * MS, H2, IDLE3, 8, V, 0);
	memset(&r, 0, sizeof(r));
	hdr(&r.h, MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, MAIN, 10 * MS);
	r.task = H;
	r.state = IDLE3 | MS_TOKIO_NOTIFIED | MS_TOKIO_CANCELLED;
	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
	assert_int_equal(task_by_id(m, 7)->nf_reason, NF_ABORTED);
	r.task = H2;
	r.state = IDLE3;
	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
	free_rec(m, MAIN, 11 * MS, H, 0, 0);
	free_rec(m, MAIN, 12 * MS, H2, 0, 0);
	assert_int_equal(task_by_id(m, 7)->state, TASK_CANCELLED);
	assert_int_equal(task_by_id(m, 7)->nf_reason, NF_ABORTED);
	assert_int_equal(task_by_id(m, 8)->state, TASK_CANCELLED);
	assert_int_equal(task_by_id(m, 8)->nf_reason, NF_SHUTDOWN);
}

/* tokio 1.53 names its workers "tokio-rt-worker": what they allocate
 * outside tasks is the runtime's, from their first allocation. */
static void test_tokio_worker_names(void **state)
{
	struct model *m = new_model();

	thread_rec(m, W1, 1 * MS, "tokio-rt-worker");
	thread_rec(m, W2, 1 * MS, "tokio-runtime-w");
	alloc(m, W1, 2 * MS, A1, 100, 0);
	alloc(m, W2, 2 * MS, A2, 50, 0);
	assert_int_equal(model__runtime_mem(m)->alloc_bytes, 150);
	assert_int_equal(model__thread_mem(m)->alloc_bytes, 0);
}

/* The first poll: its allocations come before its record and already
 * belong to the task, found through its cell. */
static void test_tokio_poll_record_first_poll(void **state)
{
	struct model *m = new_model();
	const struct ms_task *h;

	alloc(m, MAIN, 1 * MS, H, 256, 0);
	alloc(m, W1, 3 * MS, X1, 100, H);
	assert_int_equal(model__task_count(m), 1);
	assert_int_equal(model__task(m, 0)->state, TASK_RUNNING);
	assert_int_equal(model__task(m, 0)->mem.alloc_bytes, 100);
	tpoll(m, W1, 2 * MS, 5 * MS, H, IDLE3 | MS_TOKIO_RUNNING, IDLE3, 7, 1,
	      0);
	h = task_by_id(m, 7);
	assert_non_null(h);
	assert_int_equal(model__task_count(m), 1);
	assert_int_equal(h->kind, TASK_USER);
	assert_int_equal(h->state, TASK_PENDING);
	assert_int_equal(h->polls, 1);
	assert_int_equal(h->busy_ns, 3 * MS);
	assert_int_equal(h->cell_size, 256);
	assert_true(h->spawn_known);
	assert_int_equal(h->mem.alloc_bytes, 100);
	assert_int_equal(model__runtime_mem(m)->alloc_count, 0);
	/* A second poll: no new task, one more poll. */
	tpoll(m, W2, 8 * MS, 9 * MS, H, IDLE3 | MS_TOKIO_RUNNING,
	      MS_TOKIO_COMPLETE | MS_TOKIO_JOIN_INTEREST | REFS(2), 7, 1, 0);
	h = task_by_id(m, 7);
	assert_int_equal(h->polls, 2);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->busy_ns, 4 * MS);
}

/* A task that frees its own cell in its (first) poll: its record comes
 * just before the free; what the rest of that poll allocates is not a
 * new task. */
static void test_tokio_poll_record_self_free(void **state)
{
	struct model *m = new_model();
	const struct ms_task *h;
	const uint64_t done = MS_TOKIO_COMPLETE | REFS(1);

	alloc(m, MAIN, 1 * MS, H, 256, 0);
	tpoll(m, W1, 2 * MS, 4 * MS, H, IDLE3 | MS_TOKIO_RUNNING, done, 7, 1,
	      MS_POLL_F_FREED);
	free_rec(m, W1, 4 * MS, H, H, done);
	alloc(m, W1, 5 * MS, X1, 64, H);
	h = task_by_id(m, 7);
	assert_int_equal(model__task_count(m), 1);
	assert_true(h->freed);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->nf_reason, NF_NONE);
	assert_int_equal(model__runtime_mem(m)->alloc_bytes, 64);
	/* A new cell at the same address is a new task. */
	alloc(m, MAIN, 6 * MS, H, 256, 0);
	alloc(m, W1, 8 * MS, X2, 32, H);
	tpoll(m, W1, 7 * MS, 9 * MS, H, IDLE3 | MS_TOKIO_RUNNING, IDLE3, 8, 1,
	      0);
	assert_int_equal(model__task_count(m), 2);
	assert_int_equal(task_by_id(m, 8)->mem.alloc_bytes, 32);
	assert_int_equal(task_by_id(m, 8)->state, TASK_PENDING);
}

/* abort() lands while the task's first poll runs (it sets CANCELLED and
 * NOTIFIED), the future returns Pending, and tokio cancels the task in
 * that same poll: BPF found the task's JoinError::Cancelled in the stage.
 * One poll, never begun CANCELLED, and still aborted. */
static void test_tokio_abort_during_poll(void **state)
{
	struct model *m = new_model();
	const struct ms_task *h;

	alloc(m, MAIN, 1 * MS, H, 256, 0);
	tpoll(m, W1, 2 * MS, 3 * MS, H, IDLE3 | MS_TOKIO_RUNNING,
	      MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | MS_TOKIO_NOTIFIED |
		      MS_TOKIO_JOIN_INTEREST | REFS(2),
	      7, 1, MS_POLL_F_SEEN_RETURN | MS_POLL_F_CANCELLED_IN_POLL);
	h = task_by_id(m, 7);
	assert_int_equal(h->polls, 1);
	assert_int_equal(h->state, TASK_CANCELLED);
	assert_int_equal(h->nf_reason, NF_ABORTED);
	/* The same poll without the JoinError: the future was Ready. */
	alloc(m, MAIN, 10 * MS, H2, 256, 0);
	tpoll(m, W1, 11 * MS, 12 * MS, H2, IDLE3 | MS_TOKIO_RUNNING,
	      MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | MS_TOKIO_NOTIFIED |
		      MS_TOKIO_JOIN_INTEREST | REFS(2),
	      8, 1, MS_POLL_F_SEEN_RETURN);
	assert_int_equal(task_by_id(m, 8)->state, TASK_COMPLETED);
	assert_int_equal(task_by_id(m, 8)->nf_reason, NF_NONE);
}

/* The JoinHandle takes the output (the task's JoinError::Cancelled) before
 * or after the poll's record: the task was aborted either way. */
static void test_tokio_output_cancelled(void **state)
{
	struct model *m = new_model();
	const uint64_t st = MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED |
			    MS_TOKIO_NOTIFIED | MS_TOKIO_JOIN_INTEREST |
			    REFS(1);

	/* After: the poll looked like a completion. */
	alloc(m, MAIN, 1 * MS, H, 256, 0);
	tpoll(m, W1, 2 * MS, 3 * MS, H, IDLE3 | MS_TOKIO_RUNNING, st, 7, 1,
	      MS_POLL_F_SEEN_RETURN);
	assert_int_equal(task_by_id(m, 7)->state, TASK_COMPLETED);
	task_rec(m, MS_REC_TOKIO_CANCELLED, MS_RT_TOKIO, MAIN, 4 * MS, H, 0, 0);
	assert_int_equal(task_by_id(m, 7)->state, TASK_CANCELLED);
	assert_int_equal(task_by_id(m, 7)->nf_reason, NF_ABORTED);
	/* Before: the task is not known yet (its one poll's record, sent at
	 * the free of its cell, comes later). */
	alloc(m, MAIN, 10 * MS, H2, 256, 0);
	task_rec(m, MS_REC_TOKIO_CANCELLED, MS_RT_TOKIO, MAIN, 12 * MS, H2, 0,
		 0);
	assert_int_equal(model__task_count(m), 1);
	tpoll(m, W1, 11 * MS, 13 * MS, H2, IDLE3 | MS_TOKIO_RUNNING, st, 8, 1,
	      MS_POLL_F_FREED);
	assert_int_equal(task_by_id(m, 8)->state, TASK_CANCELLED);
	assert_int_equal(task_by_id(m, 8)->nf_reason, NF_ABORTED);
	assert_int_equal(model__task_count(m), 2);
}

/* The runtime shuts down while the task's last poll releases it: the task
 * is COMPLETE already (its JoinHandle may have read the output), shutdown
 * only adds CANCELLED. Completed, whatever the poll's end suggests. */
static void test_tokio_shutdown_after_complete(void **state)
{
	struct model *m = new_model();
	struct ms_task_rec r;
	const struct ms_task *h;

	alloc(m, MAIN, 1 * MS, H, 384, 0);
	tpoll(m, W1, 2 * MS, 3 * MS, H, IDLE3 | MS_TOKIO_RUNNING, IDLE3, 7, 1,
	      0);
	r = rec__task(MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, PID, W2,
		      START + 100 * MS, H, 0, 0,
		      MS_TOKIO_COMPLETE | MS_TOKIO_JOIN_INTEREST | REFS(2));
	apply_sink(m, &r, sizeof(r));
	tpoll(m, W1, 99 * MS, 101 * MS, H, IDLE3 | MS_TOKIO_NOTIFIED,
	      MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | MS_TOKIO_JOIN_INTEREST,
	      7, 1, MS_POLL_F_FREED | MS_POLL_F_CANCELLED_IN_POLL);
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->nf_reason, NF_NONE);
}

/* The runtime shuts down while the task is in a poll that then cancels
 * it: the shutdown ended it, not an abort. */
static void test_tokio_shutdown_cancels_in_poll(void **state)
{
	struct model *m = new_model();
	const struct ms_task *h;

	alloc(m, MAIN, 1 * MS, H, 256, 0);
	tpoll(m, W1, 2 * MS, 3 * MS, H, IDLE3 | MS_TOKIO_RUNNING, IDLE3, 7, 1,
	      0);
	task_rec(m, MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, W2, 100 * MS, H, 0, 0);
	tpoll(m, W1, 99 * MS, 101 * MS, H, IDLE3 | MS_TOKIO_RUNNING,
	      MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | MS_TOKIO_JOIN_INTEREST |
		      REFS(2),
	      7, 1, MS_POLL_F_CANCELLED_IN_POLL);
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_CANCELLED);
	assert_int_equal(h->nf_reason, NF_SHUTDOWN);
}

/* Runtime shutdown marks a task that is in a poll on another thread; its
 * poll record comes later and covers that moment: the poll decides. */
static void test_tokio_poll_record_shutdown_in_poll(void **state)
{
	struct model *m = new_model();
	const struct ms_task *h;

	alloc(m, MAIN, 1 * MS, H, 256, 0);
	tpoll(m, W1, 2 * MS, 3 * MS, H, IDLE3 | MS_TOKIO_RUNNING, IDLE3, 7, 1,
	      0);
	task_rec(m, MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, W2, 100 * MS, H, 0, 0);
	tpoll(m, W1, 99 * MS, 101 * MS, H, IDLE3 | MS_TOKIO_RUNNING,
	      MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | MS_TOKIO_JOIN_INTEREST |
		      REFS(2),
	      7, 1, 0);
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->nf_reason, NF_NONE);
	assert_false(h->shutdown);
	/* Shut down while idle (no poll around that moment): cancelled. */
	alloc(m, MAIN, 110 * MS, H2, 256, 0);
	tpoll(m, W1, 111 * MS, 112 * MS, H2, IDLE3 | MS_TOKIO_RUNNING, IDLE3, 9,
	      1, 0);
	task_rec(m, MS_REC_TASK_SHUTDOWN, MS_RT_TOKIO, W2, 120 * MS, H2, 0, 0);
	tpoll(m, W1, 121 * MS, 122 * MS, H2, IDLE3 | MS_TOKIO_CANCELLED,
	      MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | REFS(1), 9, 1, 0);
	assert_int_equal(task_by_id(m, 9)->state, TASK_CANCELLED);
	assert_int_equal(task_by_id(m, 9)->nf_reason, NF_SHUTDOWN);
}

/* A runtime task (owner 0) announces its poll at entry: it is running
 * and of the runtime at once; its end record closes that poll. */
static void test_tokio_poll_record_runtime_task(void **state)
{
	struct model *m = new_model();
	const struct ms_task *r;

	alloc(m, MAIN, 1 * MS, H, 104, 0);
	tbegin(m, W1, 2 * MS, H, 1, 0);
	r = task_by_id(m, 1);
	assert_int_equal(r->kind, TASK_RUNTIME);
	assert_int_equal(r->state, TASK_RUNNING);
	assert_true(r->in_poll);
	tpoll(m, W1, 2 * MS, 50 * MS, H, IDLE3 | MS_TOKIO_RUNNING,
	      MS_TOKIO_COMPLETE | REFS(1), 1, 0, MS_POLL_F_BEGUN);
	r = task_by_id(m, 1);
	assert_int_equal(r->polls, 1);
	assert_false(r->in_poll);
	assert_int_equal(r->state, TASK_COMPLETED);
	assert_int_equal(r->busy_ns, 48 * MS);
}

static void test_tick_pending(void **state)
{
	struct model *m = tokio_k_spawns_h(); /* H spawned at 3 ms */
	const struct ms_task *h;

	tend(m, W1, 15 * MS, H, IDLE3);
	/* A second task that completes: never flagged. */
	alloc(m, MAIN, 4 * MS, H2, 128, 0);
	tbegin(m, W1, 16 * MS, H2, 9, 1);
	tend(m, W1, 17 * MS, H2, MS_TOKIO_COMPLETE | REFS(1));
	model__tick(m, START + 3 * MS + NF_NS - 1);
	assert_int_equal(task_by_id(m, 7)->nf_reason, NF_NONE);
	model__tick(m, START + 3 * MS + NF_NS + 1 * MS);
	h = task_by_id(m, 7);
	assert_int_equal(h->nf_reason, NF_PENDING);
	assert_int_equal(h->state, TASK_PENDING);
	assert_int_equal(task_by_id(m, 9)->nf_reason, NF_NONE);
	/* K, spawned at 1 ms and pending, is flagged too. */
	assert_int_equal(task_by_id(m, 1)->nf_reason, NF_PENDING);
	/* Then H finishes after all: not "never finished" any more. */
	tbegin(m, W1, NF_NS + 10 * MS, H, 7, 1);
	tend(m, W1, NF_NS + 11 * MS, H, MS_TOKIO_COMPLETE | REFS(1));
	h = task_by_id(m, 7);
	assert_int_equal(h->state, TASK_COMPLETED);
	assert_int_equal(h->nf_reason, NF_NONE);
	assert_int_equal(h->polls, 2);
}

/* ---- USDT runtimes -------------------------------------------------- */

static void spawn(struct model *m, uint64_t t, uint64_t id, uint64_t parent,
		  uint64_t size)
{
	task_rec(m, MS_REC_TASK_SPAWN, MS_RT_USDT, MAIN, t, id, parent, size);
}

static void test_usdt_lifecycle(void **state)
{
	struct model *m = new_model();
	const struct ms_task *p, *c;

	spawn(m, 1 * MS, 1, 0, 64);
	spawn(m, 2 * MS, 2, 1, 128);
	assert_int_equal(model__runtime(m), MS_RT_USDT);
	p = task_by_id(m, 1);
	c = task_by_id(m, 2);
	assert_int_equal(p->parent, MS_TASK_NO_PARENT);
	assert_int_equal(model__task(m, c->parent)->id, 1);
	assert_int_equal(c->future_size, 128);
	assert_true(c->spawn_known);
	assert_int_equal(c->spawned_ns, 2 * MS);
	assert_int_equal(c->runtime, MS_RT_USDT);
	assert_int_equal(c->kind, TASK_USER);
	assert_int_equal(c->state, TASK_PENDING);

	/* Two polls: busy time adds up, allocations are the task's. */
	ubegin(m, MAIN, 10 * MS, 2);
	assert_int_equal(task_by_id(m, 2)->state, TASK_RUNNING);
	alloc(m, MAIN, 11 * MS, X1, 40, 2);
	uend(m, MAIN, 15 * MS, 2, -1);
	ubegin(m, MAIN, 20 * MS, 2);
	alloc(m, MAIN, 21 * MS, X2, 60, 2);
	uend(m, MAIN, 28 * MS, 2, 1);
	c = task_by_id(m, 2);
	assert_int_equal(c->polls, 2);
	assert_int_equal(c->busy_ns, 13 * MS);
	assert_int_equal(c->mem.alloc_count, 2);
	assert_int_equal(c->mem.alloc_bytes, 100);
	assert_int_equal(c->state, TASK_PENDING);
	assert_int_equal(c->nf_reason, NF_NONE);

	task_rec(m, MS_REC_TASK_COMPLETE, MS_RT_USDT, MAIN, 30 * MS, 2, 0, 0);
	c = task_by_id(m, 2);
	assert_int_equal(c->state, TASK_COMPLETED);
	assert_int_equal(c->ended_ns, 30 * MS);
	assert_int_equal(c->nf_reason, NF_NONE);
	task_rec(m, MS_REC_TASK_FREE, MS_RT_USDT, MAIN, 31 * MS, 2, 0, 0);
	assert_true(task_by_id(m, 2)->freed);
	/* The id is free for a new task now. */
	spawn(m, 40 * MS, 2, 0, 32);
	assert_int_equal(model__task_count(m), 3);
	c = model__task(m, 2);
	assert_int_equal(c->id, 2);
	assert_int_equal(c->future_size, 32);
	assert_int_equal(c->state, TASK_PENDING);
	assert_false(c->freed);
	assert_int_equal(model__task(m, 1)->state, TASK_COMPLETED);
}

static void test_usdt_wakers(void **state)
{
	struct model *m = new_model();

	spawn(m, 1 * MS, 1, 0, 0);
	spawn(m, 1 * MS, 2, 0, 0);
	spawn(m, 1 * MS, 3, 0, 0);
	ubegin(m, MAIN, 2 * MS, 1);
	uend(m, MAIN, 3 * MS, 1, 0);
	ubegin(m, MAIN, 4 * MS, 2);
	uend(m, MAIN, 5 * MS, 2, -1);
	ubegin(m, MAIN, 6 * MS, 3);
	uend(m, MAIN, 7 * MS, 3, 2);
	assert_int_equal(task_by_id(m, 1)->nf_reason, NF_NO_WAKER);
	assert_int_equal(task_by_id(m, 2)->nf_reason, NF_NONE);
	assert_int_equal(task_by_id(m, 3)->nf_reason, NF_NONE);
	/* Cancelled: aborted. */
	task_rec(m, MS_REC_TASK_CANCEL, MS_RT_USDT, MAIN, 8 * MS, 2, 0, 0);
	assert_int_equal(task_by_id(m, 2)->state, TASK_CANCELLED);
	assert_int_equal(task_by_id(m, 2)->nf_reason, NF_ABORTED);
	assert_int_equal(task_by_id(m, 2)->ended_ns, 8 * MS);
	/* Completing clears a no-waker verdict. */
	task_rec(m, MS_REC_TASK_COMPLETE, MS_RT_USDT, MAIN, 9 * MS, 1, 0, 0);
	assert_int_equal(task_by_id(m, 1)->state, TASK_COMPLETED);
	assert_int_equal(task_by_id(m, 1)->nf_reason, NF_NONE);
	/* Pending past the threshold. */
	model__tick(m, START + 1 * MS + NF_NS);
	assert_int_equal(task_by_id(m, 3)->nf_reason, NF_PENDING);
	assert_int_equal(task_by_id(m, 2)->nf_reason, NF_ABORTED);
	assert_int_equal(task_by_id(m, 1)->nf_reason, NF_NONE);
}

/* A task alive before attach shows up at its first poll. */
static void test_usdt_unknown_task(void **state)
{
	struct model *m = new_model();
	const struct ms_task *t;

	ubegin(m, MAIN, 5 * MS, 99);
	uend(m, MAIN, 6 * MS, 99, 1);
	t = task_by_id(m, 99);
	assert_false(t->spawn_known);
	assert_int_equal(t->runtime, MS_RT_USDT);
	assert_int_equal(t->future_size, 0);
	assert_int_equal(t->polls, 1);
	assert_int_equal(t->busy_ns, 1 * MS);
}

/* A poll inside a poll (block_on inside a task): each its own time. */
static void test_nested_polls(void **state)
{
	struct model *m = new_model();

	spawn(m, 1 * MS, 1, 0, 0);
	spawn(m, 1 * MS, 2, 0, 0);
	ubegin(m, W1, 10 * MS, 1);
	alloc(m, W1, 11 * MS, X1, 10, 1);
	ubegin(m, W1, 12 * MS, 2);
	alloc(m, W1, 13 * MS, X2, 20, 2);
	uend(m, W1, 15 * MS, 2, 1);
	uend(m, W1, 20 * MS, 1, 1);
	assert_int_equal(task_by_id(m, 2)->busy_ns, 3 * MS);
	assert_int_equal(task_by_id(m, 1)->busy_ns, 10 * MS);
	assert_int_equal(task_by_id(m, 1)->mem.alloc_bytes, 10);
	assert_int_equal(task_by_id(m, 2)->mem.alloc_bytes, 20);
}

/* ---- summary figures ------------------------------------------------ */

static void test_async_figures(void **state)
{
	struct model *m = new_model();
	struct ms_async a;

	/* Cells made on the main thread outside tasks. */
	alloc(m, MAIN, 1 * MS, H, 256, 0);
	alloc(m, MAIN, 1 * MS, H2, 1024, 0);
	alloc(m, MAIN, 1 * MS, R, 104, 0);
	/* W1 is a tokio worker by name: overhead even before any poll. */
	thread_rec(m, W1, 2 * MS, "tokio-runtime-w");
	alloc(m, W1, 3 * MS, A1, 1000, 0);
	tbegin(m, W1, 5 * MS, H, 11, 1);
	alloc(m, W1, 5 * MS + 1, X1, 100, H);
	alloc(m, W1, 5 * MS + 2, X2, 100, H);
	tend(m, W1, 6 * MS, H, MS_TOKIO_COMPLETE | REFS(1));
	alloc(m, W1, 7 * MS, A2, 24, 0);
	/* W2 has no telling name, but it polls tasks: a runtime thread. */
	tbegin(m, W2, 8 * MS, H2, 12, 1);
	alloc(m, W2, 8 * MS + 1, X3, 50, H2);
	tend(m, W2, 9 * MS, H2, REFS(1)); /* no waker */
	alloc(m, W2, 10 * MS, A3, 500, 0);
	tbegin(m, W2, 11 * MS, R, 13, 0);
	tend(m, W2, 12 * MS, R, REFS(1));
	/* The main thread polling (block_on, current_thread) stays plain. */
	/* Cell not seen: no size. Aborted: the poll begins CANCELLED. */
	tbegin_st(m, MAIN, 13 * MS, H3, 14, 1,
		  MS_TOKIO_RUNNING | MS_TOKIO_CANCELLED | REFS(2));
	tend(m, MAIN, 14 * MS, H3,
	     MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | REFS(1));
	alloc(m, MAIN, 15 * MS, A1 + 16, 7, 0);
	/* Another thread that never polls, with another name: plain. */
	thread_rec(m, W3, 16 * MS, "worker");
	alloc(m, W3, 17 * MS, A1 + 32, 9, 0);

	model__async(m, &a);
	assert_int_equal(a.async_allocation_count, 3);
	assert_int_equal(a.async_allocation_bytes, 250);
	/* User tasks' cells seen: 256 and 1024; R is the runtime's. No
	 * layout was given for V: future sizes unknown. */
	assert_int_equal(a.task_cell_bytes, 1280);
	assert_int_equal(a.future_state_overhead, 0);
	assert_int_equal(a.largest_future_size, 0);
	assert_int_equal(a.runtime_overhead_bytes, 1000 + 24 + 500);
	assert_int_equal(model__runtime_mem(m)->alloc_count, 3);
	assert_int_equal(model__thread_mem(m)->alloc_bytes,
			 256 + 1024 + 104 + 7 + 9);
	/* H2 no-waker, H3 aborted. */
	assert_int_equal(a.never_finished_count, 2);
	assert_int_equal(a.tasks_completed, 1);
	assert_int_equal(a.tasks_cancelled, 1);
	assert_int_equal(a.tasks_alive, 1);
	assert_int_equal(task_by_id(m, 13)->kind, TASK_RUNTIME);
}

/* ---- layout validation ---------------------------------------------- */

static void test_reject_vtable(void **state)
{
	struct model *m = new_model();
	const struct ms_task *t;

	assert_false(model__vtable_rejected(m, VBAD));
	model__reject_vtable(m, VBAD);
	assert_true(model__vtable_rejected(m, VBAD));
	assert_false(model__vtable_rejected(m, V));
	assert_false(model__vtable_rejected(m, 0));

	alloc(m, MAIN, 1 * MS, H, 256, 0);
	tbegin_vt(m, W1, 2 * MS, H, 7, MS_TOKIO_RUNNING, VBAD, 0);
	/* Allocations still go by poll. */
	alloc(m, W1, 3 * MS, X1, 10, H);
	assert_int_equal(model__task_count(m), 1);
	tend(m, W1, 4 * MS, H, MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED);
	t = model__task(m, 0);
	/* The Id read through that vtable is not trusted. */
	assert_int_not_equal(t->id, 7);
	assert_int_not_equal(t->id, 0);
	t = model__task(m, 0);
	assert_int_equal(t->mem.alloc_count, 1);
	assert_int_equal(t->state, TASK_PENDING);
	assert_int_equal(t->nf_reason, NF_NONE);
	tbegin_vt(m, W1, 5 * MS, H, 7, MS_TOKIO_RUNNING, VBAD, 0);
	tend(m, W1, 6 * MS, H, REFS(1));
	t = model__task(m, 0);
	assert_int_equal(t->nf_reason, NF_NONE);
	assert_int_equal(t->state, TASK_PENDING);
	assert_int_not_equal(t->id, 7);
	/* Freed in its own poll with a state word: also ignored. */
	tbegin_vt(m, W1, 7 * MS, H, 7, MS_TOKIO_RUNNING, VBAD, 0);
	free_rec(m, W1, 8 * MS, H, H, MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED);
	t = model__task(m, 0);
	assert_true(t->freed);
	assert_int_not_equal(t->nf_reason, NF_ABORTED);
}

/* Rejected after the task was found: its later state words are ignored. */
static void test_reject_vtable_later(void **state)
{
	struct model *m = tokio_k_spawns_h();
	const struct ms_task *h;

	running(m, W1); /* H found in its poll: id 7 */
	model__reject_vtable(m, V);
	tend(m, W1, 15 * MS, H, REFS(1));
	h = task_by_id(m, 7);
	assert_int_equal(h->nf_reason, NF_NONE);
	assert_int_equal(h->state, TASK_PENDING);
}

/* BPF could not read the task: no id, no state from it. */
static void test_read_failed(void **state)
{
	struct model *m = new_model();
	const struct ms_task *t;

	alloc(m, MAIN, 1 * MS, H, 256, 0);
	/* What BPF sends then: nothing read at entry, nor at the end. */
	tbegin_vt(m, W1, 2 * MS, H, 0, 0, 0, MS_POLL_F_READ_FAILED);
	rec__tokio_exit(bpf(m), W1, START + 3 * MS, 0,
			MS_POLL_F_SEEN_RETURN | MS_POLL_F_END_READ_FAILED);
	t = model__task(m, 0);
	assert_non_null(t);
	assert_int_not_equal(t->id, 0);
	/* owner_id 0 was not read: not to be taken for a runtime task. */
	assert_int_equal(t->kind, TASK_USER);
	assert_int_equal(t->nf_reason, NF_NONE);
	/* Unreadable when its poll returned: the poll freed it, so it
	 * ended (completed: its poll did not begin cancelled). */
	assert_int_equal(t->state, TASK_COMPLETED);
	assert_true(t->freed);
}

/* However many tasks end, the model keeps at most max_ended_tasks of them
 * in detail; the rest are folded into the aggregate figures. A task that
 * still holds memory is never let go. */
static void test_ended_tasks_bounded(void **state)
{
	struct model_opts o = { .start_ns = START,
				.never_finished_ns = NF_NS,
				.pid = PID,
				.max_ended_tasks = 10 };
	struct model *m;
	struct ms_async a;
	uint64_t id;

	cur = m = model__new(&o);
	assert_non_null(m);
	/* Task 1 allocates and keeps its block past its end. */
	task_rec(m, MS_REC_TASK_SPAWN, MS_RT_USDT, W1, 1 * MS, 1, 0, 64);
	ubegin(m, W1, 1 * MS + 1, 1);
	alloc(m, W1, 1 * MS + 2, 0x5000, 1000, 1);
	uend(m, W1, 1 * MS + 3, 1, -1);
	task_rec(m, MS_REC_TASK_COMPLETE, MS_RT_USDT, W1, 1 * MS + 4, 1, 0, 0);
	task_rec(m, MS_REC_TASK_FREE, MS_RT_USDT, W1, 1 * MS + 5, 1, 0, 0);
	for (id = 2; id <= 1000; id++) {
		uint64_t t = id * MS;

		task_rec(m, MS_REC_TASK_SPAWN, MS_RT_USDT, W1, t, id, 0, 64);
		ubegin(m, W1, t + 1, id);
		uend(m, W1, t + 2, id, -1);
		task_rec(m, MS_REC_TASK_COMPLETE, MS_RT_USDT, W1, t + 3, id, 0,
			 0);
		task_rec(m, MS_REC_TASK_FREE, MS_RT_USDT, W1, t + 4, id, 0, 0);
	}
	assert_true(model__task_count(m) <= 20);
	model__async(m, &a);
	assert_int_equal(a.tasks_completed, 1000);
	assert_int_equal(a.tasks_alive, 0);
	assert_true(a.tasks_dropped >= 980);
	assert_int_equal(a.future_state_overhead, 1000 * 64);
	assert_int_equal(a.async_allocation_count, 1);
	/* Task 1 holds its block: still there, in detail. */
	assert_non_null(task_by_id(m, 1));
	assert_int_equal(task_by_id(m, 1)->mem.live_bytes, 1000);
}

/* ---- batched application ------------------------------------------ */

struct rec_list {
	void *rec[4096];
	size_t len[4096];
	size_t n;
};

static void free_recs(struct rec_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->rec[i]);
	free(l);
}

/* A copy in a block of exactly len bytes, so ASan sees any read past it. */
static void push_rec(struct rec_list *l, const void *r, size_t len)
{
	void *p = malloc(len);

	assert_non_null(p);
	memcpy(p, r, len);
	l->rec[l->n] = p;
	l->len[l->n++] = len;
}

static uint64_t lcg = 12345;

static uint64_t rnd(void)
{
	lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
	return lcg >> 33;
}

/* A deterministic mixed stream: tokio tasks spawning and allocating,
 * frees, reallocs, and (if asked) a few truncated records. */
static void gen_stream(struct rec_list *l, bool truncated)
{
	uint64_t live[64] = { 0 }, t = 1 * MS;

	for (int i = 0; l->n < 4000; i++, t += 1000) {
		uint64_t task = i % 400 < 200 ? 0 : H + (i % 7) * 0x1000;
		uint32_t tid = W1 + i % 3;
		unsigned k = rnd() % 64, what = rnd() % 10;

		if (i % 400 == 200) {
			continue; /* a user task's poll: no record at entry */
		} else if (i % 400 == 399) {
			/* ... one at its end, begun 199 steps before. */
			struct rec_poll_entry e = {
				.task = H + (i % 7) * 0x1000,
				.begin_ns = START + t - 199 * 1000,
				.begin_state = IDLE3 | MS_TOKIO_RUNNING,
				.vtable = V,
				.task_id = 100 + i % 7,
				.owner_id = 1,
			};
			struct ms_tokio_poll_rec p =
				rec__tokio_poll(PID, tid, START + t, &e, IDLE3,
						MS_POLL_F_SEEN_POLL);

			push_rec(l, &p, sizeof(p));
		} else if (what < 5 || !live[k]) {
			struct ms_alloc_rec a = { 0 };

			hdr(&a.h, MS_REC_ALLOC, MS_FN_MALLOC, tid, t);
			a.addr = X1 + (uint64_t)(rnd() % 512) * 16;
			a.size = 1 + rnd() % 4096;
			a.old_addr = what == 4 ? live[k] : 0;
			a.task = task;
			live[k] = a.addr;
			push_rec(l, &a, sizeof(a));
		} else if (what < 9 || !truncated) {
			struct ms_free_rec f = { 0 };

			hdr(&f.h, MS_REC_FREE, MS_FN_FREE, tid, t);
			f.addr = live[k];
			f.task = task;
			live[k] = 0;
			push_rec(l, &f, sizeof(f));
		} else {
			/* Truncated records of each size class of record. */
			struct ms_alloc_rec a = { 0 };

			hdr(&a.h, what % 2 ? MS_REC_ALLOC : MS_REC_FREE,
			    MS_FN_MALLOC, tid, t);
			a.addr = X2;
			push_rec(l, &a, sizeof(struct ms_free_rec) + rnd() % 8);
		}
	}
}

static void batch_vs_apply(bool truncated)
{
	struct rec_list *l = recs = calloc(1, sizeof(*l));
	struct model *a, *b;
	uint64_t ca[MS_SIZE_CLASSES], ba[MS_SIZE_CLASSES];
	uint64_t cb[MS_SIZE_CLASSES], bb[MS_SIZE_CLASSES];

	assert_non_null(l);
	gen_stream(l, truncated);
	a = new_model();
	for (size_t i = 0; i < l->n; i++)
		model__apply(a, l->rec[i], l->len[i]);
	cur2 = a;
	b = new_model();
	/* Batches of uneven sizes, as the ring buffer drain gives them. */
	for (size_t i = 0, n; i < l->n; i += n) {
		n = 1 + (i * 7) % 97;
		if (n > l->n - i)
			n = l->n - i;
		model__apply_batch(b, (const void *const *)&l->rec[i],
				   &l->len[i], n);
	}
	assert_memory_equal(model__totals(a), model__totals(b),
			    sizeof(struct ms_totals));
	assert_int_equal(model__totals(a)->bad_records > 0, truncated);
	assert_memory_equal(model__thread_mem(a), model__thread_mem(b),
			    sizeof(struct ms_mem));
	assert_memory_equal(model__runtime_mem(a), model__runtime_mem(b),
			    sizeof(struct ms_mem));
	model__size_classes(a, ca, ba);
	model__size_classes(b, cb, bb);
	assert_memory_equal(ca, cb, sizeof(ca));
	assert_memory_equal(ba, bb, sizeof(ba));
	assert_int_equal(model__task_count(a), model__task_count(b));
	for (size_t i = 0; i < model__task_count(a); i++) {
		const struct ms_task *x = model__task(a, i);
		const struct ms_task *y = model__task(b, i);

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->state, y->state);
		assert_int_equal(x->busy_ns, y->busy_ns);
		assert_memory_equal(&x->mem, &y->mem, sizeof(x->mem));
	}
}

static void test_apply_batch_same_as_apply(void **state)
{
	batch_vs_apply(false);
}

/* Malformed records in a batch: rejected and counted as one by one, and
 * nothing past a record's length is read (ASan checks that: each record
 * is a block of its exact length). Last in the list, since an ASan report
 * ends the program. */
static void test_apply_batch_truncated(void **state)
{
	batch_vs_apply(true);
}

static void test_kernel_stats(void **state)
{
	struct model *m = new_model();
	uint64_t st[MS_STAT_MAX] = { 0 };

	model__set_kernel_stats(m, st, MS_STAT_MAX);
	assert_false(model__incomplete(m));
	st[MS_STAT_READ_FAILED] = 4;
	model__set_kernel_stats(m, st, MS_STAT_MAX);
	/* Informational only. */
	assert_false(model__incomplete(m));
	assert_int_equal(model__totals(m)->read_failed, 4);
	st[MS_STAT_LOST] = 3;
	st[MS_STAT_NO_STATE] = 2;
	model__set_kernel_stats(m, st, MS_STAT_MAX);
	assert_int_equal(model__totals(m)->lost_events, 3);
	assert_int_equal(model__totals(m)->kernel_no_state, 2);
	assert_true(model__incomplete(m));
	/* Absolute values, not increments. */
	model__set_kernel_stats(m, st, MS_STAT_MAX);
	assert_int_equal(model__totals(m)->lost_events, 3);
	/* Each loss the kernel side counts makes the figures incomplete. */
	for (int k = MS_STAT_DEPTH_OVERFLOW; k <= MS_STAT_UNMATCHED; k++) {
		uint64_t one[MS_STAT_MAX] = { 0 };

		one[k] = 1;
		model__set_kernel_stats(m, one, MS_STAT_MAX);
		if (!model__incomplete(m))
			fail_msg(
				"kernel counter %d does not make it incomplete",
				k);
	}
	assert_int_equal(model__totals(m)->unmatched, 1);
	assert_int_equal(model__totals(m)->depth_overflow, 0);
	/* Page sizes guessed in page-level mode are said, not a loss. */
	{
		uint64_t one[MS_STAT_MAX] = { 0 };

		one[MS_STAT_PAGE_GUESSED] = 2;
		model__set_kernel_stats(m, one, MS_STAT_MAX);
		assert_int_equal(model__pages(m)->guessed, 2);
		assert_false(model__incomplete(m));
	}
}

static void test_names(void **state)
{
	assert_string_equal(task_state__name(TASK_RUNNING), "running");
	assert_string_equal(task_state__name(TASK_PENDING), "pending");
	assert_string_equal(task_state__name(TASK_COMPLETED), "completed");
	assert_string_equal(task_state__name(TASK_CANCELLED), "cancelled");
	assert_string_equal(task_kind__name(TASK_USER), "user");
	assert_string_equal(task_kind__name(TASK_RUNTIME), "runtime");
	assert_null(nf_reason__name(NF_NONE));
	assert_string_equal(nf_reason__name(NF_ABORTED), "aborted");
	assert_string_equal(nf_reason__name(NF_PENDING), "pending");
	assert_string_equal(nf_reason__name(NF_NO_WAKER), "no-waker");
	assert_string_equal(nf_reason__name(NF_SHUTDOWN), "shutdown");
}

/* Every test gets its model freed by the teardown. */
#define T(f) cmocka_unit_test_teardown(f, free_model)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_alloc_free_totals),
		T(test_realloc_moves),
		T(test_realloc_in_place),
		T(test_resize_in_place),
		T(test_realloc_untracked_old),
		T(test_realloc_zero),
		T(test_free_untracked),
		T(test_duplicate_alloc_is_stale),
		T(test_size_classes),
		T(test_decode),
		T(test_apply_bad_records),
		T(test_tokio_discovery),
		T(test_tokio_attribution),
		T(test_tokio_complete),
		T(test_tokio_cancelled),
		T(test_tokio_cancel_races_completion),
		T(test_ended_tasks_bounded),
		T(test_tokio_no_waker),
		T(test_tokio_runtime_task),
		T(test_tokio_free_during_poll_and_reuse),
		T(test_tokio_free_during_poll_ends_poll),
		T(test_tokio_poll_end_after_reuse),
		T(test_tokio_complete_free_during_poll),
		T(test_tokio_shutdown),
		T(test_tokio_poll_record_first_poll),
		T(test_tokio_poll_record_self_free),
		T(test_tokio_poll_record_shutdown_in_poll),
		T(test_tokio_abort_during_poll),
		T(test_tokio_output_cancelled),
		T(test_tokio_shutdown_after_complete),
		T(test_tokio_shutdown_cancels_in_poll),
		T(test_tokio_poll_record_runtime_task),
		T(test_tokio_layout_future_size),
		T(test_tokio_boxed_future),
		T(test_tokio_aborted_then_shutdown),
		T(test_tokio_worker_names),
		T(test_tick_pending),
		T(test_usdt_lifecycle),
		T(test_usdt_wakers),
		T(test_usdt_unknown_task),
		T(test_nested_polls),
		T(test_async_figures),
		T(test_reject_vtable),
		T(test_reject_vtable_later),
		T(test_read_failed),
		T(test_apply_batch_same_as_apply),
		T(test_kernel_stats),
		T(test_names),
		T(test_apply_batch_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
