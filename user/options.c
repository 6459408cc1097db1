// SPDX-License-Identifier: MIT
/* memscoped's command line: what it means, and refusing what it cannot. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "options.h"
#include "serve/serve.h"
#include "sym/debugfile.h"
#include "view/metrics.h"

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
		"      --max-procs N        --all watches at most N processes (default 64,\n"
		"                           up to 1024; each costs its model and probes)\n"
		"      --listen ADDR:PORT   serve /metrics (Prometheus), /snapshot?pid=N and\n"
		"                           /debug/pprof/heap?pid=N over HTTP, read-only; PORT\n"
		"                           alone listens on 127.0.0.1 only\n"
		"      --metrics-sites K    spawn sites per process on /metrics (default 20)\n"
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
		"      --page-level         attribute memory at page level (page faults, mmap,\n"
		"                           munmap, brk, madvise) even when the allocator can\n"
		"                           be probed; used by itself when it cannot (a\n"
		"                           stripped program with a static allocator)\n"
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

int options__bad_usage(const char *fmt, const char *arg)
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

enum {
	OPT_NF = 256,
	OPT_EVERY,
	OPT_SAMPLE,
	OPT_NO_SPAWN,
	OPT_RECORD,
	OPT_NO_MULTI,
	OPT_TASKS_ONLY,
	OPT_PAGE_LEVEL,
	OPT_RING,
	OPT_FLOOR,
	OPT_VERSION,
	OPT_TRACE,
	OPT_TOP,
	OPT_NO_TOP,
	OPT_ALL,
	OPT_DEBUG_DIR,
	OPT_USER,
	OPT_KEEP,
	OPT_LISTEN,
	OPT_METRICS_SITES,
	OPT_MAX_PROCS
};

static const struct option longopts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "duration", required_argument, NULL, 'd' },
	{ "snapshot", required_argument, NULL, 's' },
	{ "never-finished", required_argument, NULL, OPT_NF },
	{ "keep-ended", required_argument, NULL, OPT_KEEP },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "metrics-sites", required_argument, NULL, OPT_METRICS_SITES },
	{ "max-procs", required_argument, NULL, OPT_MAX_PROCS },
	{ "snapshot-every", required_argument, NULL, OPT_EVERY },
	{ "tasks-only", no_argument, NULL, OPT_TASKS_ONLY },
	{ "page-level", no_argument, NULL, OPT_PAGE_LEVEL },
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

/* An option that takes a value: 0, -EINVAL once said, or 1 when c is
 * not one of them. */
