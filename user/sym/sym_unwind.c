// SPDX-License-Identifier: MIT
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
#include "sym/sym_int.h"

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

static bool thread_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			       void *arg)
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

const Dwfl_Thread_Callbacks sym_thread_callbacks = {
	.next_thread = thread_next,
	.get_thread = thread_get,
	.memory_read = thread_memory_read,
	.set_initial_registers = thread_set_initial_registers,
};

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
		if (dwfl_addrmodule(p->dwfl, last) ||
		    sym_proc__auto_refresh(p) <= 0)
			break;
	}
	return u.n;
}
