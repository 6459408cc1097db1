// SPDX-License-Identifier: MIT
/* Unwinder and symbolizer for one traced process, on top of libdwfl.
 *
 * Modules come from dwfl_linux_proc_report; their ELF files are opened by
 * our find_elf so that what is really mapped is read, even when the path
 * now names another file or nothing. Unwinding runs libdwfl's CFI
 * unwinder on a pseudo-thread whose registers and stack are the captured
 * ones (Dwfl_Thread_Callbacks), not on the live process. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sym/debugfile.h"
#include "sym/sym.h"

/* Direct-mapped pc -> frame cache: allocation and spawn sites repeat, and
 * a bounded table needs no eviction policy. Power of two. */
#define CACHE_SLOTS 8192
/* sym__frame and sym__unwind re-read the maps by themselves on a miss, at
 * most this often, so that a dlopen'ed library shows up without making
 * every unknown pc (JIT code, garbage) cost a /proc read. */
#define AUTO_REFRESH_NS 1000000000ull
#define NAME_BUF 4096
#define CHUNK_BYTES 65536

/* DWARF register numbers of the x86-64 psABI. */
enum { DW_RBX = 3, DW_RBP = 6, DW_RSP = 7, DW_R12 = 12, DW_RIP = 16 };

struct file_map {
	uint64_t start, end;
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

/* Interned strings: open addressing over pointers into chunks. */
struct strtab {
	const char **slots;
	uint32_t *hashes;
	size_t mask, count;
	struct chunk *chunks;
};

/* A function symbol, address already relocated to the process. */
struct msym {
	uint64_t addr, size;
	const char *name; /* in the module's ELF string table */
	int rank;
};

/* What we keep per libdw module (its userdata). libdwfl's own address ->
 * symbol lookup scans the whole symbol table on every call (170 us for
 * glibc's 10k symbols), so each module gets a sorted index on first use. */
struct sym_module {
	struct sym_proc *p;
	struct sym_module *next;
	bool live, indexed;
	struct msym *syms;
	size_t nsyms;
};

struct cache_slot {
	uint64_t pc;
	bool used, is_ret;
	int rc;
	struct sym_frame f;
};

/* State of one sym__unwind, seen by the thread callbacks. */
struct unwind {
	const struct sym_regs *regs;
	const uint8_t *stack;
	uint64_t lo, hi; /* the copy covers [lo, hi) */
	uint64_t last_sp;
	uint64_t *pcs;
	int max, n;
	bool first_seen;
};

struct sym_proc {
	pid_t pid;
	Dwfl *dwfl;
	Elf *arch;
	bool attached;
	int mem_fd;
	struct file_map *maps;
	size_t nmaps;
	struct sym_module *mods;
	uint64_t maps_sig;
	uint64_t next_auto_refresh;
	struct unwind *cur;
	struct strtab strs;
	struct cache_slot *cache;
	char namebuf[NAME_BUF];
	/* An ELF header alone: tells libdw the architecture without loading a
	 * module, so the process state exists before any find_elf runs. */
	Elf64_Ehdr ehdr;
};

/* ---- interned strings ---------------------------------------------- */

static uint32_t hash_str(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static int strtab_grow(struct strtab *t)
{
	size_t cap = t->slots ? (t->mask + 1) * 2 : 1024;
	const char **slots = calloc(cap, sizeof(*slots));
	uint32_t *hashes = calloc(cap, sizeof(*hashes));

	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -ENOMEM;
	}
	for (size_t i = 0; t->slots && i <= t->mask; i++) {
		size_t j;

		if (!t->slots[i])
			continue;
		for (j = t->hashes[i] & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
			;
		slots[j] = t->slots[i];
		hashes[j] = t->hashes[i];
	}
	free(t->slots);
	free(t->hashes);
	t->slots = slots;
	t->hashes = hashes;
	t->mask = cap - 1;
	return 0;
}

static char *strtab_store(struct strtab *t, const char *s, size_t len)
{
	struct chunk *c = t->chunks;
	char *dst;

	if (!c || c->size - c->used < len + 1) {
		size_t size = len + 1 > CHUNK_BYTES ? len + 1 : CHUNK_BYTES;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = t->chunks;
		t->chunks = c;
	}
	dst = c->data + c->used;
	memcpy(dst, s, len);
	dst[len] = '\0';
	c->used += len + 1;
	return dst;
}

static const char *strtab_intern(struct strtab *t, const char *s, size_t len)
{
	uint32_t h = hash_str(s, len);
	size_t i;
	char *dst;

	if ((t->count + 1) * 4 > (t->mask + 1) * 3 && strtab_grow(t))
		return NULL;
	for (i = h & t->mask; t->slots[i]; i = (i + 1) & t->mask) {
		if (t->hashes[i] == h && !strncmp(t->slots[i], s, len) &&
		    t->slots[i][len] == '\0')
			return t->slots[i];
	}
	dst = strtab_store(t, s, len);
	if (!dst)
		return NULL;
	t->slots[i] = dst;
	t->hashes[i] = h;
	t->count++;
	return dst;
}

static void strtab_free(struct strtab *t)
{
	struct chunk *c = t->chunks, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	free(t->slots);
	free(t->hashes);
}

/* ---- /proc/PID/maps ------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int read_file(const char *path, char **out, size_t *out_len)
{
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap), *nbuf;
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				err = -ENOMEM;
				goto fail;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

/* File-backed mappings, in address order as the kernel lists them: the
 * start-end names that /proc/PID/map_files wants. */
static int parse_maps(char *buf, struct file_map **out, size_t *out_n)
{
	size_t n = 0, cap = 0;
	struct file_map *maps = NULL, *nmaps;
	char *line, *save = NULL;

	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		uint64_t start, end, off, ino;
		unsigned int maj, min;
		int pos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64
			   " %x:%x %" SCNu64 " %n",
			   &start, &end, &off, &maj, &min, &ino, &pos) < 6 ||
		    pos <= 0 || line[pos] != '/')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nmaps = realloc(maps, cap * sizeof(*maps));
			if (!nmaps) {
				free(maps);
				return -ENOMEM;
			}
			maps = nmaps;
		}
		maps[n].start = start;
		maps[n].end = end;
		n++;
	}
	*out = maps;
	*out_n = n;
	return 0;
}

