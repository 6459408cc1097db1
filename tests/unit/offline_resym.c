// SPDX-License-Identifier: MIT
/* Frames of stripped binaries: the loader reads build_id, addr and path
 * (optional, as are sites[]), unnamed frames print as module+0xADDR with
 * the build id, and resym__snap names them from the binary or a debug
 * file found by build id, folding the runtime frames that then lead. The
 * "stripped binary" is this test binary, seen through frames that have
 * only its build id and addresses. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach/elf.h"
#include "offline/fmt.h"
#include "offline/report.h"
#include "offline/resym.h"
#include "offline_helpers.h"
#include "sym/debugfile.h"

/* A user function, and one the runtime rules fold ("crt_" prefix). */
__attribute__((noinline, used)) int resym_user_fn(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline, used)) int crt_resym_alloc(int x)
{
	return resym_user_fn(x) + 1;
}

static char self[PATH_MAX];
static char self_id[2 * DEBUGFILE_ID_MAX + 1];
static uint64_t bias;

static int first_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
	bias = info->dlpi_addr; /* the main program comes first */
	return 1;
}

/* The ELF address of a function of this binary: what memscoped records. */
static uint64_t addr_of(int (*fn)(int))
{
	return (uint64_t)(uintptr_t)fn - bias;
}

static int setup(void **state)
{
	uint8_t id[DEBUGFILE_ID_MAX];
	struct elf_file *ef;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	size_t len;

	assert_true(n > 0);
	self[n] = '\0';
	dl_iterate_phdr(first_bias, NULL);
	assert_int_equal(elf__open(self, &ef), 0);
	len = elf__build_id(ef, id, sizeof(id));
	elf__close(ef);
	if (len)
		debugfile__hex(id, len, self_id);
	return 0;
}

static struct json_object *frame_obj(const char *fn, const char *module,
				     const char *build_id, uint64_t addr,
				     const char *path)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "function",
			       fn ? json_object_new_string(fn) : NULL);
	json_object_object_add(o, "file", NULL);
	json_object_object_add(o, "line", NULL);
	json_object_object_add(o, "module",
			       module ? json_object_new_string(module) : NULL);
	json_object_object_add(o, "pc", json_object_new_uint64(addr + 1));
	json_object_object_add(o, "build_id",
			       build_id ? json_object_new_string(build_id) :
					  NULL);
	json_object_object_add(o, "addr",
			       addr ? json_object_new_uint64(addr) : NULL);
	json_object_object_add(o, "path",
			       path ? json_object_new_string(path) : NULL);
	return o;
}

static struct json_object *site_obj(uint64_t id, uint64_t live,
				    struct json_object *frames)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_uint64(id));
	json_object_object_add(o, "spawns", json_object_new_uint64(0));
	json_object_object_add(o, "samples", json_object_new_uint64(1));
	json_object_object_add(o, "alloc_count", json_object_new_uint64(1));
	json_object_object_add(o, "alloc_bytes", json_object_new_uint64(live));
	json_object_object_add(o, "live_count", json_object_new_uint64(1));
	json_object_object_add(o, "live_bytes", json_object_new_uint64(live));
	json_object_object_add(o, "frames", frames);
	return o;
}

/* good-minimal.json with one site of the given frames (consumed), and the
 * same frames as its task's spawn site. */
static struct snap *snap_with(struct json_object *frames)
{
	struct json_object *doc = corpus_doc("good-minimal.json");
	struct json_object *sites = json_object_new_array();
	struct json_object *copy = NULL;

	assert_int_equal(json_object_deep_copy(frames, &copy, NULL), 0);
	json_object_array_add(sites, site_obj(0, 4096, frames));
	set(doc, "", "sites", sites);
	set(doc, "tasks.0", "spawn_site", copy);
	return doc_snap_ok(doc);
}

/* ---- the loader ---------------------------------------------------------- */

