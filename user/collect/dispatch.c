// SPDX-License-Identifier: MIT
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>

#include "collect/collector.h"
#include "collect/dispatch.h"
#include "model/model.h"
#include "memscope/events.h"

struct route {
	uint32_t pid;
	struct collector *c;
};

struct dispatch {
	struct ring_buffer *rb;
	dispatch_proc_fn on_proc;
	void *ctx;
	struct route routes[DISPATCH_MAX];
	size_t nroutes;
	size_t last; /* records come in runs from one process */
	uint64_t unclaimed;
};

static struct collector *route_find(struct dispatch *d, uint32_t pid)
{
	if (d->last < d->nroutes && d->routes[d->last].pid == pid)
		return d->routes[d->last].c;
	for (size_t i = 0; i < d->nroutes; i++) {
		if (d->routes[i].pid == pid) {
			d->last = i;
			return d->routes[i].c;
		}
	}
	return NULL;
}

static int on_record(void *ctx, void *data, size_t len)
{
	struct dispatch *d = ctx;
	const struct ms_hdr *h = data;
	struct collector *c;

	if (len < sizeof(*h)) {
		d->unclaimed++;
		return 0;
	}
	c = route_find(d, h->pid);
	if (h->type == MS_REC_EXEC || h->type == MS_REC_EXIT ||
	    h->type == MS_REC_FORK) {
		/* The process's model first has all that came before. */
		if (c)
			collector__flush(c);
		if (d->on_proc && model__decode(data, len) == h->type)
			d->on_proc(d->ctx, data, len);
		return 0;
	}
	if (!c) {
		d->unclaimed++;
		return 0;
	}
	collector__feed(c, data, len);
	return 0;
}

int dispatch__new(int ringbuf_fd, dispatch_proc_fn on_proc, void *ctx,
		  struct dispatch **out)
{
	struct dispatch *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	d->on_proc = on_proc;
	d->ctx = ctx;
	d->rb = ring_buffer__new(ringbuf_fd, on_record, d, NULL);
	if (!d->rb) {
		err = -errno;
		free(d);
		return err;
	}
	*out = d;
	return 0;
}

void dispatch__free(struct dispatch *d)
{
	if (!d)
		return;
	ring_buffer__free(d->rb);
	free(d);
}

int dispatch__fd(const struct dispatch *d)
{
	return ring_buffer__epoll_fd(d->rb);
}

int dispatch__add(struct dispatch *d, uint32_t pid, struct collector *c)
{
	if (route_find(d, pid))
		return -EEXIST;
	if (d->nroutes == DISPATCH_MAX)
		return -ENOSPC;
	d->routes[d->nroutes].pid = pid;
	d->routes[d->nroutes].c = c;
	d->nroutes++;
	return 0;
}

void dispatch__remove(struct dispatch *d, uint32_t pid)
{
	for (size_t i = 0; i < d->nroutes; i++) {
		if (d->routes[i].pid != pid)
			continue;
		collector__flush(d->routes[i].c);
		d->routes[i] = d->routes[--d->nroutes];
		d->last = 0;
		return;
	}
}

long dispatch__drain(struct dispatch *d)
{
	long total = 0;
	int n;

	/* ring_buffer__consume() returns at most INT_MAX per call. */
	do {
		n = ring_buffer__consume(d->rb);
		if (n < 0)
			break;
		total += n;
	} while (n > 0);
	for (size_t i = 0; i < d->nroutes; i++)
		collector__flush(d->routes[i].c);
	return n < 0 ? n : total;
}

uint64_t dispatch__unclaimed(const struct dispatch *d)
{
	return d->unclaimed;
}
