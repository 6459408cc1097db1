// SPDX-License-Identifier: MIT
/*
 * The tokio vtable scanner on ELF images built here byte by byte (RELA,
 * RELR, a fixed-address executable, damaged tables), and on the real
 * tokio targets when they are built: every vtable it finds must have its
 * poll slot on a symbol named tokio::runtime::task::raw::poll.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attach/elf.h"
#include "attach/tokio_vt.h"

#define IMG 0x4000
#define TEXT 0x1000 /* vaddr == file offset for the text segment */
#define DATA_OFF 0x2000 /* the data segment: file offset ... */
#define DATA 0x5000 /* ... and vaddr */
#define VT (DATA + 0x100)
#define DYN (DATA + 0x800)
#define RELA (DATA + 0x400)

static uint8_t img[IMG];

static void put16(size_t off, uint16_t v)
{
	memcpy(img + off, &v, 2);
}

static void put32(size_t off, uint32_t v)
{
	memcpy(img + off, &v, 4);
}

static void put64(size_t off, uint64_t v)
{
	memcpy(img + off, &v, 8);
}

static size_t doff(uint64_t vaddr)
{
	return vaddr - DATA + DATA_OFF;
}

static void phdr(int i, uint32_t type, uint32_t flags, uint64_t off,
		 uint64_t vaddr, uint64_t size)
{
	size_t p = 64 + (size_t)i * 56;

	put32(p, type);
	put32(p + 4, flags);
	put64(p + 8, off);
	put64(p + 16, vaddr);
	put64(p + 32, size);
	put64(p + 40, size);
}

/* An ET_DYN (or ET_EXEC) x86-64 image: text, data, and a dynamic
 * section in the data. */
static void build(uint16_t type)
{
	memset(img, 0, sizeof(img));
	memcpy(img, "\177ELF", 4);
	img[4] = 2;
	img[5] = 1;
	img[6] = 1;
	put16(16, type);
	put16(18, 62);
	put64(32, 64);
	put16(54, 56);
	put16(56, 3);
	phdr(0, 1, 5, TEXT, TEXT, 0x1000);
	phdr(1, 1, 6, DATA_OFF, DATA, 0x1000);
	phdr(2, 2, 6, doff(DYN), DYN, 0x100);
}

static void dyn(int i, uint64_t tag, uint64_t val)
{
	put64(doff(DYN) + (size_t)i * 16, tag);
	put64(doff(DYN) + (size_t)i * 16 + 8, val);
}

static void offsets(uint64_t vt, uint64_t trailer, uint64_t sched, uint64_t id)
{
	put64(doff(vt) + 56, trailer);
	put64(doff(vt) + 64, sched);
	put64(doff(vt) + 72, id);
}

/* A RELA table: one relative relocation per vtable pointer (targets
 * TEXT + 0x10 * (k + 1)), plus a pointer into data that is not code. */
static int rela_vtables(const uint64_t *vts, int n)
{
	int r = 0;

	for (int v = 0; v < n; v++) {
		for (int k = 0; k < 7; k++, r++) {
			size_t e = doff(RELA) + (size_t)r * 24;

			put64(e, vts[v] + 8 * (uint64_t)k);
			put64(e + 8, 8); /* R_X86_64_RELATIVE */
			put64(e + 16, TEXT + 0x10 * (uint64_t)(k + 1) +
					      0x100 * (uint64_t)v);
		}
	}
	put64(doff(RELA) + (size_t)r * 24, VT - 8);
	put64(doff(RELA) + (size_t)r * 24 + 8, 8);
	put64(doff(RELA) + (size_t)r * 24 + 16, DATA + 0x10);
	r++;
	dyn(0, 7, RELA);
	dyn(1, 8, (uint64_t)r * 24);
	dyn(2, 9, 24);
	return r;
}

static void test_rela(void **state)
{
	uint64_t vts[] = { VT, VT + 0x60 };
	struct tokio_vt_set s;

	build(3);
	rela_vtables(vts, 2);
	offsets(VT, 240, 32, 40);
	offsets(VT + 0x60, 72, 32, 32); /* zero-sized scheduler */
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_int_equal(s.problems, 0);
	assert_int_equal(s.relocs, 15);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.vt[0].vaddr, VT);
	assert_int_equal(s.vt[0].fn[TOKIO_VT_POLL], TEXT + 0x10);
	assert_int_equal(s.vt[0].fn[TOKIO_VT_SHUTDOWN], TEXT + 0x70);
	assert_int_equal(s.vt[0].trailer_off, 240);
	assert_int_equal(s.vt[0].scheduler_off, 32);
	assert_int_equal(s.vt[0].id_off, 40);
	assert_int_equal(s.vt[0].location_off, 0);
	assert_int_equal(s.vt[1].fn[TOKIO_VT_POLL], TEXT + 0x110);
	assert_int_equal(s.vt[1].id_off, 32);
	assert_string_equal(s.version, "");
	tokio_vt__release(&s);
}

