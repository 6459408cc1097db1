/* SPDX-License-Identifier: MIT */
/* The end-of-run summary, as text. */
#ifndef MS_SUMMARY_H
#define MS_SUMMARY_H

#include <stdio.h>

#include "model/model.h"

void summary__print(FILE *f, const struct model *m, uint64_t now_ns);

#endif
