// SPDX-License-Identifier: MIT
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "offline/export.h"
#include "offline/fmt.h"
#include "offline/snap.h"
#include "serve/serve.h"
#include "view/metrics.h"

#define NVIEWS 3 /* enum export_view */

/* Bytes shared by the published copy and the responses still sending
 * them: freed by whichever lets go last. */
struct blob {
	atomic_uint refs;
	size_t len;
	char data[]; /* NUL-terminated */
};

/* One process's document, and its heap profiles once asked for. */
struct sdoc {
	atomic_uint refs;
	uint32_t pid;
	char *exe, *runtime;
	struct blob *json;
	pthread_mutex_t lock; /* heap[], made by the first request */
	struct blob *heap[NVIEWS];
	char *heap_err[NVIEWS]; /* why it could not be made */
};

/* What a refresh published: documents sorted by pid, the metrics page. */
struct pub {
	atomic_uint refs;
	struct sdoc **docs;
	size_t n;
	struct blob *metrics; /* NULL: nothing published yet */
};

struct serve {
	struct MHD_Daemon *d;
	pthread_mutex_t lock; /* cur, swapped by publish */
	struct pub *cur;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	atomic_bool wanted; /* a document was asked for since the last docs */
};

/* ---- shared copies ------------------------------------------------ */

static struct blob *blob_new(const void *data, size_t len)
{
	struct blob *b = malloc(sizeof(*b) + len + 1);

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	if (len)
		memcpy(b->data, data, len);
	b->data[len] = '\0';
	return b;
}

