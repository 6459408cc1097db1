// SPDX-License-Identifier: MIT
/*
 * The Prometheus page from a model fed with records, as the BPF side
 * would send them: the figures (the model's, per process and per spawn
 * site), the text format's rules (one HELP/TYPE per family before its
 * series, no series twice, counters in _total, escaped label values,
 * UTF-8), and promtool's verdict when it is installed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/model.h"
#include "view/metrics.h"

#define START 1000000000000ull
#define MS 1000000ull
#define NF_NS 5000000000ull
#define PID 100
#define MAIN 100
#define W1 101
#define W2 102
#define K 0x55d100001000ull
#define H 0x55d100002000ull
#define H2 0x55d100003000ull
#define H3 0x55d100004000ull
#define H4 0x55d100005000ull
#define X1 0x55d100020000ull
#define X2 0x55d100020100ull
#define X3 0x55d100020200ull
#define A1 0x55d100030000ull
#define A2 0x55d100030100ull
#define V 0x5600000aa000ull
#define REFS(n) ((uint64_t)(n) << MS_TOKIO_REF_SHIFT)
#define IDLE3 (REFS(3) | MS_TOKIO_JOIN_INTEREST) /* wakers alive */

#define CID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct model *cur, *cur2;
static char *page;

static int teardown(void **state)
{
	model__free(cur);
	model__free(cur2);
	free(page);
	cur = cur2 = NULL;
	page = NULL;
	return 0;
}

static void hdr(struct ms_hdr *h, uint16_t type, uint16_t aux, uint32_t tid,
		uint64_t t)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->aux = aux;
	h->pid = PID;
	h->tid = tid;
	h->ts_ns = START + t;
}

static void alloc(struct model *m, uint32_t tid, uint64_t t, uint64_t addr,
		  uint64_t size, uint64_t task)
{
	struct ms_alloc_rec r = { .addr = addr, .size = size, .task = task };

	hdr(&r.h, MS_REC_ALLOC, MS_FN_MALLOC, tid, t);
	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
}

static void free_rec(struct model *m, uint32_t tid, uint64_t t, uint64_t addr)
{
	struct ms_free_rec r = { .addr = addr };

	hdr(&r.h, MS_REC_FREE, MS_FN_FREE, tid, t);
	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
}

/* tokio's one record per poll, sent at its end. */
static void tpoll(struct model *m, uint32_t tid, uint64_t begin, uint64_t end,
		  uint64_t task, uint64_t bst, uint64_t st, uint64_t id)
{
	struct ms_tokio_poll_rec r;

	memset(&r, 0, sizeof(r));
	hdr(&r.h, MS_REC_TOKIO_POLL, MS_RT_TOKIO, tid, end);
	r.task = task;
	r.begin_ns = START + begin;
	r.begin_state = bst;
	r.state = st;
	r.vtable = V;
	r.task_id = id;
	r.owner_id = 1;
	assert_int_equal(model__apply(m, &r, sizeof(r)), 0);
}

/*
 * Three spawn sites: S1 and S3 share their first frame (one label), S2 is
 * a stripped frame. Tasks:
 *   K  (1)  S1: pending with wakers, 1000 live bytes (pending past the
 *               threshold once ticked)
 *   H  (7)  S3: completed, its 300 bytes still live
 *   H2 (9)  S2: aborted, 50 bytes live
 *   H3 (11) -:  pending, no waker
 *   H4 (12) S2: in a poll now (running)
 * Cells (512, 256, 128, 128, 128) come from main: outside tasks. A
 * worker allocates 64 bytes between polls: runtime overhead. Three
 * records were lost.
 */
