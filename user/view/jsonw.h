/* SPDX-License-Identifier: MIT */
/*
 * JSON written as it goes, straight to a FILE: a snapshot of a busy
 * service is tens of megabytes, and building it as a tree first took ten
 * times that (and seconds) on every write. Errors stick: check
 * jw__status() once at the end.
 */
#ifndef MS_VIEW_JSONW_H
#define MS_VIEW_JSONW_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 16

struct jw {
	FILE *f;
	unsigned int depth;
	bool more[JW_MAX_DEPTH]; /* a value was written at this level */
	bool too_deep; /* nested beyond JW_MAX_DEPTH: the text is wrong */
};

void jw__init(struct jw *w, FILE *f);
/* 0; -E2BIG nested too deep; -EIO the FILE failed. */
int jw__status(const struct jw *w);
/* key: the member's name inside an object, NULL inside an array or at
 * the top. */
void jw__obj(struct jw *w, const char *key);
void jw__arr(struct jw *w, const char *key);
void jw__end_obj(struct jw *w);
void jw__end_arr(struct jw *w);
void jw__u64(struct jw *w, const char *key, uint64_t v);
void jw__i64(struct jw *w, const char *key, int64_t v);
void jw__bool(struct jw *w, const char *key, bool v);
void jw__null(struct jw *w, const char *key);
/* NULL writes null. Bytes are copied as they are but for what JSON
 * must escape: '"', '\\' and control characters. */
void jw__str(struct jw *w, const char *key, const char *v);
/* Writes s, escaped, without quotes: for the pieces of a longer string. */
void jw__escape(FILE *f, const char *s);

#endif
