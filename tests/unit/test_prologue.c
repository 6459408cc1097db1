// SPDX-License-Identifier: MIT
/*
 * Probe placement on real machine code. The byte sequences are the first
 * 24 bytes of each function in Debian 12's glibc 2.36-9+deb12u14 amd64,
 * /lib/x86_64-linux-gnu/libc.so.6 (sha256 6b4a4535...1a0e1421), taken with
 *   nm -D libc.so.6 | grep ' free$'   (addresses below)
 *   objdump -d -s --start-address=ADDR --stop-address=ADDR+24 libc.so.6
 * The disassembly is quoted next to each one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "attach/prologue.h"

/* free @0x98ef0:
 *   0: 48 85 ff            test %rdi,%rdi
 *   3: 0f 84 bf 00 00 00   je   +0xbf
 *   9: 55                  push %rbp
 *   a: 48 8d 77 f0         lea  -0x10(%rdi),%rsi */
static const uint8_t glibc_free[] = {
	0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55, 0x48, 0x8d,
	0x77, 0xf0, 0x53, 0x48, 0x83, 0xec, 0x18, 0x48, 0x8b, 0x1d, 0xd6, 0x9e,
};

/* malloc @0x98930:
 *   0: 41 54   push %r12
 *   2: 55      push %rbp
 *   3: 53      push %rbx
 *   4: 48 89 fb mov %rdi,%rbx */
static const uint8_t glibc_malloc[] = {
	0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x10, 0x80,
	0x3d, 0x46, 0x1b, 0x14, 0x00, 0x00, 0x0f, 0x84, 0xf8, 0x01, 0x00, 0x00,
};

/* posix_memalign @0x9a280:
 *   0: 80 3d 01 02 14 00 00  cmpb $0x0,0x140201(%rip)
 *   7: 41 54                 push %r12
 *   9: 49 89 d4              mov  %rdx,%r12 */
static const uint8_t glibc_posix_memalign[] = {
	0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00, 0x41, 0x54, 0x49, 0x89, 0xd4,
	0x55, 0x48, 0x89, 0xfd, 0x53, 0x48, 0x89, 0xf3, 0x74, 0x5a, 0x48, 0x89,
};

/* memalign (and aligned_alloc, same address) @0x99610:
 *   0: 80 3d 71 0e 14 00 00  cmpb $0x0,0x140e71(%rip)
 *   7: 74 07                 je   +7
 *   9: e9 32 f6 ff ff        jmp  __libc_malloc+0x320 */
static const uint8_t glibc_memalign[] = {
	0x80, 0x3d, 0x71, 0x0e, 0x14, 0x00, 0x00, 0x74, 0x07, 0xe9, 0x32, 0xf6,
	0xff, 0xff, 0x66, 0x90, 0x48, 0x83, 0xec, 0x18, 0x48, 0x89, 0x74, 0x24,
};

/* reallocarray @0x9a7e0:
 *   0: 48 89 f0   mov %rsi,%rax
 *   3: 48 f7 e2   mul %rdx
 *   6: 48 89 c6   mov %rax,%rsi
 *   9: 70 05      jo  +5 */
static const uint8_t glibc_reallocarray[] = {
	0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48, 0x89, 0xc6, 0x70, 0x05, 0xe9,
	0x40, 0xb8, 0xf8, 0xff, 0x48, 0x8b, 0x05, 0xe9, 0x85, 0x13, 0x00, 0x64,
};

/* calloc @0x996e0: 0: 41 55 push %r13 */
static const uint8_t glibc_calloc[] = {
	0x41, 0x55, 0x48, 0x89, 0xf8, 0x41, 0x54, 0x55, 0x53, 0x48, 0x83, 0xec,
	0x18, 0x48, 0xf7, 0xe6, 0x48, 0x89, 0xc3, 0x0f, 0x90, 0xc0, 0x48, 0x85,
};

/* realloc @0x99130: 0: 41 57 push %r15 */
static const uint8_t glibc_realloc[] = {
	0x41, 0x57, 0x41, 0x56, 0x41, 0x55, 0x41, 0x54, 0x55, 0x48, 0x89, 0xf5,
	0x53, 0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x28, 0x80, 0x3d, 0x3d, 0x13,
};