static struct model *tokio_model(void)
{
	struct model_opts o = {
		.start_ns = START,
		.never_finished_ns = NF_NS,
		.pid = PID,
	};
	struct ms_frame f1[2] = {
		{ .pc = 0x1000,
		  .function = "app::serve::{{closure}}",
		  .module = "app" },
		{ .pc = 0x1100, .function = "app::main", .module = "app" },
	};
	struct ms_frame f3[2] = {
		{ .pc = 0x1000,
		  .function = "app::serve::{{closure}}",
		  .module = "app" },
		{ .pc = 0x1200, .function = "app::other", .module = "app" },
	};
	struct ms_frame f2[1] = {
		{ .pc = 0x7f0000001234, .addr = 0x1234, .path = "/opt/app" },
	};
	struct ms_poll_entry e = {
		.task = H4,
		.begin_ns = START + 17 * MS,
		.state = IDLE3 | MS_TOKIO_RUNNING,
		.vtable = V,
		.task_id = 12,
		.owner_id = 1,
		.tokio = 1,
	};
	uint64_t st[MS_STAT_MAX] = { 0 };
	uint32_t s1, s2, s3;
	struct model *m = model__new(&o);

	assert_non_null(m);
	s1 = model__site_intern(m, f1, 2);
	s2 = model__site_intern(m, f2, 1);
	s3 = model__site_intern(m, f3, 2);
	assert_true(s1 != MS_NO_SITE && s2 != MS_NO_SITE && s3 != MS_NO_SITE);
	assert_int_not_equal(s1, s3);
	model__tokio_layout(m, V, 200, false);

	alloc(m, MAIN, 1 * MS, K, 512, 0);
	model__spawn_site(m, MS_RT_TOKIO, K, s1);
	alloc(m, W1, 3 * MS, X1, 1000, K);
	tpoll(m, W1, 2 * MS, 4 * MS, K, IDLE3 | MS_TOKIO_RUNNING, IDLE3, 1);

	alloc(m, MAIN, 5 * MS, H, 256, 0);
	model__spawn_site(m, MS_RT_TOKIO, H, s3);
	alloc(m, W1, 7 * MS, X2, 300, H);
	tpoll(m, W1, 6 * MS, 8 * MS, H, IDLE3 | MS_TOKIO_RUNNING,
	      MS_TOKIO_COMPLETE | REFS(1), 7);

	alloc(m, MAIN, 9 * MS, H2, 128, 0);
	model__spawn_site(m, MS_RT_TOKIO, H2, s2);
	alloc(m, W1, 10 * MS, X3, 50, H2);
	tpoll(m, W1, 10 * MS, 11 * MS, H2,
	      MS_TOKIO_CANCELLED | MS_TOKIO_RUNNING | REFS(2),
	      MS_TOKIO_COMPLETE | MS_TOKIO_CANCELLED | REFS(1), 9);

	alloc(m, MAIN, 13 * MS, H3, 128, 0);
	tpoll(m, W1, 14 * MS, 15 * MS, H3, IDLE3 | MS_TOKIO_RUNNING, REFS(1),
	      11);

	alloc(m, MAIN, 16 * MS, H4, 128, 0);
	model__spawn_site(m, MS_RT_TOKIO, H4, s2);
	model__poll_running(m, W2, &e);

	alloc(m, W1, 20 * MS, A1, 64, 0);
	alloc(m, MAIN, 21 * MS, A2, 40, 0);
	free_rec(m, MAIN, 22 * MS, A2);
	st[MS_STAT_LOST] = 3;
	model__set_kernel_stats(m, st, MS_STAT_MAX);
	return m;
}

static const struct metrics_self self = {
	.rss_bytes = 50 << 20,
	.ring_bytes = 64 << 20,
	.ring_used_bytes = 4096,
	.records_total = 123456,
	.records_per_sec = 2500.5,
	.lost_events_total = 3,
	.probes = 17,
	.watched = 2,
	.attach_failures_total = 1,
};

static char *render(const struct metrics_proc *p, size_t n,
		    const struct metrics_self *s, unsigned int sites)
{
	struct metrics_opts o = { .sites = sites };
	size_t len = 0;

	free(page);
	page = NULL;
	assert_int_equal(metrics__render(&page, &len, p, n, s, &o), 0);
	assert_non_null(page);
	assert_int_equal(strlen(page), len);
	return page;
}

/* The value of the series written exactly so ("name{labels}"), or fail. */
static double value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *l = text; l && *l;
	     l = strchr(l, '\n'), l = l ? l + 1 : l)
		if (!strncmp(l, series, n) && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	fail_msg("no series %s in:\n%s", series, text);
	return -1;
}

