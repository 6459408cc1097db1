// SPDX-License-Identifier: MIT
/*
 * memscoped --all: watch every async process. The ones running at start
 * are found in /proc; later ones through a BPF program on exec. Each gets
 * its own probes (filtered by pid in the kernel), model and collector; one
 * ring buffer carries all their records, and a dispatcher routes them.
 * A process that ends gets its summary and snapshot, and its probes go.
 */
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach/attach.h"
#include "collect/collector.h"
#include "collect/dispatch.h"
#include "log.h"
#include "memscope.skel.h"
#include "memscope/events.h"
#include "memscoped.h"
#include "model/model.h"
#include "view/snapshot.h"
#include "view/summary.h"
#include "view/top.h"

#pragma GCC poison u8 u16 u32 u64 s32 s64

#define MAX_SESSIONS DISPATCH_MAX
#define EXEC_QUEUE 256
#define VERDICTS 256

struct session {
	struct target t;
	struct attach *a;
	struct model *m;
	struct collector *c;
	unsigned snap_seq;
	bool exec_seen; /* it ran a new program: this session is over */
};

/* Whether a program is async, by file identity: most execs on a machine
 * run the same few programs, and reading symbol tables is not free. */
struct verdict {
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	int kind;
};

struct all {
	const struct options *o;
	struct memscope_bpf *skel;
	bool multi;
	struct dispatch *d;
	struct session *s[MAX_SESSIONS];
	size_t ns;
	struct {
		uint32_t pid;
		uint64_t ts_ns;
		char path[MS_EXEC_PATH]; /* as given to execve */
	} execq[EXEC_QUEUE];
	size_t nexec;
	uint64_t exec_dropped;
	struct verdict verdicts[VERDICTS];
	size_t nverdicts, next_verdict;
	bool full_warned;
	struct model *empty; /* what the view shows before any process */
	/* Summaries of processes that end while the live view is up wait
	 * here: the terminal is the view's until it closes. */
	FILE *out;
	char *held;
	size_t nheld;
};

static struct session *session_of(struct all *w, pid_t pid)
{
	for (size_t i = 0; i < w->ns; i++)
		if (w->s[i]->t.pid == pid)
			return w->s[i];
	return NULL;
}

static void on_exec(struct all *w, uint32_t pid, uint64_t ts_ns,
		    const char *path)
{
	struct session *s = session_of(w, (pid_t)pid);

	if (s) {
		/* Its probes were for the old program: stop routing now. */
		s->exec_seen = true;
		dispatch__remove(w->d, pid);
	}
	if (pid == (uint32_t)getpid())
		return;
	if (w->nexec == EXEC_QUEUE) {
		w->exec_dropped++;
		return;
	}
	w->execq[w->nexec].pid = pid;
	w->execq[w->nexec].ts_ns = ts_ns;
	snprintf(w->execq[w->nexec].path, sizeof(w->execq[0].path), "%.*s",
		 (int)sizeof(w->execq[0].path) - 1, path);
	w->nexec++;
}

/* Execs (every one on the machine: --all decides what to watch), exits
 * and forks of the watched processes. */
static void on_proc(void *ctx, const void *rec, size_t len)
{
	const struct ms_hdr *h = rec;
	struct all *w = ctx;
	struct session *s;

	if (h->type == MS_REC_EXEC) {
		on_exec(w, h->pid, h->ts_ns,
			((const struct ms_exec_rec *)rec)->path);
		return;
	}
	s = session_of(w, (pid_t)h->pid);
	if (!s)
		return;
	if (h->type == MS_REC_EXIT)
		s->t.exit_status = memscoped__wait_status(
			((const struct ms_exit_rec *)rec)->status);
	else if (h->type == MS_REC_FORK)
		s->t.forks++;
}

static int async_kind(struct all *w, const char *exe)
{
	struct verdict *v;
	struct stat st;
	int kind;

	if (stat(exe, &st))
		return -errno;
	for (size_t i = 0; i < w->nverdicts; i++) {
		v = &w->verdicts[i];
		if (v->dev == st.st_dev && v->ino == st.st_ino &&
		    v->mtime.tv_sec == st.st_mtim.tv_sec &&
		    v->mtime.tv_nsec == st.st_mtim.tv_nsec)
			return v->kind;
	}
	kind = attach__async_kind(exe);
	if (kind < 0)
		return kind;
	v = &w->verdicts[w->next_verdict];
	w->next_verdict = (w->next_verdict + 1) % VERDICTS;
	if (w->nverdicts < VERDICTS)
		w->nverdicts++;
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	v->mtime = st.st_mtim;
	v->kind = kind;
	return kind;
}

