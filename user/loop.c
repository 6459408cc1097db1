// SPDX-License-Identifier: MIT
/*
 * memscoped's run. Lifecycle: open the BPF object -> configure (ring size,
 * autoload) -> load -> attach -> the watched processes -> one event loop
 * that drains their records until the target exits, a signal, 'q' or
 * --duration -> snapshots and summaries.
 *
 * The single-target modes (launch, --pid) watch a list of one session that
 * follows execs; --all a list of many, found in /proc at start and at exec
 * later (one session per program: an exec ends it and may start another).
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "attach/attach.h"
#include "collect/collector.h"
#include "collect/dispatch.h"
#include "discover.h"
#include "log.h"
#include "loop.h"
#include "memscope.skel.h"
#include "memscope/events.h"
#include "model/model.h"
#include "options.h"
#include "serve/serve.h"
#include "session.h"
#include "target.h"
#include "util.h"
#include "view/metrics.h"
#include "view/top.h"

#pragma GCC poison u8 u16 u32 u64 s32 s64

#define EXEC_QUEUE 256
#define TICK_NS 1000000000ull
/* Documents (snapshots, profiles) served are this old at most, even when
 * nobody asked for one lately. */
#define DOCS_MAX_AGE_NS (5 * TICK_NS)

struct loop {
	const struct options *o;
	struct session_env env;
	struct memscope_bpf *skel;
	struct bpf_link *switch_link;
	struct bpf_link *proc_links[3]; /* exec, exit, fork */
	bool single; /* launch, --pid: one session, following its execs */
	bool ran; /* the event loop started */
	struct session **s; /* max of them */
	size_t ns, max;
	struct discover *disc; /* --all */
	struct {
		uint32_t pid;
		uint64_t ts_ns;
		char path[MS_EXEC_PATH]; /* as given to execve */
	} execq[EXEC_QUEUE];
	size_t nexec;
	uint64_t exec_dropped;
	struct top *view;
	int sfd;
	size_t shown; /* the live view's process */
	uint64_t rss; /* its resident set, at the last tick */
	struct model *empty; /* what the view shows before any process */
	/* --all: summaries of processes that end while the live view is up
	 * wait here, as the terminal is the view's until it closes. */
	FILE *out;
	char *held;
	size_t nheld;
	/* --listen: what it serves is published at each tick. */
	struct serve *srv;
	uint64_t last_docs, last_pub, records_at_pub;
	struct pollfd *pfd; /* 3 + max */
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf is chatty about what it tries; its words matter with -v. */
	(void)level;
	log__vmsg(MS_LOG_DEBUG, fmt, ap);
	return 0;
}

static bool has_caps(void)
{
	unsigned long long eff = 0;
	char line[256];
	FILE *f;

	if (geteuid() == 0)
		return true;
	f = fopen("/proc/self/status", "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	/* CAP_BPF (39) and CAP_PERFMON (38), or CAP_SYS_ADMIN (21). */
	return ((eff >> 39) & 1 && (eff >> 38) & 1) || ((eff >> 21) & 1);
}

int loop__check_system(void)
{
	if (!has_caps()) {
		pr_err("memscoped needs root (or CAP_BPF and CAP_PERFMON): run it with sudo");
		return -EPERM;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		pr_err("this kernel has no BTF (/sys/kernel/btf/vmlinux): memscoped needs CONFIG_DEBUG_INFO_BTF=y");
		return -ENOTSUP;
	}
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK)) {
		pr_err("this kernel has no uprobe support (CONFIG_UPROBE_EVENTS): memscoped cannot probe user space");
		return -ENOTSUP;
	}
	return 0;
}

/*
 * Exponential variates with mean N: sampling allocations where these
 * intervals of bytes run out is a Poisson process over bytes, so a sampled
 * block of size s stands for s / (1 - exp(-s / N)) bytes.
 */
static void sample_intervals(struct memscope_bpf *skel, uint64_t mean)
{
	int fd = bpf_map__fd(skel->maps.sample_intervals);
	uint64_t x = 0x9e3779b97f4a7c15ull; /* fixed seed: reproducible */

	for (uint32_t k = 0; k < 1024; k++) {
		double u, v;
		uint64_t iv;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		u = ((double)(x >> 11) + 0.5) / 9007199254740992.0;
		v = -log(u) * (double)mean;
		iv = v < 1 ? 1 : (uint64_t)v;
		bpf_map_update_elem(fd, &k, &iv, BPF_ANY);
	}
}

