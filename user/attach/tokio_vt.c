// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "attach/tokio_vt.h"

#define EM_X86_64_ 62
#define EM_AARCH64_ 183
#define R_X86_64_RELATIVE_ 8
#define R_AARCH64_RELATIVE_ 1027
#define PT_LOAD_ 1
#define PT_DYNAMIC_ 2
#define PF_X_ 1
#define ET_EXEC_ 2
#define DT_NULL_ 0
#define DT_RELA_ 7
#define DT_RELASZ_ 8
#define DT_RELAENT_ 9
#define DT_RELRSZ_ 35
#define DT_RELR_ 36
#define DT_RELRENT_ 37

#define MAX_SEGS 32
#define VT_WORDS 10 /* 7 pointers, 3 offsets (and maybe a fourth) */

struct seg {
	uint64_t vaddr, memsz, off, filesz;
	uint32_t flags;
};

/* A code pointer stored in data: at `where`, pointing at `target`. */
struct ptr {
	uint64_t where, target;
};

struct image {
	const uint8_t *p;
	size_t len;
	uint16_t type, machine;
	struct seg seg[MAX_SEGS];
	size_t nseg;
	uint64_t dyn_off, dyn_size;
	struct ptr *ptrs;
	size_t nptrs, cap;
	unsigned problems;
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Is [off, off + n) inside the image? */
static bool in_image(const struct image *im, uint64_t off, uint64_t n)
{
	return off <= im->len && n <= im->len - off;
}

static const struct seg *seg_of(const struct image *im, uint64_t vaddr)
{
	for (size_t i = 0; i < im->nseg; i++) {
		const struct seg *s = &im->seg[i];

		if (vaddr >= s->vaddr && vaddr - s->vaddr < s->memsz)
			return s;
	}
	return NULL;
}

/* The file bytes at vaddr: n bytes of a segment's file part, or NULL. */
static const uint8_t *at_vaddr(const struct image *im, uint64_t vaddr,
			       uint64_t n)
{
	const struct seg *s = seg_of(im, vaddr);
	uint64_t in;

	if (!s)
		return NULL;
	in = vaddr - s->vaddr;
	if (in > s->filesz || n > s->filesz - in ||
	    !in_image(im, s->off + in, n))
		return NULL;
	return im->p + s->off + in;
}

static bool is_code(const struct image *im, uint64_t addr)
{
	const struct seg *s = seg_of(im, addr);

	return s && (s->flags & PF_X_);
}

static int read_headers(struct image *im)
{
	const uint8_t *e = im->p;
	uint64_t phoff;
	uint16_t phentsize, phnum;

	if (im->len < 64 || memcmp(e, "\177ELF", 4))
		return -ENOEXEC;
	if (e[4] != 2 /* ELFCLASS64 */ || e[5] != 1 /* little endian */)
		return -ENOEXEC;
	im->type = le16(e + 16);
	im->machine = le16(e + 18);
	if (im->machine != EM_X86_64_ && im->machine != EM_AARCH64_)
		return -ENOEXEC;
	phoff = le64(e + 32);
	phentsize = le16(e + 54);
	phnum = le16(e + 56);
	if (phentsize < 56 ||
	    !in_image(im, phoff, (uint64_t)phentsize * phnum)) {
		im->problems |= TOKIO_VT_E_TRUNCATED;
		return 0;
	}
	for (uint16_t i = 0; i < phnum; i++) {
		const uint8_t *ph = e + phoff + (uint64_t)i * phentsize;
		uint32_t type = le32(ph);

		if (type == PT_DYNAMIC_) {
			im->dyn_off = le64(ph + 8);
			im->dyn_size = le64(ph + 32);
		}
		if (type != PT_LOAD_ || im->nseg == MAX_SEGS)
			continue;
		im->seg[im->nseg].flags = le32(ph + 4);
		im->seg[im->nseg].off = le64(ph + 8);
		im->seg[im->nseg].vaddr = le64(ph + 16);
		im->seg[im->nseg].filesz = le64(ph + 32);
		im->seg[im->nseg].memsz = le64(ph + 40);
		im->nseg++;
	}
	return 0;
}

/* A code pointer in data: kept when it points into code from outside. */
static int add_ptr(struct image *im, uint64_t where, uint64_t target)
{
	const struct seg *s = seg_of(im, where);

	if (!s) {
		im->problems |= TOKIO_VT_E_RANGE;
		return 0;
	}
	if ((s->flags & PF_X_) || !is_code(im, target))
		return 0;
	if (im->nptrs == im->cap) {
		size_t cap = im->cap ? im->cap * 2 : 4096;
		struct ptr *n = realloc(im->ptrs, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		im->ptrs = n;
		im->cap = cap;
	}
	im->ptrs[im->nptrs].where = where;
	im->ptrs[im->nptrs].target = target;
	im->nptrs++;
	return 0;
}

struct dyn_tables {
	uint64_t rela, relasz, relaent;
	uint64_t relr, relrsz, relrent;
};

static void read_dynamic(struct image *im, struct dyn_tables *d)
{
	uint64_t n;

	if (!im->dyn_size)
		return;
	if (!in_image(im, im->dyn_off, im->dyn_size)) {
		im->problems |= TOKIO_VT_E_TRUNCATED;
		return;
	}
	n = im->dyn_size / 16;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *de = im->p + im->dyn_off + i * 16;
		uint64_t tag = le64(de), val = le64(de + 8);

		if (tag == DT_NULL_)
			break;
		switch (tag) {
		case DT_RELA_:
			d->rela = val;
			break;
		case DT_RELASZ_:
			d->relasz = val;
			break;
		case DT_RELAENT_:
			d->relaent = val;
			break;
		case DT_RELR_:
			d->relr = val;
			break;
		case DT_RELRSZ_:
			d->relrsz = val;
			break;
		case DT_RELRENT_:
			d->relrent = val;
			break;
		}
	}
}

static int scan_rela(struct image *im, const struct dyn_tables *d,
		     size_t *count)
{
	uint32_t relative = im->machine == EM_X86_64_ ? R_X86_64_RELATIVE_ :
							R_AARCH64_RELATIVE_;
	const uint8_t *t;
	uint64_t n;
	int err;

	if (!d->rela || !d->relasz)
		return 0;
	if (d->relaent && d->relaent != 24) {
		im->problems |= TOKIO_VT_E_FORMAT;
		return 0;
	}
	n = d->relasz / 24;
	/* Shrink a table that runs past its segment to what is there. */
	while (n && !(t = at_vaddr(im, d->rela, n * 24))) {
		im->problems |= TOKIO_VT_E_TRUNCATED;
		n /= 2;
	}
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *r = t + i * 24;

		if ((uint32_t)le64(r + 8) != relative)
			continue;
		(*count)++;
		err = add_ptr(im, le64(r), le64(r + 16));
		if (err)
			return err;
	}
	return 0;
}

