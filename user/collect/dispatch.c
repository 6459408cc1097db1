// SPDX-License-Identifier: MIT
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collect/collector.h"
#include "collect/dispatch.h"
#include "model/model.h"
#include "memscope/events.h"
#include "util.h"

struct route {
	uint32_t pid;
	struct collector *c;
};

struct dispatch {
	struct ring_buffer *rb;
	dispatch_proc_fn on_proc;
	void *ctx;
	struct route *routes; /* grown as processes come: --max-procs */
	size_t nroutes, cap_routes;
	uint64_t records; /* drained, all processes */
	/* The ring's positions, mapped read-only: how full it is. */
	const volatile unsigned long *cons_pos, *prod_pos;
	size_t ring_bytes;
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

	d->records++;
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

/* The consumer and producer positions lead the ring's mapping, a page
 * each (as libbpf maps them): read-only copies tell how full it is. Not
 * having them only costs that figure. */
static void map_positions(struct dispatch *d, int fd)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	void *p;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	d->ring_bytes = info.max_entries;
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0);
	if (p != MAP_FAILED)
		d->cons_pos = p;
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, (off_t)page);
	if (p != MAP_FAILED)
		d->prod_pos = p;
}

uint64_t dispatch__ring_used(const struct dispatch *d)
{
	if (!d->cons_pos || !d->prod_pos)
		return 0;
	return (uint64_t)(*d->prod_pos - *d->cons_pos);
}

uint64_t dispatch__records(const struct dispatch *d)
{
	return d->records;
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
	map_positions(d, ringbuf_fd);
	*out = d;
	return 0;
}

void dispatch__free(struct dispatch *d)
{
	if (!d)
		return;
	ring_buffer__free(d->rb);
	if (d->cons_pos)
		munmap((void *)d->cons_pos, (size_t)sysconf(_SC_PAGESIZE));
	if (d->prod_pos)
		munmap((void *)d->prod_pos, (size_t)sysconf(_SC_PAGESIZE));
	free(d->routes);
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
	if (util__grow((void **)&d->routes, &d->cap_routes, d->nroutes + 1,
		       sizeof(*d->routes), 16))
		return -ENOMEM;
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
