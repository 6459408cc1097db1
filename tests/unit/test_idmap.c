// SPDX-License-Identifier: MIT
/* u64 -> u32 map: put/get/del, growth, and backward-shift deletion
 * checked against a reference model with a fixed seed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "model/idmap.h"

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s ? s : 1;
}

/* xorshift64*: deterministic on every run. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_basic(void **state)
{
	struct idmap *m = idmap__new();
	uint32_t v = 0;

	assert_non_null(m);
	assert_int_equal(idmap__count(m), 0);
	assert_int_equal(idmap__get(m, 5, &v), -ENOENT);
	assert_int_equal(idmap__put(m, 5, 50), 0);
	assert_int_equal(idmap__put(m, 6, 60), 0);
	assert_int_equal(idmap__count(m), 2);
	assert_int_equal(idmap__get(m, 5, &v), 0);
	assert_int_equal(v, 50);
	assert_int_equal(idmap__get(m, 6, &v), 0);
	assert_int_equal(v, 60);
	/* put on an existing key overwrites, count unchanged. */
	assert_int_equal(idmap__put(m, 5, 51), 0);
	assert_int_equal(idmap__count(m), 2);
	assert_int_equal(idmap__get(m, 5, &v), 0);
	assert_int_equal(v, 51);
	assert_int_equal(idmap__del(m, 5), 0);
	assert_int_equal(idmap__count(m), 1);
	assert_int_equal(idmap__get(m, 5, &v), -ENOENT);
	assert_int_equal(idmap__del(m, 5), -ENOENT);
	assert_int_equal(idmap__get(m, 6, &v), 0);
	assert_int_equal(v, 60);
	/* Value 0 and UINT32_MAX are ordinary values. */
	assert_int_equal(idmap__put(m, 7, 0), 0);
	assert_int_equal(idmap__put(m, UINT64_MAX, UINT32_MAX), 0);
	assert_int_equal(idmap__get(m, 7, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(idmap__get(m, UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	idmap__free(m);
	idmap__free(NULL);
}

/* Key 0 is reserved (it marks empty slots). */
static void test_zero_key(void **state)
{
	struct idmap *m = idmap__new();
	uint32_t v;

	assert_int_equal(idmap__put(m, 0, 1), -EINVAL);
	assert_int_equal(idmap__count(m), 0);
	assert_int_equal(idmap__get(m, 0, &v), -ENOENT);
	assert_int_equal(idmap__del(m, 0), -ENOENT);
	idmap__free(m);
}

#define BIG (1u << 20)

/* Key patterns the model uses: tids (small, dense), tokio Header
 * addresses (aligned), USDT ids; all must survive many resizes. */
static void grow_pattern(uint64_t (*key)(uint64_t))
{
	struct idmap *m = idmap__new();

	for (uint64_t i = 0; i < BIG; i++)
		assert_int_equal(idmap__put(m, key(i), (uint32_t)i), 0);
	assert_int_equal(idmap__count(m), BIG);
	for (uint64_t i = 0; i < BIG; i++) {
		uint32_t v = UINT32_MAX;

		if (idmap__get(m, key(i), &v) || v != (uint32_t)i)
			fail_msg("key %llu lost", (unsigned long long)key(i));
	}
	assert_true(idmap__mem_bytes(m) <= (size_t)64 * BIG);
	/* Delete the first half: the second half must stay reachable. */
	for (uint64_t i = 0; i < BIG / 2; i++)
		assert_int_equal(idmap__del(m, key(i)), 0);
	assert_int_equal(idmap__count(m), BIG / 2);
	for (uint64_t i = 0; i < BIG; i++) {
		uint32_t v;
		int err = idmap__get(m, key(i), &v);

		if (i < BIG / 2 ? err != -ENOENT : err || v != (uint32_t)i)
			fail_msg("key %llu wrong after deletes",
				 (unsigned long long)key(i));
	}
	idmap__free(m);
}

static uint64_t key_dense(uint64_t i)
{
	return i + 1;
}

static uint64_t key_heap(uint64_t i)
{
	return 0x55d1c0000000ull + i * 128;
}

static uint64_t key_page(uint64_t i)
{
	return 0x7f0000000000ull + i * 4096;
}

static void test_growth_dense(void **state)
{
	grow_pattern(key_dense);
}

static void test_growth_heap(void **state)
{
	grow_pattern(key_heap);
}

static void test_growth_page(void **state)
{
	grow_pattern(key_page);
}

struct ref {
	bool live;
	uint32_t val;
};

static void check_against_ref(struct idmap *m, const struct ref *ref,
			      size_t nref, uint64_t base, size_t live)
{
	assert_int_equal(idmap__count(m), live);
	for (size_t k = 0; k < nref; k++) {
		uint32_t v;
		int err = idmap__get(m, base + k, &v);

		if (ref[k].live ? err || v != ref[k].val : err != -ENOENT)
			fail_msg("key %zu: live %d, get %d", k, ref[k].live,
				 err);
	}
}

/*
 * Random put/del near the 3/4 growth threshold of the initial 256 slots:
 * long probe runs, wrap-around and backward shifts on every delete.
 */
static void test_random_vs_reference(void **state)
{
	const size_t nref = 1024;
	const uint64_t base = 1000;
	struct ref *ref = calloc(nref, sizeof(*ref));
	struct idmap *m = idmap__new();
	size_t live = 0;

	rng_seed(0x1d3a9);
	for (int step = 0; step < 300000; step++) {
		uint64_t k = rng() % nref;
		bool put = live < 170 ? (rng() % 4 != 0) : (rng() % 4 == 0);
		uint32_t val = (uint32_t)rng();
		int err;

		if (put && live < 190) {
			assert_int_equal(idmap__put(m, base + k, val), 0);
			if (!ref[k].live)
				live++;
			ref[k].live = true;
			ref[k].val = val;
		} else {
			err = idmap__del(m, base + k);
			assert_int_equal(err, ref[k].live ? 0 : -ENOENT);
			if (ref[k].live)
				live--;
			ref[k].live = false;
		}
		assert_int_equal(idmap__count(m), live);
		if (step % 1009 == 0)
			check_against_ref(m, ref, nref, base, live);
	}
	check_against_ref(m, ref, nref, base, live);
	/* Grow past several resizes with a random mix, then drain. */
	for (int step = 0; step < 100000; step++) {
		uint64_t k = rng() % nref;

		if (rng() % 3) {
			assert_int_equal(idmap__put(m, base + k, (uint32_t)k),
					 0);
			if (!ref[k].live)
				live++;
			ref[k].live = true;
			ref[k].val = (uint32_t)k;
		} else if (ref[k].live) {
			assert_int_equal(idmap__del(m, base + k), 0);
			ref[k].live = false;
			live--;
		}
	}
	check_against_ref(m, ref, nref, base, live);
	for (size_t k = 0; k < nref; k++) {
		if (!ref[k].live)
			continue;
		assert_int_equal(idmap__del(m, base + k), 0);
		ref[k].live = false;
		live--;
	}
	check_against_ref(m, ref, nref, base, 0);
	free(ref);
	idmap__free(m);
}

/* Keys spread over the whole u64 range (hash high bits matter). */
static void test_random_keys(void **state)
{
	const size_t n = 100000;
	uint64_t *keys = calloc(n, sizeof(*keys));
	struct idmap *m = idmap__new();

	rng_seed(0xfeedbeef);
	for (size_t i = 0; i < n; i++) {
		keys[i] = rng() | 1; /* never 0 */
		assert_int_equal(idmap__put(m, keys[i], (uint32_t)i), 0);
	}
	assert_int_equal(idmap__count(m), n);
	for (size_t i = 0; i < n; i += 3)
		assert_int_equal(idmap__del(m, keys[i]), 0);
	for (size_t i = 0; i < n; i++) {
		uint32_t v;
		int err = idmap__get(m, keys[i], &v);

		if (i % 3 == 0 ? err != -ENOENT : err || v != (uint32_t)i)
			fail_msg("random key %zu wrong", i);
	}
	free(keys);
	idmap__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_zero_key),
		cmocka_unit_test(test_growth_dense),
		cmocka_unit_test(test_growth_heap),
		cmocka_unit_test(test_growth_page),
		cmocka_unit_test(test_random_vs_reference),
		cmocka_unit_test(test_random_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