/* RELR: relative relocations packed as addresses and bitmaps; the addend
 * is the word already at the place. */
static int relr_one(struct image *im, uint64_t where, size_t *count)
{
	const uint8_t *w = at_vaddr(im, where, 8);

	(*count)++;
	if (!w) {
		im->problems |= TOKIO_VT_E_RANGE;
		return 0;
	}
	return add_ptr(im, where, le64(w));
}

static int scan_relr(struct image *im, const struct dyn_tables *d,
		     size_t *count)
{
	const uint8_t *t;
	uint64_t n, where = 0;
	int err;

	if (!d->relr || !d->relrsz)
		return 0;
	if (d->relrent && d->relrent != 8) {
		im->problems |= TOKIO_VT_E_FORMAT;
		return 0;
	}
	n = d->relrsz / 8;
	while (n && !(t = at_vaddr(im, d->relr, n * 8))) {
		im->problems |= TOKIO_VT_E_TRUNCATED;
		n /= 2;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t e = le64(t + i * 8);

		if (!(e & 1)) {
			where = e;
			err = relr_one(im, where, count);
			where += 8;
		} else {
			if (!where) {
				/* A bitmap before any address. */
				im->problems |= TOKIO_VT_E_FORMAT;
				return 0;
			}
			err = 0;
			for (int b = 0; b < 63 && !err; b++)
				if (e >> (b + 1) & 1)
					err = relr_one(im,
						       where + 8 * (uint64_t)b,
						       count);
			where += 63 * 8;
		}
		if (err)
			return err;
	}
	return 0;
}