static const struct file_map *maps_find(const struct sym_proc *p,
					uint64_t start)
{
	size_t lo = 0, hi = p->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->maps[mid].start == start)
			return &p->maps[mid];
		if (p->maps[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- finding ELF and debug files ------------------------------------- */

static int open_regular(const char *path)
{
	struct stat st;

	/* Mappings of device files must not be opened: open may block or
	 * have side effects. stat follows map_files and exe links. */
	if (stat(path, &st) || !S_ISREG(st.st_mode))
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int find_elf(Dwfl_Module *mod, void **userdata, const char *name,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	static const char deleted_sfx[] = " (deleted)";
	struct sym_module *sm = *userdata;
	struct sym_proc *p = sm ? sm->p : NULL;
	char path[PATH_MAX + 64], clean[PATH_MAX], exe[PATH_MAX];
	const struct file_map *m;
	size_t len = strlen(name), sfx = sizeof(deleted_sfx) - 1;
	bool deleted = false;
	ssize_t n;
	int fd;

	if (!p || name[0] != '/' || len >= sizeof(clean))
		goto libdw;
	memcpy(clean, name, len + 1);
	if (len > sfx && !strcmp(clean + len - sfx, deleted_sfx)) {
		clean[len - sfx] = '\0';
		deleted = true;
	}
	/* The mapped inode itself, whatever its path has become since. Needs
	 * CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE). */
	m = maps_find(p, base);
	if (m) {
		snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64
			 "-%" PRIx64, (int)p->pid, m->start, m->end);
		fd = open_regular(path);
		if (fd >= 0)
			goto found;
	}
	/* The path as the process sees it: other mount namespaces. */
	if (!deleted) {
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)p->pid,
			 clean);
		fd = open_regular(path);
		if (fd >= 0)
			goto found;
	}
	/* A deleted main executable stays reachable through exe without any
	 * capability: the common "rebuilt while running" case. */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)p->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (!strcmp(exe, name)) {
			fd = open_regular(path);
			if (fd >= 0)
				goto found;
		}
	}