/* Open -> configure -> load -> attach sched_switch. */
static int bpf_open(struct loop *l)
{
	const struct options *o = l->o;
	struct memscope_bpf *skel;
	int err;

	libbpf_set_print(libbpf_print);
	skel = l->skel = l->env.skel = memscope_bpf__open();
	if (!skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	bpf_map__set_max_entries(skel->maps.rb, o->ring_mb << 20);
	skel->rodata->sample_bytes = o->tasks_only ? 0 : o->sample_bytes;
	skel->rodata->spawn_stacks = o->spawn_stacks;
	if (o->floor) {
		struct bpf_program *p;

		bpf_object__for_each_program(p, skel->obj)
			bpf_program__set_autoload(p, false);
		/* Exec, exit and fork of the target: off the measured path,
		 * and needed to follow it as full tracking does. */
		bpf_program__set_autoload(skel->progs.proc_exec, true);
		bpf_program__set_autoload(skel->progs.proc_exit, true);
		bpf_program__set_autoload(skel->progs.proc_fork, true);
	}
	/* Page-level programs: only what a run may attach (nothing is
	 * attached unless a process needs them). */
	attach__pages_prepare(skel,
			      !o->floor && (!o->tasks_only || o->page_level));
	bpf_program__set_autoload(skel->progs.floor_enter, o->floor);
	bpf_program__set_autoload(skel->progs.floor_ret, o->floor);
	bpf_program__set_autoload(skel->progs.floor_switch, o->floor);
	/* Every exec on the machine for --all; the target's only, with its
	 * exit and forks, otherwise. */
	skel->rodata->all_execs = o->all;
	l->env.multi = !o->no_multi && attach__multi_supported();
	if (l->env.multi)
		attach__prepare_multi(skel);
	err = memscope_bpf__load(skel);
	if (err) {
		pr_err("cannot load the BPF programs: %s (run with -v for the verifier log)",
		       strerror(-err));
		return err;
	}
	if (o->sample_bytes)
		sample_intervals(skel, o->sample_bytes);
	/* tokio polls end when their thread is next switched out, at the
	 * latest (there is no return probe). */
	l->switch_link = bpf_program__attach(
		o->floor ? skel->progs.floor_switch : skel->progs.poll_switch);
	if (!l->switch_link) {
		err = -errno;
		pr_err("cannot attach tp_btf/sched_switch: %s", strerror(-err));
		return err;
	}
	return 0;
}

static struct session *session_of(struct loop *l, uint32_t pid)
{
	for (size_t i = 0; i < l->ns; i++)
		if ((uint32_t)l->s[i]->t.pid == pid)
			return l->s[i];
	return NULL;
}

/* Execs (every one on the machine with --all: it decides what to watch),
 * exits and forks of the watched processes, in order with their records. */
static void on_proc(void *ctx, const void *rec, size_t len)
{
	const struct ms_hdr *h = rec;
	struct loop *l = ctx;
	struct session *s = session_of(l, h->pid);

	(void)len;
	if (s)
		session__on_proc(s, rec);
	if (l->single || h->type != MS_REC_EXEC)
		return;
	if (s) /* its probes were for the old program: stop routing now */
		dispatch__remove(l->env.d, h->pid);
	if (h->pid == (uint32_t)getpid())
		return;
	if (l->nexec == EXEC_QUEUE) {
		l->exec_dropped++;
		return;
	}
	l->execq[l->nexec].pid = h->pid;
	l->execq[l->nexec].ts_ns = h->ts_ns;
	snprintf(l->execq[l->nexec].path, sizeof(l->execq[0].path), "%.*s",
		 (int)sizeof(l->execq[0].path) - 1,
		 ((const struct ms_exec_rec *)rec)->path);
	l->nexec++;
}

static int add(struct loop *l, pid_t pid, bool at_exec, uint64_t ts,
	       const char *path)
{
	struct session *s;
	int err;

	err = discover__start(l->disc, pid, at_exec, ts, path, l->ns == l->max,
			      l->max, &s);
	if (s)
		l->s[l->ns++] = s;
	return err;
}

/* --all: exec notices first, then the scan of /proc: a program started
 * in between is seen twice at worst, never missed. */
static int all_start(struct loop *l)
{
	struct dirent *de;
	DIR *dir;
	int err = 0;

	l->disc = discover__new(&l->env);
	l->empty =
		model__new(&(struct model_opts){ .start_ns = util__now_ns() });
	if (!l->disc || !l->empty)
		return -ENOMEM;
	l->proc_links[0] = bpf_program__attach(l->skel->progs.proc_exec);
	if (!l->proc_links[0]) {
		err = -errno;
		pr_err("cannot watch execs (tp_btf/sched_process_exec): %s",
		       strerror(-err));
		return err;
	}
	dir = opendir("/proc");
	if (!dir) {
		err = -errno;
		pr_err("cannot read /proc: %s", strerror(-err));
		return err;
	}
	while (!err && (de = readdir(dir))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (!*end && pid > 0 && pid != getpid())
			err = add(l, (pid_t)pid, false, 0, NULL);
	}
	closedir(dir);
	if (!err)
		pr_info("watching every async process: %zu now", l->ns);
	return err;
}

static int open_record(struct loop *l)
{
	const char *path = l->o->record;
	FILE *rec = NULL;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd >= 0)
		rec = fdopen(fd, "w");
	if (!rec || fwrite(MS_RECORD_MAGIC, 8, 1, rec) != 1) {
		int err = errno ? -errno : -EIO;

		pr_err("cannot write %s: %s", path, strerror(-err));
		if (rec)
			fclose(rec);
		else if (fd >= 0)
			close(fd);
		return err;
	}
	l->env.record = rec;
	return 0;
}