/* A fixed-address executable has no relocations: its code pointers are
 * the words of its data that fall in code. */
static int scan_words(struct image *im)
{
	for (size_t i = 0; i < im->nseg; i++) {
		const struct seg *s = &im->seg[i];
		uint64_t n = s->filesz / 8;
		int err;

		if (s->flags & PF_X_)
			continue;
		if (!in_image(im, s->off, n * 8)) {
			im->problems |= TOKIO_VT_E_TRUNCATED;
			continue;
		}
		for (uint64_t k = 0; k < n; k++) {
			uint64_t v = le64(im->p + s->off + k * 8);

			if (v && is_code(im, v)) {
				err = add_ptr(im, s->vaddr + k * 8, v);
				if (err)
					return err;
			}
		}
	}
	return 0;
}

static int ptr_cmp(const void *a, const void *b)
{
	const struct ptr *x = a, *y = b;

	return x->where < y->where ? -1 : x->where > y->where;
}

static void sort_ptrs(struct image *im)
{
	size_t out = 0;

	for (size_t i = 1; i < im->nptrs; i++) {
		if (im->ptrs[i].where < im->ptrs[i - 1].where) {
			qsort(im->ptrs, im->nptrs, sizeof(*im->ptrs), ptr_cmp);
			break;
		}
	}
	for (size_t i = 0; i < im->nptrs; i++)
		if (!out || im->ptrs[i].where != im->ptrs[out - 1].where)
			im->ptrs[out++] = im->ptrs[i];
	im->nptrs = out;
}

/* The three words after the pointers, as tokio lays out a Cell: the
 * Header (at least state, queue_next, vtable, owner_id) comes first, the
 * scheduler (zero-sized ones share the id's offset) and the 8-byte Id
 * next, the Trailer after the future. */
static bool offsets_ok(uint64_t trailer, uint64_t sched, uint64_t id)
{
	return (trailer | sched | id) % 8 == 0 && sched >= 24 && sched <= id &&
	       id - sched <= 4096 && id + 8 <= trailer &&
	       trailer < (1ull << 32);
}

static int add_vt(struct tokio_vt_set *set, size_t *cap,
		  const struct tokio_vt *vt)
{
	if (set->n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct tokio_vt *n = realloc(set->vt, c * sizeof(*n));

		if (!n)
			return -ENOMEM;
		set->vt = n;
		*cap = c;
	}
	set->vt[set->n++] = *vt;
	return 0;
}

/* Seven code pointers in a row, then three words that are not pointers
 * and read as a task layout. */
static int find_vtables(const struct image *im, struct tokio_vt_set *set)
{
	const struct ptr *p = im->ptrs;
	size_t cap = 0;
	int err;

	for (size_t i = 0; i + TOKIO_VT_FNS <= im->nptrs; i++) {
		uint64_t base = p[i].where;
		const uint8_t *w;
		struct tokio_vt vt;
		size_t k;

		for (k = 1; k < TOKIO_VT_FNS; k++)
			if (p[i + k].where != base + 8 * k)
				break;
		if (k < TOKIO_VT_FNS)
			continue;
		if (i + TOKIO_VT_FNS < im->nptrs &&
		    p[i + TOKIO_VT_FNS].where < base + 8 * VT_WORDS)
			continue;
		w = at_vaddr(im, base + 8 * TOKIO_VT_FNS, 24);
		if (!w)
			continue;
		vt.trailer_off = le64(w);
		vt.scheduler_off = le64(w + 8);
		vt.id_off = le64(w + 16);
		if (!offsets_ok(vt.trailer_off, vt.scheduler_off, vt.id_off))
			continue;
		vt.location_off = 0;
		w = at_vaddr(im, base + 8 * VT_WORDS, 8);
		if (w && !(i + TOKIO_VT_FNS < im->nptrs &&
			   p[i + TOKIO_VT_FNS].where == base + 8 * VT_WORDS))
			vt.location_off = tokio_vt__location_off(
				vt.trailer_off, vt.id_off, le64(w));
		vt.vaddr = base;
		for (k = 0; k < TOKIO_VT_FNS; k++)
			vt.fn[k] = p[i + k].target;
		err = add_vt(set, &cap, &vt);
		if (err)
			return err;
		i += TOKIO_VT_FNS - 1;
	}
	return 0;
}

