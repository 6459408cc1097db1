/* SPDX-License-Identifier: MIT */
/*
 * Live-allocation table: open addressing with linear probing and
 * backward-shift deletion (no tombstones), so look-ups stay O(1) at any
 * fill and an entry costs 24 bytes at a load factor between 3/8 and 3/4.
 */
#ifndef MS_ALLOCS_H
#define MS_ALLOCS_H

#include <stddef.h>
#include <stdint.h>

struct alloc_entry {
	uint64_t addr; /* 0 marks an empty slot: malloc never returns 0 */
	uint64_t size;
	uint32_t owner; /* model owner index (task, runtime, thread) */
	uint32_t t_ms; /* allocation time, ms since the model started */
};

struct allocs;

struct allocs *allocs__new(size_t hint);
void allocs__free(struct allocs *a);
/* 0 on insert; -EEXIST if addr was live (the old entry is returned in
 * *old and replaced); -ENOMEM. */
int allocs__insert(struct allocs *a, const struct alloc_entry *e,
		   struct alloc_entry *old);
/* 0 and the entry in *out, or -ENOENT. */
int allocs__remove(struct allocs *a, uint64_t addr, struct alloc_entry *out);
struct alloc_entry *allocs__find(const struct allocs *a, uint64_t addr);
/* Start loading addr's slot into the cache (batched processing). */
void allocs__prefetch(const struct allocs *a, uint64_t addr);
size_t allocs__count(const struct allocs *a);
size_t allocs__mem_bytes(const struct allocs *a);
/* Forget every entry (the capacity stays). */
void allocs__clear(struct allocs *a);
/* Calls fn for each live entry; stops early if fn returns non-zero. */
int allocs__foreach(const struct allocs *a,
		    int (*fn)(const struct alloc_entry *e, void *ctx),
		    void *ctx);

#endif
