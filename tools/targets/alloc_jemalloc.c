// SPDX-License-Identifier: MIT
/*
 * alloc_jemalloc - ground truth for a program linked with -ljemalloc
 * (Debian's libjemalloc.so.2, unprefixed: malloc, mallocx, ... are
 * jemalloc's), or statically with libjemalloc_pic.a (alloc_jemalloc_static).
 * alloc_common.c runs the malloc family (pvalloc left out: jemalloc has
 * none, and glibc's pvalloc hands out a block of glibc's heap that
 * jemalloc's free() cannot take back; reallocarray is glibc's, which calls
 * realloc, jemalloc's), alloc_cxx.cc operator new/delete (jemalloc's own
 * in Debian), and this file jemalloc's non-standard API.
 *
 * How each call counts:
 *   mallocx(n, flags)          one allocation of n (any alignment, zeroed
 *                              or not); NULL counts nothing
 *   rallocx(p, n, flags)       like realloc: one free of p's size and one
 *                              allocation of n, moved or not; NULL is a
 *                              failure that leaves p alone
 *   xallocx(p, n, 0, flags)    returns the real size r: r >= n is a
 *                              success, and when n differs from p's size it
 *                              counts like a realloc (one free of the old
 *                              size, one allocation of n, same address);
 *                              n == p's size, or r < n (could not grow in
 *                              place), counts nothing
 *   dallocx(p, flags), sdallocx(p, size, flags), free(p)
 *                              one free of p's size
 *   nallocx, sallocx, malloc_usable_size, mallctl   nothing
 * Blocks resized by xallocx are released with dallocx or free, never
 * sdallocx (its size must map to the block's size class).
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "alloc_common.h"

enum {
	REL_DALLOCX = REL_API0, /* dallocx(p, flags) */
	REL_SDALLOCX = REL_API1, /* sdallocx(p, size, flags) */
};

#ifdef ALLOC_JEMALLOC_STATIC
const char ms_prog[] = "alloc_jemalloc_static";
#else
const char ms_prog[] = "alloc_jemalloc";
#endif
unsigned int ms_family = MS_FAM_REALLOC_ZERO_FREES;

static int align_flags(unsigned int align)
{
	return align ? MALLOCX_ALIGN(align) : 0;
}

void api_init(void)
{
	const char *zr = NULL;
	size_t sz = sizeof(zr);

	/*
	 * realloc(p, 0) frees p unless MALLOC_CONF says zero_realloc:alloc
	 * (then it returns a block of 0 bytes, which counts either way).
	 */
	if (mallctl("opt.zero_realloc", (void *)&zr, &sz, NULL, 0) == 0 && zr &&
	    strcmp(zr, "free") != 0)
		ms_family &= ~MS_FAM_REALLOC_ZERO_FREES;
}

/* free, dallocx or sdallocx, chosen at allocation time. */
static unsigned int pick_rel(struct thread_state *ts)
{
	static const unsigned int rels[] = { REL_FREE, REL_DALLOCX,
					     REL_SDALLOCX };

	return rels[ms_rnd(ts) % 3];
}

static struct block do_mallocx(struct thread_state *ts, size_t n, int flags,
			       unsigned int align, unsigned int rel)
{
	ms_call(ts, C_mallocx);
	return ms_got(ts, mallocx(n, flags | align_flags(align)), n, rel,
		      align);
}

static void do_rallocx(struct thread_state *ts, struct block *b, size_t n)
{
	void *q;

	ms_call(ts, C_rallocx);
	q = rallocx(b->p, n, align_flags(b->align));
	/* n is never 0 (undefined for rallocx): NULL is a failure. */
	ms_realloc_done(ts, b, q, n, 0);
}

/* xallocx without extra: r >= n is a success (counted by ms_resized). */
static void do_xallocx(struct thread_state *ts, struct block *b, size_t n,
		       bool expect_ok)
{
	size_t r;

	ms_call(ts, C_xallocx);
	r = xallocx(b->p, n, 0, align_flags(b->align));
	if (r >= n) {
		if (!expect_ok)
			ms_unexpected(ts);
		ms_resized(ts, b, n);
		if (b->rel == REL_SDALLOCX)
			b->rel = REL_DALLOCX;
	} else if (expect_ok) {
		ms_unexpected(ts);
	} else {
		ms_failed(ts);
	}
}

