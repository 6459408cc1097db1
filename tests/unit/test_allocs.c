// SPDX-License-Identifier: MIT
/* Live-allocation table: correctness under growth and backward-shift
 * deletion, checked against a trivially correct reference model. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/allocs.h"

/* A heap-like base: realistic upper bits, 16-byte aligned blocks. */
#define HEAP 0x55d1c0000000ull

/* Deterministic xorshift64*: same sequence on every run and machine. */
static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s ? s : 1;
}

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static struct alloc_entry mk(uint64_t addr, uint64_t size, uint32_t owner)
{
	struct alloc_entry e = {
		.addr = addr, .size = size, .owner = owner, .t_ms = 7
	};

	return e;
}

static void test_basic(void **state)
{
	struct allocs *a = allocs__new(0);
	struct alloc_entry e = mk(HEAP + 16, 100, 3), out;
	struct alloc_entry *f;

	assert_non_null(a);
	assert_int_equal(allocs__count(a), 0);
	assert_null(allocs__find(a, HEAP + 16));
	assert_int_equal(allocs__insert(a, &e, NULL), 0);
	assert_int_equal(allocs__count(a), 1);
	f = allocs__find(a, HEAP + 16);
	assert_non_null(f);
	assert_int_equal(f->size, 100);
	assert_int_equal(f->owner, 3);
	assert_int_equal(f->t_ms, 7);
	/* A neighbour address is a different block. */
	assert_null(allocs__find(a, HEAP + 32));
	assert_int_equal(allocs__remove(a, HEAP + 32, &out), -ENOENT);
	memset(&out, 0, sizeof(out));
	assert_int_equal(allocs__remove(a, HEAP + 16, &out), 0);
	assert_int_equal(out.addr, HEAP + 16);
	assert_int_equal(out.size, 100);
	assert_int_equal(out.owner, 3);
	assert_int_equal(allocs__count(a), 0);
	assert_null(allocs__find(a, HEAP + 16));
	/* Twice removed is not found; out may be NULL. */
	assert_int_equal(allocs__remove(a, HEAP + 16, NULL), -ENOENT);
	assert_int_equal(allocs__insert(a, &e, NULL), 0);
	assert_int_equal(allocs__remove(a, HEAP + 16, NULL), 0);
	allocs__free(a);
	allocs__free(NULL); /* must be a no-op */
}

/* Address 0 marks empty slots: it can never be stored or found. */
static void test_zero_addr(void **state)
{
	struct allocs *a = allocs__new(0);
	struct alloc_entry e = mk(0, 8, 0);

	assert_int_equal(allocs__insert(a, &e, NULL), -EINVAL);
	assert_int_equal(allocs__count(a), 0);
	assert_null(allocs__find(a, 0));
	assert_int_equal(allocs__remove(a, 0, NULL), -ENOENT);
	allocs__free(a);
}

static void test_eexist_replaces(void **state)
{
	struct allocs *a = allocs__new(0);
	struct alloc_entry e1 = mk(HEAP + 0x40, 10, 1);
	struct alloc_entry e2 = mk(HEAP + 0x40, 20, 2);
	struct alloc_entry e3 = mk(HEAP + 0x40, 30, 3);
	struct alloc_entry old = { 0 };

	assert_int_equal(allocs__insert(a, &e1, NULL), 0);
	assert_int_equal(allocs__insert(a, &e2, &old), -EEXIST);
	/* The old entry comes back, the new one takes its place. */
	assert_int_equal(old.addr, HEAP + 0x40);
	assert_int_equal(old.size, 10);
	assert_int_equal(old.owner, 1);
	assert_int_equal(allocs__count(a), 1);
	assert_int_equal(allocs__find(a, HEAP + 0x40)->size, 20);
	assert_int_equal(allocs__find(a, HEAP + 0x40)->owner, 2);
	/* old may be NULL: still replaced. */
	assert_int_equal(allocs__insert(a, &e3, NULL), -EEXIST);
	assert_int_equal(allocs__count(a), 1);
	assert_int_equal(allocs__find(a, HEAP + 0x40)->size, 30);
	allocs__free(a);
}

#define BIG (1u << 20)

static int mark_visit(const struct alloc_entry *e, void *ctx)
{
	uint8_t *seen = ctx;
	uint64_t i = (e->addr - HEAP) / 16 - 1;

	/* Every visited entry must be one we inserted, with its own size. */
	if (e->addr < HEAP + 16 || i >= BIG || e->size != i + 1 ||
	    e->owner != (uint32_t)(i & 0xffff))
		return -1;
	seen[i]++;
	return 0;
}

/* 1M entries: many resizes from the 1024-slot start; every entry stays
 * findable with its data and the table stays within 64 bytes/entry. */
