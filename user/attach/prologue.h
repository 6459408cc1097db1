/* SPDX-License-Identifier: MIT */
/*
 * Probe placement. A uprobe on an instruction the kernel can emulate (push,
 * jmp/jcc/call, nop) costs ~7x less than one it must single-step. Walk a
 * function's first bytes past instructions that only set flags until one
 * the kernel emulates, without crossing anything that changes the stack or
 * the argument registers, so entry and return probes still work there.
 */
#ifndef MS_PROLOGUE_H
#define MS_PROLOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum prologue_kind {
	PROLOGUE_ENTRY, /* entry + return probes: every path must pass */
	PROLOGUE_FREE, /* entry only; may skip a `test rdi,rdi; je` */
};

struct probe_place {
	uint32_t offset; /* from the function start */
	bool emulated; /* the instruction there is one the kernel emulates */
};

/* x86-64 machine code of the function's start; never fails: offset 0
 * (single-stepped) when nothing better is proven safe. */
struct probe_place prologue__place(const uint8_t *code, size_t len,
				   enum prologue_kind kind);

/* Where to probe the return from a call that returns to code[0]: the
 * first instruction the kernel emulates on the straight line from there
 * (every path through the return site passes it). emulated false when the
 * line ends, or is not understood, before one: no cheap probe there. */
struct probe_place prologue__after_call(const uint8_t *code, size_t len);

#endif