libdw:
	/* The host path, or for deleted files and the vDSO the image in
	 * memory (loaded segments only: dynamic symbols, CFI). */
	return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name,
					elfp);
found:
	/* The original path: separate debug files are looked for next to it. */
	*file_name = strdup(clean);
	if (!*file_name) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The separate debug file, found where gdb looks (debugfile.c: by build
 * id under --debug-dir and /usr/lib/debug, then by .gnu_debuglink) and
 * nowhere else: dwfl_standard_find_debuginfo would ask debuginfod when
 * DEBUGINFOD_URLS is set, a network fetch we never want in a tracer.
 * libdwfl takes the fd and the name. file_name is the binary as the
 * process names it (NULL for an image read from memory). */
static int find_debuginfo(Dwfl_Module *mod, void **userdata,
			  const char *modname, GElf_Addr base,
			  const char *file_name, const char *link,
			  GElf_Word crc, char **debuginfo_file_name)
{
	const unsigned char *id = NULL;
	char path[PATH_MAX];
	GElf_Addr vaddr;
	int id_len = dwfl_module_build_id(mod, &id, &vaddr);
	int fd;

	if (debugfile__find(file_name, id, id_len > 0 ? (size_t)id_len : 0,
			    link, path, sizeof(path)))
		return -1;
	fd = open_regular(path);
	if (fd < 0)
		return -1;
	*debuginfo_file_name = strdup(path);
	if (!*debuginfo_file_name) {
		close(fd);
		return -1;
	}
	return fd;
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
};

/* ---- the pseudo-thread: captured registers and stack ------------------ */

static pid_t thread_next(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct sym_proc *p = arg;

	if (*thread_argp)
		return 0;
	*thread_argp = p;
	return p->pid;
}

static bool thread_get(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	*thread_argp = arg;
	return true;
}

static bool thread_memory_read(Dwfl *dwfl, Dwarf_Addr addr,
			       Dwarf_Word *result, void *arg)
{
	struct sym_proc *p = arg;
	const struct unwind *u = p->cur;

	if (!u)
		return false;
	/* The stack as it was at the capture point. */
	if (addr >= u->lo && u->hi - u->lo >= sizeof(*result) &&
	    addr - u->lo <= u->hi - u->lo - sizeof(*result)) {
		memcpy(result, u->stack + (addr - u->lo), sizeof(*result));
		return true;
	}
	/* A rare CFI expression may read a module's data. The live stack
	 * (or heap) is never read: it no longer holds what was captured. */
	if (p->mem_fd < 0 || addr > INT64_MAX - sizeof(*result) ||
	    !dwfl_addrmodule(dwfl, addr))
		return false;
	return pread(p->mem_fd, result, sizeof(*result), (off_t)addr) ==
	       (ssize_t)sizeof(*result);
}

static bool thread_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct sym_proc *p = arg;
	const struct sym_regs *r = p->cur ? p->cur->regs : NULL;
	Dwarf_Word bx, bp_sp[2], r12_ip[5];

	if (!r)
		return false;
	/* Only what was captured: the rest stays undefined, so CFI that
	 * needs a caller-saved register fails instead of using a zero. */
	bx = r->bx;
	bp_sp[0] = r->bp;
	bp_sp[1] = r->sp;
	r12_ip[0] = r->r12;
	r12_ip[1] = r->r13;
	r12_ip[2] = r->r14;
	r12_ip[3] = r->r15;
	r12_ip[4] = r->ip;
	if (!dwfl_thread_state_registers(thread, DW_RBX, 1, &bx) ||
	    !dwfl_thread_state_registers(thread, DW_RBP, 2, bp_sp) ||
	    !dwfl_thread_state_registers(thread, DW_R12, 5, r12_ip))
		return false;
	dwfl_thread_state_register_pc(thread, r->ip);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = thread_next,
	.get_thread = thread_get,
	.memory_read = thread_memory_read,
	.set_initial_registers = thread_set_initial_registers,
};

