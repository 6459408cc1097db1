// SPDX-License-Identifier: MIT
/*
 * One watched process: its probes (allocator, tokio, USDT), collector,
 * model and snapshots, and following the programs it runs (exec).
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "attach/attach.h"
#include "collect/collector.h"
#include "collect/dispatch.h"
#include "log.h"
#include "memscope.skel.h"
#include "model/model.h"
#include "options.h"
#include "session.h"
#include "util.h"
#include "view/snapshot.h"
#include "view/summary.h"

#pragma GCC poison u8 u16 u32 u64 s32 s64

/* FILE with {n} -> the snapshot's number, {t} -> seconds since start,
 * {pid} -> the process. */
static void snapshot_path(const char *pattern, unsigned seq, uint64_t secs,
			  pid_t pid, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = pattern; *p && o + 1 < len; p++) {
		if (!strncmp(p, "{n}", 3)) {
			o += (size_t)snprintf(out + o, len - o, "%04u", seq);
			p += 2;
		} else if (!strncmp(p, "{t}", 3)) {
			o += (size_t)snprintf(out + o, len - o, "%llu",
					      (unsigned long long)secs);
			p += 2;
		} else if (!strncmp(p, "{pid}", 5)) {
			o += (size_t)snprintf(out + o, len - o, "%d", (int)pid);
			p += 4;
		} else {
			out[o++] = *p;
		}
		if (o >= len)
			o = len - 1;
	}
	out[o] = '\0';
}

/* A snapshot could not be written: the run exits non-zero. */
static bool snapshot_failed;

bool session__snapshot_failed(void)
{
	return snapshot_failed;
}

/* Before anything is attached: can snapshots be written where asked?
 * (A pattern is tried with its first expansion; {pid} as pid.) */
int session__check_snapshot_path(const struct options *o, pid_t pid)
{
	char path[PATH_MAX];
	int err;

	if (!o->snapshot)
		return 0;
	snapshot_path(o->snapshot, 1, 0, pid, path, sizeof(path));
	err = atomicfile__check(path);
	if (err)
		pr_err("cannot write the snapshot %s: %s", path,
		       err == -ELOOP  ? "it is a symbolic link" :
		       err == -EISDIR ? "it is a directory" :
					strerror(-err));
	return err;
}

/* What a snapshot says of the process besides its model; execs is
 * TARGET_MAX_EXECS long. */
static void snapshot_meta(const struct options *o, const struct target *t,
			  struct snapshot_exec *execs,
			  struct snapshot_meta *meta)
{
	*meta = (struct snapshot_meta){
		.pid = (uint32_t)t->pid,
		.command = t->command,
		.exe = t->exe_real[0] ? t->exe_real : t->exe,
		.now_ns = util__now_ns(),
		.target_exited = t->exited,
		.exit_status = t->exited ? t->exit_status : -1,
		.tasks_only = o->tasks_only,
		.warnings = log__notes(),
		.forks = t->forks,
		.execs = execs,
		.allocator = t->alloc_desc[0] ? t->alloc_desc : NULL,
		.allocator_static = t->alloc_static[0] ? t->alloc_static : NULL,
		.page_level = t->page_level ? t->page_why : NULL,
	};
	for (unsigned i = 0; i < t->nexecs && i < TARGET_MAX_EXECS; i++) {
		execs[i].t_ns = t->execs[i].t_ns;
		execs[i].exe = t->execs[i].exe;
		execs[i].command = t->execs[i].command;
		meta->nexecs = i + 1;
	}
}

static void write_snapshot(const struct options *o, const struct target *t,
			   const struct model *m, unsigned *seq)
{
	struct snapshot_exec execs[TARGET_MAX_EXECS];
	struct snapshot_meta meta;
	char path[PATH_MAX];
	int err;

	if (!o->snapshot)
		return;
	snapshot_meta(o, t, execs, &meta);
	snapshot_path(o->snapshot, ++*seq,
		      (meta.now_ns - model__start_ns(m)) / 1000000000ull,
		      t->pid, path, sizeof(path));
	err = snapshot__write(m, &meta, path);
	if (err) {
		snapshot_failed = true;
		pr_err("cannot write snapshot %s: %s", path,
		       err == -ELOOP  ? "it is a symbolic link" :
		       err == -EISDIR ? "it is a directory" :
					strerror(-err));
	} else
		pr_info("snapshot written to %s", path);
}