static void session_free(struct session *s)
{
	if (!s)
		return;
	collector__free(s->c);
	attach__destroy(s->a);
	model__free(s->m);
	if (s->t.pidfd >= 0)
		close(s->t.pidfd);
	free(s);
}

/* Start watching pid. at_exec: caught at exec, its libraries are not
 * mapped yet. Quietly skips what is not async or is gone already. */
/* A program caught at exec was over before memscoped looked at it: an
 * async one gets its notice, from the path it was started by. */
static void ended_early(struct all *w, pid_t pid, uint64_t exec_ns,
			const char *exec_path)
{
	if (!exec_path || exec_path[0] != '/' ||
	    async_kind(w, exec_path) <= 0)
		return;
	pr_info("pid %d (%s) ended %.1f ms after its exec, before memscoped attached (short-lived: run it under memscoped -- PROGRAM)",
		(int)pid, exec_path,
		(double)(memscoped__now() - exec_ns) / 1e6);
}

/* A pidfd turns readable once the process has exited, zombie or not:
 * kill(pid, 0) still succeeds on a zombie its parent has not reaped. */
static bool exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static int session_start(struct all *w, pid_t pid, bool at_exec,
			 uint64_t exec_ns, const char *exec_path)
{
	const struct options *o = w->o;
	char path[64], buf[PATH_MAX];
	struct session *s;
	ssize_t n;
	int kind, err;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0) {
		/* A kernel thread, or gone already. */
		if (at_exec)
			ended_early(w, pid, exec_ns, exec_path);
		return 0;
	}
	buf[n] = '\0';
	kind = async_kind(w, path);
	if (kind <= 0)
		return 0;
	if (w->ns == MAX_SESSIONS) {
		if (!w->full_warned)
			log__note(
				"--all watches at most %d processes: pid %d (%s) and later ones are not watched",
				MAX_SESSIONS, (int)pid, buf);
		w->full_warned = true;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->t.pid = pid;
	s->t.pidfd = -1;
	s->t.exit_status = -1; /* not our child: unknown */
	s->t.at_exec = at_exec;
	snprintf(s->t.exe, sizeof(s->t.exe), "%s", path);
	snprintf(s->t.exe_real, sizeof(s->t.exe_real), "%s", buf);
	memscoped__cmdline(pid, s->t.command, sizeof(s->t.command));
	if (!s->t.command[0])
		snprintf(s->t.command, sizeof(s->t.command), "%.1000s", buf);
	/* At exec nothing is mapped yet: the libc comes from the program's
	 * own dependencies, as in launch mode. */
	err = at_exec ?
		      -ENOENT :
		      attach__find_libc_pid(pid, s->t.libc, sizeof(s->t.libc));
	if (err)
		err = attach__find_libc_prog(path, s->t.libc,
					     sizeof(s->t.libc));
	if (err) {
		pr_debug("pid %d (%s): no shared libc, not watched", (int)pid,
			 buf);
		free(s);
		return 0;
	}
	s->t.pidfd = memscoped__pidfd(pid);
	if (s->t.pidfd < 0)
		goto gone;
	s->a = attach__new(w->skel, pid, o->spawn_stacks, w->multi);
	if (!s->a) {
		err = -ENOMEM;
		goto fail;
	}
	err = memscoped__probe(o, s->a, &s->t);
	if (!err)
		err = attach__commit(s->a);
	if (err) {
		if (exited(s->t.pidfd))
			goto gone;
		pr_warn("pid %d (%s): cannot attach: %s", (int)pid, buf,
			strerror(-err));
		goto fail_quiet;
	}
	s->m = model__new(&(struct model_opts){
		.start_ns = memscoped__now(),
		.never_finished_ns = (uint64_t)(o->never_finished * 1e9),
		.pid = (uint32_t)pid,
		.max_ended_tasks = o->keep_ended,
	});
	if (!s->m) {
		err = -ENOMEM;
		goto fail;
	}
	err = collector__new(
		&(struct collector_opts){
			.pid = pid,
			.model = s->m,
			.attach = s->a,
			.stats_fd = bpf_map__fd(w->skel->maps.stats),
			.tstates_fd = bpf_map__fd(w->skel->maps.tstates),
			.sample_bytes = o->sample_bytes,
			.stacks = o->sample_bytes || o->spawn_stacks,
		},
		&s->c);
	if (err)
		goto fail;
	err = dispatch__add(w->d, (uint32_t)pid, s->c);
	if (err)
		goto fail;
	memscoped__watch(w->skel, pid, true);
	w->s[w->ns++] = s;
	pr_info("attached to pid %d (%s): %zu probes%s", (int)pid, s->t.command,
		attach__links(s->a),
		at_exec ? "" : ", running since before memscoped");
	if (at_exec)
		pr_debug("pid %d: probes in %.1f ms after its exec", (int)pid,
			 (double)(memscoped__now() - exec_ns) / 1e6);
	return 0;
gone:
	/* An async program that was over before the probes were in: say so,
	 * or a user wonders where it went. */
	if (at_exec)
		pr_info("pid %d (%s) ended %.1f ms after its exec, before memscoped attached (short-lived: run it under memscoped -- PROGRAM)",
			(int)pid, buf,
			(double)(memscoped__now() - exec_ns) / 1e6);
	else
		pr_debug("pid %d (%s) ended before memscoped attached",
			 (int)pid, buf);
	session_free(s);
	return 0;
fail:
	pr_err("pid %d (%s): %s", (int)pid, buf, strerror(-err));
fail_quiet:
	session_free(s);
	return err == -ENOMEM ? err : 0;
}

