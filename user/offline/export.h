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

#endif
