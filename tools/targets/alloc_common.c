// SPDX-License-Identifier: MIT
/*
 * alloc_common.c - the harness of the per-allocator ground-truth targets:
 * alloc_family.c's threads, handoff ring, malloc-family mix and TRUTH line,
 * plus a mix over the allocator's own API (alloc_<allocator>.c) and over
 * C++ operator new/delete (alloc_cxx.cc) in every iteration.
 *
 *   totals(full run) - totals(--baseline run) == TRUTH
 *
 * The baseline run does all the work that is not a test allocation
 * (threads created and joined in the same order, same handoff protocol,
 * same write() calls, api_init()), so what libc, libstdc++ and the
 * allocator allocate behind our back cancels out in the difference.
 *
 * Accounting (README.md "Accounting rule"; tools/targets/README.md has the
 * per-API table): every successful allocating call is one allocation of the
 * size asked for (calloc-like calls: n * m; valloc and pvalloc: the
 * argument; realloc-like calls: the new size); every release of a block we
 * hold is one free of the size it was asked with: free() and every other
 * release function, the old block of a successful realloc-like call (even
 * when the address does not change), realloc(p, 0) where it frees p. A
 * successful in-place resize that changes the size (xallocx, mi_expand) is
 * a realloc: one free of the old size, one allocation of the new one.
 * Failed calls, free(NULL), size queries and statistics count for nothing.
 * The counters follow what each call returned, never what we expected it
 * to return.
 *
 * The bookkeeping never touches the heap: static arrays only, no stdio,
 * numbers formatted by hand and written with write(2).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc_common.h"

#define MAX_THREADS 64
#define MAX_ITERS 100000
/* ~20 blocks per iteration stay live; beyond this cap they are freed. */
#define LIVE_CAP 32768
#define DELAY_SLOTS 8
#define HANDOFF_MAX 64
#define HANDOFF_EVERY 8

static const char *const call_names[MS_NCALLS] = {
#define MS_CALL_NAME(name) #name,
	MS_CALLS(MS_CALL_NAME)
#undef MS_CALL_NAME
};

struct thread_state {
	unsigned int idx;
	uint64_t rng;

	/* The ground truth, kept per thread so that no locks are needed. */
	uint64_t alloc_count;
	uint64_t free_count;
	uint64_t alloc_bytes;
	uint64_t free_bytes;

	/* Coverage statistics (--stats): do the interesting paths happen? */
	uint64_t moved; /* realloc-like call returned a new address */
	uint64_t in_place; /* ... the same address, or a resize in place */
	uint64_t failed_as_expected;
	uint64_t unexpected; /* an expected failure succeeded or vice versa */
	uint64_t calls[MS_NCALLS];

	/* Blocks kept until the end (the live set). */
	struct block *live;
	size_t nlive;

	/* Blocks freed a few allocations later rather than at once. */
	struct block delay[DELAY_SLOTS];
	unsigned int delay_next;

	/* Blocks this thread allocates for the next thread to free. */
	struct block out[HANDOFF_MAX];
	unsigned int nout;
	atomic_int out_ready;

	pthread_t tid;
} __attribute__((aligned(64)));

static struct thread_state threads[MAX_THREADS];
static struct block live_blocks[MAX_THREADS][LIVE_CAP];

static unsigned int nthreads = 4;
static unsigned int niters = 200;
static bool baseline;
static atomic_int gate_open;

volatile size_t ms_huge_size = SIZE_MAX / 2 + 1;
volatile size_t ms_overflow_n = SIZE_MAX / 8 + 1;

/* ---- output without stdio --------------------------------------------- */

static void write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void write_str(int fd, const char *s)
{
	write_all(fd, s, strlen(s));
}

struct line {
	char buf[4096];
	size_t len;
};

static void line_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = *s++;
}

static void line_u64(struct line *l, uint64_t v)
{
	char tmp[21];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n > 0 && l->len < sizeof(l->buf) - 1)
		l->buf[l->len++] = tmp[--n];
}

