// SPDX-License-Identifier: MIT
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/attach_int.h"
#include "attach/elf.h"
#include "attach/prologue.h"
#include "log.h"
#include "memscope.skel.h"
#include "memscope/events.h"

static int add_fd(struct attach *a, int fd)
{
	if (a->nfds == a->cap_fds) {
		size_t cap = a->cap_fds ? a->cap_fds * 2 : 16;
		int *n = realloc(a->fds, cap * sizeof(*n));

		if (!n) {
			close(fd);
			return -ENOMEM;
		}
		a->fds = n;
		a->cap_fds = cap;
	}
	a->fds[a->nfds++] = fd;
	return 0;
}

struct attach *attach__new(struct memscope_bpf *skel, pid_t pid,
			   bool spawn_stacks, bool multi)
{
	struct attach *a = calloc(1, sizeof(*a));

	if (a) {
		a->skel = skel;
		a->pid = pid;
		a->spawn_stacks = spawn_stacks;
		a->multi = multi;
	}
	return a;
}

void attach__destroy(struct attach *a)
{
	if (!a)
		return;
	for (size_t i = a->nlinks; i-- > 0;)
		bpf_link__destroy(a->links[i]);
	for (size_t i = a->nfds; i-- > 0;)
		close(a->fds[i]);
	for (size_t i = 0; i < a->npending; i++)
		free(a->pending[i].path);
	free(a->pending);
	free(a->fds);
	free(a->links);
	free(a->tokio.poll_vaddr);
	free(a->tokio.ret_sites);
	free(a->tokio.exe_path);
	free(a->tokio.vt_first);
	free(a->tokio.vt);
	free(a);
}

int attach__add_link(struct attach *a, struct bpf_link *l)
{
	if (a->nlinks == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct bpf_link **n = realloc(a->links, cap * sizeof(*n));

		if (!n) {
			bpf_link__destroy(l);
			return -ENOMEM;
		}
		a->links = n;
		a->cap = cap;
	}
	a->links[a->nlinks++] = l;
	return 0;
}

/* BPF_LINK_CREATE for uprobe_multi as laid out by the kernel's uapi
 * (newer than the headers libbpf 1.1 ships). */
#define MS_ATTACH_UPROBE_MULTI 48
#define MS_UPROBE_MULTI_RETURN 1

union link_create_umulti {
	struct {
		uint32_t prog_fd;
		uint32_t target_fd;
		uint32_t attach_type;
		uint32_t flags;
		uint64_t path;
		uint64_t offsets;
		uint64_t ref_ctr_offsets;
		uint64_t cookies;
		uint32_t cnt;
		uint32_t umulti_flags;
		uint32_t pid;
	};
	uint8_t pad[128];
};

bool attach__multi_supported(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool ok;

	if (!vmlinux)
		return false;
	/* A BTF check, not a version check: the link type exists or not. */
	ok = btf__find_by_name_kind(vmlinux, "bpf_uprobe_multi_link",
				    BTF_KIND_STRUCT) >= 0;
	btf__free(vmlinux);
	return ok;
}