/* ---- process ----------------------------------------------------------- */

static void module_free(struct sym_module *sm)
{
	free(sm->syms);
	free(sm);
}

static int mark_module(Dwfl_Module *mod, void **userdata, const char *name,
		       Dwarf_Addr start, void *arg)
{
	struct sym_proc *p = arg;
	struct sym_module *sm = *userdata;

	if (!sm) {
		sm = calloc(1, sizeof(*sm));
		if (!sm)
			return DWARF_CB_OK; /* find_elf falls back to libdw's */
		sm->p = p;
		sm->next = p->mods;
		p->mods = sm;
		*userdata = sm;
	}
	sm->live = true;
	return DWARF_CB_OK;
}

/* Gives every module its sym_module and frees those of the modules
 * libdwfl dropped at dwfl_report_end (it does not tell us). */
static void sync_modules(struct sym_proc *p)
{
	struct sym_module **link = &p->mods, *sm;

	dwfl_getmodules(p->dwfl, mark_module, p, 0);
	while ((sm = *link)) {
		if (!sm->live) {
			*link = sm->next;
			module_free(sm);
			continue;
		}
		sm->live = false;
		link = &sm->next;
	}
}

static int load_elf(Dwfl_Module *mod, void **userdata, const char *name,
		    Dwarf_Addr start, void *arg)
{
	Dwarf_Addr bias;

	dwfl_module_getelf(mod, &bias);
	return DWARF_CB_OK;
}

static void cache_clear(struct sym_proc *p)
{
	memset(p->cache, 0, CACHE_SLOTS * sizeof(*p->cache));
}

/* Reports the current mappings to libdw. Returns 1 when they changed, 0
 * when they did not (nothing done), or a negative errno. */
static int reload(struct sym_proc *p, bool force)
{
	char path[64], *buf = NULL;
	struct file_map *maps = NULL;
	size_t len = 0, nmaps;
	uint64_t sig;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
	err = read_file(path, &buf, &len);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	sig = ((uint64_t)hash_str(buf, len) << 32) ^ len;
	if (!force && sig == p->maps_sig) {
		free(buf);
		return 0;
	}
	/* A zombie's maps are empty: keep what we know of the process. */
	if (!len) {
		free(buf);
		return -ESRCH;
	}
	err = parse_maps(buf, &maps, &nmaps);
	free(buf);
	if (err)
		return err;
	free(p->maps);
	p->maps = maps;
	p->nmaps = nmaps;

	/* Modules reported again with the same name and range keep their
	 * loaded ELF and CFI; the others are dropped. */
	dwfl_report_begin(p->dwfl);
	err = dwfl_linux_proc_report(p->dwfl, p->pid);
	if (dwfl_report_end(p->dwfl, NULL, NULL) && !err)
		err = -1;
	if (err)
		return err > 0 ? (err == ENOENT ? -ESRCH : -err) : -EIO;
	sync_modules(p);
	/* Open every ELF now, while /proc/PID/map_files still leads to it: a
	 * short-lived target may be gone when its stacks are symbolized. */
	dwfl_getmodules(p->dwfl, load_elf, NULL, 0);
	p->maps_sig = sig;
	cache_clear(p);
	return 1;
}

static int auto_refresh(struct sym_proc *p)
{
	uint64_t now = now_ns();

	if (now < p->next_auto_refresh)
		return 0;
	p->next_auto_refresh = now + AUTO_REFRESH_NS;
	return reload(p, false);
}

