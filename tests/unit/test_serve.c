// SPDX-License-Identifier: MIT
/*
 * The HTTP service without memscoped: the listen address rules, every
 * endpoint with a small socket client, the 400/404/405 answers, the
 * bounds (request size, connections per address, idle timeout), that a
 * client sending nothing or reading slowly holds up neither publish()
 * nor other clients, and, when go is installed, that go tool pprof reads
 * the served profile from its URL.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "profile.pb-c.h"
#include "serve/serve.h"

static struct serve *srv;
static char *doc_a, *doc_b; /* two real snapshots from the corpus */
static size_t doc_a_len, doc_b_len;

static const char metrics_text[] =
	"# HELP memscope_daemon_probes Probes (BPF links) attached now.\n"
	"# TYPE memscope_daemon_probes gauge\n"
	"memscope_daemon_probes 17\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *slurp(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", OFFLINE_CORPUS, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int group_setup(void **state)
{
	doc_a = slurp("good-demo-spawn-sites.json", &doc_a_len);
	doc_b = slurp("good-stripped-sites.json", &doc_b_len);
	return 0;
}

static int group_teardown(void **state)
{
	free(doc_a);
	free(doc_b);
	return 0;
}

static int stop_server(void **state)
{
	serve__stop(srv);
	srv = NULL;
	return 0;
}

/* ---- a small HTTP client ------------------------------------------ */

struct resp {
	int status; /* 0: closed without an answer */
	char *raw; /* status line, headers, body */
	size_t len;
	char *body;
	size_t body_len;
};

static void resp_free(struct resp *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

static int connect_to(int family, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	struct timeval tv = { .tv_sec = 10 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	}
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	/* Nothing here may wait for ever, whatever the server does. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n <= 0)
			return; /* the server may close early: seen in the answer */
		buf += n;
		len -= (size_t)n;
	}
}

/* Everything until the server closes; then status and body. */
static void read_resp(int fd, struct resp *r)
{
	size_t cap = 64 * 1024;
	char *hdr_end;

	memset(r, 0, sizeof(*r));
	r->raw = malloc(cap);
	assert_non_null(r->raw);
	for (;;) {
		ssize_t n;

		if (r->len + 1 >= cap) {
			cap *= 2;
			r->raw = realloc(r->raw, cap);
			assert_non_null(r->raw);
		}
		n = recv(fd, r->raw + r->len, cap - r->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			fail_msg("no answer within 10 s");
		if (n <= 0)
			break; /* closed (or reset) */
		r->len += (size_t)n;
	}
	r->raw[r->len] = '\0';
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = 0;
	hdr_end = strstr(r->raw, "\r\n\r\n");
	if (hdr_end) {
		r->body = hdr_end + 4;
		r->body_len = r->len - (size_t)(r->body - r->raw);
	}
}

static int request(uint16_t port, const char *method, const char *target,
		   struct resp *r)
{
	char req[4096];
	int fd = connect_to(AF_INET, port);

	snprintf(
		req, sizeof(req),
		"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
		method, target);
	send_all(fd, req, strlen(req));
	read_resp(fd, r);
	close(fd);
	return r->status;
}

/* A header's value (case-insensitive name), copied into buf. */
static const char *header(const struct resp *r, const char *name, char *buf,
			  size_t len)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(r->raw, "\r\n"); l && l + 2 < r->body;
	     l = strstr(l + 2, "\r\n")) {
		const char *h = l + 2;

		if (!strncasecmp(h, name, nl) && h[nl] == ':') {
			const char *v = h + nl + 1, *end = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(buf, len, "%.*s", (int)(end - v), v);
			return buf;
		}
	}
	return NULL;
}

/* An error answer: text/plain, exactly one line. */
static void assert_one_line(const struct resp *r)
{
	char ct[128];

	assert_non_null(r->body);
	assert_true(r->body_len > 1);
	assert_int_equal(r->body[r->body_len - 1], '\n');
	assert_null(memchr(r->body, '\n', r->body_len - 1));
	assert_non_null(header(r, "Content-Type", ct, sizeof(ct)));
	assert_string_equal(ct, "text/plain; charset=utf-8");
}

