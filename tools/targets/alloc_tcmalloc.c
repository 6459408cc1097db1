// SPDX-License-Identifier: MIT
/*
 * alloc_tcmalloc - ground truth for a program linked with -ltcmalloc
 * (gperftools' libtcmalloc.so.4 in Debian: malloc, free, operator new and
 * delete are aliases of tc_malloc, tc_free, tc_new, tc_delete).
 * alloc_common.c runs the malloc family (reallocarray is glibc's, which
 * calls realloc, tcmalloc's; everything else is tcmalloc's), alloc_cxx.cc
 * operator new/delete, and this file the tc_* API.
 *
 * How each call counts:
 *   tc_malloc(n), tc_memalign(al, n), tc_posix_memalign(&p, al, n) == 0,
 *   tc_valloc(n), tc_pvalloc(n), tc_new(n)
 *                              one allocation of n (valloc, pvalloc: the
 *                              argument, not the rounded size); NULL or an
 *                              error code counts nothing
 *   tc_calloc(n, m)            one allocation of n * m
 *   tc_realloc(p, n)           one free of p's size and one allocation of
 *                              n, moved or not; tc_realloc(p, 0) frees p
 *                              and returns NULL (one free); NULL otherwise
 *                              is a failure that leaves p alone
 *   tc_free(p), tc_free_sized(p, size), tc_delete(p), free(p)
 *                              one free of p's size
 *   tc_malloc_size, tc_nallocx, malloc_usable_size   nothing
 * Blocks from the aligned calls are released with tc_free or free, never
 * tc_free_sized (their size class is not that of the size asked for).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <gperftools/nallocx.h>
#include <gperftools/tcmalloc.h>

#include "alloc_common.h"

/* Declared by tcmalloc.h for C++ only; they are extern "C" symbols. */
void *tc_new(size_t size);
void tc_delete(void *p);

enum {
	REL_TC_FREE = REL_API0, /* tc_free(p) */
	REL_TC_FREE_SIZED = REL_API1, /* tc_free_sized(p, size) */
	REL_TC_DELETE = REL_API2, /* tc_delete(p) */
};

const char ms_prog[] = "alloc_tcmalloc";
unsigned int ms_family = MS_FAM_PVALLOC | MS_FAM_REALLOC_ZERO_FREES;

void api_init(void)
{
}

static unsigned int pick_rel(struct thread_state *ts)
{
	static const unsigned int rels[] = {
		REL_FREE,
		REL_TC_FREE,
#ifdef HAVE_TC_FREE_SIZED
		REL_TC_FREE_SIZED,
#endif
	};

	return rels[ms_rnd(ts) % (sizeof(rels) / sizeof(rels[0]))];
}

static struct block got(struct thread_state *ts, enum ms_call c, void *p,
			size_t n)
{
	ms_call(ts, c);
	return ms_got(ts, p, n, pick_rel(ts), 0);
}

/*
 * A block from an aligned call is never given to tc_free_sized: its size
 * class is that of the aligned request, not of the size asked for.
 */
static struct block got_aligned(struct thread_state *ts, enum ms_call c,
				void *p, size_t n)
{
	unsigned int rel = pick_rel(ts);

	ms_call(ts, c);
	return ms_got(ts, p, n, rel == REL_FREE ? REL_FREE : REL_TC_FREE, 0);
}

static void do_realloc(struct thread_state *ts, struct block *b, size_t n)
{
	ms_call(ts, C_tc_realloc);
	ms_realloc_done(ts, b, tc_realloc(b->p, n), n, 1);
}

