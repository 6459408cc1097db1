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

static int add_link(struct attach *a, struct bpf_link *l)
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
		skel->progs.alloc_enter,      skel->progs.alloc_ret,
		skel->progs.posix_memalign_ret, skel->progs.free_enter,
		skel->progs.tokio_poll_enter,
		skel->progs.tokio_shutdown,   skel->progs.spawn_enter,
		skel->progs.spawn_ret,	      skel->progs.spawn_bound,
		skel->progs.poll_return,
		skel->progs.floor_enter,
		skel->progs.floor_ret,
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

		for (j = i; j < a->npending && !pending_cmp(&a->pending[i],
							     &a->pending[j]);
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
		attr.umulti_flags = a->pending[i].ret ? MS_UPROBE_MULTI_RETURN : 0;
		attr.pid = (uint32_t)a->pid;
		fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
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
	err = add_link(a, l);
	if (!err)
		a->nprobes++;
	return err;
}

struct family_fn {
	const char *name;
	enum ms_alloc_fn fn;
};

/* aligned_alloc comes after memalign: in glibc they share one address, and
 * one probe serves both. */
static const struct family_fn family[] = {
	{ "malloc", MS_FN_MALLOC },
	{ "calloc", MS_FN_CALLOC },
	{ "realloc", MS_FN_REALLOC },
	{ "reallocarray", MS_FN_REALLOCARRAY },
	{ "posix_memalign", MS_FN_POSIX_MEMALIGN },
	{ "memalign", MS_FN_MEMALIGN },
	{ "aligned_alloc", MS_FN_MEMALIGN },
	{ "valloc", MS_FN_VALLOC },
	{ "pvalloc", MS_FN_PVALLOC },
};

int attach__place(struct elf_file *ef, const struct elf_sym *s,
		 enum prologue_kind kind, uint64_t *off)
{
	uint8_t code[64];
	size_t n = s->size && s->size < sizeof(code) ? s->size : sizeof(code);
	struct probe_place p = { 0, false };
	int err;

	if (elf__machine(ef) == 62 /* EM_X86_64 */ &&
	    !elf__read_vaddr(ef, s->vaddr, code, n))
		p = prologue__place(code, n, kind);
	err = elf__vaddr_to_off(ef, s->vaddr + p.offset, off);
	pr_debug("%s: probe at +%u (%s)", s->name, p.offset,
		 p.emulated ? "emulated" : "single-stepped");
	return err;
}

int attach__allocator(struct attach *a, const char *libc_path, bool floor)
{
	struct bpf_program *enter, *ret, *pm_ret, *fr;
	uint64_t seen[sizeof(family) / sizeof(family[0])];
	struct elf_file *ef;
	size_t nseen = 0;
	struct elf_sym s;
	uint64_t off;
	int err;

	enter = floor ? a->skel->progs.floor_enter : a->skel->progs.alloc_enter;
	ret = floor ? a->skel->progs.floor_ret : a->skel->progs.alloc_ret;
	pm_ret = floor ? a->skel->progs.floor_ret :
			 a->skel->progs.posix_memalign_ret;
	fr = floor ? a->skel->progs.floor_enter : a->skel->progs.free_enter;

	err = elf__open(libc_path, &ef);
	if (err)
		return err;
	/* free before the allocating calls (see pending_cmp). */
	if (elf__find_func(ef, "free", &s)) {
		pr_err("%s has no free: not a libc", libc_path);
		err = -ENOENT;
		goto out;
	}
	err = attach__place(ef, &s, PROLOGUE_FREE, &off);
	if (!err)
		err = attach__uprobe(a, fr, libc_path, off, false, MS_FN_FREE);
	if (err)
		goto out;
	for (size_t i = 0; i < sizeof(family) / sizeof(family[0]); i++) {
		const struct family_fn *f = &family[i];
		bool dup = false;

		if (elf__find_func(ef, f->name, &s)) {
			if (f->fn == MS_FN_MALLOC || f->fn == MS_FN_REALLOC ||
			    f->fn == MS_FN_CALLOC) {
				pr_err("%s has no %s: not a libc", libc_path,
				       f->name);
				err = -ENOENT;
				goto out;
			}
			pr_debug("%s: no %s", libc_path, f->name);
			continue;
		}
		for (size_t j = 0; j < nseen; j++)
			dup |= seen[j] == s.vaddr;
		if (dup)
			continue;
		seen[nseen++] = s.vaddr;
		/* The return probe first (see pending_cmp). */
		err = attach__place(ef, &s, PROLOGUE_ENTRY, &off);
		if (!err)
			err = attach__uprobe(a, f->fn == MS_FN_POSIX_MEMALIGN ? pm_ret :
									ret,
				     libc_path, off, true, f->fn);
		if (!err)
			err = attach__uprobe(a, enter, libc_path, off, false, f->fn);
		if (err)
			goto out;
	}
out:
	elf__close(ef);
	return err;
}

