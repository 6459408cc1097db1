/* SPDX-License-Identifier: MIT */
/*
 * alloc_common.h - the harness shared by the per-allocator ground-truth
 * targets (alloc_jemalloc, alloc_mimalloc, alloc_tcmalloc).
 *
 * alloc_common.c holds what alloc_family.c does (threads, gate, handoff
 * ring, the malloc-family mix, the TRUTH line, --baseline/--wait-go/--hold);
 * each allocator's file adds a mix over that allocator's own API and
 * alloc_cxx.cc one over C++ operator new/delete. The accounting rule is
 * alloc_family's (README.md, "Accounting rule"): one allocation of the size
 * asked for per successful allocating call, one free of the size it was
 * asked with per release of a block we hold; the counters follow what each
 * call returned, never what we expected it to return.
 *
 * This header is included from C and C++: the thread state is opaque here.
 */
#ifndef MEMSCOPE_ALLOC_COMMON_H
#define MEMSCOPE_ALLOC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * How a block is given back, decided when it is allocated. The C++ kinds
 * are released by alloc_cxx.cc, the API kinds by the allocator's file.
 */
enum ms_rel {
	REL_FREE, /* free(p) */
	REL_CXX_DELETE, /* ::operator delete(p)            _ZdlPv */
	REL_CXX_DELETE_SIZED, /* ::operator delete(p, n)         _ZdlPvm */
	REL_CXX_DELETE_ARRAY, /* ::operator delete[](p)          _ZdaPv */
	REL_CXX_DELETE_ARRAY_SIZED, /* ::operator delete[](p, n)   _ZdaPvm */
	REL_CXX_DELETE_ALIGNED, /* ::operator delete(p, n, al)  _ZdlPvmSt11align_val_t */
	REL_API0, /* the allocator's own kinds from here on */
	REL_API1,
	REL_API2,
	REL_API3,
};

struct block {
	void *p;
	size_t size; /* the size it was asked with */
	unsigned int rel; /* enum ms_rel */
	unsigned int align; /* alignment asked for, 0 if none */
};

/*
 * Every call the targets make, by the name of the symbol the program calls
 * (C++ operators by their mangled names). --stats prints how often each
 * was called, failures included, so a tracer's per-probe hit counts can
 * be compared with what the program did.
 */
/* One line per allocator: */
// clang-format off
#define MS_CALLS(X)							\
	X(malloc) X(calloc) X(realloc) X(reallocarray) X(free)		\
	X(posix_memalign) X(aligned_alloc) X(memalign) X(valloc)	\
	X(pvalloc) X(malloc_usable_size)				\
	X(mallocx) X(rallocx) X(xallocx) X(sallocx) X(dallocx)		\
	X(sdallocx) X(nallocx) X(mallctl)				\
	X(mi_malloc) X(mi_calloc) X(mi_zalloc) X(mi_realloc)		\
	X(mi_expand) X(mi_free) X(mi_free_size) X(mi_malloc_aligned)	\
	X(mi_zalloc_aligned) X(mi_usable_size) X(mi_good_size)		\
	X(tc_malloc) X(tc_calloc) X(tc_realloc) X(tc_free)		\
	X(tc_free_sized) X(tc_memalign) X(tc_posix_memalign)		\
	X(tc_valloc) X(tc_pvalloc) X(tc_new) X(tc_delete)		\
	X(tc_malloc_size) X(tc_nallocx)					\
	X(_Znwm) X(_Znam) X(_ZnwmRKSt9nothrow_t) X(_ZnamRKSt9nothrow_t)	\
	X(_ZnwmSt11align_val_t) X(_ZdlPv) X(_ZdlPvm) X(_ZdaPv)		\
	X(_ZdaPvm) X(_ZdlPvmSt11align_val_t)
// clang-format on

enum ms_call {
#define MS_CALL_ENUM(name) C_##name,
	MS_CALLS(MS_CALL_ENUM)
#undef MS_CALL_ENUM
		MS_NCALLS
};

