/* SPDX-License-Identifier: MIT */
/* memscoped's options, parsed and checked before anything is attached. */
#ifndef MS_OPTIONS_H
#define MS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define EXIT_USAGE 2
#define EXIT_RUNTIME 1

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
	bool page_level; /* --page-level: force the page-level fallback */
	bool floor;
	bool quiet;
	bool trace;
	int top; /* 1: --top, 0: --no-top, -1: when stdout is a terminal */
	const char *user; /* --user: run the program as this user */
	const char *listen; /* --listen: serve metrics and profiles */
	unsigned metrics_sites; /* spawn sites per process on /metrics */
	unsigned max_procs; /* --all: processes watched at most */
};

#define OPTIONS_MAX_PROCS_DEFAULT 64
#define OPTIONS_MAX_PROCS 1024 /* the BPF side's watched map */

/* 0, or -EINVAL once the one line saying what is wrong is out. --help and
 * --version print and exit 0. */
int options__parse(int argc, char **argv, struct options *o);
/* Say what is wrong with the command line (fmt takes arg): -EINVAL. */
int options__bad_usage(const char *fmt, const char *arg);

#endif
