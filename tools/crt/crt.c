/*
 * crt: coroutine runtime on ucontext, one scheduler per OS thread, with the
 * memscope task markers.  See crt.h for the model and the marker semantics.
 */
#define _GNU_SOURCE
#include "crt.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include <memscope/markers.h>

/* Most events one crt_wait_any() can wait on; waiters live on its stack. */
#define CRT_WAIT_MAX 8

/* One registration of a task on an event. */
struct crt_waiter {
	struct crt_waiter *prev; /* on the event's list */
	struct crt_waiter *next;
	struct crt_waiter *task_next; /* the task's other registrations */
	struct crt_event *ev;
	struct crt_task *task;
};

struct crt_sched;

struct crt_task {
	ucontext_t ctx;
	struct crt_sched *sched;
	crt_id_t id;
	crt_fn_t fn;
	void *arg;
	struct crt_task *prev; /* all live tasks of the scheduler */
	struct crt_task *next;
	struct crt_task *rq_prev; /* run queue */
	struct crt_task *rq_next;
	struct crt_waiter *waits; /* registrations, NULL when none */
	int nwaits;
	int queued;
	int done;
	int cancelled;
	struct crt_event *woken_by;
	struct crt_cleanup *cleanups;
};

struct crt_sched {
	ucontext_t ctx; /* the scheduler loop, inside crt_run() */
	struct crt_task *current;
	struct crt_task *rq_head;
	struct crt_task *rq_tail;
	struct crt_task *tasks_head;
	struct crt_task *tasks_tail;
	int nlive;
	int running;
	int stopping;
};

/*
 * The stack starts at a 64-byte boundary after the struct: alignment for the
 * stack, and a state_size that only depends on the stack size.
 */
#define CRT_HDR_SIZE ((sizeof(struct crt_task) + 63) & ~(size_t)63)

static _Thread_local struct crt_sched crt_self;
static _Atomic crt_id_t crt_next_id = 1;

static void crt_bug(const char *what)
{
	fprintf(stderr, "crt: %s\n", what);
	abort();
}

size_t crt_state_size(size_t stack_size)
{
	if (!stack_size)
		stack_size = CRT_STACK_DEFAULT;
	if (stack_size < CRT_STACK_MIN)
		stack_size = CRT_STACK_MIN;
	stack_size = (stack_size + 15) & ~(size_t)15;
	return CRT_HDR_SIZE + stack_size;
}

crt_id_t crt_current(void)
{
	return crt_self.current ? crt_self.current->id : 0;
}

static void rq_push(struct crt_sched *s, struct crt_task *t)
{
	if (t->queued)
		return;
	t->queued = 1;
	t->rq_next = NULL;
	t->rq_prev = s->rq_tail;
	if (s->rq_tail)
		s->rq_tail->rq_next = t;
	else
		s->rq_head = t;
	s->rq_tail = t;
}

static void rq_remove(struct crt_sched *s, struct crt_task *t)
{
	if (!t->queued)
		return;
	if (t->rq_prev)
		t->rq_prev->rq_next = t->rq_next;
	else
		s->rq_head = t->rq_next;
	if (t->rq_next)
		t->rq_next->rq_prev = t->rq_prev;
	else
		s->rq_tail = t->rq_prev;
	t->rq_prev = t->rq_next = NULL;
	t->queued = 0;
}

static void unregister_all(struct crt_task *t)
{
	struct crt_waiter *w;

	for (w = t->waits; w; w = w->task_next) {
		struct crt_event *ev = w->ev;

		if (w->prev)
			w->prev->next = w->next;
		else
			ev->head = w->next;
		if (w->next)
			w->next->prev = w->prev;
		else
			ev->tail = w->prev;
	}
	t->waits = NULL;
	t->nwaits = 0;
}

/* Last step of every task: the marker first, so the free is known to end it. */
static void task_release(struct crt_sched *s, struct crt_task *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		s->tasks_head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		s->tasks_tail = t->prev;
	s->nlive--;
	MEMSCOPE_TASK_FREE(t->id);
	free(t);
}

