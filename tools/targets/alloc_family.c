// SPDX-License-Identifier: MIT
/*
 * alloc_family - a target program whose heap activity is known exactly.
 *
 * Integration tests run memscoped against this program and compare the
 * daemon's totals with the ground truth the program prints itself:
 *
 *   totals(full run) - totals(--baseline run) == TRUTH
 *
 * The baseline run does all the work that is not a test allocation (threads
 * created and joined in the same order, same handoff protocol, same write()
 * calls), so everything libc allocates behind our back (pthread_create's DTV
 * calloc, for example) cancels out in the difference.
 *
 * Accounting rule (the daemon's, followed here to the letter): every
 * successful call of the malloc family is one allocation of the size asked
 * for (calloc and reallocarray: n * m; valloc and pvalloc: the argument, not
 * the rounded size); every release of a block we hold is one free of the
 * size it was asked with: free(), the old block of a successful realloc or
 * reallocarray (even when the address does not change), and realloc(p, 0),
 * which frees p and returns NULL in glibc. Failed calls and free(NULL) count
 * for nothing; malloc(0) returning a pointer is an allocation of 0 bytes.
 * The counters are updated from what each call actually returned, never
 * from what we expected it to return, so the truth stays right even if libc
 * behaves differently from glibc 2.36.
 *
 * The bookkeeping itself must never touch the heap, or the truth would miss
 * our own allocations: static arrays only, no stdio (it allocates buffers),
 * no getopt error printing; numbers are formatted by hand and written with
 * write(2).
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

#define MAX_THREADS 64
#define MAX_ITERS 100000
/* ~7 blocks per iteration stay live; beyond this cap they are freed. */
#define LIVE_CAP 16384
#define DELAY_SLOTS 8
#define HANDOFF_MAX 64
#define HANDOFF_EVERY 8

struct block {
	void *p;
	size_t size;
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
	uint64_t moved; /* realloc returned a new address */
	uint64_t in_place; /* realloc returned the same address */
	uint64_t failed_as_expected;
	uint64_t unexpected; /* an expected failure succeeded or vice versa */

	/* Blocks kept until the end (the live set). */
	struct block *live;
	size_t nlive;

	/*
	 * Blocks freed a few allocations later rather than at once, so frees
	 * do not always follow their malloc immediately.
	 */
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

/*
 * Sizes that compilers cannot see through: gcc warns about (and may reason
 * about) constant sizes above PTRDIFF_MAX.
 */
static volatile size_t huge_size = SIZE_MAX / 2 + 1;
static volatile size_t overflow_n = SIZE_MAX / 8 + 1;

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
	char buf[512];
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
	write_str(2, "alloc_family: ");
	write_str(2, why);
	write_str(2, "\nusage: alloc_family [--threads T] [--iters N] "
		     "[--baseline] [--wait-go] [--hold] [--stats]\n");
	_exit(2);
}

/* A libc that breaks the C standard leaves no truth to print. */
static void __attribute__((noreturn)) fatal(const char *why)
{
	write_str(2, "alloc_family: ");
	write_str(2, why);
	write_str(2, "\n");
	_exit(1);
}

/* ---- deterministic sizes ---------------------------------------------- */

