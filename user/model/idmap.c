// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/idmap.h"

struct slot {
	uint64_t key;
	uint32_t val;
};

struct idmap {
	struct slot *slots;
	size_t mask;
	size_t count;
};

static inline size_t home_of(const struct idmap *m, uint64_t key)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 24) & m->mask;
}

static int grow(struct idmap *m, size_t cap)
{
	struct slot *old = m->slots, *s = calloc(cap, sizeof(*s));
	size_t old_cap = old ? m->mask + 1 : 0;

	if (!s)
		return -ENOMEM;
	m->slots = s;
	m->mask = cap - 1;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j;

		if (!old[i].key)
			continue;
		for (j = home_of(m, old[i].key); s[j].key;
		     j = (j + 1) & m->mask)
			;
		s[j] = old[i];
	}
	free(old);
	return 0;
}

struct idmap *idmap__new(void)
{
	struct idmap *m = calloc(1, sizeof(*m));

	if (m && grow(m, 256)) {
		free(m);
		return NULL;
	}
	return m;
}

void idmap__clear(struct idmap *m)
{
	if (m->slots)
		memset(m->slots, 0, (m->mask + 1) * sizeof(*m->slots));
	m->count = 0;
}

void idmap__free(struct idmap *m)
{
	if (!m)
		return;
	free(m->slots);
	free(m);
}

int idmap__put(struct idmap *m, uint64_t key, uint32_t val)
{
	size_t i;

	if (!key)
		return -EINVAL;
	if ((m->count + 1) * 4 > (m->mask + 1) * 3 &&
	    grow(m, (m->mask + 1) * 2))
		return -ENOMEM;
	for (i = home_of(m, key); m->slots[i].key; i = (i + 1) & m->mask) {
		if (m->slots[i].key == key) {
			m->slots[i].val = val;
			return 0;
		}
	}
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->count++;
	return 0;
}

static struct slot *find(const struct idmap *m, uint64_t key)
{
	if (!key)
		return NULL;
	for (size_t i = home_of(m, key); m->slots[i].key; i = (i + 1) & m->mask)
		if (m->slots[i].key == key)
			return &m->slots[i];
	return NULL;
}

void idmap__prefetch(const struct idmap *m, uint64_t key)
{
	__builtin_prefetch(&m->slots[home_of(m, key)], 0, 1);
}

int idmap__get(const struct idmap *m, uint64_t key, uint32_t *val)
{
	struct slot *s = find(m, key);

	if (!s)
		return -ENOENT;
	*val = s->val;
	return 0;
}

int idmap__del(struct idmap *m, uint64_t key)
{
	struct slot *s = find(m, key);
	size_t i, j;

	if (!s)
		return -ENOENT;
	i = j = (size_t)(s - m->slots);
	for (;;) {
		size_t home;

		j = (j + 1) & m->mask;
		if (!m->slots[j].key)
			break;
		home = home_of(m, m->slots[j].key);
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->count--;
	return 0;
}

size_t idmap__count(const struct idmap *m)
{
	return m->count;
}

size_t idmap__mem_bytes(const struct idmap *m)
{
	return sizeof(*m) + (m->mask + 1) * sizeof(struct slot);
}
