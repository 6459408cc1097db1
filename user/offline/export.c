// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "offline/export.h"
#include "offline/fmt.h"
#include "profile.pb-c.h"

int export__json(FILE *f, const struct snap *s)
{
	const char *text;

	if (!s->doc) {
		/* A large snapshot, read piece by piece: its text as is. */
		if (!s->raw || fwrite(s->raw, 1, s->rawlen, f) != s->rawlen)
			return -EIO;
		return 0;
	}
	text = json_object_to_json_string_ext(
		s->doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
				JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	fputs(text, f);
	fputc('\n', f);
	return 0;
}

/* ---- folded stacks ------------------------------------------------- */

/* A frame for a folded line: ';' separates frames and '\n' lines. */
static void folded_frame(FILE *f, const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p == ';')
			fputc(':', f);
		else if (*p < 0x20 || *p == 0x7f)
			fputc('?', f);
		else
			fputc(*p, f);
	}
}

static const char *frame_name(char *buf, size_t len,
			      const struct snap_frame *fr)
{
	if (fr->function && *fr->function)
		return fr->function;
	return fmt__frame(buf, len, fr);
}

static int by_live_desc(const void *a, const void *b)
{
	const struct snap_task *x = *(const struct snap_task *const *)a;
	const struct snap_task *y = *(const struct snap_task *const *)b;

	if (x->mem.live_bytes != y->mem.live_bytes)
		return x->mem.live_bytes > y->mem.live_bytes ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int export__folded(FILE *f, const struct snap *s)
{
	const struct snap_task **v = calloc(s->ntasks ?: 1, sizeof(*v));
	const char *rt = *s->runtime ? s->runtime : "runtime";
	size_t n = 0;
	char buf[512];

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].mem.live_bytes)
			v[n++] = &s->tasks[i];
	/* Biggest first: the file reads well even without a viewer. */
	qsort(v, n, sizeof(*v), by_live_desc);
	for (size_t i = 0; i < n; i++) {
		const struct snap_task *t = v[i];

		folded_frame(f, *t->runtime ? t->runtime : rt);
		fputc(';', f);
		/* spawn_site is innermost first; stacks read root first. */
		for (size_t j = t->nframes; j-- > 0;) {
			folded_frame(f, frame_name(buf, sizeof(buf),
						   &t->spawn_site[j]));
			fputc(';', f);
		}
		folded_frame(f, fmt__task(buf, sizeof(buf), t));
		fprintf(f, " %" PRIu64 "\n", t->mem.live_bytes);
	}
	free(v);
	if (s->runtime_overhead.live_bytes) {
		folded_frame(f, rt);
		fprintf(f, ";[runtime overhead] %" PRIu64 "\n",
			s->runtime_overhead.live_bytes);
	}
	if (s->outside_tasks.live_bytes)
		fprintf(f, "[outside tasks] %" PRIu64 "\n",
			s->outside_tasks.live_bytes);
	return 0;
}

/* ---- pprof --------------------------------------------------------- */

/* Interning table: byte string -> index, open addressing. */
struct hent {
	char *key;
	size_t len;
	uint64_t val;
};

struct htab {
	struct hent *e;
	size_t cap, n;
};

static uint64_t hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static int htab_grow(struct htab *h)
{
	size_t cap = h->cap ? h->cap * 2 : 256;
	struct hent *e = calloc(cap, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++) {
		size_t j;

		if (!h->e[i].key)
			continue;
		j = hash(h->e[i].key, h->e[i].len) & (cap - 1);
		while (e[j].key)
			j = (j + 1) & (cap - 1);
		e[j] = h->e[i];
	}
	free(h->e);
	h->e = e;
	h->cap = cap;
	return 0;
}

/* *val: the index stored for key, or next_val, stored now. */
static int htab_get(struct htab *h, const void *key, size_t len,
		    uint64_t next_val, uint64_t *val, bool *added)
{
	size_t j;
	int err;

	*added = false;
	if ((h->n + 1) * 2 > h->cap) {
		err = htab_grow(h);
		if (err)
			return err;
	}
	j = hash(key, len) & (h->cap - 1);
	for (; h->e[j].key; j = (j + 1) & (h->cap - 1)) {
		if (h->e[j].len == len && !memcmp(h->e[j].key, key, len)) {
			*val = h->e[j].val;
			return 0;
		}
	}
	/* +1: a zero-length key still gets a non-NULL copy. */
	h->e[j].key = malloc(len + 1);
	if (!h->e[j].key)
		return -ENOMEM;
	memcpy(h->e[j].key, key, len);
	h->e[j].len = len;
	h->e[j].val = next_val;
	h->n++;
	*val = next_val;
	*added = true;
	return 0;
}

