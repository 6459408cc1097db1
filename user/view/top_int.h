/* SPDX-License-Identifier: MIT */
/*
 * What the files of the live view's layout (top_*.c) share among
 * themselves and nobody else: top_layout.h is the view's public face.
 */
#ifndef MS_TOP_INT_H
#define MS_TOP_INT_H

#include <stdarg.h>

#include "view/top_layout.h"

/* A key and what it does: the footer and the help screen list them. */
struct top_keyhelp {
	const char *key, *what;
};

/* top_line__add with a va_list: for the detail screen's key-value lines. */
void top_line__vadd(struct top_line *l, enum top_hl hl, const char *fmt,
		    va_list ap);

/* The two rows that are not tasks (TOP_ROW_RUNTIME, TOP_ROW_OUTSIDE): a
 * short label, a description (what the filter matches), their memory. */
const char *top_special__label(uint32_t row);
const char *top_special__text(uint32_t row);
const struct ms_mem *top_special__mem(const struct top_src *s, uint32_t row);

/* The task's spawn site from the model, NULL when unknown or empty. */
const struct ms_site *top_src__spawn_site(const struct top_src *s,
					  const struct ms_task *t);
/* One frame as memscope's reports print it; base: the file's base name. */
const char *top_frame__text(char *buf, size_t len, const struct ms_frame *f,
			    bool base);

#endif
