// SPDX-License-Identifier: MIT
/*
 * Page-level mode: when no allocator can be probed, the kernel's word on
 * the process's memory. Each new anonymous page (or huge page) is charged
 * to the owner an allocation would have been charged to at that moment
 * (the task in a poll on the thread, else the runtime or plain threads),
 * and kept by address so that munmap, madvise, brk, and an mmap or mremap
 * over it give it back to that owner, whoever calls them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"

#define PAGE 4096ull
#define HUGE_PAGE (2ull << 20)
#define MAP_ANON_FLAG 0x20 /* MAP_ANONYMOUS */

static struct ms_pages *owner_pages(struct model *m, uint32_t owner)
{
	if (owner == OWNER_RUNTIME)
		return &m->runtime_pages;
	if (owner >= OWNER_TASK0 && owner - OWNER_TASK0 < m->ntasks)
		return &m->tasks[owner - OWNER_TASK0].pages;
	return &m->thread_pages;
}

static void pages_grow(struct ms_pages *p, uint64_t bytes)
{
	p->faults++;
	p->fault_bytes += bytes;
	p->resident_bytes += bytes;
	if (p->resident_bytes > p->peak_resident_bytes)
		p->peak_resident_bytes = p->resident_bytes;
}

static void pages_drop(struct ms_pages *p, uint64_t bytes)
{
	if (bytes > p->resident_bytes)
		bytes = p->resident_bytes;
	p->released_bytes += bytes;
	p->resident_bytes -= bytes;
}

/* A page entry's t_ms is the index of the thread that touched it. */
#define NO_THREAD UINT32_MAX

static void release(struct model *m, const struct alloc_entry *e,
		    uint64_t bytes)
{
	pages_drop(owner_pages(m, e->owner), bytes);
	pages_drop(&m->page_totals.all, bytes);
	if (e->t_ms < m->nthreads)
		pages_drop(&m->threads[e->t_ms].pages, bytes);
}

struct in_range {
	uint64_t start, end;
	uint64_t *addrs;
	size_t n, cap;
};

static int collect(const struct alloc_entry *e, void *ctx)
{
	struct in_range *r = ctx;

	if (e->addr < r->start || e->addr >= r->end)
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		uint64_t *n = realloc(r->addrs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->addrs = n;
		r->cap = cap;
	}
	r->addrs[r->n++] = e->addr;
	return 0;
}

/* The entries that start in [start, end), removed and handed to fn: page
 * by page for a small range, by a pass over the table for a large one (a
 * munmap of a whole reservation). */
static void take_range(struct model *m, uint64_t start, uint64_t end,
		       void (*fn)(struct model *, struct alloc_entry *, void *),
		       void *ctx)
{
	struct alloc_entry e;
	uint64_t a = (start + PAGE - 1) & ~(PAGE - 1);

	if ((end - a) / PAGE <= 2 * allocs__count(m->pages) + 64) {
		for (; a < end; a += PAGE)
			if (!allocs__remove(m->pages, a, &e))
				fn(m, &e, ctx);
		return;
	}
	struct in_range r = { .start = start, .end = end };

	allocs__foreach(m->pages, collect, &r);
	for (size_t i = 0; i < r.n; i++)
		if (!allocs__remove(m->pages, r.addrs[i], &e))
			fn(m, &e, ctx);
	free(r.addrs);
}

static void drop_entry(struct model *m, struct alloc_entry *e, void *ctx)
{
	(void)ctx;
	release(m, e, e->size);
}

/* [addr, addr + len) is let go. A huge page that starts before it and
 * overlaps is split by the kernel: only the overlap goes. */
static void release_range(struct model *m, uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len < addr ? UINT64_MAX : addr + len;
	struct alloc_entry *h;

	if (!m->pages || !len)
		return;
	h = allocs__find(m->pages, addr & ~(HUGE_PAGE - 1));
	if (h && h->addr < addr && h->addr + h->size > addr) {
		uint64_t cut =
			(h->addr + h->size < end ? h->addr + h->size : end) -
			addr;

		h->size -= cut;
		release(m, h, cut);
	}
	take_range(m, addr, end, drop_entry, NULL);
}

struct move_ctx {
	uint64_t from, to;
};

