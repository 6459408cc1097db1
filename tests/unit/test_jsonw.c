// SPDX-License-Identifier: MIT
/* The streaming JSON writer: what it writes is JSON, and reads back as
 * the values written (json-c parses it). */
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "view/jsonw.h"

static char *text;
static size_t len;

static FILE *start(struct jw *w)
{
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	jw__init(w, f);
	return f;
}

static struct json_object *finish(FILE *f)
{
	struct json_object *doc;

	assert_int_equal(fclose(f), 0);
	doc = json_tokener_parse(text);
	if (!doc)
		fail_msg("not JSON: %s", text);
	return doc;
}

static void test_nesting_and_commas(void **state)
{
	struct json_object *doc, *v, *a;
	struct jw w;
	FILE *f = start(&w);

	jw__obj(&w, NULL);
	jw__u64(&w, "max", UINT64_MAX);
	jw__i64(&w, "neg", -3);
	jw__bool(&w, "t", true);
	jw__null(&w, "n");
	jw__str(&w, "nullstr", NULL);
	jw__arr(&w, "empty");
	jw__end_arr(&w);
	jw__arr(&w, "objs");
	for (int i = 0; i < 3; i++) {
		jw__obj(&w, NULL);
		jw__u64(&w, "i", (uint64_t)i);
		jw__arr(&w, "in");
		jw__u64(&w, NULL, 1);
		jw__u64(&w, NULL, 2);
		jw__end_arr(&w);
		jw__end_obj(&w);
	}
	jw__end_arr(&w);
	jw__obj(&w, "empty_obj");
	jw__end_obj(&w);
	jw__end_obj(&w);
	doc = finish(f);
	assert_string_equal(text,
			    "{\"max\":18446744073709551615,\"neg\":-3,"
			    "\"t\":true,\"n\":null,\"nullstr\":null,"
			    "\"empty\":[],\"objs\":[{\"i\":0,\"in\":[1,2]},"
			    "{\"i\":1,\"in\":[1,2]},{\"i\":2,\"in\":[1,2]}],"
			    "\"empty_obj\":{}}");
	assert_true(json_object_object_get_ex(doc, "max", &v));
	assert_int_equal(json_object_get_uint64(v), UINT64_MAX);
	assert_true(json_object_object_get_ex(doc, "objs", &a));
	assert_int_equal(json_object_array_length(a), 3);
	json_object_put(doc);
	free(text);
}

/* Every byte 1..255 in a string and a key reads back as itself. */
static void test_strings_round_trip(void **state)
{
	char s[256];
	struct json_object *doc, *v;
	struct jw w;
	FILE *f;

	for (int i = 1; i < 256; i++)
		s[i - 1] = (char)i;
	s[255] = '\0';
	/* json-c refuses invalid UTF-8 only when asked: bytes over 0x7f pass
	 * through as they are, as they did when json-c wrote them. */
	f = start(&w);
	jw__obj(&w, NULL);
	jw__str(&w, "s", s);
	jw__str(&w, "k\"\\\n", "v");
	jw__end_obj(&w);
	doc = finish(f);
	assert_null(strchr(text, '\n'));
	assert_true(json_object_object_get_ex(doc, "s", &v));
	assert_memory_equal(json_object_get_string(v), s, 256);
	assert_true(json_object_object_get_ex(doc, "k\"\\\n", &v));
	assert_string_equal(json_object_get_string(v), "v");
	json_object_put(doc);
	free(text);
}

/* Deeper than JW_MAX_DEPTH: said, never a wrong document said good. */
static void test_too_deep_is_an_error(void **state)
{
	struct jw w;
	FILE *f = start(&w);

	for (int i = 0; i < JW_MAX_DEPTH - 1; i++)
		jw__arr(&w, NULL);
	assert_int_equal(jw__status(&w), 0);
	jw__arr(&w, NULL);
	assert_int_equal(jw__status(&w), -E2BIG);
	assert_int_equal(fclose(f), 0);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nesting_and_commas),
		cmocka_unit_test(test_strings_round_trip),
		cmocka_unit_test(test_too_deep_is_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