/* Launch, --pid: the target, started stopped when launched, its probes,
 * and the kernel's word on its execs, exit and forks; then it goes on. */
static int single_start(struct loop *l, struct target *t,
			const sigset_t *orig_mask, void (*orig_sigpipe)(int))
{
	const struct options *o = l->o;
	struct session *s;
	int err;

	if (o->argv) {
		err = target__launch(o, t, orig_mask, orig_sigpipe, l->view);
		if (err) {
			if (!t->exited)
				pr_err("cannot start %s: %s", t->exe,
				       strerror(-err));
			return err;
		}
	}
	if (o->record) {
		err = open_record(l);
		if (err)
			return err;
	}
	err = session__new(&l->env, t, true, &s);
	if (err) {
		pr_err("cannot attach to pid %d: %s", (int)t->pid,
		       strerror(-err));
		return err;
	}
	l->s[l->ns++] = s;
	l->proc_links[0] = bpf_program__attach(l->skel->progs.proc_exec);
	l->proc_links[1] = bpf_program__attach(l->skel->progs.proc_exit);
	l->proc_links[2] = bpf_program__attach(l->skel->progs.proc_fork);
	if (!l->proc_links[0] || !l->proc_links[1] || !l->proc_links[2]) {
		err = -errno;
		pr_err("cannot follow the process (exec, exit, fork tracepoints): %s",
		       strerror(-err));
		return err;
	}
	t = &s->t;
	if (t->launched) {
		/* A program with no async runtime may be a wrapper: its execs
		 * are followed from the first instruction (target__reap). */
		t->traced = !attach__runtime_found(s->a[0]) &&
			    !ptrace(PTRACE_SETOPTIONS, t->pid, NULL,
				    (void *)(long)PTRACE_O_TRACEEXEC);
		if (ptrace(t->traced ? PTRACE_CONT : PTRACE_DETACH, t->pid,
			   NULL, NULL)) {
			err = -errno;
			pr_err("cannot resume %s: %s", t->exe, strerror(-err));
			return err;
		}
	}
	pr_info("attached to pid %d (%s): %zu probes", (int)t->pid, t->command,
		attach__links(s->a[0]));
	return 0;
}

/* The session's last figures, and it goes. */
static void end_session(struct loop *l, size_t i, const char *why)
{
	struct session *s = l->s[i];

	session__finish(s, l->out, !l->single);
	if (!l->single)
		pr_info("pid %d: no longer watched (%s)", (int)s->t.pid,
			s->exec_seen ? "it ran another program" :
			s->t.exited  ? "it exited" :
				       why);
	session__free(s);
	l->s[i] = l->s[--l->ns];
	l->s[l->ns] = NULL;
}

static void read_cgroup(pid_t pid, char *buf, size_t len, const char **out)
{
	char path[64], text[4096];
	size_t n = 0;
	FILE *f;

	*out = NULL;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	*out = metrics__parse_cgroup(text, buf, len);
}

