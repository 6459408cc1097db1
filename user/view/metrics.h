/* SPDX-License-Identifier: MIT */
/*
 * Prometheus text exposition (format 0.0.4) of what memscoped knows: per
 * watched process from its model, per spawn site for the sites holding the
 * most, and memscoped's own figures. Pure code: it writes to a FILE* (or
 * a malloc'ed buffer) and reads nothing else, so the whole page is
 * unit-tested from a model fed with records. Metric names and labels are
 * documented in docs/deploy.md.
 */
#ifndef MS_METRICS_H
#define MS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/model.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_SITES_DEFAULT 20 /* --metrics-sites */

/* One watched process. Its labels: pid, exe, runtime, and cgroup and
 * container_id when it runs in one. */
struct metrics_proc {
	uint32_t pid;
	const char *exe; /* NULL: "" */
	const char *runtime; /* NULL: the model's ("tokio", "usdt", "none") */
	const char *cgroup; /* cgroup v2 path; NULL, "" or "/": none */
	bool tasks_only; /* no allocator probes: memory figures left out */
	const struct model *model;
};

/* memscoped's own figures, for the whole daemon. */
struct metrics_self {
	uint64_t rss_bytes; /* its resident set */
	uint64_t ring_bytes; /* the ring buffer's size */
	uint64_t ring_used_bytes; /* what was waiting in it at the refresh */
	uint64_t records_total; /* records drained from the ring */
	double records_per_sec; /* over the last refresh interval */
	uint64_t lost_events_total; /* ring full, all processes together */
	uint64_t probes; /* probes (links) attached now */
	uint64_t watched; /* processes watched now */
	uint64_t attach_failures_total; /* processes it failed to attach to */
};

struct metrics_opts {
	/* Spawn sites exported per process, those holding the most live
	 * bytes (their tasks' memory); 0: none. */
	unsigned int sites;
};

/*
 * The whole page: every family once, its HELP and TYPE lines first, then
 * its series for each process in the order given. Returns 0, -ENOMEM, or
 * -EIO when writing to f failed.
 */
int metrics__write(FILE *f, const struct metrics_proc *procs, size_t n,
		   const struct metrics_self *self,
		   const struct metrics_opts *opts);
/* The same page in a malloc'ed, NUL-terminated buffer. */
int metrics__render(char **out, size_t *len, const struct metrics_proc *procs,
		    size_t n, const struct metrics_self *self,
		    const struct metrics_opts *opts);

/* A label value as the text format wants it: \\, \" and \n escaped,
 * invalid UTF-8 bytes replaced by U+FFFD (Prometheus drops a scrape
 * whose label values are not UTF-8). */
void metrics__label_value(FILE *f, const char *v);
/*
 * The container id in a cgroup path (docker-ID.scope, cri-containerd-ID,
 * crio-ID, libpod-ID, /docker/ID, /kubepods/.../ID: 64 hex digits), in
 * buf (65 bytes at least). Returns buf, or NULL when there is none.
 */
const char *metrics__container_id(const char *cgroup, char *buf, size_t len);
/*
 * The cgroup to label a process with, from the text of /proc/PID/cgroup:
 * the unified (v2) path, or on a v1 or hybrid host the name=systemd or
 * memory hierarchy's, whichever is not the root first. Returns buf, or
 * NULL when the process is in no cgroup but the root one.
 */
const char *metrics__parse_cgroup(const char *text, char *buf, size_t len);
/* A spawn site's label: its first frame's function, else module+0xADDR. */
const char *metrics__site_name(const struct ms_site *site, char *buf,
			       size_t len);

#endif