/* Seven pointers followed by words that are no task layout: not a
 * vtable. Eight pointers in a row: the last seven are looked at. */
static void test_rejects(void **state)
{
	uint64_t vts[] = { VT };
	struct tokio_vt_set s;

	build(3);
	rela_vtables(vts, 1);
	offsets(VT, 40, 32, 40); /* trailer before the id's end */
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_int_equal(s.n, 0);
	tokio_vt__release(&s);
	offsets(VT, 240, 8, 40); /* scheduler inside the Header */
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_int_equal(s.n, 0);
	tokio_vt__release(&s);
	offsets(VT, 244, 32, 40); /* not a multiple of 8 */
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_int_equal(s.n, 0);
	tokio_vt__release(&s);
}

/* The same vtable as RELR: an address entry, then a bitmap. */
static void test_relr(void **state)
{
	struct tokio_vt_set s;

	build(3);
	for (int k = 0; k < 7; k++)
		put64(doff(VT) + 8 * (size_t)k,
		      TEXT + 0x10 * (uint64_t)(k + 1));
	offsets(VT, 240, 32, 40);
	put64(doff(RELA), VT); /* VT */
	put64(doff(RELA) + 8, (0x3full << 1) | 1); /* VT + 8 .. VT + 48 */
	dyn(0, 36, RELA);
	dyn(1, 35, 16);
	dyn(2, 37, 8);
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_int_equal(s.problems, 0);
	assert_int_equal(s.relocs, 7);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.vt[0].fn[TOKIO_VT_SHUTDOWN], TEXT + 0x70);
	tokio_vt__release(&s);
}

/* A fixed-address executable: no relocations, the pointers are words. */
static void test_exec_words(void **state)
{
	struct tokio_vt_set s;

	build(2);
	for (int k = 0; k < 7; k++)
		put64(doff(VT) + 8 * (size_t)k,
		      TEXT + 0x10 * (uint64_t)(k + 1));
	offsets(VT, 240, 32, 40);
	/* tokio_unstable's fourth word: the spawn location's offset. */
	put64(doff(VT) + 80, 48);
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.vt[0].location_off, 48);
	tokio_vt__release(&s);
}

/* Damaged images: a warning, what could be read, never a crash. */
static void test_damaged(void **state)
{
	uint64_t vts[] = { VT };
	struct tokio_vt_set s;
	int n;

	build(3);
	n = rela_vtables(vts, 1);
	offsets(VT, 240, 32, 40);
	/* The table claims more than its segment holds. */
	dyn(1, 8, (uint64_t)n * 24 + 0x10000);
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_true(s.problems & TOKIO_VT_E_TRUNCATED);
	assert_string_not_equal(tokio_vt__problems(s.problems), "");
	tokio_vt__release(&s);
	/* A relocation outside every segment. */
	dyn(1, 8, (uint64_t)n * 24);
	put64(doff(RELA), 0x900000);
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_true(s.problems & TOKIO_VT_E_RANGE);
	assert_int_equal(s.n, 0);
	tokio_vt__release(&s);
	/* Program headers past the end. */
	build(3);
	put16(56, 400);
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_true(s.problems & TOKIO_VT_E_TRUNCATED);
	tokio_vt__release(&s);
	/* Every prefix of a valid image. */
	build(3);
	rela_vtables(vts, 1);
	offsets(VT, 240, 32, 40);
	for (size_t len = 0; len < sizeof(img); len += 7) {
		assert_true(tokio_vt__scan(img, len, &s) <= 0);
		tokio_vt__release(&s);
	}
	/* Not ours: 32-bit, big-endian, another machine. */
	build(3);
	img[4] = 1;
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), -ENOEXEC);
	tokio_vt__release(&s);
	build(3);
	put16(18, 3);
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), -ENOEXEC);
	tokio_vt__release(&s);
}

