// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>

#include "view/jsonw.h"

void jw__init(struct jw *w, FILE *f)
{
	w->f = f;
	w->depth = 0;
	w->more[0] = false;
	w->too_deep = false;
}

int jw__status(const struct jw *w)
{
	if (w->too_deep)
		return -E2BIG;
	return ferror(w->f) ? -EIO : 0;
}

/* The comma and the key before a value. */
static void member(struct jw *w, const char *key)
{
	if (w->more[w->depth])
		fputc(',', w->f);
	w->more[w->depth] = true;
	if (key) {
		fputc('"', w->f);
		jw__escape(w->f, key);
		fputs("\":", w->f);
	}
}

static void jw_open(struct jw *w, const char *key, char c)
{
	member(w, key);
	fputc(c, w->f);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->more[++w->depth] = false;
	else
		w->too_deep = true;
}

void jw__obj(struct jw *w, const char *key)
{
	jw_open(w, key, '{');
}

void jw__arr(struct jw *w, const char *key)
{
	jw_open(w, key, '[');
}

static void jw_close(struct jw *w, char c)
{
	fputc(c, w->f);
	if (w->depth)
		w->depth--;
}

void jw__end_obj(struct jw *w)
{
	jw_close(w, '}');
}

void jw__end_arr(struct jw *w)
{
	jw_close(w, ']');
}

void jw__u64(struct jw *w, const char *key, uint64_t v)
{
	member(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

void jw__i64(struct jw *w, const char *key, int64_t v)
{
	member(w, key);
	fprintf(w->f, "%" PRId64, v);
}

void jw__bool(struct jw *w, const char *key, bool v)
{
	member(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw__null(struct jw *w, const char *key)
{
	member(w, key);
	fputs("null", w->f);
}

void jw__escape(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (*p < 0x20) {
				fputs("\\u00", f);
				fputc(hex[*p >> 4], f);
				fputc(hex[*p & 15], f);
			} else {
				fputc(*p, f);
			}
		}
	}
}

void jw__str(struct jw *w, const char *key, const char *v)
{
	if (!v) {
		jw__null(w, key);
		return;
	}
	member(w, key);
	fputc('"', w->f);
	jw__escape(w->f, v);
	fputc('"', w->f);
}