int session__text(struct session *s, char **text, size_t *len)
{
	struct snapshot_exec execs[TARGET_MAX_EXECS];
	struct snapshot_meta meta;

	snapshot_meta(s->env->o, &s->t, execs, &meta);
	return snapshot__text(s->m, &meta, text, len);
}

size_t session__probes(const struct session *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->na; i++)
		n += attach__links(s->a[i]);
	return n;
}

/* Report pid's execs, exits and forks (the kernel's watched map). */
static void watch(struct memscope_bpf *skel, pid_t pid, bool on)
{
	uint32_t key = (uint32_t)pid;
	uint8_t one = 1;

	if (on)
		bpf_map__update_elem(skel->maps.watched, &key, sizeof(key),
				     &one, sizeof(one), BPF_ANY);
	else
		bpf_map__delete_elem(skel->maps.watched, &key, sizeof(key), 0);
}

/* What a user should know about a tokio program's task probes. */
static void tokio_notes(const struct options *o, const struct attach *a,
			const char *exe)
{
	struct attach_tokio_info ti;

	attach__tokio_info(a, &ti);
	pr_debug(
		"tokio %u.%u.%u: %zu task types, %zu poll functions, %zu spawn functions",
		ti.version / 1000000, ti.version / 1000 % 1000,
		ti.version % 1000, ti.vtables, ti.polls, ti.spawn_fns);
	if (ti.stripped && !ti.debug_file && o->spawn_stacks)
		log__note(
			"%s is stripped and no debug file was found (--debug-dir): tasks are tracked, spawn sites are not",
			exe);
	else if (!ti.spawn_fns && o->spawn_stacks)
		log__note(
			"%s: no task-creating function found: tasks are tracked, spawn sites are not",
			exe);
}

static int probe_tasks(const struct options *o, struct attach *a,
		       const struct target *t);

/* An allocator linked into the executable: probed besides the library's
 * (which the executable's own calls then no longer reach, and glibc's
 * and std's own calls still do). */
static int probe_static(const struct options *o, struct attach *a,
			struct target *t, const char *exe)
{
	char desc[128], abs[PATH_MAX];
	const char *real = t->exe_real[0]     ? t->exe_real :
			   realpath(exe, abs) ? abs :
						exe;
	int n;

	n = attach__exe_allocator(a, exe, o->floor, desc, sizeof(desc));
	t->alloc_static[0] = '\0';
	t->alloc_unprobeable = attach__exe_alloc_unprobeable(a);
	if (n < 0) {
		pr_err("cannot probe the allocator in %s: %s", real,
		       strerror(-n));
		return n;
	}
	if (desc[0]) {
		snprintf(t->alloc_static, sizeof(t->alloc_static), "%s in %s",
			 desc, real);
		pr_info("allocator: %s", t->alloc_static);
	}
	return 0;
}

/* Page level when asked, or when no probe sees the program's heap: the
 * allocator in the executable was found and cannot be probed, or none was
 * found by name and the stripped executable holds one's messages. */
static void pages_decide(const struct options *o, struct target *t)
{
	t->page_level = false;
	if (o->floor)
		return;
	if (o->page_level) {
		t->page_level = true;
		snprintf(t->page_why, sizeof(t->page_why),
			 "--page-level was given");
	} else if (o->tasks_only) {
		return;
	} else if (attach__pages_needed(t->exe, t->alloc, t->page_why,
					sizeof(t->page_why))) {
		t->page_level = t->alloc_unprobeable || !t->alloc_static[0];
	} else if (t->alloc_unprobeable) {
		t->page_level = true;
		snprintf(
			t->page_why, sizeof(t->page_why),
			"the allocator linked into the executable cannot be probed");
	}
}

