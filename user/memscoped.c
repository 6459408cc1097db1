// SPDX-License-Identifier: MIT
/*
 * memscoped: attach to a process (or start one) and account for its heap,
 * per async task. Lifecycle: check input -> open skeleton -> configure
 * (ring size, autoload) -> load -> attach -> drain until the target exits,
 * a signal, or --duration -> summary and snapshot.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/elf.h"
#include "collect/collector.h"
#include "collect/dispatch.h"
#include "log.h"
#include "memscope.skel.h"
#include "memscoped.h"
#include "model/model.h"
#include "sym/debugfile.h"
#include "atomicfile.h"
#include "view/snapshot.h"
#include "view/summary.h"
#include "view/top.h"

#pragma GCC poison u8 u16 u32 u64 s32 s64

uint64_t memscoped__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: memscoped [options] --pid PID\n"
		"       memscoped [options] -- PROGRAM [ARGS...]\n"
		"       memscoped [options] --all\n"
		"\n"
		"Attributes every heap allocation of a process to the async task\n"
		"that made it, and finds tasks that never finish.\n"
		"\n"
		"  -p, --pid PID            attach to a running process\n"
		"      --all                watch every async process (tokio, memscope\n"
		"                           markers): running ones and each one started later\n"
		"  -d, --duration SEC       stop after SEC seconds\n"
		"  -s, --snapshot FILE      write a JSON snapshot at the end and on SIGUSR1\n"
		"      --snapshot-every SEC also every SEC seconds; in FILE, {n} becomes the\n"
		"                           snapshot's number and {t} the seconds since start;\n"
		"                           {pid} the process (needed with --all)\n"
		"      --never-finished SEC flag tasks pending longer than SEC (default 10)\n"
		"      --keep-ended N       ended tasks kept one by one (default 100000); older\n"
		"                           ones that hold no memory are counted together\n"
		"                           (async.tasks_dropped), so memory stays bounded\n"
		"      --tasks-only         task probes only, no allocator probes\n"
		"      --sample-bytes N     take an allocation stack once per N bytes allocated\n"
		"                           on average (default 524288; 0: none)\n"
		"      --no-spawn-stacks    do not take a stack at each task spawn\n"
		"      --debug-dir DIR      also look for separate debug files in DIR (by build\n"
		"                           id: DIR/.build-id/xx/rest.debug, or .gnu_debuglink\n"
		"                           name), before /usr/lib/debug; repeatable. Stripped\n"
		"                           binaries need one for spawn sites and names\n"
		"      --user USER          run PROGRAM as USER (its uid, gid and groups),\n"
		"                           not as root\n"
		"      --record FILE        also store the raw record stream (for replay)\n"
		"      --ring-mb N          ring buffer size in MiB (power of two, default 64)\n"
		"      --top, --no-top      the live view (default when stdout is a terminal)\n"
		"  -q, --quiet              no end-of-run summary\n"
		"  -v, --verbose            debug output, including libbpf's\n"
		"  -h, --help               this help\n"
		"      --version            print the version\n"
		"\n"
		"Needs root (or CAP_BPF and CAP_PERFMON). Exit codes: 0 done,\n"
		"1 runtime failure, 2 bad usage or input.\n");
}

static int bad_usage(const char *fmt, const char *arg)
{
	char buf[512];

	snprintf(buf, sizeof(buf), fmt, arg);
	pr_err("%s (see memscoped --help)", buf);
	return -EINVAL;
}

/* A plain decimal number: no sign, no space, no nan or inf (strtod and
 * strtoull take all of those). */
static bool plain_number(const char *s, bool fraction)
{
	bool digit = false, dot = false;

	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			digit = true;
		else if (*s == '.' && fraction && !dot)
			dot = true;
		else
			return false;
	}
	return digit;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	if (!plain_number(s, true))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e9)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A plain decimal integer in [min, max]. */
