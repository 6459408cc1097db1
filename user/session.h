/* SPDX-License-Identifier: MIT */
/*
 * One watched process: its probes, collector, model and snapshots. The
 * single-target modes (launch, --pid) run a list of one; --all a list of
 * many (loop.c). A session that follows execs probes each new program
 * (launch, --pid); one that does not ends at exec (--all starts a new one).
 */
#ifndef MS_SESSION_H
#define MS_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "memscope/events.h"
#include "target.h"

struct attach;
struct collector;
struct dispatch;
struct memscope_bpf;
struct model;
struct options;

/* What every session of one run shares. */
struct session_env {
	const struct options *o;
	struct memscope_bpf *skel;
	bool multi; /* uprobe_multi links */
	struct dispatch *d;
	FILE *record; /* --record: the raw record stream (one process) */
};

struct session {
	struct target t;
	const struct session_env *env;
	/* Probes of the programs it ran: the first also holds the
	 * allocator's (libc's probes keep working across exec). */
	struct attach *a[1 + TARGET_MAX_EXECS];
	size_t na;
	struct model *m;
	struct collector *c;
	unsigned snap_seq;
	bool follow_execs;
	bool exec_seen; /* ran another program (not followed: over) */
	bool exec_pending; /* ran another program, to probe after the drain */
	uint64_t exec_ns;
	char exec_path[MS_EXEC_PATH]; /* as the exec record gives it */
};

/*
 * Probe t (allocator unless --tasks-only, tokio, USDT), start its model
 * and collector, route its records and ask the kernel for its execs, exit
 * and forks. Errors: the allocator could not be probed (said), or attach
 * failed (-errno, for the caller to say).
 */
int session__new(const struct session_env *env, const struct target *t,
		 bool follow_execs, struct session **out);
void session__free(struct session *s);
/* An exec, exit or fork record of this process, in order with the rest. */
void session__on_proc(struct session *s, const void *rec);
/* It ran another program: drop the old image, probe the new one. */
void session__follow_exec(struct session *s);
/* Bring the model up to date before it is read: the kernel's counters,
 * polls running for scan_min_ns or more, time-based states. */
void session__refresh(struct session *s, uint64_t scan_min_ns, uint64_t now);
/* Once a second: refresh for long polls and take the timeline sample. */
void session__tick(struct session *s, uint64_t now);
/* Refresh and write its snapshot to -s FILE (nothing without one). */
void session__snapshot(struct session *s);
/* Its last figures: snapshot first (a closed stdout must not cost them),
 * then its summary on out (NULL or --quiet: none), with a "== pid" line
 * when header. */
void session__finish(struct session *s, FILE *out, bool header);

/* Its snapshot document, as it would be written now (malloc'ed). */
int session__text(struct session *s, char **text, size_t *len);
/* Probes (links) it holds now. */
size_t session__probes(const struct session *s);

/* Before anything is attached: can snapshots be written where asked?
 * (A pattern is tried with its first expansion, {pid} as pid.) */
int session__check_snapshot_path(const struct options *o, pid_t pid);
/* Whether a snapshot could not be written in this run. */
bool session__snapshot_failed(void);

#endif