static void test_loads_new_fields(void **state)
{
	struct snap *s = corpus_snap("good-stripped-sites.json");
	const struct snap_frame *f;

	assert_int_equal(s->nsites, 3);
	assert_int_equal(s->sites[0].live_bytes, 400000);
	assert_int_equal(s->sites[0].samples, 4);
	assert_int_equal(s->sites[0].nframes, 3);
	f = &s->sites[0].frames[0];
	assert_null(f->function);
	assert_string_equal(f->module, "tk_stripped");
	assert_string_equal(f->build_id,
			    "f847d5e688bcc3cc2f81ad0fac7034251c2c9904");
	assert_int_equal(f->addr, 203392);
	assert_string_equal(f->path, "/opt/app/tk_stripped");
	/* null: unknown */
	f = &s->sites[0].frames[2];
	assert_null(f->build_id);
	assert_null(f->path);
	assert_int_equal(f->addr, 0);
	f = &s->tasks[0].spawn_site[0];
	assert_int_equal(f->addr, 203747);
	assert_non_null(f->build_id);
	snap__free(s);
}

static void test_older_snapshots(void **state)
{
	struct snap *s = corpus_snap("good-spawn-sites.json");

	/* No build_id, addr or path in its frames; no sites[]. */
	assert_int_equal(s->nsites, 0);
	assert_true(s->has_spawn_sites);
	for (size_t i = 0; i < s->ntasks; i++) {
		for (size_t j = 0; j < s->tasks[i].nframes; j++) {
			assert_null(s->tasks[i].spawn_site[j].build_id);
			assert_null(s->tasks[i].spawn_site[j].path);
			assert_int_equal(s->tasks[i].spawn_site[j].addr, 0);
		}
	}
	snap__free(s);
	/* sites[] without the new frame fields. */
	s = corpus_snap("good-demo-spawn-sites.json");
	assert_int_equal(s->nsites, 7);
	assert_non_null(s->sites[0].frames[0].function);
	assert_null(s->sites[0].frames[0].build_id);
	snap__free(s);
}

static void expect_refused(struct json_object *doc, const char *want)
{
	char err[512];
	int ret;
	struct snap *s = doc_snap(doc, &ret, err, sizeof(err));

	assert_null(s);
	assert_int_equal(ret, -EINVAL);
	if (!strstr(err, want))
		fail_msg("error '%s', want '%s'", err, want);
}

static void test_bad_fields(void **state)
{
	struct json_object *doc;

	doc = corpus_doc("good-stripped-sites.json");
	set(doc, "sites.0.frames.0", "addr", json_object_new_string("0x10"));
	expect_refused(
		doc,
		"sites[0].frames[0].addr: expected a non-negative integer, found a string");
	doc = corpus_doc("good-stripped-sites.json");
	set(doc, "sites.0.frames.1", "addr", json_object_new_int64(-1));
	expect_refused(
		doc,
		"sites[0].frames[1].addr: expected a non-negative integer");
	doc = corpus_doc("good-stripped-sites.json");
	set(doc, "tasks.0.spawn_site.0", "build_id", json_object_new_int(5));
	expect_refused(
		doc,
		"tasks[0].spawn_site[0].build_id: expected a string or null, found an integer");
	doc = corpus_doc("good-stripped-sites.json");
	set(doc, "tasks.0.spawn_site.0", "path", json_object_new_object());
	expect_refused(
		doc, "tasks[0].spawn_site[0].path: expected a string or null");
	doc = corpus_doc("good-stripped-sites.json");
	set(doc, "", "sites", json_object_new_object());
	expect_refused(doc, "sites: expected an array, found an object");
	doc = corpus_doc("good-stripped-sites.json");
	set(doc, "sites.1", "frames", NULL);
	expect_refused(doc, "sites[1].frames: expected an array, found null");
	doc = corpus_doc("good-stripped-sites.json");
	json_object_object_del(at(doc, "sites.2"), "frames");
	expect_refused(doc, "sites[2].frames: missing");
	doc = corpus_doc("good-stripped-sites.json");
	set(doc, "sites.0", "live_bytes", json_object_new_string("1"));
	expect_refused(doc,
		       "sites[0].live_bytes: expected a non-negative integer");
	/* Absent altogether is fine: older frames and snapshots. */
	doc = corpus_doc("good-stripped-sites.json");
	json_object_object_del(at(doc, "sites.0.frames.0"), "addr");
	json_object_object_del(at(doc, "sites.0.frames.0"), "build_id");
	json_object_object_del(at(doc, "sites.0.frames.0"), "path");
	json_object_object_del(doc, "sites");
	snap__free(doc_snap_ok(doc));
}

