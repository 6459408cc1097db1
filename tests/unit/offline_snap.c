// SPDX-License-Identifier: MIT
/* The snapshot loader: real snapshots load, everything else is refused
 * with one precise line. */
#include <errno.h>
#include <unistd.h>

#include "offline_helpers.h"
#include "offline/report.h"

static void test_demo_loads(void **state)
{
	struct snap *s = corpus_snap("good-demo.json");
	const struct snap_task *t;

	assert_string_equal(s->runtime, "tokio");
	assert_false(s->incomplete);
	assert_false(s->tasks_only);
	assert_true(s->exited);
	assert_true(s->has_exit_status);
	assert_int_equal(s->exit_status, 0);
	assert_int_equal(s->ntasks, 10);
	assert_int_equal(s->nsamples, 4);
	assert_int_equal(s->totals.mem.live_bytes, 9600);
	assert_int_equal(s->async.never_finished_count, 4);
	assert_false(s->has_spawn_sites);
	t = snap__find_task(s, 7);
	assert_non_null(t);
	assert_int_equal(t->reason, SNAP_NF_ABORTED);
	assert_int_equal(t->state, SNAP_CANCELLED);
	assert_true(t->has_future_size);
	assert_int_equal(t->future_size, 2048);
	t = snap__find_task(s, 1);
	assert_int_equal(t->kind, SNAP_KIND_RUNTIME);
	assert_null(snap__find_task(s, 424242));
	assert_string_equal(snap_reason__name(SNAP_NF_NO_WAKER), "no-waker");
	assert_null(snap_reason__name(SNAP_NF_NONE));
	snap__free(s);
}