void attach__prepare_multi(struct memscope_bpf *skel)
{
	struct bpf_program *progs[] = {
		skel->progs.alloc_enter,	skel->progs.alloc_ret,
		skel->progs.posix_memalign_ret, skel->progs.free_enter,
		skel->progs.delete_enter,	skel->progs.tokio_poll_enter,
		skel->progs.tokio_shutdown,	skel->progs.tokio_output,
		skel->progs.spawn_enter,	skel->progs.spawn_ret,
		skel->progs.spawn_bound,	skel->progs.poll_return,
		skel->progs.floor_enter,	skel->progs.floor_ret,
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		bpf_program__set_expected_attach_type(progs[i],
						      MS_ATTACH_UPROBE_MULTI);
}

static int queue_probe(struct attach *a, struct bpf_program *prog,
		       const char *path, uint64_t off, bool ret,
		       uint64_t cookie)
{
	struct pending *p;

	if (a->npending == a->cap_pending) {
		size_t cap = a->cap_pending ? a->cap_pending * 2 : 256;
		struct pending *n = realloc(a->pending, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->pending = n;
		a->cap_pending = cap;
	}
	p = &a->pending[a->npending++];
	p->prog = prog;
	p->path = strdup(path);
	p->off = off;
	p->ret = ret;
	p->cookie = cookie;
	p->rank = ret ? 0 :
		  prog == a->skel->progs.free_enter ||
				  prog == a->skel->progs.delete_enter ||
				  prog == a->skel->progs.poll_return ?
			1 :
			2;
	return p->path ? 0 : -ENOMEM;
}

/* Return probes first: an entry probe live before its return probe would
 * leave a call that is under way at that moment unmatched. With the
 * returns in first, a return whose entry came before is simply ignored,
 * and every call that starts once memscoped says it is attached is seen
 * whole. Then what ends things (free, a poll's return sites), then what
 * starts them: a block allocated before free is probed and freed at once
 * would stay live, and its address come back as a stale allocation. */
static int pending_cmp(const void *x, const void *y)
{
	const struct pending *p = x, *q = y;
	int c;

	if (p->rank != q->rank)
		return p->rank < q->rank ? -1 : 1;
	c = strcmp(p->path, q->path);
	if (c)
		return c;
	if (p->prog != q->prog)
		return p->prog < q->prog ? -1 : 1;
	return 0;
}

/* One uprobe_multi link per (binary, program, entry/return): thousands of
 * tokio poll copies attach (and detach) in one system call each. */
int attach__commit(struct attach *a)
{
	uint64_t *offs = NULL, *cookies = NULL;
	size_t i = 0, j;
	int err = 0;

	if (!a->npending)
		return 0;
	offs = calloc(a->npending, sizeof(*offs));
	cookies = calloc(a->npending, sizeof(*cookies));
	if (!offs || !cookies) {
		err = -ENOMEM;
		goto out;
	}
	qsort(a->pending, a->npending, sizeof(*a->pending), pending_cmp);
	while (i < a->npending) {
		union link_create_umulti attr;
		int fd;

		for (j = i; j < a->npending &&
			    !pending_cmp(&a->pending[i], &a->pending[j]);
		     j++) {
			offs[j - i] = a->pending[j].off;
			cookies[j - i] = a->pending[j].cookie;
		}
		memset(&attr, 0, sizeof(attr));
		attr.prog_fd = (uint32_t)bpf_program__fd(a->pending[i].prog);
		attr.attach_type = MS_ATTACH_UPROBE_MULTI;
		attr.path = (uint64_t)(uintptr_t)a->pending[i].path;
		attr.offsets = (uint64_t)(uintptr_t)offs;
		attr.cookies = (uint64_t)(uintptr_t)cookies;
		attr.cnt = (uint32_t)(j - i);
		attr.umulti_flags =
			a->pending[i].ret ? MS_UPROBE_MULTI_RETURN : 0;
		attr.pid = (uint32_t)a->pid;
		fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr,
				  sizeof(attr));
		if (fd < 0) {
			err = -errno;
			pr_debug("uprobe_multi %s (%zu probes): %s",
				 a->pending[i].path, j - i, strerror(-err));
			goto out;
		}
		err = add_fd(a, fd);
		if (err)
			goto out;
		a->nprobes += j - i;
		i = j;
	}
out:
	for (i = 0; i < a->npending; i++)
		free(a->pending[i].path);
	a->npending = 0;
	free(cookies);
	free(offs);
	return err;
}

int attach__uprobe(struct attach *a, struct bpf_program *prog, const char *path,
		   uint64_t off, bool ret, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret,
		    .bpf_cookie = cookie);
	struct bpf_link *l;
	int err;

	if (a->multi)
		return queue_probe(a, prog, path, off, ret, cookie);

	l = bpf_program__attach_uprobe_opts(prog, a->pid, path, (size_t)off,
					    &opts);
	if (!l) {
		err = -errno;
		pr_debug("uprobe %s+%#llx: %s", path, (unsigned long long)off,
			 strerror(-err));
		return err;
	}
	err = attach__add_link(a, l);
	if (!err)
		a->nprobes++;
	return err;
}

bool attach__runtime_found(const struct attach *a)
{
	return a->tokio.npoll || a->nusdt;
}

size_t attach__links(const struct attach *a)
{
	return a->nprobes + a->nusdt;
}
