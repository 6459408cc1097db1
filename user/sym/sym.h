/* SPDX-License-Identifier: MIT */
/* Unwinding and symbolization of another process's user stacks, perf-style.
 *
 * The BPF side captures, at a probe, the user registers and a copy of the
 * top of the user stack. Release Rust binaries and Debian's glibc have no
 * frame pointers, so sym__unwind walks that copy with the DWARF CFI of
 * .eh_frame / .debug_frame (libdw), falling back to the rbp chain only for
 * frames that have no CFI. sym__frame then turns each pc into function,
 * file:line and module.
 *
 * A sym_proc is not thread-safe: use one per thread, or lock around it. */
#ifndef MS_SYM_H
#define MS_SYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* x86-64 registers at the capture point. The callee-saved ones (bx, bp,
 * r12-r15) must hold the values of the captured frame; anything else the
 * CFI needs is treated as unknown. */
struct sym_regs {
	uint64_t ip, sp, bp, bx, r12, r13, r14, r15;
};

struct sym_frame {
	uint64_t pc; /* as given to sym__frame */
	const char *function; /* demangled, or NULL */
	const char *file; /* source file from DWARF, or NULL */
	int line; /* 0: unknown */
	const char *module; /* basename of the ELF ("[vdso]"), or NULL */
	/* What symbolizes the frame later, when nothing does now (a
	 * stripped binary): the module's file as the process maps it (full
	 * path, NULL for the vDSO), its GNU build id in hex (NULL: none),
	 * and the address looked up as an ELF virtual address of that file:
	 * pc minus the module's load bias, and for a return address the
	 * byte before it (pc - 1: inside the call), as for the function.
	 * addr 0: unknown. */
	const char *path;
	const char *build_id;
	uint64_t addr;
};

struct sym_proc;

/* Opens the process: reports its file mappings (PIE, shared libraries,
 * the vDSO) to libdw. ELF files are read through /proc/PID/map_files
 * (root), /proc/PID/root or /proc/PID/exe, so binaries deleted or replaced
 * since they were mapped, and those of other mount namespaces, resolve to
 * the file that is really mapped. Returns 0, -ESRCH (no such process),
 * -EACCES/-EPERM, -ENOMEM or another negative errno. */
int sym__open(pid_t pid, struct sym_proc **out);

/* Re-reads /proc/PID/maps; cheap when nothing changed. Call it when new
 * mappings may have appeared (dlopen). sym__frame also calls it by itself,
 * at most once a second, when a pc falls outside every known module.
 * Drops the frame cache; interned strings stay valid. */
int sym__refresh(struct sym_proc *p);

void sym__close(struct sym_proc *p);

/* Unwinds from REGS and a copy of the stack [regs->sp, regs->sp + len).
 * Stack memory is read from the copy only; other reads that CFI may ask
 * for are served from /proc/PID/mem when they fall inside a mapped module,
 * and fail otherwise. Every frame must move the stack pointer up and stay
 * inside the copy, so garbage input ends quickly. Writes at most MAX pcs:
 * pcs[0] = regs->ip, then return addresses. Returns the number of pcs
 * (>= 1), or -EINVAL. */
int sym__unwind(struct sym_proc *p, const struct sym_regs *regs,
		const void *stack, size_t len, uint64_t *pcs, int max);

/* Symbolizes PC. For a return address (every pc but the first of an
 * unwind) pc - 1 is looked up, so the call site is reported. Strings
 * belong to P and stay valid until sym__close. Returns 0 (out->module at
 * least is set), -ENOENT when pc is in no known module (out has pc only),
 * or -EINVAL. Results are cached. */
int sym__frame(struct sym_proc *p, uint64_t pc, bool is_return_address,
	       struct sym_frame *out);

/* An ELF file read by itself, without a process: memscope symbolizes
 * saved frames (module, build id, addr) with it long after the process
 * ended. Its separate debug file is found as for a process (debugfile.h:
 * build id, .gnu_debuglink, --debug-dir, never debuginfod); PATH may also
 * be the debug file itself. Not thread-safe. */
struct sym_file;

/* Opens the regular file at PATH (FIFOs and devices are refused:
 * -ENOEXEC, as for a file that is not ELF). Returns 0, -ENOENT, -ENOEXEC,
 * -ENOMEM or another negative errno. */
int sym__file_open(const char *path, struct sym_file **out);

/* Symbolizes ADDR, an ELF virtual address of the file (sym_frame.addr:
 * no pc - 1 here). Fills function, file, line and module; strings
 * belong to F until sym__file_close. Returns 0 when the function or the
 * source file is known, -ENOENT when neither is, or -EINVAL. */
int sym__file_frame(struct sym_file *f, uint64_t addr, struct sym_frame *out);

void sym__file_close(struct sym_file *f);

/* Demangles a Rust (legacy and v0) or C++ symbol into BUF; the Rust
 * legacy hash suffix and LLVM's ".llvm.N" are dropped. Names that are not
 * mangled are copied as they are. Returns the length written (truncated
 * to size - 1), or -EINVAL. */
int sym__demangle(const char *name, char *buf, size_t size);

/* True for frames of the async runtime, the standard libraries and the
 * allocator (tokio::, core::, alloc::, std::, futures*::, hyper::, mio::,
 * __rust_*, glibc, crt_*): callers fold them so that the first user frame
 * leads a spawn or allocation site. Unknown frames are not runtime. */
bool sym__is_runtime_frame(const struct sym_frame *f);

#endif
