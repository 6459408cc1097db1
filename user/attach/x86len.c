// SPDX-License-Identifier: MIT
#include <stdbool.h>

#include "attach/x86len.h"

/* What follows an opcode. */
#define M 0x01 /* a ModRM byte (and SIB, displacement) */
#define I8 0x02 /* an 8-bit immediate */
#define IZ 0x04 /* a 16/32-bit immediate (66 prefix: 16) */
#define I16 0x08 /* a 16-bit immediate */
#define BAD 0x10 /* invalid in 64-bit mode, or a prefix handled apart */
#define FLOW 0x20 /* leaves the straight line */
#define EMU 0x40 /* emulated by uprobes */

/* The one-byte map, 64-bit mode. */
/* clang-format off: a table laid out by hand */
static const uint8_t one[256] = {
	/* 00-3f: ALU r/m forms, AL/eAX immediates */
	[0x00] = M,
	[0x01] = M,
	[0x02] = M,
	[0x03] = M,
	[0x04] = I8,
	[0x05] = IZ,
	[0x08] = M,
	[0x09] = M,
	[0x0a] = M,
	[0x0b] = M,
	[0x0c] = I8,
	[0x0d] = IZ,
	[0x10] = M,
	[0x11] = M,
	[0x12] = M,
	[0x13] = M,
	[0x14] = I8,
	[0x15] = IZ,
	[0x18] = M,
	[0x19] = M,
	[0x1a] = M,
	[0x1b] = M,
	[0x1c] = I8,
	[0x1d] = IZ,
	[0x20] = M,
	[0x21] = M,
	[0x22] = M,
	[0x23] = M,
	[0x24] = I8,
	[0x25] = IZ,
	[0x28] = M,
	[0x29] = M,
	[0x2a] = M,
	[0x2b] = M,
	[0x2c] = I8,
	[0x2d] = IZ,
	[0x30] = M,
	[0x31] = M,
	[0x32] = M,
	[0x33] = M,
	[0x34] = I8,
	[0x35] = IZ,
	[0x38] = M,
	[0x39] = M,
	[0x3a] = M,
	[0x3b] = M,
	[0x3c] = I8,
	[0x3d] = IZ,
	[0x06] = BAD,
	[0x07] = BAD,
	[0x0e] = BAD,
	[0x16] = BAD,
	[0x17] = BAD,
	[0x1e] = BAD,
	[0x1f] = BAD,
	[0x27] = BAD,
	[0x2f] = BAD,
	[0x37] = BAD,
	[0x3f] = BAD,
	[0x0f] = BAD,
	/* 50-57 push (emulated), 58-5f pop */
	[0x50] = EMU,
	[0x51] = EMU,
	[0x52] = EMU,
	[0x53] = EMU,
	[0x54] = EMU,
	[0x55] = EMU,
	[0x56] = EMU,
	[0x57] = EMU,
	[0x60] = BAD,
	[0x61] = BAD,
	[0x62] = BAD,
	[0x63] = M,
	[0x68] = IZ,
	[0x69] = M | IZ,
	[0x6a] = I8,
	[0x6b] = M | I8,
	/* 70-7f jcc rel8 */
	[0x70] = I8 | EMU,
	[0x71] = I8 | EMU,
	[0x72] = I8 | EMU,
	[0x73] = I8 | EMU,
	[0x74] = I8 | EMU,
	[0x75] = I8 | EMU,
	[0x76] = I8 | EMU,
	[0x77] = I8 | EMU,
	[0x78] = I8 | EMU,
	[0x79] = I8 | EMU,
	[0x7a] = I8 | EMU,
	[0x7b] = I8 | EMU,
	[0x7c] = I8 | EMU,
	[0x7d] = I8 | EMU,
	[0x7e] = I8 | EMU,
	[0x7f] = I8 | EMU,
	[0x80] = M | I8,
	[0x81] = M | IZ,
	[0x82] = BAD,
	[0x83] = M | I8,
	[0x84] = M,
	[0x85] = M,
	[0x86] = M,
	[0x87] = M,
	[0x88] = M,
	[0x89] = M,
	[0x8a] = M,
	[0x8b] = M,
	[0x8c] = M,
	[0x8d] = M,
	[0x8e] = M,
	[0x8f] = M,
	[0x90] = EMU, /* nop; 91-97 xchg */
	[0x9a] = BAD,
	[0xa8] = I8,
	[0xa9] = IZ,
	[0xb0] = I8,
	[0xb1] = I8,
	[0xb2] = I8,
	[0xb3] = I8,
	[0xb4] = I8,
	[0xb5] = I8,
	[0xb6] = I8,
	[0xb7] = I8,
	[0xb8] = IZ,
	[0xb9] = IZ,
	[0xba] = IZ,
	[0xbb] = IZ,
	[0xbc] = IZ,
	[0xbd] = IZ,
	[0xbe] = IZ,
	[0xbf] = IZ,
	[0xc0] = M | I8,
	[0xc1] = M | I8,
	[0xc2] = I16 | FLOW,
	[0xc3] = FLOW,
	[0xc4] = BAD,
	[0xc5] = BAD,
	[0xc6] = M | I8,
	[0xc7] = M | IZ,
	[0xc8] = I16 | I8,
	[0xca] = I16 | FLOW,
	[0xcb] = FLOW,
	[0xcc] = FLOW,
	[0xcd] = I8 | FLOW,
	[0xce] = BAD,
	[0xcf] = FLOW,
	[0xd0] = M,
	[0xd1] = M,
	[0xd2] = M,
	[0xd3] = M,
	[0xd4] = BAD,
	[0xd5] = BAD,
	[0xd6] = BAD,
	[0xd8] = M,
	[0xd9] = M,
	[0xda] = M,
	[0xdb] = M,
	[0xdc] = M,
	[0xdd] = M,
	[0xde] = M,
	[0xdf] = M,
	[0xe0] = I8 | FLOW,
	[0xe1] = I8 | FLOW,
	[0xe2] = I8 | FLOW,
	[0xe3] = I8 | FLOW,
	[0xe4] = I8,
	[0xe5] = I8,
	[0xe6] = I8,
	[0xe7] = I8,
	[0xe8] = IZ | EMU,
	[0xe9] = IZ | EMU,
	[0xea] = BAD,
	[0xeb] = I8 | EMU,
	[0xf1] = FLOW,
	[0xf4] = FLOW,
	[0xf6] = M,
	[0xf7] = M,
	[0xfe] = M,
	[0xff] = M,
};
/* clang-format on */