static void test_every_good_file_loads(void **state)
{
	static const char *const names[] = {
		"good-buffers-pending.json", "good-nowaker.json",
		"good-tasks-only.json",	     "good-spawn-sites.json",
		"good-incomplete.json",	     "good-hostile-strings.json",
		"good-minimal.json",	     "good-empty-tasks.json",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		snap__free(corpus_snap(names[i]));
}

static void test_spawn_site(void **state)
{
	struct snap *s = corpus_snap("good-spawn-sites.json");
	const struct snap_task *t = snap__find_task(s, 3);

	assert_true(s->has_spawn_sites);
	assert_int_equal(t->nframes, 3);
	assert_string_equal(t->spawn_site[0].function,
			    "tk_buffers::spawn_holder");
	assert_string_equal(t->spawn_site[0].file, "src/bin/tk_buffers.rs");
	assert_int_equal(t->spawn_site[0].line, 31);
	/* null members are unknown, not errors */
	assert_null(t->spawn_site[2].function);
	assert_int_equal(t->spawn_site[2].line, 0);
	assert_string_equal(t->spawn_site[2].module, "libc.so.6");
	/* runtime tasks have none */
	assert_int_equal(snap__find_task(s, 1)->nframes, 0);
	snap__free(s);
}

static void test_tasks_only_and_incomplete(void **state)
{
	struct snap *s = corpus_snap("good-tasks-only.json");

	assert_true(s->tasks_only);
	snap__free(s);
	s = corpus_snap("good-incomplete.json");
	assert_true(s->incomplete);
	assert_int_equal(s->totals.lost_events, 1234);
	assert_int_equal(s->nwarnings, 2);
	snap__free(s);
}

static void test_big_ids(void **state)
{
	struct json_object *doc = corpus_doc("good-nowaker.json");
	struct snap *s;

	/* memscope's own numbering sets bit 63: above INT64_MAX */
	set(doc, "tasks.1", "id",
	    json_object_new_uint64(0x8000000000000005ull));
	s = doc_snap_ok(doc);
	assert_non_null(snap__find_task(s, 0x8000000000000005ull));
	snap__free(s);
}

static void test_repeated_ids(void **state)
{
	struct json_object *doc = corpus_doc("good-nowaker.json");
	struct snap *s;

	set(doc, "tasks.2", "id", json_object_new_int(3));
	s = doc_snap_ok(doc);
	/* the first of the two, whichever order the sort saw them in */
	assert_ptr_equal(snap__find_task(s, 3), &s->tasks[1]);
	snap__free(s);
}

struct bad_case {
	const char *parent, *key;
	const char *json; /* the new value, as JSON; NULL deletes the key */
	const char *want; /* in the error message */
};

static void test_bad_fields(void **state)
{
	static const struct bad_case cases[] = {
		{ "", "schema", "\"memscope.snapshot/2\"",
		  "unsupported snapshot version" },
		{ "", "schema", "\"other\"",
		  "not a memscope snapshot: schema is \"other\"" },
		{ "", "schema", "7", "\"schema\" is an integer" },
		{ "", "schema", NULL, "no \"schema\" field" },
		{ "", "taken_ns", "\"5\"",
		  "taken_ns: expected a non-negative integer, found a string" },
		{ "", "taken_ns", "-1",
		  "taken_ns: expected a non-negative integer, found -1" },
		{ "", "taken_ns", "2.5", "found a fraction" },
		{ "", "taken_ns", NULL, "taken_ns: missing" },
		{ "", "incomplete", "1", "incomplete: expected true or false" },
		{ "", "mode", "\"turbo\"", "mode: unknown value \"turbo\"" },
		{ "", "tasks", "{}",
		  "tasks: expected an array, found an object" },
		{ "", "totals", "[]",
		  "totals: expected an object, found an array" },
		{ "", "warnings", "[1]", "warnings[0]: expected a string" },
		{ "target", "pid", "null",
		  "target.pid: expected a non-negative integer, found null" },
		{ "target", "exit_status", "\"0\"",
		  "target.exit_status: expected an integer or null" },
		{ "totals", "lost_events", "true", "totals.lost_events" },
		{ "async", "tasks_alive", NULL, "async.tasks_alive: missing" },
		{ "tasks.1", "kind", "\"daemon\"",
		  "tasks[1].kind: unknown value \"daemon\"" },
		{ "tasks.1", "state", "3",
		  "tasks[1].state: expected a string, found an integer" },
		{ "tasks.1", "never_finished_reason", "\"bored\"",
		  "tasks[1].never_finished_reason: unknown value" },
		{ "tasks.1", "parent", "\"x\"",
		  "tasks[1].parent: expected a non-negative integer or null" },
		{ "tasks.1", "live_bytes", NULL,
		  "tasks[1].live_bytes: missing" },
		{ "tasks.1", "spawn_site", "[1]",
		  "tasks[1].spawn_site[0]: expected an object" },
		{ "tasks.1", "spawn_site", "[{\"line\":\"7\"}]",
		  "tasks[1].spawn_site[0].line" },
		{ "tasks.1", "spawn_site", "[{\"function\":3}]",
		  "tasks[1].spawn_site[0].function: expected a string or null" },
		{ "timeline", "interval_ns", "{}", "timeline.interval_ns" },
		{ "live_by_size.0", "min", "\"1\"", "live_by_size[0].min" },
		{ "", "target", "\"\x1b[31mred\\n\"",
		  "target: expected an object, found a string" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		struct json_object *doc = corpus_doc("good-nowaker.json");
		struct json_object *o = *c->parent ? at(doc, c->parent) : doc;
		char err[512];
		struct snap *s;
		int ret;

		if (c->json)
			json_object_object_add(o, c->key,
					       json_tokener_parse(c->json));
		else
			json_object_object_del(o, c->key);
		s = doc_snap(doc, &ret, err, sizeof(err));
		assert_null(s);
		assert_int_equal(ret, -EINVAL);
		if (!strstr(err, c->want))
			fail_msg("case %zu: '%s' does not say '%s'", i, err,
				 c->want);
		assert_null(strchr(err, '\n'));
	}
}

static void test_schema_bad_string_stays_one_line(void **state)
{
	static const char doc[] = "{\"schema\":\"x\\ny\\u001b[2J\"}";
	struct snap *s;
	char err[256];

	assert_int_equal(
		snap__load_mem(doc, sizeof(doc) - 1, &s, err, sizeof(err)),
		-EINVAL);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\x1b'));
}

static void test_not_json(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "empty file" },
		{ "   \n", "empty file" },
		{ "{\"schema\": \"memscope.snapshot/1\"", "truncated" },
		{ "hello", "not JSON at all" },
		{ "\x89PNG\r\n", "not JSON at all" },
		{ "{\"schema\": ", "truncated" },
		{ "{\"a\":1}}", "data after the end" },
		{ "{\"a\":1,}", "not valid JSON" },
		{ "[1,2]", "the JSON document is an array" },
		{ "42", "the JSON document is an integer" },
		{ "null", "the JSON document is null" },
	};
	char err[256];
	struct snap *s;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(snap__load_mem(cases[i].text,
						strlen(cases[i].text), &s, err,
						sizeof(err)),
				 -EINVAL);
		if (!strstr(err, cases[i].want))
			fail_msg("'%s': '%s' does not say '%s'", cases[i].text,
				 err, cases[i].want);
	}
	assert_int_equal(snap__load_mem("{\0}", 3, &s, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "NUL"));
}