static bool has_markers(const char *path)
{
	struct elf_file *ef;
	bool has;

	if (elf__open(path, &ef))
		return false;
	has = elf__section_contains(ef, ".note.stapsdt", "memscope");
	elf__close(ef);
	return has;
}

int attach__usdt(struct attach *a, const char *path)
{
	static const char *const names[] = { "task_spawn", "poll_begin",
					     "poll_end",   "task_complete",
					     "task_cancel", "task_free" };
	struct bpf_program *progs[] = {
		a->skel->progs.usdt_spawn,    a->skel->progs.usdt_poll_begin,
		a->skel->progs.usdt_poll_end, a->skel->progs.usdt_complete,
		a->skel->progs.usdt_cancel,   a->skel->progs.usdt_free,
	};
	int n = 0, err;

	if (!has_markers(path))
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_link *l;

		l = bpf_program__attach_usdt(progs[i], a->pid, path, "memscope",
					     names[i], NULL);
		if (!l) {
			err = -errno;
			pr_debug("usdt %s:memscope:%s: %s", path, names[i],
				 strerror(-err));
			continue;
		}
		err = add_link(a, l);
		if (err)
			return err;
		a->nusdt++;
		n++;
	}
	return n;
}

bool attach__runtime_found(const struct attach *a)
{
	return a->tokio.npoll || a->nusdt;
}

size_t attach__links(const struct attach *a)
{
	return a->nprobes + a->nusdt;
}

static bool is_libc_name(const char *base)
{
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-2.", 7);
}

int attach__find_libc_pid(pid_t pid, char *out, size_t len)
{
	char path[64], line[PATH_MAX + 128];
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char *p = strchr(line, '/'), *base;
		size_t n;

		if (!p || sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		n = strlen(p);
		while (n && p[n - 1] == '\n')
			p[--n] = '\0';
		base = strrchr(p, '/') + 1;
		if (!is_libc_name(base))
			continue;
		/* Replaced or deleted since it was mapped: go through the
		 * mapping itself, which still names the old inode. */
		if (n > 10 && !strcmp(p + n - 10, " (deleted)"))
			snprintf(out, len, "/proc/%d/map_files/%lx-%lx",
				 (int)pid, lo, hi);
		else
			snprintf(out, len, "%s", p);
		err = 0;
		break;
	}
	fclose(f);
	return err;
}

struct needed_ctx {
	char *out;
	size_t len;
	bool found;
};

static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
	"/lib64", "/usr/lib64", "/lib", "/usr/lib",
};

/* Where the dynamic loader would find a DT_NEEDED name (the common cases:
 * LD_LIBRARY_PATH, then the system directories). */