static void test_growth_1m(void **state)
{
	struct allocs *a = allocs__new(0);
	uint8_t *seen = calloc(BIG, 1);
	size_t bytes;

	assert_non_null(a);
	assert_non_null(seen);
	for (uint64_t i = 0; i < BIG; i++) {
		struct alloc_entry e =
			mk(HEAP + (i + 1) * 16, i + 1, (uint32_t)(i & 0xffff));

		assert_int_equal(allocs__insert(a, &e, NULL), 0);
	}
	assert_int_equal(allocs__count(a), BIG);
	for (uint64_t i = 0; i < BIG; i++) {
		const struct alloc_entry *f =
			allocs__find(a, HEAP + (i + 1) * 16);

		if (!f || f->size != i + 1)
			fail_msg("entry %llu lost or corrupted",
				 (unsigned long long)i);
	}
	assert_null(allocs__find(a, HEAP + (BIG + 1) * 16));
	bytes = allocs__mem_bytes(a);
	assert_true(bytes <= (size_t)64 * BIG);
	/* foreach visits each live entry exactly once. */
	assert_int_equal(allocs__foreach(a, mark_visit, seen), 0);
	for (uint64_t i = 0; i < BIG; i++)
		if (seen[i] != 1)
			fail_msg("entry %llu visited %u times",
				 (unsigned long long)i, seen[i]);
	free(seen);
	allocs__free(a);
}

/* Same, with addresses scattered over a 47-bit space, as mmap'd chunks
 * and several arenas give: the hash must not care about the pattern. */
static void test_growth_scattered(void **state)
{
	const size_t n = 200000;
	struct allocs *a = allocs__new(0);
	uint64_t *addrs = calloc(n, sizeof(*addrs));

	rng_seed(0x5eed0001);
	for (size_t i = 0; i < n; i++) {
		struct alloc_entry e;
		int err;

		do {
			addrs[i] = (rng() & 0x7ffffffffff0ull) | 0x10;
			e = mk(addrs[i], i, 0);
			err = allocs__insert(a, &e, NULL);
		} while (err == -EEXIST); /* an exceedingly rare repeat */
		assert_int_equal(err, 0);
	}
	assert_int_equal(allocs__count(a), n);
	for (size_t i = 0; i < n; i++) {
		const struct alloc_entry *f = allocs__find(a, addrs[i]);

		if (!f || f->size != i)
			fail_msg("scattered entry %zu lost", i);
	}
	/* Remove every other one; the rest must survive the shifting. */
	for (size_t i = 0; i < n; i += 2)
		assert_int_equal(allocs__remove(a, addrs[i], NULL), 0);
	assert_int_equal(allocs__count(a), n / 2);
	for (size_t i = 0; i < n; i++) {
		const struct alloc_entry *f = allocs__find(a, addrs[i]);

		if (i % 2 ? !f || f->size != i : f != NULL)
			fail_msg("scattered entry %zu wrong after removals", i);
	}
	free(addrs);
	allocs__free(a);
}

struct ref {
	uint8_t live;
	uint64_t size;
	uint32_t owner;
};

struct ref_ctx {
	const struct ref *ref;
	size_t nref;
	uint8_t *seen;
	size_t visited;
};

static int ref_visit(const struct alloc_entry *e, void *ctx)
{
	struct ref_ctx *c = ctx;
	uint64_t k = (e->addr - HEAP) / 16;

	if (e->addr < HEAP || (e->addr - HEAP) % 16 || k >= c->nref ||
	    !c->ref[k].live || c->ref[k].size != e->size || c->seen[k]++)
		return -1;
	c->visited++;
	return 0;
}

static void check_against_ref(struct allocs *a, const struct ref *ref,
			      size_t nref, size_t live)
{
	struct ref_ctx c = { ref, nref, calloc(nref, 1), 0 };

	assert_int_equal(allocs__count(a), live);
	for (size_t k = 1; k < nref; k++) {
		const struct alloc_entry *f = allocs__find(a, HEAP + k * 16);

		if (ref[k].live != (f != NULL))
			fail_msg("key %zu: live %u, found %d", k, ref[k].live,
				 f != NULL);
		if (f && (f->size != ref[k].size || f->owner != ref[k].owner))
			fail_msg("key %zu: data differs", k);
	}
	assert_int_equal(allocs__foreach(a, ref_visit, &c), 0);
	assert_int_equal(c.visited, live);
	free(c.seen);
}

/*
 * Random insert/remove at a high, steady load factor (just under the
 * 3/4 growth threshold of the initial 1024 slots) so that long probe
 * runs, wrap-around at the table end and backward shifts all happen,
 * compared with a direct-indexed reference after every step.
 */
