// SPDX-License-Identifier: MIT
/*
 * tokio's task functions in an executable. Task types come from their
 * vtables (tokio_vt.c), which every release binary keeps, stripped or not:
 * each vtable's poll, shutdown, try_read_output and drop_join_handle_slow
 * functions are probed. Symbols, from the executable or its separate debug
 * file, only add the functions that create tasks (spawn stacks).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach/attach.h"
#include "attach/attach_int.h"
#include "attach/tokio_vt.h"
#include "log.h"
#include "memscope.skel.h"
#include "sym/debugfile.h"
#include "sym/sym.h"

/* How a task-creating function shows the new task. */
enum spawn_kind {
	SPAWN_FIRST_ALLOC, /* the first allocation inside is the task cell */
	SPAWN_BOUND, /* it receives the new task's Header (bind_inner) */
};

struct spawn_fn {
	uint64_t vaddr;
	enum spawn_kind kind;
};

struct tokio_found {
	uint64_t *shutdown, *output;
	size_t nshutdown, cap_shutdown, cap_poll, noutput, cap_output;
	struct spawn_fn *spawn;
	size_t nspawn, cap_spawn;
	int err;
};

static int push_u64(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	for (size_t i = 0; i < *n; i++)
		if ((*v)[i] == x)
			return 0; /* folded copies share an address */
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		uint64_t *nv = realloc(*v, c * sizeof(**v));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static int push_spawn(struct tokio_found *f, uint64_t vaddr,
		      enum spawn_kind kind)
{
	for (size_t i = 0; i < f->nspawn; i++)
		if (f->spawn[i].vaddr == vaddr)
			return 0;
	if (f->nspawn == f->cap_spawn) {
		size_t c = f->cap_spawn ? f->cap_spawn * 2 : 16;
		struct spawn_fn *n = realloc(f->spawn, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		f->spawn = n;
		f->cap_spawn = c;
	}
	f->spawn[f->nspawn].vaddr = vaddr;
	f->spawn[f->nspawn].kind = kind;
	f->nspawn++;
	return 0;
}

/* Does demangled name d end in the function fn (generic arguments and
 * all): "…::fn", "…::fn::<…>"? */
static bool names_fn(const char *d, const char *fn)
{
	size_t n = strlen(fn);

	for (const char *p = d; (p = strstr(p, fn)); p += n) {
		if (p < d + 2 || memcmp(p - 2, "::", 2))
			continue;
		if (!p[n] || !strncmp(p + n, "::<", 3))
			return true;
	}
	return false;
}

/* Where tasks are created: OwnedTasks::bind (the cell is allocated inside,
 * up to 1.29; generic, so inlined from 1.30 on), bind_inner (1.30+: gets
 * the new task), and the blocking pool's spawn functions. */
static int spawn_sym(const struct elf_sym *s, void *ctx)
{
	struct tokio_found *f = ctx;
	char d[1024];

	if (s->name[0] != '_' || !strstr(s->name, "5tokio") ||
	    (!strstr(s->name, "bind") && !strstr(s->name, "spawn_blocking")))
		return 0;
	if (sym__demangle(s->name, d, sizeof(d)) < 0)
		return 0;
	if (strstr(d, "tokio::runtime::task::list::OwnedTasks<")) {
		if (names_fn(d, "bind_inner"))
			f->err = push_spawn(f, s->vaddr, SPAWN_BOUND);
		else if (names_fn(d, "bind"))
			f->err = push_spawn(f, s->vaddr, SPAWN_FIRST_ALLOC);
	} else if (strstr(d, "tokio::runtime::blocking::pool") &&
		   (names_fn(d, "spawn_blocking") ||
		    names_fn(d, "spawn_blocking_inner"))) {
		f->err = push_spawn(f, s->vaddr, SPAWN_FIRST_ALLOC);
	}
	return f->err;
}

/* Symbols of the executable, or of its debug file when it is stripped. */
static int find_spawn_fns(struct attach *a, struct elf_file *ef,
			  const char *exe, struct tokio_found *f)
{
	char dbg[PATH_MAX];
	struct elf_file *df;
	int err;

	if (elf__has_symtab(ef))
		return elf__foreach_func(ef, spawn_sym, f) < 0 ? f->err : 0;
	a->tokio.stripped = true;
	if (debugfile__find_for(exe, dbg, sizeof(dbg)) || elf__open(dbg, &df))
		return 0;
	pr_debug("%s: symbols from %s", exe, dbg);
	a->tokio.debug_file = true;
	err = elf__foreach_func(df, spawn_sym, f) < 0 ? f->err : 0;
	elf__close(df);
	return err;
}

static int vt_by_poll(const void *x, const void *y)
{
	const struct tokio_vt *p = x, *q = y;

	if (p->fn[TOKIO_VT_POLL] != q->fn[TOKIO_VT_POLL])
		return p->fn[TOKIO_VT_POLL] < q->fn[TOKIO_VT_POLL] ? -1 : 1;
	return p->vaddr < q->vaddr ? -1 : p->vaddr > q->vaddr;
}

/* Poll functions in vtable order (sorted by address), each with the
 * index of its first vtable. */
static int index_polls(struct attach_tokio *t, struct tokio_found *f)
{
	int err = 0;

	if (!t->nvtables)
		return 0;
	qsort(t->vt, t->nvtables, sizeof(*t->vt), vt_by_poll);
	t->vt_first = calloc(t->nvtables + 1, sizeof(*t->vt_first));
	if (!t->vt_first)
		return -ENOMEM;
	for (size_t i = 0; i < t->nvtables && !err; i++) {
		if (!i || t->vt[i].fn[TOKIO_VT_POLL] !=
				  t->vt[i - 1].fn[TOKIO_VT_POLL]) {
			t->vt_first[t->npoll] = i;
			err = push_u64(&t->poll_vaddr, &t->npoll, &f->cap_poll,
				       t->vt[i].fn[TOKIO_VT_POLL]);
		}
		if (!err)
			err = push_u64(&f->shutdown, &f->nshutdown,
				       &f->cap_shutdown,
				       t->vt[i].fn[TOKIO_VT_SHUTDOWN]);
		/* Where a JoinHandle takes or drops an output. */
		if (!err)
			err = push_u64(&f->output, &f->noutput, &f->cap_output,
				       t->vt[i].fn[TOKIO_VT_TRY_READ_OUTPUT]);
		if (!err)
			err = push_u64(
				&f->output, &f->noutput, &f->cap_output,
				t->vt[i].fn[TOKIO_VT_DROP_JOIN_HANDLE_SLOW]);
	}
	t->vt_first[t->npoll] = t->nvtables;
	return err;
}

static int scan(struct attach *a, struct elf_file *ef, const char *exe,
		struct tokio_found *f)
{
	struct tokio_vt_set set;
	const void *img;
	size_t len;
	int err;

	img = elf__image(ef, &len);
	if (!img)
		return -EIO;
	err = tokio_vt__scan(img, len, &set);
	if (set.problems)
		log__note("%s: %s: task types read from the rest", exe,
			  tokio_vt__problems(set.problems));
	a->tokio.vt = set.vt; /* kept: the vtables' layouts */
	a->tokio.nvtables = set.n;
	a->tokio.version = tokio_vt__version_code(set.version);
	if (!err)
		err = index_polls(&a->tokio, f);
	pr_debug("%s: %zu task vtables, %zu poll functions, tokio %s", exe,
		 set.n, a->tokio.npoll, set.version[0] ? set.version : "?");
	if (err == -ENOEXEC)
		err = 0; /* not an ELF memscoped reads: no tasks */
	return err;
}

static int probe_all(struct attach *a, struct elf_file *ef, const char *exe,
		     const struct tokio_found *f, bool floor)
{
	struct memscope_bpf *sk = a->skel;
	struct bpf_program *fl_enter = sk->progs.floor_enter;
	struct bpf_program *fl_ret = sk->progs.floor_ret;
	struct bpf_program *poll_enter =
		floor ? fl_enter : sk->progs.tokio_poll_enter;
	struct bpf_program *shutdown =
		floor ? fl_enter : sk->progs.tokio_shutdown;
	struct bpf_program *output = floor ? fl_enter : sk->progs.tokio_output;
	struct bpf_program *bound = floor ? fl_enter : sk->progs.spawn_bound;
	struct bpf_program *sp_enter = floor ? fl_enter : sk->progs.spawn_enter;
	struct bpf_program *sp_ret = floor ? fl_ret : sk->progs.spawn_ret;
	uint64_t off;
	int err = 0;

	/* The cookie is the function's index: user space checks each task's
	 * vtable against the function that polled it. No return probe: a
	 * poll ends when its thread runs above its stack slot again (see
	 * ms_tokio_poll_rec), seen by the next probe or sched_switch. */
	for (size_t i = 0; i < a->tokio.npoll && !err; i++) {
		err = elf__vaddr_to_off(ef, a->tokio.poll_vaddr[i], &off);
		if (!err)
			err = attach__uprobe(a, poll_enter, exe, off, false, i);
	}
	for (size_t i = 0; i < f->nshutdown && !err; i++) {
		err = elf__vaddr_to_off(ef, f->shutdown[i], &off);
		if (!err)
			err = attach__uprobe(a, shutdown, exe, off, false, i);
	}
	for (size_t i = 0; i < f->noutput && !err; i++) {
		err = elf__vaddr_to_off(ef, f->output[i], &off);
		if (!err)
			err = attach__uprobe(a, output, exe, off, false, i);
	}
	for (size_t i = 0; i < f->nspawn && !err && a->spawn_stacks; i++) {
		const struct spawn_fn *s = &f->spawn[i];

		err = elf__vaddr_to_off(ef, s->vaddr, &off);
		if (err)
			break;
		if (s->kind == SPAWN_BOUND) {
			err = attach__uprobe(a, bound, exe, off, false, i);
			continue;
		}
		err = attach__uprobe(a, sp_ret, exe, off, true, i);
		if (!err)
			err = attach__uprobe(a, sp_enter, exe, off, false, i);
	}
	a->tokio.nspawn = f->nspawn;
	return err;
}

/* The executable's first mapping in the target: its load bias. */
static void find_bias(struct attach *a)
{
	char path[64], line[4096];
	unsigned long lo, off;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)a->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	/* The executable is mapped first; its offset-0 mapping starts at
	 * bias + the vaddr of its first segment. */
	if (fgets(line, sizeof(line), f) &&
	    sscanf(line, "%lx-%*x %*s %lx", &lo, &off) == 2) {
		a->tokio.bias = lo - off - a->tokio.exe_load_vaddr;
		a->tokio.bias_known = true;
	}
	fclose(f);
}

/* A probe where a poll made by a call that returns to ret (a vaddr of
 * the executable) has returned: the first emulated instruction after it.
 * 1 when placed, 0 when there is no such place, negative errno. */
static int probe_return(struct attach *a, struct elf_file *ef, uint64_t ret,
			bool floor)
{
	struct memscope_bpf *sk = a->skel;
	struct probe_place p;
	uint8_t code[96];
	uint64_t off;
	size_t n = sizeof(code);
	int err;

	for (size_t i = 0; i < a->tokio.nret_sites; i++)
		if (a->tokio.ret_sites[i] == ret)
			return 0;
	while (n && elf__read_vaddr(ef, ret, code, n))
		n /= 2;
	p = prologue__after_call(code, n);
	if (!p.emulated || elf__vaddr_to_off(ef, ret + p.offset, &off)) {
		a->tokio.ret_unprobed++;
		pr_debug("return site %#llx: no instruction to probe",
			 (unsigned long long)ret);
		return 0;
	}
	err = push_u64(&a->tokio.ret_sites, &a->tokio.nret_sites,
		       &a->tokio.cap_ret_sites, ret);
	if (!err)
		err = attach__uprobe(
			a,
			floor ? sk->progs.floor_enter : sk->progs.poll_return,
			a->tokio.exe_path, off, false, ret + a->tokio.bias);
	pr_debug("return site %#llx: probe at +%u", (unsigned long long)ret,
		 p.offset);
	return err ? err : 1;
}

/* The return sites of task polls found in the code (the rest are found
 * when polls first return there). */
static int probe_returns(struct attach *a, struct elf_file *ef, bool floor)
{
	uint64_t *sites;
	const void *img;
	size_t len, n;
	int err;

	img = elf__image(ef, &len);
	if (!img || !a->tokio.bias_known)
		return 0;
	err = tokio_vt__poll_calls(img, len, &sites, &n);
	for (size_t i = 0; i < n && err >= 0; i++)
		err = probe_return(a, ef, sites[i], floor);
	free(sites);
	return err < 0 ? err : 0;
}

int attach__tokio(struct attach *a, const char *exe_path, bool floor)
{
	struct tokio_found f = { 0 };
	struct elf_file *ef;
	int err;

	err = elf__open(exe_path, &ef);
	if (err)
		return err;
	a->tokio.exe_load_vaddr = elf__first_load_vaddr(ef);
	a->tokio.exe_path = strdup(exe_path);
	if (!a->tokio.exe_path) {
		elf__close(ef);
		return -ENOMEM;
	}
	find_bias(a);
	err = scan(a, ef, exe_path, &f);
	if (!err && a->tokio.npoll)
		err = find_spawn_fns(a, ef, exe_path, &f);
	if (!err)
		err = probe_all(a, ef, exe_path, &f, floor);
	if (!err && a->tokio.npoll)
		err = probe_returns(a, ef, floor);
	free(f.spawn);
	free(f.shutdown);
	free(f.output);
	elf__close(ef);
	return err ? err : (int)a->tokio.npoll;
}

int attach__poll_return_site(struct attach *a, uint64_t ret)
{
	struct elf_file *ef;
	int n, err;

	if (!a->tokio.exe_path || !a->tokio.bias_known || ret < a->tokio.bias)
		return 0;
	err = elf__open(a->tokio.exe_path, &ef);
	if (err)
		return err;
	n = probe_return(a, ef, ret - a->tokio.bias, false);
	elf__close(ef);
	if (n > 0) {
		err = attach__commit(a);
		if (err)
			return err;
	}
	return n;
}

int attach__exe_bias(const struct attach *a, uint64_t *bias)
{
	if (!a->tokio.bias_known)
		return -ENOENT;
	*bias = a->tokio.bias;
	return 0;
}

bool attach__is_tokio(struct elf_file *ef)
{
	struct tokio_vt_set set;
	const void *img;
	size_t len, n;

	img = elf__image(ef, &len);
	if (!img || tokio_vt__scan(img, len, &set)) {
		tokio_vt__release(&set);
		return false;
	}
	n = set.n;
	tokio_vt__release(&set);
	return n > 0;
}

uint64_t attach__poll_vaddr(const struct attach *a, uint32_t idx)
{
	return idx < a->tokio.npoll ? a->tokio.poll_vaddr[idx] : 0;
}

int attach__tokio_vtable(const struct attach *a, uint32_t fn, uint64_t vaddr,
			 struct tokio_vt *out)
{
	const struct attach_tokio *t = &a->tokio;

	if (fn >= t->npoll)
		return -ENOENT;
	for (size_t i = t->vt_first[fn]; i < t->vt_first[fn + 1]; i++) {
		if (t->vt[i].vaddr == vaddr) {
			*out = t->vt[i];
			return 0;
		}
	}
	return -ENOENT;
}

uint64_t attach__exe_load_vaddr(const struct attach *a)
{
	return a->tokio.exe_load_vaddr;
}

void attach__tokio_info(const struct attach *a, struct attach_tokio_info *out)
{
	out->vtables = a->tokio.nvtables;
	out->polls = a->tokio.npoll;
	out->spawn_fns = a->tokio.nspawn;
	out->version = a->tokio.version;
	out->stripped = a->tokio.stripped;
	out->debug_file = a->tokio.debug_file;
	out->ret_sites = a->tokio.nret_sites;
	out->ret_unprobed = a->tokio.ret_unprobed;
}
