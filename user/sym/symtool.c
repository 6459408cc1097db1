// SPDX-License-Identifier: MIT
/* symtool: manual checks of the unwinder outside BPF. A developer tool,
 * built as build/symtool (not installed), so it keeps compiling:
 *
 *   symtool stack PID       every thread of PID: stop it (PTRACE_SEIZE +
 *                           INTERRUPT), take its registers and 8 KiB of
 *                           stack as BPF would, let it go, unwind, print
 *   symtool addr PID ADDR.. symbolize addresses (hex) in PID
 *   symtool bench [N]       cost of sym__unwind and sym__frame, in-process
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sym/sym.h"

#define STACK_BYTES 8192
#define MAX_PCS 128

static void print_stack(struct sym_proc *p, const uint64_t *pcs, int n)
{
	for (int i = 0; i < n; i++) {
		struct sym_frame f;
		int rc = sym__frame(p, pcs[i], i > 0, &f);

		printf("  #%-2d %#014" PRIx64 " %s%s", i, pcs[i],
		       f.function ? f.function : "??",
		       rc == 0 && sym__is_runtime_frame(&f) ? "  [rt]" : "");
		if (f.file)
			printf("  %s:%d", f.file, f.line);
		printf("  (%s)\n", f.module ? f.module : "?");
	}
}

/* How many bytes from SP stay inside the mapping that holds it. */
static size_t stack_room(pid_t pid, uint64_t sp, size_t want)
{
	char path[64], line[512];
	uint64_t start, end;
	size_t room = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &start, &end) == 2 &&
		    sp >= start && sp < end) {
			room = end - sp;
			break;
		}
	}
	fclose(f);
	return room < want ? room : want;
}

static int capture_thread(pid_t pid, pid_t tid, struct sym_regs *r,
			  uint8_t *stack, size_t *len)
{
	struct user_regs_struct ur;
	char path[64];
	int status, fd, err = 0;
	ssize_t got;

	if (ptrace(PTRACE_SEIZE, tid, 0, 0))
		return -errno;
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) ||
	    waitpid(tid, &status, __WALL) != tid) {
		err = -errno;
		goto detach;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &ur)) {
		err = -errno;
		goto detach;
	}
	*r = (struct sym_regs){
		.ip = ur.rip,
		.sp = ur.rsp,
		.bp = ur.rbp,
		.bx = ur.rbx,
		.r12 = ur.r12,
		.r13 = ur.r13,
		.r14 = ur.r14,
		.r15 = ur.r15,
	};
	*len = stack_room(pid, ur.rsp, STACK_BYTES);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)tid);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		err = -errno;
		goto detach;
	}
	got = pread(fd, stack, *len, (off_t)ur.rsp);
	close(fd);
	*len = got > 0 ? (size_t)got : 0;
detach:
	ptrace(PTRACE_DETACH, tid, 0, 0);
	return err;
}

static int cmd_stack(pid_t pid)
{
	static uint8_t stack[STACK_BYTES];
	struct sym_proc *p;
	struct dirent *de;
	uint64_t pcs[MAX_PCS];
	char path[64];
	DIR *d;
	int err;

	err = sym__open(pid, &p);
	if (err) {
		fprintf(stderr, "sym__open %d: %s\n", (int)pid, strerror(-err));
		return 1;
	}
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d) {
		perror(path);
		sym__close(p);
		return 1;
	}
	while ((de = readdir(d))) {
		pid_t tid = atoi(de->d_name);
		struct sym_regs r;
		char comm[64] = "", cpath[96];
		size_t len = 0;
		FILE *f;
		int n;

		if (tid <= 0)
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%d/comm",
			 (int)pid, (int)tid);
		f = fopen(cpath, "r");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		err = capture_thread(pid, tid, &r, stack, &len);
		if (err) {
			printf("thread %d (%s): capture failed: %s\n", (int)tid,
			       comm, strerror(-err));
			continue;
		}
		n = sym__unwind(p, &r, stack, len, pcs, MAX_PCS);
		printf("thread %d (%s): ip %#" PRIx64 " sp %#" PRIx64
		       ", %zu stack bytes, %d frames\n",
		       (int)tid, comm, r.ip, r.sp, len, n);
		print_stack(p, pcs, n);
	}
	closedir(d);
	sym__close(p);
	return 0;
}