static void expect_error(uint16_t port, const char *method, const char *target,
			 int status)
{
	struct resp r;

	if (request(port, method, target, &r) != status)
		fail_msg("%s %s: %d, expected %d:\n%s", method, target,
			 r.status, status, r.raw);
	assert_one_line(&r);
	resp_free(&r);
}

/* ---- helpers ------------------------------------------------------ */

static uint16_t start(const struct serve_opts *o)
{
	assert_int_equal(serve__start("127.0.0.1:0", o, &srv), 0);
	assert_true(serve__port(srv) > 0);
	return serve__port(srv);
}

static void publish_two(void)
{
	const struct serve_doc docs[2] = {
		{ .pid = 202,
		  .exe = "/usr/bin/<b>stripped&co</b>",
		  .runtime = "tokio",
		  .json = doc_b,
		  .json_len = doc_b_len },
		{ .pid = 101,
		  .exe = "/usr/bin/demo",
		  .runtime = "tokio",
		  .json = doc_a },
	};

	assert_int_equal(serve__publish(srv, docs, 2, metrics_text, 0), 0);
}

static Perftools__Profiles__Profile *gunzip_profile(const char *gz, size_t len)
{
	Perftools__Profiles__Profile *p;
	size_t cap = 16 << 20;
	unsigned char *raw = malloc(cap);
	z_stream z = { 0 };

	assert_non_null(raw);
	assert_true(len > 18);
	assert_int_equal((unsigned char)gz[0], 0x1f);
	assert_int_equal((unsigned char)gz[1], 0x8b);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (unsigned char *)gz;
	z.avail_in = (uInt)len;
	z.next_out = raw;
	z.avail_out = (uInt)cap;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	p = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
	assert_non_null(p);
	inflateEnd(&z);
	free(raw);
	return p;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* ---- tests -------------------------------------------------------- */

static void expect_listen(const char *spec, int family, const char *addr,
			  uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	char buf[64];

	if (serve__parse_listen(spec, &ss, &len))
		fail_msg("\"%s\" refused", spec);
	assert_int_equal(ss.ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		assert_int_equal(len, sizeof(*in));
		inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(in->sin_port), port);
	} else {
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)&ss;

		assert_int_equal(len, sizeof(*in6));
		inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(in6->sin6_port), port);
	}
	assert_string_equal(buf, addr);
}