static void htab_free(struct htab *h)
{
	for (size_t i = 0; i < h->cap; i++)
		free(h->e[i].key);
	free(h->e);
}

#define NVALUES 4
#define MAXLABELS 4

struct pfunc {
	int64_t name, system_name, filename;
};

struct ploc {
	uint64_t function_id;
	int64_t line;
};

struct psample {
	uint64_t *locs;
	size_t nlocs;
	int64_t value[NVALUES];
	int64_t label[MAXLABELS][2]; /* key, str */
	size_t nlabels;
};

struct pp {
	struct htab strh, funch, loch;
	char **strs;
	size_t nstrs, capstrs;
	struct pfunc *funcs;
	size_t nfuncs, capfuncs;
	struct ploc *locs;
	size_t nlocs, caplocs;
	struct psample *samples;
	size_t nsamples, capsamples;
	int err; /* sticky: checked once at the end */
};

static bool grow(struct pp *p, void **arr, size_t *cap, size_t n, size_t size)
{
	void *na;

	if (p->err)
		return false;
	if (n < *cap)
		return true;
	na = realloc(*arr, (*cap ? *cap * 2 : 64) * size);
	if (!na) {
		p->err = -ENOMEM;
		return false;
	}
	*arr = na;
	*cap = *cap ? *cap * 2 : 64;
	return true;
}

static int64_t str_idx(struct pp *p, const char *s)
{
	uint64_t idx = 0;
	bool added;
	int err;

	if (p->err)
		return 0;
	err = htab_get(&p->strh, s, strlen(s), p->nstrs, &idx, &added);
	if (err) {
		p->err = err;
		return 0;
	}
	if (!added)
		return (int64_t)idx;
	if (!grow(p, (void **)&p->strs, &p->capstrs, p->nstrs,
		  sizeof(*p->strs)))
		return 0;
	p->strs[p->nstrs] = strdup(s);
	if (!p->strs[p->nstrs])
		p->err = -ENOMEM;
	return (int64_t)p->nstrs++;
}

/* Function ids and location ids start at 1: 0 means none in pprof. */
static uint64_t func_id(struct pp *p, const char *name, const char *sys,
			const char *file)
{
	struct pfunc fn = {
		.name = str_idx(p, name),
		.system_name = str_idx(p, sys),
		.filename = str_idx(p, file),
	};
	uint64_t id = 0;
	bool added;
	int err;

	if (p->err)
		return 0;
	err = htab_get(&p->funch, &fn, sizeof(fn), p->nfuncs + 1, &id, &added);
	if (err) {
		p->err = err;
		return 0;
	}
	if (added && grow(p, (void **)&p->funcs, &p->capfuncs, p->nfuncs,
			  sizeof(*p->funcs)))
		p->funcs[p->nfuncs++] = fn;
	return id;
}

static uint64_t loc_id(struct pp *p, uint64_t fid, uint64_t line)
{
	struct ploc loc = { .function_id = fid,
			    .line = line > INT64_MAX ? 0 : (int64_t)line };
	uint64_t id = 0;
	bool added;
	int err;

	if (p->err)
		return 0;
	err = htab_get(&p->loch, &loc, sizeof(loc), p->nlocs + 1, &id, &added);
	if (err) {
		p->err = err;
		return 0;
	}
	if (added &&
	    grow(p, (void **)&p->locs, &p->caplocs, p->nlocs, sizeof(*p->locs)))
		p->locs[p->nlocs++] = loc;
	return id;
}