/* Start page-level mode for the session's process, said in one line. */
static void pages_start(struct session *s)
{
	int err;

	if (!s->t.page_level)
		return;
	err = attach__pages_on(s->env->skel, s->t.pid);
	if (err) {
		s->t.page_level = false;
		pr_warn("page level: cannot watch pid %d's memory: %s",
			(int)s->t.pid, strerror(-err));
		return;
	}
	model__set_page_level(s->m);
	pr_info("page-level attribution: %s: resident memory is charged to the task running at each page fault, mmap, munmap, brk and madvise",
		s->t.page_why);
}

/* The malloc family where the program's malloc is: libc, or an allocator
 * library that takes its place (probing both would see what the library
 * does, not what the program asked for). */
static int probe(const struct options *o, struct attach *a, struct target *t)
{
	int err;

	if (!o->tasks_only) {
		attach__find_malloc(t->exe, t->pid, !t->launched && !t->at_exec,
				    t->libc, t->alloc, sizeof(t->alloc));
		snprintf(t->alloc_desc, sizeof(t->alloc_desc), "%s (%s)",
			 attach__allocator_name(t->alloc), t->alloc);
		pr_info("allocator: %s", t->alloc_desc);
		err = attach__allocator(a, t->alloc, o->floor);
		if (err) {
			pr_err("cannot probe the allocator in %s: %s", t->alloc,
			       strerror(-err));
			return err;
		}
		err = probe_static(o, a, t, t->exe);
		if (err)
			return err;
	}
	pages_decide(o, t);
	return probe_tasks(o, a, t);
}

static int probe_tasks(const struct options *o, struct attach *a,
		       const struct target *t)
{
	bool tokio;
	int n;

	/* The floor keeps the task probes (empty programs) so that each mode
	 * has its own floor: with --tasks-only, the task probes alone. */
	n = attach__tokio(a, t->exe, o->floor);
	if (o->floor)
		return 0;
	if (n < 0)
		pr_warn("cannot probe tokio's task functions: %s",
			strerror(-n));
	else if (n > 0)
		tokio_notes(o, a, t->exe);
	tokio = n > 0;
	n = attach__usdt(a, t->exe);
	n += t->launched || t->at_exec ?
		     attach__usdt_needed(a, t->exe) :
		     attach__usdt_mapped(a, t->pid, t->exe_real);
	if (n > 0)
		pr_debug("usdt: %d memscope markers", n);
	else if (!tokio)
		pr_info("%s: no async runtime found (no tokio task vtables, no memscope markers): allocations only",
			t->exe);
	return 0;
}

/* The target ran another program: drop the old image, probe the new one.
 * Allocations stay exact when the new program uses the same libc (its
 * probes are per file and survive exec); task probes are in place a few
 * milliseconds after the exec. */
