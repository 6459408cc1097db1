/* SPDX-License-Identifier: MIT */
/*
 * --all: which processes are async (tokio task vtables, memscope markers),
 * judged once per executable file, and starting a session on each.
 */
#ifndef MS_DISCOVER_H
#define MS_DISCOVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct discover;
struct session;
struct session_env;

struct discover *discover__new(const struct session_env *env);
void discover__free(struct discover *d);
/* Async processes it failed to attach to, since the start. */
uint64_t discover__failures(const struct discover *d);
/*
 * Start watching pid if it runs an async program: *out is its session,
 * or NULL when it is not async, gone (said when caught at exec: at_exec,
 * with the exec's time and path), or cannot be attached (said). full:
 * no room for another session (said once). 0, or -ENOMEM.
 */
int discover__start(struct discover *d, pid_t pid, bool at_exec,
		    uint64_t exec_ns, const char *exec_path, bool full,
		    size_t max, struct session **out);

#endif
