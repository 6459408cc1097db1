/* SPDX-License-Identifier: MIT */
/* Takes one process's records (from the dispatcher) into its model;
 * checks tokio layouts, symbolizes stacks. */
#ifndef MS_COLLECTOR_H
#define MS_COLLECTOR_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct collector;
struct model;
struct attach;

struct collector_opts {
	pid_t pid;
	struct model *model;
	struct attach *attach; /* return sites found at run time are probed */
	int stats_fd;
	int tstates_fd; /* per-thread BPF state (polls in progress), or -1 */
	FILE *trace; /* print every record here (debugging), or NULL */
	FILE *record; /* store the raw record stream here, or NULL */
	uint64_t sample_bytes; /* mean sampling interval, for weights */
	bool stacks; /* stack records will come: symbolize */
};

/* --record files: this magic, then per record a u32 length and the bytes
 * as they came from the ring buffer (host byte order). */
#define MS_RECORD_MAGIC "MSREC01\n"

int collector__new(const struct collector_opts *opts, struct collector **out);
void collector__free(struct collector *c);
/* The process ran another program: its task probes and symbols are a's
 * now; what was learnt of the old image's vtables and modules goes. */
void collector__exec(struct collector *c, struct attach *a);
/* One record of this process, as the dispatcher hands it over; flush()
 * gives what waits in the batch to the model (after each drain). */
void collector__feed(struct collector *c, const void *data, size_t len);
void collector__flush(struct collector *c);
/* One of the kernel's counters (MS_STAT_*), all CPUs and processes. */
uint64_t collector__kernel_stat(int stats_fd, unsigned int stat);
/* Copy the kernel-side counters (lost events...) into the model. */
void collector__refresh_stats(struct collector *c);
uint64_t collector__records(const struct collector *c);
/* Look at the target's threads for tokio polls that have run for min_ns
 * or more without returning, and tell the model (once a second, and
 * before a snapshot with 0). */
#define COLLECTOR_LONG_POLL_NS 200000000ull /* shorter ones report soon */
void collector__scan_polls(struct collector *c, uint64_t min_ns);

#endif