/* ---- printing ------------------------------------------------------------- */

static void test_fmt_unnamed(void **state)
{
	struct snap_frame f = {
		.module = "tk",
		.addr = 0x31a80,
		.build_id = "f847d5e688bcc3cc2f81ad0fac7034251c2c9904"
	};
	char buf[256];

	assert_string_equal(fmt__frame(buf, sizeof(buf), &f),
			    "tk+0x31a80 (build id f847d5e688bc\xe2\x80\xa6)");
	f.build_id = "abcd";
	assert_string_equal(fmt__frame(buf, sizeof(buf), &f),
			    "tk+0x31a80 (build id abcd)");
	f.build_id = NULL;
	assert_string_equal(fmt__frame(buf, sizeof(buf), &f), "tk+0x31a80");
	/* The module from the path when the frame has none. */
	f.module = NULL;
	f.path = "/opt/app/server";
	assert_string_equal(fmt__frame(buf, sizeof(buf), &f), "server+0x31a80");
	/* No address: as before. */
	f.module = "tk";
	f.addr = 0;
	assert_string_equal(fmt__frame(buf, sizeof(buf), &f), "? (tk)");
	/* Named frames are printed by name, address or not. */
	f.function = "app::main";
	f.addr = 0x10;
	assert_string_equal(fmt__frame(buf, sizeof(buf), &f), "app::main");
	/* Truncation never splits more than the buffer. */
	f.function = NULL;
	f.build_id = "f847d5e688bcc3cc2f81ad0fac7034251c2c9904";
	assert_string_equal(fmt__frame(buf, 8, &f), "tk+0x10");
}

/* ---- symbolizing ---------------------------------------------------------- */

static void test_resym_from_binary(void **state)
{
	struct json_object *frames = json_object_new_array();
	struct resym_stats st;
	struct snap *s;
	const struct snap_frame *f;

	if (!self_id[0])
		skip();
	/* crt_resym_alloc (runtime by name) called by resym_user_fn's
	 * caller: the runtime frame goes once named. Return addresses are
	 * recorded as the byte before: inside the function. */
	json_object_array_add(frames,
			      frame_obj(NULL, "offline_resym", self_id,
					addr_of(crt_resym_alloc) + 1, self));
	json_object_array_add(frames,
			      frame_obj(NULL, "offline_resym", self_id,
					addr_of(resym_user_fn) + 1, self));
	json_object_array_add(
		frames, frame_obj("main", "offline_resym", self_id, 0, self));
	s = snap_with(frames);
	assert_int_equal(resym__snap(s, &st), 0);
	assert_int_equal(st.frames, 4); /* 2 in the site, 2 in the task */
	assert_int_equal(st.resolved, 4);
	assert_int_equal(st.files, 1);
	assert_int_equal(s->sites[0].nframes, 2);
	f = &s->sites[0].frames[0];
	assert_string_equal(f->function, "resym_user_fn");
	assert_true(f->resolved);
	assert_non_null(f->file);
	assert_true(strstr(f->file, "offline_resym.c") != NULL);
	assert_true(f->line > 0);
	assert_string_equal(s->sites[0].frames[1].function, "main");
	assert_false(s->sites[0].frames[1].resolved);
	assert_int_equal(s->tasks[0].nframes, 2);
	assert_string_equal(s->tasks[0].spawn_site[0].function,
			    "resym_user_fn");
	snap__free(s);
}