static struct blob *blob_get(struct blob *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

static void blob_put(struct blob *b)
{
	if (b &&
	    atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

static void blob_free_cb(void *cls)
{
	blob_put(cls);
}

static void sdoc_put(struct sdoc *d)
{
	if (!d ||
	    atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (int v = 0; v < NVIEWS; v++) {
		blob_put(d->heap[v]);
		free(d->heap_err[v]);
	}
	pthread_mutex_destroy(&d->lock);
	blob_put(d->json);
	free(d->exe);
	free(d->runtime);
	free(d);
}

static struct sdoc *sdoc_new(const struct serve_doc *src)
{
	struct sdoc *d = calloc(1, sizeof(*d));
	size_t len = src->json_len ?: (src->json ? strlen(src->json) : 0);

	if (!d)
		return NULL;
	atomic_init(&d->refs, 1);
	pthread_mutex_init(&d->lock, NULL);
	d->pid = src->pid;
	d->exe = strdup(src->exe ?: "");
	d->runtime = strdup(src->runtime ?: "");
	d->json = blob_new(src->json ?: "", len);
	if (!d->exe || !d->runtime || !d->json) {
		sdoc_put(d);
		return NULL;
	}
	return d;
}

static void pub_put(struct pub *p)
{
	if (!p ||
	    atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < p->n; i++)
		sdoc_put(p->docs[i]);
	free(p->docs);
	blob_put(p->metrics);
	free(p);
}

/* The current publication, held until pub_put(). */
static struct pub *pub_current(struct serve *s)
{
	struct pub *p;

	pthread_mutex_lock(&s->lock);
	p = s->cur;
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
	return p;
}

static int by_pid(const void *a, const void *b)
{
	const struct sdoc *x = *(struct sdoc *const *)a;
	const struct sdoc *y = *(struct sdoc *const *)b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static struct sdoc *pub_find(const struct pub *p, uint32_t pid)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->docs[mid]->pid == pid)
			return p->docs[mid];
		if (p->docs[mid]->pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int serve__publish(struct serve *s, const struct serve_doc *docs, size_t n,
		   const char *metrics, size_t metrics_len)
{
	struct pub *old = pub_current(s), *p = calloc(1, sizeof(*p));
	int err = -ENOMEM;

	if (!p)
		goto out;
	atomic_init(&p->refs, 1);
	/* Cleared first: a request during the copy asks for the next ones. */
	if (docs)
		atomic_store(&s->wanted, false);
	/* Copies are made here, in the caller's thread, outside the lock:
	 * the lock is only ever held to swap or take a pointer. */
	if (docs) {
		p->docs = calloc(n ?: 1, sizeof(*p->docs));
		if (!p->docs)
			goto out;
		for (; p->n < n; p->n++) {
			p->docs[p->n] = sdoc_new(&docs[p->n]);
			if (!p->docs[p->n])
				goto out;
		}
		qsort(p->docs, p->n, sizeof(*p->docs), by_pid);
	} else {
		p->docs = calloc(old->n ?: 1, sizeof(*p->docs));
		if (!p->docs)
			goto out;
		for (; p->n < old->n; p->n++) {
			p->docs[p->n] = old->docs[p->n];
			atomic_fetch_add_explicit(&p->docs[p->n]->refs, 1,
						  memory_order_relaxed);
		}
	}
	if (metrics)
		p->metrics = blob_new(metrics, metrics_len ?: strlen(metrics));
	else if (old->metrics)
		p->metrics = blob_get(old->metrics);
	if (metrics && !p->metrics)
		goto out;
	pthread_mutex_lock(&s->lock);
	s->cur = p;
	pthread_mutex_unlock(&s->lock);
	/* The lock's reference: requests in flight hold their own. */
	pub_put(old);
	p = NULL;
	err = 0;
out:
	pub_put(p);
	pub_put(old);
	return err;
}

/* ---- responses ---------------------------------------------------- */

static void common_headers(struct MHD_Response *r, const char *ctype)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	/* Figures of one instant: never to be served from a cache. */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
}

static enum MHD_Result queue(struct MHD_Connection *c, unsigned int status,
			     struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO; /* out of memory: MHD closes the connection */
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A one-line text/plain answer: errors, and what is not there yet. */
static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status,
				  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status,
				  const char *fmt, ...)
{
	struct MHD_Response *r;
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	line[n] = '\0';
	r = MHD_create_response_from_buffer((size_t)n, line,
					    MHD_RESPMEM_MUST_COPY);
	if (r) {
		common_headers(r, "text/plain; charset=utf-8");
		if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
						"GET, HEAD");
	}
	return queue(c, status, r);
}

/* A shared copy, sent without copying again: the response holds it. */
static enum MHD_Result reply_blob(struct MHD_Connection *c, struct blob *b,
				  const char *ctype, const char *disposition)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer_with_free_callback_cls(
		b->len, b->data, blob_free_cb, blob_get(b));
	if (!r) {
		blob_put(b);
		return MHD_NO;
	}
	common_headers(r, ctype);
	if (disposition)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
					disposition);
	return queue(c, MHD_HTTP_OK, r);
}

static enum MHD_Result page_index(struct MHD_Connection *c, const struct pub *p)
{
	struct MHD_Response *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return MHD_NO;
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	      "<title>memscoped</title></head><body>\n"
	      "<h1>memscoped " MS_VERSION "</h1>\n"
	      "<p><a href=\"/metrics\">/metrics</a> (Prometheus)</p>\n",
	      f);
	if (!p->n) {
		fputs("<p>No process is watched.</p>\n", f);
	} else {
		fputs("<table>\n<tr><th>pid</th><th>runtime</th><th>exe</th>"
		      "<th></th></tr>\n",
		      f);
		for (size_t i = 0; i < p->n; i++) {
			const struct sdoc *d = p->docs[i];

			fprintf(f, "<tr><td>%" PRIu32 "</td><td>", d->pid);
			esc__html(f, d->runtime);
			fputs("</td><td>", f);
			esc__html(f, d->exe);
			fprintf(f,
				"</td><td><a href=\"/snapshot?pid=%" PRIu32
				"\">snapshot</a> "
				"<a href=\"/debug/pprof/heap?pid=%" PRIu32
				"\">heap profile</a></td></tr>\n",
				d->pid, d->pid);
		}
		fputs("</table>\n", f);
	}
	fputs("</body></html>\n", f);
	if (fclose(f)) {
		free(buf);
		return MHD_NO;
	}
	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(buf);
		return MHD_NO;
	}
	common_headers(r, "text/html; charset=utf-8");
	return queue(c, MHD_HTTP_OK, r);
}

/* Strictly a decimal process id: no sign, no spaces, no leading zero. */
static bool parse_pid(const char *v, uint32_t *pid)
{
	uint64_t n = 0;

	if (!*v || *v == '0' || strlen(v) > 10)
		return false;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (n > UINT32_MAX)
		return false;
	*pid = (uint32_t)n;
	return true;
}

/*
 * The document ?pid= names, held: NULL after an answer was queued
 * (*ret). Without pid, the only process when there is one.
 */
static struct sdoc *find_doc(struct MHD_Connection *c, const struct pub *p,
			     enum MHD_Result *ret)
{
	const char *v =
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pid");
	struct sdoc *d;
	uint32_t pid;