/* The 0F map. */
static uint8_t two(uint8_t op)
{
	switch (op) {
	case 0x05:
	case 0x07:
	case 0x0b:
	case 0x34:
	case 0x35:
		return FLOW; /* syscall, sysret, ud2, sysenter, sysexit */
	case 0x06:
	case 0x08:
	case 0x09:
	case 0x0e:
	case 0x30:
	case 0x31:
	case 0x32:
	case 0x33:
	case 0x77:
	case 0xa0:
	case 0xa1:
	case 0xa2:
	case 0xa8:
	case 0xa9:
	case 0xaa:
		return 0; /* no operand bytes */
	case 0x0f:
	case 0x70:
	case 0x71:
	case 0x72:
	case 0x73:
	case 0xa4:
	case 0xac:
	case 0xba:
	case 0xc2:
	case 0xc4:
	case 0xc5:
	case 0xc6:
		return M | I8; /* 0f 0f: 3DNow!, its suffix byte */
	case 0x04:
	case 0x0a:
	case 0x0c:
	case 0x24:
	case 0x25:
	case 0x26:
	case 0x27:
	case 0x36:
	case 0x39:
	case 0x3b:
	case 0x3c:
	case 0x3d:
	case 0x3e:
	case 0x3f:
	case 0x7a:
	case 0x7b:
	case 0xff:
		return BAD;
	}
	if (op >= 0x80 && op <= 0x8f)
		return IZ | EMU; /* jcc rel32 */
	if (op >= 0xc8 && op <= 0xcf)
		return 0; /* bswap */
	return M;
}

/* ModRM, SIB and displacement at c: their length, 0 if cut short. */
static size_t modrm_len(const uint8_t *c, size_t n, bool addr32)
{
	uint8_t mod, rm;
	size_t len = 1;

	(void)addr32; /* 67: same ModRM forms in 64-bit mode */
	if (n < 1)
		return 0;
	mod = c[0] >> 6;
	rm = c[0] & 7;
	if (mod == 3)
		return 1;
	if (rm == 4) {
		if (n < 2)
			return 0;
		len++;
		if (mod == 0 && (c[1] & 7) == 5)
			len += 4;
	} else if (mod == 0 && rm == 5) {
		len += 4; /* RIP-relative */
	}
	if (mod == 1)
		len += 1;
	else if (mod == 2)
		len += 4;
	return len <= n ? len : 0;
}

