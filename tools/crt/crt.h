/*
 * crt: a small coroutine runtime for C, built on ucontext, that fires the
 * memscope task markers.  It exists to give memscope a non-tokio runtime to
 * observe; it is small on purpose, not fast.
 *
 * Model
 *	Every OS thread that calls crt_spawn() gets its own scheduler; tasks
 *	never move between threads, and a task, its events and crt_cancel()
 *	calls on it must all stay on the thread that spawned it.  Several
 *	threads may run their own schedulers at the same time; task ids are
 *	unique in the process (one atomic counter, starting at 1).
 *
 *	Each task is ONE malloc()'d block, its struct followed by its coroutine
 *	stack.  The size of that block is the state_size that
 *	MEMSCOPE_TASK_SPAWN reports, so a tracer can match the task to the
 *	allocation; the block is free()'d when the task ends, right after
 *	MEMSCOPE_TASK_FREE.
 *
 * Markers (see include/memscope/markers.h)
 *	task_spawn(id, parent, state_size)	in crt_spawn(), after the malloc;
 *						parent is crt_current() or 0
 *	poll_begin(id) / poll_end(id, wakers)	around every resume of the task
 *	task_complete(id)			after the poll in which fn returned
 *	task_cancel(id)				when a task is torn down unfinished
 *						(crt_cancel(), crt_shutdown())
 *	task_free(id)				just before its block is freed
 *
 *	wakers at poll_end counts what still holds the task: one per event it
 *	is registered on, plus one if it sits in the run queue (crt_yield()).
 *	So crt_wait() gives 1, crt_wait_any(n events) gives n, crt_yield() 1,
 *	crt_park() 0 (nothing can ever resume it), and -1 when the task
 *	completed or cancelled itself in that poll.
 */
#ifndef CRT_H
#define CRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t crt_id_t;
typedef void (*crt_fn_t)(void *arg);

/* Stack size used when crt_spawn() is given 0. */
#define CRT_STACK_DEFAULT (64 * 1024)
/* Smallest stack crt_spawn() accepts; smaller requests are raised to it. */
#define CRT_STACK_MIN (8 * 1024)

struct crt_waiter;

/*
 * A latching event: once signalled it stays set (until crt_event_reset()),
 * so a task that waits after the signal does not block.  Latching means a
 * signal can never be lost between a check and a wait.
 */
struct crt_event {
	struct crt_waiter *head;
	struct crt_waiter *tail;
	int set;
};

#define CRT_EVENT_INIT        \
	{                     \
		NULL, NULL, 0 \
	}

/*
 * Cleanup record, pushed by a task and run if the task is torn down without
 * finishing (cancel, shutdown), since its stack is then discarded without
 * unwinding.  Lives on the task's own stack, so pushing allocates nothing.
 * A cleanup must not call back into crt (no wait, yield, spawn).
 */
struct crt_cleanup {
	void (*fn)(void *arg);
	void *arg;
	struct crt_cleanup *next;
};

/*
 * Create a task running fn(arg) with a coroutine stack of stack_size bytes
 * (0: CRT_STACK_DEFAULT).  The task is runnable but does not run until the
 * scheduler gets control (crt_run(), or the current task suspending).
 * Returns the new id, or 0 if out of memory.
 */
crt_id_t crt_spawn(crt_fn_t fn, void *arg, size_t stack_size);

/* Exact size of the block (the state_size) crt_spawn() allocates. */
size_t crt_state_size(size_t stack_size);

/* Id of the task running on this thread, 0 outside tasks. */
crt_id_t crt_current(void);

/* Put the current task at the back of the run queue and switch away. */
void crt_yield(void);

/* Block until ev is set.  Returns at once if it already is. */
void crt_wait(struct crt_event *ev);

/*
 * Block until any of the n events is set; registers one waiter on each
 * (so poll_end reports wakers = n).  Returns the index of the event that
 * woke the task (the lowest set one if some were already set).
 */
int crt_wait_any(struct crt_event *const *evs, int n);

/*
 * Wait forever on a private event that nobody can signal.  The task is held
 * by a live waiter (wakers = 1): from outside it looks like any other wait,
 * which is the point.  Only crt_cancel() or crt_shutdown() end it.
 */
__attribute__((noreturn)) void crt_sleep_forever(void);

/*
 * Suspend without registering any waiter (wakers = 0): like awaiting a
 * future whose waker was dropped, nothing can ever resume the task.  Only
 * crt_cancel() or crt_shutdown() end it.
 */
__attribute__((noreturn)) void crt_park(void);

void crt_event_init(struct crt_event *ev);
/* Set ev and make every task waiting on it runnable. */
void crt_event_signal(struct crt_event *ev);
void crt_event_reset(struct crt_event *ev);

/*
 * Tear down task id of this thread's scheduler without letting it finish:
 * fires task_cancel, runs its cleanups, fires task_free, frees its block.
 * A task cancelling itself does not return.  -ESRCH if id is not a live
 * task of this thread.
 */
int crt_cancel(crt_id_t id);

void crt_cleanup_push(struct crt_cleanup *c, void (*fn)(void *), void *arg);
/* Pop the last pushed cleanup; run it first if execute is non-zero. */
void crt_cleanup_pop(struct crt_cleanup *c, int execute);

/*
 * Run this thread's tasks until none is runnable, or until crt_shutdown()
 * is called.  Returns the number of tasks left alive (all blocked), 0 after
 * a shutdown, or -EBUSY if called from a task.
 */
int crt_run(void);

/*
 * Stop the scheduler and cancel every remaining task of this thread.  From
 * a task it takes effect when that task next suspends (it is cancelled too
 * if it has not finished); outside crt_run() it tears down at once.
 */
void crt_shutdown(void);

#ifdef __cplusplus
}
#endif

#endif /* CRT_H */