static void test_version(void **state)
{
	static const char path[] =
		"garbage tokio-util-0.7.3/src/x /reg/tokio-1.47.1/src/runtime/task/mod.rs";
	uint64_t vts[] = { VT };
	struct tokio_vt_set s;

	build(3);
	rela_vtables(vts, 1);
	offsets(VT, 240, 32, 40);
	memcpy(img + TEXT + 0x800, path, sizeof(path));
	assert_int_equal(tokio_vt__scan(img, sizeof(img), &s), 0);
	assert_string_equal(s.version, "1.47.1");
	tokio_vt__release(&s);
	assert_int_equal(tokio_vt__version_code("1.47.1"), 1047001);
	assert_int_equal(tokio_vt__version_code("1.24.2"), 1024002);
	assert_int_equal(tokio_vt__version_code("1.2"), 0);
	assert_int_equal(tokio_vt__version_code("1.2.3x"), 0);
	assert_int_equal(tokio_vt__version_code("0.2.3"), 0);
	assert_int_equal(tokio_vt__version_code(""), 0);
}

/* Layouts measured on real binaries (size_of_val of the future). */
static void test_layout(void **state)
{
	struct tokio_vt v = { 0 };
	struct tokio_layout l;

	/* tokio 1.24.2: a 65632-byte and a 96-byte future. */
	v.trailer_off = 65688;
	v.scheduler_off = 32;
	v.id_off = 40;
	assert_int_equal(tokio_vt__layout(&v, 1024002, &l), 0);
	assert_int_equal(l.future_size, 65632);
	assert_int_equal(l.future_off, 56);
	v.trailer_off = 152;
	assert_int_equal(tokio_vt__layout(&v, 1024002, &l), 0);
	assert_int_equal(l.future_size, 96);
	/* A 128-byte aligned future (it holds a Sleep): Core at 128. */
	v.trailer_off = 1152;
	v.scheduler_off = 128;
	v.id_off = 136;
	assert_int_equal(tokio_vt__layout(&v, 1024002, &l), 0);
	assert_int_equal(l.future_off, 384);
	assert_int_equal(l.future_size, 768);
	/* tokio_unstable: the spawn location sits before the stage. */
	v.trailer_off = 208;
	v.scheduler_off = 32;
	v.id_off = 48;
	v.location_off = 56;
	assert_int_equal(tokio_vt__layout(&v, 1047001, &l), 0);
	assert_int_equal(l.future_off, 72);
	assert_int_equal(l.future_size, 136);
	v.trailer_off = 40;
	assert_int_equal(tokio_vt__layout(&v, 1047001, &l), -EINVAL);
	assert_int_equal(tokio_vt__location_off(208, 48, 56), 56);
	assert_int_equal(tokio_vt__location_off(208, 48, 0x55d100001000ull), 0);
}

struct poll_syms {
	const struct tokio_vt_set *set;
	size_t named;
};

static int count_poll(const struct elf_sym *s, void *ctx)
{
	struct poll_syms *ps = ctx;

	if (!strstr(s->name, "7runtime4task3raw4poll"))
		return 0;
	for (size_t i = 0; i < ps->set->n; i++)
		if (ps->set->vt[i].fn[TOKIO_VT_POLL] == s->vaddr)
			ps->named++;
	return 0;
}

/* On a real target: as many vtables as raw::poll copies, each poll slot
 * on one of them. */
static void test_real_binary(void **state)
{
	const char *dir = getenv("MS_SRC");
	char path[4096];
	struct elf_file *ef;
	struct tokio_vt_set s;
	struct poll_syms ps = { &s, 0 };
	const void *p;
	size_t len;

	snprintf(path, sizeof(path), "%s/tools/tokio/target/release/tk_demo",
		 dir ? dir : MS_SRC_DIR);
	if (access(path, R_OK)) {
		print_message("skipped: %s is not built\n", path);
		skip();
	}
	assert_int_equal(elf__open(path, &ef), 0);
	p = elf__image(ef, &len);
	assert_non_null(p);
	assert_int_equal(tokio_vt__scan(p, len, &s), 0);
	assert_int_equal(s.problems, 0);
	assert_true(s.n >= 4);
	assert_string_equal(s.version, "1.24.2");
	elf__foreach_func(ef, count_poll, &ps);
	assert_int_equal(ps.named, s.n);
	tokio_vt__release(&s);
	elf__close(ef);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rela),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_relr),
		cmocka_unit_test(test_exec_words),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_real_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