/* The process ended or ran another program: its figures are final. */
static void session_end(struct all *w, size_t i)
{
	struct session *s = w->s[i];
	const struct options *o = w->o;
	uint64_t now = memscoped__now();

	dispatch__remove(w->d, (uint32_t)s->t.pid);
	memscoped__watch(w->skel, s->t.pid, false);
	memscoped__refresh(s->c, s->m, 0, now);
	model__sample(s->m, now);
	/* The snapshot before the summary (see main). */
	memscoped__write_snapshot(w->o, &s->t, s->m, &s->snap_seq);
	if (!o->quiet && w->out) {
		fprintf(w->out, "== pid %d: %s (%s)\n", (int)s->t.pid,
			s->t.command,
			s->exec_seen ? "ran another program" :
			s->t.exited  ? "exited" :
				       "still running");
		summary__print(w->out, s->m, now);
		fflush(w->out);
	}
	if (s->t.forks)
		pr_info("pid %d forked %u process%s: not followed",
			(int)s->t.pid, s->t.forks, s->t.forks == 1 ? "" : "es");
	pr_info("pid %d: no longer watched (%s)", (int)s->t.pid,
		s->exec_seen ? "it ran another program" :
		s->t.exited  ? "it exited" :
			       "memscoped stops");
	session_free(s);
	w->s[i] = w->s[--w->ns];
	w->s[w->ns] = NULL;
}

static int scan_proc(struct all *w)
{
	DIR *dir = opendir("/proc");
	struct dirent *de;
	int err = 0;

	if (!dir)
		return -errno;
	while (!err && (de = readdir(dir))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == getpid())
			continue;
		err = session_start(w, (pid_t)pid, false, 0, NULL);
	}
	closedir(dir);
	return err;
}

static void snapshot_all(struct all *w)
{
	for (size_t i = 0; i < w->ns; i++) {
		memscoped__refresh(w->s[i]->c, w->s[i]->m, 0, memscoped__now());
		memscoped__write_snapshot(w->o, &w->s[i]->t, w->s[i]->m,
					  &w->s[i]->snap_seq);
	}
}

int all__run(const struct options *o, struct memscope_bpf *skel, bool multi,
	     struct top **viewp, int sfd)
{
	struct top *view = *viewp;
	struct all *w = calloc(1, sizeof(*w));
	uint64_t start = memscoped__now(), last_tick = start, last_snap = start;
	uint64_t every = (uint64_t)(o->snapshot_every * 1e9);
	uint64_t deadline =
		o->duration > 0 ? start + (uint64_t)(o->duration * 1e9) : 0;
	struct pollfd pfd[3 + MAX_SESSIONS];
	struct bpf_link *exec_link = NULL;
	size_t shown = 0;
	int err;

	if (!w)
		return -ENOMEM;
	w->o = o;
	w->skel = skel;
	w->multi = multi;
	w->out = view ? open_memstream(&w->held, &w->nheld) : stdout;
	w->empty = model__new(&(struct model_opts){.start_ns = start});
	err = dispatch__new(bpf_map__fd(skel->maps.rb), on_proc, w, &w->d);
	if (err || !w->empty) {
		pr_err("cannot read the ring buffer: %s",
		       strerror(err ? -err : ENOMEM));
		err = err ? err : -ENOMEM;
		goto out;
	}
	/* Exec notices first, then the scan: a program started in between
	 * is seen twice at worst, never missed. */
	exec_link = bpf_program__attach(skel->progs.proc_exec);
	if (!exec_link) {
		err = -errno;
		pr_err("cannot watch execs (tp_btf/sched_process_exec): %s",
		       strerror(-err));
		goto out;
	}
	err = scan_proc(w);
	if (err)
		goto out;
	pr_info("watching every async process: %zu now", w->ns);