int sym__open(pid_t pid, struct sym_proc **out)
{
	struct sym_proc *p;
	char path[64];
	int err;

	if (pid <= 0 || !out)
		return -EINVAL;
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	p->mem_fd = -1;
	p->cache = calloc(CACHE_SLOTS, sizeof(*p->cache));
	if (!p->cache || strtab_grow(&p->strs)) {
		err = -ENOMEM;
		goto fail;
	}
	elf_version(EV_CURRENT);
	p->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!p->dwfl) {
		err = -ENOMEM;
		goto fail;
	}

	memcpy(p->ehdr.e_ident, ELFMAG, SELFMAG);
	p->ehdr.e_ident[EI_CLASS] = ELFCLASS64;
	p->ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
	p->ehdr.e_ident[EI_VERSION] = EV_CURRENT;
	p->ehdr.e_type = ET_EXEC;
	p->ehdr.e_machine = EM_X86_64;
	p->ehdr.e_version = EV_CURRENT;
	p->ehdr.e_ehsize = sizeof(p->ehdr);
	p->arch = elf_memory((char *)&p->ehdr, sizeof(p->ehdr));
	/* Without process state we can still symbolize; unwinding reports
	 * the first pc only. */
	p->attached = p->arch &&
		      dwfl_attach_state(p->dwfl, p->arch, pid,
					&thread_callbacks, p);

	err = reload(p, true);
	if (err < 0)
		goto fail;
	if (!p->attached)
		p->attached = dwfl_attach_state(p->dwfl, NULL, pid,
						&thread_callbacks, p);

	/* Only for the rare CFI expression that reads a module's data. */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	p->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	*out = p;
	return 0;
fail:
	sym__close(p);
	return err;
}

int sym__refresh(struct sym_proc *p)
{
	int err;

	if (!p)
		return -EINVAL;
	err = reload(p, false);
	return err < 0 ? err : 0;
}

void sym__close(struct sym_proc *p)
{
	if (!p)
		return;
	if (p->dwfl)
		dwfl_end(p->dwfl);
	if (p->arch)
		elf_end(p->arch);
	if (p->mem_fd >= 0)
		close(p->mem_fd);
	while (p->mods) {
		struct sym_module *next = p->mods->next;

		module_free(p->mods);
		p->mods = next;
	}
	strtab_free(&p->strs);
	free(p->maps);
	free(p->cache);
	free(p);
}

/* ---- unwinding ----------------------------------------------------------- */

static int unwind_frame(Dwfl_Frame *frame, void *arg)
{
	struct unwind *u = arg;
	Dwarf_Addr pc;
	Dwarf_Word sp;
	bool activation;

	/* The initial frame is regs->ip, already in pcs[0]. */
	if (!u->first_seen) {
		u->first_seen = true;
		return DWARF_CB_OK;
	}
	if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0)
		return DWARF_CB_ABORT;
	/* Each caller's frame lies above its callee's, inside the copy. This
	 * ends loops and garbage chains, and refuses frame-pointer steps
	 * that left the copied stack. */
	if (dwfl_frame_reg(frame, DW_RSP, &sp) == 0) {
		if (sp <= u->last_sp || sp > u->hi)
			return DWARF_CB_ABORT;
		u->last_sp = sp;
	}
	u->pcs[u->n++] = pc;
	return u->n < u->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

int sym__unwind(struct sym_proc *p, const struct sym_regs *regs,
		const void *stack, size_t len, uint64_t *pcs, int max)
{
	struct unwind u = {
		.regs = regs,
		.stack = stack,
		.pcs = pcs,
		.max = max,
	};

	if (!p || !regs || !pcs || max <= 0 || (!stack && len))
		return -EINVAL;
	pcs[0] = regs->ip;
	if (max == 1 || !p->attached)
		return 1;
	u.lo = regs->sp;
	u.hi = len > UINT64_MAX - regs->sp ? UINT64_MAX : regs->sp + len;

	for (int attempt = 0;; attempt++) {
		uint64_t last;

		u.n = 1;
		u.first_seen = false;
		u.last_sp = regs->sp;
		p->cur = &u;
		/* Errors only say where the walk stopped: the pcs so far stand. */
		(void)dwfl_getthread_frames(p->dwfl, p->pid, unwind_frame, &u);
		p->cur = NULL;
		if (attempt || u.n == max)
			break;
		/* Stopped in no known module: maybe a library dlopen'ed since. */
		last = u.n > 1 ? pcs[u.n - 1] - 1 : pcs[0];
		if (dwfl_addrmodule(p->dwfl, last) || auto_refresh(p) <= 0)
			break;
	}
	return u.n;
}

