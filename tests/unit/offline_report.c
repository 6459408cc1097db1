// SPDX-License-Identifier: MIT
/* memscope report (text): sections, ordering, limits, safe strings. */
#include "offline/fmt.h"
#include "offline/report.h"
#include "offline/table.h"
#include "offline_helpers.h"

static char *report_of(const struct snap *s, size_t top)
{
	struct report_opts o = { .file = "x.json", .top = top };
	char *out = NULL;

	CAPTURE(out, report__text(f, s, &o));
	return out;
}

/* The line of text that contains needle (a copy, without newline). */
static char *line_with(const char *text, const char *needle)
{
	const char *p = strstr(text, needle), *b, *e;

	if (!p)
		fail_msg("no line with '%s' in:\n%s", needle, text);
	if (*p == '\n')
		p++;
	for (b = p; b > text && b[-1] != '\n'; b--)
		;
	e = strchr(p, '\n');
	return strndup(b, e ? (size_t)(e - b) : strlen(b));
}

static void test_demo_sections(void **state)
{
	struct snap *s = corpus_snap("good-demo.json");
	char *out = report_of(s, 10), *l;
	const char *nf, *live, *peak;
	static const char *const sections[] = {
		"Snapshot\n",
		"Memory\n",
		"Async analysis\n",
		"Tasks that never finished\n",
		"Largest tasks by live bytes\n",
		"Largest tasks by peak\n",
		"Live allocations by size class\n",
		"Runtime overhead and memory outside tasks\n",
		"Warnings\n",
	};
	const char *prev = out;

	/* every section, in order */
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const char *p = strstr(prev, sections[i]);

		if (!p)
			fail_msg("section %s missing or out of order",
				 sections[i]);
		prev = p;
	}
	assert_null(strstr(out, "INCOMPLETE"));
	l = line_with(out, "future state overhead");
	assert_non_null(strstr(l, "76144 bytes"));
	free(l);
	l = line_with(out, "largest future size");
	assert_non_null(strstr(l, "66816 bytes"));
	free(l);
	l = line_with(out, "never finished  ");
	assert_non_null(strstr(l, "4"));
	free(l);
	/* the never-finished table: every such task, with its reason */
	nf = strstr(out, "Tasks that never finished");
	live = strstr(out, "Largest tasks by live bytes");
	peak = strstr(out, "Largest tasks by peak");
	l = line_with(nf, "  9 ");
	assert_true(strstr(out, l) < live);
	assert_non_null(strstr(l, "no-waker"));
	free(l);
	l = line_with(nf, "shutdown  cancelled");
	assert_non_null(strstr(l, "2.0 MiB")); /* its peak */
	free(l);
	assert_non_null(strstr(nf, "no-waker: pending with no waker left"));
	/* nothing is live in tasks at the end of tk_demo */
	assert_non_null(strstr(live, "no task holds memory now"));
	/* by peak: 6 (2 MiB) before 5 (1.5 MiB) */
	assert_true(strstr(peak, "\n  6 ") < strstr(peak, "\n  5 "));
	assert_non_null(strstr(out, "[8.0 KiB, 16.0 KiB)"));
	free(out);
	snap__free(s);
}

static void test_top_limits_rows(void **state)
{
	struct snap *s = corpus_snap("good-buffers-pending.json");
	char *out = report_of(s, 2);
	const char *live = strstr(out, "Largest tasks by live bytes");

	/* five tasks hold 200000 bytes each: two shown, in id order */
	assert_non_null(strstr(live, "\n  3 "));
	assert_non_null(strstr(live, "\n  4 "));
	{
		char *sec = strndup(
			live,
			(size_t)(strstr(live, "Largest tasks by peak") - live));

		assert_null(strstr(sec, "\n  5 "));
		free(sec);
	}
	assert_non_null(strstr(live, "... and 3 more tasks"));
	free(out);
	snap__free(s);
}

static void test_incomplete_is_loud(void **state)
{
	struct snap *s = corpus_snap("good-incomplete.json");
	char *out = report_of(s, 10);

	/* first thing after the title */
	assert_non_null(strstr(
		out,
		"memscope report\n\n!!! INCOMPLETE SNAPSHOT: 1234 events lost"));
	assert_non_null(strstr(out, "ring buffer full: 1234 events lost"));
	assert_non_null(strstr(out, "complete    NO"));
	free(out);
	snap__free(s);
}

static void test_spawn_site_column(void **state)
{
	struct snap *s = corpus_snap("good-spawn-sites.json");
	char *out = report_of(s, 10), *l;

	l = line_with(strstr(out, "Largest tasks by live bytes"), "\n  3 ");
	assert_non_null(strstr(
		l, "tk_buffers::spawn_holder (src/bin/tk_buffers.rs:31)"));
	free(l);
	free(out);
	snap__free(s);
	/* without spawn sites there is no such column */
	s = corpus_snap("good-buffers-pending.json");
	out = report_of(s, 10);
	assert_null(strstr(out, "spawn site"));
	free(out);
	snap__free(s);
}

