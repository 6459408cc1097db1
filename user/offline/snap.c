// SPDX-License-Identifier: MIT
/*
 * Snapshot loader. The file is untrusted input: every field is checked
 * for presence and type before it is used, and the first problem found
 * becomes the one-line error the user sees, with the field's path
 * ("tasks[3].live_bytes: expected a non-negative integer, found string").
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "offline/snap.h"

struct ld {
	char *err;
	size_t errlen;
	/* tasks[] and sites[] were read piece by piece: the document given
	 * to load_doc has them empty. */
	bool streamed;
	/* spawn_site_id -> 1 + the first task spawned there (0: none yet),
	 * so that the tasks of one site share its frames. */
	size_t *site_owner;
	size_t nsite_owner;
	struct snap *s;
};

#define SITE_SHARE_MAX (1u << 20) /* sites ids shared below this */

static int ld_fail(struct ld *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int ld_fail(struct ld *l, const char *fmt, ...)
{
	va_list ap;

	if (l->errlen) {
		va_start(ap, fmt);
		vsnprintf(l->err, l->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const char *type_name(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
		return "a fraction";
	case json_type_int:
		return "an integer";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "something else";
}

/*
 * A string from the file, quoted for an error message: short, and with
 * no control characters, so the message stays one line.
 */
static const char *quote(char *buf, size_t len, const char *s)
{
	size_t o = 0;

	if (len < 8)
		return "";
	buf[o++] = '"';
	for (; *s && o < len - 5; s++) {
		unsigned char c = (unsigned char)*s;

		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (*s) {
		buf[o++] = '.';
		buf[o++] = '.';
		buf[o++] = '.';
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Field lookup; *v is NULL for JSON null. Missing is an error. */
static int get_field(struct ld *l, struct json_object *o, const char *where,
		     const char *key, struct json_object **v)
{
	if (!json_object_object_get_ex(o, key, v))
		return ld_fail(l, "%s%s%s: missing", where, *where ? "." : "",
			       key);
	return 0;
}

static int want(struct ld *l, struct json_object *v, enum json_type type,
		const char *what, const char *where, const char *key)
{
	if (json_object_is_type(v, type))
		return 0;
	return ld_fail(l, "%s%s%s: expected %s, found %s", where,
		       *where && *key ? "." : "", key, what, type_name(v));
}

static int int_value(struct ld *l, struct json_object *v, const char *where,
		     const char *key, uint64_t *out)
{
	int err =
		want(l, v, json_type_int, "a non-negative integer", where, key);

	if (err)
		return err;
	/* json-c keeps values above INT64_MAX as uint64: never negative. */
	if (json_object_get_int64(v) < 0)
		return ld_fail(
			l,
			"%s%s%s: expected a non-negative integer, found %lld",
			where, *where && *key ? "." : "", key,
			(long long)json_object_get_int64(v));
	*out = json_object_get_uint64(v);
	return 0;
}

static int get_u64(struct ld *l, struct json_object *o, const char *where,
		   const char *key, uint64_t *out)
{
	struct json_object *v;
	int err = get_field(l, o, where, key, &v);

	return err ?: int_value(l, v, where, key, out);
}

/* An integer or null. */
static int get_opt_u64(struct ld *l, struct json_object *o, const char *where,
		       const char *key, bool *has, uint64_t *out)
{
	struct json_object *v;
	int err = get_field(l, o, where, key, &v);

	if (err)
		return err;
	*has = v != NULL;
	*out = 0;
	if (!v)
		return 0;
	err = int_value(l, v, where, key, out);
	if (err)
		return ld_fail(
			l,
			"%s.%s: expected a non-negative integer or null, found %s",
			where, key, type_name(v));
	return 0;
}

/* A field later snapshots added: absent (an older writer), null or an
 * integer. */
static int get_added_u64(struct ld *l, struct json_object *o, const char *where,
			 const char *key, bool *has, uint64_t *out)
{
	if (!json_object_object_get_ex(o, key, NULL)) {
		*has = false;
		*out = 0;
		return 0;
	}
	return get_opt_u64(l, o, where, key, has, out);
}

static int get_bool(struct ld *l, struct json_object *o, const char *where,
		    const char *key, bool *out)
{
	struct json_object *v;
	int err = get_field(l, o, where, key, &v);

	if (!err)
		err = want(l, v, json_type_boolean, "true or false", where,
			   key);
	if (!err)
		*out = json_object_get_boolean(v);
	return err;
}

static int dup_string(struct json_object *v, char **out)
{
	/* Cut at an embedded NUL: every consumer prints C strings. */
	*out = strdup(json_object_get_string(v));
	return *out ? 0 : -ENOMEM;
}

static int get_str(struct ld *l, struct json_object *o, const char *where,
		   const char *key, char **out)
{
	struct json_object *v;
	int err = get_field(l, o, where, key, &v);

	if (!err)
		err = want(l, v, json_type_string, "a string", where, key);
	return err ?: dup_string(v, out);
}

/* A frame field: string, null or absent, all but string meaning unknown. */
static int get_frame_str(struct ld *l, struct json_object *o, const char *where,
			 const char *key, char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return ld_fail(l, "%s.%s: expected a string or null, found %s",
			       where, key, type_name(v));
	return dup_string(v, out);
}

static int get_obj(struct ld *l, struct json_object *o, const char *where,
		   const char *key, struct json_object **out)
{
	int err = get_field(l, o, where, key, out);

	return err ?: want(l, *out, json_type_object, "an object", where, key);
}

static int get_arr(struct ld *l, struct json_object *o, const char *where,
		   const char *key, struct json_object **out, size_t *n)
{
	int err = get_field(l, o, where, key, out);

	if (!err)
		err = want(l, *out, json_type_array, "an array", where, key);
	if (!err)
		*n = json_object_array_length(*out);
	return err;
}

/* calloc for n elements that reports -ENOMEM; n == 0 gives NULL. */
static int alloc_array(void **p, size_t n, size_t size)
{
	*p = NULL;
	if (!n)
		return 0;
	*p = calloc(n, size);
	return *p ? 0 : -ENOMEM;
}

static int load_mem(struct ld *l, struct json_object *o, const char *where,
		    struct snap_mem *m)
{
	int err;

	err = get_u64(l, o, where, "alloc_count", &m->alloc_count);
	err = err ?: get_u64(l, o, where, "alloc_bytes", &m->alloc_bytes);
	err = err ?: get_u64(l, o, where, "free_count", &m->free_count);
	err = err ?: get_u64(l, o, where, "free_bytes", &m->free_bytes);
	err = err ?: get_u64(l, o, where, "live_count", &m->live_count);
	err = err ?: get_u64(l, o, where, "live_bytes", &m->live_bytes);
	err = err   ?:
		      get_u64(l, o, where, "peak_live_bytes",
			      &m->peak_live_bytes);
	return err;
}

static int load_pages(struct ld *l, struct json_object *o, const char *where,
		      struct snap_pages *p)
{
	int err;

	err = want(l, o, json_type_object, "an object", where, "");
	err = err ?: get_u64(l, o, where, "faults", &p->faults);
	err = err ?: get_u64(l, o, where, "fault_bytes", &p->fault_bytes);
	err = err ?: get_u64(l, o, where, "released_bytes", &p->released_bytes);
	err = err ?: get_u64(l, o, where, "resident_bytes", &p->resident_bytes);
	err = err   ?:
		      get_u64(l, o, where, "peak_resident_bytes",
			      &p->peak_resident_bytes);
	return err;
}

/* page_level: absent or null unless the run was in page-level mode. */
static int load_page_level(struct ld *l, struct json_object *doc,
			   struct snap *s)
{
	const char *w = "page_level";
	struct json_object *o, *v;
	int err;

	if (!json_object_object_get_ex(doc, w, &o) || !o)
		return 0;
	s->page_level = true;
	err = load_pages(l, o, w, &s->pages);
	err = err ?: get_u64(l, o, w, "mmap_count", &s->mmap_count);
	err = err ?: get_u64(l, o, w, "mmap_anon_bytes", &s->mmap_anon_bytes);
	err = err ?: get_u64(l, o, w, "munmap_count", &s->munmap_count);
	err = err ?: get_u64(l, o, w, "madvise_count", &s->madvise_count);
	err = err ?: get_u64(l, o, w, "brk_count", &s->brk_count);
	err = err ?: get_u64(l, o, w, "mremap_count", &s->mremap_count);
	err = err ?: get_u64(l, o, w, "size_guessed", &s->pages_guessed);
	err = err ?: get_obj(l, o, w, "runtime", &v);
	err = err ?: load_pages(l, v, "page_level.runtime", &s->pages_runtime);
	err = err ?: get_obj(l, o, w, "outside_tasks", &v);
	err = err   ?:
		      load_pages(l, v, "page_level.outside_tasks",
				 &s->pages_outside);
	return err ?: get_frame_str(l, o, w, "reason", &s->page_reason);
}

static int load_mem_field(struct ld *l, struct json_object *doc,
			  const char *key, struct snap_mem *m)
{
	struct json_object *o;
	int err = get_obj(l, doc, "", key, &o);

	return err ?: load_mem(l, o, key, m);
}

static int load_target(struct ld *l, struct json_object *doc, struct snap *s)
{
	struct json_object *t, *v;
	int err;

	err = get_obj(l, doc, "", "target", &t);
	err = err ?: get_u64(l, t, "target", "pid", &s->pid);
	err = err ?: get_str(l, t, "target", "command", &s->command);
	err = err ?: get_str(l, t, "target", "exe", &s->exe);
	err = err ?: get_bool(l, t, "target", "exited", &s->exited);
	err = err ?: get_field(l, t, "target", "exit_status", &v);
	if (err)
		return err;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return ld_fail(
			l,
			"target.exit_status: expected an integer or null, found %s",
			type_name(v));
	s->has_exit_status = true;
	s->exit_status = json_object_get_int64(v);
	return 0;
}

static int load_totals(struct ld *l, struct json_object *doc,
		       struct snap_totals *t)
{
	struct json_object *o;
	int err;

	err = get_obj(l, doc, "", "totals", &o);
	err = err ?: load_mem(l, o, "totals", &t->mem);
	err = err ?: get_u64(l, o, "totals", "lost_events", &t->lost_events);
	err = err ?: get_u64(l, o, "totals", "records", &t->records);
	err = err ?: get_u64(l, o, "totals", "stale_allocs", &t->stale_allocs);
	err = err   ?:
		      get_u64(l, o, "totals", "kernel_no_state",
			      &t->kernel_no_state);
	err = err ?: get_u64(l, o, "totals", "bad_records", &t->bad_records);
	err = err   ?:
		      get_u64(l, o, "totals", "untracked_frees",
			      &t->untracked_frees);
	return err;
}

static int load_async(struct ld *l, struct json_object *doc,
		      struct snap_async *a)
{
	struct json_object *o;
	const char *w = "async";
	int err;

	err = get_obj(l, doc, "", w, &o);
	err = err   ?:
		      get_u64(l, o, w, "async_allocation_count",
			      &a->async_allocation_count);
	err = err   ?:
		      get_u64(l, o, w, "async_allocation_bytes",
			      &a->async_allocation_bytes);
	err = err   ?:
		      get_u64(l, o, w, "future_state_overhead",
			      &a->future_state_overhead);
	err = err   ?:
		      get_u64(l, o, w, "average_future_size",
			      &a->average_future_size);
	err = err   ?:
		      get_u64(l, o, w, "largest_future_size",
			      &a->largest_future_size);
	err = err   ?:
		      get_added_u64(l, o, w, "task_cell_bytes",
				    &a->has_task_cell_bytes,
				    &a->task_cell_bytes);
	err = err   ?:
		      get_u64(l, o, w, "runtime_overhead_bytes",
			      &a->runtime_overhead_bytes);
	err = err   ?:
		      get_u64(l, o, w, "never_finished_count",
			      &a->never_finished_count);
	err = err ?: get_u64(l, o, w, "tasks_alive", &a->tasks_alive);
	err = err ?: get_u64(l, o, w, "tasks_completed", &a->tasks_completed);
	err = err ?: get_u64(l, o, w, "tasks_cancelled", &a->tasks_cancelled);
	return err;
}

static int load_classes(struct ld *l, struct json_object *doc, struct snap *s)
{
	struct json_object *arr;
	size_t n;
	int err;

	err = get_arr(l, doc, "", "live_by_size", &arr, &n);
	err = err ?: alloc_array((void **)&s->classes, n, sizeof(*s->classes));
	if (err)
		return err;
	s->nclasses = n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		struct snap_class *c = &s->classes[i];
		char w[48];

		snprintf(w, sizeof(w), "live_by_size[%zu]", i);
		err = want(l, o, json_type_object, "an object", w, "");
		err = err ?: get_u64(l, o, w, "min", &c->min);
		err = err ?: get_u64(l, o, w, "max", &c->max);
		err = err ?: get_u64(l, o, w, "live_count", &c->live_count);
		err = err ?: get_u64(l, o, w, "live_bytes", &c->live_bytes);
		if (err)
			return err;
	}
	return 0;
}

static int name_value(struct ld *l, struct json_object *o, const char *where,
		      const char *key, const char *const *names, int n,
		      int *out)
{
	char q[80];
	const char *s;
	struct json_object *v;
	int err = get_field(l, o, where, key, &v);

	err = err ?: want(l, v, json_type_string, "a string", where, key);
	if (err)
		return err;
	s = json_object_get_string(v);
	for (int i = 0; i < n; i++) {
		if (names[i] && !strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	return ld_fail(l, "%s.%s: unknown value %s", where, key,
		       quote(q, sizeof(q), s));
}

static const char *const kind_names[] = { "user", "runtime" };
static const char *const state_names[] = { "running", "pending", "completed",
					   "cancelled" };
static const char *const reason_names[] = { NULL, "aborted", "no-waker",
					    "pending", "shutdown" };

const char *snap_state__name(enum snap_state st)
{
	return (unsigned)st < 4 ? state_names[st] : "?";
}

const char *snap_reason__name(enum snap_reason r)
{
	return (unsigned)r < 5 ? reason_names[r] : NULL;
}

const char *snap_kind__name(enum snap_kind k)
{
	return (unsigned)k < 2 ? kind_names[k] : "?";
}

/* A frame's address: absent (older snapshots), null or an integer. */
static int get_frame_u64(struct ld *l, struct json_object *o, const char *where,
			 const char *key, uint64_t *out)
{
	struct json_object *v;

	*out = 0;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	return int_value(l, v, where, key, out);
}

/* An array of frames (every member optional); what = "spawn_site",
 * "frames", for the messages. */
static int load_frame_array(struct ld *l, struct json_object *arr,
			    const char *w, const char *what,
			    struct snap_frame **out, size_t *nout)
{
	size_t n;
	int err;

	err = want(l, arr, json_type_array, "an array", w, what);
	if (err)
		return err;
	n = json_object_array_length(arr);
	err = alloc_array((void **)out, n, sizeof(**out));
	if (err)
		return err;
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *fo = json_object_array_get_idx(arr, i);
		struct snap_frame *f = &(*out)[i];
		struct json_object *v;
		char fw[96];

		snprintf(fw, sizeof(fw), "%s.%s[%zu]", w, what, i);
		err = want(l, fo, json_type_object, "an object", fw, "");
		err = err ?: get_frame_str(l, fo, fw, "function", &f->function);
		err = err ?: get_frame_str(l, fo, fw, "file", &f->file);
		err = err ?: get_frame_str(l, fo, fw, "module", &f->module);
		err = err ?: get_frame_str(l, fo, fw, "build_id", &f->build_id);
		err = err ?: get_frame_str(l, fo, fw, "path", &f->path);
		err = err ?: get_frame_u64(l, fo, fw, "addr", &f->addr);
		if (err)
			return err;
		if (json_object_object_get_ex(fo, "line", &v) && v) {
			err = int_value(l, v, fw, "line", &f->line);
			if (err)
				return err;
		}
	}
	return 0;
}

/* The frames of a site seen with an earlier task: shared. The owner is
 * task idx - 1 of the tasks loaded so far (same id, same length). */
static bool share_frames(struct ld *l, struct json_object *o,
			 struct json_object *arr, struct snap_task *t)
{
	struct json_object *v;
	uint64_t id;
	size_t owner;

	if (!l->s || !json_object_object_get_ex(o, "spawn_site_id", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 ||
	    (id = (uint64_t)json_object_get_int64(v)) >= SITE_SHARE_MAX)
		return false;
	if (id >= l->nsite_owner) {
		size_t n = id + 1 > l->nsite_owner * 2 ? id + 1 :
							 l->nsite_owner * 2;
		size_t *na = realloc(l->site_owner, n * sizeof(*na));

		if (!na)
			return false;
		memset(na + l->nsite_owner, 0,
		       (n - l->nsite_owner) * sizeof(*na));
		l->site_owner = na;
		l->nsite_owner = n;
	}
	owner = l->site_owner[id];
	if (!owner) {
		l->site_owner[id] = (size_t)(t - l->s->tasks) + 1;
		return false;
	}
	owner--;
	if (l->s->tasks[owner].nframes != json_object_array_length(arr) ||
	    l->s->tasks[owner].frames_shared)
		return false;
	t->spawn_site = l->s->tasks[owner].spawn_site;
	t->nframes = l->s->tasks[owner].nframes;
	t->frames_shared = true;
	t->frames_owner = owner;
	return true;
}

static int load_frames(struct ld *l, struct json_object *o, const char *w,
		       struct snap_task *t)
{
	struct json_object *arr;

	/* Optional: present only when memscoped collected stacks. */
	if (!json_object_object_get_ex(o, "spawn_site", &arr) || !arr)
		return 0;
	if (json_object_is_type(arr, json_type_array) &&
	    share_frames(l, o, arr, t))
		return 0;
	return load_frame_array(l, arr, w, "spawn_site", &t->spawn_site,
				&t->nframes);
}

static int load_task(struct ld *l, struct json_object *o, size_t i,
		     struct snap_task *t)
{
	struct json_object *v;
	char w[48];
	int kind = 0, state = 0, reason = 0;
	bool nf;
	int err;

	snprintf(w, sizeof(w), "tasks[%zu]", i);
	err = want(l, o, json_type_object, "an object", w, "");
	err = err ?: get_u64(l, o, w, "id", &t->id);
	err = err ?: name_value(l, o, w, "kind", kind_names, 2, &kind);
	err = err ?: name_value(l, o, w, "state", state_names, 4, &state);
	err = err ?: get_bool(l, o, w, "never_finished", &nf);
	err = err ?: get_field(l, o, w, "never_finished_reason", &v);
	if (err)
		return err;
	if (v) {
		err = name_value(l, o, w, "never_finished_reason", reason_names,
				 5, &reason);
		if (err == -EINVAL && !json_object_is_type(v, json_type_string))
			err = ld_fail(
				l,
				"%s.never_finished_reason: expected a string or null, found %s",
				w, type_name(v));
		if (err)
			return err;
	}
	t->kind = kind;
	t->state = state;
	/* The reason is the fact; the boolean only restates it. */
	t->reason = reason;
	err = get_opt_u64(l, o, w, "parent", &t->has_parent, &t->parent);
	err = err   ?:
		      get_opt_u64(l, o, w, "spawned_ns", &t->has_spawned,
				  &t->spawned_ns);
	err = err   ?:
		      get_opt_u64(l, o, w, "ended_ns", &t->has_ended,
				  &t->ended_ns);
	err = err ?: get_u64(l, o, w, "polls", &t->polls);
	err = err ?: get_u64(l, o, w, "busy_ns", &t->busy_ns);
	err = err   ?:
		      get_opt_u64(l, o, w, "future_size", &t->has_future_size,
				  &t->future_size);
	err = err   ?:
		      get_added_u64(l, o, w, "cell_size", &t->has_cell_size,
				    &t->cell_size);
	err = err ?: load_mem(l, o, w, &t->mem);
	err = err ?: get_u64(l, o, w, "outliving_count", &t->outliving_count);
	err = err ?: get_u64(l, o, w, "outliving_bytes", &t->outliving_bytes);
	if (!err && json_object_object_get_ex(o, "page_level", &v) && v) {
		t->has_pages = true;
		err = load_pages(l, v, w, &t->pages);
	}
	err = err ?: get_str(l, o, w, "runtime", &t->runtime);
	err = err ?: get_u64(l, o, w, "key", &t->key);
	err = err   ?:
		      get_added_u64(l, o, w, "spawn_site_id", &t->has_site_id,
				    &t->site_id);
	err = err ?: load_frames(l, o, w, t);
	return err;
}

static const struct snap_task *sort_tasks;

static int cmp_by_id(const void *a, const void *b)
{
	const struct snap_task *x = &sort_tasks[*(const size_t *)a];
	const struct snap_task *y = &sort_tasks[*(const size_t *)b];

	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	/* Stable on index so lookups find the first of repeated ids. */
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static void index_tasks(struct snap *s)
{
	for (size_t i = 0; i < s->ntasks; i++)
		s->by_id[i] = i;
	if (s->ntasks) {
		sort_tasks = s->tasks;
		qsort(s->by_id, s->ntasks, sizeof(*s->by_id), cmp_by_id);
		sort_tasks = NULL;
	}
}

static int load_tasks(struct ld *l, struct json_object *doc, struct snap *s)
{
	struct json_object *arr;
	size_t n;
	int err;

	if (l->streamed)
		return get_arr(l, doc, "", "tasks", &arr, &n);
	err = get_arr(l, doc, "", "tasks", &arr, &n);
	err = err ?: alloc_array((void **)&s->tasks, n, sizeof(*s->tasks));
	err = err ?: alloc_array((void **)&s->by_id, n, sizeof(*s->by_id));
	if (err)
		return err;
	s->ntasks = n;
	for (size_t i = 0; i < n; i++) {
		err = load_task(l, json_object_array_get_idx(arr, i), i,
				&s->tasks[i]);
		if (err)
			return err;
	}
	index_tasks(s);
	return 0;
}

static int load_site(struct ld *l, struct json_object *o, size_t i,
		     struct snap_site *st)
{
	struct json_object *arr;
	char w[48];
	int err;

	snprintf(w, sizeof(w), "sites[%zu]", i);
	err = want(l, o, json_type_object, "an object", w, "");
	err = err ?: get_u64(l, o, w, "id", &st->id);
	err = err ?: get_u64(l, o, w, "spawns", &st->spawns);
	err = err ?: get_u64(l, o, w, "samples", &st->samples);
	err = err ?: get_u64(l, o, w, "alloc_count", &st->alloc_count);
	err = err ?: get_u64(l, o, w, "alloc_bytes", &st->alloc_bytes);
	err = err ?: get_u64(l, o, w, "live_count", &st->live_count);
	err = err ?: get_u64(l, o, w, "live_bytes", &st->live_bytes);
	err = err ?: get_field(l, o, w, "frames", &arr);
	if (err)
		return err;
	if (!arr)
		return ld_fail(l, "%s.frames: expected an array, found null",
			       w);
	return load_frame_array(l, arr, w, "frames", &st->frames, &st->nframes);
}

/* Optional: older snapshots and hand-made ones have no sites. */
static int load_sites(struct ld *l, struct json_object *doc, struct snap *s)
{
	struct json_object *arr;
	size_t n;
	int err;

	if (!json_object_object_get_ex(doc, "sites", NULL))
		return 0;
	if (l->streamed)
		return get_arr(l, doc, "", "sites", &arr, &n);
	err = get_arr(l, doc, "", "sites", &arr, &n);
	err = err ?: alloc_array((void **)&s->sites, n, sizeof(*s->sites));
	if (err)
		return err;
	s->nsites = n;
	for (size_t i = 0; i < n; i++) {
		err = load_site(l, json_object_array_get_idx(arr, i), i,
				&s->sites[i]);
		if (err)
			return err;
	}
	return 0;
}

static const struct snap_site *sort_sites;

static int cmp_site_id(const void *a, const void *b)
{
	uint64_t x = sort_sites[*(const size_t *)a].id;
	uint64_t y = sort_sites[*(const size_t *)b].id;

	return x < y ? -1 : x > y;
}

/* The index of the site with this id, or SIZE_MAX: sites[id] in what
 * memscoped writes, searched otherwise (*order: site indexes sorted by
 * id, made on first need). */
static size_t site_index(const struct snap *s, size_t **order, uint64_t id)
{
	size_t lo = 0, hi = s->nsites;

	if (id < s->nsites && s->sites[id].id == id)
		return (size_t)id;
	if (!*order && s->nsites) {
		*order = malloc(s->nsites * sizeof(**order));
		if (!*order)
			return SIZE_MAX;
		for (size_t i = 0; i < s->nsites; i++)
			(*order)[i] = i;
		sort_sites = s->sites;
		qsort(*order, s->nsites, sizeof(**order), cmp_site_id);
		sort_sites = NULL;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t v = s->sites[(*order)[mid]].id;

		if (v == id)
			return (*order)[mid];
		if (v < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return SIZE_MAX;
}

/*
 * A task without frames of its own takes its site's (spawn_site_id):
 * memscoped writes a site's frames once, in sites[]. An id naming no
 * site is refused.
 */
static int link_sites(struct ld *l, struct snap *s)
{
	size_t *order = NULL;
	int err = 0;

	for (size_t i = 0; i < s->ntasks && !err; i++) {
		struct snap_task *t = &s->tasks[i];
		size_t si;

		if (t->nframes || !t->has_site_id)
			continue;
		si = site_index(s, &order, t->site_id);
		if (si == SIZE_MAX) {
			err = ld_fail(
				l,
				"tasks[%zu].spawn_site_id: no site %" PRIu64
				" in sites",
				i, t->site_id);
			break;
		}
		t->spawn_site = s->sites[si].frames;
		t->nframes = s->sites[si].nframes;
		t->frames_shared = true;
		t->frames_of_site = true;
		t->frames_owner = si;
	}
	free(order);
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].nframes)
			s->has_spawn_sites = true;
	return err;
}

static int load_sample(struct ld *l, struct json_object *o, size_t i,
		       struct snap_sample *sm)
{
	struct json_object *arr;
	char w[48];
	size_t n;
	int err;

	snprintf(w, sizeof(w), "timeline.samples[%zu]", i);
	err = want(l, o, json_type_object, "an object", w, "");
	err = err ?: get_u64(l, o, w, "t_ns", &sm->t_ns);
	err = err ?: get_u64(l, o, w, "live_bytes", &sm->live_bytes);
	err = err ?: get_u64(l, o, w, "live_count", &sm->live_count);
	err = err ?: get_u64(l, o, w, "tasks_alive", &sm->tasks_alive);
	err = err ?: get_u64(l, o, w, "events", &sm->events);
	err = err ?: get_arr(l, o, w, "top_tasks", &arr, &n);
	err = err ?: alloc_array((void **)&sm->top, n, sizeof(*sm->top));
	if (err)
		return err;
	sm->ntop = n;
	for (size_t j = 0; j < n; j++) {
		struct json_object *to = json_object_array_get_idx(arr, j);
		char tw[80];

		snprintf(tw, sizeof(tw), "%s.top_tasks[%zu]", w, j);
		err = want(l, to, json_type_object, "an object", tw, "");
		err = err ?: get_u64(l, to, tw, "id", &sm->top[j].id);
		err = err   ?:
			      get_u64(l, to, tw, "live_bytes",
				      &sm->top[j].live_bytes);
		if (err)
			return err;
	}
	return 0;
}

static int load_timeline(struct ld *l, struct json_object *doc, struct snap *s)
{
	struct json_object *tl, *arr;
	size_t n;
	int err;

	err = get_obj(l, doc, "", "timeline", &tl);
	err = err ?: get_u64(l, tl, "timeline", "interval_ns", &s->interval_ns);
	err = err ?: get_arr(l, tl, "timeline", "samples", &arr, &n);
	err = err ?: alloc_array((void **)&s->samples, n, sizeof(*s->samples));
	if (err)
		return err;
	s->nsamples = n;
	for (size_t i = 0; i < n; i++) {
		err = load_sample(l, json_object_array_get_idx(arr, i), i,
				  &s->samples[i]);
		if (err)
			return err;
	}
	return 0;
}

/* An array of strings at key: "warnings", "allocators" (absent in older
 * snapshots when optional: none). */
static int load_strings(struct ld *l, struct json_object *doc, const char *key,
			bool optional, char ***out, size_t *nout)
{
	struct json_object *arr;
	size_t n;
	int err;

	if (optional && !json_object_object_get_ex(doc, key, NULL))
		return 0;
	err = get_arr(l, doc, "", key, &arr, &n);
	err = err ?: alloc_array((void **)out, n, sizeof(char *));
	if (err)
		return err;
	*nout = n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(arr, i);
		char w[48];

		snprintf(w, sizeof(w), "%s[%zu]", key, i);
		err = want(l, v, json_type_string, "a string", w, "");
		err = err ?: dup_string(v, &(*out)[i]);
		if (err)
			return err;
	}
	return 0;
}

/* First: is this a memscope snapshot at all, and of a version we read? */
static int check_schema(struct ld *l, struct json_object *doc)
{
	static const char prefix[] = MS_SNAPSHOT_SCHEMA_PREFIX;
	struct json_object *v;
	char q[80];
	const char *s;

	if (!json_object_is_type(doc, json_type_object))
		return ld_fail(
			l,
			"not a memscope snapshot: the JSON document is %s, not an object",
			type_name(doc));
	if (!json_object_object_get_ex(doc, "schema", &v))
		return ld_fail(l,
			       "not a memscope snapshot: no \"schema\" field");
	if (!json_object_is_type(v, json_type_string))
		return ld_fail(
			l,
			"not a memscope snapshot: \"schema\" is %s, not a string",
			type_name(v));
	s = json_object_get_string(v);
	if (!strcmp(s, SNAP_SCHEMA))
		return 0;
	if (!strncmp(s, prefix, sizeof(prefix) - 1))
		return ld_fail(
			l,
			"unsupported snapshot version %s (this memscope reads %s)",
			quote(q, sizeof(q), s), SNAP_SCHEMA);
	return ld_fail(l, "not a memscope snapshot: schema is %s, expected %s",
		       quote(q, sizeof(q), s), SNAP_SCHEMA);
}

static int load_doc(struct ld *l, struct json_object *doc, struct snap *s)
{
	struct json_object *v;
	int mode = 0, err;
	static const char *const modes[] = { "full", "tasks-only" };

	l->s = s;
	err = check_schema(l, doc);
	if (err)
		return err;
	if (json_object_object_get_ex(doc, "generator", &v) && v) {
		err = want(l, v, json_type_string, "a string", "", "generator");
		err = err ?: dup_string(v, &s->generator);
		if (err)
			return err;
	}
	err = load_target(l, doc, s);
	err = err ?: get_u64(l, doc, "", "taken_ns", &s->taken_ns);
	err = err ?: name_value(l, doc, "", "mode", modes, 2, &mode);
	err = err ?: get_str(l, doc, "", "mode", &s->mode);
	err = err ?: get_bool(l, doc, "", "incomplete", &s->incomplete);
	err = err ?: get_str(l, doc, "", "runtime", &s->runtime);
	err = err ?: load_totals(l, doc, &s->totals);
	err = err ?: load_classes(l, doc, s);
	err = err   ?:
		      load_mem_field(l, doc, "runtime_overhead",
				     &s->runtime_overhead);
	err = err ?: load_mem_field(l, doc, "outside_tasks", &s->outside_tasks);
	err = err ?: load_async(l, doc, &s->async);
	err = err ?: load_page_level(l, doc, s);
	err = err ?: load_tasks(l, doc, s);
	err = err ?: load_sites(l, doc, s);
	err = err ?: link_sites(l, s);
	err = err ?: load_timeline(l, doc, s);
	err = err   ?:
		      load_strings(l, doc, "warnings", false, &s->warnings,
				   &s->nwarnings);
	err = err   ?:
		      load_strings(l, doc, "allocators", true, &s->allocators,
				   &s->nallocators);
	s->tasks_only = mode == 1;
	return err;
}

/* 1-based line and column of byte off, for parse errors. */
static void position(const char *buf, size_t off, size_t *line, size_t *col)
{
	const char *nl = NULL;

	*line = 1;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			nl = buf + i;
		}
	}
	*col = nl ? (size_t)(buf + off - nl) : off + 1;
}

/* JSON's white space; not strchr, which would also match NUL. */
static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool blank(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!is_ws(buf[i]))
			return false;
	return true;
}

static int parse(struct ld *l, const char *buf, size_t len,
		 struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *doc;
	enum json_tokener_error jerr;
	size_t end, line, col;
	int err = 0;

	*out = NULL;
	/* A byte order mark from an editor is not worth refusing the file. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
		buf += 3;
		len -= 3;
	}
	if (!len)
		return ld_fail(l, "empty file, not a memscope snapshot");
	/* json-c would stop at a NUL and call the rest trailing garbage. */
	if (memchr(buf, '\0', len))
		return ld_fail(
			l,
			"not a memscope snapshot: binary data (NUL bytes), not JSON");
	if (len > INT32_MAX)
		return ld_fail(l, "too large for a snapshot (%zu bytes)", len);
	tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_ALLOW_TRAILING_CHARS);
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (end > len)
		end = len;
	if (jerr == json_tokener_continue && !blank(buf, len)) {
		/*
		 * A bare number at the very end waits for a terminator: give
		 * it one. Anything else unfinished stays an error.
		 */
		doc = json_tokener_parse_ex(tok, "", 1);
		if (json_tokener_get_error(tok) == json_tokener_success) {
			jerr = json_tokener_success;
			end = len;
		}
	}
	if (jerr == json_tokener_continue && blank(buf, len)) {
		err = ld_fail(
			l,
			"empty file (only white space), not a memscope snapshot");
		goto out;
	}
	if (jerr == json_tokener_continue) {
		err = ld_fail(
			l,
			"truncated: the JSON document ends early (after %zu bytes)",
			len);
		goto out;
	}
	/* Success with no object is a JSON null: check_schema says so. */
	if (jerr != json_tokener_success) {
		size_t first = 0;

		/* buf has no NUL: bound by len, never strspn. */
		while (first < len && is_ws(buf[first]))
			first++;
		/* Wrong from the first byte: some other kind of file. */
		if (first < len && end <= first + 1 && buf[first] != '{' &&
		    buf[first] != '[') {
			err = ld_fail(
				l, "not a memscope snapshot: not JSON at all");
			goto out;
		}
		position(buf, end, &line, &col);
		err = ld_fail(l, "not valid JSON: %s at line %zu, column %zu",
			      json_tokener_error_desc(jerr), line, col);
		goto out;
	}
	for (size_t i = end; i < len; i++) {
		if (!is_ws(buf[i])) {
			position(buf, i, &line, &col);
			err = ld_fail(
				l,
				"not valid JSON: data after the end of the document at line %zu, column %zu",
				line, col);
			goto out;
		}
	}
	*out = doc;
	doc = NULL;
out:
	json_object_put(doc);
	json_tokener_free(tok);
	return err;
}

/* ---- large snapshots, piece by piece ------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws(*p))
		p++;
	return p;
}

/* The end of the string at p (its opening quote), or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p == end)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/*
 * The end of the JSON value at p: only its extent is found here (strings
 * with their escapes, nesting), json-c checks each piece it is given. NULL
 * when the text ends first or nests too deep.
 */
static const char *skip_value(const char *p, const char *end)
{
	int depth = 0;

	p = skip_ws(p, end);
	if (p == end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		while (p < end && !is_ws(*p) && *p != ',' && *p != '}' &&
		       *p != ']')
			p++;
		return p;
	}
	while (p < end) {
		if (*p == '"') {
			p = skip_string(p, end);
			if (!p)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[') {
			if (++depth > JSON_TOKENER_DEFAULT_DEPTH)
				return NULL;
		} else if ((*p == '}' || *p == ']') && --depth == 0) {
			return p + 1;
		}
		p++;
	}
	return NULL;
}

/* One element of tasks[] or sites[], parsed and loaded on its own. */
static int load_element(struct ld *l, const char *p, const char *q, bool task,
			size_t i, struct snap *s)
{
	struct json_object *o;
	int err;

	if (q - p > INT32_MAX)
		return ld_fail(l, "%s[%zu]: too large",
			       task ? "tasks" : "sites", i);
	err = parse(l, p, (size_t)(q - p), &o);
	if (err)
		return err;
	err = task ? load_task(l, o, i, &s->tasks[i]) :
		     load_site(l, o, i, &s->sites[i]);
	json_object_put(o);
	return err;
}

static int grow_for(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t c;
	void *na;

	if (n < *cap)
		return 0;
	c = *cap ? *cap * 2 : 1024;
	na = realloc(*arr, c * elem);
	if (!na)
		return -ENOMEM;
	memset((char *)na + *cap * elem, 0, (c - *cap) * elem);
	*arr = na;
	*cap = c;
	return 0;
}

/* The elements of the array at p..q, one at a time. */
static int load_array(struct ld *l, const char *p, const char *q, bool task,
		      struct snap *s)
{
	size_t cap = 0, n = 0;
	int err;

	p = skip_ws(p, q);
	if (p == q || *p != '[')
		return ld_fail(l, "%s: expected an array",
			       task ? "tasks" : "sites");
	p = skip_ws(p + 1, q);
	while (p < q && *p != ']') {
		const char *e = skip_value(p, q);

		if (!e)
			return ld_fail(
				l,
				"truncated: the JSON document ends early (in %s[%zu])",
				task ? "tasks" : "sites", n);
		err = task ? grow_for((void **)&s->tasks, &cap, n,
				      sizeof(*s->tasks)) :
			     grow_for((void **)&s->sites, &cap, n,
				      sizeof(*s->sites));
		if (err)
			return err;
		/* Counted before loading: a half-loaded element is freed. */
		if (task)
			s->ntasks = n + 1;
		else
			s->nsites = n + 1;
		err = load_element(l, p, e, task, n, s);
		if (err)
			return err;
		n++;
		p = skip_ws(e, q);
		if (p < q && *p == ',')
			p = skip_ws(p + 1, q);
		else if (p < q && *p != ']')
			return ld_fail(l,
				       "not valid JSON: expected , or ] in %s",
				       task ? "tasks" : "sites");
	}
	if (task) {
		if (alloc_array((void **)&s->by_id, n, sizeof(*s->by_id)))
			return -ENOMEM;
		index_tasks(s);
	}
	return 0;
}

/*
 * A large snapshot: tasks[] and sites[] are read element by element, the
 * rest of the document (small) is put together without them and read as
 * usual. Memory: the text, the loaded structures, one element's tree.
 */
static int load_streamed(struct ld *l, const char *buf, size_t len,
			 struct snap *s)
{
	const char *p = buf, *end = buf + len;
	char *rest = NULL;
	size_t rlen = 0;
	FILE *f;

	l->s = s;
	struct json_object *doc = NULL;
	bool first = true;
	int err = 0;

	f = open_memstream(&rest, &rlen);
	if (!f)
		return -ENOMEM;
	p = skip_ws(p, end);
	if (p == end || *p != '{') {
		fclose(f);
		free(rest);
		return ld_fail(l, "not a memscope snapshot: not a JSON object");
	}
	fputc('{', f);
	p = skip_ws(p + 1, end);
	while (!err && p < end && *p != '}') {
		const char *k = p, *ke, *v, *ve;

		ke = *p == '"' ? skip_string(p, end) : p;
		v = ke ? skip_ws(ke, end) : end;
		if (v < end && (ke == p || *v != ':')) {
			err = ld_fail(
				l, "not valid JSON: a key expected at byte %zu",
				(size_t)(p - buf));
			break;
		}
		v = v < end ? skip_ws(v + 1, end) : end;
		ve = v < end ? skip_value(v, end) : NULL;
		if (!ve) {
			err = ld_fail(
				l, "truncated: the JSON document ends early");
			break;
		}
		if (ke - k == 7 && !memcmp(k, "\"tasks\"", 7)) {
			err = load_array(l, v, ve, true, s);
			fprintf(f, "%s\"tasks\":[]", first ? "" : ",");
		} else if (ke - k == 7 && !memcmp(k, "\"sites\"", 7)) {
			err = load_array(l, v, ve, false, s);
			fprintf(f, "%s\"sites\":[]", first ? "" : ",");
		} else {
			fprintf(f, "%s%.*s", first ? "" : ",", (int)(ve - k),
				k);
		}
		first = false;
		p = skip_ws(ve, end);
		if (p < end && *p == ',')
			p = skip_ws(p + 1, end);
		else if (p < end && *p != '}')
			err = ld_fail(
				l,
				"not valid JSON: expected , or } at byte %zu",
				(size_t)(p - buf));
	}
	if (!err && (p == end || !blank(p + 1, (size_t)(end - p - 1))))
		err = ld_fail(
			l,
			p == end ?
				"truncated: the JSON document ends early" :
				"not valid JSON: data after the end of the document");
	fputc('}', f);
	if (fclose(f)) {
		free(rest);
		return err ? err : -ENOMEM;
	}
	if (!err)
		err = parse(l, rest, rlen, &doc);
	free(rest);
	if (!err) {
		l->streamed = true;
		err = load_doc(l, doc, s);
	}
	json_object_put(doc);
	return err;
}

static int load_buffer(struct ld *l, const char *buf, size_t len,
		       struct snap **out, char *err, size_t errlen);

int snap__load_mem(const char *buf, size_t len, struct snap **out, char *err,
		   size_t errlen)
{
	struct ld l = { .err = err, .errlen = errlen };
	int ret = load_buffer(&l, buf, len, out, err, errlen);

	free(l.site_owner);
	return ret;
}

static int load_buffer(struct ld *l, const char *buf, size_t len,
		       struct snap **out, char *err, size_t errlen)
{
	struct json_object *doc;
	struct snap *s;
	int ret;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	if (len >= SNAP_STREAM_BYTES && !memchr(buf, '\0', len)) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			ret = -ENOMEM;
			goto fail_msg;
		}
		ret = load_streamed(l, buf, len, s);
		if (ret) {
			snap__free(s);
			goto fail_msg;
		}
		*out = s;
		return 0;
	}
	ret = parse(l, buf, len, &doc);
	if (ret)
		goto fail_msg;
	s = calloc(1, sizeof(*s));
	if (!s) {
		ret = -ENOMEM;
		goto err_doc;
	}
	s->doc = doc;
	ret = load_doc(l, doc, s);
	if (ret) {
		snap__free(s);
		goto fail_msg;
	}
	*out = s;
	return 0;

err_doc:
	json_object_put(doc);
fail_msg:
	if (ret == -ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	return ret;
}

static int read_all(int fd, char **out, size_t *outlen)
{
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap), *nb;
	struct stat st;

	if (!buf)
		return -ENOMEM;
	/* Size the buffer once for a regular file; pipes grow as they go. */
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0) {
		if ((uint64_t)st.st_size > SNAP_MAX_BYTES) {
			free(buf);
			return -EFBIG;
		}
		cap = (size_t)st.st_size + 1;
		nb = realloc(buf, cap);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			if (cap >= SNAP_MAX_BYTES) {
				free(buf);
				return -EFBIG;
			}
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

int snap__load_file(const char *path, struct snap **out, char *err,
		    size_t errlen)
{
	size_t len = 0;
	char *buf = NULL;
	int fd, ret;

	*out = NULL;
	if (!strcmp(path, "-")) {
		fd = dup(STDIN_FILENO);
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open: %s", strerror(-ret));
		return ret;
	}
	ret = read_all(fd, &buf, &len);
	close(fd);
	if (ret == -EFBIG) {
		snprintf(
			err, errlen,
			"larger than %llu MiB: not a snapshot memscope can read",
			SNAP_MAX_BYTES >> 20);
		return ret;
	}
	if (ret) {
		snprintf(err, errlen, "cannot read: %s", strerror(-ret));
		return ret;
	}
	ret = snap__load_mem(buf, len, out, err, errlen);
	if (!ret && !(*out)->doc) {
		/* Read piece by piece: export --format json needs the text. */
		(*out)->raw = buf;
		(*out)->rawlen = len;
		return 0;
	}
	free(buf);
	return ret;
}

void snap_frame__clear(struct snap_frame *f)
{
	free(f->function);
	free(f->file);
	free(f->module);
	free(f->build_id);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

static void free_frames(struct snap_frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snap_frame__clear(&f[i]);
	free(f);
}

static void free_task(struct snap_task *t)
{
	if (!t->frames_shared)
		free_frames(t->spawn_site, t->nframes);
	free(t->runtime);
}

void snap__drop_text(struct snap *s)
{
	free(s->raw);
	s->raw = NULL;
	s->rawlen = 0;
}

void snap__free(struct snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nwarnings; i++)
		free(s->warnings[i]);
	free(s->warnings);
	for (size_t i = 0; i < s->nallocators; i++)
		free(s->allocators[i]);
	free(s->allocators);
	for (size_t i = 0; i < s->nsamples; i++)
		free(s->samples[i].top);
	free(s->samples);
	for (size_t i = 0; i < s->ntasks; i++)
		free_task(&s->tasks[i]);
	free(s->tasks);
	for (size_t i = 0; i < s->nsites; i++)
		free_frames(s->sites[i].frames, s->sites[i].nframes);
	free(s->sites);
	free(s->by_id);
	free(s->classes);
	free(s->runtime);
	free(s->page_reason);
	free(s->mode);
	free(s->exe);
	free(s->command);
	free(s->generator);
	json_object_put(s->doc);
	free(s->raw);
	free(s);
}

const struct snap_task *snap__find_task(const struct snap *s, uint64_t id)
{
	size_t lo = 0, hi = s->ntasks;

	/* Lower bound: the first of equal ids, as cmp_by_id sorted them. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->tasks[s->by_id[mid]].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->ntasks && s->tasks[s->by_id[lo]].id == id)
		return &s->tasks[s->by_id[lo]];
	return NULL;
}
