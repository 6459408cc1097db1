// SPDX-License-Identifier: MIT
/* Sites: where tasks were spawned and byte-sampled allocations made,
 * interned by their frames; the sampled blocks still live. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_int.h"
#include "util.h"

/* A sampled block is freed: what it stood for is no longer live. */
void sample__release(struct model *m, uint64_t addr)
{
	struct sampled_block *b;
	uint32_t idx;

	if (idmap__get(m->sampled, addr, &idx))
		return;
	idmap__del(m->sampled, addr);
	b = &m->blocks[idx];
	if (b->site < m->nsites) {
		m->sites[b->site].live_bytes -= b->weight;
		m->sites[b->site].live_count -= b->count;
	}
	if (b->task < m->ntasks) {
		struct ms_task *t = &m->tasks[b->task];

		for (uint32_t i = 0; i < t->nalloc_sites; i++)
			if (t->alloc_sites[i].site == b->site)
				t->alloc_sites[i].live_bytes -= b->weight;
	}
	b->site = m->free_block;
	m->free_block = idx;
}

static uint64_t site_hash(const struct ms_frame *f, uint32_t n)
{
	uint64_t h = UTIL_FNV_OFFSET;

	for (uint32_t i = 0; i < n; i++)
		h = util__fnv_step(h, f[i].pc);
	return h | 1; /* idmap keys are never 0 */
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

uint32_t model__site_intern(struct model *m, const struct ms_frame *frames,
			    uint32_t nframes)
{
	uint64_t h = site_hash(frames, nframes);
	struct ms_frame *copy;
	struct ms_site *s;
	uint32_t idx;

	if (!nframes)
		return MS_NO_SITE;
	if (!idmap__get(m->site_keys, h, &idx))
		return idx;
	if (util__grow((void **)&m->sites, &m->cap_sites, m->nsites + 1,
		       sizeof(*m->sites), 64))
		return MS_NO_SITE;
	copy = calloc(nframes, sizeof(*copy));
	if (!copy)
		return MS_NO_SITE;
	for (uint32_t i = 0; i < nframes; i++) {
		copy[i].pc = frames[i].pc;
		copy[i].line = frames[i].line;
		copy[i].function = dup_or_null(frames[i].function);
		copy[i].file = dup_or_null(frames[i].file);
		copy[i].module = dup_or_null(frames[i].module);
		copy[i].path = dup_or_null(frames[i].path);
		copy[i].build_id = dup_or_null(frames[i].build_id);
		copy[i].addr = frames[i].addr;
	}
	idx = (uint32_t)m->nsites;
	if (idmap__put(m->site_keys, h, idx)) {
		for (uint32_t i = 0; i < nframes; i++) {
			free((char *)copy[i].function);
			free((char *)copy[i].file);
			free((char *)copy[i].module);
			free((char *)copy[i].path);
			free((char *)copy[i].build_id);
		}
		free(copy);
		return MS_NO_SITE;
	}
	s = &m->sites[m->nsites++];
	memset(s, 0, sizeof(*s));
	s->frames = copy;
	s->nframes = nframes;
	return idx;
}

void model__spawn_site(struct model *m, enum ms_runtime rt, uint64_t key,
		       uint32_t site)
{
	struct ms_task *t;

	if (site >= m->nsites)
		return;
	m->sites[site].spawns++;
	/* USDT: the spawn record came first; tokio: the task is known only
	 * at its first poll, so keep the site under the cell's address. */
	t = task__by_key(m, key, NULL);
	if (t && t->runtime == rt && rt == MS_RT_USDT)
		t->spawn_site = site;
	else if (rt == MS_RT_TOKIO)
		idmap__put(m->pending_spawn, key, site);
}

/* A task keeps its few heaviest sites: a new one takes the slot of the
 * lightest when it weighs more. */
static void task_site_add(struct ms_task *t, uint32_t site, double weight)
{
	uint32_t i, low = 0;

	for (i = 0; i < t->nalloc_sites; i++) {
		if (t->alloc_sites[i].site == site) {
			t->alloc_sites[i].live_bytes += weight;
			t->alloc_sites[i].alloc_bytes += weight;
			return;
		}
		if (t->alloc_sites[i].alloc_bytes <
		    t->alloc_sites[low].alloc_bytes)
			low = i;
	}
	if (t->nalloc_sites < MS_TASK_SITES)
		low = t->nalloc_sites++;
	else if (t->alloc_sites[low].alloc_bytes >= weight)
		return;
	t->alloc_sites[low].site = site;
	t->alloc_sites[low].live_bytes = weight;
	t->alloc_sites[low].alloc_bytes = weight;
}

void model__sampled_alloc(struct model *m, uint64_t addr, uint64_t size,
			  double weight, uint32_t site)
{
	const struct alloc_entry *e;
	struct sampled_block *b;
	struct ms_site *s;
	uint32_t idx;

	if (site >= m->nsites || !allocs__find(m->allocs, addr))
		return;
	s = &m->sites[site];
	s->samples++;
	s->alloc_bytes += weight;
	s->alloc_count += size ? weight / (double)size : 1;
	s->live_bytes += weight;
	s->live_count += size ? weight / (double)size : 1;
	if (m->free_block != UINT32_MAX && m->free_block < m->nblocks) {
		idx = m->free_block;
		m->free_block = m->blocks[idx].site;
	} else {
		if (util__grow((void **)&m->blocks, &m->cap_blocks,
			       m->nblocks + 1, sizeof(*m->blocks), 256))
			return;
		idx = (uint32_t)m->nblocks++;
	}
	b = &m->blocks[idx];
	b->weight = weight;
	b->count = size ? weight / (double)size : 1;
	b->site = site;
	b->task = UINT32_MAX;
	e = allocs__find(m->allocs, addr);
	if (e && e->owner >= OWNER_TASK0 &&
	    e->owner - OWNER_TASK0 < m->ntasks) {
		b->task = e->owner - OWNER_TASK0;
		task_site_add(&m->tasks[b->task], site, weight);
	}
	if (idmap__put(m->sampled, addr, idx)) {
		b->site = m->free_block;
		m->free_block = idx;
	}
}

size_t model__site_count(const struct model *m)
{
	return m->nsites;
}

const struct ms_site *model__site(const struct model *m, uint32_t idx)
{
	return idx < m->nsites ? &m->sites[idx] : NULL;
}

void sites__free(struct model *m)
{
	for (size_t i = 0; i < m->nsites; i++) {
		struct ms_frame *f = (struct ms_frame *)m->sites[i].frames;

		for (uint32_t j = 0; j < m->sites[i].nframes; j++) {
			free((char *)f[j].function);
			free((char *)f[j].file);
			free((char *)f[j].module);
			free((char *)f[j].path);
			free((char *)f[j].build_id);
		}
		free(f);
	}
	free(m->sites);
	free(m->blocks);
	idmap__free(m->sampled);
	idmap__free(m->site_keys);
}
