/*
 * memscope task markers for C (and C++) async runtimes.
 *
 * A runtime that is not tokio tells memscope about its tasks by firing these
 * markers.  Each one is a USDT probe (SystemTap SDT note, version 3, provider
 * "memscope"), so memscoped, libbpf, bpftrace and perf can all attach to it:
 *
 *	bpftrace -e 'usdt:./prog:memscope:task_spawn { print(arg0) }'
 *
 * Header only and self-contained: it does not need <sys/sdt.h>.
 *
 * The markers
 * -----------
 * Every argument is a 64-bit unsigned integer unless said otherwise.  A task
 * id is any non-zero number that names one live task of the process (the
 * runtime's task counter, or the address of its task struct); id 0 means
 * "no task".  Ids may be reused only after MEMSCOPE_TASK_FREE for the old task.
 *
 * MEMSCOPE_TASK_SPAWN(id, parent_id, state_size)
 *	A task was created.  parent_id is the task running on this thread when
 *	it was spawned, or 0.  state_size is the size in bytes of the heap
 *	block that holds the task's state (what a Rust runtime calls the future
 *	size), or 0 if the runtime does not know it.  Fire it after that block
 *	is allocated, so the tracer can match the size to the allocation.
 *
 * MEMSCOPE_TASK_POLL_BEGIN(id)
 *	This thread starts running the task.  Every allocation this thread makes
 *	until the matching MEMSCOPE_TASK_POLL_END is charged to the task.
 *
 * MEMSCOPE_TASK_POLL_END(id, wakers)
 *	This thread stops running the task.  wakers is a signed 64-bit integer:
 *	for a task left pending, the number of wakers/waiters currently
 *	registered for it (events, timers, queues that hold it); 0 means that
 *	nothing can ever wake it (a task that will never finish); -1 means the
 *	runtime does not know.  For a poll that completed the task pass -1 and
 *	fire MEMSCOPE_TASK_COMPLETE right after.
 *
 * MEMSCOPE_TASK_COMPLETE(id)
 *	The task ran to its end.
 *
 * MEMSCOPE_TASK_CANCEL(id)
 *	The task is being torn down without having finished (cancelled,
 *	aborted, or dropped at runtime shutdown).
 *
 * MEMSCOPE_TASK_FREE(id)
 *	The runtime releases the task's state block.  Fire it just before the
 *	free(), so the free of that block is known to end the task.
 *
 * Arguments are evaluated exactly once when markers are enabled and not at
 * all when they are disabled, so they must not have side effects.
 *
 * Build knobs
 * -----------
 * MEMSCOPE_MARKERS_DISABLE	define it before including this header to
 *				compile every marker out.
 * Other architectures than x86_64, and compilers without GNU inline asm, get
 * the same empty markers.
 *
 * The probe site
 * --------------
 * <sys/sdt.h> puts a 1-byte nop at the probe address.  We put the 5-byte nop
 * `nopl 0x0(%rax,%rax,1)` (0f 1f 44 00 00) there instead, and the note's pc
 * points at its first byte: recent kernels turn a uprobe on exactly that
 * instruction into a call into a trampoline, which costs about half of the
 * int3 trap a 1-byte nop needs.  To every USDT consumer it is still an
 * ordinary probe on a nop.
 *
 * There are no semaphores (the note's semaphore address is 0).  They only let
 * a program skip computing expensive arguments when nobody listens; ours are
 * already in registers, and libbpf, bpftrace and perf attach to USDT probes
 * without a semaphore just fine.
 *
 * The red zone.  The kernels that optimize the 5-byte nop (6.18 here)
 * replace it with a CALL into a trampoline that pushes more registers: that
 * writes up to 32 bytes below %rsp, inside the 128-byte red zone where leaf
 * code may keep live data without moving %rsp.  Measured on this kernel: a
 * value kept at -8(%rsp) across the probe came back as the return address,
 * and sdt.h-style arguments spilled there read back as garbage from the
 * second hit on.  So each probe steps %rsp below the red zone around the nop
 * (two lea, which leave the flags alone), and arguments may only be
 * constants or registers: a %rsp-relative operand would be 128 bytes off at
 * the probe.  A DWARF unwinder that starts exactly at the probe pc sees a
 * %rsp 128 bytes lower than the CFI says; frame-pointer unwinding is fine.
 *
 * Argument specs have the <sys/sdt.h> form "SIZE@OPERAND", with the size
 * negative for signed arguments: "8@%rdi", "-8@%rcx", "8@$0", "-8@$-1".
 * That is the "nr" subset of sdt.h's "nor" constraint (see above for why no
 * memory operands), which also rules out "sym(%rip)" operands that libbpf
 * 1.1 cannot decode.  Three arguments at most always fit in registers.
 *
 * Each marker is also a compiler memory barrier: the markers delimit which
 * allocations belong to which task, so the compiler must not move an
 * allocator call, or an inlined allocator fast path, across one.
 */
