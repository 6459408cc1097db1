// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/allocs.h"

struct allocs {
	struct alloc_entry *slots;
	size_t mask; /* capacity - 1, capacity a power of two */
	size_t count;
};

static inline size_t slot_of(const struct allocs *a, uint64_t addr)
{
	/* Blocks are 16-byte aligned: drop the zero bits, then mix. */
	uint64_t h = (addr >> 4) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 20) & a->mask;
}

static int resize(struct allocs *a, size_t cap)
{
	struct alloc_entry *old = a->slots, *slots;
	size_t old_cap = a->slots ? a->mask + 1 : 0;

	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	a->slots = slots;
	a->mask = cap - 1;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].addr)
			continue;
		for (j = slot_of(a, old[i].addr); slots[j].addr;
		     j = (j + 1) & a->mask)
			;
		slots[j] = old[i];
	}
	free(old);
	return 0;
}

struct allocs *allocs__new(size_t hint)
{
	struct allocs *a = calloc(1, sizeof(*a));
	size_t cap = 1024;

	if (!a)
		return NULL;
	while (cap < hint * 2)
		cap <<= 1;
	if (resize(a, cap)) {
		free(a);
		return NULL;
	}
	return a;
}

void allocs__free(struct allocs *a)
{
	if (!a)
		return;
	free(a->slots);
	free(a);
}

struct alloc_entry *allocs__find(const struct allocs *a, uint64_t addr)
{
	size_t i;

	if (!addr)
		return NULL;
	for (i = slot_of(a, addr); a->slots[i].addr; i = (i + 1) & a->mask)
		if (a->slots[i].addr == addr)
			return &a->slots[i];
	return NULL;
}

void allocs__prefetch(const struct allocs *a, uint64_t addr)
{
	__builtin_prefetch(&a->slots[slot_of(a, addr)], 1, 1);
}

int allocs__insert(struct allocs *a, const struct alloc_entry *e,
		   struct alloc_entry *old)
{
	size_t i;

	if (!e->addr)
		return -EINVAL;
	if ((a->count + 1) * 4 > (a->mask + 1) * 3 &&
	    resize(a, (a->mask + 1) * 2))
		return -ENOMEM;
	for (i = slot_of(a, e->addr); a->slots[i].addr; i = (i + 1) & a->mask) {
		if (a->slots[i].addr == e->addr) {
			if (old)
				*old = a->slots[i];
			a->slots[i] = *e;
			return -EEXIST;
		}
	}
	a->slots[i] = *e;
	a->count++;
	return 0;
}

int allocs__remove(struct allocs *a, uint64_t addr, struct alloc_entry *out)
{
	struct alloc_entry *e = allocs__find(a, addr);
	size_t i, j;

	if (!e)
		return -ENOENT;
	if (out)
		*out = *e;
	/* Backward-shift: pull later members of the probe run into the hole
	 * unless that would move them before their home slot. */
	i = (size_t)(e - a->slots);
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & a->mask;
		if (!a->slots[j].addr)
			break;
		home = slot_of(a, a->slots[j].addr);
		if (((j - home) & a->mask) >= ((j - i) & a->mask)) {
			a->slots[i] = a->slots[j];
			i = j;
		}
	}
	memset(&a->slots[i], 0, sizeof(a->slots[i]));
	a->count--;
	return 0;
}

size_t allocs__count(const struct allocs *a)
{
	return a->count;
}

size_t allocs__mem_bytes(const struct allocs *a)
{
	return sizeof(*a) + (a->mask + 1) * sizeof(struct alloc_entry);
}

void allocs__clear(struct allocs *a)
{
	if (a->slots)
		memset(a->slots, 0, (a->mask + 1) * sizeof(*a->slots));
	a->count = 0;
}

int allocs__foreach(const struct allocs *a,
		    int (*fn)(const struct alloc_entry *e, void *ctx),
		    void *ctx)
{
	for (size_t i = 0; i <= a->mask; i++) {
		int err;

		if (!a->slots[i].addr)
			continue;
		err = fn(&a->slots[i], ctx);
		if (err)
			return err;
	}
	return 0;
}
