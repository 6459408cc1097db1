/* SPDX-License-Identifier: MIT */
/* What memscoped's two modes share: one target (--pid, launch) and every
 * async process (--all, all.c). */
#ifndef MS_MEMSCOPED_H
#define MS_MEMSCOPED_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define EXIT_USAGE 2
#define EXIT_RUNTIME 1

struct attach;
struct collector;
struct memscope_bpf;
struct model;
struct top;

struct options {
	pid_t pid;
	char **argv; /* launch mode */
	bool all; /* --all: every async process */
	double duration; /* 0: until the target exits */
	const char *snapshot;
	double snapshot_every; /* seconds, 0: off */
	double never_finished; /* seconds */
	size_t keep_ended; /* ended tasks kept in detail (0: the model's) */
	unsigned long long sample_bytes; /* allocation stack sampling */
	const char *record; /* raw record stream file */
	bool spawn_stacks;
	bool no_multi; /* one perf-event uprobe per probe, as on old kernels */
	unsigned ring_mb;
	bool tasks_only;
	bool floor;
	bool quiet;
	bool trace;
	int top; /* 1: --top, 0: --no-top, -1: when stdout is a terminal */
	const char *user; /* --user: run the program as this user */
};

struct target {
	pid_t pid;
	bool launched;
	bool at_exec; /* --all caught it at exec: no library is mapped yet */
	bool exited;
	int exit_status;
	char exe[PATH_MAX];
	char exe_real[PATH_MAX]; /* --pid: what /proc/PID/exe points to */
	char libc[PATH_MAX];
	char command[1024];
	int pidfd;
	unsigned forks; /* children it forked (not followed) */
	bool traced; /* launch mode: its tracer, for its execs */
	bool exec_stopped; /* stopped right after an exec (traced) */
	/* Programs it ran after the first (exec), oldest first. */
	struct target_exec {
		uint64_t t_ns; /* since trace start */
		char exe[PATH_MAX];
		char command[256];
	} execs[8];
	unsigned nexecs; /* may exceed the array: the first 8 are kept */
};

uint64_t memscoped__now(void); /* CLOCK_MONOTONIC, ns */
/* A wait(2)-style status (exit code << 8, or signal) as the snapshot's
 * exit_status: the code, or 128 + the signal. */
int memscoped__wait_status(uint32_t raw);
/* Report pid's execs, exits and forks (in the kernel's watched map). */
void memscoped__watch(struct memscope_bpf *skel, pid_t pid, bool on);
void memscoped__cmdline(pid_t pid, char *out, size_t len);
/* t's snapshot to -s FILE (nothing without one); *seq numbers them. */
void memscoped__write_snapshot(const struct options *o, const struct target *t,
			       const struct model *m, unsigned *seq);
/* Bring the model up to date before it is read: the kernel's counters,
 * polls running for scan_min_ns or more, time-based states. */
void memscoped__refresh(struct collector *c, struct model *m,
			uint64_t scan_min_ns, uint64_t now);
void memscoped__sample_intervals(struct memscope_bpf *skel, uint64_t mean);
int memscoped__pidfd(pid_t pid);
/* The resident set of pid, for the live view; 0 when unknown. */
uint64_t memscoped__rss(pid_t pid);
/* Queue every probe the options ask for on t (allocator, tokio, USDT).
 * Negative errno when the allocator cannot be probed. */
/* The task probes alone (tokio, USDT), for a program run after exec. */
int memscoped__probe_tasks(const struct options *o, struct attach *a,
			   const struct target *t);
/* Whether a snapshot could not be written in this run. */
bool memscoped__snapshot_failed(void);
int memscoped__probe(const struct options *o, struct attach *a,
		     const struct target *t);

/* --all: watch every async process until a signal or --duration. Closes
 * the live view (*view = NULL) before its last summaries. */
int all__run(const struct options *o, struct memscope_bpf *skel, bool multi,
	     struct top **view, int sfd);

#endif
