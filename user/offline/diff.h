/* SPDX-License-Identifier: MIT */
/* memscope diff: what grew between two snapshots of one process. */
#ifndef MS_OFFLINE_DIFF_H
#define MS_OFFLINE_DIFF_H

#include <stdio.h>

#include "offline/snap.h"

struct diff_opts {
	const char *file_a, *file_b; /* for the header; may be NULL */
	size_t top; /* rows per section */
};

#define DIFF_TOP_DEFAULT 20

int diff__text(FILE *f, const struct snap *a, const struct snap *b,
	       const struct diff_opts *o);

#endif