static void test_never_finished_rows(void **state)
{
	struct snap *s = corpus_snap("good-nowaker.json");
	char *out = report_of(s, 10);
	const char *nf = strstr(out, "Tasks that never finished");
	char *l = line_with(nf, "  3 ");

	assert_non_null(strstr(l, "no-waker"));
	assert_non_null(strstr(l, "cancelled"));
	free(l);
	free(out);
	snap__free(s);
}

static void test_hostile_strings_are_neutralised(void **state)
{
	struct snap *s = corpus_snap("good-hostile-strings.json");
	char *out = report_of(s, 10);

	/* no terminal escape, no line injected by a string */
	assert_null(strchr(out, '\x1b'));
	assert_non_null(strstr(out, "?[31mred"));
	assert_non_null(strstr(out, "line?break"));
	free(out);
	snap__free(s);
}

static void test_tasks_only(void **state)
{
	struct snap *s = corpus_snap("good-tasks-only.json");
	char *out = report_of(s, 10);

	assert_non_null(strstr(
		out, "tasks-only mode: memscoped did not probe the allocator"));
	free(out);
	snap__free(s);
}

/* Page level: its own section, the tasks by resident bytes, why. */
static void test_page_level(void **state)
{
	struct snap *s = corpus_snap("good-page-level.json");
	char *out = report_of(s, 10), *l;
	const char *sec;

	assert_true(s->page_level);
	assert_int_equal(s->pages.resident_bytes, 68661248);
	sec = strstr(out, "Page level (resident memory by task)\n");
	assert_non_null(sec);
	/* After the never-finished tasks, before the largest tasks. */
	assert_true(sec > strstr(out, "Tasks that never finished\n"));
	assert_true(sec < strstr(out, "Largest tasks by live bytes\n"));
	l = line_with(sec, "task 3");
	assert_non_null(strstr(l, "64.0 MiB"));
	free(l);
	/* The larger task first; a task holding nothing is left out. */
	assert_true(strstr(sec, "task 3") < strstr(sec, "task 4"));
	assert_null(strstr(sec, "task 2 "));
	assert_non_null(strstr(sec, "page-level: the executable is stripped"));
	free(out);
	snap__free(s);
	/* Not in page-level mode: no such section. */
	s = corpus_snap("good-demo.json");
	out = report_of(s, 10);
	assert_false(s->page_level);
	assert_null(strstr(out, "Page level"));
	free(out);
	snap__free(s);
}

static void test_empty(void **state)
{
	struct snap *s = corpus_snap("good-empty-tasks.json");
	char *out = report_of(s, 10);

	assert_non_null(strstr(out, "none: every task finished"));
	assert_non_null(strstr(out, "no live allocations"));
	free(out);
	snap__free(s);
}

static void test_fmt(void **state)
{
	char b[64];

	assert_string_equal(fmt__duration(b, sizeof(b), 999), "999 ns");
	assert_string_equal(fmt__duration(b, sizeof(b), 1500000), "1.5 ms");
	assert_string_equal(fmt__duration(b, sizeof(b), 3050000000ull),
			    "3.05 s");
	assert_string_equal(fmt__duration(b, sizeof(b), 125000000000ull),
			    "2 min 5 s");
	assert_string_equal(fmt__duration(b, sizeof(b), 7500000000000ull),
			    "2 h 5 min");
	assert_string_equal(fmt__delta_bytes(b, sizeof(b), 10, 2058),
			    "+2.0 KiB");
	assert_string_equal(fmt__delta_bytes(b, sizeof(b), 300, 0), "-300 B");
	assert_string_equal(fmt__delta_count(b, sizeof(b), 5, 5), "0");
	assert_int_equal(delta__i64(0, UINT64_MAX), INT64_MAX);
	assert_int_equal(delta__i64(UINT64_MAX, 0), -INT64_MAX);
	assert_int_equal(esc__width("h\xc3\xa9llo"), 5);
}

static void test_table_text(void **state)
{
	static const char *const head[] = { "name", "n", NULL };
	struct table t;
	char *out = NULL;

	assert_int_equal(table__init(&t, "Things", "lr", head), 0);
	table__row(&t, 0);
	table__cell(&t, "a");
	table__cell(&t, "1");
	table__row(&t, 0);
	table__cell(&t, "long name");
	table__cell(&t, "1000");
	table__note(&t, "note %d", 7);
	CAPTURE(out, table__print_text(f, &t));
	assert_string_equal(out, "Things\n------\n"
				 "  name          n\n"
				 "  a             1\n"
				 "  long name  1000\n"
				 "  note 7\n\n");
	free(out);
	table__free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_sections),
		cmocka_unit_test(test_top_limits_rows),
		cmocka_unit_test(test_incomplete_is_loud),
		cmocka_unit_test(test_spawn_site_column),
		cmocka_unit_test(test_never_finished_rows),
		cmocka_unit_test(test_hostile_strings_are_neutralised),
		cmocka_unit_test(test_tasks_only),
		cmocka_unit_test(test_page_level),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_fmt),
		cmocka_unit_test(test_table_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
