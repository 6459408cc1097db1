/* SPDX-License-Identifier: MIT */
/*
 * A titled table of strings that prints as aligned text or as HTML, so
 * the text report, the HTML page and diff share one description of
 * each section. Allocation failures are sticky (t->err) so building
 * code stays straight-line; the print functions report them.
 */
#ifndef MS_OFFLINE_TABLE_H
#define MS_OFFLINE_TABLE_H

#include <stdbool.h>
#include <stdio.h>

#define TABLE_ROW_ALERT 1 /* a row to notice (never-finished task) */

struct table {
	char *title;
	char *id; /* HTML anchor, derived from the title */
	char *empty; /* shown instead of a table without rows */
	char **notes; /* lines under the table */
	size_t nnotes;
	size_t ncols;
	char **head; /* NULL: a key/value list, no header row */
	char *align; /* 'l', 'r', or 'w' (left, may wrap in HTML) */
	char **cells; /* nrows * ncols, NULL for an empty cell */
	unsigned char *flags;
	size_t nrows, cap, col;
	int err;
};

/* align: one 'l', 'r' or 'w' per column; head: NULL-terminated, or NULL. */
int table__init(struct table *t, const char *title, const char *align,
		const char *const *head);
void table__free(struct table *t);
void table__row(struct table *t, unsigned char flags);
void table__cell(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Text shown when the table has no rows. */
void table__empty(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void table__note(struct table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int table__print_text(FILE *f, const struct table *t);
int table__print_html(FILE *f, const struct table *t);

#endif
