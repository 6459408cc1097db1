/* SPDX-License-Identifier: MIT */
/* The end-of-run summary, as text. */
#ifndef MS_SUMMARY_H
#define MS_SUMMARY_H

#include <stdio.h>

#include "model/model.h"

/* Human-readable byte count into buf ("1.5 MiB"); returns buf. */
const char *fmt_bytes(char *buf, size_t len, uint64_t bytes);
void summary__print(FILE *f, const struct model *m, uint64_t now_ns);

#endif