void api_iteration(struct thread_state *ts, unsigned int i)
{
	struct block a, c, d, e, fence;
	size_t n, r;
	unsigned int al;
	unsigned int narenas;
	size_t sz;

	/* mallocx: plain, aligned, zeroed, aligned and zeroed. */
	n = ms_range(ts, 1, 4096);
	ms_settle(ts, do_mallocx(ts, n, 0, 0, pick_rel(ts)));
	al = (unsigned int)ms_pow2(ts, 4, 12);
	n = ms_range(ts, 1, 3000);
	ms_settle(ts, do_mallocx(ts, n, 0, al, pick_rel(ts)));
	n = ms_range(ts, 1, 2000);
	ms_settle(ts, do_mallocx(ts, n, MALLOCX_ZERO, 0, pick_rel(ts)));
	n = ms_range(ts, 1, 1000);
	ms_settle(ts, do_mallocx(ts, n, MALLOCX_ZERO, 64, pick_rel(ts)));

	/* A mallocx that fails, and nallocx, which allocates nothing. */
	n = ms_huge_size + ms_range(ts, 0, 4096);
	ms_call(ts, C_mallocx);
	ms_expect_null(ts, mallocx(n, 0), n, REL_DALLOCX, 0);
	n = ms_range(ts, 1, 100000);
	ms_call(ts, C_nallocx);
	if (nallocx(n, 0) < n)
		ms_unexpected(ts);

	/*
	 * rallocx: growing past a fence block (usually moves), shrinking,
	 * the same size, and a size that cannot be had (fails, the block
	 * stays).
	 */
	c = do_mallocx(ts, ms_range(ts, 16, 512), 0, 0, pick_rel(ts));
	fence = do_mallocx(ts, ms_range(ts, 16, 48), 0, 0, pick_rel(ts));
	if (c.p) {
		do_rallocx(ts, &c, c.size + ms_range(ts, 8192, 40960));
		do_rallocx(ts, &c, c.size - c.size / 4);
		do_rallocx(ts, &c, c.size);
		ms_call(ts, C_rallocx);
		if (rallocx(c.p, ms_huge_size, 0))
			ms_fatal("rallocx of a huge size returned a block");
		ms_failed(ts);
	}
	ms_settle(ts, fence);
	ms_settle(ts, c);

	/* rallocx keeping an alignment. */
	al = (unsigned int)ms_pow2(ts, 5, 12);
	c = do_mallocx(ts, ms_range(ts, 1, 2000), 0, al, pick_rel(ts));
	if (c.p)
		do_rallocx(ts, &c, c.size + ms_range(ts, 1, 6000));
	ms_settle(ts, c);

	/*
	 * xallocx on a small block: up to its real size (a success that
	 * changes the size, unless it was already that size), to the same
	 * size (nothing), and far beyond its size class (fails).
	 */
	n = ms_range(ts, 17, 1000);
	d = do_mallocx(ts, n, 0, 0, pick_rel(ts));
	if (d.p) {
		ms_call(ts, C_sallocx);
		r = sallocx(d.p, 0);
		do_xallocx(ts, &d, r, true);
		do_xallocx(ts, &d, d.size, true);
		do_xallocx(ts, &d, d.size * 2 + 16384, false);
	}
	ms_settle(ts, d);

	/*
	 * xallocx on a large block: shrinking in place (succeeds), then
	 * growing, which succeeds only when the pages after it are free:
	 * counted from what it returned.
	 */
	n = ms_range(ts, 16385, 65536);
	e = do_mallocx(ts, n, 0, 0, pick_rel(ts));
	if (e.p) {
		do_xallocx(ts, &e, e.size / 2, true);
		n = e.size + ms_range(ts, 4096, 65536);
		ms_call(ts, C_xallocx);
		r = xallocx(e.p, n, 0, 0);
		if (r >= n) {
			ms_resized(ts, &e, n);
			if (e.rel == REL_SDALLOCX)
				e.rel = REL_DALLOCX;
		} else {
			ms_failed(ts);
		}
	}
	ms_settle(ts, e);

	/* A statistics read counts for nothing. */
	if (i % 16 == 0) {
		sz = sizeof(narenas);
		ms_call(ts, C_mallctl);
		if (mallctl("arenas.narenas", &narenas, &sz, NULL, 0) != 0)
			ms_unexpected(ts);
	}

	/* A block freed at once with sdallocx (the sized free). */
	n = ms_range(ts, 1, 8192);
	a = do_mallocx(ts, n, 0, 0, REL_SDALLOCX);
	ms_release(ts, &a);
}

void api_release(struct thread_state *ts, struct block *b)
{
	switch (b->rel) {
	case REL_DALLOCX:
		ms_call(ts, C_dallocx);
		dallocx(b->p, align_flags(b->align));
		break;
	case REL_SDALLOCX:
		ms_call(ts, C_sdallocx);
		sdallocx(b->p, b->size, align_flags(b->align));
		break;
	default:
		ms_fatal("api_release: not a jemalloc block");
	}
}

struct block api_handoff(struct thread_state *ts, size_t n)
{
	/* Freed by the next thread with sdallocx. */
	return do_mallocx(ts, n, 0, 0, REL_SDALLOCX);
}