/* VEX (c4, c5) and EVEX (62): the prefix, opcode, ModRM, imm8 in map 3. */
static size_t vex_len(const uint8_t *c, size_t n, size_t off)
{
	size_t pfx, map, k, m;
	uint8_t op;

	if (c[off] == 0xc5) {
		pfx = 2;
		map = 1;
	} else if (c[off] == 0xc4) {
		if (n < off + 2)
			return 0;
		pfx = 3;
		map = c[off + 1] & 0x1f;
	} else {
		if (n < off + 2)
			return 0;
		pfx = 4;
		map = c[off + 1] & 0x7;
	}
	k = off + pfx;
	if (n < k + 1)
		return 0;
	op = c[k++];
	if (map == 1 && op == 0x77)
		return k; /* vzeroupper, vzeroall */
	m = modrm_len(c + k, n - k, false);
	if (!m)
		return 0;
	k += m;
	if (map == 3 || (map == 1 && (two(op) & I8)))
		k++;
	return k <= n && k <= 15 ? k : 0;
}

static size_t fail(struct x86_insn *out)
{
	out->len = 0;
	out->kind = X86_UNKNOWN;
	return 0;
}

size_t x86__decode(const uint8_t *c, size_t n, struct x86_insn *out)
{
	bool opsize = false, addr32 = false, rexw = false;
	size_t k = 0, m;
	uint8_t op, f;

	for (;; k++) {
		if (k >= n || k >= 14)
			return fail(out);
		switch (c[k]) {
		case 0x66:
			opsize = true;
			continue;
		case 0x67:
			addr32 = true;
			continue;
		case 0xf0:
		case 0xf2:
		case 0xf3:
		case 0x2e:
		case 0x36:
		case 0x3e:
		case 0x26:
		case 0x64:
		case 0x65:
			continue;
		}
		break;
	}
	if ((c[k] & 0xf0) == 0x40) {
		rexw = c[k] & 8;
		if (++k >= n)
			return fail(out);
	}
	op = c[k++];
	if (op == 0xc4 || op == 0xc5 || op == 0x62) {
		m = vex_len(c, n, k - 1);
		if (!m)
			return fail(out);
		out->len = (uint8_t)m;
		out->kind = X86_PLAIN;
		return m;
	}
	if (op == 0x0f) {
		if (k >= n)
			return fail(out);
		op = c[k++];
		if (op == 0x38 || op == 0x3a) {
			f = op == 0x3a ? M | I8 : M;
			if (k >= n)
				return fail(out);
			k++; /* the third opcode byte */
		} else {
			f = two(op);
		}
		/* nopl forms (0f 1f /0) are emulated. */
		if (op == 0x1f)
			f |= EMU;
	} else {
		f = one[op];
		if (op >= 0xa0 && op <= 0xa3) /* mov moffs */
			k += addr32 ? 4 : 8;
		if (op >= 0xb8 && op <= 0xbf && rexw)
			f = 0, k += 8; /* mov $imm64 */
	}
	if (f & BAD)
		return fail(out);
	if (f & M) {
		m = modrm_len(c + k, n > k ? n - k : 0, addr32);
		if (!m)
			return fail(out);
		/* f6/f7 /0 /1 (test) carry an immediate; ff /2 /3 /4 /5 are
		 * indirect calls and jumps. */
		if (op == 0xf6 && ((c[k] >> 3) & 7) < 2)
			f |= I8;
		if (op == 0xf7 && ((c[k] >> 3) & 7) < 2)
			f |= IZ;
		if (op == 0xff && ((c[k] >> 3) & 7) >= 2 &&
		    ((c[k] >> 3) & 7) <= 5)
			f |= FLOW;
		k += m;
	}
	if (f & I8)
		k += 1;
	if (f & I16)
		k += 2;
	if (f & IZ)
		k += opsize && !(f & EMU) ? 2 : 4;
	if (k > n || k > 15)
		return fail(out);
	out->len = (uint8_t)k;
	out->kind = f & FLOW ? X86_FLOW : f & EMU ? X86_EMULATED : X86_PLAIN;
	/* 0x40-prefixed pushes (push %r8..) stay emulated; a 66-prefixed
	 * push is not what the kernel emulates. */
	if (out->kind == X86_EMULATED && opsize)
		out->kind = X86_PLAIN;
	return k;
}
