// SPDX-License-Identifier: MIT
/*
 * The process memscoped watches: found from --pid or started from a
 * command line (stopped at its first instruction under ptrace, so that the
 * probes are in first), its command line, resident set and exit status.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/elf.h"
#include "log.h"
#include "options.h"
#include "target.h"
#include "view/top.h"

void target__cmdline(pid_t pid, char *out, size_t len)
{
	char path[64];
	size_t n = 0;
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(out, 1, len - 1, f);
	fclose(f);
	out[n] = '\0';
	for (size_t i = 0; i + 1 < n; i++)
		if (!out[i])
			out[i] = ' ';
}

/* 'Z' a zombie, 'K' a kernel thread, else the state letter (or '?'). */
static char proc_kind(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long flags = 0;
	char state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	fclose(f);
	/* ") S ppid pgrp session tty tpgid flags" */
	if (!p ||
	    sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return '?';
	if (state != 'Z' && (flags & 0x00200000 /* PF_KTHREAD */))
		return 'K';
	return state;
}

/* memscoped probes 64-bit x86 programs only: one line, or 0. */
int target__elf_kind(const char *path, const char *what)
{
	struct elf_file *ef;
	bool is64, x86;

	if (elf__open(path, &ef))
		return 0; /* not ELF, or unreadable: said elsewhere */
	is64 = elf__is_64bit(ef);
	x86 = elf__machine(ef) == 62 ||
	      elf__machine(ef) == 3; /* x86-64, i386 */
	elf__close(ef);
	if (is64 && x86)
		return 0;
	pr_err("%s is a %s program: memscoped probes 64-bit x86 programs only",
	       what, !is64 && x86 ? "32-bit" : "non-x86");
	return -ENOEXEC;
}

int target__resolve_pid(const struct options *o, struct target *t)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	t->pid = o->pid;
	if (o->pid == getpid()) {
		snprintf(buf, sizeof(buf), "%d", (int)o->pid);
		return options__bad_usage(
			"memscoped cannot trace itself (pid %s)", buf);
	}
	if (kill(o->pid, 0) && errno == ESRCH) {
		snprintf(buf, sizeof(buf), "%d", (int)o->pid);
		pr_err("no process with pid %s", buf);
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)o->pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	target__cmdline(o->pid, t->command, sizeof(t->command));
	if (n < 0) {
		int err = -errno;

		switch (proc_kind(o->pid)) {
		case 'Z':
			pr_err("pid %d has exited (a zombie): nothing left to trace",
			       (int)o->pid);
			return -ESRCH;
		case 'K':
			pr_err("pid %d is a kernel thread: it has no user-space heap to trace",
			       (int)o->pid);
			return -EINVAL;
		}
		pr_err("cannot read %s: %s", path, strerror(-err));
		return err;
	}
	/* Attach through /proc/PID/exe: it names the inode even if the file
	 * was deleted or replaced since the process started. */
	snprintf(t->exe, sizeof(t->exe), "%s", path);
	buf[n] = '\0';
	snprintf(t->exe_real, sizeof(t->exe_real), "%s", buf);
	t->exit_status = -1; /* not our child: the kernel tells, or nobody */
	if (target__elf_kind(path, buf))
		return -ENOEXEC;
	if (attach__find_libc_pid(o->pid, t->libc, sizeof(t->libc))) {
		pr_err("pid %d does not use a shared libc (static or not glibc-based): no allocator to probe",
		       (int)o->pid);
		return -ENOENT;
	}
	return 0;
}

static int find_in_path(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096], *save, *d;

	if (strchr(prog, '/')) {
		snprintf(out, len, "%s", prog);
		return access(out, X_OK) ? -errno : 0;
	}
	snprintf(dirs, sizeof(dirs), "%s",
		 path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		struct stat st;

		snprintf(out, len, "%s/%s", d, prog);
		if (!stat(out, &st) && S_ISREG(st.st_mode) &&
		    !access(out, X_OK))
			return 0;
	}
	return -ENOENT;
}

/* The interpreter of a script's #! line. -EINVAL when there is none. */
static int script_interpreter(const char *path, char *out, size_t len)
{
	char line[PATH_MAX + 3], *p, *end;
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	if (!p || strncmp(line, "#!", 2))
		return -EINVAL;
	for (p = line + 2; *p == ' ' || *p == '\t'; p++)
		;
	for (end = p; *end && *end != ' ' && *end != '\t' && *end != '\n';
	     end++)
		;
	*end = '\0';
	if (!*p || (size_t)(end - p) >= len)
		return -EINVAL;
	memcpy(out, p, (size_t)(end - p) + 1);
	return 0;
}

