/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every module needs once: the monotonic clock, a 64-bit
 * FNV-1a step, and growing an array by doubling. Header-only, no state.
 */
#ifndef MS_UTIL_H
#define MS_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* CLOCK_MONOTONIC in ns: the clock BPF's bpf_ktime_get_ns() reads. */
static inline uint64_t util__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define UTIL_FNV_OFFSET 0xcbf29ce484222325ull

/* One FNV-1a step over a 64-bit word (start from UTIL_FNV_OFFSET). */
static inline uint64_t util__fnv_step(uint64_t h, uint64_t word)
{
	return (h ^ word) * 0x100000001b3ull;
}

/*
 * Make room for at least need elements of elem bytes in *arr (capacity
 * *cap, in elements), doubling from min_cap. 0, or -ENOMEM with *arr and
 * *cap unchanged.
 */
static inline int util__grow(void **arr, size_t *cap, size_t need, size_t elem,
			     size_t min_cap)
{
	size_t n = *cap ? *cap : min_cap;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		n *= 2;
	}
	p = realloc(*arr, n * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

#endif
