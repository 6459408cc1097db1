// SPDX-License-Identifier: MIT
/*
 * The snapshot document (field names are an interface, see
 * docs/snapshot.md) and its writer's safety rules: atomic, 0600, never
 * through a symlink, nothing left behind on failure.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/model.h"
#include "records.h"
#include "view/snapshot.h"

#define START 1000000000000ull
#define MS 1000000ull
#define PID 100
#define W1 101
#define K 0x55d100001000ull
#define H 0x55d100002000ull
#define H2 0x55d100003000ull
#define X1 0x55d100020000ull
#define X2 0x55d100020100ull
#define V 0x5600000aa000ull
#define REFS(n) ((uint64_t)(n) << MS_TOKIO_REF_SHIFT)

static void apply_sink(void *ctx, const void *rec, size_t len)
{
	assert_int_equal(model__apply(ctx, rec, len), 0);
}

static void alloc(struct model *m, uint32_t tid, uint64_t t, uint64_t addr,
		  uint64_t size, uint64_t task)
{
	struct ms_alloc_rec r = rec__alloc(PID, tid, START + t, MS_FN_MALLOC,
					   addr, size, 0, task);

	apply_sink(m, &r, sizeof(r));
}

static void free_rec(struct model *m, uint32_t tid, uint64_t t, uint64_t addr,
		     uint64_t task)
{
	struct ms_free_rec r = rec__free(PID, tid, START + t, addr, task, 0);

	apply_sink(m, &r, sizeof(r));
}

/* A whole user-task poll on W1 (begun in state bst), as BPF reports it:
 * one record at its end, after what it allocated. */
static void tpoll(struct model *m, uint64_t begin, uint64_t end, uint64_t task,
		  uint64_t bst, uint64_t st, uint64_t id)
{
	struct rec_poll_entry e = {
		.task = task,
		.begin_ns = START + begin,
		.begin_state = bst,
		.vtable = V,
		.task_id = id,
		.owner_id = 1,
	};
	struct ms_tokio_poll_rec r = rec__tokio_poll(PID, W1, START + end, &e,
						     st, MS_POLL_F_SEEN_RETURN);

	apply_sink(m, &r, sizeof(r));
}

static struct model *new_model(void)
{
	struct model_opts o = {
		.start_ns = START,
		.never_finished_ns = 5000 * MS,
		.pid = PID,
	};
	struct model *m = model__new(&o);

	assert_non_null(m);
	return m;
}

/*
 * K (id 1, 512-byte Cell) spawns H (id 7, 256) at 3 ms, both of a task
 * type whose future is 200 bytes; H allocates 100
 * and 40 bytes, frees the 40, completes at 20 ms. K stays pending. H2
 * (id 9) is cancelled. Two events were lost in the kernel.
 */
static struct model *small_model(void)
{
	struct model *m = new_model();
	uint64_t st[MS_STAT_MAX] = { 0 };

	/* The collector vouched for V: its futures are 200 bytes. */
	model__tokio_layout(m, V, 200, false);
	alloc(m, PID, 1 * MS, K, 512, 0);
	alloc(m, W1, 3 * MS, H, 256, K);
	tpoll(m, 2 * MS, 4 * MS, K, 0, REFS(3) | MS_TOKIO_JOIN_INTEREST, 1);
	alloc(m, W1, 11 * MS, X1, 100, H);
	alloc(m, W1, 12 * MS, X2, 40, H);
	free_rec(m, W1, 13 * MS, X2, H);
	tpoll(m, 10 * MS, 20 * MS, H, 0, MS_TOKIO_COMPLETE | REFS(1), 7);
	/* Aborted while idle: its next poll begins CANCELLED and cancels. */
	tpoll(m, 30 * MS, 31 * MS, H2,
	      MS_TOKIO_CANCELLED | MS_TOKIO_RUNNING | REFS(2),
	      MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | REFS(1), 9);
	st[MS_STAT_LOST] = 2;
	model__set_kernel_stats(m, st, MS_STAT_MAX);
	return m;
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("missing field \"%s\"", k);
	return v;
}

