/* SPDX-License-Identifier: MIT */
/* memscope report: a snapshot as readable sections, text or HTML. */
#ifndef MS_OFFLINE_REPORT_H
#define MS_OFFLINE_REPORT_H

#include <stdio.h>

#include "offline/snap.h"
#include "offline/table.h"

struct report_opts {
	const char *file; /* shown in the header; may be NULL */
	size_t top; /* rows in the "largest tasks" tables */
};

#define REPORT_TOP_DEFAULT 10

enum report_sec {
	REP_SNAPSHOT,
	REP_MEMORY,
	REP_ASYNC,
	REP_NEVER_FINISHED,
	REP_PAGES, /* page-level mode only (else no title: not printed) */
	REP_BY_LIVE,
	REP_BY_PEAK,
	REP_SITES,
	REP_CLASSES,
	REP_OUTSIDE,
	REP_WARNINGS,
	REP_NSECS,
};

struct report {
	/* Things to say loudly before anything else (incomplete snapshot). */
	char **alerts;
	size_t nalerts;
	struct table sec[REP_NSECS];
};

int report__build(const struct snap *s, const struct report_opts *o,
		  struct report *r);
void report__free(struct report *r);

/* The text report; returns 0 or a negative errno. */
int report__text(FILE *f, const struct snap *s, const struct report_opts *o);

#endif