/* Every proper prefix of a snapshot is refused, cleanly. */
static void test_every_truncation(void **state)
{
	char *p = corpus_path("good-minimal.json");
	struct json_object *doc = json_object_from_file(p);
	const char *text =
		json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(text);
	struct snap *s;
	char err[256];

	for (size_t n = 0; n < len; n++) {
		assert_int_equal(snap__load_mem(text, n, &s, err, sizeof(err)),
				 -EINVAL);
		assert_null(s);
		assert_true(err[0]);
	}
	assert_int_equal(snap__load_mem(text, len, &s, err, sizeof(err)), 0);
	snap__free(s);
	json_object_put(doc);
	free(p);
}

static void test_trailing_whitespace_is_fine(void **state)
{
	struct json_object *doc = corpus_doc("good-minimal.json");
	char *text;
	struct snap *s;
	char err[256];

	assert_true(asprintf(&text, "\n %s \n\n\t",
			     json_object_to_json_string(doc)) > 0);
	assert_int_equal(
		snap__load_mem(text, strlen(text), &s, err, sizeof(err)), 0);
	snap__free(s);
	free(text);
	json_object_put(doc);
}

static void test_byte_order_mark(void **state)
{
	struct json_object *doc = corpus_doc("good-minimal.json");
	struct snap *s;
	char *text, err[256];

	assert_true(asprintf(&text, "\xef\xbb\xbf%s",
			     json_object_to_json_string(doc)) > 0);
	assert_int_equal(
		snap__load_mem(text, strlen(text), &s, err, sizeof(err)), 0);
	snap__free(s);
	free(text);
	json_object_put(doc);
}

