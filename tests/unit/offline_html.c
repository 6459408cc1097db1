// SPDX-License-Identifier: MIT
/* memscope report --html: self-contained, escaped, well-formed, with plots. */
#include "offline/html.h"
#include "offline_helpers.h"

static char *html_of(const struct snap *s)
{
	struct report_opts o = { .file = "x.json", .top = 10 };
	char *out = NULL;

	CAPTURE(out, html__report(f, s, &o));
	return out;
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Every byte sequence is well-formed UTF-8. */
static bool valid_utf8(const unsigned char *s)
{
	while (*s) {
		size_t n = *s < 0x80	       ? 1 :
			   (*s & 0xe0) == 0xc0 ? 2 :
			   (*s & 0xf0) == 0xe0 ? 3 :
			   (*s & 0xf8) == 0xf0 ? 4 :
						 0;

		if (!n)
			return false;
		for (size_t i = 1; i < n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return false;
		s += n;
	}
	return true;
}

/* Open and close tags pair up (SVG shapes close themselves with "/>"). */
static void balanced(const char *out)
{
	static const char *const tags[] = {
		"section", "svg", "table", "tr", "div", "title", "p", "span"
	};

	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		char open[32], close[32];
		size_t no, nc;

		snprintf(open, sizeof(open), "<%s>", tags[i]);
		no = count(out, open);
		snprintf(open, sizeof(open), "<%s ", tags[i]);
		no += count(out, open);
		snprintf(close, sizeof(close), "</%s>", tags[i]);
		nc = count(out, close);
		if (no != nc)
			fail_msg("<%s>: %zu opened, %zu closed", tags[i], no,
				 nc);
	}
}

static void test_self_contained(void **state)
{
	struct snap *s = corpus_snap("good-demo.json");
	char *out = html_of(s);
	const char *fut;

	assert_true(!strncmp(out, "<!DOCTYPE html>", 15));
	assert_non_null(strstr(out, "</html>\n"));
	/* no script, no network: the only URL is the SVG namespace */
	assert_null(strstr(out, "<script"));
	assert_null(strstr(out, "src="));
	assert_int_equal(count(out, "http"),
			 count(out, "http://www.w3.org/2000/svg") +
				 count(out, "http-equiv"));
	assert_non_null(strstr(out, "Content-Security-Policy"));
	/* three plots: memory, by task, future sizes */
	assert_int_equal(count(out, "<svg "), 3);
	assert_non_null(strstr(out, "id=\"memory-over-time\""));
	assert_non_null(strstr(out, "id=\"memory-by-task\""));
	assert_non_null(strstr(out, "id=\"future-sizes\""));
	/* the tables of the text report */
	assert_non_null(strstr(out, "<h2>Tasks that never finished</h2>"));
	assert_non_null(strstr(out, "<h2>Largest tasks by peak</h2>"));
	assert_non_null(strstr(out, "<h2>Live allocations by size class</h2>"));
	/* the biggest future (task 10, 66816 bytes) is the first bar */
	fut = strstr(out, "id=\"future-sizes\"");
	assert_non_null(fut);
	assert_non_null(strstr(fut, ">task 3<"));
	assert_true(strstr(fut, ">task 10<") < strstr(fut, ">task 3<"));
	/* task 6 had the most in the timeline: first layer and legend */
	assert_non_null(strstr(out, "<title>task 6 [shutdown]</title>"));
	assert_true(valid_utf8((const unsigned char *)out));
	balanced(out);
	free(out);
	snap__free(s);
}

static void test_escaping(void **state)
{
	struct snap *s = corpus_snap("good-hostile-strings.json");
	char *out = html_of(s);

	assert_null(strstr(out, "<script>"));
	assert_null(strstr(out, "<img"));
	assert_null(strstr(out, "<b>"));
	assert_non_null(strstr(
		out,
		"&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"));
	assert_non_null(strstr(out, "&lt;img src=x onerror=alert(1)&gt;"));
	assert_non_null(strstr(
		out, "&lt;T as core::future::Future&gt;::poll (a&amp;b.rs:1)"));
	assert_null(strchr(out, '\x1b'));
	assert_true(valid_utf8((const unsigned char *)out));
	balanced(out);
	free(out);
	snap__free(s);
}

static void test_invalid_utf8_replaced(void **state)
{
	struct json_object *doc = corpus_doc("good-minimal.json");
	struct snap *s;
	char *out;

	set(doc, "target", "command",
	    json_object_new_string("bad \xff\xfe byte \xc3"));
	s = doc_snap_ok(doc);
	out = html_of(s);
	assert_true(valid_utf8((const unsigned char *)out));
	assert_non_null(
		strstr(out, "bad \xef\xbf\xbd\xef\xbf\xbd byte \xef\xbf\xbd"));
	free(out);
	snap__free(s);
}

static void test_no_samples(void **state)
{
	struct snap *s = corpus_snap("good-empty-tasks.json");
	char *out = html_of(s);

	/* explained, not an empty or broken plot */
	assert_int_equal(count(out, "<svg "), 0);
	assert_non_null(strstr(out, "no timeline samples"));
	assert_non_null(strstr(out, "no task has a known future size"));
	balanced(out);
	free(out);
	snap__free(s);
}

static void test_incomplete_banner(void **state)
{
	struct snap *s = corpus_snap("good-incomplete.json");
	char *out = html_of(s);

	assert_non_null(
		strstr(out, "<div class=\"banner\">INCOMPLETE SNAPSHOT"));
	free(out);
	snap__free(s);
}

static void test_one_sample_and_huge_values(void **state)
{
	struct json_object *doc = corpus_doc("good-demo.json");
	struct json_object *samples = at(doc, "timeline.samples");
	struct snap *s;
	char *out;

	/* one sample far in the future with an enormous value */
	json_object_array_del_idx(samples, 1, 3);
	set(doc, "timeline.samples.0", "t_ns",
	    json_object_new_uint64(UINT64_MAX));
	set(doc, "timeline.samples.0", "live_bytes",
	    json_object_new_uint64(UINT64_MAX));
	set(doc, "tasks.3", "future_size", json_object_new_uint64(UINT64_MAX));
	s = doc_snap_ok(doc);
	out = html_of(s);
	assert_null(strstr(out, "nan"));
	assert_null(strstr(out, "inf"));
	balanced(out);
	free(out);
	snap__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_contained),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_no_samples),
		cmocka_unit_test(test_incomplete_banner),
		cmocka_unit_test(test_one_sample_and_huge_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
