/*
 * crt_target: integration-test target on the crt runtime, with the same
 * protocol as the tokio test targets.
 *
 *   crt_target [--tasks N] [--size BYTES] [--abort K] [--nowaker J]
 *              [--big BYTES] [--threads T] [--stack BYTES] [--wait-go]
 *
 *   --tasks N      N holder tasks, each mallocs exactly BYTES (--size) and
 *                  holds it until released (default 4, 4096 bytes)
 *   --abort K      K tasks that malloc BYTES, then wait forever on an event
 *                  (wakers 1); they are cancelled before READY, and the
 *                  cancel frees their buffer
 *   --nowaker J    J tasks suspended with no waiter (wakers 0), allocating
 *                  nothing; cancelled at shutdown
 *   --big BYTES    one more task whose state block is BYTES larger than a
 *                  holder's; it waits for the release and completes
 *   --threads T    T OS threads, each with its own scheduler and its share
 *                  of the tasks (thread 0 is the main thread; default 1)
 *   --stack BYTES  coroutine stack of each task (default 16384)
 *   --wait-go      print WAITING, then block until a line on stdin
 *
 * Once every task has been polled and the aborts are done, it prints the
 * ground truth as one line on stderr, "TRUTH {json}", then READY on stdout,
 * and blocks until a line (or EOF) on stdin.  Then holders and the big task
 * free what they hold and complete, the stuck tasks are cancelled at
 * shutdown, and it exits 0.  Exit 2 on bad usage, 1 on runtime failure.
 */
#define _GNU_SOURCE
#include "crt.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum kind { HOLDER, ABORTED, NOWAKER, NKINDS };

static const char *const kind_name[NKINDS] = {
	"holders",
	"aborted",
	"nowaker",
};

struct worker {
	int index;
	pthread_t thread;
	pid_t tid;
	int n[NKINDS];
	crt_id_t *ids[NKINDS];
	int has_big;
	crt_id_t big;
	/* Signalled by this worker's own thread: events are thread-confined. */
	struct crt_event release;
	int failed;
};

static unsigned long long opt_tasks = 4;
static unsigned long long opt_size = 4096;
static unsigned long long opt_abort;
static unsigned long long opt_nowaker;
static unsigned long long opt_big;
static unsigned long long opt_threads = 1;
static unsigned long long opt_stack = 16384;
static int opt_wait_go;

/* Start/stop handshake between the main thread and the other workers. */
static pthread_mutex_t ctl_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ctl_cond = PTHREAD_COND_INITIALIZER;
static int ctl_ready;
static int ctl_release;

static void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr,
		"crt_target: %s%s%s\n"
		"usage: crt_target [--tasks N] [--size BYTES] [--abort K] "
		"[--nowaker J] [--big BYTES] [--threads T] [--stack BYTES] "
		"[--wait-go]\n",
		msg, arg ? ": " : "", arg ? arg : "");
	exit(2);
}

static unsigned long long parse_num(const char *flag, const char *s)
{
	unsigned long long v;
	char *end;

	if (!s)
		usage_error("missing value after", flag);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		usage_error("not a non-negative number", s);
	return v;
}

static void free_buf(void *buf)
{
	free(buf);
}

/* malloc exactly opt_size and touch it, so it is resident like real data. */
static char *take_buf(void)
{
	char *buf;

	if (!opt_size)
		return NULL;
	buf = malloc(opt_size);
	if (!buf) {
		fprintf(stderr, "crt_target: out of memory\n");
		exit(1);
	}
	memset(buf, 0xa5, opt_size);
	return buf;
}

static void holder_fn(void *arg)
{
	struct worker *w = arg;
	struct crt_cleanup c;
	char *buf = take_buf();

	crt_cleanup_push(&c, free_buf, buf);
	crt_wait(&w->release);
	crt_cleanup_pop(&c, 1);
}

static void abort_fn(void *arg)
{
	struct crt_cleanup c;
	char *buf = take_buf();

	(void)arg;
	/* Cancelling drops the task's stack; the cleanup frees the buffer. */
	crt_cleanup_push(&c, free_buf, buf);
	crt_sleep_forever();
}

static void nowaker_fn(void *arg)
{
	(void)arg;
	crt_park();
}

static void big_fn(void *arg)
{
	struct worker *w = arg;

	crt_wait(&w->release);
}

static crt_id_t spawn_or_die(struct worker *w, crt_fn_t fn, size_t stack)
{
	crt_id_t id = crt_spawn(fn, w, stack);

	if (!id) {
		fprintf(stderr, "crt_target: crt_spawn: out of memory\n");
		exit(1);
	}
	return id;
}

