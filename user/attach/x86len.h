/* SPDX-License-Identifier: MIT */
/*
 * x86-64 instruction lengths: enough decoding to walk straight-line
 * compiler output (legacy and REX prefixes, the one-, two- and three-byte
 * opcode maps, VEX and EVEX) and to tell what the kernel's uprobes
 * emulate, what changes the flow, and what it does not know.
 */
#ifndef MS_X86LEN_H
#define MS_X86LEN_H

#include <stddef.h>
#include <stdint.h>

enum x86_kind {
	X86_UNKNOWN = 0, /* not decoded: stop */
	X86_PLAIN, /* falls through to the next instruction */
	X86_EMULATED, /* the kernel emulates it under a uprobe: push, nop,
		       * jmp/jcc/call rel (a cheap probe site) */
	X86_FLOW, /* leaves the straight line otherwise: ret, indirect
		   * jmp/call, int3, ud2, syscall, hlt, loop... */
};

struct x86_insn {
	uint8_t len;
	enum x86_kind kind;
};

/* Decodes the instruction at c (n bytes available). Returns its length
 * (1..15), or 0 with kind X86_UNKNOWN. */
size_t x86__decode(const uint8_t *c, size_t n, struct x86_insn *out);

#endif