/* ---- symbolization -------------------------------------------------------- */

/* Which of several symbols at one address names it: global over weak
 * over local, functions over untyped labels, sized over sizeless. */
static int msym_rank(const GElf_Sym *sym)
{
	int rank = 0;

	switch (GELF_ST_BIND(sym->st_info)) {
	case STB_GLOBAL:
		rank += 4;
		break;
	case STB_WEAK:
		rank += 2;
		break;
	}
	if (GELF_ST_TYPE(sym->st_info) != STT_NOTYPE)
		rank += 8;
	if (sym->st_size)
		rank += 16;
	return rank;
}

static int msym_cmp(const void *a, const void *b)
{
	const struct msym *x = a, *y = b;
	size_t ux, uy, lx, ly;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return y->rank - x->rank; /* best first */
	/* Aliases: the public name (malloc, not __libc_malloc), as perf. */
	ux = strspn(x->name, "_");
	uy = strspn(y->name, "_");
	if (ux != uy)
		return ux < uy ? -1 : 1;
	lx = strlen(x->name);
	ly = strlen(y->name);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void module_index(struct sym_module *sm, Dwfl_Module *mod)
{
	int n = dwfl_module_getsymtab(mod);
	size_t k = 0;

	sm->indexed = true;
	if (n <= 1)
		return;
	sm->syms = malloc((size_t)n * sizeof(*sm->syms));
	if (!sm->syms)
		return;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name;
		int type;

		name = dwfl_module_getsym_info(mod, i, &sym, &addr, &shndx,
					       NULL, NULL);
		type = GELF_ST_TYPE(sym.st_info);
		if (!name || !name[0] || shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC &&
		     type != STT_NOTYPE))
			continue;
		sm->syms[k++] = (struct msym){
			.addr = addr,
			.size = sym.st_size,
			.name = name,
			.rank = msym_rank(&sym),
		};
	}
	qsort(sm->syms, k, sizeof(*sm->syms), msym_cmp);
	/* One symbol per address: the best-ranked, first after sorting. */
	sm->nsyms = 0;
	for (size_t i = 0; i < k; i++) {
		if (sm->nsyms && sm->syms[sm->nsyms - 1].addr == sm->syms[i].addr)
			continue;
		sm->syms[sm->nsyms++] = sm->syms[i];
	}
}

/* The symbol that contains ADDR, or the closest sizeless one before it
 * (hand-written assembly), like dwfl_module_addrinfo but O(log n). */
static const char *module_symbol(Dwfl_Module *mod, Dwarf_Addr addr)
{
	void **ud = NULL;
	struct sym_module *sm;
	size_t lo = 0, hi;

	dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	sm = ud ? *ud : NULL;
	if (!sm) {
		GElf_Off off;
		GElf_Sym sym;

		return dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL,
					    NULL);
	}
	if (!sm->indexed)
		module_index(sm, mod);
	hi = sm->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sm->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo: first symbol above ADDR. A sizeless symbol right before it
	 * counts; a few steps back cover a sized symbol followed by an
	 * inner label. */
	for (size_t i = lo, steps = 0; i > 0 && steps < 4; i--, steps++) {
		const struct msym *m = &sm->syms[i - 1];

		if (m->size ? addr - m->addr < m->size : steps == 0)
			return m->name;
	}
	return NULL;
}

/* Function name from DWARF, for code the symbol tables do not cover. The
 * outermost subprogram is named, as the symbol table would. */
static const char *dwarf_function(Dwfl_Module *mod, Dwarf_Addr addr)
{
	Dwarf_Die *cu, *scopes = NULL;
	Dwarf_Attribute attr;
	const char *name = NULL;
	Dwarf_Addr bias;
	int n;

	cu = dwfl_module_addrdie(mod, addr, &bias);
	if (!cu)
		return NULL;
	n = dwarf_getscopes(cu, addr - bias, &scopes);
	for (int i = n - 1; i >= 0; i--) {
		if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram)
			continue;
		name = dwarf_formstring(dwarf_attr_integrate(
			&scopes[i], DW_AT_linkage_name, &attr));
		if (!name)
			name = dwarf_diename(&scopes[i]);
		break;
	}
	free(scopes);
	return name;
}