void session__follow_exec(struct session *s)
{
	struct target *t = &s->t;
	const struct options *o = s->env->o;
	struct target_exec *x = NULL;
	char path[64], exe[PATH_MAX], libc[PATH_MAX];
	struct attach *a;
	ssize_t n;
	int err;

	s->exec_pending = false;
	model__exec(s->m, s->exec_ns);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)t->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (t->nexecs < sizeof(t->execs) / sizeof(t->execs[0]))
		x = &t->execs[t->nexecs];
	t->nexecs++;
	if (n <= 0) {
		/* Over already: its allocations were seen (same libc), not
		 * its tasks. */
		snprintf(t->exe_real, sizeof(t->exe_real), "%s", s->exec_path);
		snprintf(t->command, sizeof(t->command), "%s", s->exec_path);
		pr_info("pid %d ran %s and ended before its task probes were in",
			(int)t->pid, s->exec_path);
		if (x) {
			x->t_ns = s->exec_ns - model__start_ns(s->m);
			snprintf(x->exe, sizeof(x->exe), "%s", s->exec_path);
			snprintf(x->command, sizeof(x->command), "%s",
				 s->exec_path);
		}
		return;
	}
	exe[n] = '\0';
	snprintf(t->exe, sizeof(t->exe), "%s", path);
	snprintf(t->exe_real, sizeof(t->exe_real), "%s", exe);
	target__cmdline(t->pid, t->command, sizeof(t->command));
	if (target__elf_kind(path, exe)) {
		log__note(
			"pid %d ran %s, which memscoped cannot probe: from then on nothing is seen",
			(int)t->pid, exe);
		return;
	}
	if (x) {
		x->t_ns = s->exec_ns > model__start_ns(s->m) ?
				  s->exec_ns - model__start_ns(s->m) :
				  0;
		snprintf(x->exe, sizeof(x->exe), "%s", exe);
		snprintf(x->command, sizeof(x->command), "%.255s", t->command);
	}
	if (s->na == sizeof(s->a) / sizeof(s->a[0])) {
		pr_warn("pid %d ran another program (%s): too many programs to follow, its tasks are not",
			(int)t->pid, exe);
		return;
	}
	a = attach__new(s->env->skel, t->pid, o->spawn_stacks, s->env->multi);
	if (!a)
		return;
	s->a[s->na++] = a;
	/* Another libc (or a static program): probe what it uses. */
	if (!o->tasks_only &&
	    !attach__find_libc_prog(path, libc, sizeof(libc))) {
		char alloc[PATH_MAX];

		attach__find_malloc(path, t->pid, false, libc, alloc,
				    sizeof(alloc));
		if (strcmp(alloc, t->alloc)) {
			err = attach__allocator(a, alloc, o->floor);
			if (err)
				pr_warn("pid %d: cannot probe the allocator of %s: %s",
					(int)t->pid, exe, strerror(-err));
			snprintf(t->alloc, sizeof(t->alloc), "%s", alloc);
			snprintf(t->alloc_desc, sizeof(t->alloc_desc),
				 "%s (%s)", attach__allocator_name(alloc),
				 alloc);
			pr_info("pid %d: allocator: %s", (int)t->pid,
				t->alloc_desc);
		}
		snprintf(t->libc, sizeof(t->libc), "%s", libc);
	}
	if (!o->tasks_only && probe_static(o, a, t, path))
		pr_warn("pid %d: the allocator in %s is not probed",
			(int)t->pid, exe);
	t->at_exec = true; /* its libraries are not mapped yet */
	err = probe_tasks(o, a, t);
	if (!err)
		err = attach__commit(a);
	if (err)
		pr_warn("pid %d: cannot probe %s: %s", (int)t->pid, exe,
			strerror(-err));
	collector__exec(s->c, a);
	pr_info("pid %d ran another program: %s (probes in place %.1f ms after its exec)",
		(int)t->pid, t->command,
		(double)(util__now_ns() - s->exec_ns) / 1e6);
}

void session__refresh(struct session *s, uint64_t scan_min_ns, uint64_t now)
{
	collector__refresh_stats(s->c);
	collector__scan_polls(s->c, scan_min_ns);
	model__tick(s->m, now);
}

void session__tick(struct session *s, uint64_t now)
{
	session__refresh(s, COLLECTOR_LONG_POLL_NS, now);
	model__sample(s->m, now);
}

void session__snapshot(struct session *s)
{
	session__refresh(s, 0, util__now_ns());
	write_snapshot(s->env->o, &s->t, s->m, &s->snap_seq);
}

