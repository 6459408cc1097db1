// SPDX-License-Identifier: MIT
/*
 * x86-64 instruction lengths and kinds, on encodings taken from real
 * compiler output (objdump of tokio targets, glibc and Deno, where the
 * decoder agreed with objdump on 16.5 million instructions), and the
 * return-site placement built on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attach/prologue.h"
#include "attach/tokio_vt.h"
#include "attach/x86len.h"

struct sample {
	const char *what;
	uint8_t bytes[15];
	uint8_t len;
	enum x86_kind kind;
};

/* clang-format off: a table laid out by hand */
static const struct sample samples[] = {
	{ "push %rbp", { 0x55 }, 1, X86_EMULATED },
	{ "push %r15", { 0x41, 0x57 }, 2, X86_EMULATED },
	{ "pop %rbx", { 0x5b }, 1, X86_PLAIN },
	{ "nop", { 0x90 }, 1, X86_EMULATED },
	{ "nopl 0(%rax,%rax,1)",
	  { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	  5,
	  X86_EMULATED },
	{ "nopw 0(%rax,%rax,1) (cs)",
	  { 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 },
	  10,
	  X86_PLAIN },
	{ "endbr64", { 0xf3, 0x0f, 0x1e, 0xfa }, 4, X86_PLAIN },
	{ "jne rel8", { 0x75, 0x11 }, 2, X86_EMULATED },
	{ "jne rel32", { 0x0f, 0x85, 0x96, 0x01, 0, 0 }, 6, X86_EMULATED },
	{ "jmp rel32", { 0xe9, 1, 2, 3, 4 }, 5, X86_EMULATED },
	{ "call rel32", { 0xe8, 1, 2, 3, 4 }, 5, X86_EMULATED },
	{ "ret", { 0xc3 }, 1, X86_FLOW },
	{ "call *(%rax)", { 0xff, 0x10 }, 2, X86_FLOW },
	{ "jmp *0x18(%r11)", { 0x41, 0xff, 0x63, 0x18 }, 4, X86_FLOW },
	{ "int3", { 0xcc }, 1, X86_FLOW },
	{ "ud2", { 0x0f, 0x0b }, 2, X86_FLOW },
	{ "syscall", { 0x0f, 0x05 }, 2, X86_FLOW },
	{ "cmpq $0,0x8(%r13)", { 0x49, 0x83, 0x7d, 0x08, 0x00 }, 5, X86_PLAIN },
	{ "mov $-64,%rax",
	  { 0x48, 0xc7, 0xc0, 0xc0, 0xff, 0xff, 0xff },
	  7,
	  X86_PLAIN },
	{ "lock xadd %rax,(%r12)",
	  { 0xf0, 0x49, 0x0f, 0xc1, 0x04, 0x24 },
	  6,
	  X86_PLAIN },
	{ "mov 0x10(%r12),%rax",
	  { 0x49, 0x8b, 0x44, 0x24, 0x10 },
	  5,
	  X86_PLAIN },
	{ "mov 0x13a408(%rip),%r12",
	  { 0x4c, 0x8b, 0x25, 0x08, 0xa4, 0x13, 0x00 },
	  7,
	  X86_PLAIN },
	{ "mov %fs:(%r12),%rdx",
	  { 0x64, 0x49, 0x8b, 0x14, 0x24 },
	  5,
	  X86_PLAIN },
	{ "movabs $imm64,%rax",
	  { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 },
	  10,
	  X86_PLAIN },
	{ "mov $imm32,%eax", { 0xb8, 1, 2, 3, 4 }, 5, X86_PLAIN },
	{ "movw $imm16,0x58(%rax)",
	  { 0x66, 0xc7, 0x40, 0x58, 0x01, 0x80 },
	  6,
	  X86_PLAIN },
	{ "testb $1,(%rdi)", { 0xf6, 0x07, 0x01 }, 3, X86_PLAIN },
	{ "test $imm32,%eax (f7 /0)",
	  { 0xf7, 0xc0, 1, 2, 3, 4 },
	  6,
	  X86_PLAIN },
	{ "neg %rax (f7 /3)", { 0x48, 0xf7, 0xd8 }, 3, X86_PLAIN },
	{ "cmpb $0,disp32(%rip)",
	  { 0x80, 0x3d, 0x46, 0x1b, 0x14, 0x00, 0x00 },
	  7,
	  X86_PLAIN },
	{ "lea 0x70(%rdx,%r9,1),%r14",
	  { 0x4e, 0x8d, 0x74, 0x0a, 0x70 },
	  5,
	  X86_PLAIN },
	{ "movups (%rcx),%xmm0", { 0x0f, 0x10, 0x01 }, 3, X86_PLAIN },
	{ "pshufd $0x4e,%xmm0,%xmm1",
	  { 0x66, 0x0f, 0x70, 0xc8, 0x4e },
	  5,
	  X86_PLAIN },
	{ "pshufb (0f 38)", { 0x66, 0x0f, 0x38, 0x00, 0xc1 }, 5, X86_PLAIN },
	{ "palignr (0f 3a)",
	  { 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08 },
	  6,
	  X86_PLAIN },
	{ "vzeroupper", { 0xc5, 0xf8, 0x77 }, 3, X86_PLAIN },
	{ "vpsrld $7,%xmm4,%xmm6",
	  { 0xc5, 0xc9, 0x72, 0xd4, 0x07 },
	  5,
	  X86_PLAIN },
	{ "vmovdqu (%rsi),%ymm0", { 0xc5, 0xfe, 0x6f, 0x06 }, 4, X86_PLAIN },
	{ "vpternlogd (c4... 3a)",
	  { 0xc4, 0xe3, 0x7d, 0x38, 0xc1, 0x01 },
	  6,
	  X86_PLAIN },
	{ "evex vmovdqu64",
	  { 0x62, 0xf1, 0xfe, 0x48, 0x6f, 0x06 },
	  6,
	  X86_PLAIN },
	{ "shld $3 (0f a4)", { 0x48, 0x0f, 0xa4, 0xc2, 0x03 }, 5, X86_PLAIN },
	{ "cmovb %r11,%r10", { 0x4d, 0x0f, 0x42, 0xd3 }, 4, X86_PLAIN },
	{ "bswap %eax", { 0x0f, 0xc8 }, 2, X86_PLAIN },
	{ "imul $0x51,%eax,%eax", { 0x6b, 0xc0, 0x51 }, 3, X86_PLAIN },
	{ "ret $8", { 0xc2, 0x08, 0x00 }, 3, X86_FLOW },
};
/* clang-format on */

static void test_samples(void **state)
{
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *s = &samples[i];
		struct x86_insn in;
		size_t n = x86__decode(s->bytes, sizeof(s->bytes), &in);

		if (n != s->len || in.kind != s->kind)
			fail_msg("%s: length %zu kind %d, want %u kind %d",
				 s->what, n, in.kind, s->len, s->kind);
	}
}

