// SPDX-License-Identifier: MIT
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sym/debugfile.h"
#include "sym/sym_int.h"

/* ---- interned strings ---------------------------------------------- */

uint32_t strtab__hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

int strtab__grow(struct strtab *t)
{
	size_t cap = t->slots ? (t->mask + 1) * 2 : 1024;
	const char **slots = calloc(cap, sizeof(*slots));
	uint32_t *hashes = calloc(cap, sizeof(*hashes));

	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -ENOMEM;
	}
	for (size_t i = 0; t->slots && i <= t->mask; i++) {
		size_t j;

		if (!t->slots[i])
			continue;
		for (j = t->hashes[i] & (cap - 1); slots[j];
		     j = (j + 1) & (cap - 1))
			;
		slots[j] = t->slots[i];
		hashes[j] = t->hashes[i];
	}
	free(t->slots);
	free(t->hashes);
	t->slots = slots;
	t->hashes = hashes;
	t->mask = cap - 1;
	return 0;
}

static char *strtab_store(struct strtab *t, const char *s, size_t len)
{
	struct chunk *c = t->chunks;
	char *dst;

	if (!c || c->size - c->used < len + 1) {
		size_t size = len + 1 > CHUNK_BYTES ? len + 1 : CHUNK_BYTES;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = t->chunks;
		t->chunks = c;
	}
	dst = c->data + c->used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	c->used += len + 1;
	return dst;
}

const char *strtab__intern(struct strtab *t, const char *s, size_t len)
{
	uint32_t h = strtab__hash(s, len);
	size_t i;
	char *dst;

	if ((t->count + 1) * 4 > (t->mask + 1) * 3 && strtab__grow(t))
		return NULL;
	for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
		if (t->hashes[i] == h && !strncmp(t->slots[i], s, len) &&
		    t->slots[i][len] == '\0')
			return t->slots[i];
	}
	dst = strtab_store(t, s, len);
	if (!dst)
		return NULL;
	t->slots[i] = dst;
	t->hashes[i] = h;
	t->count++;
	return dst;
}

void strtab__free(struct strtab *t)
{
	struct chunk *c = t->chunks, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	free(t->slots);
	free(t->hashes);
}