/* Block until a line (or EOF) arrives on stdin; read(2), not stdio. */
static void wait_line(void)
{
	char c;

	for (;;) {
		ssize_t n = read(0, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			return;
	}
}

static void __attribute__((noreturn)) usage(const char *why)
{
	write_str(2, ms_prog);
	write_str(2, ": ");
	write_str(2, why);
	write_str(2, "\nusage: ");
	write_str(2, ms_prog);
	write_str(2, " [--threads T] [--iters N] [--baseline] [--wait-go] "
		     "[--hold] [--stats]\n");
	_exit(2);
}

void ms_fatal(const char *why)
{
	write_str(2, ms_prog);
	write_str(2, ": ");
	write_str(2, why);
	write_str(2, "\n");
	_exit(1);
}

/* ---- deterministic sizes ---------------------------------------------- */

uint64_t ms_rnd(struct thread_state *ts)
{
	uint64_t z = (ts->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

size_t ms_range(struct thread_state *ts, size_t lo, size_t hi)
{
	return lo + (size_t)(ms_rnd(ts) % (hi - lo + 1));
}

size_t ms_pow2(struct thread_state *ts, unsigned int lo_shift,
	       unsigned int hi_shift)
{
	return (size_t)1 << ms_range(ts, lo_shift, hi_shift);
}

void ms_call(struct thread_state *ts, enum ms_call c)
{
	ts->calls[c]++;
}

/* ---- accounting ------------------------------------------------------- */

/*
 * Write to the block through a volatile pointer: the memory is really used,
 * so no compiler may drop an allocation/free pair as dead (the build also
 * passes -fno-builtin-malloc and friends).
 */
static void touch(void *p, size_t size)
{
	volatile unsigned char *c = p;

	if (!p || !size)
		return;
	c[0] = (unsigned char)size;
	c[size - 1] = (unsigned char)size;
}

void ms_count_alloc(struct thread_state *ts, size_t size)
{
	ts->alloc_count++;
	ts->alloc_bytes += size;
}

void ms_count_free(struct thread_state *ts, size_t size)
{
	ts->free_count++;
	ts->free_bytes += size;
}

struct block ms_got(struct thread_state *ts, void *p, size_t size,
		    unsigned int rel, unsigned int align)
{
	struct block b = { p, size, rel, align };

	if (p) {
		ms_count_alloc(ts, size);
		touch(p, size);
	}
	return b;
}

void ms_release(struct thread_state *ts, struct block *b)
{
	if (!b->p)
		return;
	switch (b->rel) {
	case REL_FREE:
		ms_call(ts, C_free);
		free(b->p);
		break;
	case REL_CXX_DELETE:
	case REL_CXX_DELETE_SIZED:
	case REL_CXX_DELETE_ARRAY:
	case REL_CXX_DELETE_ARRAY_SIZED:
	case REL_CXX_DELETE_ALIGNED:
		cxx_release(ts, b);
		break;
	default:
		api_release(ts, b);
		break;
	}
	ms_count_free(ts, b->size);
	b->p = NULL;
}

void ms_settle(struct thread_state *ts, struct block b)
{
	unsigned int r;
	struct block *slot;

	if (!b.p)
		return;
	r = (unsigned int)(ms_rnd(ts) % 8);
	if (r < 4 && ts->nlive < LIVE_CAP) {
		ts->live[ts->nlive++] = b;
	} else if (r < 6) {
		ms_release(ts, &b);
	} else {
		slot = &ts->delay[ts->delay_next];
		ts->delay_next = (ts->delay_next + 1) % DELAY_SLOTS;
		ms_release(ts, slot);
		*slot = b;
	}
}

void ms_failed(struct thread_state *ts)
{
	ts->failed_as_expected++;
}

void ms_unexpected(struct thread_state *ts)
{
	ts->unexpected++;
}

void ms_expect_null(struct thread_state *ts, void *p, size_t size,
		    unsigned int rel, unsigned int align)
{
	if (!p) {
		ts->failed_as_expected++;
		return;
	}
	ts->unexpected++;
	ms_settle(ts, ms_got(ts, p, size, rel, align));
}

void ms_realloc_done(struct thread_state *ts, struct block *b, void *q,
		     size_t n, int zero_frees)
{
	if (!q) {
		if (n == 0 && b->p && zero_frees) {
			ms_count_free(ts, b->size);
			b->p = NULL;
		}
		return;
	}
	if (b->p) {
		ms_count_free(ts, b->size);
		if (q == b->p)
			ts->in_place++;
		else
			ts->moved++;
	}
	*b = ms_got(ts, q, n, b->rel, b->align);
}

void ms_resized(struct thread_state *ts, struct block *b, size_t n)
{
	if (n == b->size)
		return;
	ts->in_place++;
	ms_count_free(ts, b->size);
	*b = ms_got(ts, b->p, n, b->rel, b->align);
}

/* ---- the malloc family, as alloc_family does it ------------------------ */

static bool zero_frees(void)
{
	return ms_family & MS_FAM_REALLOC_ZERO_FREES;
}

static void do_realloc(struct thread_state *ts, struct block *b, size_t n)
{
	ms_call(ts, C_realloc);
	ms_realloc_done(ts, b, realloc(b->p, n), n, zero_frees());
}

/*
 * reallocarray: the same as realloc of n * m, except that an overflowing
 * n * m fails with ENOMEM before anything is touched.
 */
static void do_reallocarray(struct thread_state *ts, struct block *b, size_t n,
			    size_t m)
{
	size_t total;
	bool overflow = __builtin_mul_overflow(n, m, &total);
	void *q;

	ms_call(ts, C_reallocarray);
	q = reallocarray(b->p, n, m);
	if (overflow) {
		/* There is no size to count a success with: give up. */
		if (q)
			ms_fatal("reallocarray overflow returned a block");
		ts->failed_as_expected++;
		return;
	}
	ms_realloc_done(ts, b, q, total, zero_frees());
}

static struct block fam(struct thread_state *ts, enum ms_call c, void *p,
			size_t size)
{
	ms_call(ts, c);
	return ms_got(ts, p, size, REL_FREE, 0);
}

static void family_iteration(struct thread_state *ts, unsigned int i)
{
	static const size_t bad_align[] = { 0, 4, 12, 24, 48, 3 * 4096 };
	struct block c, fence, d, e, g, h;
	size_t n, m, al;
	void *p;
	int rc;

	/* Plain malloc, and malloc(0): a real allocation of 0 bytes. */
	n = ms_range(ts, 1, 2048);
	ms_settle(ts, fam(ts, C_malloc, malloc(n), n));
	ms_settle(ts, fam(ts, C_malloc, malloc(0), 0));

	/* calloc counts n * m. */
	n = ms_range(ts, 1, 32);
	m = ms_range(ts, 1, 64);
	ms_settle(ts, fam(ts, C_calloc, calloc(n, m), n * m));

	/* realloc(NULL, n), then a large growth past a fence block. */
	c = (struct block){ NULL, 0, REL_FREE, 0 };
	do_realloc(ts, &c, ms_range(ts, 16, 512));
	n = ms_range(ts, 16, 48);
	fence = fam(ts, C_malloc, malloc(n), n);
	do_realloc(ts, &c, c.size + ms_range(ts, 8192, 40960));
	ms_settle(ts, fence);
	ms_settle(ts, c);

	/* Shrinking realloc and realloc to the same size. */
	n = ms_range(ts, 64, 1088);
	d = fam(ts, C_malloc, malloc(n), n);
	if (d.p) {
		do_realloc(ts, &d, d.size - d.size / 4);
		do_realloc(ts, &d, d.size);
	}
	/* malloc_usable_size counts for nothing. */
	if (d.p) {
		ms_call(ts, C_malloc_usable_size);
		if (malloc_usable_size(d.p) < d.size)
			ts->unexpected++;
	}
	ms_settle(ts, d);

	/*
	 * realloc(p, 0): frees p and returns NULL in glibc, jemalloc
	 * (opt.zero_realloc "free") and tcmalloc; mimalloc returns a new
	 * 0-byte block (free + allocation of 0).
	 */
	n = ms_range(ts, 1, 700);
	e = fam(ts, C_malloc, malloc(n), n);
	if (e.p)
		do_realloc(ts, &e, 0);
	ms_settle(ts, e);

	/* reallocarray: from NULL, growing an existing block, overflowing. */
	h = (struct block){ NULL, 0, REL_FREE, 0 };
	do_reallocarray(ts, &h, ms_range(ts, 1, 16), ms_range(ts, 1, 40));
	ms_settle(ts, h);
	n = ms_range(ts, 8, 256);
	g = fam(ts, C_malloc, malloc(n), n);
	if (g.p) {
		do_reallocarray(ts, &g, ms_range(ts, 2, 64),
				ms_range(ts, 8, 128));
		/* Every other time n * m wraps to exactly 0. */
		n = i % 2 ? ms_range(ts, 1, 99) : 0;
		do_reallocarray(ts, &g, ms_overflow_n + n, 16);
	}
	ms_settle(ts, g);

	/* Failed allocations and free(NULL) count for nothing. */
	n = ms_huge_size + ms_range(ts, 0, 4096);
	ms_call(ts, C_malloc);
	ms_expect_null(ts, malloc(n), n, REL_FREE, 0);
	ms_call(ts, C_calloc);
	if (calloc(ms_overflow_n, 16))
		ms_fatal("calloc overflow returned a block");
	ts->failed_as_expected++;
	ms_call(ts, C_free);
	free(NULL);

	/* posix_memalign: a bad alignment is EINVAL and touches nothing. */
	p = NULL;
	n = ms_range(ts, 1, 512);
	ms_call(ts, C_posix_memalign);
	rc = posix_memalign(
		&p, bad_align[i % (sizeof(bad_align) / sizeof(bad_align[0]))],
		n);
	if (rc == 0)
		ms_expect_null(ts, p, n, REL_FREE, 0);
	else
		ts->failed_as_expected++;

	p = NULL;
	al = ms_pow2(ts, 3, 12);
	n = ms_range(ts, 1, 3000);
	rc = posix_memalign(&p, al, n);
	ms_settle(ts, fam(ts, C_posix_memalign, rc == 0 ? p : NULL, n));

	/* aligned_alloc, with a size that is a multiple of the alignment. */
	al = ms_pow2(ts, 4, 10);
	n = al * ms_range(ts, 1, 4);
	ms_settle(ts, fam(ts, C_aligned_alloc, aligned_alloc(al, n), n));

	al = ms_pow2(ts, 4, 12);
	n = ms_range(ts, 1, 2000);
	ms_settle(ts, fam(ts, C_memalign, memalign(al, n), n));

	/* valloc and pvalloc count the size asked for, not the page. */
	n = ms_range(ts, 1, 6000);
	ms_settle(ts, fam(ts, C_valloc, valloc(n), n));
	/*
	 * jemalloc has no pvalloc: glibc's would hand out a block of
	 * glibc's own heap, which jemalloc's free() cannot take back.
	 */
	n = ms_range(ts, 1, 6000);
	if (ms_family & MS_FAM_PVALLOC)
		ms_settle(ts, fam(ts, C_pvalloc, pvalloc(n), n));
}

/* ---- the iteration ---------------------------------------------------- */

static void one_iteration(struct thread_state *ts, unsigned int i)
{
	struct block a;
	size_t n;

	family_iteration(ts, i);
	api_iteration(ts, i);
	cxx_iteration(ts, i);

	/*
	 * Some blocks go to the next thread, which frees them: malloc'd
	 * ones, and every other time one of the allocator's own API.
	 */
	if (i % HANDOFF_EVERY == 0 && ts->nout < HANDOFF_MAX) {
		n = ms_range(ts, 24, 4000);
		if (i % (2 * HANDOFF_EVERY) == 0)
			a = fam(ts, C_malloc, malloc(n), n);
		else
			a = api_handoff(ts, n);
		if (a.p)
			ts->out[ts->nout++] = a;
	}
}

static void run_mix(struct thread_state *ts)
{
	unsigned int i;

	for (i = 0; i < niters; i++)
		one_iteration(ts, i);
	for (i = 0; i < DELAY_SLOTS; i++)
		ms_release(ts, &ts->delay[i]);
}

/*
 * All threads wait here until main has created every one of them, so that
 * each creation finds the same state in full and baseline runs.
 */
static void wait_gate(void)
{
	while (!atomic_load_explicit(&gate_open, memory_order_acquire))
		sched_yield();
}

static void *worker(void *arg)
{
	struct thread_state *ts = arg;
	struct thread_state *prev;
	unsigned int i;

	wait_gate();
	if (!baseline)
		run_mix(ts);

	/* Publish our handoff blocks, then free those of the previous one. */
	atomic_store_explicit(&ts->out_ready, 1, memory_order_release);
	prev = &threads[(ts->idx + nthreads - 1) % nthreads];
	while (!atomic_load_explicit(&prev->out_ready, memory_order_acquire))
		sched_yield();
	for (i = 0; i < prev->nout; i++)
		ms_release(ts, &prev->out[i]);
	return NULL;
}

/* ---- main ------------------------------------------------------------- */

static unsigned int parse_uint(const char *s, unsigned int lo, unsigned int hi,
			       const char *what)
{
	char *end;
	unsigned long v;

	if (!s)
		usage(what);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < lo || v > hi)
		usage(what);
	return (unsigned int)v;
}

int main(int argc, char **argv)
{
	uint64_t alloc_count = 0, free_count = 0, alloc_bytes = 0;
	uint64_t free_bytes = 0, live_count = 0, live_bytes = 0;
	uint64_t moved = 0, in_place = 0, failed = 0, unexpected = 0;
	static uint64_t calls[MS_NCALLS];
	bool wait_go = false, hold = false, stats = false;
	static struct line l;
	unsigned int t, c;
	size_t k;
	int i, rc;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads"))
			nthreads = parse_uint(argv[++i], 1, MAX_THREADS,
					      "--threads needs 1..64");
		else if (!strcmp(argv[i], "--iters"))
			niters = parse_uint(argv[++i], 0, MAX_ITERS,
					    "--iters needs 0..100000");
		else if (!strcmp(argv[i], "--baseline"))
			baseline = true;
		else if (!strcmp(argv[i], "--wait-go"))
			wait_go = true;
		else if (!strcmp(argv[i], "--hold"))
			hold = true;
		else if (!strcmp(argv[i], "--stats"))
			stats = true;
		else
			usage("unknown argument");
	}

	api_init();

	if (wait_go) {
		write_str(1, "WAITING\n");
		wait_line();
	}

	for (t = 0; t < nthreads; t++) {
		threads[t].idx = t;
		threads[t].rng = 0x6d656d73636f7065ULL * (t + 1);
		threads[t].live = live_blocks[t];
		rc = pthread_create(&threads[t].tid, NULL, worker, &threads[t]);
		if (rc)
			ms_fatal("pthread_create failed");
	}
	atomic_store_explicit(&gate_open, 1, memory_order_release);
	for (t = 0; t < nthreads; t++)
		pthread_join(threads[t].tid, NULL);

	for (t = 0; t < nthreads; t++) {
		struct thread_state *ts = &threads[t];

		alloc_count += ts->alloc_count;
		free_count += ts->free_count;
		alloc_bytes += ts->alloc_bytes;
		free_bytes += ts->free_bytes;
		moved += ts->moved;
		in_place += ts->in_place;
		failed += ts->failed_as_expected;
		unexpected += ts->unexpected;
		for (c = 0; c < MS_NCALLS; c++)
			calls[c] += ts->calls[c];
		for (k = 0; k < ts->nlive; k++) {
			live_count++;
			live_bytes += ts->live[k].size;
		}
	}

	/* The live set must agree with the running counters. */
	if (live_count != alloc_count - free_count ||
	    live_bytes != alloc_bytes - free_bytes)
		ms_fatal(
			"internal error: live set does not match the counters");

	if (stats) {
		line_str(&l, "STATS moved=");
		line_u64(&l, moved);
		line_str(&l, " in_place=");
		line_u64(&l, in_place);
		line_str(&l, " failed_as_expected=");
		line_u64(&l, failed);
		line_str(&l, " unexpected=");
		line_u64(&l, unexpected);
		line_str(&l, "\nCALLS");
		for (c = 0; c < MS_NCALLS; c++) {
			if (!calls[c])
				continue;
			line_str(&l, " ");
			line_str(&l, call_names[c]);
			line_str(&l, "=");
			line_u64(&l, calls[c]);
		}
		line_str(&l, "\n");
		write_all(2, l.buf, l.len);
		l.len = 0;
	}

	line_str(&l, "TRUTH {\"alloc_count\":");
	line_u64(&l, alloc_count);
	line_str(&l, ",\"free_count\":");
	line_u64(&l, free_count);
	line_str(&l, ",\"alloc_bytes\":");
	line_u64(&l, alloc_bytes);
	line_str(&l, ",\"free_bytes\":");
	line_u64(&l, free_bytes);
	line_str(&l, ",\"live_count\":");
	line_u64(&l, live_count);
	line_str(&l, ",\"live_bytes\":");
	line_u64(&l, live_bytes);
	line_str(&l, "}\n");
	write_all(2, l.buf, l.len);

	if (hold) {
		write_str(1, "READY\n");
		wait_line();
	}

	/*
	 * _exit, not exit: no libc or C++ teardown runs after the truth
	 * line. The live set is deliberately never freed.
	 */
	_exit(0);
}
