// SPDX-License-Identifier: MIT
/*
 * --all: the processes running at start are found in /proc, later ones at
 * exec (loop.c). Each async one gets a session of its own; a program that
 * is over before its probes are in is said to be, with how long it ran.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach/attach.h"
#include "discover.h"
#include "log.h"
#include "options.h"
#include "session.h"
#include "util.h"

#pragma GCC poison u8 u16 u32 u64 s32 s64

#define VERDICTS 256

/* Whether a program is async, by file identity: most execs on a machine
 * run the same few programs, and reading symbol tables is not free. */
struct verdict {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	int kind;
};

struct discover {
	const struct session_env *env;
	struct verdict verdicts[VERDICTS];
	size_t nverdicts, next_verdict;
	bool full_warned;
	uint64_t failures; /* async processes it could not attach to */
};

struct discover *discover__new(const struct session_env *env)
{
	struct discover *d = calloc(1, sizeof(*d));

	if (d)
		d->env = env;
	return d;
}

uint64_t discover__failures(const struct discover *d)
{
	return d ? d->failures : 0;
}

void discover__free(struct discover *d)
{
	free(d);
}

static int async_kind(struct discover *d, const char *exe)
{
	struct verdict *v;
	struct stat st;
	int kind;

	if (stat(exe, &st))
		return -errno;
	for (size_t i = 0; i < d->nverdicts; i++) {
		v = &d->verdicts[i];
		if (v->dev == st.st_dev && v->ino == st.st_ino &&
		    v->mtime.tv_sec == st.st_mtim.tv_sec &&
		    v->mtime.tv_nsec == st.st_mtim.tv_nsec)
			return v->kind;
	}
	kind = attach__async_kind(exe);
	if (kind < 0)
		return kind;
	v = &d->verdicts[d->next_verdict];
	d->next_verdict = (d->next_verdict + 1) % VERDICTS;
	if (d->nverdicts < VERDICTS)
		d->nverdicts++;
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->mtime = st.st_mtim;
	v->kind = kind;
	return kind;
}

/* An async program caught at exec was over before the probes were in:
 * say so, or a user wonders where it went. */
static void ended_early(pid_t pid, uint64_t exec_ns, const char *exe)
{
	pr_info("pid %d (%s) ended %.1f ms after its exec, before memscoped attached (short-lived: run it under memscoped -- PROGRAM)",
		(int)pid, exe, (double)(util__now_ns() - exec_ns) / 1e6);
}

/* The target as /proc tells it; -ENOENT when it is not to be watched. */
static int describe(struct discover *d, pid_t pid, bool at_exec,
		    uint64_t exec_ns, const char *exec_path, struct target *t)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0) {
		/* A kernel thread, or gone already. */
		if (at_exec && exec_path && exec_path[0] == '/' &&
		    async_kind(d, exec_path) > 0)
			ended_early(pid, exec_ns, exec_path);
		return -ENOENT;
	}
	buf[n] = '\0';
	if (async_kind(d, path) <= 0)
		return -ENOENT;
	t->pid = pid;
	t->exit_status = -1; /* not our child: unknown */
	t->at_exec = at_exec;
	snprintf(t->exe, sizeof(t->exe), "%s", path);
	snprintf(t->exe_real, sizeof(t->exe_real), "%s", buf);
	target__cmdline(pid, t->command, sizeof(t->command));
	if (!t->command[0])
		snprintf(t->command, sizeof(t->command), "%.1000s", buf);
	/* At exec nothing is mapped yet: the libc comes from the program's
	 * own dependencies, as in launch mode. */
	err = at_exec ? -ENOENT :
			attach__find_libc_pid(pid, t->libc, sizeof(t->libc));
	if (err)
		err = attach__find_libc_prog(path, t->libc, sizeof(t->libc));
	if (err) {
		pr_debug("pid %d (%s): no shared libc, not watched", (int)pid,
			 buf);
		return -ENOENT;
	}
	return 0;
}

int discover__start(struct discover *d, pid_t pid, bool at_exec,
		    uint64_t exec_ns, const char *exec_path, bool full,
		    size_t max, struct session **out)
{
	struct target *t;
	int err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->pidfd = -1;
	if (describe(d, pid, at_exec, exec_ns, exec_path, t))
		goto out;
	if (full) {
		if (!d->full_warned)
			log__note(
				"--all watches at most %zu processes: pid %d (%s) and later ones are not watched",
				max, (int)pid, t->exe_real);
		d->full_warned = true;
		goto out;
	}
	t->pidfd = target__pidfd(pid);
	if (t->pidfd < 0)
		goto gone;
	err = session__new(d->env, t, false, out);
	t->pidfd = -1; /* the session's now, or closed with it */
	if (err == -ENOMEM)
		goto out_err;
	if (err) {
		if (target__gone(pid))
			goto gone;
		d->failures++;
		pr_warn("pid %d (%s): cannot attach: %s", (int)pid, t->exe_real,
			strerror(-err));
		goto out;
	}
	pr_info("attached to pid %d (%s): %zu probes%s", (int)pid, t->command,
		attach__links((*out)->a[0]),
		at_exec ? "" : ", running since before memscoped");
	if (at_exec)
		pr_debug("pid %d: probes in %.1f ms after its exec", (int)pid,
			 (double)(util__now_ns() - exec_ns) / 1e6);
	goto out;
gone:
	if (at_exec)
		ended_early(pid, exec_ns, t->exe_real);
	else
		pr_debug("pid %d (%s) ended before memscoped attached",
			 (int)pid, t->exe_real);
out:
	if (t->pidfd >= 0)
		close(t->pidfd);
	free(t);
	return 0;
out_err:
	free(t);
	return -ENOMEM;
}
