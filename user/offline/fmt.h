/* SPDX-License-Identifier: MIT */
/* Formatting and escaping shared by the offline commands. */
#ifndef MS_OFFLINE_FMT_H
#define MS_OFFLINE_FMT_H

#include <stdint.h>
#include <stdio.h>

#include "offline/snap.h"

/* Each returns buf, always NUL-terminated. */
const char *fmt__bytes(char *buf, size_t len, uint64_t bytes);
/* "9.4 KiB (9600 bytes)", or "512 bytes" when exact already. */
const char *fmt__bytes_exact(char *buf, size_t len, uint64_t bytes);
const char *fmt__duration(char *buf, size_t len, uint64_t ns);
/* "+1.2 MiB", "-300 B", "0 B": b - a without overflow. */
const char *fmt__delta_bytes(char *buf, size_t len, uint64_t a, uint64_t b);
const char *fmt__delta_count(char *buf, size_t len, uint64_t a, uint64_t b);
/* "function (file:line)"; for a frame with no names but its module's
 * address, "module+0xADDR (build id 0123456789ab…)"; "?" when the frame
 * knows nothing. */
const char *fmt__frame(char *buf, size_t len, const struct snap_frame *f);
/* The task's innermost spawn frame, or "-" without a spawn_site. */
const char *fmt__site(char *buf, size_t len, const struct snap_task *t);
/* "task 7", "task 7 [aborted]" when it never finished. */
const char *fmt__task(char *buf, size_t len, const struct snap_task *t);
/* Age of a task: spawn to end, or to the snapshot when alive; "?" if unknown. */
const char *fmt__age(char *buf, size_t len, const struct snap *s,
		     const struct snap_task *t);

/* b - a, saturated to the int64 range: for sorting by growth. */
int64_t delta__i64(uint64_t a, uint64_t b);

/*
 * Snapshot strings are untrusted: a command line may hold newlines or
 * terminal escapes. esc__text prints control characters (C0, DEL, C1)
 * and invalid UTF-8 as '?'; esc__html escapes markup and replaces
 * invalid UTF-8 with U+FFFD so the page is always valid UTF-8.
 */
void esc__text(FILE *f, const char *s);
void esc__html(FILE *f, const char *s);
/* Columns the string takes once printed by esc__text (code points). */
size_t esc__width(const char *s);

#endif
