/* SPDX-License-Identifier: MIT */
/*
 * One ring buffer carries the records of every watched process (one, or
 * all of them with --all). The dispatcher drains it, hands each record to
 * its process's collector and the process events (exec, exit, fork) to
 * the caller.
 */
#ifndef MS_DISPATCH_H
#define MS_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

struct dispatch;
struct collector;

/* A process event: MS_REC_EXEC, MS_REC_EXIT or MS_REC_FORK (rec, len
 * bytes), handed over once every earlier record of that process reached
 * its model. */
typedef void (*dispatch_proc_fn)(void *ctx, const void *rec, size_t len);

/* on_proc: NULL when no process events are wanted. */
int dispatch__new(int ringbuf_fd, dispatch_proc_fn on_proc, void *ctx,
		  struct dispatch **out);
void dispatch__free(struct dispatch *d);
/* Readable when records wait (after a wake-up). */
int dispatch__fd(const struct dispatch *d);
/* Route pid's records to c (which has no ring of its own): -EEXIST if
 * pid has a route already, -ENOMEM. */
int dispatch__add(struct dispatch *d, uint32_t pid, struct collector *c);
/* Stop routing pid's records: they count as unclaimed from now on. */
void dispatch__remove(struct dispatch *d, uint32_t pid);
/* Consume everything committed so far, then flush every collector.
 * Records consumed, or -errno. */
long dispatch__drain(struct dispatch *d);
/* Records of processes no longer (or never) watched: a process that
 * exits leaves a few in flight, a forked child of a target some more. */
uint64_t dispatch__unclaimed(const struct dispatch *d);
/* Records drained, every process's and unclaimed ones. */
uint64_t dispatch__records(const struct dispatch *d);
/* Bytes waiting in the ring buffer now (0 when unknown). */
uint64_t dispatch__ring_used(const struct dispatch *d);

#endif