static int parse_int(const char *s, unsigned long long min,
		     unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!plain_number(s, false))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_NF = 256, OPT_EVERY, OPT_SAMPLE, OPT_NO_SPAWN, OPT_RECORD,
	       OPT_NO_MULTI, OPT_TASKS_ONLY, OPT_RING, OPT_FLOOR, OPT_VERSION,
	       OPT_TRACE, OPT_TOP, OPT_NO_TOP, OPT_ALL, OPT_DEBUG_DIR, OPT_USER,
	       OPT_KEEP };
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "duration", required_argument, NULL, 'd' },
		{ "snapshot", required_argument, NULL, 's' },
		{ "never-finished", required_argument, NULL, OPT_NF },
		{ "keep-ended", required_argument, NULL, OPT_KEEP },
		{ "snapshot-every", required_argument, NULL, OPT_EVERY },
		{ "tasks-only", no_argument, NULL, OPT_TASKS_ONLY },
		{ "sample-bytes", required_argument, NULL, OPT_SAMPLE },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "no-uprobe-multi", no_argument, NULL, OPT_NO_MULTI },
		{ "no-spawn-stacks", no_argument, NULL, OPT_NO_SPAWN },
		{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
		{ "user", required_argument, NULL, OPT_USER },
		{ "ring-mb", required_argument, NULL, OPT_RING },
		{ "bench-floor", no_argument, NULL, OPT_FLOOR },
		{ "trace-records", no_argument, NULL, OPT_TRACE },
		{ "top", no_argument, NULL, OPT_TOP },
		{ "no-top", no_argument, NULL, OPT_NO_TOP },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	unsigned long long n;
	int c, err;

	o->never_finished = 10;
	o->sample_bytes = 512 * 1024; /* jemalloc's default lg_prof_sample */
	o->spawn_stacks = true;
	o->ring_mb = 64;
	o->top = -1;
	opterr = 0; /* one error line, ours */
	while ((c = getopt_long(argc, argv, "+p:d:s:qvh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'p':
			if (parse_int(optarg, 1, INT_MAX, &n))
				return bad_usage("--pid takes a process id (a positive number), not '%s'",
						 optarg);
			o->pid = (pid_t)n;
			break;
		case 'd':
			if (parse_seconds(optarg, &o->duration) ||
			    o->duration == 0)
				return bad_usage("--duration takes a positive number of seconds, not '%s'",
						 optarg);
			break;
		case 's':
			if (!*optarg)
				return bad_usage("--snapshot takes a file name%s",
						 "");
			o->snapshot = optarg;
			break;
		case OPT_EVERY:
			if (parse_seconds(optarg, &o->snapshot_every) ||
			    o->snapshot_every < 0.1)
				return bad_usage("--snapshot-every takes a number of seconds (at least 0.1), not '%s'",
						 optarg);
			break;
		case OPT_NF:
			if (parse_seconds(optarg, &o->never_finished))
				return bad_usage("--never-finished takes a number of seconds, not '%s'",
						 optarg);
			break;
		case OPT_KEEP:
			/* A million ended tasks are about 400 MB of model and
			 * of every snapshot: a bound that still bounds. */
			if (parse_int(optarg, 1, 1000000, &n))
				return bad_usage("--keep-ended takes a number of tasks from 1 to 1000000, not '%s'",
						 optarg);
			o->keep_ended = (size_t)n;
			break;
		case OPT_SAMPLE:
			if (parse_int(optarg, 0, 1ull << 40, &n))
				return bad_usage("--sample-bytes takes a number of bytes up to 1 TiB (0: no sampling), not '%s'",
						 optarg);
			o->sample_bytes = n;
			break;
		case OPT_NO_MULTI:
			o->no_multi = true;
			break;
		case OPT_RECORD:
			o->record = optarg;
			break;
		case OPT_NO_SPAWN:
			o->spawn_stacks = false;
			break;
		case OPT_TASKS_ONLY:
			o->tasks_only = true;
			break;
		case OPT_DEBUG_DIR:
			err = debugfile__add_dir(optarg);
			if (err == -E2BIG) {
				char max[16];

				snprintf(max, sizeof(max), "%d",
					 DEBUGFILE_MAX_DIRS);
				return bad_usage("--debug-dir: at most %s directories",
						 max);
			}
			if (err)
				return bad_usage("--debug-dir takes a directory, not '%s'",
						 optarg);
			break;
		case OPT_RING:
			/* The kernel takes ring buffers below 4 GiB. */
			if (parse_int(optarg, 1, 2048, &n) || (n & (n - 1)))
				return bad_usage("--ring-mb takes a power of two from 1 to 2048, not '%s'",
						 optarg);
			o->ring_mb = (unsigned)n;
			break;
		case OPT_FLOOR:
			o->floor = true;
			break;
		case OPT_USER:
			o->user = optarg;
			break;
		case OPT_ALL:
			o->all = true;
			break;
		case OPT_TRACE:
			o->trace = true;
			break;
		case OPT_TOP:
		case OPT_NO_TOP:
			o->top = c == OPT_TOP;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			log__set_level(MS_LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case OPT_VERSION:
			printf("memscoped %s\n", MS_VERSION);
			exit(0);
		default:
			return bad_usage("unknown option or missing argument: '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->argv = argv + optind;
	if ((o->pid != 0) + (o->argv != NULL) + o->all != 1)
		return bad_usage("give one of --pid PID, --all or -- PROGRAM [ARGS]%s",
				 "");
	if (o->user && !o->argv)
		return bad_usage("--user USER runs PROGRAM as USER: it needs -- PROGRAM%s",
				 "");
	if (o->user && !getpwnam(o->user))
		return bad_usage("--user: no user '%s'", o->user);
	if (o->all && o->snapshot && !strstr(o->snapshot, "{pid}"))
		return bad_usage("with --all, --snapshot FILE needs {pid} in FILE (one snapshot per process), not '%s'",
				 o->snapshot);
	if (o->all && (o->record || o->trace || o->floor))
		return bad_usage("--record, --trace-records and --bench-floor follow one process: use --pid, not --all%s",
				 "");
	if (o->snapshot_every && !o->snapshot)
		return bad_usage("--snapshot-every needs --snapshot FILE%s", "");
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf is chatty about what it tries; its words matter with -v. */
	log__vmsg(level == LIBBPF_WARN ? MS_LOG_DEBUG : MS_LOG_DEBUG, fmt, ap);
	return 0;
}

static bool has_caps(void)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f;

	if (geteuid() == 0)
		return true;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	/* CAP_BPF (39) and CAP_PERFMON (38), or CAP_SYS_ADMIN (21). */
	return ((eff >> 39) & 1 && (eff >> 38) & 1) || ((eff >> 21) & 1);
}

static int check_system(void)
{
	if (!has_caps()) {
		pr_err("memscoped needs root (or CAP_BPF and CAP_PERFMON): run it with sudo");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_err("this kernel has no BTF (/sys/kernel/btf/vmlinux): memscoped needs CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK)) {
		pr_err("this kernel has no uprobe support (CONFIG_UPROBE_EVENTS): memscoped cannot probe user space");
		return -ENOTSUP;
	}
	return 0;
}

void memscoped__cmdline(pid_t pid, char *out, size_t len)
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
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state,
			 &flags) != 2)
		return '?';
	if (state != 'Z' && (flags & 0x00200000 /* PF_KTHREAD */))
		return 'K';
	return state;
}

/* memscoped probes 64-bit x86 programs only: one line, or 0. */
static int check_elf_kind(const char *path, const char *what)
{
	struct elf_file *ef;
	bool is64, x86;

	if (elf__open(path, &ef))
		return 0; /* not ELF, or unreadable: said elsewhere */
	is64 = elf__is_64bit(ef);
	x86 = elf__machine(ef) == 62 || elf__machine(ef) == 3; /* x86-64, i386 */
	elf__close(ef);
	if (is64 && x86)
		return 0;
	pr_err("%s is a %s program: memscoped probes 64-bit x86 programs only",
	       what, !is64 && x86 ? "32-bit" : "non-x86");
	return -ENOEXEC;
}

static int resolve_pid(const struct options *o, struct target *t)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;

	t->pid = o->pid;
	if (o->pid == getpid()) {
		snprintf(buf, sizeof(buf), "%d", (int)o->pid);
		return bad_usage("memscoped cannot trace itself (pid %s)", buf);
	}
	if (kill(o->pid, 0) && errno == ESRCH) {
		snprintf(buf, sizeof(buf), "%d", (int)o->pid);
		pr_err("no process with pid %s", buf);
		return -ESRCH;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)o->pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	memscoped__cmdline(o->pid, t->command, sizeof(t->command));
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
	if (check_elf_kind(path, buf))
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
	for (d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		struct stat st;

		snprintf(out, len, "%s/%s", d, prog);
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
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
	for (end = p; *end && *end != ' ' && *end != '\t' && *end != '\n'; end++)
		;
	*end = '\0';
	if (!*p || (size_t)(end - p) >= len)
		return -EINVAL;
	memcpy(out, p, (size_t)(end - p) + 1);
	return 0;
}

static int resolve_prog(const struct options *o, struct target *t)
{
	size_t off = 0;
	int err;

	err = find_in_path(o->argv[0], t->exe, sizeof(t->exe));
	if (err) {
		pr_err("cannot run '%s': %s", o->argv[0],
		       err == -ENOENT ? "no such program" : strerror(-err));
		return err;
	}
	if (check_elf_kind(t->exe, t->exe))
		return -ENOEXEC;
	err = attach__find_libc_prog(t->exe, t->libc, sizeof(t->libc));
	if (err == -ENOEXEC) {
		/* A script: its interpreter runs first, and whatever it
		 * execs is followed. */
		char interp[PATH_MAX];

		err = script_interpreter(t->exe, interp, sizeof(interp));
		if (!err && check_elf_kind(interp, interp))
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

	if (!pw || initgroups(pw->pw_name, pw->pw_gid) ||
	    setgid(pw->pw_gid) || setuid(pw->pw_uid)) {
		fprintf(stderr, "memscoped: error: cannot run as user '%s': %s\n",
			user, pw ? strerror(errno) : "no such user");
		return -1;
	}
	return 0;
}

/* SIGPIPE as memscoped found it (it ignores it itself). */
static void (*orig_sigpipe)(int) = SIG_DFL;

static int launch(const struct options *o, struct target *t,
		  const sigset_t *orig_mask, const struct top *view)
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

/*
 * Exponential variates with mean N: sampling allocations where these
 * intervals of bytes run out is a Poisson process over bytes, so a sampled
 * block of size s stands for s / (1 - exp(-s / N)) bytes.
 */
void memscoped__sample_intervals(struct memscope_bpf *skel, uint64_t mean)
{
	int fd = bpf_map__fd(skel->maps.sample_intervals);
	uint64_t x = 0x9e3779b97f4a7c15ull; /* fixed seed: reproducible */

	for (uint32_t k = 0; k < 1024; k++) {
		double u, v;
		uint64_t iv;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		u = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
		v = -log(u) * (double)mean;
		iv = v < 1 ? 1 : (uint64_t)v;
		bpf_map_update_elem(fd, &k, &iv, BPF_ANY);
	}
}

int memscoped__pidfd(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* FILE with {n} -> the snapshot's number, {t} -> seconds since start,
 * {pid} -> the process. */
static void snapshot_path(const char *pattern, unsigned seq, uint64_t secs,
			  pid_t pid, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = pattern; *p && o + 1 < len; p++) {
		if (!strncmp(p, "{n}", 3)) {
			o += (size_t)snprintf(out + o, len - o, "%04u", seq);
			p += 2;
		} else if (!strncmp(p, "{t}", 3)) {
			o += (size_t)snprintf(out + o, len - o, "%llu",
					      (unsigned long long)secs);
			p += 2;
		} else if (!strncmp(p, "{pid}", 5)) {
			o += (size_t)snprintf(out + o, len - o, "%d", (int)pid);
			p += 4;
		} else {
			out[o++] = *p;
		}
		if (o >= len)
			o = len - 1;
	}
	out[o] = '\0';
}

/* A snapshot could not be written: the run exits non-zero. */
static bool snapshot_failed;

bool memscoped__snapshot_failed(void)
{
	return snapshot_failed;
}

/* Before anything is attached: can snapshots be written where asked?
 * (A pattern is tried with its first expansion; {pid} as pid.) */
static int check_snapshot_path(const struct options *o, pid_t pid)
{
	char path[PATH_MAX];
	int err;

	if (!o->snapshot)
		return 0;
	snapshot_path(o->snapshot, 1, 0, pid, path, sizeof(path));
	err = atomicfile__check(path);
	if (err)
		pr_err("cannot write the snapshot %s: %s", path,
		       err == -ELOOP ? "it is a symbolic link" :
		       err == -EISDIR ? "it is a directory" :
					strerror(-err));
	return err;
}

void memscoped__write_snapshot(const struct options *o, const struct target *t,
			      const struct model *m, unsigned *seq)
{
	char path[PATH_MAX];
	struct snapshot_meta meta = {
		.pid = (uint32_t)t->pid,
		.command = t->command,
		.exe = t->exe_real[0] ? t->exe_real : t->exe,
		.now_ns = memscoped__now(),
		.target_exited = t->exited,
		.exit_status = t->exited ? t->exit_status : -1,
		.tasks_only = o->tasks_only,
		.warnings = log__notes(),
		.forks = t->forks,
	};
	struct snapshot_exec execs[sizeof(t->execs) / sizeof(t->execs[0])];
	int err;

	if (!o->snapshot)
		return;
	for (unsigned i = 0; i < t->nexecs && i < sizeof(execs) / sizeof(execs[0]); i++) {
		execs[i].t_ns = t->execs[i].t_ns;
		execs[i].exe = t->execs[i].exe;
		execs[i].command = t->execs[i].command;
		meta.nexecs = i + 1;
	}
	meta.execs = execs;
	snapshot_path(o->snapshot, ++*seq,
		      (meta.now_ns - model__start_ns(m)) / 1000000000ull, t->pid,
		      path, sizeof(path));
	err = snapshot__write(m, &meta, path);
	if (err) {
		snapshot_failed = true;
		pr_err("cannot write snapshot %s: %s", path,
		       err == -ELOOP ? "it is a symbolic link" :
		       err == -EISDIR ? "it is a directory" :
					strerror(-err));
	} else
		pr_info("snapshot written to %s", path);
}

void memscoped__refresh(struct collector *c, struct model *m,
			uint64_t scan_min_ns, uint64_t now)
{
	collector__refresh_stats(c);
	collector__scan_polls(c, scan_min_ns);
	model__tick(m, now);
}

/*
 * Launch mode, while the program it runs has no async runtime (a wrapper:
 * env, nice, a shell script), memscoped stays its tracer, asking only for
 * its execs: the next program is stopped right after exec and probed
 * before its first instruction. Signals pass straight through; a stop
 * signal (job control) ends the tracing, so that SIGCONT works as ever.
 * If memscoped dies, the kernel lets it go on.
 */
static void reap(struct target *t)
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
static void resume_after_exec(struct target *t, const struct attach *a)
{
	t->exec_stopped = false;
	if (attach__runtime_found(a)) {
		ptrace(PTRACE_DETACH, t->pid, NULL, NULL);
		t->traced = false;
	} else {
		ptrace(PTRACE_CONT, t->pid, NULL, NULL);
	}
}

/* The target's resident set, for the live view; 0 when unknown. */
uint64_t memscoped__rss(pid_t pid)
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

int memscoped__wait_status(uint32_t raw)
{
	return (raw & 0x7f) ? 128 + (int)(raw & 0x7f) : (int)((raw >> 8) & 0xff);
}

void memscoped__watch(struct memscope_bpf *skel, pid_t pid, bool on)
{
	uint32_t key = (uint32_t)pid;
	uint8_t one = 1;

	if (on)
		bpf_map__update_elem(skel->maps.watched, &key, sizeof(key),
				     &one, sizeof(one), BPF_ANY);
	else
		bpf_map__delete_elem(skel->maps.watched, &key, sizeof(key), 0);
}

/* One watched process (launch and --pid modes): what following its
 * execs needs. */
struct single {
	const struct options *o;
	struct target *t;
	struct memscope_bpf *skel;
	bool multi;
	struct model *m;
	struct collector *c;
	/* Probes of the programs it ran: the first also holds the
	 * allocator's (libc's probes keep working across exec). */
	struct attach *a[1 + sizeof(((struct target *)0)->execs) /
			       sizeof(((struct target *)0)->execs[0])];
	size_t na;
	bool exec_pending;
	uint64_t exec_ns;
	char exec_path[MS_EXEC_PATH]; /* as the exec record gives it */
};

/* The target ran another program: drop the old image, probe the new one.
 * Allocations stay exact when the new program uses the same libc (its
 * probes are per file and survive exec); task probes are in place a few
 * milliseconds after the exec. */
static void follow_exec(struct single *s)
{
	struct target *t = s->t;
	struct target_exec *x = NULL;
	char path[64], exe[PATH_MAX], libc[PATH_MAX];
	struct attach *a;
	ssize_t n;
	int err;

	s->exec_pending = false;
	model__exec(s->m, s->exec_ns);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)t->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (t->nexecs < sizeof(t->execs) / sizeof(t->execs[0]))
		x = &t->execs[t->nexecs];
	t->nexecs++;
	if (n <= 0) {
		/* Over already: its allocations were seen (same libc), not
		 * its tasks. */
		snprintf(t->exe_real, sizeof(t->exe_real), "%s", s->exec_path);
		snprintf(t->command, sizeof(t->command), "%s", s->exec_path);
		pr_info("pid %d ran %s and ended before its task probes were in",
			(int)t->pid, s->exec_path);
		if (x) {
			x->t_ns = s->exec_ns - model__start_ns(s->m);
			snprintf(x->exe, sizeof(x->exe), "%s", s->exec_path);
			snprintf(x->command, sizeof(x->command), "%s",
				 s->exec_path);
		}
		return;
	}
	exe[n] = '\0';
	snprintf(t->exe, sizeof(t->exe), "%s", path);
	snprintf(t->exe_real, sizeof(t->exe_real), "%s", exe);
	memscoped__cmdline(t->pid, t->command, sizeof(t->command));
	if (check_elf_kind(path, exe)) {
		log__note("pid %d ran %s, which memscoped cannot probe: from then on nothing is seen",
			  (int)t->pid, exe);
		return;
	}
	if (x) {
		x->t_ns = s->exec_ns > model__start_ns(s->m) ?
				  s->exec_ns - model__start_ns(s->m) :
				  0;
		snprintf(x->exe, sizeof(x->exe), "%s", exe);
		snprintf(x->command, sizeof(x->command), "%.255s", t->command);
	}
	if (s->na == sizeof(s->a) / sizeof(s->a[0])) {
		pr_warn("pid %d ran another program (%s): too many programs to follow, its tasks are not",
			(int)t->pid, exe);
		return;
	}
	a = attach__new(s->skel, t->pid, s->o->spawn_stacks, s->multi);
	if (!a)
		return;
	s->a[s->na++] = a;
	/* Another libc (or a static program): probe what it uses. */
	if (!s->o->tasks_only && !attach__find_libc_prog(path, libc, sizeof(libc)) &&
	    strcmp(libc, t->libc)) {
		err = attach__allocator(a, libc, s->o->floor);
		if (err)
			pr_warn("pid %d: cannot probe the allocator of %s: %s",
				(int)t->pid, exe, strerror(-err));
		snprintf(t->libc, sizeof(t->libc), "%s", libc);
	}
	t->at_exec = true; /* its libraries are not mapped yet */
	err = memscoped__probe_tasks(s->o, a, t);
	if (!err)
		err = attach__commit(a);
	if (err)
		pr_warn("pid %d: cannot probe %s: %s", (int)t->pid, exe,
			strerror(-err));
	collector__exec(s->c, a);
	pr_info("pid %d ran another program: %s (probes in place %.1f ms after its exec)",
		(int)t->pid, t->command,
		(double)(memscoped__now() - s->exec_ns) / 1e6);
}

/* Execs, exit and forks of the target, in order with its records. */
static void on_proc(void *ctx, const void *rec, size_t len)
{
	const struct ms_hdr *h = rec;
	struct single *s = ctx;

	if (h->pid != (uint32_t)s->t->pid)
		return;
	switch (h->type) {
	case MS_REC_EXEC:
		/* Acted on after the drain: the rest of the old image's
		 * records may still be in the ring. */
		s->exec_pending = true;
		s->exec_ns = h->ts_ns;
		snprintf(s->exec_path, sizeof(s->exec_path), "%.*s",
			 (int)sizeof(((const struct ms_exec_rec *)rec)->path),
			 ((const struct ms_exec_rec *)rec)->path);
		break;
	case MS_REC_EXIT:
		if (!s->t->launched) /* a child: waitpid says it exactly */
			s->t->exit_status = memscoped__wait_status(
				((const struct ms_exit_rec *)rec)->status);
		break;
	case MS_REC_FORK:
		s->t->forks++;
		break;
	}
}

static int run(const struct options *o, struct target *t, struct model *m,
	       struct dispatch *d, struct collector *c, int sfd,
	       struct top *view, unsigned *seq, struct single *single)
{
	uint64_t start = memscoped__now(), last_tick = start, last_snap = start;
	uint64_t every = (uint64_t)(o->snapshot_every * 1e9);
	uint64_t deadline = o->duration > 0 ?
				    start + (uint64_t)(o->duration * 1e9) :
				    0;
	struct top_info info = {
		.pid = t->pid,
		.command = t->command,
		.rss_bytes = view ? memscoped__rss(t->pid) : 0,
		.tasks_only = o->tasks_only,
		.can_snapshot = o->snapshot != NULL,
	};
	/* poll() skips negative fds: no pidfd, no view. */
	struct pollfd pfd[4] = {
		{ .fd = dispatch__fd(d), .events = POLLIN },
		{ .fd = sfd, .events = POLLIN },
		{ .fd = t->pidfd, .events = POLLIN },
		{ .fd = top__fd(view), .events = POLLIN },
	};

	for (;;) {
		uint64_t now;
		int n;

		/* Records are committed without wake-ups below a threshold:
		 * the timeout bounds how stale the model can get. */
		n = poll(pfd, 4, 50);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (dispatch__drain(d) < 0)
			return -EIO;
		if (single->exec_pending && !t->traced) {
			/* What the old image still sent is in: drain once
			 * more, then probe the new program. */
			if (dispatch__drain(d) < 0)
				return -EIO;
			follow_exec(single);
			info.command = t->command;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGUSR1) {
					memscoped__refresh(c, m, 0,
							   memscoped__now());
					memscoped__write_snapshot(o, t, m,
								  seq);
				} else if (si.ssi_signo == SIGCHLD) {
					reap(t);
				} else {
					return 0; /* SIGINT, SIGTERM, SIGHUP */
				}
			}
		}
		if (t->exec_stopped) {
			/* Stopped right after exec: its records up to the
			 * exec are in the ring. */
			if (dispatch__drain(d) < 0)
				return -EIO;
			if (!single->exec_pending) { /* its record was lost */
				single->exec_pending = true;
				single->exec_ns = memscoped__now();
			}
			follow_exec(single);
			info.command = t->command;
			resume_after_exec(t, single->a[single->na - 1]);
		}
		if (t->pidfd >= 0 && (pfd[2].revents & POLLIN)) {
			/* Every record of the target was committed before it
			 * exited: one more drain sees them all. */
			reap(t);
			t->exited = true;
			return 0;
		}
		n = top__input(view);
		if (n & TOP_ACT_QUIT)
			return 0;
		if (n & TOP_ACT_SNAPSHOT) {
			memscoped__refresh(c, m, 0, memscoped__now());
			memscoped__write_snapshot(o, t, m, seq);
		}
		now = memscoped__now();
		if (now - last_tick >= 1000000000ull) {
			memscoped__refresh(c, m, COLLECTOR_LONG_POLL_NS, now);
			model__sample(m, now);
			last_tick = now;
			if (view)
				info.rss_bytes = memscoped__rss(t->pid);
		}
		if (every && now - last_snap >= every) {
			memscoped__refresh(c, m, 0, now);
			memscoped__write_snapshot(o, t, m, seq);
			last_snap = now;
		}
		info.now_ns = now;
		top__draw(view, m, &info);
		if (deadline && now >= deadline)
			return 0;
	}
}