static bool has_series(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *l = text; l && *l;
	     l = strchr(l, '\n'), l = l ? l + 1 : l)
		if (!strncmp(l, prefix, n))
			return true;
	return false;
}

#define LBL "pid=\"100\",exe=\"/usr/bin/app\",runtime=\"tokio\""

static const struct metrics_proc app = {
	.pid = PID,
	.exe = "/usr/bin/app",
};

static void test_process_figures(void **state)
{
	struct metrics_proc p = app;
	const char *t;

	cur = tokio_model();
	p.model = cur;
	t = render(&p, 1, NULL, 20);

	/* 1000 + 300 + 50 in tasks, 64 runtime, cells 512+256+128*3. */
	assert_int_equal(value(t, "memscope_heap_live_bytes{" LBL "}"),
			 1000 + 300 + 50 + 64 + 512 + 256 + 3 * 128);
	assert_int_equal(value(t, "memscope_heap_live_blocks{" LBL "}"), 9);
	assert_int_equal(
		value(t, "memscope_heap_allocated_bytes_total{" LBL "}"),
		1000 + 300 + 50 + 64 + 40 + 512 + 256 + 3 * 128);
	assert_int_equal(value(t, "memscope_heap_freed_bytes_total{" LBL "}"),
			 40);
	assert_int_equal(value(t, "memscope_heap_allocations_total{" LBL "}"),
			 10);
	assert_int_equal(value(t, "memscope_heap_frees_total{" LBL "}"), 1);
	assert_int_equal(
		value(t, "memscope_runtime_overhead_live_bytes{" LBL "}"), 64);
	assert_int_equal(value(t, "memscope_outside_tasks_live_bytes{" LBL "}"),
			 512 + 256 + 3 * 128);
	assert_int_equal(value(t, "memscope_tasks{" LBL ",state=\"running\"}"),
			 1);
	assert_int_equal(value(t, "memscope_tasks{" LBL ",state=\"pending\"}"),
			 2);
	assert_int_equal(value(t, "memscope_tasks_ended_total{" LBL
				  ",state=\"completed\"}"),
			 1);
	assert_int_equal(value(t, "memscope_tasks_ended_total{" LBL
				  ",state=\"cancelled\"}"),
			 1);
	assert_int_equal(value(t, "memscope_tasks_never_finished{" LBL
				  ",reason=\"aborted\"}"),
			 1);
	assert_int_equal(value(t, "memscope_tasks_never_finished{" LBL
				  ",reason=\"no-waker\"}"),
			 1);
	assert_int_equal(value(t, "memscope_tasks_never_finished{" LBL
				  ",reason=\"pending\"}"),
			 0);
	/* The three alive tasks' futures, from their type's layout. */
	assert_int_equal(value(t, "memscope_task_future_bytes{" LBL "}"), 600);
	assert_int_equal(value(t, "memscope_task_future_max_bytes{" LBL "}"),
			 200);
	assert_int_equal(value(t, "memscope_task_cell_bytes{" LBL "}"),
			 512 + 128 + 128);
	assert_int_equal(value(t, "memscope_lost_events_total{" LBL "}"), 3);
	assert_int_equal(value(t, "memscope_incomplete{" LBL "}"), 1);
	assert_true(value(t, "memscope_model_memory_bytes{" LBL "}") > 0);
	/* No daemon figures asked for. */
	assert_false(has_series(t, "memscope_daemon_"));

	/* Past the threshold, K (wakers alive, never woken) and H4 (in its
	 * poll all along) are flagged. */
	model__tick(cur, START + 2 * NF_NS);
	t = render(&p, 1, NULL, 20);
	assert_int_equal(value(t, "memscope_tasks_never_finished{" LBL
				  ",reason=\"pending\"}"),
			 2);
}

/* Page-level figures: only for a process in that mode, built from its
 * fault and munmap records. */