static uint64_t get_u64(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);

	if (!json_object_is_type(v, json_type_int))
		fail_msg("field \"%s\" is not an integer", k);
	return json_object_get_uint64(v);
}

static const char *get_str(struct json_object *o, const char *k)
{
	struct json_object *v = get(o, k);

	if (!json_object_is_type(v, json_type_string))
		fail_msg("field \"%s\" is not a string", k);
	return json_object_get_string(v);
}

static void assert_json_null(struct json_object *o, const char *k)
{
	if (get(o, k) != NULL)
		fail_msg("field \"%s\" should be null", k);
}

static struct json_object *task_with_id(struct json_object *tasks, uint64_t id)
{
	for (size_t i = 0; i < json_object_array_length(tasks); i++) {
		struct json_object *t = json_object_array_get_idx(tasks, i);

		if (get_u64(t, "id") == id)
			return t;
	}
	fail_msg("no task %llu in the snapshot", (unsigned long long)id);
	return NULL;
}

/* The document as memscoped writes it, read back. */
static struct json_object *build(const struct model *m,
				 const struct snapshot_meta *mt)
{
	struct json_object *doc;
	char *text;
	size_t len;

	assert_int_equal(snapshot__text(m, mt, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	doc = json_tokener_parse(text);
	if (!doc)
		fail_msg("not JSON: %.200s", text);
	free(text);
	return doc;
}

static const struct snapshot_meta meta = {
	.pid = PID,
	.command = "prog --serve",
	.exe = "/usr/bin/prog",
	.now_ns = START + 1000 * MS,
	.target_exited = false,
	.exit_status = -1,
};

static void test_build_document(void **state)
{
	struct model *m = small_model();
	const char *const warnings[] = { "layout check failed", NULL };
	struct snapshot_meta mt = meta;
	struct json_object *doc, *tot, *tasks, *t, *a, *w;

	mt.warnings = warnings;
	doc = build(m, &mt);
	assert_non_null(doc);
	assert_string_equal(get_str(doc, "schema"), "memscope.snapshot/1");
	assert_string_equal(get_str(doc, "runtime"), "tokio");
	assert_int_equal(get_u64(doc, "taken_ns"), 1000 * MS);
	/* Lost events: the figures may be short, and the document says so. */
	assert_true(json_object_get_boolean(get(doc, "incomplete")));
	assert_int_equal(get_u64(get(doc, "target"), "pid"), PID);
	assert_string_equal(get_str(get(doc, "target"), "command"),
			    "prog --serve");

	tot = get(doc, "totals");
	assert_int_equal(get_u64(tot, "alloc_count"), 4);
	assert_int_equal(get_u64(tot, "alloc_bytes"), 512 + 256 + 100 + 40);
	assert_int_equal(get_u64(tot, "free_count"), 1);
	assert_int_equal(get_u64(tot, "free_bytes"), 40);
	assert_int_equal(get_u64(tot, "live_count"), 3);
	assert_int_equal(get_u64(tot, "live_bytes"), 512 + 256 + 100);
	assert_int_equal(get_u64(tot, "lost_events"), 2);

	tasks = get(doc, "tasks");
	assert_true(json_object_is_type(tasks, json_type_array));
	assert_int_equal(json_object_array_length(tasks), 3);
	t = task_with_id(tasks, 7);
	assert_string_equal(get_str(t, "kind"), "user");
	assert_string_equal(get_str(t, "state"), "completed");
	assert_false(json_object_get_boolean(get(t, "never_finished")));
	assert_json_null(t, "never_finished_reason");
	assert_int_equal(get_u64(t, "parent"), 1); /* K's id, not an index */
	assert_int_equal(get_u64(t, "spawned_ns"), 3 * MS);
	assert_int_equal(get_u64(t, "ended_ns"), 20 * MS);
	assert_int_equal(get_u64(t, "polls"), 1);
	assert_int_equal(get_u64(t, "busy_ns"), 10 * MS);
	assert_int_equal(get_u64(t, "future_size"), 200);
	assert_int_equal(get_u64(t, "cell_size"), 256);
	assert_int_equal(get_u64(t, "alloc_count"), 2);
	assert_int_equal(get_u64(t, "alloc_bytes"), 140);
	assert_int_equal(get_u64(t, "live_count"), 1);
	assert_int_equal(get_u64(t, "live_bytes"), 100);
	assert_int_equal(get_u64(t, "peak_live_bytes"), 140);

	t = task_with_id(tasks, 1);
	assert_string_equal(get_str(t, "state"), "pending");
	assert_json_null(t, "parent");
	assert_json_null(t, "ended_ns");
	assert_int_equal(get_u64(t, "future_size"), 200);
	assert_int_equal(get_u64(t, "cell_size"), 512);
	assert_int_equal(get_u64(t, "alloc_count"), 1); /* H's Cell */

	t = task_with_id(tasks, 9);
	assert_string_equal(get_str(t, "state"), "cancelled");
	assert_true(json_object_get_boolean(get(t, "never_finished")));
	assert_string_equal(get_str(t, "never_finished_reason"), "aborted");
	assert_int_equal(get_u64(t, "future_size"), 200); /* its type's */
	assert_json_null(t, "cell_size"); /* its Cell was never seen */
	assert_json_null(t, "spawned_ns");

	a = get(doc, "async");
	assert_int_equal(get_u64(a, "async_allocation_count"), 3);
	assert_int_equal(get_u64(a, "future_state_overhead"), 600);
	assert_int_equal(get_u64(a, "average_future_size"), 200);
	assert_int_equal(get_u64(a, "largest_future_size"), 200);
	assert_int_equal(get_u64(a, "task_cell_bytes"), 768);
	assert_int_equal(get_u64(a, "runtime_overhead_bytes"), 0);
	assert_int_equal(get_u64(a, "never_finished_count"), 1);
	assert_int_equal(get_u64(a, "async_allocation_bytes"), 256 + 140);
	assert_int_equal(get_u64(a, "tasks_alive"), 1);
	assert_int_equal(get_u64(a, "tasks_completed"), 1);
	assert_int_equal(get_u64(a, "tasks_cancelled"), 1);

	w = get(doc, "warnings");
	assert_int_equal(json_object_array_length(w), 1);
	assert_string_equal(
		json_object_get_string(json_object_array_get_idx(w, 0)),
		"layout check failed");
	json_object_put(doc);
	model__free(m);
}

static void test_build_runtimes(void **state)
{
	struct model *m = new_model();
	struct json_object *doc = build(m, &meta);
	struct ms_task_rec r = rec__task(MS_REC_TASK_SPAWN, MS_RT_USDT, PID,
					 PID, START + 1 * MS, 5, 0, 64, 0);

	/* Nothing traced yet: a valid, empty document. */
	assert_string_equal(get_str(doc, "schema"), MS_SNAPSHOT_SCHEMA);
	assert_string_equal(get_str(doc, "runtime"), "none");
	assert_int_equal(json_object_array_length(get(doc, "tasks")), 0);
	assert_false(json_object_get_boolean(get(doc, "incomplete")));
	assert_int_equal(get_u64(get(doc, "totals"), "lost_events"), 0);
	json_object_put(doc);

	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
	doc = build(m, &meta);
	assert_string_equal(get_str(doc, "runtime"), "usdt");
	assert_int_equal(
		get_u64(task_with_id(get(doc, "tasks"), 5), "future_size"), 64);
	json_object_put(doc);
	model__free(m);
}

/* ---- the writer ----------------------------------------------------- */

static char dir[64];

static int mk_dir(void **state)
{
	strcpy(dir, "/tmp/ms-snap-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

/* The names in d (at most max kept), and how many there are. */
static int entries(const char *d, char names[][256], int max)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	if (!dp)
		return -1;
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n < max)
			snprintf(names[n], 256, "%s", de->d_name);
		n++;
	}
	closedir(dp);
	return n;
}

static int rm_dir(void **state)
{
	char names[16][256], p[400];
	int n = entries(dir, names, 16);

	for (int i = 0; i < n && i < 16; i++) {
		snprintf(p, sizeof(p), "%.63s/%.255s", dir, names[i]);
		unlink(p);
	}
	return rmdir(dir);
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void test_write_mode_and_atomic(void **state)
{
	struct model *m = small_model();
	char path[256], names[8][256];
	struct json_object *back;
	struct stat st;
	mode_t old = umask(0); /* permissive: the file must still be 0600 */

	path_in(path, sizeof(path), "snap.json");
	assert_int_equal(snapshot__write(m, &meta, path), 0);
	umask(old);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* No temporary file left next to it. */
	assert_int_equal(entries(dir, names, 8), 1);
	assert_string_equal(names[0], "snap.json");
	/* Valid JSON, the same document. */
	back = json_object_from_file(path);
	assert_non_null(back);
	assert_string_equal(get_str(back, "schema"), "memscope.snapshot/1");
	assert_int_equal(get_u64(get(back, "totals"), "alloc_count"), 4);
	assert_int_equal(json_object_array_length(get(back, "tasks")), 3);
	json_object_put(back);
	model__free(m);
}

/* Replacing an existing, more open file: the result is still 0600. */
static void test_write_replaces(void **state)
{
	struct model *m = small_model();
	char path[256], names[8][256];
	struct json_object *back;
	struct stat st;
	mode_t old;
	int fd;

	path_in(path, sizeof(path), "snap.json");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old", 3), 3);
	close(fd);
	assert_int_equal(chmod(path, 0644), 0);
	old = umask(0);
	assert_int_equal(snapshot__write(m, &meta, path), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	back = json_object_from_file(path);
	assert_non_null(back);
	assert_string_equal(get_str(back, "schema"), MS_SNAPSHOT_SCHEMA);
	json_object_put(back);
	assert_int_equal(entries(dir, names, 8), 1);
	model__free(m);
}

static void read_whole(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = 0;
	fclose(f);
}

static void test_write_refuses_symlink(void **state)
{
	struct model *m = small_model();
	char path[256], target[256], buf[64], names[8][256];
	struct stat st;
	FILE *f;

	path_in(target, sizeof(target), "precious");
	path_in(path, sizeof(path), "snap.json");
	f = fopen(target, "w");
	assert_non_null(f);
	fputs("do not touch", f);
	fclose(f);
	assert_int_equal(chmod(target, 0644), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(snapshot__write(m, &meta, path), -ELOOP);
	/* The target is untouched, the link still a link. */
	read_whole(target, buf, sizeof(buf));
	assert_string_equal(buf, "do not touch");
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(entries(dir, names, 8), 2);
	/* A dangling link is refused too (it would create its target). */
	assert_int_equal(unlink(target), 0);
	assert_int_equal(snapshot__write(m, &meta, path), -ELOOP);
	assert_int_equal(lstat(target, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(entries(dir, names, 8), 1);
	model__free(m);
}

static void test_write_missing_dir(void **state)
{
	struct model *m = small_model();
	char path[256], names[8][256];
	int err;

	path_in(path, sizeof(path), "no-such-dir/snap.json");
	err = snapshot__write(m, &meta, path);
	assert_true(err < 0);
	assert_int_equal(err, -ENOENT);
	/* Nothing created anywhere, not even the directory. */
	assert_int_equal(entries(dir, names, 8), 0);
	model__free(m);
}

/* A directory in the way: the rename fails, the temporary file goes. */
static void test_write_onto_directory(void **state)
{
	struct model *m = small_model();
	char path[256], names[8][256];

	path_in(path, sizeof(path), "snap.json");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_true(snapshot__write(m, &meta, path) < 0);
	assert_int_equal(entries(dir, names, 8), 1);
	assert_string_equal(names[0], "snap.json");
	assert_int_equal(rmdir(path), 0);
	model__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_document),
		cmocka_unit_test(test_build_runtimes),
		cmocka_unit_test_setup_teardown(test_write_mode_and_atomic,
						mk_dir, rm_dir),
		cmocka_unit_test_setup_teardown(test_write_replaces, mk_dir,
						rm_dir),
		cmocka_unit_test_setup_teardown(test_write_refuses_symlink,
						mk_dir, rm_dir),
		cmocka_unit_test_setup_teardown(test_write_missing_dir, mk_dir,
						rm_dir),
		cmocka_unit_test_setup_teardown(test_write_onto_directory,
						mk_dir, rm_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