int target__resolve_prog(const struct options *o, struct target *t)
{
	size_t off = 0;
	int err;

	err = find_in_path(o->argv[0], t->exe, sizeof(t->exe));
	if (err) {
		pr_err("cannot run '%s': %s", o->argv[0],
		       err == -ENOENT ? "no such program" : strerror(-err));
		return err;
	}
	if (target__elf_kind(t->exe, t->exe))
		return -ENOEXEC;
	err = attach__find_libc_prog(t->exe, t->libc, sizeof(t->libc));
	if (err == -ENOEXEC) {
		/* A script: its interpreter runs first, and whatever it
		 * execs is followed. */
		char interp[PATH_MAX];

		err = script_interpreter(t->exe, interp, sizeof(interp));
		if (!err && target__elf_kind(interp, interp))
			return -ENOEXEC;
		if (!err)
			err = attach__find_libc_prog(interp, t->libc,
						     sizeof(t->libc));
		if (err == -ENOEXEC || err == -EINVAL) {
			pr_err("'%s' is neither an ELF program nor a script with a #! line",
			       t->exe);
			return err;
		}
	}
	if (err) {
		pr_err("'%s' does not link a shared libc (static binary?): no allocator to probe",
		       t->exe);
		return err;
	}
	for (char **a = o->argv; *a && off + 2 < sizeof(t->command); a++)
		off += (size_t)snprintf(t->command + off,
					sizeof(t->command) - off, "%s%s",
					a == o->argv ? "" : " ", *a);
	return 0;
}

/*
 * Start the program stopped right after exec (ptrace), so the probes are
 * in place before its first instruction; the caller detaches after attach.
 */
/* --user: the target runs with USER's uid, gid and groups, as strace -u
 * does (the environment is left as it is). In the child, before exec. */
static int become_user(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (!pw || initgroups(pw->pw_name, pw->pw_gid) || setgid(pw->pw_gid) ||
	    setuid(pw->pw_uid)) {
		fprintf(stderr,
			"memscoped: error: cannot run as user '%s': %s\n", user,
			pw ? strerror(errno) : "no such user");
		return -1;
	}
	return 0;
}

int target__launch(const struct options *o, struct target *t,
		   const sigset_t *orig_mask, void (*orig_sigpipe)(int),
		   const struct top *view)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* The target gets the signal state memscoped was given. */
		signal(SIGPIPE, orig_sigpipe);
		sigprocmask(SIG_SETMASK, orig_mask, NULL);
		top__child_stdio(view); /* keys and screen are the view's */
		if (o->user && become_user(o->user))
			_exit(127);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(127);
		execv(t->exe, o->argv);
		fprintf(stderr, "memscoped: error: cannot run '%s': %s\n",
			t->exe, strerror(errno));
		_exit(127);
	}
	t->pid = pid;
	t->launched = true;
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	if (!WIFSTOPPED(status)) {
		t->exited = true;
		return -ENOEXEC;
	}
	return 0;
}

int target__pidfd(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Launch mode, while the program it runs has no async runtime (a wrapper:
 * env, nice, a shell script), memscoped stays its tracer, asking only for
 * its execs: the next program is stopped right after exec and probed
 * before its first instruction. Signals pass straight through; a stop
 * signal (job control) ends the tracing, so that SIGCONT works as ever.
 * If memscoped dies, the kernel lets it go on.
 */
void target__reap(struct target *t)
{
	int status, sig;

	if (!t->launched || t->exited)
		return;
	while (waitpid(t->pid, &status, WNOHANG | __WALL) == t->pid) {
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			t->exited = true;
			t->traced = false;
			t->exit_status = WIFEXITED(status) ?
						 WEXITSTATUS(status) :
						 128 + WTERMSIG(status);
			return;
		}
		if (!WIFSTOPPED(status) || !t->traced)
			continue;
		sig = WSTOPSIG(status);
		if (sig == SIGTRAP && (status >> 16) == PTRACE_EVENT_EXEC) {
			t->exec_stopped = true; /* run() probes, then resumes */
		} else if (sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN ||
			   sig == SIGTTOU) {
			ptrace(PTRACE_DETACH, t->pid, NULL, (void *)(long)sig);
			t->traced = false;
		} else {
			ptrace(PTRACE_CONT, t->pid, NULL, (void *)(long)sig);
		}
	}
}

/* After an exec stop: go on, as its tracer only while the new program
 * may still exec the one that matters (no async runtime found in it). */
void target__resume_after_exec(struct target *t, bool runtime_found)
{
	t->exec_stopped = false;
	if (runtime_found) {
		ptrace(PTRACE_DETACH, t->pid, NULL, NULL);
		t->traced = false;
	} else {
		ptrace(PTRACE_CONT, t->pid, NULL, NULL);
	}
}

/* The target's resident set, for the live view; 0 when unknown. */
uint64_t target__rss(pid_t pid)
{
	unsigned long long size, res = 0;
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return res * (uint64_t)sysconf(_SC_PAGESIZE);
}

int target__wait_status(uint32_t raw)
{
	return (raw & 0x7f) ? 128 + (int)(raw & 0x7f) :
			      (int)((raw >> 8) & 0xff);
}

/* A pidfd turns readable once the process has exited, zombie or not:
 * kill(pid, 0) still succeeds on a zombie its parent has not reaped. */
bool target__pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return pidfd >= 0 && poll(&p, 1, 0) == 1;
}

bool target__gone(pid_t pid)
{
	int fd = target__pidfd(pid);
	bool gone = fd < 0 || target__pidfd_exited(fd);

	if (fd >= 0)
		close(fd);
	return gone;
}
