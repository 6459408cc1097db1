/* SPDX-License-Identifier: MIT */
/*
 * Text both the live view (view/) and the offline tool (offline/) print
 * the same way: byte counts and stack frames. Here, below both, so
 * neither directory needs the other's headers.
 */
#ifndef MS_TEXT_H
#define MS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Human-readable byte count into buf ("1.5 MiB"); returns buf. */
const char *text__bytes(char *buf, size_t len, uint64_t bytes);

/* A frame as each caller holds it (model or snapshot): NULL or "" and 0
 * mean unknown. */
struct text_frame {
	const char *function, *file, *module;
	uint64_t line;
	const char *path; /* the module's file: names the module if need be */
	const char *build_id; /* hex */
	uint64_t addr; /* ELF virtual address in the module */
};

/*
 * "function (file:line)"; for a frame with no names but its module's
 * address, "module+0xADDR (build id 0123456789ab…)" so it can be named
 * later from a debug file; "? (module)"; "?" when the frame knows
 * nothing. base: the file's base name only (narrow screens). Returns buf.
 */
const char *text__frame(char *buf, size_t len, const struct text_frame *f,
			bool base);

#endif
