/* SPDX-License-Identifier: MIT */
/*
 * memscoped's run: the BPF object (open -> configure -> load -> attach),
 * the watched processes (one, or every async one with --all) and the one
 * event loop that drains their records until a signal, 'q', --duration or
 * the end of the target.
 */
#ifndef MS_LOOP_H
#define MS_LOOP_H

#include <signal.h>

struct options;
struct target;
struct top;

/* Root or CAP_BPF + CAP_PERFMON, BTF, uprobes: one line, or 0. */
int loop__check_system(void);
/*
 * Run until asked to stop; t is the one target (launch, --pid) or NULL
 * for --all. The live view (*view, may be NULL) is closed before the
 * summaries (*view = NULL). sfd: the signalfd of SIGINT, SIGTERM, SIGHUP,
 * SIGUSR1 and SIGCHLD; orig_mask and orig_sigpipe: the signal state to
 * start a program with. Returns the exit code.
 */
int loop__run(const struct options *o, struct target *t, struct top **view,
	      int sfd, const sigset_t *orig_mask, void (*orig_sigpipe)(int));

#endif
