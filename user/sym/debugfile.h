/* SPDX-License-Identifier: MIT */
/*
 * Separate debug files, found where gdb and libdw look: by build id under
 * each debug directory (DIR/.build-id/xx/rest.debug), then by the name in
 * .gnu_debuglink next to the binary, in its .debug/ directory and under
 * each debug directory (DIR/<binary's dir>/name, DIR/name). The debug
 * directories are the ones given with --debug-dir, then /usr/lib/debug.
 * A candidate whose build id differs from the binary's is skipped. Never
 * asks debuginfod: a tracer does not fetch from the network.
 */
#ifndef MS_DEBUGFILE_H
#define MS_DEBUGFILE_H

#include <stddef.h>
#include <stdint.h>

#define DEBUGFILE_MAX_DIRS 8
#define DEBUGFILE_ID_MAX 64

/* Adds a debug directory (searched before /usr/lib/debug, in the order
 * added). -E2BIG past DEBUGFILE_MAX_DIRS, -ENOENT if it is not a
 * directory. */
int debugfile__add_dir(const char *dir);
void debugfile__clear_dirs(void);

/* The debug file of the ELF file at path, which has this build id (may
 * be empty) and debuglink (may be NULL). Returns 0 with its path in out,
 * or -ENOENT. */
int debugfile__find(const char *path, const uint8_t *id, size_t id_len,
		    const char *link, char *out, size_t len);

/* Same, reading the build id and debuglink from the file at path. */
int debugfile__find_for(const char *path, char *out, size_t len);

/* Hex of a build id into out (2 * id_len + 1 bytes). */
void debugfile__hex(const uint8_t *id, size_t id_len, char *out);

#endif