/* End a task that did not finish: its stack is dropped without unwinding. */
static void task_teardown(struct crt_sched *s, struct crt_task *t)
{
	struct crt_cleanup *c;

	unregister_all(t);
	rq_remove(s, t);
	MEMSCOPE_TASK_CANCEL(t->id);
	while ((c = t->cleanups)) {
		t->cleanups = c->next;
		c->fn(c->arg);
	}
	task_release(s, t);
}

static void teardown_all(struct crt_sched *s)
{
	while (s->tasks_head)
		task_teardown(s, s->tasks_head);
}

/*
 * Entry of every coroutine.  makecontext() only passes int arguments, so
 * the task comes from the scheduler's current pointer instead.
 */
static void crt_trampoline(void)
{
	struct crt_sched *s = &crt_self;
	struct crt_task *t = s->current;

	t->fn(t->arg);
	t->done = 1;
	/* Nothing returns here: the scheduler frees this stack. */
	setcontext(&s->ctx);
	crt_bug("setcontext failed");
}

/*
 * Kept out of crt_spawn(): getcontext() "returns twice" to the compiler,
 * which would otherwise keep crt_spawn()'s locals out of registers (and
 * warn, -Wclobbered) although this context is never resumed there.
 */
static __attribute__((noinline)) void init_context(struct crt_task *t,
						   size_t size)
{
	if (getcontext(&t->ctx))
		crt_bug("getcontext failed");
	t->ctx.uc_stack.ss_sp = (char *)t + CRT_HDR_SIZE;
	t->ctx.uc_stack.ss_size = size - CRT_HDR_SIZE;
	t->ctx.uc_link = NULL;
	makecontext(&t->ctx, crt_trampoline, 0);
}

crt_id_t crt_spawn(crt_fn_t fn, void *arg, size_t stack_size)
{
	struct crt_sched *s = &crt_self;
	size_t size = crt_state_size(stack_size);
	struct crt_task *t;

	t = malloc(size);
	if (!t)
		return 0;
	memset(t, 0, sizeof(*t));
	t->sched = s;
	t->id = atomic_fetch_add(&crt_next_id, 1);
	t->fn = fn;
	t->arg = arg;
	init_context(t, size);

	t->prev = s->tasks_tail;
	if (s->tasks_tail)
		s->tasks_tail->next = t;
	else
		s->tasks_head = t;
	s->tasks_tail = t;
	s->nlive++;
	rq_push(s, t);

	MEMSCOPE_TASK_SPAWN(t->id, crt_current(), size);
	return t->id;
}

/* Suspend the current task; returns when the scheduler resumes it. */
static void switch_out(struct crt_task *t)
{
	if (swapcontext(&t->ctx, &t->sched->ctx))
		crt_bug("swapcontext failed");
}

static struct crt_task *current_or_die(const char *fn)
{
	struct crt_task *t = crt_self.current;

	if (!t) {
		fprintf(stderr, "crt: %s called outside a task\n", fn);
		abort();
	}
	return t;
}

void crt_yield(void)
{
	struct crt_task *t = current_or_die("crt_yield");

	rq_push(t->sched, t);
	switch_out(t);
}

int crt_wait_any(struct crt_event *const *evs, int n)
{
	struct crt_task *t = current_or_die("crt_wait_any");
	struct crt_waiter w[CRT_WAIT_MAX];
	int i;

	if (n < 1 || n > CRT_WAIT_MAX)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (evs[i]->set)
			return i;

	for (i = 0; i < n; i++) {
		struct crt_event *ev = evs[i];

		w[i].ev = ev;
		w[i].task = t;
		w[i].next = NULL;
		w[i].prev = ev->tail;
		if (ev->tail)
			ev->tail->next = &w[i];
		else
			ev->head = &w[i];
		ev->tail = &w[i];
		w[i].task_next = t->waits;
		t->waits = &w[i];
		t->nwaits++;
	}
	t->woken_by = NULL;
	switch_out(t);

	/* crt_event_signal() unregistered all of w[] before waking us. */
	for (i = 0; i < n; i++)
		if (evs[i] == t->woken_by)
			return i;
	crt_bug("woken by an event it did not wait on");
	return -EINVAL;
}

