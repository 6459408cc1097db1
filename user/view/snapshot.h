/* SPDX-License-Identifier: MIT */
/* The snapshot: one JSON document, "schema": "memscope.snapshot/1",
 * documented field by field in docs/snapshot.md. */
#ifndef MS_SNAPSHOT_H
#define MS_SNAPSHOT_H

#include <stdint.h>
#include <stdio.h>

#include "model/model.h"

#include "memscope/schema.h" /* MS_SNAPSHOT_SCHEMA */

struct snapshot_meta {
	uint32_t pid;
	const char *command; /* argv joined, or /proc/PID/cmdline */
	const char *exe;
	uint64_t now_ns; /* CLOCK_MONOTONIC when taken */
	bool target_exited;
	int exit_status; /* valid when target_exited; -1 unknown */
	bool tasks_only;
	const char *const *warnings; /* NULL-terminated, may be NULL */
	unsigned forks; /* children it forked (not followed) */
	/* Programs it ran by exec after the first, oldest first. */
	const struct snapshot_exec {
		uint64_t t_ns;
		const char *exe, *command;
	} * execs;
	unsigned nexecs;
	/* The allocator probed, "jemalloc (/usr/lib/...)"; NULL: none. */
	const char *allocator;
	/* One in the executable: "jemalloc (static, _rjem_) in PATH"; NULL. */
	const char *allocator_static;
	/* Page-level mode: why it is used (NULL: not said). */
	const char *page_level;
};

/* The document, written as it goes. 0, or -EIO when f failed. */
int snapshot__write_file(const struct model *m,
			 const struct snapshot_meta *meta, FILE *f);
/* The document in a malloc'ed string (*text, *len). Negative errno. */
int snapshot__text(const struct model *m, const struct snapshot_meta *meta,
		   char **text, size_t *len);
/* Atomic (atomicfile.h): an unnamed file in the same directory, fsync,
 * rename. Mode 0600; a symlink at path is refused (-ELOOP), a directory
 * too (-EISDIR). Negative errno. */
int snapshot__write(const struct model *m, const struct snapshot_meta *meta,
		    const char *path);

#endif