/* splitmix64: a seeded sequence per thread, independent of scheduling. */
static uint64_t rnd(struct thread_state *ts)
{
	uint64_t z = (ts->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t rnd_range(struct thread_state *ts, size_t lo, size_t hi)
{
	return lo + (size_t)(rnd(ts) % (hi - lo + 1));
}

static size_t rnd_pow2(struct thread_state *ts, unsigned int lo_shift,
		       unsigned int hi_shift)
{
	return (size_t)1 << rnd_range(ts, lo_shift, hi_shift);
}

/* ---- accounting ------------------------------------------------------- */

/*
 * Write to the block through a volatile pointer: the memory is really used,
 * so no compiler may drop a malloc/free pair as dead (the build also passes
 * -fno-builtin-malloc and friends).
 */
static void touch(void *p, size_t size)
{
	volatile unsigned char *c = p;

	if (!p || !size)
		return;
	c[0] = (unsigned char)size;
	c[size - 1] = (unsigned char)size;
}

/* Count a call that was meant to allocate: only a non-NULL result counts. */
static struct block got(struct thread_state *ts, void *p, size_t size)
{
	struct block b = { p, size };

	if (p) {
		ts->alloc_count++;
		ts->alloc_bytes += size;
		touch(p, size);
	}
	return b;
}

static void count_free(struct thread_state *ts, const struct block *b)
{
	ts->free_count++;
	ts->free_bytes += b->size;
}

static void release(struct thread_state *ts, struct block *b)
{
	if (!b->p)
		return;
	free(b->p);
	count_free(ts, b);
	b->p = NULL;
}

/*
 * Decide the fate of a block: about half stay live until exit, the rest
 * are freed now or a few steps later.
 */
static void settle(struct thread_state *ts, struct block b)
{
	unsigned int r;
	struct block *slot;

	if (!b.p)
		return;
	r = (unsigned int)(rnd(ts) % 8);
	if (r < 4 && ts->nlive < LIVE_CAP) {
		ts->live[ts->nlive++] = b;
	} else if (r < 6) {
		release(ts, &b);
	} else {
		slot = &ts->delay[ts->delay_next];
		ts->delay_next = (ts->delay_next + 1) % DELAY_SLOTS;
		release(ts, slot);
		*slot = b;
	}
}

/* Expect a call to fail; count a surprise success like any allocation. */
static void expect_null(struct thread_state *ts, void *p, size_t size)
{
	if (!p) {
		ts->failed_as_expected++;
		return;
	}
	ts->unexpected++;
	settle(ts, got(ts, p, size));
}

/*
 * realloc as the daemon counts it. A non-NULL result frees the old block
 * (same address or not) and allocates the new size. NULL with n == 0 means
 * glibc freed the block (REALLOC_ZERO_BYTES_FREES); NULL otherwise is a
 * failure that leaves the old block alone.
 */
static void realloc_done(struct thread_state *ts, struct block *b, void *q,
			 size_t n)
{
	if (!q) {
		if (n == 0 && b->p) {
			count_free(ts, b);
			b->p = NULL;
		}
		return;
	}
	if (b->p) {
		count_free(ts, b);
		if (q == b->p)
			ts->in_place++;
		else
			ts->moved++;
	}
	*b = got(ts, q, n);
}

static void do_realloc(struct thread_state *ts, struct block *b, size_t n)
{
	realloc_done(ts, b, realloc(b->p, n), n);
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
	void *q = reallocarray(b->p, n, m);

	if (overflow) {
		/* There is no size to count a success with: give up. */
		if (q)
			fatal("reallocarray overflow returned a block");
		ts->failed_as_expected++;
		return;
	}
	realloc_done(ts, b, q, total);
}

/* ---- the mix ---------------------------------------------------------- */

static void one_iteration(struct thread_state *ts, unsigned int i)
{
	static const size_t bad_align[] = { 0, 4, 12, 24, 48, 3 * 4096 };
	struct block a, c, fence, d, e, g, h;
	size_t n, m, al;
	void *p;
	int rc;

	/* Plain malloc, and malloc(0): a real allocation of 0 bytes. */
	n = rnd_range(ts, 1, 2048);
	settle(ts, got(ts, malloc(n), n));
	settle(ts, got(ts, malloc(0), 0));

	/* calloc counts n * m. */
	n = rnd_range(ts, 1, 32);
	m = rnd_range(ts, 1, 64);
	settle(ts, got(ts, calloc(n, m), n * m));

	/*
	 * realloc(NULL, n) is a plain allocation. Then grow it a lot with a
	 * fence block allocated right after it, so that glibc usually
	 * cannot extend it in place and has to move it.
	 */
	c = (struct block){ NULL, 0 };
	do_realloc(ts, &c, rnd_range(ts, 16, 512));
	n = rnd_range(ts, 16, 48);
	fence = got(ts, malloc(n), n);
	do_realloc(ts, &c, c.size + rnd_range(ts, 8192, 40960));
	settle(ts, fence);
	settle(ts, c);

	/*
	 * In-place reallocs: shrinking, and realloc to the same size. The
	 * address stays, but the old block is still freed and a new one
	 * allocated, as the daemon counts it.
	 */
	n = rnd_range(ts, 64, 1088);
	d = got(ts, malloc(n), n);
	if (d.p) {
		do_realloc(ts, &d, d.size - d.size / 4);
		do_realloc(ts, &d, d.size);
	}
	settle(ts, d);

	/* realloc(p, 0) frees p and returns NULL in glibc. */
	n = rnd_range(ts, 1, 700);
	e = got(ts, malloc(n), n);
	if (e.p)
		do_realloc(ts, &e, 0);
	settle(ts, e); /* only if realloc(p, 0) returned a block */

	/* reallocarray: from NULL, growing an existing block, overflowing. */
	h = (struct block){ NULL, 0 };
	do_reallocarray(ts, &h, rnd_range(ts, 1, 16), rnd_range(ts, 1, 40));
	settle(ts, h);
	n = rnd_range(ts, 8, 256);
	g = got(ts, malloc(n), n);
	if (g.p) {
		do_reallocarray(ts, &g, rnd_range(ts, 2, 64),
				rnd_range(ts, 8, 128));
		/*
		 * n * m overflows: ENOMEM, g is left alone. Every other
		 * time the product wraps to exactly 0 (2^61 * 16), which a
		 * tracer must not mistake for realloc(p, 0) freeing g.
		 */
		n = i % 2 ? rnd_range(ts, 1, 99) : 0;
		do_reallocarray(ts, &g, overflow_n + n, 16);
	}
	settle(ts, g);

	/* Failed allocations and free(NULL) count for nothing. */
	n = huge_size + rnd_range(ts, 0, 4096);
	expect_null(ts, malloc(n), n);
	if (calloc(overflow_n, 16))
		fatal("calloc overflow returned a block");
	ts->failed_as_expected++;
	free(NULL);

	/* posix_memalign: a bad alignment is EINVAL and touches nothing. */
	p = NULL;
	n = rnd_range(ts, 1, 512);
	rc = posix_memalign(
		&p, bad_align[i % (sizeof(bad_align) / sizeof(bad_align[0]))],
		n);
	if (rc == 0)
		expect_null(ts, p, n);
	else
		ts->failed_as_expected++;

	p = NULL;
	al = rnd_pow2(ts, 3, 12);
	n = rnd_range(ts, 1, 3000);
	rc = posix_memalign(&p, al, n);
	settle(ts, got(ts, rc == 0 ? p : NULL, n));

	/* aligned_alloc, with a size that is a multiple of the alignment. */
	al = rnd_pow2(ts, 4, 10);
	n = al * rnd_range(ts, 1, 4);
	settle(ts, got(ts, aligned_alloc(al, n), n));

	al = rnd_pow2(ts, 4, 12);
	n = rnd_range(ts, 1, 2000);
	settle(ts, got(ts, memalign(al, n), n));

	/* valloc and pvalloc count the size asked for, not the page. */
	n = rnd_range(ts, 1, 6000);
	settle(ts, got(ts, valloc(n), n));
	n = rnd_range(ts, 1, 6000);
	settle(ts, got(ts, pvalloc(n), n));

	/* Some blocks go to the next thread, which frees them. */
	if (i % HANDOFF_EVERY == 0 && ts->nout < HANDOFF_MAX) {
		n = rnd_range(ts, 24, 4000);
		a = got(ts, malloc(n), n);
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
		release(ts, &ts->delay[i]);
}

/*
 * All threads wait here until main has created every one of them. No
 * thread can exit before the last pthread_create, so each creation finds
 * the same (empty) stack cache in full and baseline runs and glibc does
 * the same internal allocations in both.
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

	/*
	 * Publish our handoff blocks, then free those of the previous
	 * thread. Publishing never waits, so the ring cannot deadlock.
	 * With one thread the "previous" thread is itself.
	 */
	atomic_store_explicit(&ts->out_ready, 1, memory_order_release);
	prev = &threads[(ts->idx + nthreads - 1) % nthreads];
	while (!atomic_load_explicit(&prev->out_ready, memory_order_acquire))
		sched_yield();
	for (i = 0; i < prev->nout; i++)
		release(ts, &prev->out[i]);
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
	bool wait_go = false, hold = false, stats = false;
	struct line l = { .len = 0 };
	unsigned int t;
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
			fatal("pthread_create failed");
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
		for (k = 0; k < ts->nlive; k++) {
			live_count++;
			live_bytes += ts->live[k].size;
		}
	}

	/*
	 * The live set is counted from the blocks actually held; it must
	 * agree with the running counters, or the bookkeeping is wrong and
	 * the truth worthless.
	 */
	if (live_count != alloc_count - free_count ||
	    live_bytes != alloc_bytes - free_bytes)
		fatal("internal error: live set does not match the counters");

	if (stats) {
		line_str(&l, "STATS moved=");
		line_u64(&l, moved);
		line_str(&l, " in_place=");
		line_u64(&l, in_place);
		line_str(&l, " failed_as_expected=");
		line_u64(&l, failed);
		line_str(&l, " unexpected=");
		line_u64(&l, unexpected);
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
	/* One write, so the line cannot be interleaved with anything. */
	write_all(2, l.buf, l.len);

	if (hold) {
		write_str(1, "READY\n");
		wait_line();
	}

	/*
	 * _exit, not exit: no libc teardown runs after the truth line, so
	 * nothing is freed that the truth does not know about. The live set
	 * is deliberately never freed.
	 */
	_exit(0);
}