void crt_wait(struct crt_event *ev)
{
	crt_wait_any(&ev, 1);
}

void crt_sleep_forever(void)
{
	struct crt_event never = CRT_EVENT_INIT;

	for (;;)
		crt_wait(&never);
}

void crt_park(void)
{
	struct crt_task *t = current_or_die("crt_park");

	for (;;)
		switch_out(t);
}

void crt_event_init(struct crt_event *ev)
{
	ev->head = NULL;
	ev->tail = NULL;
	ev->set = 0;
}

void crt_event_signal(struct crt_event *ev)
{
	struct crt_waiter *w;

	ev->set = 1;
	while ((w = ev->head)) {
		struct crt_task *t = w->task;

		/* Tasks and their events are confined to one thread. */
		if (t->sched != &crt_self)
			crt_bug("event signalled from another thread");
		t->woken_by = ev;
		unregister_all(t);
		rq_push(t->sched, t);
	}
}

void crt_event_reset(struct crt_event *ev)
{
	ev->set = 0;
}

int crt_cancel(crt_id_t id)
{
	struct crt_sched *s = &crt_self;
	struct crt_task *t;

	for (t = s->tasks_head; t; t = t->next)
		if (t->id == id)
			break;
	if (!t)
		return -ESRCH;
	if (t == s->current) {
		/* The scheduler tears it down once off this stack. */
		t->cancelled = 1;
		unregister_all(t);
		for (;;)
			switch_out(t);
	}
	task_teardown(s, t);
	return 0;
}

void crt_cleanup_push(struct crt_cleanup *c, void (*fn)(void *), void *arg)
{
	struct crt_task *t = current_or_die("crt_cleanup_push");

	c->fn = fn;
	c->arg = arg;
	c->next = t->cleanups;
	t->cleanups = c;
}

void crt_cleanup_pop(struct crt_cleanup *c, int execute)
{
	struct crt_task *t = current_or_die("crt_cleanup_pop");

	if (t->cleanups != c)
		crt_bug("crt_cleanup_pop out of order");
	t->cleanups = c->next;
	if (execute)
		c->fn(c->arg);
}

/*
 * One poll: everything the task does until it suspends or ends happens
 * between poll_begin and poll_end on this thread, which is what lets the
 * tracer charge its allocations to it.
 */
static void poll_task(struct crt_sched *s, struct crt_task *t)
{
	rq_remove(s, t);
	s->current = t;
	MEMSCOPE_TASK_POLL_BEGIN(t->id);
	if (swapcontext(&s->ctx, &t->ctx))
		crt_bug("swapcontext failed");
	s->current = NULL;

	if (t->done) {
		MEMSCOPE_TASK_POLL_END(t->id, -1);
		MEMSCOPE_TASK_COMPLETE(t->id);
		task_release(s, t);
	} else if (t->cancelled) {
		MEMSCOPE_TASK_POLL_END(t->id, -1);
		task_teardown(s, t);
	} else {
		MEMSCOPE_TASK_POLL_END(t->id, t->nwaits + t->queued);
	}
}

int crt_run(void)
{
	struct crt_sched *s = &crt_self;

	if (s->current || s->running)
		return -EBUSY;
	s->running = 1;
	while (!s->stopping && s->rq_head)
		poll_task(s, s->rq_head);
	s->running = 0;
	if (s->stopping) {
		teardown_all(s);
		s->stopping = 0;
	}
	return s->nlive;
}

void crt_shutdown(void)
{
	struct crt_sched *s = &crt_self;

	if (s->running) {
		s->stopping = 1;
		return;
	}
	teardown_all(s);
}
