/*
 * crt_demo: a short tour of the crt runtime, and a sample for memscope.
 *
 * A "boss" task spawns three workers (their parent is the boss), each of
 * which allocates a buffer, yields, and waits for the boss's go.  Beside
 * them: a sleeper that allocates and then waits forever on an event nobody
 * signals (the boss cancels it, its cleanup frees the buffer), a stuck task
 * suspended with no waiter at all (cancelled at shutdown), and a task with a
 * big state (a 1 MiB stack) that waits on two events at once.  It prints
 * what happens and exits by itself.
 *
 * Try:	bpftrace -e 'usdt:./crt_demo:memscope:* { printf("%s %d %d %d\n",
 *		probe, arg0, arg1, arg2); }' -c ./crt_demo
 */
#include "crt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NWORKERS 3
#define BIG_STACK (1024 * 1024)

static struct crt_event go = CRT_EVENT_INIT;
static struct crt_event big_a = CRT_EVENT_INIT;
static struct crt_event big_b = CRT_EVENT_INIT;
static crt_id_t sleeper_id;

static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "crt_demo: out of memory\n");
		exit(1);
	}
	memset(p, 0, n);
	return p;
}

static void worker(void *arg)
{
	size_t n = (size_t)(unsigned long)arg;
	char *buf = xmalloc(n);

	printf("task %llu: worker allocated %zu bytes\n",
	       (unsigned long long)crt_current(), n);
	crt_yield();
	crt_wait(&go);
	printf("task %llu: worker got go, frees its buffer and ends\n",
	       (unsigned long long)crt_current());
	free(buf);
}

static void sleeper(void *arg)
{
	struct crt_cleanup c;
	char *buf = xmalloc(3000);

	(void)arg;
	crt_cleanup_push(&c, free, buf);
	printf("task %llu: sleeper allocated 3000 bytes, waits forever\n",
	       (unsigned long long)crt_current());
	crt_sleep_forever();
}

static void stuck(void *arg)
{
	(void)arg;
	printf("task %llu: stuck task parks with no waiter\n",
	       (unsigned long long)crt_current());
	crt_park();
}

static void big(void *arg)
{
	struct crt_event *evs[2] = { &big_a, &big_b };
	int which;

	(void)arg;
	printf("task %llu: big task (state %zu bytes) waits on 2 events\n",
	       (unsigned long long)crt_current(), crt_state_size(BIG_STACK));
	which = crt_wait_any(evs, 2);
	printf("task %llu: big task woken by event %c\n",
	       (unsigned long long)crt_current(), which ? 'b' : 'a');
}

static void boss(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < NWORKERS; i++) {
		crt_id_t id = crt_spawn(
			worker, (void *)(unsigned long)(1000 * (i + 1)), 0);

		printf("task %llu: boss spawned worker %llu\n",
		       (unsigned long long)crt_current(),
		       (unsigned long long)id);
	}
	/* Let workers and sleeper run up to their waits. */
	crt_yield();
	crt_yield();
	printf("task %llu: boss cancels sleeper %llu\n",
	       (unsigned long long)crt_current(),
	       (unsigned long long)sleeper_id);
	crt_cancel(sleeper_id);
	crt_event_signal(&go);
	crt_event_signal(&big_b);
	printf("task %llu: boss done\n", (unsigned long long)crt_current());
}

int main(void)
{
	int left;

	crt_spawn(boss, NULL, 0);
	sleeper_id = crt_spawn(sleeper, NULL, 0);
	crt_spawn(stuck, NULL, 0);
	crt_spawn(big, NULL, BIG_STACK);

	left = crt_run();
	printf("main: nothing runnable, %d task(s) left (the stuck one)\n",
	       left);
	crt_shutdown();
	printf("main: shutdown cancelled the rest, bye\n");
	return left == 1 ? 0 : 1;
}
