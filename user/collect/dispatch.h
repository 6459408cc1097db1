/* SPDX-License-Identifier: MIT */
/*
 * One ring buffer carries the records of every watched process (one, or
 * all of them with --all). The dispatcher drains it, hands each record to
 * its process's collector and the exec notices (--all) to the caller.
 */
#ifndef MS_DISPATCH_H
#define MS_DISPATCH_H

#include <stdint.h>

struct dispatch;
struct collector;

/* A process executed a new program (MS_REC_EXEC). */
typedef void (*dispatch_exec_fn)(void *ctx, uint32_t pid, uint64_t ts_ns);

/* on_exec: NULL when no exec notices come. */
int dispatch__new(int ringbuf_fd, dispatch_exec_fn on_exec, void *ctx,
		  struct dispatch **out);
void dispatch__free(struct dispatch *d);
/* Readable when records wait (after a wake-up). */
int dispatch__fd(const struct dispatch *d);
/* Route pid's records to c (which has no ring of its own). -EEXIST, or
 * -ENOSPC past DISPATCH_MAX processes. */
#define DISPATCH_MAX 64
int dispatch__add(struct dispatch *d, uint32_t pid, struct collector *c);
/* Stop routing pid's records: they count as unclaimed from now on. */
void dispatch__remove(struct dispatch *d, uint32_t pid);
/* Consume everything committed so far, then flush every collector.
 * Records consumed, or -errno. */
long dispatch__drain(struct dispatch *d);
/* Records of processes no longer (or never) watched: a process that
 * exits leaves a few in flight, a forked child of a target some more. */
uint64_t dispatch__unclaimed(const struct dispatch *d);

#endif
