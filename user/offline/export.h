/* SPDX-License-Identifier: MIT */
/* memscope export: a snapshot for other tools (pprof, flame graphs, jq). */
#ifndef MS_OFFLINE_EXPORT_H
#define MS_OFFLINE_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "offline/snap.h"

/* The snapshot document, pretty-printed. */
int export__json(FILE *f, const struct snap *s);
/*
 * Folded stacks, one "frame;frame;... value" line per task holding
 * memory: RUNTIME;spawn frames, outermost first;task ID [REASON] with
 * its live bytes, then runtime overhead and outside-task memory.
 */
int export__folded(FILE *f, const struct snap *s);
/* A gzip-compressed pprof profile.proto; see docs/memscope.md. */
int export__pprof(FILE *f, const struct snap *s);
/* The same profile, uncompressed, in a malloc'ed buffer. */
int export__pprof_encode(const struct snap *s, uint8_t **out, size_t *len);

/*
 * The heap profile memscoped serves at /debug/pprof/heap, as a scraper
 * (Parca, Pyroscope) keeps it: the same four sample types, but no task
 * ids: samples with the same stack and labels are one. Two partitions
 * of the heap, each labelled "view":
 *  - alloc_site: the sampled allocation sites, their frames (estimates);
 *  - owner: tasks' memory by spawn site (state and reason labels),
 *    [runtime overhead] and [outside tasks] (exact).
 * EXPORT_VIEW_ALL has both, each under a root frame of its own
 * ("[by allocation site]", "[by owner]"): each root adds up to the heap.
 */
enum export_view {
	EXPORT_VIEW_ALL,
	EXPORT_VIEW_ALLOC,
	EXPORT_VIEW_OWNER,
};
int export__pprof_heap_encode(const struct snap *s, enum export_view view,
			      uint8_t **out, size_t *len);
/* Gzip-compressed, as pprof and the scrapers read it. */
int export__pprof_heap(FILE *f, const struct snap *s, enum export_view view);

#endif