#ifndef MEMSCOPE_MARKERS_H
#define MEMSCOPE_MARKERS_H

/* clang-format off: asm templates and aligned macros, laid out by hand */
#if !defined(MEMSCOPE_MARKERS_DISABLE) && defined(__x86_64__) && \
	defined(__GNUC__)

/*
 * A constant or a register, never memory: see "The red zone" above.  The
 * macros copy every argument into a 64-bit local first so that its type, and
 * so the size in the spec, is fixed whatever the caller passes.
 */
#define __MEMSCOPE_ARG "nr"

/*
 * The conversion to 64 bits.  Ids may be integers or pointers.  C++ gets
 * named casts, so that code built with -Wold-style-cast takes the header;
 * extern "C++" in case the header is included inside an extern "C" block.
 */
#ifdef __cplusplus
extern "C++" {
template <typename T> inline unsigned long long __memscope_u64(T *p)
{
	return reinterpret_cast<unsigned long long>(p);
}
template <typename T> inline unsigned long long __memscope_u64(T v)
{
	return static_cast<unsigned long long>(v);
}
}
#define __MEMSCOPE_U64(x) __memscope_u64(x)
#define __MEMSCOPE_S64(x) static_cast<long long>(x)
#else
#define __MEMSCOPE_U64(x) ((unsigned long long)(x))
#define __MEMSCOPE_S64(x) ((long long)(x))
#endif

/*
 * One anchor symbol per linked object, in a COMDAT section so that every
 * translation unit can define it and the linker keeps one.  Consumers compare
 * its address recorded in each note with the address of the .stapsdt.base
 * section to undo any prelink-style relocation of the text.
 */
#define __MEMSCOPE_ASM_BASE                               \
	".ifndef _.stapsdt.base\n"                        \
	".pushsection .stapsdt.base,\"aG\",\"progbits\"," \
	".stapsdt.base,comdat\n"                          \
	".weak _.stapsdt.base\n"                          \
	".hidden _.stapsdt.base\n"                        \
	"_.stapsdt.base: .space 1\n"                      \
	".size _.stapsdt.base, 1\n"                       \
	".popsection\n"                                   \
	".endif\n"

/*
 * The probe: the 5-byte nop at label 990, between the two lea that keep the
 * optimized uprobe's CALL out of the red zone, then the note that describes
 * it.  The nop is spelled as bytes because an assembler may encode "nopl
 * 0(%rax,%rax,1)" without its zero displacement, in 4 bytes.  The "?" group
 * flag puts the note in the COMDAT group of the enclosing function (C++
 * inline functions, templates), so the note is dropped with the code when
 * the linker discards a duplicate copy.  The template is used with operands,
 * hence "%%" for a literal "%".
 */
#define __MEMSCOPE_ASM_PROBE(name, args)               \
	"	lea -128(%%rsp), %%rsp\n"                    \
	"990:	.byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"    \
	"	lea 128(%%rsp), %%rsp\n"                     \
	"	.pushsection .note.stapsdt,\"?\",\"note\"\n" \
	"	.balign 4\n"                                 \
	"	.4byte 992f-991f, 994f-993f, 3\n"            \
	"991:	.asciz \"stapsdt\"\n"                    \
	"992:	.balign 4\n"                             \
	"993:	.8byte 990b\n"                           \
	"	.8byte _.stapsdt.base\n"                     \
	"	.8byte 0\n"                                  \
	"	.asciz \"memscope\"\n"                       \
	"	.asciz \"" name "\"\n"                 \
	"	.asciz \"" args "\"\n"                 \
	"994:	.balign 4\n"                             \
	"	.popsection\n" __MEMSCOPE_ASM_BASE

