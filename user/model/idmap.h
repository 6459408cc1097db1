/* SPDX-License-Identifier: MIT */
/* u64 -> u32 map (open addressing, backward-shift deletion). Key 0 is
 * reserved: callers map their keys so that 0 never occurs. */
#ifndef MS_IDMAP_H
#define MS_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap;

struct idmap *idmap__new(void);
void idmap__free(struct idmap *m);
int idmap__put(struct idmap *m, uint64_t key, uint32_t val);
/* Forget every key (the capacity stays). */
void idmap__clear(struct idmap *m);
/* Returns 0 and *val, or -ENOENT. */
int idmap__get(const struct idmap *m, uint64_t key, uint32_t *val);
int idmap__del(struct idmap *m, uint64_t key);
void idmap__prefetch(const struct idmap *m, uint64_t key);
size_t idmap__count(const struct idmap *m);
size_t idmap__mem_bytes(const struct idmap *m);

#endif
