// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offline/fmt.h"
#include "offline/table.h"

static char *vfmt(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static char *anchor(const char *title)
{
	char *id = malloc(strlen(title) + 1), *o = id;
	bool dash = false;

	if (!id)
		return NULL;
	/* Lower-case words joined by dashes: stable links into the page. */
	for (const char *p = title; *p; p++) {
		if (isalnum((unsigned char)*p)) {
			if (dash && o != id)
				*o++ = '-';
			*o++ = (char)tolower((unsigned char)*p);
			dash = false;
		} else {
			dash = true;
		}
	}
	*o = '\0';
	return id;
}

int table__init(struct table *t, const char *title, const char *align,
		const char *const *head)
{
	memset(t, 0, sizeof(*t));
	t->ncols = strlen(align);
	t->title = strdup(title);
	t->id = anchor(title);
	t->align = strdup(align);
	if (!t->title || !t->id || !t->align)
		goto err_nomem;
	if (head) {
		t->head = calloc(t->ncols, sizeof(*t->head));
		if (!t->head)
			goto err_nomem;
		for (size_t i = 0; i < t->ncols && head[i]; i++) {
			t->head[i] = strdup(head[i]);
			if (!t->head[i])
				goto err_nomem;
		}
	}
	return 0;

err_nomem:
	table__free(t);
	t->err = -ENOMEM;
	return -ENOMEM;
}

void table__free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->flags);
	for (size_t i = 0; t->head && i < t->ncols; i++)
		free(t->head[i]);
	free(t->head);
	for (size_t i = 0; i < t->nnotes; i++)
		free(t->notes[i]);
	free(t->notes);
	free(t->empty);
	free(t->align);
	free(t->id);
	free(t->title);
	memset(t, 0, sizeof(*t));
}

void table__row(struct table *t, unsigned char flags)
{
	if (t->err || !t->ncols)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **cells =
			realloc(t->cells, cap * t->ncols * sizeof(*cells));
		unsigned char *fl;

		if (!cells) {
			t->err = -ENOMEM;
			return;
		}
		t->cells = cells;
		fl = realloc(t->flags, cap);
		if (!fl) {
			t->err = -ENOMEM;
			return;
		}
		t->flags = fl;
		t->cap = cap;
	}
	memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(char *));
	t->flags[t->nrows] = flags;
	t->nrows++;
	t->col = 0;
}

void table__cell(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (t->err || !t->nrows || t->col >= t->ncols)
		return;
	va_start(ap, fmt);
	s = vfmt(fmt, ap);
	va_end(ap);
	if (!s) {
		t->err = -ENOMEM;
		return;
	}
	t->cells[(t->nrows - 1) * t->ncols + t->col++] = s;
}

void table__empty(struct table *t, const char *fmt, ...)
{
	va_list ap;

	if (t->err)
		return;
	free(t->empty);
	va_start(ap, fmt);
	t->empty = vfmt(fmt, ap);
	va_end(ap);
	if (!t->empty)
		t->err = -ENOMEM;
}

void table__note(struct table *t, const char *fmt, ...)
{
	char **notes;
	va_list ap;

	if (t->err)
		return;
	notes = realloc(t->notes, (t->nnotes + 1) * sizeof(*notes));
	if (!notes) {
		t->err = -ENOMEM;
		return;
	}
	t->notes = notes;
	va_start(ap, fmt);
	notes[t->nnotes] = vfmt(fmt, ap);
	va_end(ap);
	if (!notes[t->nnotes]) {
		t->err = -ENOMEM;
		return;
	}
	t->nnotes++;
}

static const char *cell(const struct table *t, size_t r, size_t c)
{
	const char *s = t->cells[r * t->ncols + c];

	return s ?: "";
}

static void pad(FILE *f, size_t n)
{
	while (n--)
		fputc(' ', f);
}

