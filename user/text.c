// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

const char *text__bytes(char *buf, size_t len, uint64_t b)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	/* 1023.97 KiB would print as "1024.0 KiB". */
	if (u > 0 && u < 4 && v >= 1023.95) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", b);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

/* Enough of a build id to tell builds apart on a line; the snapshot has
 * all of it. */
#define BUILD_ID_SHOWN 12

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

/* "module+0xADDR (build id 0123456789ab…)": what a frame nothing could
 * symbolize still says (a stripped binary and no debug file). */
static void unsymbolized(char *buf, size_t len, const struct text_frame *f,
			 const char *mod)
{
	const char *id = nonempty(f->build_id);

	if (!id)
		snprintf(buf, len, "%s+0x%" PRIx64, mod, f->addr);
	else if (strlen(id) > BUILD_ID_SHOWN)
		snprintf(buf, len,
			 "%s+0x%" PRIx64 " (build id %.*s\xe2\x80\xa6)", mod,
			 f->addr, BUILD_ID_SHOWN, id);
	else
		snprintf(buf, len, "%s+0x%" PRIx64 " (build id %s)", mod,
			 f->addr, id);
}

const char *text__frame(char *buf, size_t len, const struct text_frame *f,
			bool base)
{
	const char *fn = nonempty(f->function);
	const char *file = nonempty(f->file);
	const char *mod = nonempty(f->module);
	const char *slash = file && base ? strrchr(file, '/') : NULL;

	if (slash && slash[1])
		file = slash + 1;
	/* The module is its file's base name: from the path if need be. */
	if (!mod && nonempty(f->path)) {
		slash = strrchr(f->path, '/');
		mod = slash && slash[1] ? slash + 1 : f->path;
	}

	if (file && f->line)
		snprintf(buf, len, "%s (%s:%" PRIu64 ")", fn ?: "?", file,
			 f->line);
	else if (file)
		snprintf(buf, len, "%s (%s)", fn ?: "?", file);
	else if (fn)
		snprintf(buf, len, "%s", fn);
	else if (f->addr && mod)
		unsymbolized(buf, len, f, mod);
	else if (mod)
		snprintf(buf, len, "? (%s)", mod);
	else
		snprintf(buf, len, "?");
	return buf;
}
