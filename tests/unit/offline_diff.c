// SPDX-License-Identifier: MIT
/* memscope diff: matching by id, growth order, new and ended tasks. */
#include "offline/diff.h"
#include "offline_helpers.h"

static char *diff_of(const struct snap *a, const struct snap *b, size_t top)
{
	struct diff_opts o = { .file_a = "a.json",
			       .file_b = "b.json",
			       .top = top };
	char *out = NULL;

	CAPTURE(out, diff__text(f, a, b, &o));
	return out;
}

static const char *section(const char *out, const char *title)
{
	const char *p = strstr(out, title);

	if (!p)
		fail_msg("no section '%s' in:\n%s", title, out);
	return p;
}

static void set_live(struct json_object *doc, const char *task, uint64_t v)
{
	set(doc, task, "live_bytes", json_object_new_uint64(v));
}

static struct json_object *task_copy(struct json_object *doc, int idx,
				     uint64_t id)
{
	struct json_object *all = NULL, *t;

	assert_int_equal(json_object_deep_copy(at(doc, "tasks"), &all, NULL),
			 0);
	t = json_object_get(json_object_array_get_idx(all, (size_t)idx));
	json_object_put(all);
	json_object_object_add(t, "id", json_object_new_uint64(id));
	return t;
}

static void test_same_snapshot(void **state)
{
	struct snap *a = corpus_snap("good-demo.json");
	char *out = diff_of(a, a, 20);

	assert_non_null(
		strstr(section(out, "Tasks that grew"), "no task holds more"));
	assert_non_null(strstr(section(out, "New tasks in B"), "none"));
	assert_non_null(
		strstr(section(out, "New never-finished tasks in B"), "none"));
	assert_null(strstr(out, "!!!"));
	free(out);
	snap__free(a);
}

static void test_growth_order_and_sections(void **state)
{
	struct json_object *da = corpus_doc("good-buffers-pending.json");
	struct json_object *db = corpus_doc("good-buffers-pending.json");
	struct snap *a, *b;
	const char *grew, *shrank, *fresh, *nf;
	char *out;

	/* task 4 grows by 1000, task 5 by 50000, task 6 shrinks */
	set_live(db, "tasks.3", 201000);
	set_live(db, "tasks.5", 250000);
	set_live(db, "tasks.4", 100);
	/* task 99 is new in B and never finishes; task 7 ends in B */
	{
		struct json_object *t = task_copy(db, 6, 99);

		json_object_object_add(t, "never_finished_reason",
				       json_object_new_string("no-waker"));
		json_object_object_add(t, "live_bytes",
				       json_object_new_int(4096));
		json_object_array_add(at(db, "tasks"), t);
	}
	set(db, "tasks.6", "state", json_object_new_string("completed"));
	set_live(db, "tasks.6", 10);
	a = doc_snap_ok(da);
	b = doc_snap_ok(db);
	out = diff_of(a, b, 20);
	grew = section(out, "Tasks that grew");
	shrank = section(out, "Tasks that shrank");
	fresh = section(out, "New tasks in B");
	nf = section(out, "New never-finished tasks in B");
	/* largest growth first: task 5 (+48.8 KiB) before task 4 (+1000 B) */
	assert_non_null(strstr(grew, "\n  5 "));
	assert_true(strstr(grew, "\n  5 ") < strstr(grew, "\n  4 "));
	assert_true(strstr(grew, "\n  4 ") < shrank);
	assert_non_null(strstr(grew, "+48.8 KiB"));
	assert_non_null(strstr(grew, "+1000 B"));
	/* shrinking: the biggest drop first */
	assert_true(strstr(shrank, "\n  7 ") < strstr(shrank, "\n  6 "));
	assert_non_null(strstr(fresh, "\n  99 "));
	assert_non_null(strstr(section(out, "Tasks that ended between A and B"),
			       "\n  7     completed"));
	assert_non_null(strstr(nf, "\n  99    no-waker"));
	/* no spawn sites: no such section */
	assert_null(strstr(out, "By spawn site"));
	free(out);
	snap__free(a);
	snap__free(b);
}

static void test_by_spawn_site(void **state)
{
	struct json_object *da = corpus_doc("good-spawn-sites.json");
	struct json_object *db = corpus_doc("good-spawn-sites.json");
	const char *sites;
	struct snap *a, *b;
	char *out;

	/* tasks 3, 5, 7 (odd ids) were spawned at line 31, 4 and 6 at 30 */
	set_live(db, "tasks.1", 300000); /* task 3: +100000 */
	set_live(db, "tasks.3", 100000); /* task 4: -100000 */
	a = doc_snap_ok(da);
	b = doc_snap_ok(db);
	out = diff_of(a, b, 20);
	sites = section(out, "By spawn site");
	assert_true(strstr(sites, "tk_buffers.rs:31)") <
		    strstr(sites, "tk_buffers.rs:30)"));
	assert_non_null(strstr(sites, "+97.7 KiB"));
	assert_non_null(strstr(sites, "-97.7 KiB"));
	/* the runtime tasks have none */
	assert_non_null(strstr(sites, "(no spawn site)"));
	free(out);
	snap__free(a);
	snap__free(b);
}

static void test_real_series(void **state)
{
	struct json_object *da = corpus_doc("good-buffers-pending.json");
	struct json_object *db = corpus_doc("good-buffers-pending.json");
	struct snap *a, *b;
	char *out;

	/* B: the process after the tasks completed and freed their buffers */
	for (int i = 0; i < 7; i++) {
		char p[16];

		snprintf(p, sizeof(p), "tasks.%d", i);
		set(db, p, "state", json_object_new_string("completed"));
		set_live(db, p, 0);
	}
	set(db, "totals", "live_bytes", json_object_new_int(9600));
	a = doc_snap_ok(da);
	b = doc_snap_ok(db);
	out = diff_of(a, b, 20);
	assert_non_null(strstr(out, "live bytes"));
	assert_non_null(strstr(section(out, "Totals"), "-1006.9 KiB"));
	assert_non_null(strstr(section(out, "Tasks that ended between A and B"),
			       "-195.3 KiB"));
	free(out);
	snap__free(a);
	snap__free(b);
}

static void test_warnings(void **state)
{
	struct snap *a = corpus_snap("good-demo.json");
	struct snap *b = corpus_snap("good-nowaker.json");
	char *out = diff_of(b, a, 20);

	/* different programs, and incomplete/ordering notes when due */
	assert_non_null(strstr(
		out, "!!! A and B may not be snapshots of the same process"));
	free(out);
	snap__free(b);
	b = corpus_snap("good-minimal.json");
	out = diff_of(a, b, 20);
	assert_non_null(strstr(out, "!!! B was taken before A"));
	free(out);
	snap__free(a);
	snap__free(b);
}

static void test_top(void **state)
{
	struct json_object *da = corpus_doc("good-buffers-pending.json");
	struct snap *a = doc_snap_ok(json_object_get(da));
	struct snap *b;
	char *out;

	for (int i = 0; i < 7; i++) {
		char p[16];

		snprintf(p, sizeof(p), "tasks.%d", i);
		set_live(da, p, 500000);
	}
	b = doc_snap_ok(da);
	out = diff_of(a, b, 2);
	assert_non_null(
		strstr(section(out, "Tasks that grew"), "... and 5 more"));
	free(out);
	snap__free(a);
	snap__free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_snapshot),
		cmocka_unit_test(test_growth_order_and_sections),
		cmocka_unit_test(test_by_spawn_site),
		cmocka_unit_test(test_real_series),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_top),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
