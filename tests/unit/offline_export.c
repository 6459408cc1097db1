// SPDX-License-Identifier: MIT
/* memscope export: json round-trips, folded lines, pprof decodes right. */
#include <zlib.h>

#include "offline/export.h"
#include "offline_helpers.h"
#include "profile.pb-c.h"

static void test_json_round_trip(void **state)
{
	struct snap *s = corpus_snap("good-spawn-sites.json");
	struct json_object *again;
	char *out = NULL;

	CAPTURE(out, export__json(f, s));
	/* pretty: one field per line */
	assert_non_null(
		strstr(out, "\n  \"schema\": \"memscope.snapshot/1\",\n"));
	again = json_tokener_parse(out);
	assert_non_null(again);
	assert_true(json_object_equal(again, s->doc));
	json_object_put(again);
	free(out);
	snap__free(s);
}

static void test_folded(void **state)
{
	struct snap *s = corpus_snap("good-buffers-pending.json");
	char *out = NULL, *save = NULL;
	uint64_t sum = 0, want = 0;
	size_t lines = 0;

	CAPTURE(out, export__folded(f, s));
	assert_non_null(strstr(out, "tokio;task 3 200000\n"));
	assert_non_null(strstr(out, "tokio;[runtime overhead] 168\n"));
	assert_non_null(strstr(out, "[outside tasks] 40465\n"));
	/* "stack value" lines whose values add up to what is live */
	for (char *l = strtok_r(out, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(l, ' ');

		assert_non_null(sp);
		assert_true(sp > l);
		sum += strtoull(sp + 1, NULL, 10);
		lines++;
	}
	for (size_t i = 0; i < s->ntasks; i++)
		want += s->tasks[i].mem.live_bytes;
	want += s->runtime_overhead.live_bytes + s->outside_tasks.live_bytes;
	assert_int_equal(sum, want);
	assert_int_equal(lines, 7);
	free(out);
	snap__free(s);
}

static void test_folded_spawn_sites_and_reasons(void **state)
{
	struct json_object *doc = corpus_doc("good-spawn-sites.json");
	struct snap *s;
	char *out = NULL;

	set(doc, "tasks.1", "never_finished_reason",
	    json_object_new_string("no-waker"));
	set(doc, "tasks.1", "never_finished", json_object_new_boolean(1));
	set(doc, "tasks.1.spawn_site.1", "function",
	    json_object_new_string("semi;colon\nnewline"));
	s = doc_snap_ok(doc);
	CAPTURE(out, export__folded(f, s));
	/* root first: the spawn frames outermost first, the task last */
	assert_non_null(strstr(
		out,
		"tokio;? (libc.so.6);semi:colon?newline;tk_buffers::spawn_holder;task 3 [no-waker] 200000\n"));
	assert_non_null(strstr(
		out,
		"tokio;? (libc.so.6);tk_buffers::main::{{closure}};tk_buffers::spawn_holder;task 4 200000\n"));
	free(out);
	snap__free(s);
}

/* export__pprof's profile, or with heap the served one of that view. */
static Perftools__Profiles__Profile *decode_as(const struct snap *s, bool heap,
					       enum export_view view)
{
	Perftools__Profiles__Profile *p;
	unsigned char *raw = malloc(1 << 20);
	char *gz = NULL;
	size_t gzlen = 0;
	z_stream z = { 0 };
	FILE *f = open_memstream(&gz, &gzlen);

	assert_non_null(f);
	assert_int_equal(
		heap ? export__pprof_heap(f, s, view) : export__pprof(f, s), 0);
	assert_int_equal(fclose(f), 0);
	/* gzip magic, then inflate */
	assert_true(gzlen > 18);
	assert_int_equal((unsigned char)gz[0], 0x1f);
	assert_int_equal((unsigned char)gz[1], 0x8b);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (unsigned char *)gz;
	z.avail_in = (uInt)gzlen;
	z.next_out = raw;
	z.avail_out = 1 << 20;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	p = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
	assert_non_null(p);
	inflateEnd(&z);
	free(raw);
	free(gz);
	return p;
}

#define decode(s) decode_as(s, false, 0)

static const char *str(const Perftools__Profiles__Profile *p, int64_t i)
{
	assert_true(i >= 0 && (size_t)i < p->n_string_table);
	return p->string_table[i];
}

static const char *label(const Perftools__Profiles__Profile *p,
			 const Perftools__Profiles__Sample *sm, const char *key)
{
	for (size_t i = 0; i < sm->n_label; i++)
		if (!strcmp(str(p, sm->label[i]->key), key))
			return str(p, sm->label[i]->str);
	return NULL;
}

static const Perftools__Profiles__Function *
leaf_fn(const Perftools__Profiles__Profile *p,
	const Perftools__Profiles__Sample *sm, size_t depth)
{
	uint64_t lid = sm->location_id[depth];
	const Perftools__Profiles__Location *loc = p->location[lid - 1];

	assert_int_equal(loc->id, lid);
	assert_int_equal(loc->n_line, 1);
	return p->function[loc->line[0]->function_id - 1];
}

static void test_pprof(void **state)
{
	static const char *const types[][2] = { { "alloc_objects", "count" },
						{ "alloc_space", "bytes" },
						{ "inuse_objects", "count" },
						{ "inuse_space", "bytes" } };
	struct snap *s = corpus_snap("good-nowaker.json");
	Perftools__Profiles__Profile *p = decode(s);
	bool seen = false;

	assert_string_equal(p->string_table[0], "");
	assert_int_equal(p->n_sample_type, 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(str(p, p->sample_type[i]->type),
				    types[i][0]);
		assert_string_equal(str(p, p->sample_type[i]->unit),
				    types[i][1]);
	}
	assert_string_equal(str(p, p->default_sample_type), "inuse_space");
	assert_int_equal(p->duration_nanos, s->taken_ns);
	/* one sample per task, then outside-task memory */
	assert_true(p->n_sample >= s->ntasks);
	for (size_t i = 0; i < s->ntasks; i++) {
		const Perftools__Profiles__Sample *sm = p->sample[i];
		const struct snap_task *t = &s->tasks[i];
		char name[32];

		snprintf(name, sizeof(name), "task %" PRIu64, t->id);
		assert_string_equal(str(p, leaf_fn(p, sm, 0)->name), name);
		assert_int_equal(sm->n_value, 4);
		assert_int_equal(sm->value[0], t->mem.alloc_count);
		assert_int_equal(sm->value[1], t->mem.alloc_bytes);
		assert_int_equal(sm->value[2], t->mem.live_count);
		assert_int_equal(sm->value[3], t->mem.live_bytes);
		snprintf(name, sizeof(name), "%" PRIu64, t->id);
		assert_string_equal(label(p, sm, "task_id"), name);
		assert_string_equal(label(p, sm, "state"),
				    snap_state__name(t->state));
		if (t->reason) {
			assert_string_equal(label(p, sm, "reason"),
					    snap_reason__name(t->reason));
			seen = true;
		} else {
			assert_null(label(p, sm, "reason"));
		}
	}
	assert_true(seen);
	perftools__profiles__profile__free_unpacked(p, NULL);
	snap__free(s);
}

static void test_pprof_spawn_sites(void **state)
{
	struct snap *s = corpus_snap("good-spawn-sites.json");
	Perftools__Profiles__Profile *p = decode(s);
	const Perftools__Profiles__Sample *sm = NULL;
	const Perftools__Profiles__Function *fn;
	const Perftools__Profiles__Location *loc;

	for (size_t i = 0; i < p->n_sample; i++)
		if (label(p, p->sample[i], "task_id") &&
		    !strcmp(label(p, p->sample[i], "task_id"), "3"))
			sm = p->sample[i];
	assert_non_null(sm);
	/* task, then its spawn_site frames innermost first */
	assert_int_equal(sm->n_location_id, 4);
	assert_string_equal(str(p, leaf_fn(p, sm, 0)->name), "task 3");
	fn = leaf_fn(p, sm, 1);
	assert_string_equal(str(p, fn->name), "tk_buffers::spawn_holder");
	assert_string_equal(str(p, fn->filename), "src/bin/tk_buffers.rs");
	loc = p->location[sm->location_id[1] - 1];
	assert_int_equal(loc->line[0]->line, 31);
	assert_string_equal(str(p, leaf_fn(p, sm, 2)->name),
			    "tk_buffers::main::{{closure}}");
	/* functions are shared between tasks: interned once */
	for (size_t i = 0; i < p->n_function; i++)
		for (size_t j = i + 1; j < p->n_function; j++)
			assert_false(p->function[i]->name ==
					     p->function[j]->name &&
				     p->function[i]->filename ==
					     p->function[j]->filename);
	for (size_t i = 0; i < p->n_string_table; i++)
		for (size_t j = i + 1; j < p->n_string_table; j++)
			assert_string_not_equal(p->string_table[i],
						p->string_table[j]);
	perftools__profiles__profile__free_unpacked(p, NULL);
	snap__free(s);
}

static void test_pprof_clamps(void **state)
{
	struct json_object *doc = corpus_doc("good-minimal.json");
	Perftools__Profiles__Profile *p;
	struct snap *s;

	set(doc, "tasks.0", "alloc_bytes", json_object_new_uint64(UINT64_MAX));
	s = doc_snap_ok(doc);
	p = decode(s);
	/* pprof values are int64: saturated, never negative */
	assert_int_equal(p->sample[0]->value[1], INT64_MAX);
	perftools__profiles__profile__free_unpacked(p, NULL);
	snap__free(s);
}

/* The outermost frame's function name. */
static const char *root_fn(const Perftools__Profiles__Profile *p,
			   const Perftools__Profiles__Sample *sm)
{
	return str(p, leaf_fn(p, sm, sm->n_location_id - 1)->name);
}

/* Sums of one value over the samples of a view. */
static int64_t view_sum(const Perftools__Profiles__Profile *p, const char *view,
			int value)
{
	int64_t sum = 0;

	for (size_t i = 0; i < p->n_sample; i++)
		if (!strcmp(label(p, p->sample[i], "view"), view))
			sum += p->sample[i]->value[value];
	return sum;
}

/*
 * The served heap profile: both partitions, each under its root and
 * adding up to what the snapshot says; no task ids; one sample per
 * stack and labels; each view alone on request.
 */
static void test_pprof_heap(void **state)
{
	static const char *const types[] = { "alloc_objects", "alloc_space",
					     "inuse_objects", "inuse_space" };
	struct snap *s = corpus_snap("good-demo-spawn-sites.json");
	Perftools__Profiles__Profile *p = decode_as(s, true, EXPORT_VIEW_ALL);
	uint64_t live = 0, alloc = 0, site_alloc = 0, site_samples = 0;
	size_t owner = 0, sites = 0;

	assert_int_equal(p->n_sample_type, 4);
	for (int i = 0; i < 4; i++)
		assert_string_equal(str(p, p->sample_type[i]->type), types[i]);
	assert_string_equal(str(p, p->default_sample_type), "inuse_space");
	for (size_t i = 0; i < s->ntasks; i++) {
		live += s->tasks[i].mem.live_bytes;
		alloc += s->tasks[i].mem.alloc_bytes;
	}
	live += s->runtime_overhead.live_bytes + s->outside_tasks.live_bytes;
	alloc += s->runtime_overhead.alloc_bytes + s->outside_tasks.alloc_bytes;
	for (size_t i = 0; i < s->nsites; i++) {
		site_alloc += s->sites[i].alloc_bytes;
		site_samples += s->sites[i].samples > 0;
	}
	assert_true(site_samples > 0);
	for (size_t i = 0; i < p->n_sample; i++) {
		const Perftools__Profiles__Sample *sm = p->sample[i];
		const char *v = label(p, sm, "view");

		assert_non_null(v);
		assert_null(label(p, sm, "task_id"));
		if (!strcmp(v, "owner")) {
			assert_string_equal(root_fn(p, sm), "[by owner]");
			owner++;
		} else {
			assert_string_equal(v, "alloc_site");
			assert_string_equal(root_fn(p, sm),
					    "[by allocation site]");
			sites++;
		}
		/* Stack and labels: no two samples share both. */
		for (size_t j = 0; j < i; j++) {
			const Perftools__Profiles__Sample *o = p->sample[j];

			if (o->n_location_id != sm->n_location_id ||
			    memcmp(o->location_id, sm->location_id,
				   sm->n_location_id * sizeof(uint64_t)))
				continue;
			assert_false(!strcmp(label(p, o, "view"), v) &&
				     !strcmp(label(p, o, "state") ?: "",
					     label(p, sm, "state") ?: "") &&
				     !strcmp(label(p, o, "reason") ?: "",
					     label(p, sm, "reason") ?: ""));
		}
	}
	assert_int_equal(view_sum(p, "owner", 3), live);
	assert_int_equal(view_sum(p, "owner", 1), alloc);
	assert_int_equal(view_sum(p, "alloc_site", 1), site_alloc);
	assert_int_equal(sites, site_samples);
	/* Tasks spawned at one place in one state are one sample. */
	assert_true(owner < s->ntasks);
	perftools__profiles__profile__free_unpacked(p, NULL);

	p = decode_as(s, true, EXPORT_VIEW_OWNER);
	for (size_t i = 0; i < p->n_sample; i++) {
		assert_string_equal(label(p, p->sample[i], "view"), "owner");
		assert_string_not_equal(root_fn(p, p->sample[i]), "[by owner]");
	}
	assert_int_equal(p->n_sample, owner);
	assert_int_equal(view_sum(p, "owner", 3), live);
	perftools__profiles__profile__free_unpacked(p, NULL);

	p = decode_as(s, true, EXPORT_VIEW_ALLOC);
	for (size_t i = 0; i < p->n_sample; i++)
		assert_string_equal(label(p, p->sample[i], "view"),
				    "alloc_site");
	assert_int_equal(p->n_sample, sites);
	assert_int_equal(view_sum(p, "alloc_site", 1), site_alloc);
	perftools__profiles__profile__free_unpacked(p, NULL);
	snap__free(s);
}

/* Stripped frames are named module+0xADDR; spawn stacks that differ get
 * samples of their own. */
static void test_pprof_heap_stripped(void **state)
{
	struct snap *s = corpus_snap("good-stripped-sites.json");
	Perftools__Profiles__Profile *p = decode_as(s, true, EXPORT_VIEW_ALLOC);
	bool named = false;

	assert_true(p->n_sample > 0);
	for (size_t i = 0; i < p->n_function; i++)
		named |= strstr(str(p, p->function[i]->name), "+0x") != NULL;
	assert_true(named);
	perftools__profiles__profile__free_unpacked(p, NULL);
	snap__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_folded),
		cmocka_unit_test(test_folded_spawn_sites_and_reasons),
		cmocka_unit_test(test_pprof),
		cmocka_unit_test(test_pprof_spawn_sites),
		cmocka_unit_test(test_pprof_clamps),
		cmocka_unit_test(test_pprof_heap),
		cmocka_unit_test(test_pprof_heap_stripped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
