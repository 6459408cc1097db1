// SPDX-License-Identifier: MIT
#include "attach/prologue.h"
#include "attach/x86len.h"

/* Length of an instruction the kernel emulates at code[0], else 0. */
static size_t emulated_len(const uint8_t *c, size_t n)
{
	if (n >= 1 && c[0] >= 0x50 && c[0] <= 0x57)
		return 1; /* push %reg */
	if (n >= 2 && c[0] == 0x41 && c[1] >= 0x50 && c[1] <= 0x57)
		return 2; /* push %r8..%r15 */
	if (n >= 1 && c[0] == 0x90)
		return 1; /* nop */
	if (n >= 5 && c[0] == 0x0f && c[1] == 0x1f && c[2] == 0x44 &&
	    c[3] == 0x00 && c[4] == 0x00)
		return 5; /* nopl 0(%rax,%rax,1) */
	if (n >= 2 && (c[0] == 0xeb || (c[0] >= 0x70 && c[0] <= 0x7f)))
		return 2; /* jmp/jcc rel8 */
	if (n >= 5 && (c[0] == 0xe9 || c[0] == 0xe8))
		return 5; /* jmp/call rel32 */
	if (n >= 6 && c[0] == 0x0f && c[1] >= 0x80 && c[1] <= 0x8f)
		return 6; /* jcc rel32 */
	return 0;
}

/* Length of an instruction that only writes flags (or nothing), else 0. */
static size_t harmless_len(const uint8_t *c, size_t n)
{
	if (n >= 4 && c[0] == 0xf3 && c[1] == 0x0f && c[2] == 0x1e &&
	    c[3] == 0xfa)
		return 4; /* endbr64 */
	/* cmpb/cmpl $imm8, disp32(%rip) */
	if (n >= 7 && (c[0] == 0x80 || c[0] == 0x83) && c[1] == 0x3d)
		return 7;
	/* cmpq $imm8, disp32(%rip) */
	if (n >= 8 && c[0] == 0x48 && c[1] == 0x83 && c[2] == 0x3d)
		return 8;
	/* test %r64,%r64 / cmp %r64,%r64 (register forms) */
	if (n >= 3 && c[0] == 0x48 && (c[1] == 0x85 || c[1] == 0x39) &&
	    (c[2] & 0xc0) == 0xc0)
		return 3;
	/* test %r32,%r32 */
	if (n >= 2 && c[0] == 0x85 && (c[1] & 0xc0) == 0xc0)
		return 2;
	return 0;
}

/* `test %rdi,%rdi; je/jz rel` : free's NULL check. */
static size_t null_check_len(const uint8_t *c, size_t n)
{
	if (n < 5 || c[0] != 0x48 || c[1] != 0x85 || c[2] != 0xff)
		return 0;
	if (c[3] == 0x74)
		return 5;
	if (n >= 9 && c[3] == 0x0f && c[4] == 0x84)
		return 9;
	return 0;
}

struct probe_place prologue__place(const uint8_t *code, size_t len,
				   enum prologue_kind kind)
{
	struct probe_place p = { 0, false };
	size_t off = 0;

	while (off < len && off < 64) {
		const uint8_t *c = code + off;
		size_t n = len - off, k;

		if (emulated_len(c, n)) {
			p.offset = (uint32_t)off;
			p.emulated = true;
			return p;
		}
		if (kind == PROLOGUE_FREE && (k = null_check_len(c, n))) {
			off += k;
			continue;
		}
		k = harmless_len(c, n);
		if (!k)
			break;
		off += k;
	}
	return p;
}

struct probe_place prologue__after_call(const uint8_t *code, size_t len)
{
	struct probe_place p = { 0, false };
	size_t off = 0;

	/* A few instructions: a return site's block soon tests the result
	 * or branches. */
	for (int i = 0; i < 12 && off < len; i++) {
		struct x86_insn in;

		if (!x86__decode(code + off, len - off, &in))
			break;
		if (in.kind == X86_EMULATED) {
			p.offset = (uint32_t)off;
			p.emulated = true;
			return p;
		}
		if (in.kind != X86_PLAIN)
			break;
		off += in.len;
	}
	return p;
}
