/* SPDX-License-Identifier: MIT */
/*
 * tokio's task vtables, found in an ELF image without symbols.
 *
 * Every task type (one per future and scheduler) has a Vtable in read-only
 * data: seven code pointers (poll, schedule, dealloc, try_read_output,
 * drop_join_handle_slow, drop_abort_handle, shutdown), then the words
 * trailer_offset, scheduler_offset and id_offset (tokio_unstable builds of
 * 1.46+ add one more). In a PIE or a shared library the code pointers are
 * relative relocations (RELA or RELR), which stripping keeps; in a
 * fixed-address executable they are plain words. So task types, their poll
 * and shutdown functions and their layouts are found in any release
 * binary, stripped or not; symbols only name them.
 *
 * The scanner reads the image itself, every offset bounds-checked: it is
 * fed untrusted files (and fuzzed), never libelf.
 */
#ifndef MS_TOKIO_VT_H
#define MS_TOKIO_VT_H

#include <stddef.h>
#include <stdint.h>

enum tokio_vt_fn {
	TOKIO_VT_POLL = 0,
	TOKIO_VT_SCHEDULE,
	TOKIO_VT_DEALLOC,
	TOKIO_VT_TRY_READ_OUTPUT,
	TOKIO_VT_DROP_JOIN_HANDLE_SLOW,
	TOKIO_VT_DROP_ABORT_HANDLE,
	TOKIO_VT_SHUTDOWN,
	TOKIO_VT_FNS,
};

struct tokio_vt {
	uint64_t vaddr; /* of the Vtable, in the image's address space */
	uint64_t fn[TOKIO_VT_FNS]; /* code addresses, same space */
	uint64_t trailer_off, scheduler_off, id_off;
	/* tokio_unstable builds: spawn_location_offset, where Core keeps the
	 * spawn location between the Id and the stage (0: none) */
	uint64_t location_off;
};

/* What was wrong with an image (tokio_vt_set.problems): warnings, the
 * scan goes on with what it could read. */
#define TOKIO_VT_E_TRUNCATED 1u /* a header or table runs past the end */
#define TOKIO_VT_E_RANGE 2u /* a relocation outside every segment */
#define TOKIO_VT_E_FORMAT 4u /* a malformed table (entry size, RELR) */

struct tokio_vt_set {
	struct tokio_vt *vt;
	size_t n;
	unsigned problems; /* TOKIO_VT_E_* */
	size_t relocs; /* relative relocations looked at */
	/* tokio's version, from the source paths its panic locations keep
	 * in the image ("1.47.1"), or "" */
	char version[24];
};

/* Scans an ELF64 image. Returns 0 (out->n may be 0), -ENOEXEC (not a
 * 64-bit little-endian ELF of x86-64 or aarch64) or -ENOMEM. Release out
 * with tokio_vt__release() in every case. */
int tokio_vt__scan(const void *img, size_t len, struct tokio_vt_set *out);
void tokio_vt__release(struct tokio_vt_set *s);
/* One line naming the problems of a set ("" when none). */
const char *tokio_vt__problems(unsigned problems);

/*
 * Where tokio polls its tasks: RawTask::poll, inlined into the worker
 * loops, loads the vtable from the task's Header (+16) and calls its
 * first slot with the Header as the argument:
 *
 *     mov 0x10(%rX),%REG ; mov %rX,%rdi ; call *(%REG)
 *
 * (or the same with %rdi as rX). Returns in *out the addresses just after
 * those calls (the return sites of task polls, in the image's address
 * space), *n of them; the caller frees *out. -ENOMEM, or 0.
 */
int tokio_vt__poll_calls(const void *img, size_t len, uint64_t **out,
			 size_t *n);

/* Version v = "1.47.1" as 1047001; 0 when unknown or malformed. */
uint32_t tokio_vt__version_code(const char *v);

/*
 * Where a task's future lives in its Cell, from the Vtable's offsets and
 * tokio's version (0: unknown, taken as the newest layout). The Cell is
 * repr(C): Header, then Core { scheduler, task_id, stage }, then Trailer.
 * The Stage (an enum: the future, its output, or consumed) ends where the
 * Trailer begins (tokio_unstable keeps the spawn location before it); before 1.40 it is a Rust enum whose tag usually hides in
 * the future's niche, from 1.40 a repr(C) enum with its tag first. The
 * stage's alignment is not in the Vtable: Core starts at scheduler_offset,
 * so an alignment above the Header's 32 bytes shows there; below it the
 * error is at most 16 bytes.
 */
struct tokio_layout {
	uint64_t future_off; /* offset of the future in the Cell */
	uint64_t future_size; /* size of the stage's payload: the future's
			       * size, or the output's when that is larger */
};

int tokio_vt__layout(const struct tokio_vt *vt, uint32_t version,
		     struct tokio_layout *out);
/* Is the fourth offset word (tokio_unstable's spawn location) what it
 * looks like? Then it is the vt's location_off. */
uint64_t tokio_vt__location_off(uint64_t trailer_off, uint64_t id_off,
				uint64_t word);

/* tokio boxes futures larger than MS_TOKIO_BOX_THRESHOLD at spawn from
 * 1.41 on: the Cell then holds a Pin<Box<F>>, and the stage's payload is
 * no bigger than the output (a Result with a JoinError). */
#define TOKIO_BOX_SINCE 1041000u
#define TOKIO_BOXED_PAYLOAD_MAX 256u
#define TOKIO_REPR_C_STAGE_SINCE 1040000u

#endif