static int cmd_addr(pid_t pid, int argc, char **argv)
{
	struct sym_proc *p;
	int err = sym__open(pid, &p);

	if (err) {
		fprintf(stderr, "sym__open %d: %s\n", (int)pid, strerror(-err));
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		uint64_t pc = strtoull(argv[i], NULL, 16);

		print_stack(p, &pc, 1);
	}
	sym__close(p);
	return 0;
}

/* ---- bench: a 20-deep chain without frame pointers ------------------- */

static struct sym_regs bench_regs;
static uint8_t bench_stack[STACK_BYTES];
static size_t bench_len;
static volatile int sink;

__attribute__((noinline)) static void bench_copy(uint64_t sp)
{
	bench_len = stack_room(getpid(), sp, STACK_BYTES) & ~(size_t)7;
	memcpy(bench_stack, (const void *)(uintptr_t)sp, bench_len);
}

__attribute__((noinline, noclone, optimize("omit-frame-pointer"))) static int
chain(int depth)
{
	int r;

	if (depth == 0) {
		struct sym_regs *rg = &bench_regs;

		__asm__ volatile("lea 0(%%rip), %%rax\n\t"
				 "mov %%rax, 0(%0)\n\t"
				 "mov %%rsp, 8(%0)\n\t"
				 "mov %%rbp, 16(%0)\n\t"
				 "mov %%rbx, 24(%0)\n\t"
				 "mov %%r12, 32(%0)\n\t"
				 "mov %%r13, 40(%0)\n\t"
				 "mov %%r14, 48(%0)\n\t"
				 "mov %%r15, 56(%0)\n\t"
				 :
				 : "r"(rg)
				 : "rax", "memory");
		bench_copy(bench_regs.sp);
		return 0;
	}
	r = chain(depth - 1);
	sink += r;
	return r + 1;
}

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 +
	       (double)(b->tv_nsec - a->tv_nsec);
}

static int cmd_bench(int iters)
{
	struct timespec t0, t1;
	struct sym_proc *p;
	struct sym_frame f;
	uint64_t pcs[MAX_PCS], base;
	int n = 0, nfresh;

	chain(20);
	if (sym__open(getpid(), &p))
		return 1;
	n = sym__unwind(p, &bench_regs, bench_stack, bench_len, pcs, MAX_PCS);
	printf("stack copy %zu bytes, %d frames:\n", bench_len, n);
	print_stack(p, pcs, n);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < iters; i++)
		n = sym__unwind(p, &bench_regs, bench_stack, bench_len, pcs,
				MAX_PCS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sym__unwind: %.0f ns per call (%d frames, %.0f ns/frame)\n",
	       elapsed_ns(&t0, &t1) / iters, n,
	       elapsed_ns(&t0, &t1) / iters / n);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < iters; i++)
		for (int j = 0; j < n; j++)
			sym__frame(p, pcs[j], j > 0, &f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sym__frame cached: %.1f ns per frame\n",
	       elapsed_ns(&t0, &t1) / iters / n);

	/* Uncached: distinct pcs across libc's text (symbol table, and line
	 * tables when libc6-dbg is installed) and across this binary. */
	base = (uint64_t)(uintptr_t)&memcpy;
	nfresh = 20000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nfresh; i++)
		sym__frame(p, base + (uint64_t)i * 37, true, &f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sym__frame uncached, libc: %.0f ns per frame\n",
	       elapsed_ns(&t0, &t1) / nfresh);
	base = (uint64_t)(uintptr_t)&cmd_bench;
	nfresh = 2000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nfresh; i++)
		sym__frame(p, base + (uint64_t)i, true, &f);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sym__frame uncached, symtool (DWARF lines): %.0f ns per frame\n",
	       elapsed_ns(&t0, &t1) / nfresh);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 20; i++) {
		struct sym_proc *q;

		if (sym__open(getpid(), &q))
			return 1;
		sym__unwind(q, &bench_regs, bench_stack, bench_len, pcs,
			    MAX_PCS);
		for (int j = 0; j < n; j++)
			sym__frame(q, pcs[j], j > 0, &f);
		sym__close(q);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("cold sym__open + unwind + %d frames + close: %.2f ms\n", n,
	       elapsed_ns(&t0, &t1) / 20 / 1e6);
	sym__close(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "stack"))
		return cmd_stack(atoi(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "addr"))
		return cmd_addr(atoi(argv[2]), argc - 3, argv + 3);
	if (argc >= 2 && !strcmp(argv[1], "bench"))
		return cmd_bench(argc >= 3 ? atoi(argv[2]) : 20000);
	fprintf(stderr,
		"usage: symtool stack PID | addr PID ADDR... | bench [N]\n");
	return 2;
}