/* Spawn, poll every task once, cancel the aborts.  Runs on w's thread. */
static void worker_setup(struct worker *w)
{
	static const crt_fn_t kind_fn[NKINDS] = { holder_fn, abort_fn,
						  nowaker_fn };
	int i, k, left, expect = w->has_big;

	w->tid = (pid_t)syscall(SYS_gettid);
	crt_event_init(&w->release);
	for (k = 0; k < NKINDS; k++) {
		for (i = 0; i < w->n[k]; i++)
			w->ids[k][i] = spawn_or_die(w, kind_fn[k], opt_stack);
		expect += w->n[k];
	}
	if (w->has_big)
		w->big = spawn_or_die(w, big_fn, opt_stack + opt_big);

	left = crt_run();
	if (left != expect) {
		fprintf(stderr,
			"crt_target: thread %d: %d tasks blocked, "
			"expected %d\n",
			w->index, left, expect);
		w->failed = 1;
	}
	for (i = 0; i < w->n[ABORTED]; i++)
		if (crt_cancel(w->ids[ABORTED][i])) {
			fprintf(stderr, "crt_target: cancel %llu failed\n",
				(unsigned long long)w->ids[ABORTED][i]);
			w->failed = 1;
		}
}

/* Release the holders, let them complete, cancel the stuck ones. */
static void worker_finish(struct worker *w)
{
	int left;

	crt_event_signal(&w->release);
	left = crt_run();
	if (left != w->n[NOWAKER]) {
		fprintf(stderr,
			"crt_target: thread %d: %d tasks left after "
			"release, expected %d\n",
			w->index, left, w->n[NOWAKER]);
		w->failed = 1;
	}
	crt_shutdown();
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	worker_setup(w);
	pthread_mutex_lock(&ctl_lock);
	ctl_ready++;
	pthread_cond_broadcast(&ctl_cond);
	while (!ctl_release)
		pthread_cond_wait(&ctl_cond, &ctl_lock);
	pthread_mutex_unlock(&ctl_lock);
	worker_finish(w);
	return NULL;
}

static int cmp_id(const void *a, const void *b)
{
	crt_id_t x = *(const crt_id_t *)a, y = *(const crt_id_t *)b;

	return x < y ? -1 : x > y;
}

/* One kind of task from every worker, sorted by id. */
static crt_id_t *gather(struct worker *ws, int nw, enum kind k, int *count)
{
	crt_id_t *all;
	int i, j, n = 0;

	for (i = 0; i < nw; i++)
		n += ws[i].n[k];
	all = calloc(n + 1, sizeof(*all));
	if (!all)
		exit(1);
	n = 0;
	for (i = 0; i < nw; i++)
		for (j = 0; j < ws[i].n[k]; j++)
			all[n++] = ws[i].ids[k][j];
	qsort(all, n, sizeof(*all), cmp_id);
	*count = n;
	return all;
}

/*
 * The ground truth, one line on stderr:
 *   holders, aborted, nowaker	task ids of each kind, ascending
 *   big			id of the big task, or null
 *   size			bytes each holder (and aborted task) malloc'd
 *   big_extra			--big: how much larger the big task's state is
 *   big_size			the big task's state_size (0 without --big)
 *   holder_state_size		state_size of every other task
 *   state_size			{"id": state_size} for every task above
 *   tids			OS thread id of each scheduler
 */
static void print_truth(struct worker *ws, int nw)
{
	size_t task_state = crt_state_size(opt_stack);
	size_t big_state = crt_state_size(opt_stack + opt_big);
	crt_id_t *ids[NKINDS], big = 0;
	int n[NKINDS], i, k, first = 1;
	char *line = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&line, &len);
	if (!f)
		exit(1);
	for (k = 0; k < NKINDS; k++)
		ids[k] = gather(ws, nw, k, &n[k]);
	for (i = 0; i < nw; i++)
		if (ws[i].has_big)
			big = ws[i].big;

	fprintf(f, "TRUTH {\"runtime\":\"crt\",\"pid\":%d,\"threads\":%llu",
		(int)getpid(), opt_threads);
	for (k = 0; k < NKINDS; k++) {
		fprintf(f, ",\"%s\":[", kind_name[k]);
		for (i = 0; i < n[k]; i++)
			fprintf(f, "%s%llu", i ? "," : "",
				(unsigned long long)ids[k][i]);
		fputc(']', f);
	}
	if (big)
		fprintf(f, ",\"big\":%llu", (unsigned long long)big);
	else
		fprintf(f, ",\"big\":null");
	fprintf(f,
		",\"size\":%llu,\"big_extra\":%llu,\"big_size\":%zu,"
		"\"holder_state_size\":%zu,\"state_size\":{",
		opt_size, opt_big, big ? big_state : (size_t)0, task_state);
	for (k = 0; k < NKINDS; k++)
		for (i = 0; i < n[k]; i++) {
			fprintf(f, "%s\"%llu\":%zu", first ? "" : ",",
				(unsigned long long)ids[k][i], task_state);
			first = 0;
		}
	if (big)
		fprintf(f, "%s\"%llu\":%zu", first ? "" : ",",
			(unsigned long long)big, big_state);
	fprintf(f, "},\"tids\":[");
	for (i = 0; i < nw; i++)
		fprintf(f, "%s%d", i ? "," : "", (int)ws[i].tid);
	fprintf(f, "]}\n");
	if (fclose(f))
		exit(1);
	/* stderr is unbuffered: the line goes out in one write(). */
	fputs(line, stderr);
	free(line);
	for (k = 0; k < NKINDS; k++)
		free(ids[k]);
}