void api_iteration(struct thread_state *ts, unsigned int i)
{
	static const size_t bad_align[] = { 0, 4, 12, 24, 48, 3 * 4096 };
	struct block c, d, fence;
	size_t n, m, al;
	void *p;
	int rc;

	/* tc_malloc (0 bytes too), tc_calloc. */
	n = ms_range(ts, 1, 4096);
	ms_settle(ts, got(ts, C_tc_malloc, tc_malloc(n), n));
	ms_settle(ts, got(ts, C_tc_malloc, tc_malloc(0), 0));
	n = ms_range(ts, 1, 32);
	m = ms_range(ts, 1, 64);
	ms_settle(ts, got(ts, C_tc_calloc, tc_calloc(n, m), n * m));

	/* Failures: a huge size, an overflowing n * m. */
	n = ms_huge_size + ms_range(ts, 0, 4096);
	ms_call(ts, C_tc_malloc);
	ms_expect_null(ts, tc_malloc(n), n, REL_TC_FREE, 0);
	ms_call(ts, C_tc_calloc);
	if (tc_calloc(ms_overflow_n, 16))
		ms_fatal("tc_calloc overflow returned a block");
	ms_failed(ts);

	/* tc_realloc: from NULL, past a fence, shrinking, same size, 0. */
	c = (struct block){ NULL, 0, pick_rel(ts), 0 };
	do_realloc(ts, &c, ms_range(ts, 16, 512));
	n = ms_range(ts, 16, 48);
	fence = got(ts, C_tc_malloc, tc_malloc(n), n);
	if (c.p) {
		do_realloc(ts, &c, c.size + ms_range(ts, 8192, 40960));
		do_realloc(ts, &c, c.size - c.size / 4);
		do_realloc(ts, &c, c.size);
		if (i % 4 == 0)
			do_realloc(ts, &c, 0);
	}
	ms_settle(ts, fence);
	ms_settle(ts, c);

	/* The aligned forms; a bad alignment is EINVAL. */
	al = ms_pow2(ts, 3, 12);
	n = ms_range(ts, 1, 3000);
	ms_settle(ts, got_aligned(ts, C_tc_memalign, tc_memalign(al, n), n));

	p = NULL;
	al = ms_pow2(ts, 3, 12);
	n = ms_range(ts, 1, 3000);
	rc = tc_posix_memalign(&p, al, n);
	ms_settle(ts,
		  got_aligned(ts, C_tc_posix_memalign, rc == 0 ? p : NULL, n));

	p = NULL;
	n = ms_range(ts, 1, 512);
	ms_call(ts, C_tc_posix_memalign);
	rc = tc_posix_memalign(
		&p, bad_align[i % (sizeof(bad_align) / sizeof(bad_align[0]))],
		n);
	if (rc == 0)
		ms_expect_null(ts, p, n, REL_TC_FREE, 0);
	else
		ms_failed(ts);

	n = ms_range(ts, 1, 6000);
	ms_settle(ts, got_aligned(ts, C_tc_valloc, tc_valloc(n), n));
	n = ms_range(ts, 1, 6000);
	ms_settle(ts, got_aligned(ts, C_tc_pvalloc, tc_pvalloc(n), n));

	/* The C entry of operator new (it would throw on failure). */
	n = ms_range(ts, 1, 2000);
	ms_call(ts, C_tc_new);
	ms_settle(ts, ms_got(ts, tc_new(n), n, REL_TC_DELETE, 0));

	/* Queries count for nothing. */
	n = ms_range(ts, 1, 2000);
	d = got(ts, C_tc_malloc, tc_malloc(n), n);
	if (d.p) {
		ms_call(ts, C_tc_malloc_size);
		if (tc_malloc_size(d.p) < d.size)
			ms_unexpected(ts);
	}
	ms_settle(ts, d);
	ms_call(ts, C_tc_nallocx);
	if (tc_nallocx(ms_range(ts, 1, 100000), 0) == 0)
		ms_unexpected(ts);
}

void api_release(struct thread_state *ts, struct block *b)
{
	switch (b->rel) {
	case REL_TC_FREE:
		ms_call(ts, C_tc_free);
		tc_free(b->p);
		break;
#ifdef HAVE_TC_FREE_SIZED
	case REL_TC_FREE_SIZED:
		ms_call(ts, C_tc_free_sized);
		tc_free_sized(b->p, b->size);
		break;
#endif
	case REL_TC_DELETE:
		ms_call(ts, C_tc_delete);
		tc_delete(b->p);
		break;
	default:
		ms_fatal("api_release: not a tcmalloc block");
	}
}

struct block api_handoff(struct thread_state *ts, size_t n)
{
	/* Freed by the next thread with tc_free_sized (or tc_free). */
	ms_call(ts, C_tc_malloc);
#ifdef HAVE_TC_FREE_SIZED
	return ms_got(ts, tc_malloc(n), n, REL_TC_FREE_SIZED, 0);
#else
	return ms_got(ts, tc_malloc(n), n, REL_TC_FREE, 0);
#endif
}
