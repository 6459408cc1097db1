/* SPDX-License-Identifier: MIT */
/*
 * Shared by the offline_*.c unit tests: snapshots come from the fuzz
 * seed corpus (real memscoped output, tests/fuzz/corpus), mutated with
 * json-c where a test needs a particular shape.
 */
#ifndef MS_TEST_OFFLINE_HELPERS_H
#define MS_TEST_OFFLINE_HELPERS_H

#include <json-c/json.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "offline/snap.h"

static inline char *corpus_path(const char *name)
{
	char *p;

	assert_true(asprintf(&p, "%s/%s", OFFLINE_CORPUS, name) > 0);
	return p;
}

static inline struct json_object *corpus_doc(const char *name)
{
	char *p = corpus_path(name);
	struct json_object *doc = json_object_from_file(p);

	assert_non_null(doc);
	free(p);
	return doc;
}

static inline struct snap *corpus_snap(const char *name)
{
	char *p = corpus_path(name), err[512];
	struct snap *s = NULL;
	int ret = snap__load_file(p, &s, err, sizeof(err));

	if (ret)
		fail_msg("%s: %s", name, err);
	free(p);
	return s;
}

/* Serialise doc (consumed) and load it back; *ret gets the result. */
static inline struct snap *doc_snap(struct json_object *doc, int *ret,
				    char *err, size_t errlen)
{
	const char *text =
		json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	struct snap *s = NULL;

	*ret = snap__load_mem(text, strlen(text), &s, err, errlen);
	json_object_put(doc);
	return s;
}

static inline struct snap *doc_snap_ok(struct json_object *doc)
{
	char err[512];
	int ret;
	struct snap *s = doc_snap(doc, &ret, err, sizeof(err));

	if (ret)
		fail_msg("%s", err);
	return s;
}

/* The object at "tasks.1" style paths (array indexes are numbers). */
static inline struct json_object *at(struct json_object *o, const char *path)
{
	char buf[256], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o;
	     tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(tok));
		else if (!json_object_object_get_ex(o, tok, &o))
			o = NULL;
	}
	assert_non_null(o);
	return o;
}

/* Set key (the last path element) of the object at path's parent. */
static inline void set(struct json_object *doc, const char *parent,
		       const char *key, struct json_object *v)
{
	struct json_object *o = *parent ? at(doc, parent) : doc;

	json_object_object_add(o, key, v);
}

/* Run fn(f, arg) with f an in-memory stream; returns the text (free it). */
#define CAPTURE(var, call)                                   \
	do {                                                 \
		size_t cap_len_;                             \
		FILE *f = open_memstream(&(var), &cap_len_); \
		assert_non_null(f);                          \
		assert_int_equal((call), 0);                 \
		assert_int_equal(fclose(f), 0);              \
	} while (0)

#endif