static void test_page_level(void **state)
{
	struct metrics_proc p = app;
	struct ms_page_rec r;
	const char *t;

	cur = tokio_model();
	p.model = cur;
	t = render(&p, 1, NULL, 20);
	assert_false(has_series(t, "memscope_page_level_"));

	model__set_page_level(cur);
	for (uint64_t i = 0; i < 3; i++) {
		r = (struct ms_page_rec){ .addr = (A1 << 4) + i * 4096,
					  .len = 4096 };
		hdr(&r.h, MS_REC_PAGE, MS_PAGE_FAULT, MAIN, 50 * MS);
		assert_int_equal(model__apply(cur, &r, sizeof(r)), 0);
	}
	r = (struct ms_page_rec){ .addr = A1 << 4, .len = 4096 };
	hdr(&r.h, MS_REC_PAGE, MS_PAGE_MUNMAP, MAIN, 51 * MS);
	assert_int_equal(model__apply(cur, &r, sizeof(r)), 0);
	t = render(&p, 1, NULL, 20);
	assert_int_equal(
		value(t, "memscope_page_level_resident_bytes{" LBL "}"),
		2 * 4096);
	assert_int_equal(
		value(t, "memscope_page_level_touched_bytes_total{" LBL "}"),
		3 * 4096);
	assert_int_equal(
		value(t, "memscope_page_level_released_bytes_total{" LBL "}"),
		4096);
	assert_int_equal(
		value(t, "memscope_page_level_outside_tasks_bytes{" LBL "}"),
		2 * 4096);
	assert_int_equal(
		value(t, "memscope_page_level_runtime_overhead_bytes{" LBL "}"),
		0);
}

/* Sites merged by label, ranked by their tasks' live bytes, cut at K. */
static void test_spawn_sites(void **state)
{
	struct metrics_proc p = app;
	const char *t;

	cur = tokio_model();
	p.model = cur;
	t = render(&p, 1, NULL, 20);
	/* S1 and S3: K's 1000 and H's 300 (H ended; its bytes are alive). */
	assert_int_equal(value(t, "memscope_spawn_site_live_bytes{" LBL
				  ",spawn_site=\"app::serve::{{closure}}\"}"),
			 1300);
	assert_int_equal(value(t, "memscope_spawn_site_alive_tasks{" LBL
				  ",spawn_site=\"app::serve::{{closure}}\"}"),
			 1);
	assert_int_equal(value(t, "memscope_spawn_site_spawned_tasks_total{" LBL
				  ",spawn_site=\"app::serve::{{closure}}\"}"),
			 2);
	/* Stripped: module+address in the file. H2's 50 bytes, H4 alive. */
	assert_int_equal(value(t, "memscope_spawn_site_live_bytes{" LBL
				  ",spawn_site=\"app+0x1234\"}"),
			 50);
	assert_int_equal(value(t, "memscope_spawn_site_alive_tasks{" LBL
				  ",spawn_site=\"app+0x1234\"}"),
			 1);
	/* Largest first. */
	assert_true(strstr(t, "spawn_site=\"app::serve::{{closure}}\"} 1300") <
		    strstr(t, "spawn_site=\"app+0x1234\"} 50"));

	t = render(&p, 1, NULL, 1);
	assert_true(has_series(t, "memscope_spawn_site_live_bytes{" LBL
				  ",spawn_site=\"app::serve::{{closure}}\"}"));
	assert_false(strstr(t, "app+0x1234"));

	t = render(&p, 1, NULL, 0);
	assert_false(strstr(t, "spawn_site"));
}

static void test_site_name(void **state)
{
	struct ms_frame fr = { .pc = 0x7f00, .module = "libc.so.6" };
	struct ms_site s = { .nframes = 1, .frames = &fr };
	char buf[64];

	assert_string_equal(metrics__site_name(&s, buf, sizeof(buf)),
			    "libc.so.6@0x7f00");
	fr.addr = 0x29d90;
	assert_string_equal(metrics__site_name(&s, buf, sizeof(buf)),
			    "libc.so.6+0x29d90");
	fr.function = "";
	fr.module = NULL;
	fr.path = "/usr/lib/x86_64-linux-gnu/libc.so.6";
	assert_string_equal(metrics__site_name(&s, buf, sizeof(buf)),
			    "libc.so.6+0x29d90");
	fr.function = "start";
	assert_string_equal(metrics__site_name(&s, buf, sizeof(buf)), "start");
	s.nframes = 0;
	assert_string_equal(metrics__site_name(&s, buf, sizeof(buf)), "?");
}

