/* SPDX-License-Identifier: MIT */
/* One process memscoped watches, as the kernel and /proc describe it. */
#ifndef MS_TARGET_H
#define MS_TARGET_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct options;
struct top;

struct target {
	pid_t pid;
	bool launched;
	bool at_exec; /* --all caught it at exec: no library is mapped yet */
	bool exited;
	int exit_status;
	char exe[PATH_MAX];
	char exe_real[PATH_MAX]; /* --pid: what /proc/PID/exe points to */
	char libc[PATH_MAX];
	char alloc[PATH_MAX]; /* where its malloc is: libc or a library */
	char alloc_desc[PATH_MAX + 32]; /* "jemalloc (/usr/lib/...)" */
	/* An allocator in the executable itself, "jemalloc (static, _rjem_)
	 * in /path/exe"; "" when none. */
	char alloc_static[PATH_MAX + 160];
	/* That allocator cannot be probed (stripped, static): its heap is
	 * not seen (attach__exe_alloc_unprobeable()). */
	bool alloc_unprobeable;
	/* Page-level mode (no allocator to probe, or --page-level): why. */
	bool page_level;
	char page_why[256];
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

#define TARGET_MAX_EXECS                       \
	(sizeof(((struct target *)0)->execs) / \
	 sizeof(((struct target *)0)->execs[0]))

/* --pid: the process, its executable and libc. One line said on error. */
int target__resolve_pid(const struct options *o, struct target *t);
/* Launch mode: the program (PATH, scripts' interpreters) and its libc. */
int target__resolve_prog(const struct options *o, struct target *t);
/* Start it stopped right after exec (ptrace), with the signal state
 * memscoped was given; the caller resumes it once the probes are in.
 * -ENOEXEC (t->exited) when it could not even start: said already. */
int target__launch(const struct options *o, struct target *t,
		   const sigset_t *orig_mask, void (*orig_sigpipe)(int),
		   const struct top *view);
/* Launch mode: collect its stops and exit (SIGCHLD). */
void target__reap(struct target *t);
/* After an exec stop: go on, as its tracer only while no async runtime
 * has been found yet (it may still exec the program that matters). */
void target__resume_after_exec(struct target *t, bool runtime_found);
/* memscoped probes 64-bit x86 programs only: one line said, or 0. */
int target__elf_kind(const char *path, const char *what);
void target__cmdline(pid_t pid, char *out, size_t len);
int target__pidfd(pid_t pid);
/* Has the process behind pidfd exited (zombie or not)? */
bool target__pidfd_exited(int pidfd);
/* Has pid exited (reaped, or a zombie)? */
bool target__gone(pid_t pid);
/* The resident set of pid; 0 when unknown. */
uint64_t target__rss(pid_t pid);
/* A wait(2)-style status (exit code << 8, or signal) as the snapshot's
 * exit_status: the code, or 128 + the signal. */
int target__wait_status(uint32_t raw);

#endif