static int publish_metrics(struct loop *l, uint64_t now)
{
	struct metrics_proc *procs = calloc(l->ns + 1, sizeof(*procs));
	char(*cgroups)[512] = calloc(l->ns + 1, sizeof(*cgroups));
	double secs = (double)(now - l->last_pub) / 1e9;
	struct metrics_self self = {
		.rss_bytes = target__rss(getpid()),
		.ring_bytes = (uint64_t)l->o->ring_mb << 20,
		.ring_used_bytes = dispatch__ring_used(l->env.d),
		.records_total = dispatch__records(l->env.d),
		.lost_events_total = collector__kernel_stat(
			bpf_map__fd(l->skel->maps.stats), MS_STAT_LOST),
		.watched = l->ns,
		.attach_failures_total = discover__failures(l->disc),
	};
	char *page = NULL;
	size_t len = 0;
	int err = -ENOMEM;

	if (!procs || !cgroups)
		goto out;
	if (l->last_pub && secs > 0)
		self.records_per_sec =
			(double)(self.records_total - l->records_at_pub) / secs;
	for (size_t i = 0; i < l->ns; i++) {
		struct session *s = l->s[i];

		procs[i].pid = (uint32_t)s->t.pid;
		procs[i].exe = s->t.exe_real[0] ? s->t.exe_real : s->t.exe;
		procs[i].tasks_only = l->o->tasks_only;
		procs[i].model = s->m;
		read_cgroup(s->t.pid, cgroups[i], sizeof(cgroups[i]),
			    &procs[i].cgroup);
		self.probes += session__probes(s);
	}
	err = metrics__render(
		&page, &len, procs, l->ns, &self,
		&(struct metrics_opts){ .sites = l->o->metrics_sites });
	if (!err)
		err = serve__publish(l->srv, NULL, 0, page, len);
	l->last_pub = now;
	l->records_at_pub = self.records_total;
out:
	free(page);
	free(cgroups);
	free(procs);
	return err;
}

static int publish_docs(struct loop *l)
{
	struct serve_doc *docs = calloc(l->ns + 1, sizeof(*docs));
	int err = docs ? 0 : -ENOMEM;
	size_t n = 0;

	for (; !err && n < l->ns; n++) {
		struct session *s = l->s[n];
		char *text;

		err = session__text(s, &text, &docs[n].json_len);
		if (err)
			break;
		docs[n].json = text;
		docs[n].pid = (uint32_t)s->t.pid;
		docs[n].exe = s->t.exe_real[0] ? s->t.exe_real : s->t.exe;
		docs[n].runtime = model__runtime(s->m) == MS_RT_TOKIO ?
					  "tokio" :
				  model__runtime(s->m) == MS_RT_USDT ? "usdt" :
								       "none";
	}
	if (!err)
		err = serve__publish(l->srv, docs, n, NULL, 0);
	for (size_t i = 0; docs && i < n; i++)
		free((char *)docs[i].json);
	free(docs);
	return err;
}

/* --listen: the metrics page at every tick; the documents when asked
 * for, and at least every DOCS_MAX_AGE_NS. Building them costs the loop,
 * serving them does not (the server's threads send copies). */
static void publish(struct loop *l, uint64_t now, bool docs)
{
	int err;

	if (!l->srv)
		return; /* the models were refreshed by the tick just before */
	if (docs || serve__docs_wanted(l->srv) ||
	    now - l->last_docs >= DOCS_MAX_AGE_NS) {
		err = publish_docs(l);
		if (err)
			pr_warn("--listen: cannot publish the snapshots: %s",
				strerror(-err));
		l->last_docs = now;
	}
	err = publish_metrics(l, now);
	if (err)
		pr_warn("--listen: cannot publish the metrics: %s",
			strerror(-err));
}

static void snapshot_all(struct loop *l)
{
	for (size_t i = 0; i < l->ns; i++)
		session__snapshot(l->s[i]);
}

/* Launch mode: the target stopped right after an exec (traced). */
static int exec_stop(struct loop *l, struct session *s)
{
	/* Its records up to the exec are in the ring. */
	if (dispatch__drain(l->env.d) < 0)
		return -EIO;
	if (!s->exec_pending) { /* its record was lost */
		s->exec_pending = true;
		s->exec_ns = util__now_ns();
	}
	session__follow_exec(s);
	target__resume_after_exec(&s->t,
				  attach__runtime_found(s->a[s->na - 1]));
	return 0;
}

/* After a drain: processes that ended, ran another program, or were
 * caught at exec. 1 when the run is over (the single target exited). */