/* tokio's panic locations keep its source path: ".../tokio-1.47.1/src/". */
static void find_version(const struct image *im, char *out, size_t size)
{
	const uint8_t *p = im->p, *end = im->p + im->len, *q;

	while (p < end && (q = memmem(p, (size_t)(end - p), "tokio-", 6))) {
		const uint8_t *v = q + 6, *s = v;
		int dots = 0;

		p = q + 6;
		if (q > im->p && q[-1] != '/' && q[-1] != '\\')
			continue;
		while (s < end && s - v < 20 &&
		       ((*s >= '0' && *s <= '9') || (*s == '.' && ++dots)))
			s++;
		if (dots != 2 || s == v ||
		    !(s < end && (*s == '/' || *s == '\\')) || end - s < 5 ||
		    memcmp(s + 1, "src", 3))
			continue;
		if ((size_t)(s - v) >= size)
			continue;
		memcpy(out, v, (size_t)(s - v));
		out[s - v] = '\0';
		if (tokio_vt__version_code(out))
			return;
		out[0] = '\0';
	}
}

int tokio_vt__scan(const void *img, size_t len, struct tokio_vt_set *out)
{
	struct image im = { .p = img, .len = len };
	struct dyn_tables d = { 0 };
	int err;

	memset(out, 0, sizeof(*out));
	err = read_headers(&im);
	if (err)
		return err;
	read_dynamic(&im, &d);
	err = scan_rela(&im, &d, &out->relocs);
	if (!err)
		err = scan_relr(&im, &d, &out->relocs);
	if (!err && im.type == ET_EXEC_ && !out->relocs)
		err = scan_words(&im);
	if (!err) {
		sort_ptrs(&im);
		err = find_vtables(&im, out);
	}
	if (!err && out->n)
		find_version(&im, out->version, sizeof(out->version));
	out->problems = im.problems;
	free(im.ptrs);
	return err;
}

void tokio_vt__release(struct tokio_vt_set *s)
{
	free(s->vt);
	s->vt = NULL;
	s->n = 0;
}

const char *tokio_vt__problems(unsigned problems)
{
	if (problems & TOKIO_VT_E_TRUNCATED)
		return "truncated ELF tables";
	if (problems & TOKIO_VT_E_RANGE)
		return "relocations outside every segment";
	if (problems & TOKIO_VT_E_FORMAT)
		return "malformed relocation table";
	return "";
}

uint32_t tokio_vt__version_code(const char *v)
{
	unsigned long part[3];
	char *end;

	for (int i = 0; i < 3; i++) {
		if (*v < '0' || *v > '9')
			return 0;
		part[i] = strtoul(v, &end, 10);
		if (part[i] > 999 || (i < 2 && *end != '.'))
			return 0;
		v = end + (i < 2);
	}
	if (*end || part[0] == 0)
		return 0;
	return (uint32_t)(part[0] * 1000000 + part[1] * 1000 + part[2]);
}

uint64_t tokio_vt__location_off(uint64_t trailer_off, uint64_t id_off,
				uint64_t word)
{
	return word % 8 == 0 && word >= id_off + 8 && word <= id_off + 16 &&
			       word + 8 <= trailer_off ?
		       word :
		       0;
}

int tokio_vt__layout(const struct tokio_vt *vt, uint32_t version,
		     struct tokio_layout *out)
{
	/* The Header is 32 bytes: a Core that starts later is aligned to
	 * where it starts (its stage is, the scheduler and Id are 8). */
	uint64_t align = 8, stage, tag = 0, last = vt->id_off;
	uint64_t trailer = vt->trailer_off;

	if (!offsets_ok(trailer, vt->scheduler_off, vt->id_off))
		return -EINVAL;
	if (vt->scheduler_off > 32 &&
	    !(vt->scheduler_off & (vt->scheduler_off - 1)))
		align = vt->scheduler_off;
	if (vt->location_off > last)
		last = vt->location_off;
	stage = (last + 8 + align - 1) & ~(align - 1);
	/* repr(C) (1.40+): a C int tag, then the aligned union; before, a
	 * Rust enum that (measured with 1.24, 1.29 and 1.38) also puts its
	 * tag first, in a word of its own. */
	(void)version;
	tag = align;
	if (stage >= trailer)
		stage = last + 8;
	if (stage + tag >= trailer)
		tag = 0;
	out->future_off = stage + tag;
	out->future_size = trailer - out->future_off;
	return 0;
}