static void test_resym_wrong_build(void **state)
{
	struct json_object *frames = json_object_new_array();
	const char *other = "00112233445566778899aabbccddeeff00112233";
	struct resym_stats st;
	struct snap *s;
	char buf[256];

	/* The binary at the path is another build: its names would lie. */
	json_object_array_add(frames,
			      frame_obj(NULL, "offline_resym", other,
					addr_of(resym_user_fn) + 1, self));
	/* Neither build id nor path: nothing to look for. */
	json_object_array_add(frames,
			      frame_obj(NULL, "[anon]", NULL, 0x1234, NULL));
	/* A path that is no regular file, a build id that is no hex. */
	json_object_array_add(
		frames, frame_obj(NULL, "null", "xyz", 0x10, "/dev/null"));
	s = snap_with(frames);
	assert_int_equal(resym__snap(s, &st), 0);
	assert_int_equal(st.resolved, 0);
	assert_int_equal(st.files, 0);
	assert_null(s->sites[0].frames[0].function);
	assert_int_equal(s->sites[0].nframes, 3);
	snprintf(buf, sizeof(buf),
		 "offline_resym+0x%" PRIx64
		 " (build id 001122334455\xe2\x80\xa6)",
		 addr_of(resym_user_fn) + 1);
	assert_string_equal(fmt__frame(buf + 128, 128, &s->sites[0].frames[0]),
			    buf);
	snap__free(s);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* The binary is gone; its debug file is under a --debug-dir. */
static void test_resym_debug_dir(void **state)
{
	char dir[] = "/tmp/memscope-resym-XXXXXX", sub[PATH_MAX + 32];
	char dbg[2 * PATH_MAX], cmd[PATH_MAX + 16];
	struct json_object *frames;
	struct resym_stats st;
	struct snap *s;

	if (!self_id[0])
		skip();
	assert_non_null(mkdtemp(dir));
	frames = json_object_new_array();
	json_object_array_add(frames, frame_obj(NULL, "server", self_id,
						addr_of(resym_user_fn) + 1,
						"/nonexistent/app/server"));
	s = snap_with(frames);
	debugfile__clear_dirs();
	assert_int_equal(resym__snap(s, &st), 0);
	assert_int_equal(st.resolved, 0);
	snap__free(s);

	snprintf(sub, sizeof(sub), "%s/.build-id", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof(sub), "%s/.build-id/%.2s", dir, self_id);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(dbg, sizeof(dbg), "%s/%s.debug", sub, self_id + 2);
	copy_file(self, dbg);
	assert_int_equal(debugfile__add_dir(dir), 0);
	frames = json_object_new_array();
	json_object_array_add(frames, frame_obj(NULL, "server", self_id,
						addr_of(resym_user_fn) + 1,
						"/nonexistent/app/server"));
	s = snap_with(frames);
	assert_int_equal(resym__snap(s, &st), 0);
	assert_int_equal(st.resolved, 2);
	assert_string_equal(s->sites[0].frames[0].function, "resym_user_fn");
	assert_string_equal(s->sites[0].frames[0].module, "server");
	snap__free(s);
	debugfile__clear_dirs();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the report's allocation sites ----------------------------------------- */

static void test_report_sites(void **state)
{
	struct snap *s = corpus_snap("good-stripped-sites.json");
	struct report_opts o = { .file = "x.json", .top = 10 };
	char *out = NULL, *sec;

	CAPTURE(out, report__text(f, s, &o));
	sec = strstr(out, "Allocation sites\n");
	assert_non_null(sec);
	/* Before the size classes; only sites with samples; largest first. */
	assert_true(sec < strstr(out, "Live allocations by size class\n"));
	assert_non_null(strstr(
		sec,
		"390.6 KiB       4        4  tk_stripped+0x31a80 (build id f847d5e688bc\xe2\x80\xa6)\n"));
	assert_true(strstr(sec, "tk_stripped+0x31a80") <
		    strstr(sec, "main (m.rs:3)"));
	assert_non_null(strstr(sec, "--debug-dir DIR"));
	free(out);
	/* Top 1: one row and a count of the rest. */
	o.top = 1;
	CAPTURE(out, report__text(f, s, &o));
	sec = strstr(out, "Allocation sites\n");
	assert_null(strstr(sec, "main (m.rs:3)"));
	assert_non_null(strstr(sec, "... and 1 more sites"));
	free(out);
	snap__free(s);

	/* Snapshots without sites say why the section is empty. */
	s = corpus_snap("good-minimal.json");
	CAPTURE(out, report__text(f, s, &o));
	assert_non_null(strstr(out, "no sampled allocation stacks"));
	free(out);
	snap__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loads_new_fields),
		cmocka_unit_test(test_older_snapshots),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_fmt_unnamed),
		cmocka_unit_test(test_resym_from_binary),
		cmocka_unit_test(test_resym_wrong_build),
		cmocka_unit_test(test_resym_debug_dir),
		cmocka_unit_test(test_report_sites),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
