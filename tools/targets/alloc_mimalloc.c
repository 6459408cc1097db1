// SPDX-License-Identifier: MIT
/*
 * alloc_mimalloc - ground truth for a program linked with -lmimalloc
 * (Debian's libmimalloc.so.2: it overrides the whole malloc family, with
 * malloc, free, operator new and delete as aliases of mi_malloc, mi_free,
 * mi_new). alloc_common.c runs the malloc family (all of it is
 * mimalloc's), alloc_cxx.cc operator new/delete, and this file mimalloc's
 * own mi_* API.
 *
 * How each call counts:
 *   mi_malloc(n), mi_zalloc(n), mi_malloc_aligned(n, al),
 *   mi_zalloc_aligned(n, al)   one allocation of n; NULL counts nothing
 *   mi_calloc(n, m)            one allocation of n * m
 *   mi_realloc(p, n)           one free of p's size and one allocation of n
 *                              (moved or not). mi_realloc(p, 0) returns a
 *                              new 0-byte block: a free and an allocation
 *                              of 0. NULL is a failure: p stays.
 *   mi_expand(p, n)            returns p when n fits in p's real size: a
 *                              success that, when n differs from p's size,
 *                              counts like a realloc (one free of the old
 *                              size, one allocation of n, same address);
 *                              the same size, or NULL (n does not fit),
 *                              counts nothing
 *   mi_free(p), mi_free_size(p, size), free(p)   one free of p's size
 *   mi_usable_size, mi_good_size, malloc_usable_size   nothing
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <mimalloc.h>

#include "alloc_common.h"

enum {
	REL_MI_FREE = REL_API0, /* mi_free(p) */
	REL_MI_FREE_SIZE = REL_API1, /* mi_free_size(p, size) */
};

const char ms_prog[] = "alloc_mimalloc";
/* realloc(p, 0) returns a 0-byte block in mimalloc. */
unsigned int ms_family = MS_FAM_PVALLOC;

void api_init(void)
{
}

static unsigned int pick_rel(struct thread_state *ts)
{
	static const unsigned int rels[] = { REL_FREE, REL_MI_FREE,
					     REL_MI_FREE_SIZE };

	return rels[ms_rnd(ts) % 3];
}

static struct block got(struct thread_state *ts, enum ms_call c, void *p,
			size_t n, unsigned int align)
{
	ms_call(ts, c);
	return ms_got(ts, p, n, pick_rel(ts), align);
}

static void do_realloc(struct thread_state *ts, struct block *b, size_t n)
{
	ms_call(ts, C_mi_realloc);
	ms_realloc_done(ts, b, mi_realloc(b->p, n), n, 0);
}

/* mi_expand: p back is a success (counted by ms_resized), NULL a failure. */
static void do_expand(struct thread_state *ts, struct block *b, size_t n,
		      bool expect_ok)
{
	void *q;

	ms_call(ts, C_mi_expand);
	q = mi_expand(b->p, n);
	if (q && q != b->p)
		ms_fatal("mi_expand moved the block");
	if (q) {
		if (!expect_ok)
			ms_unexpected(ts);
		ms_resized(ts, b, n);
	} else if (expect_ok) {
		ms_unexpected(ts);
	} else {
		ms_failed(ts);
	}
}

void api_iteration(struct thread_state *ts, unsigned int i)
{
	struct block c, d, fence;
	size_t n, m, u, al;

	(void)i;

	/* mi_malloc (0 bytes too), mi_calloc, mi_zalloc, aligned forms. */
	n = ms_range(ts, 1, 4096);
	ms_settle(ts, got(ts, C_mi_malloc, mi_malloc(n), n, 0));
	ms_settle(ts, got(ts, C_mi_malloc, mi_malloc(0), 0, 0));
	n = ms_range(ts, 1, 32);
	m = ms_range(ts, 1, 64);
	ms_settle(ts, got(ts, C_mi_calloc, mi_calloc(n, m), n * m, 0));
	n = ms_range(ts, 1, 3000);
	ms_settle(ts, got(ts, C_mi_zalloc, mi_zalloc(n), n, 0));
	al = ms_pow2(ts, 4, 12);
	n = ms_range(ts, 1, 3000);
	ms_settle(ts, got(ts, C_mi_malloc_aligned, mi_malloc_aligned(n, al), n,
			  (unsigned int)al));
	al = ms_pow2(ts, 4, 8);
	n = ms_range(ts, 1, 1000);
	ms_settle(ts, got(ts, C_mi_zalloc_aligned, mi_zalloc_aligned(n, al), n,
			  (unsigned int)al));

	/* Failures: a huge size, an overflowing n * m. */
	n = ms_huge_size + ms_range(ts, 0, 4096);
	ms_call(ts, C_mi_malloc);
	ms_expect_null(ts, mi_malloc(n), n, REL_MI_FREE, 0);
	ms_call(ts, C_mi_calloc);
	if (mi_calloc(ms_overflow_n, 16))
		ms_fatal("mi_calloc overflow returned a block");
	ms_failed(ts);

	/*
	 * mi_realloc: from NULL, growing past a fence, shrinking (mimalloc
	 * keeps the block when at least half of it stays used), the same
	 * size, a huge size (fails), and 0.
	 */
	c = (struct block){ NULL, 0, pick_rel(ts), 0 };
	do_realloc(ts, &c, ms_range(ts, 16, 512));
	n = ms_range(ts, 16, 48);
	fence = got(ts, C_mi_malloc, mi_malloc(n), n, 0);
	if (c.p) {
		do_realloc(ts, &c, c.size + ms_range(ts, 8192, 40960));
		do_realloc(ts, &c, c.size - c.size / 4);
		do_realloc(ts, &c, c.size);
		ms_call(ts, C_mi_realloc);
		if (mi_realloc(c.p, ms_huge_size))
			ms_fatal("mi_realloc of a huge size returned a block");
		ms_failed(ts);
		if (i % 4 == 0)
			do_realloc(ts, &c, 0);
	}
	ms_settle(ts, fence);
	ms_settle(ts, c);

	/*
	 * mi_expand: up to the real size (a success that changes the size
	 * unless it already was that), the same size (nothing), a smaller
	 * size (a success), one byte past the real size (fails).
	 */
	n = ms_range(ts, 17, 1000);
	d = got(ts, C_mi_malloc, mi_malloc(n), n, 0);
	if (d.p) {
		ms_call(ts, C_mi_usable_size);
		u = mi_usable_size(d.p);
		do_expand(ts, &d, u, true);
		do_expand(ts, &d, d.size, true);
		do_expand(ts, &d, d.size - d.size / 3, true);
		do_expand(ts, &d, u + 1 + ms_range(ts, 0, 4096), false);
	}
	ms_settle(ts, d);

	/* A query counts for nothing. */
	ms_call(ts, C_mi_good_size);
	if (mi_good_size(ms_range(ts, 1, 100000)) == 0)
		ms_unexpected(ts);
}

void api_release(struct thread_state *ts, struct block *b)
{
	switch (b->rel) {
	case REL_MI_FREE:
		ms_call(ts, C_mi_free);
		mi_free(b->p);
		break;
	case REL_MI_FREE_SIZE:
		ms_call(ts, C_mi_free_size);
		mi_free_size(b->p, b->size);
		break;
	default:
		ms_fatal("api_release: not a mimalloc block");
	}
}

struct block api_handoff(struct thread_state *ts, size_t n)
{
	/* Freed by the next thread with mi_free (mimalloc's remote free). */
	ms_call(ts, C_mi_malloc);
	return ms_got(ts, mi_malloc(n), n, REL_MI_FREE, 0);
}