static int apply_value(int c, const char *arg, struct options *o)
{
	unsigned long long n;
	int err;

	switch (c) {
	case 'p':
		if (parse_int(arg, 1, INT_MAX, &n))
			return options__bad_usage(
				"--pid takes a process id (a positive number), not '%s'",
				arg);
		o->pid = (pid_t)n;
		break;
	case 'd':
		if (parse_seconds(arg, &o->duration) || o->duration == 0)
			return options__bad_usage(
				"--duration takes a positive number of seconds, not '%s'",
				arg);
		break;
	case 's':
		if (!*arg)
			return options__bad_usage(
				"--snapshot takes a file name%s", "");
		o->snapshot = arg;
		break;
	case OPT_EVERY:
		if (parse_seconds(arg, &o->snapshot_every) ||
		    o->snapshot_every < 0.1)
			return options__bad_usage(
				"--snapshot-every takes a number of seconds (at least 0.1), not '%s'",
				arg);
		break;
	case OPT_NF:
		if (parse_seconds(arg, &o->never_finished))
			return options__bad_usage(
				"--never-finished takes a number of seconds, not '%s'",
				arg);
		break;
	case OPT_LISTEN: {
		struct sockaddr_storage ss;
		socklen_t len;

		if (serve__parse_listen(arg, &ss, &len))
			return options__bad_usage(
				"--listen '%s': " SERVE_LISTEN_USAGE, arg);
		o->listen = arg;
		break;
	}
	case OPT_METRICS_SITES:
		if (parse_int(arg, 0, 1000, &n))
			return options__bad_usage(
				"--metrics-sites takes a number of sites from 0 to 1000, not '%s'",
				arg);
		o->metrics_sites = (unsigned)n;
		break;
	case OPT_MAX_PROCS:
		/* The kernel's watched map holds 1024 processes. */
		if (parse_int(arg, 1, OPTIONS_MAX_PROCS, &n))
			return options__bad_usage(
				"--max-procs takes a number of processes from 1 to 1024, not '%s'",
				arg);
		o->max_procs = (unsigned)n;
		break;
	case OPT_KEEP:
		/* A million ended tasks are about 400 MB of model and
		 * of every snapshot: a bound that still bounds. */
		if (parse_int(arg, 1, 1000000, &n))
			return options__bad_usage(
				"--keep-ended takes a number of tasks from 1 to 1000000, not '%s'",
				arg);
		o->keep_ended = (size_t)n;
		break;
	case OPT_SAMPLE:
		if (parse_int(arg, 0, 1ull << 40, &n))
			return options__bad_usage(
				"--sample-bytes takes a number of bytes up to 1 TiB (0: no sampling), not '%s'",
				arg);
		o->sample_bytes = n;
		break;
	case OPT_DEBUG_DIR:
		err = debugfile__add_dir(arg);
		if (err == -E2BIG) {
			char max[16];

			snprintf(max, sizeof(max), "%d", DEBUGFILE_MAX_DIRS);
			return options__bad_usage(
				"--debug-dir: at most %s directories", max);
		}
		if (err)
			return options__bad_usage(
				"--debug-dir takes a directory, not '%s'", arg);
		break;
	case OPT_RING:
		/* The kernel takes ring buffers below 4 GiB. */
		if (parse_int(arg, 1, 2048, &n) || (n & (n - 1)))
			return options__bad_usage(
				"--ring-mb takes a power of two from 1 to 2048, not '%s'",
				arg);
		o->ring_mb = (unsigned)n;
		break;
	default:
		return 1;
	}
	return 0;
}

/* A flag, or what ends the parse (--help, --version, an unknown one). */
static int apply_flag(int c, char **argv, struct options *o)
{
	switch (c) {
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
	case OPT_PAGE_LEVEL:
		o->page_level = true;
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
		return options__bad_usage(
			"unknown option or missing argument: '%s'",
			argv[optind - 1]);
	}
	return 0;
}

/* What the options say together. */
static int check_together(const struct options *o)
{
	if ((o->pid != 0) + (o->argv != NULL) + o->all != 1)
		return options__bad_usage(
			"give one of --pid PID, --all or -- PROGRAM [ARGS]%s",
			"");
	if (o->user && !o->argv)
		return options__bad_usage(
			"--user USER runs PROGRAM as USER: it needs -- PROGRAM%s",
			"");
	if (o->user && !getpwnam(o->user))
		return options__bad_usage("--user: no user '%s'", o->user);
	if (o->all && o->snapshot && !strstr(o->snapshot, "{pid}"))
		return options__bad_usage(
			"with --all, --snapshot FILE needs {pid} in FILE (one snapshot per process), not '%s'",
			o->snapshot);
	if (o->all && (o->record || o->trace || o->floor))
		return options__bad_usage(
			"--record, --trace-records and --bench-floor follow one process: use --pid, not --all%s",
			"");
	if (o->snapshot_every && !o->snapshot)
		return options__bad_usage(
			"--snapshot-every needs --snapshot FILE%s", "");
	return 0;
}

int options__parse(int argc, char **argv, struct options *o)
{
	int c, err;

	o->never_finished = 10;
	o->sample_bytes = 512 * 1024; /* jemalloc's default lg_prof_sample */
	o->spawn_stacks = true;
	o->ring_mb = 64;
	o->top = -1;
	o->metrics_sites = METRICS_SITES_DEFAULT;
	o->max_procs = OPTIONS_MAX_PROCS_DEFAULT;
	opterr = 0; /* one error line, ours */
	while ((c = getopt_long(argc, argv, "+p:d:s:qvh", longopts, NULL)) !=
	       -1) {
		err = apply_value(c, optarg, o);
		if (err == 1)
			err = apply_flag(c, argv, o);
		if (err)
			return err;
	}
	if (optind < argc)
		o->argv = argv + optind;
	return check_together(o);
}