/* valloc @0x99650:
 *   0: 80 3d 31 0e 14 00 00  cmpb $0x0,0x140e31(%rip)
 *   7: 53                    push %rbx */
static const uint8_t glibc_valloc[] = {
	0x80, 0x3d, 0x31, 0x0e, 0x14, 0x00, 0x00, 0x53, 0x48, 0x89, 0xfb, 0x74,
	0x1b, 0x48, 0x8b, 0x05, 0x34, 0x98, 0x13, 0x00, 0x48, 0x89, 0xde, 0x5b,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void expect(const uint8_t *code, size_t len, enum prologue_kind k,
		   uint32_t off, bool emulated)
{
	struct probe_place p = prologue__place(code, len, k);

	if (p.offset != off || p.emulated != emulated)
		fail_msg("kind %d len %zu: got +%u %s, want +%u %s", k, len,
			 p.offset, p.emulated ? "emulated" : "single-step", off,
			 emulated ? "emulated" : "single-step");
}

/* free: entry-only probe after the NULL check, on the first push. */
static void test_place_free(void **state)
{
	expect(glibc_free, N(glibc_free), PROLOGUE_FREE, 9, true);
	/* Entry+return must see every call, NULL ones too: the jcc, which
	 * every path executes and the kernel emulates. */
	expect(glibc_free, N(glibc_free), PROLOGUE_ENTRY, 3, true);
}

static void test_push_first(void **state)
{
	expect(glibc_malloc, N(glibc_malloc), PROLOGUE_ENTRY, 0, true);
	expect(glibc_malloc, N(glibc_malloc), PROLOGUE_FREE, 0, true);
	expect(glibc_calloc, N(glibc_calloc), PROLOGUE_ENTRY, 0, true);
	expect(glibc_realloc, N(glibc_realloc), PROLOGUE_ENTRY, 0, true);
}

/* A flag-only compare of a global first: skip it. */
static void test_cmp_rip_first(void **state)
{
	expect(glibc_posix_memalign, N(glibc_posix_memalign), PROLOGUE_ENTRY, 7,
	       true);
	expect(glibc_valloc, N(glibc_valloc), PROLOGUE_ENTRY, 7, true);
	/* memalign: the je after the compare. */
	expect(glibc_memalign, N(glibc_memalign), PROLOGUE_ENTRY, 7, true);
	expect(glibc_memalign, N(glibc_memalign), PROLOGUE_FREE, 7, true);
}

/* mov writes an argument register: nothing can be skipped safely. */
static void test_reallocarray(void **state)
{
	expect(glibc_reallocarray, N(glibc_reallocarray), PROLOGUE_ENTRY, 0,
	       false);
	expect(glibc_reallocarray, N(glibc_reallocarray), PROLOGUE_FREE, 0,
	       false);
}

static void test_endbr64(void **state)
{
	static const uint8_t endbr_push[] = { 0xf3, 0x0f, 0x1e, 0xfa,
					      0x55, 0x48, 0x89, 0xe5 };
	uint8_t endbr_free[4 + sizeof(glibc_free)] = { 0xf3, 0x0f, 0x1e, 0xfa };

	expect(endbr_push, N(endbr_push), PROLOGUE_ENTRY, 4, true);
	for (size_t i = 0; i < N(glibc_free); i++)
		endbr_free[4 + i] = glibc_free[i];
	/* A CET build of free: endbr64, then the same prologue. */
	expect(endbr_free, N(endbr_free), PROLOGUE_FREE, 13, true);
	expect(endbr_free, N(endbr_free), PROLOGUE_ENTRY, 7, true);
}

static void test_other_emulated(void **state)
{
	/* tokio raw::poll is a single jmp. */
	static const uint8_t jmp32[] = { 0xe9, 0x10, 0x20, 0x00, 0x00 };
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	static const uint8_t nop1[] = { 0x90, 0xc3 };
	static const uint8_t test_jne8[] = { 0x48, 0x85, 0xff, 0x75, 0x03 };

	expect(jmp32, N(jmp32), PROLOGUE_ENTRY, 0, true);
	expect(nop5, N(nop5), PROLOGUE_ENTRY, 0, true);
	expect(nop1, N(nop1), PROLOGUE_ENTRY, 0, true);
	/* `test; jne` is no NULL check to skip: the jcc itself. */
	expect(test_jne8, N(test_jne8), PROLOGUE_FREE, 3, true);
	expect(test_jne8, N(test_jne8), PROLOGUE_ENTRY, 3, true);
}

static void test_empty_and_garbage(void **state)
{
	static const uint8_t ud2[] = { 0x0f, 0x0b, 0x55 };
	static const uint8_t ff[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t ret[] = { 0xc3 };
	static const uint8_t int3[] = { 0xcc, 0xcc, 0x55 };
	static const uint8_t sub_push[] = { 0x48, 0x83, 0xec, 0x08, 0x55 };
	uint8_t one = 0x55;

	expect(&one, 0, PROLOGUE_ENTRY, 0, false);
	expect(&one, 0, PROLOGUE_FREE, 0, false);
	expect(ud2, N(ud2), PROLOGUE_ENTRY, 0, false);
	expect(ff, N(ff), PROLOGUE_ENTRY, 0, false);
	expect(ff, N(ff), PROLOGUE_FREE, 0, false);
	expect(ret, N(ret), PROLOGUE_ENTRY, 0, false);
	expect(int3, N(int3), PROLOGUE_ENTRY, 0, false);
	/* The stack moved: a push after it is not the entry any more. */
	expect(sub_push, N(sub_push), PROLOGUE_ENTRY, 0, false);
}

/* Cut windows: an instruction past the end is not there to probe. */
static void test_truncated(void **state)
{
	/* The NULL check fills the whole window: nothing proven. */
	expect(glibc_free, 9, PROLOGUE_FREE, 0, false);
	expect(glibc_free, 10, PROLOGUE_FREE, 9, true);
	/* Half of the je rel32. */
	expect(glibc_free, 5, PROLOGUE_ENTRY, 0, false);
	expect(glibc_free, 8, PROLOGUE_ENTRY, 0, false);
	expect(glibc_free, 9, PROLOGUE_ENTRY, 3, true);
	/* Half of push %r12. */
	expect(glibc_malloc, 1, PROLOGUE_ENTRY, 0, false);
	expect(glibc_posix_memalign, 8, PROLOGUE_ENTRY, 0, false);
	expect(glibc_posix_memalign, 9, PROLOGUE_ENTRY, 7, true);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void check_bounds(const uint8_t *code, size_t len)
{
	for (int k = PROLOGUE_ENTRY; k <= PROLOGUE_FREE; k++) {
		struct probe_place p = prologue__place(code, len, k);

		if (len && p.offset >= len)
			fail_msg("offset %u >= len %zu", p.offset, len);
		/* Without an emulated instruction: the start, nothing else. */
		if (!p.emulated && p.offset)
			fail_msg("single-step at +%u", p.offset);
	}
}

/* Never an offset at or past the end: every prefix of the real code,
 * then random bytes biased to the opcodes the walker knows. */
static void test_never_past_end(void **state)
{
	static const uint8_t *const all[] = {
		glibc_free,	glibc_malloc,	    glibc_posix_memalign,
		glibc_memalign, glibc_reallocarray, glibc_calloc,
		glibc_realloc,	glibc_valloc,
	};
	static const uint8_t known[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0x74,
					 0x80, 0x83, 0x3d, 0xf3, 0x1e, 0xfa,
					 0x39, 0xc0, 0x55, 0x41, 0x90, 0xe9 };
	uint8_t buf[80];

	for (size_t f = 0; f < N(all); f++)
		for (size_t len = 0; len <= 24; len++)
			check_bounds(all[f], len);
	for (int iter = 0; iter < 200000; iter++) {
		size_t len = rng() % sizeof(buf);

		for (size_t i = 0; i < len; i++) {
			uint64_t r = rng();

			buf[i] = r & 1 ? known[(r >> 8) % N(known)] :
					 (uint8_t)(r >> 16);
		}
		check_bounds(buf, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_place_free),
		cmocka_unit_test(test_push_first),
		cmocka_unit_test(test_cmp_rip_first),
		cmocka_unit_test(test_reallocarray),
		cmocka_unit_test(test_endbr64),
		cmocka_unit_test(test_other_emulated),
		cmocka_unit_test(test_empty_and_garbage),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_never_past_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