/* " (deleted)" that /proc/PID/maps appends to a file removed since. */
static size_t name_len(const char *name)
{
	static const char deleted_sfx[] = " (deleted)";
	size_t len = strlen(name), sfx = sizeof(deleted_sfx) - 1;

	if (len > sfx && !strcmp(name + len - sfx, deleted_sfx))
		len -= sfx;
	return len;
}

static const char *module_basename(struct strtab *strs, const char *name)
{
	const char *base;

	if (!name)
		return NULL;
	if (!strncmp(name, "[vdso", 5))
		return strtab_intern(strs, "[vdso]", 6);
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	return strtab_intern(strs, base, name_len(base));
}

/* Which file, and where in it: the module's path and build id, and addr
 * as an ELF virtual address of that file. These stay valid after the
 * process is gone, so memscope can symbolize the frame later from a
 * debug file (a stripped binary leaves us nothing better now). */
static void identify(struct strtab *strs, Dwfl_Module *mod, const char *name,
		     Dwarf_Addr addr, struct sym_frame *out)
{
	char hex[2 * DEBUGFILE_ID_MAX + 1];
	const unsigned char *id;
	Dwarf_Addr bias = 0;
	GElf_Addr vaddr;
	int n;

	out->module = module_basename(strs, name);
	if (name && name[0] == '/')
		out->path = strtab_intern(strs, name, name_len(name));
	/* No ELF: the offset from the module's start is all we would have,
	 * and it is not an address of any file. */
	if (dwfl_module_getelf(mod, &bias))
		out->addr = addr - bias;
	n = dwfl_module_build_id(mod, &id, &vaddr);
	if (n > 0 && n <= DEBUGFILE_ID_MAX) {
		debugfile__hex(id, (size_t)n, hex);
		out->build_id = strtab_intern(strs, hex, 2 * (size_t)n);
	}
}

/* Function (demangled), file and line of addr in mod. */
static void describe(struct strtab *strs, char *namebuf, size_t size,
		     Dwfl_Module *mod, Dwarf_Addr addr, struct sym_frame *out)
{
	const char *name, *file;
	Dwfl_Line *line;
	int lineno = 0, len;

	name = module_symbol(mod, addr);
	if (!name)
		name = dwarf_function(mod, addr);
	if (name) {
		len = sym__demangle(name, namebuf, size);
		if (len > 0)
			out->function = strtab_intern(strs, namebuf,
						      (size_t)len);
	}

	line = dwfl_module_getsrc(mod, addr);
	file = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL) :
		      NULL;
	if (file) {
		out->file = strtab_intern(strs, file, strlen(file));
		out->line = out->file ? lineno : 0;
	}
}

/* Does addr fall in one of the module's loaded segments? libdwfl gives a
 * module the whole span of its file's mappings, and a program that also
 * maps that file by hand (libelf does, for example) stretches it over
 * whatever lies between: another library there is not this module. */
static bool in_segment(Dwfl_Module *mod, Dwarf_Addr addr)
{
	Dwarf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	size_t n;

	if (!elf || elf_getphdrnum(elf, &n))
		return true; /* nothing to check against: trust the span */
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (addr - bias >= (ph.p_vaddr & ~0xfffull) &&
		    addr - bias < ((ph.p_vaddr + ph.p_memsz + 0xfff) & ~0xfffull))
			return true;
	}
	return false;
}

static int resolve(struct sym_proc *p, uint64_t pc, bool is_ret,
		   struct sym_frame *out)
{
	Dwarf_Addr addr = is_ret && pc ? pc - 1 : pc;
	Dwfl_Module *mod;
	const char *name;