	if (!v) {
		if (p->n == 1) {
			d = p->docs[0];
			goto found;
		}
		*ret = p->n ? reply_text(
				      c, MHD_HTTP_BAD_REQUEST,
				      "pid=N is needed: %zu processes are watched (see /)",
				      p->n) :
			      reply_text(c, MHD_HTTP_NOT_FOUND,
					 "no process is watched");
		return NULL;
	}
	if (!parse_pid(v, &pid)) {
		*ret = reply_text(c, MHD_HTTP_BAD_REQUEST,
				  "pid: expected a process id");
		return NULL;
	}
	d = pub_find(p, pid);
	if (!d) {
		*ret = reply_text(c, MHD_HTTP_NOT_FOUND,
				  "pid %" PRIu32 " is not watched", pid);
		return NULL;
	}
found:
	atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
	return d;
}

/* The heap profile of d in view v: made once per document and view. */
static void make_heap(struct sdoc *d, enum export_view v)
{
	struct snap *sn = NULL;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	ret = snap__load_mem(d->json->data, d->json->len, &sn, err,
			     sizeof(err));
	if (ret) {
		if (!*err)
			snprintf(err, sizeof(err), "%s", strerror(-ret));
		d->heap_err[v] = strdup(err);
		return;
	}
	f = open_memstream(&buf, &len);
	if (!f) {
		snap__free(sn);
		return; /* out of memory: the next request tries again */
	}
	ret = export__pprof_heap(f, sn, v);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	snap__free(sn);
	if (!ret)
		d->heap[v] = blob_new(buf, len);
	free(buf);
}

static enum MHD_Result page_heap(struct MHD_Connection *c, const struct pub *p)
{
	const char *vs =
		MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "view");
	enum export_view v = EXPORT_VIEW_ALL;
	enum MHD_Result ret;
	struct blob *b = NULL;
	struct sdoc *d;
	char err[256] = "";

	if (vs && !strcmp(vs, "alloc_site"))
		v = EXPORT_VIEW_ALLOC;
	else if (vs && !strcmp(vs, "owner"))
		v = EXPORT_VIEW_OWNER;
	else if (vs && *vs)
		return reply_text(c, MHD_HTTP_BAD_REQUEST,
				  "view: expected alloc_site or owner");
	d = find_doc(c, p, &ret);
	if (!d)
		return ret;
	/* Requests for another document or the metrics go on meanwhile in
	 * the other threads; the event loop is not involved. */
	pthread_mutex_lock(&d->lock);
	if (!d->heap[v] && !d->heap_err[v])
		make_heap(d, v);
	if (d->heap[v])
		b = blob_get(d->heap[v]);
	else if (d->heap_err[v])
		snprintf(err, sizeof(err), "%s", d->heap_err[v]);
	pthread_mutex_unlock(&d->lock);
	if (b) {
		ret = reply_blob(c, b, "application/octet-stream",
				 "attachment; filename=\"heap\"");
		blob_put(b);
	} else if (*err) {
		ret = reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				 "no profile: the snapshot of pid %" PRIu32
				 " was refused: %s",
				 d->pid, err);
	} else {
		ret = MHD_NO;
	}
	sdoc_put(d);
	return ret;
}

static enum MHD_Result page_snapshot(struct MHD_Connection *c,
				     const struct pub *p)
{
	enum MHD_Result ret;
	struct sdoc *d = find_doc(c, p, &ret);

	if (!d)
		return ret;
	ret = reply_blob(c, d->json, "application/json", NULL);
	sdoc_put(d);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct serve *s = cls;
	enum MHD_Result ret;
	struct pub *p;

	/* Answered at the first call, before any body is read: a request
	 * with one is refused, and MHD closes its connection. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "only GET and HEAD");
	p = pub_current(s);
	if (!strcmp(url, "/")) {
		ret = page_index(c, p);
	} else if (!strcmp(url, "/metrics")) {
		ret = p->metrics ? reply_blob(c, p->metrics,
					      METRICS_CONTENT_TYPE, NULL) :
				   reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
					      "no figures yet");
	} else if (!strcmp(url, "/snapshot")) {
		atomic_store(&s->wanted, true);
		ret = page_snapshot(c, p);
	} else if (!strcmp(url, "/debug/pprof/heap")) {
		atomic_store(&s->wanted, true);
		ret = page_heap(c, p);
	} else {
		ret = reply_text(c, MHD_HTTP_NOT_FOUND,
				 "not found: see / for what is served");
	}
	pub_put(p);
	return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	/* Client misbehaviour (timeouts, resets, oversized requests) is
	 * routine for a server: for --verbose only. */
	log__vmsg(MS_LOG_DEBUG, fmt, ap);
}

