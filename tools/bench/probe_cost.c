// SPDX-License-Identifier: MIT
/*
 * probe_cost - attach empty BPF programs (r0 = 0; exit) as uprobes on one
 * process at chosen file offsets, to price each probe of memscoped's set on
 * its own. Used by malloc_bench.sh --breakdown; built by it with plain cc
 * (raw syscalls, no libbpf, no clang).
 *
 *   probe_cost [--multi] LIB SPEC... -- PROGRAM --wait-go ARGS...
 *
 * SPEC is e:OFF (uprobe at file offset OFF of LIB) or r:OFF (uretprobe on
 * the function at OFF). Without --multi each probe is one perf event with
 * the program attached, as libbpf 1.1 (and so memscoped) does it; with
 * --multi the entries and the returns are one BPF_TRACE_UPROBE_MULTI link
 * each (kernel 6.6+). PROGRAM must wait for a line on stdin before its
 * measured work (bench_loop --wait-go): the probes are in place by then.
 * Prints attach and detach times on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROBES 64
#define ATTACH_UPROBE_MULTI \
	48 /* BPF_TRACE_UPROBE_MULTI, newer than our headers */
#define F_UPROBE_MULTI_RETURN 1

/* BPF_LINK_CREATE for uprobe_multi, laid out as in the 6.6+ uapi. */
struct link_create_umulti {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t umulti_flags;
	uint32_t pid;
	uint32_t pad[9];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int die(const char *what)
{
	fprintf(stderr, "probe_cost: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int read_int_file(const char *path, const char *fmt)
{
	char buf[64];
	int v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		die(path);
	if (!fgets(buf, sizeof(buf), f) || sscanf(buf, fmt, &v) != 1) {
		fprintf(stderr, "probe_cost: cannot parse %s\n", path);
		exit(1);
	}
	fclose(f);
	return v;
}

static int load_empty(uint32_t expected_attach_type)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_KPROBE;
	a.insn_cnt = 2;
	a.insns = (uint64_t)(uintptr_t)insns;
	a.license = (uint64_t)(uintptr_t) "GPL";
	a.expected_attach_type = expected_attach_type;
	strcpy(a.prog_name, "probe_cost");
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a));
	if (fd < 0)
		die("BPF_PROG_LOAD");
	return fd;
}

static int perf_uprobe(int pmu, int ret_bit, const char *lib, uint64_t off,
		       int ret, pid_t pid, int prog)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = (uint32_t)pmu;
	attr.config = ret ? 1ull << ret_bit : 0;
	attr.config1 = (uint64_t)(uintptr_t)lib;
	attr.config2 = off;
	fd = (int)syscall(SYS_perf_event_open, &attr, pid, -1, -1,
			  PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		die("perf_event_open(uprobe)");
	if (ioctl(fd, PERF_EVENT_IOC_SET_BPF, prog) ||
	    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0))
		die("attach BPF to the uprobe");
	return fd;
}

static int multi_link(int prog, const char *lib, const uint64_t *offs, int n,
		      int ret, pid_t pid)
{
	struct link_create_umulti a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.prog_fd = (uint32_t)prog;
	a.attach_type = ATTACH_UPROBE_MULTI;
	a.path = (uint64_t)(uintptr_t)lib;
	a.offsets = (uint64_t)(uintptr_t)offs;
	a.cnt = (uint32_t)n;
	a.umulti_flags = ret ? F_UPROBE_MULTI_RETURN : 0;
	a.pid = (uint32_t)pid;
	fd = (int)syscall(SYS_bpf, BPF_LINK_CREATE, &a, sizeof(a));
	if (fd < 0)
		die("BPF_LINK_CREATE(uprobe_multi)");
	return fd;
}

int main(int argc, char **argv)
{
	uint64_t ent[MAX_PROBES], rets[MAX_PROBES];
	int fds[2 * MAX_PROBES], nfd = 0, nent = 0, nret = 0;
	int go[2], status, k, multi = 0, prog;
	const char *lib;
	double t0, t1;
	pid_t pid;

	k = 1;
	if (k < argc && !strcmp(argv[k], "--multi")) {
		multi = 1;
		k++;
	}
	if (k >= argc) {
		fprintf(stderr,
			"usage: probe_cost [--multi] LIB SPEC... -- PROGRAM --wait-go ARGS...\n");
		return 2;
	}
	lib = argv[k++];
	for (; k < argc && strcmp(argv[k], "--"); k++) {
		char *end;
		uint64_t off;

		if ((argv[k][0] != 'e' && argv[k][0] != 'r') ||
		    argv[k][1] != ':' || nent >= MAX_PROBES ||
		    nret >= MAX_PROBES) {
			fprintf(stderr,
				"probe_cost: bad probe '%s' (e:OFF or r:OFF)\n",
				argv[k]);
			return 2;
		}
		off = strtoull(argv[k] + 2, &end, 0);
		if (*end) {
			fprintf(stderr, "probe_cost: bad offset in '%s'\n",
				argv[k]);
			return 2;
		}
		if (argv[k][0] == 'e')
			ent[nent++] = off;
		else
			rets[nret++] = off;
	}
	if (k + 1 >= argc) {
		fprintf(stderr, "probe_cost: no program after --\n");
		return 2;
	}
	prog = load_empty(multi ? ATTACH_UPROBE_MULTI : 0);

	if (pipe2(go, O_CLOEXEC))
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(go[0], 0);
		execv(argv[k + 1], argv + k + 1);
		fprintf(stderr, "probe_cost: cannot run %s: %s\n", argv[k + 1],
			strerror(errno));
		_exit(127);
	}
	close(go[0]);

	t0 = now_ms();
	if (multi) {
		if (nent)
			fds[nfd++] = multi_link(prog, lib, ent, nent, 0, pid);
		if (nret)
			fds[nfd++] = multi_link(prog, lib, rets, nret, 1, pid);
	} else {
		int pmu = read_int_file(
			"/sys/bus/event_source/devices/uprobe/type", "%d");
		int bit = read_int_file(
			"/sys/bus/event_source/devices/uprobe/format/retprobe",
			"config:%d");

		for (int i = 0; i < nent; i++)
			fds[nfd++] = perf_uprobe(pmu, bit, lib, ent[i], 0, pid,
						 prog);
		for (int i = 0; i < nret; i++)
			fds[nfd++] = perf_uprobe(pmu, bit, lib, rets[i], 1, pid,
						 prog);
	}
	t1 = now_ms();
	fprintf(stderr,
		"probe_cost: attached %d probes to pid %d (%s) in %.1f ms\n",
		nent + nret, (int)pid, multi ? "uprobe_multi" : "perf events",
		t1 - t0);

	if (write(go[1], "\n", 1) != 1)
		die("write");
	close(go[1]);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");

	t0 = now_ms();
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	close(prog);
	t1 = now_ms();
	fprintf(stderr, "probe_cost: detached in %.1f ms\n", t1 - t0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