static void test_files(void **state)
{
	char dir[] = "/tmp/offline_snap.XXXXXX", path[64], err[256];
	struct snap *s;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/none.json", dir);
	assert_int_equal(snap__load_file(path, &s, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	assert_int_equal(snap__load_file(dir, &s, err, sizeof(err)), -EISDIR);
	assert_non_null(strstr(err, "cannot read"));
	assert_int_equal(rmdir(dir), 0);
}

/* ---- large snapshots: read piece by piece ---------------------------- */

static char *report_of(const struct snap *s)
{
	struct report_opts o = { .file = "x.json", .top = 50 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(report__text(f, s, &o), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* text with SNAP_STREAM_BYTES of blanks after its opening brace: the
 * same snapshot, large enough to be read piece by piece. */
static char *padded(const char *text, size_t *len)
{
	size_t n = strlen(text), pad = SNAP_STREAM_BYTES;
	const char *brace = strchr(text, '{');
	size_t head = (size_t)(brace - text) + 1;
	char *out = malloc(n + pad + 1);

	assert_non_null(out);
	memcpy(out, text, head);
	memset(out + head, ' ', pad);
	memcpy(out + head + pad, text + head, n - head + 1);
	*len = n + pad;
	return out;
}

static void assert_same_frames(const struct snap_frame *a,
			       const struct snap_frame *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_true((a[i].function == NULL) == (b[i].function == NULL));
		if (a[i].function)
			assert_string_equal(a[i].function, b[i].function);
		assert_int_equal(a[i].line, b[i].line);
		assert_int_equal(a[i].addr, b[i].addr);
	}
}

/* Every good snapshot reads the same whole or piece by piece. */
static void test_streamed_same_as_whole(void **state)
{
	static const char *const names[] = {
		"good-demo.json",
		"good-demo-spawn-sites.json",
		"good-spawn-sites.json",
		"good-stripped-sites.json",
		"good-hostile-strings.json",
		"good-incomplete.json",
		"good-tasks-only.json",
		"good-empty-tasks.json",
		"good-minimal.json",
		"good-nowaker.json",
		"good-site-ids.json",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct json_object *doc = corpus_doc(names[i]);
		const char *text = json_object_to_json_string_ext(
			doc, JSON_C_TO_STRING_PRETTY);
		struct snap *whole, *part;
		char err[256], *big, *r1, *r2;
		size_t len;

		assert_int_equal(snap__load_mem(text, strlen(text), &whole, err,
						sizeof(err)),
				 0);
		big = padded(text, &len);
		if (snap__load_mem(big, len, &part, err, sizeof(err)))
			fail_msg("%s, padded: %s", names[i], err);
		assert_non_null(whole->doc);
		assert_null(part->doc); /* really read piece by piece */
		assert_int_equal(part->ntasks, whole->ntasks);
		assert_int_equal(part->nsites, whole->nsites);
		assert_int_equal(part->has_spawn_sites, whole->has_spawn_sites);
		for (size_t t = 0; t < whole->ntasks; t++) {
			assert_int_equal(part->tasks[t].id, whole->tasks[t].id);
			assert_int_equal(part->tasks[t].nframes,
					 whole->tasks[t].nframes);
			assert_same_frames(part->tasks[t].spawn_site,
					   whole->tasks[t].spawn_site,
					   whole->tasks[t].nframes);
		}
		for (size_t t = 0; t < whole->nsites; t++)
			assert_same_frames(part->sites[t].frames,
					   whole->sites[t].frames,
					   whole->sites[t].nframes);
		r1 = report_of(whole);
		r2 = report_of(part);
		assert_string_equal(r1, r2);
		free(r1);
		free(r2);
		snap__free(whole);
		snap__free(part);
		free(big);
		json_object_put(doc);
	}
}

/* Tasks of one spawn site share its frames; freeing frees them once
 * (ASan would say otherwise). */
static void test_streamed_tasks_share_site_frames(void **state)
{
	struct json_object *doc = corpus_doc("good-demo-spawn-sites.json");
	const char *text = json_object_to_json_string(doc);
	struct snap *s;
	size_t len, shared = 0;
	char err[256], *big = padded(text, &len);

	assert_int_equal(snap__load_mem(big, len, &s, err, sizeof(err)), 0);
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct snap_task *t = &s->tasks[i];

		if (!t->frames_shared)
			continue;
		shared++;
		assert_true(t->frames_owner < i);
		assert_ptr_equal(t->spawn_site,
				 s->tasks[t->frames_owner].spawn_site);
	}
	/* ids 1,2,2,2,2,1,3,3,4,5: five tasks repeat an earlier site */
	assert_int_equal(shared, 5);
	snap__free(s);
	free(big);
	json_object_put(doc);
}

/* A large snapshot cut short, or with one bad task deep inside, is
 * refused with the same kind of line as a small one. */
static void test_streamed_refusals(void **state)
{
	struct json_object *doc = corpus_doc("good-demo.json");
	const char *text = json_object_to_json_string(doc);
	size_t len;
	char err[256], *big = padded(text, &len), *at;
	struct snap *s;

	/* Cut inside tasks[], inside a string, before the last brace. */
	at = strstr(big, "\"tasks\"");
	assert_non_null(at);
	for (size_t off = 0; off < 400; off += 7) {
		size_t n = (size_t)(at - big) + off;

		assert_int_equal(snap__load_mem(big, n, &s, err, sizeof(err)),
				 -EINVAL);
		assert_null(s);
		if (!strstr(err, "truncated"))
			fail_msg("cut at +%zu: %s", off, err);
	}
	assert_int_equal(snap__load_mem(big, len - 1, &s, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "truncated"));
	free(big);

	/* tasks[3].future_size a string: named, as when read whole */
	struct json_object *tasks, *t;

	assert_true(json_object_object_get_ex(doc, "tasks", &tasks));
	t = json_object_array_get_idx(tasks, 3);
	json_object_object_add(t, "future_size", json_object_new_string("x"));
	big = padded(json_object_to_json_string(doc), &len);
	assert_int_equal(snap__load_mem(big, len, &s, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "tasks[3]"));
	free(big);

	/* tasks not an array */
	json_object_object_add(doc, "tasks", json_object_new_int(5));
	big = padded(json_object_to_json_string(doc), &len);
	assert_int_equal(snap__load_mem(big, len, &s, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "tasks"));
	free(big);
	json_object_put(doc);
}

/* memscoped writes a site's frames once, in sites[]: a task names its
 * site by spawn_site_id and reads the same as with its frames inline
 * (good-site-ids.json is good-demo-spawn-sites.json without them). */
static void test_frames_from_sites(void **state)
{
	struct snap *inl = corpus_snap("good-demo-spawn-sites.json");
	struct snap *ids = corpus_snap("good-site-ids.json");
	char err[256], *p;
	struct snap *s;

	assert_true(ids->has_spawn_sites);
	assert_int_equal(ids->ntasks, inl->ntasks);
	for (size_t i = 0; i < inl->ntasks; i++) {
		assert_int_equal(ids->tasks[i].nframes, inl->tasks[i].nframes);
		assert_same_frames(ids->tasks[i].spawn_site,
				   inl->tasks[i].spawn_site,
				   inl->tasks[i].nframes);
		if (ids->tasks[i].nframes) {
			assert_true(ids->tasks[i].frames_of_site);
			assert_ptr_equal(
				ids->tasks[i].spawn_site,
				ids->sites[ids->tasks[i].frames_owner].frames);
		}
	}
	snap__free(inl);
	snap__free(ids);

	/* An id naming no site: refused, and said. */
	p = corpus_path("bad-site-id-unknown.json");
	assert_int_equal(snap__load_file(p, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "tasks[3].spawn_site_id: no site 77 in sites");
	free(p);
}

/* Sites listed in any order are still found by id. */
static void test_sites_out_of_order(void **state)
{
	struct json_object *doc = corpus_doc("good-site-ids.json");
	struct json_object *sites, *rev = json_object_new_array();
	struct snap *s, *ref = corpus_snap("good-site-ids.json");
	char err[256];
	int ret;

	assert_true(json_object_object_get_ex(doc, "sites", &sites));
	for (size_t i = json_object_array_length(sites); i-- > 0;)
		json_object_array_add(
			rev,
			json_object_get(json_object_array_get_idx(sites, i)));
	json_object_object_add(doc, "sites", rev);
	s = doc_snap(doc, &ret, err, sizeof(err));
	if (ret)
		fail_msg("%s", err);
	for (size_t i = 0; i < s->ntasks; i++) {
		assert_int_equal(s->tasks[i].nframes, ref->tasks[i].nframes);
		assert_same_frames(s->tasks[i].spawn_site,
				   ref->tasks[i].spawn_site,
				   ref->tasks[i].nframes);
	}
	snap__free(s);
	snap__free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_demo_loads),
		cmocka_unit_test(test_every_good_file_loads),
		cmocka_unit_test(test_spawn_site),
		cmocka_unit_test(test_tasks_only_and_incomplete),
		cmocka_unit_test(test_big_ids),
		cmocka_unit_test(test_repeated_ids),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_schema_bad_string_stays_one_line),
		cmocka_unit_test(test_not_json),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_trailing_whitespace_is_fine),
		cmocka_unit_test(test_byte_order_mark),
		cmocka_unit_test(test_streamed_same_as_whole),
		cmocka_unit_test(test_streamed_tasks_share_site_frames),
		cmocka_unit_test(test_streamed_refusals),
		cmocka_unit_test(test_frames_from_sites),
		cmocka_unit_test(test_sites_out_of_order),
		cmocka_unit_test(test_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
