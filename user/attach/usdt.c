// SPDX-License-Identifier: MIT
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/attach_int.h"
#include "attach/elf.h"
#include "attach/prologue.h"
#include "log.h"
#include "memscope.skel.h"
#include "memscope/events.h"

static bool has_markers(const char *path)
{
	struct elf_file *ef;
	bool has;

	if (elf__open(path, &ef))
		return false;
	has = elf__section_contains(ef, ".note.stapsdt", "memscope");
	elf__close(ef);
	return has;
}

int attach__usdt(struct attach *a, const char *path)
{
	static const char *const names[] = { "task_spawn",  "poll_begin",
					     "poll_end",    "task_complete",
					     "task_cancel", "task_free" };
	struct bpf_program *progs[] = {
		a->skel->progs.usdt_spawn,    a->skel->progs.usdt_poll_begin,
		a->skel->progs.usdt_poll_end, a->skel->progs.usdt_complete,
		a->skel->progs.usdt_cancel,   a->skel->progs.usdt_free,
	};
	int n = 0, err;

	if (!has_markers(path))
		return 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_link *l;

		l = bpf_program__attach_usdt(progs[i], a->pid, path, "memscope",
					     names[i], NULL);
		if (!l) {
			err = -errno;
			pr_debug("usdt %s:memscope:%s: %s", path, names[i],
				 strerror(-err));
			continue;
		}
		err = attach__add_link(a, l);
		if (err)
			return err;
		a->nusdt++;
		n++;
	}
	return n;
}

struct usdt_libs_ctx {
	struct attach *a;
	int n;
};

static int usdt_needed_cb(const char *name, void *ctx)
{
	struct usdt_libs_ctx *uc = ctx;
	char path[PATH_MAX];
	struct attach_lib nc = { path, sizeof(path), false };
	int n;

	if (attach_lib__is_libc(name) || !attach_lib__find(name, &nc))
		return 0;
	n = attach__usdt(uc->a, path);
	if (n > 0)
		uc->n += n;
	return 0;
}

int attach__usdt_needed(struct attach *a, const char *exe)
{
	struct usdt_libs_ctx uc = { a, 0 };
	struct elf_file *ef;

	if (elf__open(exe, &ef))
		return 0;
	elf__foreach_needed(ef, usdt_needed_cb, &uc);
	elf__close(ef);
	return uc.n;
}

int attach__usdt_mapped(struct attach *a, pid_t pid, const char *exe)
{
	char path[64], line[PATH_MAX + 128], last[PATH_MAX] = "";
	FILE *f;
	int total = 0, n;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char perms[8], *p = strchr(line, '/');
		size_t len;

		if (!p || sscanf(line, "%*s %7s", perms) != 1 ||
		    perms[2] != 'x')
			continue;
		len = strlen(p);
		while (len && p[len - 1] == '\n')
			p[--len] = '\0';
		/* The executable is attached through exe already. */
		if (!strcmp(p, last) || !strcmp(p, exe) ||
		    attach_lib__is_libc(strrchr(p, '/') + 1))
			continue;
		snprintf(last, sizeof(last), "%s", p);
		n = attach__usdt(a, p);
		if (n > 0)
			total += n;
	}
	fclose(f);
	return total;
}

static int markers_needed_cb(const char *name, void *ctx)
{
	char path[PATH_MAX];
	struct attach_lib nc = { path, sizeof(path), false };

	if (attach_lib__is_libc(name) || !attach_lib__find(name, &nc))
		return 0;
	if (!has_markers(path))
		return 0;
	*(int *)ctx = MS_RT_USDT;
	return 1;
}

int attach__async_kind(const char *exe)
{
	struct elf_file *ef;
	int kind = 0, err;

	err = elf__open(exe, &ef);
	if (err)
		return err;
	if (!elf__is_dynamic(ef)) {
		elf__close(ef); /* static: no shared libc to probe */
		return 0;
	}
	if (attach__is_tokio(ef))
		kind = MS_RT_TOKIO;
	else if (elf__section_contains(ef, ".note.stapsdt", "memscope"))
		kind = MS_RT_USDT;
	else
		elf__foreach_needed(ef, markers_needed_cb, &kind);
	elf__close(ef);
	return kind;
}