#define __MEMSCOPE_U(x) "8@%[" #x "]"
#define __MEMSCOPE_S(x) "-8@%[" #x "]"

#define __MEMSCOPE_PROBE1(name, a1)                                       \
	do {                                                              \
		unsigned long long __ms_a1 = __MEMSCOPE_U64(a1);          \
		__asm__ __volatile__(                                     \
			__MEMSCOPE_ASM_PROBE(name, __MEMSCOPE_U(__ms_a1)) \
			:                                                 \
			: [__ms_a1] __MEMSCOPE_ARG(__ms_a1)               \
			: "memory");                                      \
	} while (0)

#define MEMSCOPE_TASK_SPAWN(id, parent_id, state_size)                      \
	do {                                                                \
		unsigned long long __ms_a1 = __MEMSCOPE_U64(id);            \
		unsigned long long __ms_a2 = __MEMSCOPE_U64(parent_id);     \
		unsigned long long __ms_a3 = __MEMSCOPE_U64(state_size);    \
		__asm__ __volatile__(                                       \
			__MEMSCOPE_ASM_PROBE(                               \
				"task_spawn",                               \
				__MEMSCOPE_U(__ms_a1) " " __MEMSCOPE_U(     \
					__ms_a2) " " __MEMSCOPE_U(__ms_a3)) \
			:                                                   \
			: [__ms_a1] __MEMSCOPE_ARG(__ms_a1),                \
			  [__ms_a2] __MEMSCOPE_ARG(__ms_a2),                \
			  [__ms_a3] __MEMSCOPE_ARG(__ms_a3)                 \
			: "memory");                                        \
	} while (0)

#define MEMSCOPE_TASK_POLL_BEGIN(id) __MEMSCOPE_PROBE1("poll_begin", id)

#define MEMSCOPE_TASK_POLL_END(id, wakers)                              \
	do {                                                            \
		unsigned long long __ms_a1 = __MEMSCOPE_U64(id);        \
		long long __ms_a2 = __MEMSCOPE_S64(wakers);             \
		__asm__ __volatile__(                                   \
			__MEMSCOPE_ASM_PROBE(                           \
				"poll_end",                             \
				__MEMSCOPE_U(__ms_a1) " " __MEMSCOPE_S( \
					__ms_a2))                       \
			:                                               \
			: [__ms_a1] __MEMSCOPE_ARG(__ms_a1),            \
			  [__ms_a2] __MEMSCOPE_ARG(__ms_a2)             \
			: "memory");                                    \
	} while (0)

#define MEMSCOPE_TASK_COMPLETE(id) __MEMSCOPE_PROBE1("task_complete", id)
#define MEMSCOPE_TASK_CANCEL(id) __MEMSCOPE_PROBE1("task_cancel", id)
#define MEMSCOPE_TASK_FREE(id) __MEMSCOPE_PROBE1("task_free", id)

#else /* markers disabled or unsupported target */

/*
 * Like the kernel's no_printk(): the arguments are still type-checked and
 * count as used (no unused-variable warnings, no clang "not needed"
 * warning for statics), but "if (0)" means nothing is evaluated or emitted.
 */
#define MEMSCOPE_TASK_SPAWN(id, parent_id, state_size) \
	do {                                           \
		if (0) {                               \
			(void)(id);                    \
			(void)(parent_id);             \
			(void)(state_size);            \
		}                                      \
	} while (0)
#define MEMSCOPE_TASK_POLL_BEGIN(id) \
	do {                         \
		if (0)               \
			(void)(id);  \
	} while (0)
#define MEMSCOPE_TASK_POLL_END(id, wakers) \
	do {                               \
		if (0) {                   \
			(void)(id);        \
			(void)(wakers);    \
		}                          \
	} while (0)
#define MEMSCOPE_TASK_COMPLETE(id)  \
	do {                        \
		if (0)              \
			(void)(id); \
	} while (0)
#define MEMSCOPE_TASK_CANCEL(id)    \
	do {                        \
		if (0)              \
			(void)(id); \
	} while (0)
#define MEMSCOPE_TASK_FREE(id)      \
	do {                        \
		if (0)              \
			(void)(id); \
	} while (0)

#endif
/* clang-format on */

#endif /* MEMSCOPE_MARKERS_H */