/* `mov 0x10(%base),%reg` (REX.W) ending at c + at: its base register, or
 * -1. Four bytes, five when the base needs a SIB byte (%rsp, %r12). */
static int vt_load_base(const uint8_t *c, size_t at, unsigned reg)
{
	for (size_t n = 4; n <= 5; n++) {
		const uint8_t *p = c + at - n;
		unsigned rex, modrm, base;

		if (at < n)
			continue;
		rex = p[0];
		modrm = p[2];
		if ((rex & 0xf8) != 0x48 || p[1] != 0x8b || p[n - 1] != 0x10 ||
		    (modrm >> 6) != 1 || ((modrm >> 3) & 7) != (reg & 7) ||
		    !!(rex & 4) != !!(reg & 8))
			continue;
		base = (modrm & 7) | (rex & 1 ? 8 : 0);
		if ((modrm & 7) == 4) {
			if (n != 5 || p[3] != 0x24)
				continue;
		} else if (n != 4) {
			continue;
		}
		return (int)base;
	}
	return -1;
}

/* `mov %src,%rdi` (REX.W 89, register form) ending at c + at: src, or -1. */
static int mov_to_rdi(const uint8_t *c, size_t at)
{
	const uint8_t *p = c + at - 3;

	if (at < 3 || (p[0] & 0xfa) != 0x48 || p[1] != 0x89 ||
	    (p[2] & 0xc7) != 0xc7)
		return -1;
	return (int)(((p[2] >> 3) & 7) | (p[0] & 4 ? 8 : 0));
}

/* Is there a vtable poll call ending at c + end, the call starting at
 * c + call (reg: the register it calls through)? */
static bool poll_call_at(const uint8_t *c, size_t call, unsigned reg)
{
	int base, src;

	/* mov 0x10(%rdi),%reg ; call */
	if (vt_load_base(c, call, reg) == 7)
		return true;
	/* mov 0x10(%rX),%reg ; mov %rX,%rdi ; call */
	src = mov_to_rdi(c, call);
	if (src >= 0 && vt_load_base(c, call - 3, reg) == src)
		return true;
	/* mov %rX,%rdi ; mov 0x10(%rX),%reg ; call */
	base = vt_load_base(c, call, reg);
	if (base < 0)
		return false;
	for (size_t n = 4; n <= 5; n++)
		if (call >= n && mov_to_rdi(c, call - n) == base &&
		    vt_load_base(c, call, reg) == base)
			return true;
	return false;
}

int tokio_vt__poll_calls(const void *img, size_t len, uint64_t **out, size_t *n)
{
	struct image im = { .p = img, .len = len };
	uint64_t *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (read_headers(&im))
		return 0;
	for (size_t si = 0; si < im.nseg; si++) {
		const struct seg *s = &im.seg[si];
		const uint8_t *c;
		uint64_t size;

		if (!(s->flags & PF_X_) || !in_image(&im, s->off, s->filesz))
			continue;
		c = im.p + s->off;
		size = s->filesz;
		for (uint64_t i = 1; i + 2 <= size; i++) {
			unsigned reg;
			size_t start;

			/* call *(%reg): ff /2, mod 00, no SIB, not RIP. */
			if (c[i] != 0xff || (c[i + 1] & 0xf8) != 0x10 ||
			    (c[i + 1] & 7) == 4 || (c[i + 1] & 7) == 5)
				continue;
			reg = c[i + 1] & 7;
			start = i;
			if (c[i - 1] == 0x41) {
				reg += 8;
				start = i - 1;
			}
			if (!poll_call_at(c, start, reg))
				continue;
			if (*n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				uint64_t *nv = realloc(v, nc * sizeof(*nv));

				if (!nv) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
				cap = nc;
			}
			v[(*n)++] = s->vaddr + i + 2;
		}
	}
	*out = v;
	return 0;
}
