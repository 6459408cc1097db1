/* SPDX-License-Identifier: MIT */
/*
 * Frames memscoped could not name, named now. In a stripped binary a
 * frame is only its module, the module's build id and an address in its
 * file; the debug file may turn up later (a debug package installed, a
 * build's debug files copied over, --debug-dir). memscope looks for it as
 * memscoped does (debugfile.h: by build id under the debug directories,
 * by the binary's .gnu_debuglink, never debuginfod), and uses the binary
 * itself when it is still at its path with the same build id.
 */
#ifndef MS_OFFLINE_RESYM_H
#define MS_OFFLINE_RESYM_H

#include <stddef.h>

#include "offline/snap.h"

struct resym_stats {
	size_t frames; /* frames with no function but a module address */
	size_t resolved; /* of those, named now */
	size_t files; /* modules for which a file was found */
};

/*
 * Symbolizes in place the frames of every spawn_site and site that have
 * no function but an address and a build id or path. A stack whose first
 * frame was named here then loses its leading runtime frames
 * (sym__is_runtime_frame), as memscoped folds them when it can name
 * them, unless that would leave only the outermost frame. Reads files
 * named by the snapshot: regular files only, and only ELF. Returns 0 or
 * -ENOMEM; st may be NULL.
 */
int resym__snap(struct snap *s, struct resym_stats *st);

#endif