static bool find_lib(const char *name, struct needed_ctx *nc)
{
	const char *ld = getenv("LD_LIBRARY_PATH");

	if (ld && *ld) {
		char dirs[PATH_MAX], *save, *d;

		snprintf(dirs, sizeof(dirs), "%s", ld);
		for (d = strtok_r(dirs, ":", &save); d;
		     d = strtok_r(NULL, ":", &save)) {
			snprintf(nc->out, nc->len, "%s/%s", d, name);
			if (!access(nc->out, R_OK))
				return nc->found = true;
		}
	}
	for (size_t i = 0; i < sizeof(lib_dirs) / sizeof(lib_dirs[0]); i++) {
		snprintf(nc->out, nc->len, "%s/%s", lib_dirs[i], name);
		if (!access(nc->out, R_OK))
			return nc->found = true;
	}
	return false;
}

static int needed_cb(const char *name, void *ctx)
{
	if (!is_libc_name(name))
		return 0;
	return find_lib(name, ctx);
}

struct usdt_libs_ctx {
	struct attach *a;
	int n;
};

static int usdt_needed_cb(const char *name, void *ctx)
{
	struct usdt_libs_ctx *uc = ctx;
	char path[PATH_MAX];
	struct needed_ctx nc = { path, sizeof(path), false };
	int n;

	if (is_libc_name(name) || !find_lib(name, &nc))
		return 0;
	n = attach__usdt(uc->a, path);
	if (n > 0)
		uc->n += n;
	return 0;
}

int attach__usdt_needed(struct attach *a, const char *exe)
{
	struct usdt_libs_ctx uc = { a, 0 };
	struct elf_file *ef;

	if (elf__open(exe, &ef))
		return 0;
	elf__foreach_needed(ef, usdt_needed_cb, &uc);
	elf__close(ef);
	return uc.n;
}

int attach__usdt_mapped(struct attach *a, pid_t pid, const char *exe)
{
	char path[64], line[PATH_MAX + 128], last[PATH_MAX] = "";
	FILE *f;
	int total = 0, n;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char perms[8], *p = strchr(line, '/');
		size_t len;

		if (!p || sscanf(line, "%*s %7s", perms) != 1 ||
		    perms[2] != 'x')
			continue;
		len = strlen(p);
		while (len && p[len - 1] == '\n')
			p[--len] = '\0';
		/* The executable is attached through exe already. */
		if (!strcmp(p, last) || !strcmp(p, exe) ||
		    is_libc_name(strrchr(p, '/') + 1))
			continue;
		snprintf(last, sizeof(last), "%s", p);
		n = attach__usdt(a, p);
		if (n > 0)
			total += n;
	}
	fclose(f);
	return total;
}

int attach__find_libc_prog(const char *prog, char *out, size_t len)
{
	struct needed_ctx nc = { out, len, false };
	struct elf_file *ef;
	int err;

	err = elf__open(prog, &ef);
	if (err)
		return err;
	if (!elf__is_dynamic(ef)) {
		elf__close(ef);
		return -ENOENT;
	}
	elf__foreach_needed(ef, needed_cb, &nc);
	elf__close(ef);
	return nc.found ? 0 : -ENOENT;
}

static int markers_needed_cb(const char *name, void *ctx)
{
	char path[PATH_MAX];
	struct needed_ctx nc = { path, sizeof(path), false };

	if (is_libc_name(name) || !find_lib(name, &nc))
		return 0;
	if (!has_markers(path))
		return 0;
	*(int *)ctx = MS_RT_USDT;
	return 1;
}

int attach__async_kind(const char *exe)
{
	struct elf_file *ef;
	int kind = 0, err;

	err = elf__open(exe, &ef);
	if (err)
		return err;
	if (!elf__is_dynamic(ef)) {
		elf__close(ef); /* static: no shared libc to probe */
		return 0;
	}
	if (attach__is_tokio(ef))
		kind = MS_RT_TOKIO;
	else if (elf__section_contains(ef, ".note.stapsdt", "memscope"))
		kind = MS_RT_USDT;
	else
		elf__foreach_needed(ef, markers_needed_cb, &kind);
	elf__close(ef);
	return kind;
}
