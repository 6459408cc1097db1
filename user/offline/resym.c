// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attach/elf.h"
#include "offline/resym.h"
#include "sym/debugfile.h"
#include "sym/sym.h"

/* One module of the snapshot: its build id and path as the frames give
 * them, and what was found for it (NULL: nothing). */
struct rmod {
	char *build_id, *path;
	struct sym_file *file;
};

struct resym {
	struct rmod *mods;
	size_t n, cap;
	struct resym_stats st;
};

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The build id's bytes; 0 when absent or not hex (the snapshot is
 * untrusted: such a frame is looked up by path only). */
static size_t parse_id(const char *hex, uint8_t *id)
{
	size_t len = hex ? strlen(hex) : 0;

	if (!len || len % 2 || len / 2 > DEBUGFILE_ID_MAX)
		return 0;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return len / 2;
}

/* The binary at path, if it is still the one the frames came from: its
 * build id equals theirs (a rebuilt binary has another), or they have
 * none to compare. Its .gnu_debuglink goes to link ("" for none). */
static bool binary_matches(const char *path, const uint8_t *id, size_t id_len,
			   char *link, size_t len)
{
	uint8_t got[DEBUGFILE_ID_MAX];
	struct elf_file *ef;
	struct stat st;
	size_t n;
	bool ok;

	link[0] = '\0';
	if (!path || path[0] != '/' || stat(path, &st) || !S_ISREG(st.st_mode))
		return false;
	if (elf__open(path, &ef))
		return false;
	n = elf__build_id(ef, got, sizeof(got));
	ok = !id_len || (n == id_len && !memcmp(got, id, n));
	if (ok && elf__debuglink(ef, link, len))
		link[0] = '\0';
	elf__close(ef);
	return ok;
}

static struct sym_file *open_module(struct resym *r, const char *build_id,
				    const char *path)
{
	char link[NAME_MAX + 1], dbg[PATH_MAX];
	uint8_t id[DEBUGFILE_ID_MAX];
	size_t id_len = parse_id(build_id, id);
	struct sym_file *f = NULL;

	/* The binary itself, when it is still there: its symbol table if
	 * it kept one, and libdwfl finds its debug file by the same rules
	 * (sym.c's find_debuginfo). */
	if (binary_matches(path, id, id_len, link, sizeof(link)) &&
	    !sym__file_open(path, &f))
		return f;
	/* Gone or replaced: by build id, and by the name objcopy
	 * --add-gnu-debuglink gives by default (the build id says whether
	 * what is found there is the right one). */
	if (!id_len)
		return NULL;
	if (path && !link[0]) {
		const char *base = strrchr(path, '/');

		base = base ? base + 1 : path;
		if (snprintf(link, sizeof(link), "%s.debug", base) >=
		    (int)sizeof(link))
			link[0] = '\0';
	}
	if (debugfile__find(path, id, id_len, link[0] ? link : NULL, dbg,
			    sizeof(dbg)) ||
	    sym__file_open(dbg, &f))
		return NULL;
	return f;
}

static int module_for(struct resym *r, const struct snap_frame *fr,
		      struct sym_file **out)
{
	struct rmod *m;

	for (size_t i = 0; i < r->n; i++) {
		if (same(r->mods[i].build_id, fr->build_id) &&
		    same(r->mods[i].path, fr->path)) {
			*out = r->mods[i].file;
			return 0;
		}
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct rmod *nm = realloc(r->mods, cap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		r->mods = nm;
		r->cap = cap;
	}
	m = &r->mods[r->n];
	/* Copies: folding frees frames as it goes. */
	m->build_id = fr->build_id ? strdup(fr->build_id) : NULL;
	m->path = fr->path ? strdup(fr->path) : NULL;
	if ((fr->build_id && !m->build_id) || (fr->path && !m->path)) {
		free(m->build_id);
		free(m->path);
		return -ENOMEM;
	}
	r->n++;
	m->file = open_module(r, fr->build_id, fr->path);
	r->st.files += m->file != NULL;
	*out = m->file;
	return 0;
}

static int set_str(char **dst, const char *src)
{
	char *s = strdup(src);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int resym_frame(struct resym *r, struct snap_frame *fr)
{
	struct sym_file *f;
	struct sym_frame sf;
	int err;

	if ((fr->function && *fr->function) || !fr->addr ||
	    (!fr->build_id && !fr->path))
		return 0;
	r->st.frames++;
	err = module_for(r, fr, &f);
	if (err || !f || sym__file_frame(f, fr->addr, &sf))
		return err;
	if (sf.function)
		err = set_str(&fr->function, sf.function);
	if (!err && sf.file && !(fr->file && *fr->file)) {
		err = set_str(&fr->file, sf.file);
		fr->line = sf.line > 0 ? (uint64_t)sf.line : 0;
	}
	if (err)
		return err;
	fr->resolved = true;
	r->st.resolved++;
	return 0;
}

static bool is_runtime(const struct snap_frame *fr)
{
	struct sym_frame sf = {
		.function = fr->function,
		.module = fr->module,
	};

	return sym__is_runtime_frame(&sf);
}

/* memscoped keeps the first user frame in front; it could not tell the
 * runtime's frames of a stripped binary from the user's, now we can.
 * Never down to the outermost frame alone: that is no site. */
static void fold(struct snap_frame *frames, size_t *n)
{
	size_t first = 0;

	if (!*n || !frames[0].resolved)
		return;
	while (first + 1 < *n && is_runtime(&frames[first]))
		first++;
	if (!first || first + 1 >= *n)
		return;
	for (size_t i = 0; i < first; i++)
		snap_frame__clear(&frames[i]);
	memmove(frames, frames + first, (*n - first) * sizeof(*frames));
	*n -= first;
}

static int resym_stack(struct resym *r, struct snap_frame *frames, size_t *n)
{
	int err = 0;

	for (size_t i = 0; i < *n && !err; i++)
		err = resym_frame(r, &frames[i]);
	if (!err)
		fold(frames, n);
	return err;
}

int resym__snap(struct snap *s, struct resym_stats *st)
{
	struct resym r = { 0 };
	int err = 0;

	for (size_t i = 0; i < s->ntasks && !err; i++)
		if (!s->tasks[i].frames_shared)
			err = resym_stack(&r, s->tasks[i].spawn_site,
					  &s->tasks[i].nframes);
	for (size_t i = 0; i < s->nsites && !err; i++)
		err = resym_stack(&r, s->sites[i].frames, &s->sites[i].nframes);
	/* Tasks sharing a site's frames: as many as their owner has now. */
	for (size_t i = 0; i < s->ntasks; i++) {
		struct snap_task *t = &s->tasks[i];

		if (t->frames_shared)
			t->nframes = t->frames_of_site ?
					     s->sites[t->frames_owner].nframes :
					     s->tasks[t->frames_owner].nframes;
	}
	for (size_t i = 0; i < r.n; i++) {
		sym__file_close(r.mods[i].file);
		free(r.mods[i].build_id);
		free(r.mods[i].path);
	}
	free(r.mods);
	if (st)
		*st = r.st;
	return err;
}