static int after_drain(struct loop *l)
{
	int err;

	if (l->single) {
		struct session *s = l->s[0];

		if (s->t.exited)
			return 1;
		if (s->exec_pending && !s->t.traced) {
			/* What the old image still sent is in: drain once
			 * more, then probe the new program. */
			if (dispatch__drain(l->env.d) < 0)
				return -EIO;
			session__follow_exec(s);
		}
		return s->t.exec_stopped ? exec_stop(l, s) : 0;
	}
	for (size_t i = l->ns; i-- > 0;)
		if (l->s[i]->t.exited || l->s[i]->exec_seen)
			end_session(l, i, "memscoped stops");
	for (size_t i = 0; i < l->nexec; i++) {
		err = add(l, (pid_t)l->execq[i].pid, true, l->execq[i].ts_ns,
			  l->execq[i].path);
		if (err) {
			l->nexec = 0;
			return err;
		}
	}
	l->nexec = 0;
	return 0;
}

/* 1: asked to stop. */
static int on_signal(struct loop *l)
{
	struct signalfd_siginfo si;

	if (read(l->sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGUSR1) {
		snapshot_all(l);
	} else if (si.ssi_signo == SIGCHLD) {
		for (size_t i = 0; i < l->ns; i++)
			target__reap(&l->s[i]->t);
	} else {
		return 1; /* SIGINT, SIGTERM, SIGHUP */
	}
	return 0;
}

/* Keys of the live view; 1: 'q'. */
static int on_keys(struct loop *l)
{
	int act = top__input(l->view);
	size_t was = l->shown;

	if (act & TOP_ACT_QUIT)
		return 1;
	if (act & TOP_ACT_SNAPSHOT)
		snapshot_all(l);
	if (l->ns) {
		if (act & TOP_ACT_NEXT_PROC)
			l->shown++;
		if (act & TOP_ACT_PREV_PROC)
			l->shown += l->ns - 1;
		l->shown %= l->ns;
		if (l->shown != was && l->view)
			l->rss = target__rss(l->s[l->shown]->t.pid);
	}
	return 0;
}

static void draw(struct loop *l, uint64_t now)
{
	struct session *cur = l->ns ? l->s[l->shown % l->ns] : NULL;
	struct top_info info = {
		.now_ns = now,
		.tasks_only = l->o->tasks_only,
		.can_snapshot = l->o->snapshot != NULL,
		.proc_idx = (int)(l->ns ? l->shown % l->ns : 0),
		.proc_count = (int)l->ns,
		.pid = cur ? cur->t.pid : 0,
		.command = cur ? cur->t.command :
				 "(no async process yet: --all waits)",
		.rss_bytes = cur ? l->rss : 0,
	};

	if (l->view)
		top__draw(l->view, cur ? cur->m : l->empty, &info);
}

static int run(struct loop *l)
{
	const struct options *o = l->o;
	uint64_t start = util__now_ns(), last_tick = start, last_snap = start;
	uint64_t every = (uint64_t)(o->snapshot_every * 1e9);
	uint64_t deadline =
		o->duration > 0 ? start + (uint64_t)(o->duration * 1e9) : 0;
	struct pollfd *pfd = l->pfd;

	if (l->view && l->ns)
		l->rss = target__rss(l->s[0]->t.pid);
	for (;;) {
		size_t np = 3;
		uint64_t now;
		int n;

		/* poll() skips negative fds: no pidfd, no view. */
		pfd[0] = (struct pollfd){ .fd = dispatch__fd(l->env.d),
					  .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = l->sfd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = top__fd(l->view),
					  .events = POLLIN };
		for (size_t i = 0; i < l->ns; i++)
			pfd[np++] = (struct pollfd){ .fd = l->s[i]->t.pidfd,
						     .events = POLLIN };
		/* Records are committed without wake-ups below a threshold:
		 * the timeout bounds how stale the models can get. */
		n = poll(pfd, (nfds_t)np, 50);
		if (n < 0 && errno != EINTR)
			return -errno;
		/* Exits first, then the drain: every record of an exited
		 * process was committed before its pidfd became readable. */
		for (size_t i = 0; i < np - 3; i++) {
			if (!(pfd[3 + i].revents & POLLIN))
				continue;
			target__reap(&l->s[i]->t);
			l->s[i]->t.exited = true;
		}
		if (dispatch__drain(l->env.d) < 0)
			return -EIO;
		n = after_drain(l);
		if (n)
			return n < 0 ? n : 0;
		if ((pfd[1].revents & POLLIN) && on_signal(l))
			return 0;
		if (on_keys(l))
			return 0;
		now = util__now_ns();
		if (now - last_tick >= TICK_NS) {
			for (size_t i = 0; i < l->ns; i++)
				session__tick(l->s[i], now);
			last_tick = now;
			publish(l, now, false);
			if (l->view && l->ns)
				l->rss = target__rss(
					l->s[l->shown % l->ns]->t.pid);
		}
		if (every && now - last_snap >= every) {
			snapshot_all(l);
			last_snap = now;
		}
		draw(l, now);
		if (deadline && now >= deadline)
			return 0;
	}
}

/* The terminal back: what waited, then the processes still here. */
static void finish(struct loop *l)
{
	dispatch__drain(l->env.d);
	top__free(l->view);
	l->view = NULL;
	if (l->out && l->out != stdout) {
		fclose(l->out);
		if (l->nheld)
			fwrite(l->held, 1, l->nheld, stdout);
	}
	l->out = stdout;
	for (size_t i = l->ns; i-- > 0;)
		end_session(l, i, "memscoped stops");
	if (dispatch__unclaimed(l->env.d))
		pr_debug(
			"%llu records of processes not watched (children, or ended) left aside",
			(unsigned long long)dispatch__unclaimed(l->env.d));
	if (l->exec_dropped)
		pr_warn("%llu execs came too fast to look at: those programs were not watched",
			(unsigned long long)l->exec_dropped);
}

static void loop_free(struct loop *l)
{
	serve__stop(l->srv);
	for (size_t i = l->ns; i-- > 0;)
		session__free(l->s[i]);
	discover__free(l->disc);
	model__free(l->empty);
	dispatch__free(l->env.d);
	for (size_t i = 0; i < 3; i++)
		bpf_link__destroy(l->proc_links[i]);
	bpf_link__destroy(l->switch_link);
	if (l->env.record && fclose(l->env.record))
		pr_err("writing %s: %s", l->o->record, strerror(errno));
	memscope_bpf__destroy(l->skel);
	if (l->out && l->out != stdout)
		fclose(l->out);
	free(l->held);
	free(l->pfd);
	free(l->s);
	free(l);
}

int loop__run(const struct options *o, struct target *t, struct top **view,
	      int sfd, const sigset_t *orig_mask, void (*orig_sigpipe)(int))
{
	struct loop *l = calloc(1, sizeof(*l));
	int err, ret = EXIT_RUNTIME;

	if (!l) {
		pr_err("out of memory");
		return EXIT_RUNTIME;
	}
	l->o = l->env.o = o;
	l->single = t != NULL;
	l->max = l->single ? 1 : o->max_procs;
	l->s = calloc(l->max, sizeof(*l->s));
	l->pfd = calloc(3 + l->max, sizeof(*l->pfd));
	if (!l->s || !l->pfd) {
		pr_err("out of memory");
		loop_free(l);
		return EXIT_RUNTIME;
	}
	if (o->listen) {
		char addr[128];

		/* Before anything is attached: a port in use is bad input. */
		err = serve__start(o->listen, NULL, &l->srv);
		if (err) {
			pr_err("cannot listen on %s: %s", o->listen,
			       strerror(-err));
			top__free(*view);
			*view = NULL;
			loop_free(l);
			return EXIT_USAGE;
		}
		pr_info("serving http://%s/ (metrics, snapshots, profiles)",
			serve__address(l->srv, addr, sizeof(addr)));
	}
	l->view = *view;
	*view = NULL; /* the loop's now */
	l->sfd = sfd;
	l->out = l->view && !l->single ? open_memstream(&l->held, &l->nheld) :
					 stdout;
	err = bpf_open(l);
	if (!err) {
		err = dispatch__new(bpf_map__fd(l->skel->maps.rb), on_proc, l,
				    &l->env.d);
		if (err)
			pr_err("cannot read the ring buffer: %s",
			       strerror(-err));
	}
	if (!err)
		err = l->single ? single_start(l, t, orig_mask, orig_sigpipe) :
				  all_start(l);
	if (err) {
		if (l->single && t->exited && !l->ns)
			ret = EXIT_USAGE; /* it could not even start: said */
		top__free(l->view);
		l->view = NULL;
		goto out;
	}
	l->ran = true;
	publish(l, util__now_ns(), true);
	err = run(l);
	if (err)
		pr_err("event loop: %s", strerror(-err));
	finish(l);
	ret = err || session__snapshot_failed() ? EXIT_RUNTIME : 0;
out:
	/* We started it and could not trace it: it goes. (After a run it
	 * keeps going, whatever became of memscoped's figures.) */
	if (l->single && t->launched && !t->exited && !l->ran)
		kill(t->pid, SIGKILL);
	loop_free(l);
	return ret;
}