static int64_t clamp(uint64_t v)
{
	return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static struct psample *new_sample(struct pp *p, const struct snap_mem *m,
				  size_t nlocs)
{
	struct psample *sm;

	if (!grow(p, (void **)&p->samples, &p->capsamples, p->nsamples,
		  sizeof(*p->samples)))
		return NULL;
	sm = &p->samples[p->nsamples];
	memset(sm, 0, sizeof(*sm));
	sm->locs = calloc(nlocs, sizeof(*sm->locs));
	if (!sm->locs) {
		p->err = -ENOMEM;
		return NULL;
	}
	p->nsamples++;
	sm->nlocs = nlocs;
	/* In the order of sample_type. */
	sm->value[0] = clamp(m->alloc_count);
	sm->value[1] = clamp(m->alloc_bytes);
	sm->value[2] = clamp(m->live_count);
	sm->value[3] = clamp(m->live_bytes);
	return sm;
}

static void label(struct pp *p, struct psample *sm, const char *key,
		  const char *val)
{
	if (sm->nlabels == MAXLABELS)
		return;
	sm->label[sm->nlabels][0] = str_idx(p, key);
	sm->label[sm->nlabels][1] = str_idx(p, val);
	sm->nlabels++;
}

static void task_sample(struct pp *p, const struct snap_task *t)
{
	struct psample *sm = new_sample(p, &t->mem, t->nframes + 1);
	const char *r = snap_reason__name(t->reason);
	char name[64];

	if (!sm)
		return;
	/* Leaf first: the task, then where it was spawned, inner to outer. */
	snprintf(name, sizeof(name), "task %" PRIu64, t->id);
	sm->locs[0] = loc_id(p, func_id(p, name, name, ""), 0);
	for (size_t i = 0; i < t->nframes; i++) {
		const struct snap_frame *fr = &t->spawn_site[i];
		char buf[512];
		const char *fn = frame_name(buf, sizeof(buf), fr);

		sm->locs[i + 1] =
			loc_id(p, func_id(p, fn, fn, fr->file ?: ""), fr->line);
	}
	snprintf(name, sizeof(name), "%" PRIu64, t->id);
	/* A string, not a number: ids with bit 63 set exceed int64. */
	label(p, sm, "task_id", name);
	label(p, sm, "state", snap_state__name(t->state));
	if (r)
		label(p, sm, "reason", r);
	label(p, sm, "kind", snap_kind__name(t->kind));
}

static void other_sample(struct pp *p, const char *name,
			 const struct snap_mem *m)
{
	struct psample *sm;

	if (!m->alloc_count && !m->live_count)
		return;
	sm = new_sample(p, m, 1);
	if (sm)
		sm->locs[0] = loc_id(p, func_id(p, name, name, ""), 0);
}

static void pp_free(struct pp *p)
{
	for (size_t i = 0; i < p->nsamples; i++)
		free(p->samples[i].locs);
	free(p->samples);
	free(p->locs);
	free(p->funcs);
	for (size_t i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->strs);
	htab_free(&p->loch);
	htab_free(&p->funch);
	htab_free(&p->strh);
}

/* protobuf-c wants arrays of pointers to initialised messages. */
struct pbuf {
	Perftools__Profiles__Profile prof;
	Perftools__Profiles__ValueType vt[NVALUES], period;
	Perftools__Profiles__ValueType *vtp[NVALUES];
	Perftools__Profiles__Mapping map, *mapp;
	Perftools__Profiles__Function *fn, **fnp;
	Perftools__Profiles__Location *loc, **locp;
	Perftools__Profiles__Line *line, **linep;
	Perftools__Profiles__Sample *sm, **smp;
	Perftools__Profiles__Label *lab, **labp;
	int64_t comment[2];
};

static void pbuf_free(struct pbuf *b)
{
	free(b->labp);
	free(b->lab);
	free(b->smp);
	free(b->sm);
	free(b->linep);
	free(b->line);
	free(b->locp);
	free(b->loc);
	free(b->fnp);
	free(b->fn);
}

static int pbuf_fill(struct pbuf *b, struct pp *p, const struct snap *s)
{
	static const char *const types[NVALUES][2] = {
		{ "alloc_objects", "count" },
		{ "alloc_space", "bytes" },
		{ "inuse_objects", "count" },
		{ "inuse_space", "bytes" },
	};
	size_t nlabels = 0, li = 0;
	char comment[512];

	perftools__profiles__profile__init(&b->prof);
	for (int i = 0; i < NVALUES; i++) {
		perftools__profiles__value_type__init(&b->vt[i]);
		b->vt[i].type = str_idx(p, types[i][0]);
		b->vt[i].unit = str_idx(p, types[i][1]);
		b->vtp[i] = &b->vt[i];
	}
	perftools__profiles__value_type__init(&b->period);
	b->period.type = str_idx(p, "space");
	b->period.unit = str_idx(p, "bytes");
	/* Tell pprof the functions are final: nothing to symbolize. */
	perftools__profiles__mapping__init(&b->map);
	b->map.id = 1;
	b->map.filename = str_idx(p, s->exe);
	b->map.has_functions = 1;
	b->map.has_filenames = s->has_spawn_sites;
	b->map.has_line_numbers = s->has_spawn_sites;
	b->mapp = &b->map;
	snprintf(comment, sizeof(comment), "memscope: %s (pid %" PRIu64 ")",
		 *s->command ? s->command : s->exe, s->pid);
	b->comment[0] = str_idx(p, comment);
	b->comment[1] = str_idx(
		p, s->incomplete ? "incomplete snapshot: figures may be low" :
				   "complete snapshot");
	if (p->err)
		return p->err;

	for (size_t i = 0; i < p->nsamples; i++)
		nlabels += p->samples[i].nlabels;
	b->fn = calloc(p->nfuncs ?: 1, sizeof(*b->fn));
	b->fnp = calloc(p->nfuncs ?: 1, sizeof(*b->fnp));
	b->loc = calloc(p->nlocs ?: 1, sizeof(*b->loc));
	b->locp = calloc(p->nlocs ?: 1, sizeof(*b->locp));
	b->line = calloc(p->nlocs ?: 1, sizeof(*b->line));
	b->linep = calloc(p->nlocs ?: 1, sizeof(*b->linep));
	b->sm = calloc(p->nsamples ?: 1, sizeof(*b->sm));
	b->smp = calloc(p->nsamples ?: 1, sizeof(*b->smp));
	b->lab = calloc(nlabels ?: 1, sizeof(*b->lab));
	b->labp = calloc(nlabels ?: 1, sizeof(*b->labp));
	if (!b->fn || !b->fnp || !b->loc || !b->locp || !b->line || !b->linep ||
	    !b->sm || !b->smp || !b->lab || !b->labp)
		return -ENOMEM;
	for (size_t i = 0; i < p->nfuncs; i++) {
		perftools__profiles__function__init(&b->fn[i]);
		b->fn[i].id = i + 1;
		b->fn[i].name = p->funcs[i].name;
		b->fn[i].system_name = p->funcs[i].system_name;
		b->fn[i].filename = p->funcs[i].filename;
		b->fnp[i] = &b->fn[i];
	}
	for (size_t i = 0; i < p->nlocs; i++) {
		perftools__profiles__line__init(&b->line[i]);
		b->line[i].function_id = p->locs[i].function_id;
		b->line[i].line = p->locs[i].line;
		b->linep[i] = &b->line[i];
		perftools__profiles__location__init(&b->loc[i]);
		b->loc[i].id = i + 1;
		b->loc[i].mapping_id = 1;
		b->loc[i].n_line = 1;
		b->loc[i].line = &b->linep[i];
		b->locp[i] = &b->loc[i];
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		struct psample *ps = &p->samples[i];

		perftools__profiles__sample__init(&b->sm[i]);
		b->sm[i].n_location_id = ps->nlocs;
		b->sm[i].location_id = ps->locs;
		b->sm[i].n_value = NVALUES;
		b->sm[i].value = ps->value;
		b->sm[i].n_label = ps->nlabels;
		b->sm[i].label = &b->labp[li];
		for (size_t j = 0; j < ps->nlabels; j++, li++) {
			perftools__profiles__label__init(&b->lab[li]);
			b->lab[li].key = ps->label[j][0];
			b->lab[li].str = ps->label[j][1];
			b->labp[li] = &b->lab[li];
		}
		b->smp[i] = &b->sm[i];
	}
	b->prof.n_sample_type = NVALUES;
	b->prof.sample_type = b->vtp;
	b->prof.n_sample = p->nsamples;
	b->prof.sample = b->smp;
	b->prof.n_mapping = 1;
	b->prof.mapping = &b->mapp;
	b->prof.n_location = p->nlocs;
	b->prof.location = b->locp;
	b->prof.n_function = p->nfuncs;
	b->prof.function = b->fnp;
	b->prof.n_string_table = p->nstrs;
	b->prof.string_table = p->strs;
	b->prof.duration_nanos = clamp(s->taken_ns);
	b->prof.period_type = &b->period;
	b->prof.period = 1;
	b->prof.n_comment = 2;
	b->prof.comment = b->comment;
	/* The string index of the type pprof shows first. */
	b->prof.default_sample_type = b->vt[3].type;
	return 0;
}

/* The samples in p and the snapshot's figures, packed. */
static int encode(struct pp *p, const struct snap *s, uint8_t **out,
		  size_t *len)
{
	struct pbuf b = { 0 };
	uint8_t *buf;
	size_t n;
	int err;

	*out = NULL;
	*len = 0;
	err = p->err ?: pbuf_fill(&b, p, s);
	if (err)
		goto out;
	n = perftools__profiles__profile__get_packed_size(&b.prof);
	buf = malloc(n ?: 1);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	perftools__profiles__profile__pack(&b.prof, buf);
	*out = buf;
	*len = n;
out:
	pbuf_free(&b);
	return err;
}

int export__pprof_encode(const struct snap *s, uint8_t **out, size_t *len)
{
	struct pp p = { 0 };
	int err;

	str_idx(&p, ""); /* string_table[0] must be "" */
	for (size_t i = 0; i < s->ntasks; i++)
		task_sample(&p, &s->tasks[i]);
	other_sample(&p, "[runtime overhead]", &s->runtime_overhead);
	other_sample(&p, "[outside tasks]", &s->outside_tasks);
	err = encode(&p, s, out, len);
	pp_free(&p);
	return err;
}

/* ---- the heap profile a scraper takes ------------------------------ */

#define HEAP_ROOT_ALLOC "[by allocation site]"
#define HEAP_ROOT_OWNER "[by owner]"
#define HEAP_MAXLOCS 130 /* frames of a stack, a root, a spare */

/* Samples with the same stack and labels become one: a scraper stores
 * what it is given, and a task's id is never among the labels. */
struct heap {
	struct pp p;
	struct htab idx; /* stack + labels -> sample index */
	enum export_view view;
};

static struct psample *heap_sample(struct heap *h, const uint64_t *locs,
				   size_t nlocs, const char *const *labels)
{
	uint64_t key[HEAP_MAXLOCS + MAXLABELS * 2], idx = 0;
	size_t n = 0;
	struct psample *sm;
	bool added;
	int err;

	for (size_t i = 0; i < nlocs; i++)
		key[n++] = locs[i];
	key[n++] = 0; /* no location id is 0 */
	for (size_t i = 0; labels[i]; i++)
		key[n++] = (uint64_t)str_idx(&h->p, labels[i]);
	if (h->p.err)
		return NULL;
	err = htab_get(&h->idx, key, n * sizeof(*key), h->p.nsamples, &idx,
		       &added);
	if (err) {
		h->p.err = err;
		return NULL;
	}
	if (!added)
		return &h->p.samples[idx];
	sm = new_sample(&h->p, &(struct snap_mem){ 0 }, nlocs);
	if (!sm)
		return NULL;
	memcpy(sm->locs, locs, nlocs * sizeof(*locs));
	for (size_t i = 0; labels[i] && labels[i + 1]; i += 2)
		label(&h->p, sm, labels[i], labels[i + 1]);
	return sm;
}

static int64_t sat_add(int64_t a, uint64_t b)
{
	return b > (uint64_t)(INT64_MAX - a) ? INT64_MAX : a + (int64_t)b;
}

static void heap_add(struct psample *sm, uint64_t ac, uint64_t ab, uint64_t lc,
		     uint64_t lb)
{
	/* In the order of sample_type. */
	sm->value[0] = sat_add(sm->value[0], ac);
	sm->value[1] = sat_add(sm->value[1], ab);
	sm->value[2] = sat_add(sm->value[2], lc);
	sm->value[3] = sat_add(sm->value[3], lb);
}

static uint64_t synth_loc(struct pp *p, const char *name)
{
	return loc_id(p, func_id(p, name, name, ""), 0);
}

/* frames innermost first, then the view's root when both are shown. */
static size_t heap_stack(struct heap *h, uint64_t *locs,
			 const struct snap_frame *frames, size_t nframes,
			 const char *none, const char *root)
{
	size_t n = 0;
	char buf[512];

	if (nframes > HEAP_MAXLOCS - 2)
		nframes = HEAP_MAXLOCS - 2;
	for (size_t i = 0; i < nframes; i++) {
		const struct snap_frame *fr = &frames[i];
		const char *fn = frame_name(buf, sizeof(buf), fr);

		locs[n++] =
			loc_id(&h->p, func_id(&h->p, fn, fn, fr->file ?: ""),
			       fr->line);
	}
	if (!n)
		locs[n++] = synth_loc(&h->p, none);
	if (h->view == EXPORT_VIEW_ALL)
		locs[n++] = synth_loc(&h->p, root);
	return n;
}

static void heap_sites(struct heap *h, const struct snap *s)
{
	static const char *const labels[] = { "view", "alloc_site", NULL };
	uint64_t locs[HEAP_MAXLOCS];

	for (size_t i = 0; i < s->nsites; i++) {
		const struct snap_site *site = &s->sites[i];
		struct psample *sm;
		size_t n;

		/* A stack only spawns were taken at allocates nothing. */
		if (!site->samples && !site->alloc_count && !site->live_count)
			continue;
		n = heap_stack(h, locs, site->frames, site->nframes,
			       "[unknown site]", HEAP_ROOT_ALLOC);
		sm = heap_sample(h, locs, n, labels);
		if (sm)
			heap_add(sm, site->alloc_count, site->alloc_bytes,
				 site->live_count, site->live_bytes);
	}
}

static void heap_owner(struct heap *h, const char *name,
		       const struct snap_mem *m)
{
	static const char *const labels[] = { "view", "owner", NULL };
	uint64_t locs[2];
	struct psample *sm;
	size_t n;

	if (!m->alloc_count && !m->live_count)
		return;
	n = heap_stack(h, locs, NULL, 0, name, HEAP_ROOT_OWNER);
	sm = heap_sample(h, locs, n, labels);
	if (sm)
		heap_add(sm, m->alloc_count, m->alloc_bytes, m->live_count,
			 m->live_bytes);
}

static void heap_tasks(struct heap *h, const struct snap *s)
{
	uint64_t locs[HEAP_MAXLOCS];

	for (size_t i = 0; i < s->ntasks; i++) {
		const struct snap_task *t = &s->tasks[i];
		const char *r = snap_reason__name(t->reason);
		const char *labels[] = { "view",
					 "owner",
					 "state",
					 snap_state__name(t->state),
					 r ? "reason" : NULL,
					 r,
					 NULL };
		struct psample *sm;
		size_t n;

		if (!t->mem.alloc_count && !t->mem.live_count)
			continue;
		n = heap_stack(h, locs, t->spawn_site, t->nframes,
			       "[tasks, spawn site unknown]", HEAP_ROOT_OWNER);
		sm = heap_sample(h, locs, n, labels);
		if (sm)
			heap_add(sm, t->mem.alloc_count, t->mem.alloc_bytes,
				 t->mem.live_count, t->mem.live_bytes);
	}
	heap_owner(h, "[runtime overhead]", &s->runtime_overhead);
	heap_owner(h, "[outside tasks]", &s->outside_tasks);
}

int export__pprof_heap_encode(const struct snap *s, enum export_view view,
			      uint8_t **out, size_t *len)
{
	struct heap h = { .view = view };
	int err;

	str_idx(&h.p, ""); /* string_table[0] must be "" */
	if (view == EXPORT_VIEW_ALL || view == EXPORT_VIEW_ALLOC)
		heap_sites(&h, s);
	if (view == EXPORT_VIEW_ALL || view == EXPORT_VIEW_OWNER)
		heap_tasks(&h, s);
	err = encode(&h.p, s, out, len);
	htab_free(&h.idx);
	pp_free(&h.p);
	return err;
}

static int gzip_to(FILE *f, const uint8_t *data, size_t len)
{
	unsigned char chunk[16384];
	z_stream z = { 0 };
	int zr, err = 0;

	/* 15 + 16: a gzip wrapper, as pprof expects. */
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (unsigned char *)data;
	z.avail_in = 0;
	do {
		/* avail_in is 32 bits: feed large inputs in slices. */
		if (!z.avail_in && len) {
			uInt part = len > (1u << 30) ? 1u << 30 : (uInt)len;

			z.avail_in = part;
			len -= part;
		}
		z.next_out = chunk;
		z.avail_out = sizeof(chunk);
		zr = deflate(&z, len || z.avail_in ? Z_NO_FLUSH : Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			err = -EIO;
			break;
		}
		if (fwrite(chunk, 1, sizeof(chunk) - z.avail_out, f) !=
		    sizeof(chunk) - z.avail_out) {
			err = -(errno ?: EIO);
			break;
		}
	} while (zr != Z_STREAM_END);
	deflateEnd(&z);
	return err;
}

int export__pprof(FILE *f, const struct snap *s)
{
	uint8_t *buf;
	size_t len;
	int err;

	err = export__pprof_encode(s, &buf, &len);
	if (err)
		return err;
	err = gzip_to(f, buf, len);
	free(buf);
	return err;
}

int export__pprof_heap(FILE *f, const struct snap *s, enum export_view view)
{
	uint8_t *buf;
	size_t len;
	int err;

	err = export__pprof_heap_encode(s, view, &buf, &len);
	if (err)
		return err;
	err = gzip_to(f, buf, len);
	free(buf);
	return err;
}