	memset(out, 0, sizeof(*out));
	out->pc = pc;
	mod = dwfl_addrmodule(p->dwfl, addr);
	if (!mod || !in_segment(mod, addr))
		return -ENOENT;
	name = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
	identify(&p->strs, mod, name, addr, out);
	describe(&p->strs, p->namebuf, sizeof(p->namebuf), mod, addr, out);
	return 0;
}

static struct cache_slot *cache_slot(struct sym_proc *p, uint64_t pc,
				     bool is_ret)
{
	uint64_t h = (pc ^ (uint64_t)is_ret) * 0x9e3779b97f4a7c15ull;

	return &p->cache[(h >> 32) & (CACHE_SLOTS - 1)];
}

int sym__frame(struct sym_proc *p, uint64_t pc, bool is_return_address,
	       struct sym_frame *out)
{
	struct cache_slot *s;
	int rc;

	if (!p || !out)
		return -EINVAL;
	s = cache_slot(p, pc, is_return_address);
	if (s->used && s->pc == pc && s->is_ret == is_return_address) {
		*out = s->f;
		rc = s->rc;
	} else {
		rc = resolve(p, pc, is_return_address, out);
	}
	/* A refresh empties the cache, so store after it. */
	if (rc == -ENOENT && auto_refresh(p) > 0)
		rc = resolve(p, pc, is_return_address, out);
	s = cache_slot(p, pc, is_return_address);
	s->used = true;
	s->pc = pc;
	s->is_ret = is_return_address;
	s->rc = rc;
	s->f = *out;
	return rc;
}

/* ---- files, without a process --------------------------------------- */

struct sym_file {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	struct sym_module sm; /* the module's symbol index */
	struct strtab strs;
	char namebuf[NAME_BUF];
};

/* dwfl_report_elf gives the module its ELF: nothing to find. */
static int no_elf(Dwfl_Module *mod, void **userdata, const char *name,
		  Dwarf_Addr base, char **file_name, Elf **elfp)
{
	return -1;
}

static const Dwfl_Callbacks file_callbacks = {
	.find_elf = no_elf,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

int sym__file_open(const char *path, struct sym_file **out)
{
	struct sym_file *f;
	struct stat st;
	void **ud = NULL;
	const char *base;
	int fd, err;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	/* Paths may come from an untrusted snapshot: never open a FIFO or a
	 * device, whose open may block or have side effects. */
	if (stat(path, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = calloc(1, sizeof(*f));
	if (!f || strtab_grow(&f->strs)) {
		err = -ENOMEM;
		goto fail;
	}
	elf_version(EV_CURRENT);
	f->dwfl = dwfl_begin(&file_callbacks);
	if (!f->dwfl) {
		err = -ENOMEM;
		goto fail;
	}
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	/* Loaded at its own addresses (bias 0, add_p_vaddr): an address of
	 * the module is an ELF virtual address of the file. */
	dwfl_report_begin(f->dwfl);
	f->mod = dwfl_report_elf(f->dwfl, base, path, fd, 0, true);
	dwfl_report_end(f->dwfl, NULL, NULL);
	if (!f->mod) {
		err = -ENOEXEC;
		goto fail;
	}
	fd = -1; /* the module's now */
	dwfl_module_info(f->mod, &ud, NULL, NULL, NULL, NULL, NULL, NULL);
	if (ud)
		*ud = &f->sm;
	*out = f;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	sym__file_close(f);
	return err;
}

int sym__file_frame(struct sym_file *f, uint64_t addr, struct sym_frame *out)
{
	const char *name;

	if (!f || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->pc = addr;
	name = dwfl_module_info(f->mod, NULL, NULL, NULL, NULL, NULL, NULL,
				NULL);
	out->module = module_basename(&f->strs, name);
	out->addr = addr;
	describe(&f->strs, f->namebuf, sizeof(f->namebuf), f->mod, addr, out);
	return out->function || out->file ? 0 : -ENOENT;
}

void sym__file_close(struct sym_file *f)
{
	if (!f)
		return;
	if (f->dwfl)
		dwfl_end(f->dwfl);
	free(f->sm.syms);
	strtab_free(&f->strs);
	free(f);
}
