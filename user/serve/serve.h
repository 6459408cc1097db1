/* SPDX-License-Identifier: MIT */
/*
 * memscoped's read-only HTTP service (issue 15, docs/deploy.md), on
 * libmicrohttpd in threads of its own:
 *
 *   /                        an index of the watched processes, with links
 *   /metrics                 the Prometheus page (view/metrics.h)
 *   /snapshot?pid=N          the JSON snapshot (docs/snapshot.md)
 *   /debug/pprof/heap?pid=N  a gzipped pprof heap profile
 *                            (export__pprof_heap; &view=alloc_site|owner)
 *
 * The event loop never waits for a client: it hands copies over with
 * serve__publish() after a refresh, and requests are answered from
 * those (reference-counted, so a slow reader keeps the copy it started
 * with alive without holding up the next publish). Connections, their
 * number per address, their idle time and request sizes are bounded.
 */
#ifndef MS_SERVE_H
#define MS_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SERVE_DEFAULT_ADDR "127.0.0.1"
#define SERVE_LISTEN_USAGE                                                 \
	"expected PORT, ADDR:PORT or [ADDR6]:PORT with a numeric address " \
	"(PORT alone listens on 127.0.0.1 only)"

struct serve;

struct serve_opts {
	unsigned int max_connections; /* 0: 32 */
	unsigned int max_per_ip; /* 0: 8 */
	unsigned int timeout_s; /* idle connections closed after; 0: 10 */
	unsigned int
		threads; /* 0: 2, so one heavy request never stalls /metrics */
	size_t request_bytes; /* request line and headers; 0: 16 KiB */
};

/* One watched process, as of the last refresh. */
struct serve_doc {
	uint32_t pid;
	const char *exe; /* NULL: unknown */
	const char *runtime; /* NULL: unknown; the index shows it */
	const char *json; /* the snapshot document, as snapshot__text made it */
	size_t json_len; /* 0: strlen(json) */
};

/*
 * "PORT", "ADDR:PORT" or "[ADDR6]:PORT"; ADDR is numeric (or
 * "localhost", 127.0.0.1). No address means 127.0.0.1 and nothing else:
 * any other must be asked for ("0.0.0.0:9464", "[::]:9464"). PORT 0
 * takes a free port. -EINVAL for anything else.
 */
int serve__parse_listen(const char *spec, struct sockaddr_storage *ss,
			socklen_t *len);
/*
 * Bind, listen and start the server's threads. -EINVAL for a malformed
 * spec (say SERVE_LISTEN_USAGE), the error of socket()/bind()/listen()
 * (-EADDRINUSE, -EACCES, -EADDRNOTAVAIL...), or -ENOMEM/-EIO when
 * libmicrohttpd would not start. opts may be NULL.
 */
int serve__start(const char *listen, const struct serve_opts *opts,
		 struct serve **out);
/* The address bound, "127.0.0.1:9464" or "[::1]:9464" (port 0 resolved). */
const char *serve__address(const struct serve *s, char *buf, size_t len);
uint16_t serve__port(const struct serve *s);
/*
 * Replace what is served: copies are taken, the caller keeps its
 * buffers. docs == NULL keeps the previous documents (a refresh of the
 * metrics alone), metrics == NULL the previous page. Returns 0, or
 * -ENOMEM with the previous copies still served. Takes the server's lock
 * only to swap two pointers; a request in flight keeps what it had.
 */
int serve__publish(struct serve *s, const struct serve_doc *docs, size_t n,
		   const char *metrics, size_t metrics_len);
/*
 * Was a document (/snapshot, /debug/pprof/heap) asked for since documents
 * were last published? Building every process's JSON at each refresh
 * costs the event loop; a caller may publish the metrics alone
 * (docs == NULL) while nobody asks, and documents again when this says
 * so (at the latest every few seconds, so that none gets very old).
 */
bool serve__docs_wanted(struct serve *s);
/* Close every connection, join the threads, free. NULL is fine. */
void serve__stop(struct serve *s);

#endif