static void test_listen_spec(void **state)
{
	static const char *const bad[] = {
		"",
		":9464",
		"abc",
		"1.2.3.4",
		"1.2.3.4:",
		"1.2.3.4:65536",
		"1.2.3.4:-1",
		"1.2.3.4:+80",
		"1.2.3.4:80x",
		"1.2.3.4: 80",
		"[::1]",
		"[::1]9464",
		"::1:9464",
		"[1.2.3.4]:80",
		"[]:80",
		"host.example:80",
		"99999",
		"12ab",
		"0x10",
		"1.2.3:80",
		"256.1.1.1:80",
		"[::1]:",
		"[::1]:1:2",
		"127.0.0.1:80:90",
	};
	struct sockaddr_storage ss;
	socklen_t len;

	/* A port alone is this host only. */
	expect_listen("9464", AF_INET, "127.0.0.1", 9464);
	expect_listen("0", AF_INET, "127.0.0.1", 0);
	expect_listen("localhost:80", AF_INET, "127.0.0.1", 80);
	expect_listen("0.0.0.0:9464", AF_INET, "0.0.0.0", 9464);
	expect_listen("192.0.2.7:65535", AF_INET, "192.0.2.7", 65535);
	expect_listen("[::1]:9464", AF_INET6, "::1", 9464);
	expect_listen("[::]:1", AF_INET6, "::", 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (serve__parse_listen(bad[i], &ss, &len) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
	assert_int_equal(serve__parse_listen(NULL, &ss, &len), -EINVAL);
	assert_int_equal(serve__start("nonsense", NULL, &srv), -EINVAL);
	assert_null(srv);
}

/* Bind failures say why; nothing is left open. */
static void test_bind_errors(void **state)
{
	struct serve *other = NULL;
	char spec[64], buf[64];
	int fds = count_fds();
	uint16_t port = start(NULL);

	snprintf(spec, sizeof(spec), "127.0.0.1:%u", port);
	assert_string_equal(serve__address(srv, buf, sizeof(buf)), spec);
	assert_int_equal(serve__start(spec, NULL, &other), -EADDRINUSE);
	assert_null(other);
	/* Not an address of this host (TEST-NET-1): nothing is sent. */
	assert_int_equal(serve__start("192.0.2.1:0", NULL, &other),
			 -EADDRNOTAVAIL);
	serve__stop(srv);
	srv = NULL;
	assert_int_equal(count_fds(), fds);
}

static void test_before_publish(void **state)
{
	uint16_t port = start(NULL);
	struct resp r;

	expect_error(port, "GET", "/metrics", 503);
	expect_error(port, "GET", "/snapshot?pid=1", 404);
	expect_error(port, "GET", "/snapshot", 404);
	expect_error(port, "GET", "/debug/pprof/heap", 404);
	assert_int_equal(request(port, "GET", "/", &r), 200);
	assert_non_null(strstr(r.body, "No process is watched."));
	resp_free(&r);
}

static void test_endpoints(void **state)
{
	uint16_t port = start(NULL);
	Perftools__Profiles__Profile *p;
	struct resp r;
	char h[256];

	publish_two();

	/* /metrics: the page as published, with its exposition type. */
	assert_int_equal(request(port, "GET", "/metrics", &r), 200);
	assert_int_equal(r.body_len, strlen(metrics_text));
	assert_memory_equal(r.body, metrics_text, r.body_len);
	assert_string_equal(header(&r, "Content-Type", h, sizeof(h)),
			    "text/plain; version=0.0.4; charset=utf-8");
	assert_string_equal(header(&r, "Cache-Control", h, sizeof(h)),
			    "no-store");
	resp_free(&r);

	/* /snapshot?pid=N: that process's document, byte for byte. */
	assert_int_equal(request(port, "GET", "/snapshot?pid=101", &r), 200);
	assert_int_equal(r.body_len, doc_a_len);
	assert_memory_equal(r.body, doc_a, doc_a_len);
	assert_string_equal(header(&r, "Content-Type", h, sizeof(h)),
			    "application/json");
	resp_free(&r);
	assert_int_equal(request(port, "GET", "/snapshot?pid=202", &r), 200);
	assert_int_equal(r.body_len, doc_b_len);
	assert_memory_equal(r.body, doc_b, doc_b_len);
	resp_free(&r);

	/* /debug/pprof/heap?pid=N: gzipped profile.proto. */
	assert_int_equal(request(port, "GET", "/debug/pprof/heap?pid=101", &r),
			 200);
	assert_string_equal(header(&r, "Content-Type", h, sizeof(h)),
			    "application/octet-stream");
	p = gunzip_profile(r.body, r.body_len);
	assert_int_equal(p->n_sample_type, 4);
	assert_string_equal(p->string_table[p->default_sample_type],
			    "inuse_space");
	assert_true(p->n_sample > 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
	resp_free(&r);
	/* Asked again: the same bytes (made once per document). */
	{
		struct resp r2;

		request(port, "GET", "/debug/pprof/heap?pid=101", &r);
		request(port, "GET", "/debug/pprof/heap?pid=101&gc=1", &r2);
		assert_int_equal(r.body_len, r2.body_len);
		assert_memory_equal(r.body, r2.body, r.body_len);
		resp_free(&r2);
		resp_free(&r);
	}
	assert_int_equal(request(port, "GET",
				 "/debug/pprof/heap?pid=202&view=alloc_site",
				 &r),
			 200);
	p = gunzip_profile(r.body, r.body_len);
	assert_true(p->n_sample > 0);
	perftools__profiles__profile__free_unpacked(p, NULL);
	resp_free(&r);
	assert_int_equal(request(port, "GET",
				 "/debug/pprof/heap?pid=202&view=owner", &r),
			 200);
	resp_free(&r);

	/* /: links to each, names escaped. */
	assert_int_equal(request(port, "GET", "/", &r), 200);
	assert_string_equal(header(&r, "Content-Type", h, sizeof(h)),
			    "text/html; charset=utf-8");
	assert_non_null(strstr(r.body, "<a href=\"/metrics\">"));
	assert_non_null(strstr(r.body, "<a href=\"/snapshot?pid=101\">"));
	assert_non_null(
		strstr(r.body, "<a href=\"/debug/pprof/heap?pid=202\">"));
	assert_non_null(
		strstr(r.body, "/usr/bin/&lt;b&gt;stripped&amp;co&lt;/b&gt;"));
	assert_null(strstr(r.body, "<b>"));
	/* pid order */
	assert_true(strstr(r.body, "pid=101") < strstr(r.body, "pid=202"));
	resp_free(&r);

	/* HEAD: the headers of GET, no body. */
	assert_int_equal(request(port, "HEAD", "/metrics", &r), 200);
	assert_int_equal(r.body_len, 0);
	assert_int_equal(atoi(header(&r, "Content-Length", h, sizeof(h))),
			 strlen(metrics_text));
	resp_free(&r);
}

static void test_errors(void **state)
{
	uint16_t port = start(NULL);
	struct resp r;
	char h[64];
	int fd;

	publish_two();
	expect_error(port, "GET", "/nope", 404);
	expect_error(port, "GET", "/metrics/", 404);
	expect_error(port, "GET", "/debug/pprof/", 404);
	expect_error(port, "GET", "/snapshot?pid=999", 404);
	expect_error(port, "GET", "/debug/pprof/heap?pid=999", 404);
	expect_error(port, "GET", "/snapshot?pid=abc", 400);
	expect_error(port, "GET", "/snapshot?pid=", 400);
	expect_error(port, "GET", "/snapshot?pid=-1", 400);
	expect_error(port, "GET", "/snapshot?pid=0101", 400);
	expect_error(port, "GET", "/snapshot?pid=1e3", 400);
	expect_error(port, "GET", "/snapshot?pid=4294967296", 400);
	expect_error(port, "GET", "/snapshot?pid=%20101", 400);
	/* Two processes: which one must be said. */
	expect_error(port, "GET", "/snapshot", 400);
	expect_error(port, "GET", "/debug/pprof/heap", 400);
	expect_error(port, "GET", "/debug/pprof/heap?pid=101&view=x", 400);
	expect_error(port, "DELETE", "/metrics", 405);
	expect_error(port, "PUT", "/", 405);
	assert_int_equal(request(port, "OPTIONS", "/", &r), 405);
	assert_string_equal(header(&r, "Allow", h, sizeof(h)), "GET, HEAD");
	resp_free(&r);

	/* A body is refused before it is read. */
	fd = connect_to(AF_INET, port);
	send_all(
		fd,
		"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		strlen("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"));
	read_resp(fd, &r);
	close(fd);
	assert_int_equal(r.status, 405);
	resp_free(&r);

	/* Only one process: no pid needed. */
	{
		const struct serve_doc one = { .pid = 101, .json = doc_a };

		assert_int_equal(serve__publish(srv, &one, 1, NULL, 0), 0);
		assert_int_equal(request(port, "GET", "/snapshot", &r), 200);
		assert_int_equal(r.body_len, doc_a_len);
		resp_free(&r);
		/* The metrics page was kept. */
		assert_int_equal(request(port, "GET", "/metrics", &r), 200);
		assert_int_equal(r.body_len, strlen(metrics_text));
		resp_free(&r);
	}

	/* A document that is not a snapshot: served as is, no profile. */
	{
		const struct serve_doc bad = { .pid = 5, .json = "{\"x\": 1}" };

		assert_int_equal(serve__publish(srv, &bad, 1, NULL, 0), 0);
		assert_int_equal(request(port, "GET", "/snapshot?pid=5", &r),
				 200);
		assert_string_equal(r.body, "{\"x\": 1}");
		resp_free(&r);
		expect_error(port, "GET", "/debug/pprof/heap?pid=5", 500);
		expect_error(port, "GET", "/snapshot?pid=101", 404);
	}
}

/* Whether documents were asked for since the last ones: the event loop
 * can skip building them while nobody does. */
static void test_docs_wanted(void **state)
{
	const struct serve_doc none[1] = { { 0 } };
	uint16_t port = start(NULL);
	struct resp r;

	publish_two();
	assert_false(serve__docs_wanted(srv));
	assert_int_equal(request(port, "GET", "/metrics", &r), 200);
	resp_free(&r);
	assert_int_equal(request(port, "GET", "/", &r), 200);
	resp_free(&r);
	assert_false(serve__docs_wanted(srv));
	assert_int_equal(request(port, "GET", "/snapshot?pid=101", &r), 200);
	resp_free(&r);
	assert_true(serve__docs_wanted(srv));
	/* The metrics alone leave the question open. */
	assert_int_equal(serve__publish(srv, NULL, 0, metrics_text, 0), 0);
	assert_true(serve__docs_wanted(srv));
	publish_two();
	assert_false(serve__docs_wanted(srv));
	assert_int_equal(request(port, "GET", "/debug/pprof/heap?pid=202", &r),
			 200);
	resp_free(&r);
	assert_true(serve__docs_wanted(srv));
	/* Neither documents nor metrics: nothing published. */
	assert_int_equal(serve__publish(srv, NULL, 0, NULL, 0), 0);
	assert_true(serve__docs_wanted(srv));
	/* Documents, none of them: nothing is watched any more. */
	assert_int_equal(serve__publish(srv, none, 0, NULL, 0), 0);
	assert_false(serve__docs_wanted(srv));
	expect_error(port, "GET", "/snapshot?pid=101", 404);
}

/* Request line and headers are bounded; the server goes on after. */
static void test_request_bounds(void **state)
{
	struct serve_opts o = { .request_bytes = 8192 };
	uint16_t port = start(&o);
	size_t big = 64 * 1024;
	char *req = malloc(big + 256);
	struct resp r;
	int fd;

	assert_non_null(req);
	publish_two();
	/* A header far over the limit. */
	strcpy(req, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + strlen(req), 'a', big);
	strcpy(req + strlen("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ") +
		       big,
	       "\r\nConnection: close\r\n\r\n");
	fd = connect_to(AF_INET, port);
	send_all(fd, req, strlen(req));
	read_resp(fd, &r);
	close(fd);
	if (r.status != 0 && (r.status < 400 || r.status > 499))
		fail_msg("an oversized request got %d", r.status);
	resp_free(&r);
	/* A URL far over the limit. */
	strcpy(req, "GET /");
	memset(req + 5, 'a', big);
	strcpy(req + 5 + big,
	       " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	fd = connect_to(AF_INET, port);
	send_all(fd, req, strlen(req));
	read_resp(fd, &r);
	close(fd);
	if (r.status != 0 && (r.status < 400 || r.status > 499))
		fail_msg("an oversized URL got %d", r.status);
	resp_free(&r);
	free(req);
	assert_int_equal(request(port, "GET", "/metrics", &r), 200);
	resp_free(&r);
}

/* Has the server closed fd (within secs)? */
static bool closed_within(int fd, double secs)
{
	double end = now_s() + secs;

	while (now_s() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char c;

		if (poll(&p, 1, 100) > 0) {
			ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return true;
		}
	}
	return false;
}

/*
 * Clients that connect and send nothing, or half a request: publish
 * stays quick, other clients are answered at once, and the idle ones
 * are closed after the timeout.
 */
static void test_silent_clients(void **state)
{
	struct serve_opts o = { .timeout_s = 2, .max_per_ip = 16 };
	uint16_t port = start(&o);
	int silent[6], half;
	struct resp r;
	double t;

	publish_two();
	for (int i = 0; i < 6; i++)
		silent[i] = connect_to(AF_INET, port);
	half = connect_to(AF_INET, port);
	send_all(half, "GET /metrics HTTP/1.1\r\nHo", 25);
	usleep(100 * 1000); /* accepted by now */

	t = now_s();
	for (int i = 0; i < 20; i++)
		publish_two();
	t = now_s() - t;
	if (t > 1.0)
		fail_msg("20 publishes took %.3f s with idle clients", t);

	t = now_s();
	for (int i = 0; i < 5; i++) {
		assert_int_equal(request(port, "GET", "/metrics", &r), 200);
		resp_free(&r);
	}
	assert_int_equal(request(port, "GET", "/snapshot?pid=101", &r), 200);
	resp_free(&r);
	t = now_s() - t;
	if (t > 1.0)
		fail_msg("6 requests took %.3f s beside idle clients", t);

	/* The idle ones go after the timeout (2 s), not before. */
	assert_false(closed_within(silent[0], 0.5));
	for (int i = 0; i < 6; i++)
		assert_true(closed_within(silent[i], 5));
	assert_true(closed_within(half, 5));
	for (int i = 0; i < 6; i++)
		close(silent[i]);
	close(half);
}

/* Connections per address are bounded: one more is closed at once. */
static void test_per_ip_limit(void **state)
{
	struct serve_opts o = { .max_per_ip = 3 };
	uint16_t port = start(&o);
	int held[3], extra;
	struct resp r;

	publish_two();
	for (int i = 0; i < 3; i++)
		held[i] = connect_to(AF_INET, port);
	usleep(100 * 1000);
	extra = connect_to(AF_INET, port);
	assert_true(closed_within(extra, 3));
	close(extra);
	for (int i = 0; i < 3; i++)
		close(held[i]);
	usleep(100 * 1000);
	assert_int_equal(request(port, "GET", "/metrics", &r), 200);
	resp_free(&r);
}

/*
 * A client reading a large document slowly: publish replaces it at once,
 * new requests get the new one, and the slow client still receives the
 * whole document it asked for.
 */
static void test_slow_reader(void **state)
{
	size_t big = 32u << 20;
	char *old = malloc(big),
	     *req = "GET /snapshot?pid=7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct serve_doc d = { .pid = 7, .json = old, .json_len = big };
	struct serve_doc d2 = { .pid = 7, .json = "{\"new\": true}" };
	uint16_t port = start(NULL);
	struct resp r;
	size_t got = 0;
	double t;
	int fd;

	assert_non_null(old);
	memset(old, 'x', big);
	assert_int_equal(serve__publish(srv, &d, 1, metrics_text, 0), 0);
	fd = connect_to(AF_INET, port);
	send_all(fd, req, strlen(req));
	usleep(200 * 1000); /* the answer is under way, stalled on us */

	t = now_s();
	assert_int_equal(serve__publish(srv, &d2, 1, NULL, 0), 0);
	t = now_s() - t;
	if (t > 0.5)
		fail_msg("publish took %.3f s beside a slow reader", t);
	/* The caller's buffer is its own again. */
	memset(old, 'y', big);
	assert_int_equal(request(port, "GET", "/snapshot?pid=7", &r), 200);
	assert_string_equal(r.body, "{\"new\": true}");
	resp_free(&r);

	read_resp(fd, &r);
	close(fd);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, big);
	for (size_t i = 0; i < r.body_len; i++)
		if (r.body[i] != 'x')
			fail_msg("byte %zu of the old document changed", i);
	got = r.body_len;
	resp_free(&r);
	assert_int_equal(got, big);
	free(old);
}

/* Stopping with clients connected returns at once and closes them. */
static void test_stop_with_clients(void **state)
{
	int fds = count_fds();
	uint16_t port = start(NULL);
	int held[3];
	double t;

	publish_two();
	for (int i = 0; i < 3; i++)
		held[i] = connect_to(AF_INET, port);
	usleep(100 * 1000);
	t = now_s();
	serve__stop(srv);
	srv = NULL;
	t = now_s() - t;
	if (t > 1.0)
		fail_msg("stop took %.3f s", t);
	for (int i = 0; i < 3; i++) {
		assert_true(closed_within(held[i], 1));
		close(held[i]);
	}
	assert_int_equal(count_fds(), fds);
}

static void test_ipv6(void **state)
{
	const struct serve_doc one = { .pid = 101, .json = doc_a };
	char buf[64];
	struct resp r;
	int err, fd;

	err = serve__start("[::1]:0", NULL, &srv);
	if (err == -EAFNOSUPPORT || err == -EADDRNOTAVAIL) {
		print_message("IPv6: skipped (no ::1 here)\n");
		skip();
	}
	assert_int_equal(err, 0);
	assert_int_equal(
		strncmp(serve__address(srv, buf, sizeof(buf)), "[::1]:", 6), 0);
	assert_int_equal(serve__publish(srv, &one, 1, metrics_text, 0), 0);
	fd = connect_to(AF_INET6, serve__port(srv));
	send_all(
		fd,
		"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		strlen("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
	read_resp(fd, &r);
	close(fd);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

/* go tool pprof reads the profile from its URL, as a person would. */
static void test_go_pprof(void **state)
{
	char dir[] = "/tmp/test_serve.XXXXXX", cmd[1024], path[512], line[512];
	bool types = false, owner = false;
	uint16_t port;
	FILE *f;
	int st;

	if (system("command -v go >/dev/null 2>&1")) {
		print_message("go tool pprof: skipped (go not installed: "
			      "apt-get install golang-go)\n");
		skip();
	}
	port = start(NULL);
	publish_two();
	assert_non_null(mkdtemp(dir));
	/* PPROF_TMPDIR and HOME: pprof keeps a copy of what it fetched. */
	snprintf(
		cmd, sizeof(cmd),
		"cd %s && PPROF_TMPDIR=%s HOME=%s GOCACHE=%s/cache GOTOOLCHAIN=local "
		"timeout 120 go tool pprof -raw "
		"'http://127.0.0.1:%u/debug/pprof/heap?pid=101' >%s/raw.txt 2>%s/err.txt",
		dir, dir, dir, dir, port, dir, dir);
	st = system(cmd);
	snprintf(path, sizeof(path), "%s/raw.txt", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		types |=
			strstr(line,
			       "alloc_objects/count alloc_space/bytes "
			       "inuse_objects/count inuse_space/bytes") != NULL;
		owner |= strstr(line, "[by owner]") != NULL;
	}
	fclose(f);
	if (st) {
		snprintf(cmd, sizeof(cmd), "cat %s/err.txt >&2", dir);
		system(cmd);
		fail_msg("go tool pprof failed (%d)", st);
	}
	assert_true(types);
	assert_true(owner);
	snprintf(
		cmd, sizeof(cmd),
		"cd %s && PPROF_TMPDIR=%s HOME=%s GOTOOLCHAIN=local timeout 120 go tool pprof "
		"-top -sample_index=alloc_space "
		"'http://127.0.0.1:%u/debug/pprof/heap?pid=202&view=owner' "
		">%s/top.txt 2>%s/err.txt",
		dir, dir, dir, port, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_spec),
		cmocka_unit_test_teardown(test_bind_errors, stop_server),
		cmocka_unit_test_teardown(test_before_publish, stop_server),
		cmocka_unit_test_teardown(test_endpoints, stop_server),
		cmocka_unit_test_teardown(test_errors, stop_server),
		cmocka_unit_test_teardown(test_docs_wanted, stop_server),
		cmocka_unit_test_teardown(test_request_bounds, stop_server),
		cmocka_unit_test_teardown(test_silent_clients, stop_server),
		cmocka_unit_test_teardown(test_per_ip_limit, stop_server),
		cmocka_unit_test_teardown(test_slow_reader, stop_server),
		cmocka_unit_test_teardown(test_stop_with_clients, stop_server),
		cmocka_unit_test_teardown(test_ipv6, stop_server),
		cmocka_unit_test_teardown(test_go_pprof, stop_server),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