static void move_entry(struct model *m, struct alloc_entry *e, void *ctx)
{
	const struct move_ctx *mv = ctx;
	struct alloc_entry old;

	e->addr = e->addr - mv->from + mv->to;
	if (allocs__insert(m->pages, e, &old) == -EEXIST)
		release(m, &old, old.size);
}

/* mremap: the pages kept move along; a shrink lets the tail go. */
static void remap(struct model *m, const struct ms_page_rec *r)
{
	uint64_t keep = r->len < r->old_len ? r->len : r->old_len;

	if (!m->pages)
		return;
	if (r->old_len > r->len)
		release_range(m, r->old_addr + r->len, r->old_len - r->len);
	if (r->addr == r->old_addr || !keep)
		return;
	/* Whatever was at the new place is gone (MREMAP_FIXED). */
	release_range(m, r->addr, keep);
	take_range(m, r->old_addr, r->old_addr + keep, move_entry,
		   &(struct move_ctx){ .from = r->old_addr, .to = r->addr });
}

static int fault(struct model *m, const struct ms_page_rec *r)
{
	struct thread *th = thread__get(m, r->h.tid);
	struct alloc_entry e = { .addr = r->addr, .size = r->len }, *h;

	if (!r->len || !r->addr)
		return -EINVAL;
	if (!m->pages && !(m->pages = allocs__new(0)))
		return -ENOMEM;
	/* A page seen already is replaced (copy on write): no growth; nor
	 * in a huge page counted whole. */
	if (allocs__find(m->pages, r->addr))
		return 0;
	h = allocs__find(m->pages, r->addr & ~(HUGE_PAGE - 1));
	if (h && h->addr + h->size > r->addr)
		return 0;
	e.owner = owner__of(m, th, r->task, r->h.ts_ns);
	/* owner__of may have grown the thread array: th moved with it. */
	th = thread__get(m, r->h.tid);
	e.t_ms = th ? (uint32_t)(th - m->threads) : NO_THREAD;
	if (allocs__insert(m->pages, &e, NULL))
		return -ENOMEM;
	pages_grow(owner_pages(m, e.owner), r->len);
	pages_grow(&m->page_totals.all, r->len);
	if (th)
		pages_grow(&th->pages, r->len);
	return 0;
}

int pages__apply(struct model *m, const struct ms_page_rec *r)
{
	struct ms_page_totals *pt = &m->page_totals;

	switch (r->h.aux) {
	case MS_PAGE_FAULT:
		return fault(m, r);
	case MS_PAGE_MMAP:
		pt->mmap_count++;
		if (r->flags & MAP_ANON_FLAG)
			pt->mmap_anon_bytes += r->len;
		release_range(m, r->addr, r->len);
		return 0;
	case MS_PAGE_MUNMAP:
		pt->munmap_count++;
		release_range(m, r->addr, r->len);
		return 0;
	case MS_PAGE_MADVISE:
		pt->madvise_count++;
		release_range(m, r->addr, r->len);
		return 0;
	case MS_PAGE_BRK:
		pt->brk_count++;
		if (m->brk && r->addr < m->brk)
			release_range(m, r->addr, m->brk - r->addr);
		m->brk = r->addr;
		return 0;
	case MS_PAGE_MREMAP:
		pt->mremap_count++;
		remap(m, r);
		return 0;
	}
	return -EINVAL;
}

/* A new program: the old image's pages are gone with it. */
void pages__exec(struct model *m)
{
	if (!m->pages)
		return;
	release_range(m, 0, UINT64_MAX);
	allocs__clear(m->pages);
	m->brk = 0;
}

void model__set_page_level(struct model *m)
{
	m->page_level = true;
}

bool model__page_level(const struct model *m)
{
	return m->page_level;
}

const struct ms_page_totals *model__pages(const struct model *m)
{
	return &m->page_totals;
}

const struct ms_pages *model__runtime_pages(const struct model *m)
{
	return &m->runtime_pages;
}

const struct ms_pages *model__thread_pages(const struct model *m)
{
	return &m->thread_pages;
}

const struct ms_pages *model__page_thread(const struct model *m, size_t i,
					  uint32_t *tid, bool *runtime)
{
	if (i >= m->nthreads)
		return NULL;
	*tid = m->threads[i].tid;
	*runtime = m->threads[i].runtime;
	return &m->threads[i].pages;
}