static void test_random_vs_reference(void **state)
{
	const size_t nref = 4096; /* keys: HEAP + k * 16, k in [1, nref) */
	struct ref *ref = calloc(nref, sizeof(*ref));
	struct allocs *a = allocs__new(0);
	size_t live = 0;

	rng_seed(0xa110c5);
	for (int step = 0; step < 200000; step++) {
		uint64_t k = 1 + rng() % (nref - 1);
		uint64_t addr = HEAP + k * 16;
		/* Bias towards inserting while the table is below 700 so
		 * it hovers near a 0.68 load without growing. */
		bool ins = live < 700 ? (rng() % 4 != 0) : (rng() % 4 == 0);
		struct alloc_entry e, old;
		int err;

		if (ins && live < 760) {
			e = mk(addr, rng() % 100000, (uint32_t)(rng() % 50));
			err = allocs__insert(a, &e, &old);
			if (ref[k].live) {
				assert_int_equal(err, -EEXIST);
				assert_int_equal(old.size, ref[k].size);
				assert_int_equal(old.owner, ref[k].owner);
			} else {
				assert_int_equal(err, 0);
				live++;
			}
			ref[k].live = 1;
			ref[k].size = e.size;
			ref[k].owner = e.owner;
		} else {
			err = allocs__remove(a, addr, &old);
			if (ref[k].live) {
				assert_int_equal(err, 0);
				assert_int_equal(old.addr, addr);
				assert_int_equal(old.size, ref[k].size);
				ref[k].live = 0;
				live--;
			} else {
				assert_int_equal(err, -ENOENT);
			}
		}
		assert_int_equal(allocs__count(a), live);
		if (step % 997 == 0)
			check_against_ref(a, ref, nref, live);
	}
	check_against_ref(a, ref, nref, live);
	/* Then through growth and down to empty, still consistent. */
	for (size_t k = 1; k < nref; k++) {
		struct alloc_entry e = mk(HEAP + k * 16, k, 1);

		if (!ref[k].live) {
			assert_int_equal(allocs__insert(a, &e, NULL), 0);
			ref[k].live = 1;
			ref[k].size = k;
			ref[k].owner = 1;
			live++;
		}
	}
	check_against_ref(a, ref, nref, live);
	for (size_t k = 1; k < nref; k += 2) {
		assert_int_equal(allocs__remove(a, HEAP + k * 16, NULL), 0);
		ref[k].live = 0;
		live--;
	}
	check_against_ref(a, ref, nref, live);
	for (size_t k = 1; k < nref; k++)
		if (ref[k].live)
			assert_int_equal(allocs__remove(a, HEAP + k * 16, NULL),
					 0);
	assert_int_equal(allocs__count(a), 0);
	free(ref);
	allocs__free(a);
}

static int stop_after_3(const struct alloc_entry *e, void *ctx)
{
	int *n = ctx;

	return ++*n == 3 ? 42 : 0;
}

static int count_visit(const struct alloc_entry *e, void *ctx)
{
	(*(size_t *)ctx)++;
	return 0;
}

static void test_foreach(void **state)
{
	struct allocs *a = allocs__new(16);
	size_t n = 0;
	int calls = 0;

	assert_int_equal(allocs__foreach(a, count_visit, &n), 0);
	assert_int_equal(n, 0);
	for (uint64_t i = 1; i <= 10; i++) {
		struct alloc_entry e = mk(HEAP + i * 4096, i, 0);

		assert_int_equal(allocs__insert(a, &e, NULL), 0);
	}
	assert_int_equal(allocs__foreach(a, count_visit, &n), 0);
	assert_int_equal(n, 10);
	/* A non-zero return stops the walk and is passed back. */
	assert_int_equal(allocs__foreach(a, stop_after_3, &calls), 42);
	assert_int_equal(calls, 3);
	allocs__free(a);
}

/* A size hint pre-sizes the table; it must not change behaviour. */
static void test_hint(void **state)
{
	struct allocs *a = allocs__new(100000);

	assert_non_null(a);
	for (uint64_t i = 1; i <= 100000; i++) {
		struct alloc_entry e = mk(HEAP + i * 32, i, 0);

		assert_int_equal(allocs__insert(a, &e, NULL), 0);
	}
	assert_int_equal(allocs__count(a), 100000);
	assert_true(allocs__mem_bytes(a) <= (size_t)64 * 100000);
	for (uint64_t i = 1; i <= 100000; i++)
		assert_non_null(allocs__find(a, HEAP + i * 32));
	allocs__free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_zero_addr),
		cmocka_unit_test(test_eexist_replaces),
		cmocka_unit_test(test_growth_1m),
		cmocka_unit_test(test_growth_scattered),
		cmocka_unit_test(test_random_vs_reference),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