	for (;;) {
		struct top_info info = {0};
		struct session *cur;
		uint64_t now;
		size_t np = 3;
		int n, act;

		pfd[0] = (struct pollfd){.fd = dispatch__fd(w->d),
					 .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = sfd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = top__fd(view), .events = POLLIN};
		for (size_t i = 0; i < w->ns; i++)
			pfd[np++] = (struct pollfd){.fd = w->s[i]->t.pidfd,
						    .events = POLLIN};
		n = poll(pfd, (nfds_t)np, 50);
		if (n < 0 && errno != EINTR) {
			err = -errno;
			break;
		}
		/* Exits first, drained: every record of an exited process
		 * was committed before its pidfd became readable. */
		for (size_t i = 0; i < np - 3; i++)
			if (pfd[3 + i].revents & POLLIN)
				w->s[i]->t.exited = true;
		if (dispatch__drain(w->d) < 0) {
			err = -EIO;
			break;
		}
		for (size_t i = w->ns; i-- > 0;)
			if (w->s[i]->t.exited || w->s[i]->exec_seen)
				session_end(w, i);
		for (size_t i = 0; i < w->nexec; i++) {
			err = session_start(w, (pid_t)w->execq[i].pid, true,
					    w->execq[i].ts_ns, w->execq[i].path);
			if (err)
				break;
		}
		w->nexec = 0;
		if (err)
			break;
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGUSR1)
					snapshot_all(w);
				else if (si.ssi_signo != SIGCHLD)
					break; /* SIGINT, SIGTERM, SIGHUP */
			}
		}
		act = top__input(view);
		if (act & TOP_ACT_QUIT)
			break;
		if (act & TOP_ACT_SNAPSHOT)
			snapshot_all(w);
		if (w->ns) {
			if (act & TOP_ACT_NEXT_PROC)
				shown++;
			if (act & TOP_ACT_PREV_PROC)
				shown += w->ns - 1;
			shown %= w->ns;
		}
		now = memscoped__now();
		if (now - last_tick >= 1000000000ull) {
			for (size_t i = 0; i < w->ns; i++) {
				memscoped__refresh(w->s[i]->c, w->s[i]->m,
						   COLLECTOR_LONG_POLL_NS, now);
				model__sample(w->s[i]->m, now);
			}
			last_tick = now;
		}
		if (every && now - last_snap >= every) {
			snapshot_all(w);
			last_snap = now;
		}
		cur = w->ns ? w->s[shown % w->ns] : NULL;
		info.now_ns = now;
		info.tasks_only = o->tasks_only;
		info.can_snapshot = o->snapshot != NULL;
		info.proc_idx = (int)(w->ns ? shown % w->ns : 0);
		info.proc_count = (int)w->ns;
		info.pid = cur ? cur->t.pid : 0;
		info.command = cur ? cur->t.command :
				     "(no async process yet: --all waits)";
		info.rss_bytes = cur && view ? memscoped__rss(cur->t.pid) : 0;
		top__draw(view, cur ? cur->m : w->empty, &info);
		if (deadline && now >= deadline)
			break;
	}
	dispatch__drain(w->d);
	/* The terminal back: what waited, then the processes still here. */
	top__free(view);
	*viewp = view = NULL;
	if (w->out && w->out != stdout) {
		fclose(w->out);
		if (w->nheld)
			fwrite(w->held, 1, w->nheld, stdout);
	}
	w->out = stdout;
	for (size_t i = w->ns; i-- > 0;)
		session_end(w, i);
	if (dispatch__unclaimed(w->d))
		pr_debug("%llu records of processes no longer watched",
			 (unsigned long long)dispatch__unclaimed(w->d));
	if (w->exec_dropped)
		pr_warn("%llu execs came too fast to look at: those programs were not watched",
			(unsigned long long)w->exec_dropped);
out:
	for (size_t i = 0; i < w->ns; i++)
		session_free(w->s[i]);
	bpf_link__destroy(exec_link);
	dispatch__free(w->d);
	model__free(w->empty);
	if (w->out && w->out != stdout)
		fclose(w->out);
	free(w->held);
	free(w);
	return err;
}