static char *escaped(const char *v)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	metrics__label_value(f, v);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void expect_escaped(const char *in, const char *out)
{
	char *e = escaped(in);

	assert_string_equal(e, out);
	free(e);
}

static void test_label_escaping(void **state)
{
	expect_escaped("plain", "plain");
	expect_escaped("a\\b\"c\nd", "a\\\\b\\\"c\\nd");
	expect_escaped("", "");
	expect_escaped(NULL, "");
	/* Valid UTF-8 kept as is, the rest replaced byte by byte. */
	expect_escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		       "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	expect_escaped("a\xff"
		       "b",
		       "a\xef\xbf\xbd"
		       "b");
	expect_escaped("\xc3", "\xef\xbf\xbd"); /* cut short */
	expect_escaped("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
	expect_escaped("\xed\xa0\x80", /* a surrogate */
		       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	expect_escaped("\xf4\x90\x80\x80", /* above U+10FFFF */
		       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

static void expect_cid(const char *cg, const char *id)
{
	char buf[65];
	const char *got = metrics__container_id(cg, buf, sizeof(buf));

	if (!id)
		assert_null(got);
	else
		assert_string_equal(got, id);
}

static void test_container_id(void **state)
{
	expect_cid("/system.slice/docker-" CID ".scope", CID);
	expect_cid("/kubepods.slice/kubepods-burstable.slice/"
		   "kubepods-burstable-pod1234.slice/cri-containerd-" CID
		   ".scope",
		   CID);
	expect_cid("/kubepods/besteffort/pod5678/" CID, CID);
	expect_cid("/machine.slice/libpod-" CID ".scope/container", CID);
	expect_cid("/system.slice/crio-" CID ".scope", CID);
	expect_cid("/docker/" CID, CID);
	expect_cid("/user.slice/user-1000.slice/session-2.scope", NULL);
	expect_cid("/system.slice/docker-" CID "0.scope", NULL);
	expect_cid("/", NULL);
	expect_cid("", NULL);
	expect_cid(NULL, NULL);
}

static void expect_cgroup(const char *text, const char *path)
{
	char buf[256];
	const char *got = metrics__parse_cgroup(text, buf, sizeof(buf));

	if (!path)
		assert_null(got);
	else
		assert_string_equal(got, path);
}

/* /proc/PID/cgroup on v2, v1 and hybrid hosts. */
static void test_parse_cgroup(void **state)
{
	expect_cgroup("0::/system.slice/docker-" CID ".scope\n",
		      "/system.slice/docker-" CID ".scope");
	expect_cgroup("0::/\n", NULL);
	expect_cgroup("", NULL);
	/* Hybrid: the unified line is the root, the v1 ones are not. */
	expect_cgroup("12:pids:/\n4:memory:/docker/" CID "\n"
		      "1:name=systemd:/docker/" CID "\n0::/\n",
		      "/docker/" CID);
	expect_cgroup("9:name=systemd:/\n4:memory:/process_api/9dbb\n0::/\n",
		      "/process_api/9dbb");
	/* Controllers named together; the line without a newline. */
	expect_cgroup("3:cpu,cpuacct:/a\n4:memory:/b", "/b");
	/* Malformed lines are skipped. */
	expect_cgroup("garbage\n::\n0::/user.slice\n", "/user.slice");
	/* Too long for the buffer: none rather than cut. */
	{
		char small[4];

		assert_null(metrics__parse_cgroup("0::/user.slice\n", small,
						  sizeof(small)));
	}
}

/* Labels escaped in the page; cgroup and container only when present;
 * a tasks-only process has no memory series. */
static void test_labels_and_modes(void **state)
{
	struct metrics_proc p[2] = {
		{
			.pid = 7,
			.exe = "/opt/we\"ird\\path\nx",
			.cgroup = "/system.slice/docker-" CID ".scope",
			.runtime = "tokio",
		},
		{
			.pid = 8,
			.exe = "/usr/bin/crt",
			.cgroup = "/",
			.tasks_only = true,
		},
	};
	struct model_opts o = { .start_ns = START, .pid = 8 };
	const char *t;

	cur = tokio_model();
	cur2 = model__new(&o);
	assert_non_null(cur2);
	p[0].model = cur;
	p[1].model = cur2;
	t = render(p, 2, &self, 20);
	assert_true(has_series(
		t,
		"memscope_heap_live_bytes{pid=\"7\",exe=\"/opt/we\\\"ird\\\\path\\nx\","
		"runtime=\"tokio\",cgroup=\"/system.slice/docker-" CID
		".scope\",container_id=\"" CID "\"} "));
	/* No model runtime yet: "none"; root cgroup: no cgroup label. */
	assert_int_equal(value(t,
			       "memscope_tasks{pid=\"8\",exe=\"/usr/bin/crt\","
			       "runtime=\"none\",state=\"pending\"}"),
			 0);
	assert_false(has_series(t, "memscope_heap_live_bytes{pid=\"8\""));
	assert_true(has_series(t, "memscope_lost_events_total{pid=\"8\""));

	/* Daemon figures. */
	assert_int_equal(value(t, "memscope_daemon_resident_memory_bytes"),
			 50 << 20);
	assert_int_equal(value(t, "memscope_daemon_ring_buffer_size_bytes"),
			 64 << 20);
	assert_int_equal(value(t, "memscope_daemon_ring_buffer_used_bytes"),
			 4096);
	assert_int_equal(value(t, "memscope_daemon_records_total"), 123456);
	assert_float_equal(value(t, "memscope_daemon_records_per_second"),
			   2500.5, 1e-9);
	assert_int_equal(value(t, "memscope_daemon_lost_events_total"), 3);
	assert_int_equal(value(t, "memscope_daemon_probes"), 17);
	assert_int_equal(value(t, "memscope_daemon_watched_processes"), 2);
	assert_int_equal(value(t, "memscope_daemon_attach_failures_total"), 1);
	assert_int_equal(
		value(t,
		      "memscope_daemon_build_info{version=\"" MS_VERSION "\"}"),
		1);

	/* Only tasks-only processes: no memory family at all. */
	t = render(&p[1], 1, NULL, 20);
	assert_false(strstr(t, "memscope_heap_"));
	assert_true(strstr(t, "# TYPE memscope_tasks gauge\n"));

	/* Nothing watched: the daemon's figures alone. */
	t = render(NULL, 0, &self, 20);
	assert_true(
		strstr(t, "# TYPE memscope_daemon_watched_processes gauge\n"));
	assert_false(strstr(t, "pid="));
}

/*
 * The text format's rules, checked line by line: a family's HELP then
 * TYPE, then only its samples; no family twice, no series twice; one
 * prefix; counters end in _total and nothing else does.
 */
static void check_format(const char *text)
{
	char fams[128][1024], series[512][1024], fam[1024] = "",
						 help[1024] = "";
	size_t nfam = 0, nser = 0;
	const char *l = text;
	const char *type = NULL;

	assert_true(*text);
	assert_int_equal(text[strlen(text) - 1], '\n');
	while (*l) {
		const char *nl = strchr(l, '\n');
		size_t len = (size_t)(nl - l);
		char line[1024];

		assert_non_null(nl);
		assert_true(len < sizeof(line));
		memcpy(line, l, len);
		line[len] = '\0';
		l = nl + 1;
		if (!strncmp(line, "# HELP ", 7)) {
			char *sp = strchr(line + 7, ' ');

			assert_non_null(sp);
			*sp = '\0';
			snprintf(help, sizeof(help), "%s", line + 7);
			assert_true(sp[1] != '\0');
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			char *sp = strchr(line + 7, ' ');

			assert_non_null(sp);
			*sp = '\0';
			/* HELP came right before, for the same family. */
			assert_string_equal(help, line + 7);
			help[0] = '\0';
			snprintf(fam, sizeof(fam), "%s", line + 7);
			type = sp + 1;
			assert_true(!strcmp(type, "gauge") ||
				    !strcmp(type, "counter"));
			assert_int_equal(strncmp(fam, "memscope_", 9), 0);
			size_t fl = strlen(fam);
			bool total = fl > 6 && !strcmp(fam + fl - 6, "_total");

			if (!strcmp(type, "counter") != total)
				fail_msg("%s: a %s%s", fam, type,
					 total ? " named _total" :
						 " not named _total");
			for (size_t i = 0; i < nfam; i++)
				if (!strcmp(fams[i], fam))
					fail_msg("family %s twice", fam);
			assert_true(nfam < 128);
			snprintf(fams[nfam++], sizeof(fams[0]), "%s", fam);
			continue;
		}
		assert_true(line[0] != '#');
		/* A sample of the family just declared. */
		size_t nl_ = strcspn(line, "{ ");
		char *sp;

		assert_non_null(type);
		if (strlen(fam) != nl_ || strncmp(line, fam, nl_))
			fail_msg("sample %s outside its family (%s)", line,
				 fam);
		sp = strrchr(line, ' ');
		assert_non_null(sp);
		*sp = '\0';
		for (size_t i = 0; i < nser; i++)
			if (!strcmp(series[i], line))
				fail_msg("series %s twice", line);
		assert_true(nser < 512);
		snprintf(series[nser++], sizeof(series[0]), "%s", line);
		/* Never a task id as a label. */
		assert_null(strstr(line, "task_id"));
	}
}

static void test_format(void **state)
{
	struct metrics_proc p[2] = { app, app };
	struct model_opts o = { .start_ns = START, .pid = 200 };

	cur = tokio_model();
	cur2 = model__new(&o);
	assert_non_null(cur2);
	p[0].model = cur;
	p[1].model = cur2;
	p[1].pid = 200;
	p[1].cgroup = "/system.slice/docker-" CID ".scope";
	check_format(render(p, 2, &self, 20));
	check_format(render(p, 1, NULL, 20));
	check_format(render(NULL, 0, &self, 0));
}

static bool have_promtool(void)
{
	return system("command -v promtool >/dev/null 2>&1") == 0;
}

/* promtool check metrics: exit status, and what it said on failure. */
static void promtool_check(const char *text)
{
	char path[] = "/tmp/test_metrics.XXXXXX", cmd[256], out[4096];
	int fd = mkstemp(path), status;
	size_t len = strlen(text), n;
	FILE *p;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics <%s 2>&1", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	unlink(path);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || n)
		fail_msg("promtool check metrics (status %d): %s\n%s", status,
			 out, text);
}

static void test_promtool(void **state)
{
	struct metrics_proc p[2] = { app, app };
	struct model_opts o = { .start_ns = START, .pid = 200 };

	if (!have_promtool()) {
		print_message("promtool check metrics: skipped (promtool not "
			      "installed: apt-get install prometheus)\n");
		skip();
	}
	cur = tokio_model();
	model__tick(cur, START + 2 * NF_NS);
	cur2 = model__new(&o);
	assert_non_null(cur2);
	p[0].model = cur;
	p[0].exe = "/opt/we\"ird\\path\nx\xff";
	p[0].cgroup = "/system.slice/docker-" CID ".scope";
	p[1].model = cur2;
	p[1].pid = 200;
	p[1].tasks_only = true;
	promtool_check(render(p, 2, &self, 20));
	promtool_check(render(NULL, 0, &self, 20));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_process_figures, teardown),
		cmocka_unit_test_teardown(test_spawn_sites, teardown),
		cmocka_unit_test(test_site_name),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_container_id),
		cmocka_unit_test(test_parse_cgroup),
		cmocka_unit_test_teardown(test_labels_and_modes, teardown),
		cmocka_unit_test_teardown(test_page_level, teardown),
		cmocka_unit_test_teardown(test_format, teardown),
		cmocka_unit_test_teardown(test_promtool, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