static void text_cell(FILE *f, const struct table *t, const char *s, size_t c,
		      const size_t *width)
{
	size_t w = esc__width(s);
	bool last = c + 1 == t->ncols;

	if (c)
		fputs("  ", f);
	if (t->align[c] == 'r')
		pad(f, width[c] - w);
	esc__text(f, s);
	/* No trailing blanks after the last column. */
	if (t->align[c] != 'r' && !last)
		pad(f, width[c] - w);
}

int table__print_text(FILE *f, const struct table *t)
{
	size_t *width;

	if (t->err || !t->title) /* no title: a section not built */
		return t->err;
	esc__text(f, t->title);
	fputc('\n', f);
	for (size_t i = esc__width(t->title); i; i--)
		fputc('-', f);
	fputc('\n', f);
	if (!t->nrows) {
		fputs("  ", f);
		esc__text(f, t->empty ?: "none");
		fputc('\n', f);
		goto notes;
	}
	width = calloc(t->ncols, sizeof(*width));
	if (!width)
		return -ENOMEM;
	for (size_t c = 0; c < t->ncols; c++) {
		if (t->head && t->head[c])
			width[c] = esc__width(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t w = esc__width(cell(t, r, c));

			if (w > width[c])
				width[c] = w;
		}
	}
	if (t->head) {
		fputs("  ", f);
		for (size_t c = 0; c < t->ncols; c++)
			text_cell(f, t, t->head[c] ?: "", c, width);
		fputc('\n', f);
	}
	for (size_t r = 0; r < t->nrows; r++) {
		fputs("  ", f);
		for (size_t c = 0; c < t->ncols; c++)
			text_cell(f, t, cell(t, r, c), c, width);
		fputc('\n', f);
	}
	free(width);
notes:
	for (size_t i = 0; i < t->nnotes; i++) {
		fputs("  ", f);
		esc__text(f, t->notes[i]);
		fputc('\n', f);
	}
	fputc('\n', f);
	return 0;
}

int table__print_html(FILE *f, const struct table *t)
{
	if (t->err || !t->title)
		return t->err;
	fprintf(f, "<section id=\"%s\">\n<h2>", t->id);
	esc__html(f, t->title);
	fputs("</h2>\n", f);
	if (!t->nrows) {
		fputs("<p class=\"empty\">", f);
		esc__html(f, t->empty ?: "none");
		fputs("</p>\n", f);
		goto notes;
	}
	/* Wide tables scroll on their own instead of widening the page. */
	fprintf(f, "<div class=\"scroll\"><table class=\"%s\">\n",
		t->head ? "grid" : "kv");
	if (t->head) {
		fputs("<thead><tr>", f);
		for (size_t c = 0; c < t->ncols; c++) {
			fprintf(f, "<th%s>",
				t->align[c] == 'r' ? " class=\"num\"" : "");
			esc__html(f, t->head[c] ?: "");
			fputs("</th>", f);
		}
		fputs("</tr></thead>\n", f);
	}
	fputs("<tbody>\n", f);
	for (size_t r = 0; r < t->nrows; r++) {
		fprintf(f, "<tr%s>",
			t->flags[r] & TABLE_ROW_ALERT ? " class=\"alert\"" :
							"");
		for (size_t c = 0; c < t->ncols; c++) {
			/* A key/value list's first column is a header. */
			const char *tag = !t->head && c == 0 ? "th" : "td";

			fprintf(f, "<%s%s>", tag,
				t->align[c] == 'r' ? " class=\"num\"" :
				t->align[c] == 'w' ? " class=\"wrap\"" :
						     "");
			esc__html(f, cell(t, r, c));
			fprintf(f, "</%s>", tag);
		}
		fputs("</tr>\n", f);
	}
	fputs("</tbody>\n</table></div>\n", f);
notes:
	for (size_t i = 0; i < t->nnotes; i++) {
		fputs("<p class=\"note\">", f);
		esc__html(f, t->notes[i]);
		fputs("</p>\n", f);
	}
	fputs("</section>\n", f);
	return 0;
}