struct thread_state;

/* ---- provided by alloc_common.c -------------------------------------- */

/* Deterministic per-thread numbers (splitmix64), as in alloc_family. */
uint64_t ms_rnd(struct thread_state *ts);
size_t ms_range(struct thread_state *ts, size_t lo, size_t hi);
size_t ms_pow2(struct thread_state *ts, unsigned int lo_shift,
	       unsigned int hi_shift);
/* One call made (statistics only: never part of the truth). */
void ms_call(struct thread_state *ts, enum ms_call c);

/*
 * A call meant to allocate returned p: non-NULL counts one allocation of
 * size, released later with rel.
 */
struct block ms_got(struct thread_state *ts, void *p, size_t size,
		    unsigned int rel, unsigned int align);
/* Count an allocation / a free that is not kept in a struct block. */
void ms_count_alloc(struct thread_state *ts, size_t size);
void ms_count_free(struct thread_state *ts, size_t size);
/* Give b back the way b->rel says, count the free, clear b. */
void ms_release(struct thread_state *ts, struct block *b);
/* Keep b until exit, free it now, or free it a few steps later. */
void ms_settle(struct thread_state *ts, struct block b);
/* A call expected to fail: count a surprise success like any allocation. */
void ms_expect_null(struct thread_state *ts, void *p, size_t size,
		    unsigned int rel, unsigned int align);
/* A call failed as expected (counts for nothing). */
void ms_failed(struct thread_state *ts);
/* A surprise: something that should have failed did not, or the reverse. */
void ms_unexpected(struct thread_state *ts);
/*
 * A realloc-like call on *b returned q for new size n: non-NULL frees the
 * old block (same address or not) and allocates n. NULL is a failure that
 * leaves *b alone, except when n == 0 and zero_frees (glibc, jemalloc's
 * default opt.zero_realloc:free, tcmalloc): then *b was freed.
 */
void ms_realloc_done(struct thread_state *ts, struct block *b, void *q,
		     size_t n, int zero_frees);
/*
 * A successful in-place resize (xallocx, mi_expand) of *b to n bytes: when
 * n differs from b->size it counts as a realloc, one free of the old size
 * and one allocation of n at the same address; the same size counts
 * nothing.
 */
void ms_resized(struct thread_state *ts, struct block *b, size_t n);
/* A C library that breaks its own documentation leaves no truth. */
void __attribute__((noreturn)) ms_fatal(const char *why);

/* Sizes compilers cannot see through. */
extern volatile size_t ms_huge_size; /* SIZE_MAX / 2 + 1 */
extern volatile size_t ms_overflow_n; /* SIZE_MAX / 8 + 1 */

/* ---- provided by the allocator's file --------------------------------- */

/* Program name for messages and usage. */
extern const char ms_prog[];
/* Which malloc-family functions the allocator provides (MS_FAM_*). */
#define MS_FAM_PVALLOC 1u /* pvalloc is the allocator's own */
#define MS_FAM_REALLOC_ZERO_FREES 2u /* realloc(p, 0) frees p, returns NULL */
extern unsigned int ms_family; /* may be set by api_init() */
/* Called once from main before any thread starts, in every mode. */
void api_init(void);
/* One iteration of the allocator's own API. */
void api_iteration(struct thread_state *ts, unsigned int i);
/* Give back a block of kind REL_API*; the caller counts the free. */
void api_release(struct thread_state *ts, struct block *b);
/* Allocate a block of n bytes that the next thread will free. */
struct block api_handoff(struct thread_state *ts, size_t n);

/* ---- provided by alloc_cxx.cc ----------------------------------------- */

void cxx_iteration(struct thread_state *ts, unsigned int i);
/* Give back a block of a REL_CXX_* kind; the caller counts the free. */
void cxx_release(struct thread_state *ts, struct block *b);

#ifdef __cplusplus
}
#endif

#endif
