// SPDX-License-Identifier: MIT
/*
 * bench_loop - the microbenchmark behind the "ns per pair" table in the
 * design notes: a tight loop of malloc(64..127) + free, timed with
 * CLOCK_MONOTONIC, so that probe costs can be compared untraced and traced.
 *
 *   bench_loop [--wait-go] ITER
 *
 * --wait-go prints WAITING and blocks until a line arrives on stdin, so a
 * tracer can attach to the running pid before the loop starts. The result
 * goes to stdout as "ns_per_pair <float>".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void write_str(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void __attribute__((noreturn)) usage(const char *why)
{
	write_str(2, "bench_loop: ");
	write_str(2, why);
	write_str(2, "\nusage: bench_loop [--wait-go] ITER\n");
	_exit(2);
}

static void wait_line(void)
{
	char c;

	for (;;) {
		ssize_t n = read(0, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			return;
	}
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long long iters = 0, i;
	const char *arg = NULL;
	char buf[64];
	double t0, t1;
	char *end;
	int k, len;

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--wait-go")) {
			continue;
		} else if (!arg) {
			arg = argv[k];
		} else {
			usage("too many arguments");
		}
	}
	if (!arg)
		usage("ITER is missing");
	errno = 0;
	iters = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || *arg == '-' || iters == 0)
		usage("ITER must be a positive integer");

	for (k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "--wait-go")) {
			write_str(1, "WAITING\n");
			wait_line();
			break;
		}
	}

	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		/* 64..127 bytes, deterministic, all in the same tcache range. */
		size_t size = 64 + (size_t)((i * 37) & 63);
		volatile unsigned char *p = malloc(size);

		/*
		 * The store keeps the pair alive even if a compiler were
		 * allowed to treat malloc as a builtin.
		 */
		if (p)
			p[0] = (unsigned char)i;
		free((void *)p);
	}
	t1 = now_ns();

	/* Formatted on the stack: stdio is not needed, nor its buffer. */
	len = snprintf(buf, sizeof(buf), "ns_per_pair %.1f\n",
		       (t1 - t0) / (double)iters);
	if (len > 0)
		write_str(1, buf);
	return 0;
}