static void wait_line(void)
{
	char line[256];

	/* EOF counts as the go: a closed stdin must not hang the target. */
	if (!fgets(line, sizeof(line), stdin))
		return;
}

/* Share n among nw workers, the first ones taking the remainder. */
static int share(unsigned long long n, int nw, int i)
{
	return (int)(n / nw + ((unsigned long long)i < n % nw));
}

int main(int argc, char **argv)
{
	struct worker *ws;
	int i, k, nw, failed = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--wait-go")) {
			opt_wait_go = 1;
			continue;
		}
		if (!strcmp(a, "--tasks"))
			opt_tasks = parse_num(a, v);
		else if (!strcmp(a, "--size"))
			opt_size = parse_num(a, v);
		else if (!strcmp(a, "--abort"))
			opt_abort = parse_num(a, v);
		else if (!strcmp(a, "--nowaker"))
			opt_nowaker = parse_num(a, v);
		else if (!strcmp(a, "--big"))
			opt_big = parse_num(a, v);
		else if (!strcmp(a, "--threads"))
			opt_threads = parse_num(a, v);
		else if (!strcmp(a, "--stack"))
			opt_stack = parse_num(a, v);
		else
			usage_error("unknown argument", a);
		i++;
	}
	if (opt_threads < 1 || opt_threads > 256)
		usage_error("--threads must be 1..256", NULL);
	if (opt_tasks > 100000 || opt_abort > 100000 || opt_nowaker > 100000)
		usage_error("at most 100000 tasks of each kind", NULL);
	if (opt_stack < CRT_STACK_MIN)
		usage_error("--stack must be at least 8192", NULL);
	if (opt_big > (1ULL << 32) || opt_size > (1ULL << 32))
		usage_error("--big and --size must be at most 4 GiB", NULL);

	if (opt_wait_go) {
		printf("WAITING\n");
		fflush(stdout);
		wait_line();
	}

	nw = (int)opt_threads;
	ws = calloc(nw, sizeof(*ws));
	if (!ws)
		return 1;
	for (i = 0; i < nw; i++) {
		struct worker *w = &ws[i];

		w->index = i;
		w->n[HOLDER] = share(opt_tasks, nw, i);
		w->n[ABORTED] = share(opt_abort, nw, i);
		w->n[NOWAKER] = share(opt_nowaker, nw, i);
		w->has_big = i == 0 && opt_big > 0;
		for (k = 0; k < NKINDS; k++) {
			w->ids[k] = calloc(w->n[k] + 1, sizeof(crt_id_t));
			if (!w->ids[k])
				return 1;
		}
	}

	/* Thread 0 is this thread; the others run the same steps. */
	for (i = 1; i < nw; i++)
		if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i])) {
			fprintf(stderr, "crt_target: pthread_create failed\n");
			return 1;
		}
	worker_setup(&ws[0]);
	pthread_mutex_lock(&ctl_lock);
	while (ctl_ready < nw - 1)
		pthread_cond_wait(&ctl_cond, &ctl_lock);
	pthread_mutex_unlock(&ctl_lock);

	print_truth(ws, nw);
	printf("READY\n");
	fflush(stdout);
	wait_line();

	pthread_mutex_lock(&ctl_lock);
	ctl_release = 1;
	pthread_cond_broadcast(&ctl_cond);
	pthread_mutex_unlock(&ctl_lock);
	worker_finish(&ws[0]);
	for (i = 1; i < nw; i++)
		pthread_join(ws[i].thread, NULL);

	for (i = 0; i < nw; i++) {
		failed |= ws[i].failed;
		for (k = 0; k < NKINDS; k++)
			free(ws[i].ids[k]);
	}
	free(ws);
	return failed ? 1 : 0;
}