void session__on_proc(struct session *s, const void *rec)
{
	const struct ms_hdr *h = rec;

	switch (h->type) {
	case MS_REC_EXEC:
		if (!s->follow_execs) {
			/* Its probes were for the old program: over. */
			s->exec_seen = true;
			break;
		}
		/* Acted on after the drain: the rest of the old image's
		 * records may still be in the ring. */
		s->exec_pending = true;
		s->exec_ns = h->ts_ns;
		snprintf(s->exec_path, sizeof(s->exec_path), "%.*s",
			 (int)sizeof(((const struct ms_exec_rec *)rec)->path),
			 ((const struct ms_exec_rec *)rec)->path);
		break;
	case MS_REC_EXIT:
		if (!s->t.launched) /* a child: waitpid says it exactly */
			s->t.exit_status = target__wait_status(
				((const struct ms_exit_rec *)rec)->status);
		break;
	case MS_REC_FORK:
		s->t.forks++;
		break;
	}
}

static int session_attach(struct session *s)
{
	const struct options *o = s->env->o;
	struct attach *a;
	int err;

	a = attach__new(s->env->skel, s->t.pid, o->spawn_stacks, s->env->multi);
	if (!a)
		return -ENOMEM;
	s->a[s->na++] = a;
	err = probe(o, a, &s->t);
	return err ? err : attach__commit(a);
}

int session__new(const struct session_env *env, const struct target *t,
		 bool follow_execs, struct session **out)
{
	const struct options *o = env->o;
	struct session *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->t = *t;
	s->env = env;
	s->follow_execs = follow_execs;
	if (s->t.pidfd < 0)
		s->t.pidfd = target__pidfd(s->t.pid);
	err = session_attach(s);
	if (err)
		goto fail;
	s->m = model__new(&(struct model_opts){
		.start_ns = util__now_ns(),
		.never_finished_ns = (uint64_t)(o->never_finished * 1e9),
		.pid = (uint32_t)s->t.pid,
		.max_ended_tasks = o->keep_ended,
	});
	if (!s->m) {
		err = -ENOMEM;
		goto fail;
	}
	err = collector__new(
		&(struct collector_opts){
			.pid = s->t.pid,
			.model = s->m,
			.attach = s->a[0],
			.stats_fd = bpf_map__fd(env->skel->maps.stats),
			.tstates_fd = bpf_map__fd(env->skel->maps.tstates),
			.trace = o->trace ? stderr : NULL,
			.record = env->record,
			.sample_bytes = o->sample_bytes,
			.stacks = !o->floor &&
				  (o->sample_bytes || o->spawn_stacks),
		},
		&s->c);
	if (!err)
		err = dispatch__add(env->d, (uint32_t)s->t.pid, s->c);
	if (err)
		goto fail;
	watch(env->skel, s->t.pid, true);
	pages_start(s);
	*out = s;
	return 0;
fail:
	session__free(s);
	return err;
}

void session__free(struct session *s)
{
	if (!s)
		return;
	if (s->c) {
		dispatch__remove(s->env->d, (uint32_t)s->t.pid);
		watch(s->env->skel, s->t.pid, false);
		if (s->t.page_level)
			attach__pages_off(s->env->skel, s->t.pid);
	}
	collector__free(s->c);
	for (size_t i = s->na; i-- > 0;)
		attach__destroy(s->a[i]);
	model__free(s->m);
	if (s->t.pidfd >= 0)
		close(s->t.pidfd);
	free(s);
}

void session__finish(struct session *s, FILE *out, bool header)
{
	uint64_t now;

	if (s->exec_pending)
		session__follow_exec(
			s); /* it ran a program and ended at once */
	now = util__now_ns();
	session__refresh(s, 0, now);
	model__sample(s->m, now);
	write_snapshot(s->env->o, &s->t, s->m, &s->snap_seq);
	if (out && !s->env->o->quiet) {
		if (header)
			fprintf(out, "== pid %d: %s (%s)\n", (int)s->t.pid,
				s->t.command,
				s->exec_seen ? "ran another program" :
				s->t.exited  ? "exited" :
					       "still running");
		summary__print(out, s->m, now);
		fflush(out);
	}
	if (s->t.forks)
		pr_info("pid %d forked %u process%s: not followed (their allocations and tasks are not in these figures)",
			(int)s->t.pid, s->t.forks, s->t.forks == 1 ? "" : "es");
}