/* Cut short, or not x86-64: 0, never a read past the end. */
static void test_short_and_bad(void **state)
{
	static const uint8_t movabs[] = { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t bad[][2] = {
		{ 0x06 }, { 0x62 }, { 0xd4 }, { 0x0f, 0xff }
	};
	static const uint8_t prefixes[15] = { 0x66, 0x66, 0x66, 0x66, 0x66,
					      0x66, 0x66, 0x66, 0x66, 0x66,
					      0x66, 0x66, 0x66, 0x66, 0x66 };
	struct x86_insn in;

	for (size_t n = 0; n < sizeof(movabs); n++)
		assert_int_equal(x86__decode(movabs, n, &in), 0);
	assert_int_equal(x86__decode(movabs, sizeof(movabs), &in), 10);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(x86__decode(bad[i], 1, &in), 0);
	assert_int_equal(x86__decode(bad[3], 2, &in), 0);
	assert_int_equal(in.kind, X86_UNKNOWN);
	assert_int_equal(x86__decode(prefixes, sizeof(prefixes), &in), 0);
}

/* Return sites as tokio's worker loops have them (tokio 1.24.2 built with
 * rustc 1.95): the probe goes on the first branch after the call. */
static void test_after_call(void **state)
{
	/* cmpq $0x0,0x8(%r13) ; jne */
	static const uint8_t run_task[] = { 0x49, 0x83, 0x7d, 0x08, 0x00, 0x0f,
					    0x85, 0x96, 0x01, 0x00, 0x00 };
	/* mov $-64,%rax ; lock xadd %rax,(%r12) ; shr $6,%rax ;
	 * cmp $1,%rax ; je */
	static const uint8_t blocking[] = { 0x48, 0xc7, 0xc0, 0xc0, 0xff, 0xff,
					    0xff, 0xf0, 0x49, 0x0f, 0xc1, 0x04,
					    0x24, 0x48, 0xc1, 0xe8, 0x06, 0x48,
					    0x83, 0xf8, 0x01, 0x74, 0x11 };
	/* mov %rax,%rbx ; ret: no emulated instruction before the line
	 * ends */
	static const uint8_t tail[] = { 0x48, 0x89, 0xc3, 0xc3, 0x90 };
	struct probe_place p;

	p = prologue__after_call(run_task, sizeof(run_task));
	assert_true(p.emulated);
	assert_int_equal(p.offset, 5);
	p = prologue__after_call(blocking, sizeof(blocking));
	assert_true(p.emulated);
	assert_int_equal(p.offset, 21);
	p = prologue__after_call(tail, sizeof(tail));
	assert_false(p.emulated);
	p = prologue__after_call(tail, 2); /* cut in the first instruction */
	assert_false(p.emulated);
}

/* The poll call sites the code scan looks for, in an ELF image. */
static void test_poll_calls(void **state)
{
	static uint8_t img[0x2000];
	/* mov 0x10(%r12),%rax ; mov %r12,%rdi ; call *(%rax) */
	static const uint8_t a[] = { 0x49, 0x8b, 0x44, 0x24, 0x10,
				     0x4c, 0x89, 0xe7, 0xff, 0x10 };
	/* mov 0x10(%rdi),%rcx ; call *(%rcx) */
	static const uint8_t b[] = { 0x48, 0x8b, 0x4f, 0x10, 0xff, 0x11 };
	/* mov 0x10(%r14),%rax ; mov %r15,%rdi ; call *(%rax): another
	 * object is the argument, not a task poll */
	static const uint8_t c[] = { 0x49, 0x8b, 0x46, 0x10, 0x4c,
				     0x89, 0xff, 0xff, 0x10 };
	/* mov 0x8(%rbx),%rax ; mov %rbx,%rdi ; call *(%rax): a trait
	 * object's drop, not tokio's vtable at +16 */
	static const uint8_t d[] = { 0x48, 0x8b, 0x43, 0x08, 0x48,
				     0x89, 0xdf, 0xff, 0x10 };
	uint64_t *sites;
	size_t n;

	memset(img, 0xcc, sizeof(img));
	memset(img, 0, 64 + 56);
	memcpy(img, "\177ELF", 4);
	img[4] = 2;
	img[5] = 1;
	img[16] = 3;
	img[18] = 62;
	img[32] = 64; /* phoff */
	img[54] = 56;
	img[56] = 1;
	img[64] = 1; /* PT_LOAD */
	img[68] = 5; /* R X */
	img[64 + 8 + 1] = 0x10; /* offset 0x1000 */
	img[64 + 16 + 1] = 0x10; /* vaddr 0x1000 */
	img[64 + 32 + 1] = 0x10; /* filesz 0x1000 */
	img[64 + 40 + 1] = 0x10;
	memcpy(img + 0x1100, a, sizeof(a));
	memcpy(img + 0x1200, b, sizeof(b));
	memcpy(img + 0x1300, c, sizeof(c));
	memcpy(img + 0x1400, d, sizeof(d));
	assert_int_equal(tokio_vt__poll_calls(img, sizeof(img), &sites, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(sites[0], 0x1100 + sizeof(a));
	assert_int_equal(sites[1], 0x1200 + sizeof(b));
	free(sites);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_samples),
		cmocka_unit_test(test_short_and_bad),
		cmocka_unit_test(test_after_call),
		cmocka_unit_test(test_poll_calls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
