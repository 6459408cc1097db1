// SPDX-License-Identifier: MIT
/*
 * memscoped: attach to a process (or start one, or watch every async one)
 * and account for its heap, per async task. This file checks what can be
 * checked before anything is attached, then hands over to the loop.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <errno.h>

#include "log.h"
#include "loop.h"
#include "options.h"
#include "session.h"
#include "target.h"
#include "view/top.h"

#pragma GCC poison u8 u16 u32 u64 s32 s64

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct target t = { .pidfd = -1 };
	void (*orig_sigpipe)(int);
	struct top *view = NULL;
	sigset_t mask, orig;
	int sfd, err, ret;

	log__set_prog("memscoped");
	if (options__parse(argc, argv, &o))
		return EXIT_USAGE;
	if (loop__check_system())
		return EXIT_USAGE;
	err = o.all ? 0 :
	      o.pid ? target__resolve_pid(&o, &t) :
		      target__resolve_prog(&o, &t);
	if (err)
		return EXIT_USAGE;
	if (session__check_snapshot_path(&o, o.pid ? o.pid : 1))
		return EXIT_USAGE;
	if (o.top) {
		view = top__new();
		if (!view && o.top > 0) {
			pr_err("--top needs a terminal on stdout, and TERM naming it");
			return EXIT_USAGE;
		}
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* A closed terminal asks to stop, as SIGTERM does: the snapshot is
	 * still written. Writes to a closed stdout fail instead of killing. */
	sigaddset(&mask, SIGHUP);
	orig_sigpipe = signal(SIGPIPE, SIG_IGN);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &orig);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		pr_err("signalfd: %s", strerror(errno));
		top__free(view);
		return EXIT_RUNTIME;
	}
	ret = loop__run(&o, o.all ? NULL : &t, &view, sfd, &orig, orig_sigpipe);
	close(sfd);
	return ret;
}