/* What a user should know about a tokio program's task probes. */
static void memscoped__tokio_notes(const struct options *o, const struct attach *a,
			    const char *exe)
{
	struct attach_tokio_info ti;

	attach__tokio_info(a, &ti);
	pr_debug("tokio %u.%u.%u: %zu task types, %zu poll functions, %zu spawn functions",
		 ti.version / 1000000, ti.version / 1000 % 1000,
		 ti.version % 1000, ti.vtables, ti.polls, ti.spawn_fns);
	if (ti.stripped && !ti.debug_file && o->spawn_stacks)
		log__note("%s is stripped and no debug file was found (--debug-dir): tasks are tracked, spawn sites are not",
			  exe);
	else if (!ti.spawn_fns && o->spawn_stacks)
		log__note("%s: no task-creating function found: tasks are tracked, spawn sites are not",
			  exe);
}

int memscoped__probe(const struct options *o, struct attach *a,
		     const struct target *t)
{
	int err;

	if (!o->tasks_only) {
		err = attach__allocator(a, t->libc, o->floor);
		if (err) {
			pr_err("cannot probe the allocator in %s: %s", t->libc,
			       strerror(-err));
			return err;
		}
	}
	return memscoped__probe_tasks(o, a, t);
}

int memscoped__probe_tasks(const struct options *o, struct attach *a,
			   const struct target *t)
{
	bool tokio;
	int n;

	/* The floor keeps the task probes (empty programs) so that each mode
	 * has its own floor: with --tasks-only, the task probes alone. */
	n = attach__tokio(a, t->exe, o->floor);
	if (o->floor)
		return 0;
	if (n < 0)
		pr_warn("cannot probe tokio's task functions: %s",
			strerror(-n));
	else if (n > 0)
		memscoped__tokio_notes(o, a, t->exe);
	tokio = n > 0;
	n = attach__usdt(a, t->exe);
	n += t->launched || t->at_exec ? attach__usdt_needed(a, t->exe) :
			   attach__usdt_mapped(a, t->pid, t->exe_real);
	if (n > 0)
		pr_debug("usdt: %d memscope markers", n);
	else if (!tokio)
		pr_info("%s: no async runtime found (no tokio task vtables, no memscope markers): allocations only",
			t->exe);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct target t = { .pidfd = -1 };
	struct memscope_bpf *skel = NULL;
	struct bpf_link *switch_link = NULL, *proc_links[3] = { NULL };
	struct single single = { 0 };
	struct collector *c = NULL;
	struct dispatch *d = NULL;
	struct attach *a = NULL;
	struct model *m = NULL;
	struct top *view = NULL;
	sigset_t mask, orig;
	FILE *rec = NULL;
	int sfd = -1, err, ret = EXIT_RUNTIME;
	unsigned snap_seq = 0;
	bool multi;

	log__set_prog("memscoped");
	if (parse_args(argc, argv, &o))
		return EXIT_USAGE;
	if (check_system())
		return EXIT_USAGE;
	err = o.all ? 0 : o.pid ? resolve_pid(&o, &t) : resolve_prog(&o, &t);
	if (err)
		return EXIT_USAGE;
	if (check_snapshot_path(&o, o.pid ? o.pid : 1))
		return EXIT_USAGE;
	libbpf_set_print(libbpf_print);
	if (o.top) {
		view = top__new();
		if (!view && o.top > 0) {
			pr_err("--top needs a terminal on stdout, and TERM naming it");
			return EXIT_USAGE;
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* A closed terminal asks to stop, as SIGTERM does: the snapshot is
	 * still written. Writes to a closed stdout fail instead of killing. */
	sigaddset(&mask, SIGHUP);
	orig_sigpipe = signal(SIGPIPE, SIG_IGN);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &orig);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		pr_err("signalfd: %s", strerror(errno));
		goto cleanup;
	}

	skel = memscope_bpf__open();
	if (!skel) {
		pr_err("cannot open the BPF object: %s", strerror(errno));
		goto cleanup;
	}
	bpf_map__set_max_entries(skel->maps.rb, o.ring_mb << 20);
	skel->rodata->sample_bytes = o.tasks_only ? 0 : o.sample_bytes;
	skel->rodata->spawn_stacks = o.spawn_stacks;
	if (o.floor) {
		struct bpf_program *p;

		bpf_object__for_each_program(p, skel->obj)
			bpf_program__set_autoload(p, false);
		bpf_program__set_autoload(skel->progs.floor_enter, true);
		bpf_program__set_autoload(skel->progs.floor_ret, true);
		bpf_program__set_autoload(skel->progs.floor_switch, true);
	} else {
		bpf_program__set_autoload(skel->progs.floor_enter, false);
		bpf_program__set_autoload(skel->progs.floor_ret, false);
		bpf_program__set_autoload(skel->progs.floor_switch, false);
	}
	/* Every exec on the machine for --all; the target's only, with its
	 * exit and forks, otherwise. */
	skel->rodata->all_execs = o.all;
	multi = !o.no_multi && attach__multi_supported();
	if (multi)
		attach__prepare_multi(skel);
	err = memscope_bpf__load(skel);
	if (err) {
		pr_err("cannot load the BPF programs: %s (run with -v for the verifier log)",
		       strerror(-err));
		goto cleanup;
	}
	/* tokio polls end when their thread is next switched out, at the
	 * latest (there is no return probe). */
	switch_link = bpf_program__attach(o.floor ? skel->progs.floor_switch :
						    skel->progs.poll_switch);
	if (!switch_link) {
		err = -errno;
		pr_err("cannot attach tp_btf/sched_switch: %s", strerror(-err));
		goto cleanup;
	}

	if (o.all) {
		if (o.sample_bytes)
			memscoped__sample_intervals(skel, o.sample_bytes);
		err = all__run(&o, skel, multi, &view, sfd);
		ret = err || memscoped__snapshot_failed() ? EXIT_RUNTIME : 0;
		goto cleanup;
	}
	if (o.argv) {
		err = launch(&o, &t, &orig, view);
		if (err) {
			if (t.exited)
				ret = EXIT_USAGE;
			else
				pr_err("cannot start %s: %s", t.exe,
				       strerror(-err));
			goto cleanup;
		}
	}
	if (o.sample_bytes)
		memscoped__sample_intervals(skel, o.sample_bytes);
	a = attach__new(skel, t.pid, o.spawn_stacks, multi);
	if (!a)
		goto cleanup;
	err = memscoped__probe(&o, a, &t);
	if (err)
		goto cleanup;

	if (o.record) {
		int fd = open(o.record,
			      O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			      0600);

		rec = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!rec || fwrite(MS_RECORD_MAGIC, 8, 1, rec) != 1) {
			pr_err("cannot write %s: %s", o.record, strerror(errno));
			if (fd >= 0 && !rec)
				close(fd);
			goto cleanup;
		}
	}
	err = attach__commit(a);
	if (err) {
		pr_err("cannot attach the probes: %s", strerror(-err));
		goto cleanup;
	}
	m = model__new(&(struct model_opts){
		.start_ns = memscoped__now(),
		.never_finished_ns = (uint64_t)(o.never_finished * 1e9),
		.pid = (uint32_t)t.pid,
		.max_ended_tasks = o.keep_ended,
	});
	if (!m)
		goto cleanup;
	err = collector__new(&(struct collector_opts){
				     .pid = t.pid,
				     .model = m,
				     .attach = a,
				     .stats_fd = bpf_map__fd(skel->maps.stats),
				     .tstates_fd = bpf_map__fd(skel->maps.tstates),
				     .trace = o.trace ? stderr : NULL,
				     .record = rec,
				     .sample_bytes = o.sample_bytes,
				     .stacks = !o.floor &&
					       (o.sample_bytes || o.spawn_stacks),
			     },
			     &c);
	if (!err)
		err = dispatch__new(bpf_map__fd(skel->maps.rb), on_proc, &single,
				    &d);
	if (!err)
		err = dispatch__add(d, (uint32_t)t.pid, c);
	if (err) {
		pr_err("cannot read the ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	single = (struct single){
		.o = &o, .t = &t, .skel = skel, .multi = multi, .m = m, .c = c,
		.a = { a }, .na = 1,
	};
	/* Its execs, exit status and forks, from the kernel. */
	memscoped__watch(skel, t.pid, true);
	proc_links[0] = bpf_program__attach(skel->progs.proc_exec);
	proc_links[1] = bpf_program__attach(skel->progs.proc_exit);
	proc_links[2] = bpf_program__attach(skel->progs.proc_fork);
	if (!proc_links[0] || !proc_links[1] || !proc_links[2]) {
		err = -errno;
		pr_err("cannot follow the process (exec, exit, fork tracepoints): %s",
		       strerror(-err));
		goto cleanup;
	}
	t.pidfd = memscoped__pidfd(t.pid);
	if (t.launched) {
		/* A program with no async runtime may be a wrapper: its execs
		 * are followed from the first instruction (reap()). */
		t.traced = !attach__runtime_found(a) &&
			   !ptrace(PTRACE_SETOPTIONS, t.pid, NULL,
				   (void *)(long)PTRACE_O_TRACEEXEC);
		if (ptrace(t.traced ? PTRACE_CONT : PTRACE_DETACH, t.pid, NULL,
			   NULL)) {
			pr_err("cannot resume %s: %s", t.exe, strerror(errno));
			goto cleanup;
		}
	}
	pr_info("attached to pid %d (%s): %zu probes", (int)t.pid, t.command,
		attach__links(a));

	err = run(&o, &t, m, d, c, sfd, view, &snap_seq, &single);
	top__free(view); /* the terminal is back: summary and messages */
	view = NULL;
	if (err)
		pr_err("event loop: %s", strerror(-err));
	dispatch__drain(d);
	if (single.exec_pending)
		follow_exec(&single); /* it ran a program and ended at once */
	if (t.forks)
		pr_info("pid %d forked %u process%s: not followed (their allocations and tasks are not in these figures)",
			(int)t.pid, t.forks, t.forks == 1 ? "" : "es");
	if (dispatch__unclaimed(d))
		pr_debug("%llu records of other processes (children of the target?) left aside",
			 (unsigned long long)dispatch__unclaimed(d));
	memscoped__refresh(c, m, 0, memscoped__now());
	model__sample(m, memscoped__now());
	/* The snapshot first: a closed stdout or a hangup while the summary
	 * is printed must not cost the run's figures. */
	memscoped__write_snapshot(&o, &t, m, &snap_seq);
	if (!o.quiet)
		summary__print(stdout, m, memscoped__now());
	fflush(stdout);
	ret = err || memscoped__snapshot_failed() ? EXIT_RUNTIME : 0;
cleanup:
	top__free(view);
	dispatch__free(d);
	collector__free(c);
	bpf_link__destroy(switch_link);
	for (size_t i = 0; i < 3; i++)
		bpf_link__destroy(proc_links[i]);
	for (size_t i = 1; i < single.na; i++)
		attach__destroy(single.a[i]);
	if (rec && fclose(rec))
		pr_err("writing %s: %s", o.record, strerror(errno));
	attach__destroy(a);
	memscope_bpf__destroy(skel);
	model__free(m);
	if (t.pidfd >= 0)
		close(t.pidfd);
	if (sfd >= 0)
		close(sfd);
	if (t.launched && !t.exited && ret != 0)
		kill(t.pid, SIGKILL); /* we started it and could not trace it */
	return ret;
}
