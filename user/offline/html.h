/* SPDX-License-Identifier: MIT */
/*
 * memscope report --html: one self-contained page. Inline CSS and SVG
 * drawn here; no script, no external resource (a Content-Security-Policy
 * in the page forbids both), every snapshot string escaped.
 */
#ifndef MS_OFFLINE_HTML_H
#define MS_OFFLINE_HTML_H

#include <stdio.h>

#include "offline/report.h"
#include "offline/snap.h"

int html__report(FILE *f, const struct snap *s, const struct report_opts *o);

#endif