/* ---- setup -------------------------------------------------------- */

static bool parse_port(const char *p, uint16_t *port)
{
	unsigned long n = 0;

	if (!*p || strlen(p) > 5)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n > 65535)
		return false;
	*port = (uint16_t)n;
	return true;
}

int serve__parse_listen(const char *spec, struct sockaddr_storage *ss,
			socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port;
	uint16_t pnum;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (!spec)
		return -EINVAL;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		hl = (size_t)(close - spec - 1);
		port = close + 2;
		if (!hl || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, hl);
		host[hl] = '\0';
		if (!parse_port(port, &pnum) ||
		    inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(pnum);
		*len = sizeof(*in6);
		return 0;
	}
	colon = strchr(spec, ':');
	if (!colon) {
		/* A port alone: this host only, never every interface. */
		snprintf(host, sizeof(host), "%s", SERVE_DEFAULT_ADDR);
		port = spec;
	} else {
		hl = (size_t)(colon - spec);
		port = colon + 1;
		/* ":PORT" is not taken to mean every address: say which. */
		if (!hl || hl >= sizeof(host) || strchr(port, ':'))
			return -EINVAL;
		memcpy(host, spec, hl);
		host[hl] = '\0';
		if (!strcmp(host, "localhost"))
			snprintf(host, sizeof(host), "%s", SERVE_DEFAULT_ADDR);
	}
	if (!parse_port(port, &pnum) ||
	    inet_pton(AF_INET, host, &in->sin_addr) != 1)
		return -EINVAL;
	in->sin_family = AF_INET;
	in->sin_port = htons(pnum);
	*len = sizeof(*in);
	return 0;
}

static int listen_socket(struct serve *s)
{
	int one = 1, fd, err;

	fd = socket(s->addr.ss_family,
		    SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A restart must not wait for the old connections' TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&s->addr, s->addrlen) ||
	    listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&s->addr, &s->addrlen)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int serve__start(const char *listen, const struct serve_opts *opts,
		 struct serve **out)
{
	struct serve_opts o = opts ? *opts : (struct serve_opts){ 0 };
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			     MHD_USE_ERROR_LOG;
	struct serve *s;
	int fd, err;

	*out = NULL;
	o.max_connections = o.max_connections ?: 32;
	o.max_per_ip = o.max_per_ip ?: 8;
	o.timeout_s = o.timeout_s ?: 10;
	o.threads = o.threads ?: 2;
	o.request_bytes = o.request_bytes ?: 16 * 1024;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	err = serve__parse_listen(listen, &s->addr, &s->addrlen);
	if (err)
		goto err_free;
	s->cur = calloc(1, sizeof(*s->cur));
	if (!s->cur) {
		err = -ENOMEM;
		goto err_free;
	}
	atomic_init(&s->cur->refs, 1);
	pthread_mutex_init(&s->lock, NULL);
	/* Our own socket, so that a bind failure says why. */
	fd = listen_socket(s);
	if (fd < 0) {
		err = fd;
		goto err_pub;
	}
	if (s->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(
		flags, 0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER,
		mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, o.max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, o.max_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, o.timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, o.request_bytes,
		MHD_OPTION_THREAD_POOL_SIZE, o.threads, MHD_OPTION_END);
	if (!s->d) {
		close(fd);
		err = -EIO;
		goto err_pub;
	}
	*out = s;
	return 0;
err_pub:
	pthread_mutex_destroy(&s->lock);
	pub_put(s->cur);
err_free:
	free(s);
	return err;
}

bool serve__docs_wanted(struct serve *s)
{
	return atomic_load(&s->wanted);
}

uint16_t serve__port(const struct serve *s)
{
	if (s->addr.ss_family == AF_INET6)
		return ntohs(
			((const struct sockaddr_in6 *)&s->addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&s->addr)->sin_port);
}

const char *serve__address(const struct serve *s, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (s->addr.ss_family == AF_INET6) {
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)&s->addr)->sin6_addr,
			  host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, serve__port(s));
	} else {
		inet_ntop(AF_INET,
			  &((const struct sockaddr_in *)&s->addr)->sin_addr,
			  host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, serve__port(s));
	}
	return buf;
}

void serve__stop(struct serve *s)
{
	if (!s)
		return;
	/* Closes the listening socket and every connection, and joins the
	 * threads: the responses still out are destroyed, their copies
	 * released, before the publication itself. */
	MHD_stop_daemon(s->d);
	pub_put(s->cur);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
