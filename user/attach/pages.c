// SPDX-License-Identifier: MIT
/*
 * The page-level fallback (issue 14): when a program's allocator cannot be
 * probed, what the kernel maps for it (new anonymous pages, mmap, munmap,
 * brk, madvise, mremap) is attributed to the task running at that moment.
 * Its BPF programs are machine-wide: they are attached once, while at least
 * one process is in page-level mode, and filter by the "paged" map.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach/attach.h"
#include "attach/elf.h"
#include "log.h"
#include "memscope.skel.h"

#pragma GCC poison u8 u16 u32 u64 s32 s64

#define NPAGE_PROGS 8

static struct {
	struct bpf_link *links[NPAGE_PROGS];
	size_t nlinks;
	unsigned users; /* processes in page-level mode */
	bool loaded; /* the programs were loaded */
} pg;

/* The programs of the mode. */
static size_t page_progs(struct memscope_bpf *skel, struct bpf_program **progs)
{
	size_t n = 0;

	progs[n++] = skel->progs.page_fault;
	progs[n++] = skel->progs.page_munmap;
	progs[n++] = skel->progs.page_madvise;
	progs[n++] = skel->progs.page_mmap_enter;
	progs[n++] = skel->progs.page_mmap_exit;
	progs[n++] = skel->progs.page_mremap_enter;
	progs[n++] = skel->progs.page_mremap_exit;
	progs[n++] = skel->progs.page_brk;
	return n;
}

/* /sys/kernel/mm/transparent_hugepage/enabled: "always [madvise] never". */
static unsigned thp_mode(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	if (strstr(buf, "[always]"))
		return 2;
	return strstr(buf, "[madvise]") ? 1 : 0;
}

void attach__pages_prepare(struct memscope_bpf *skel, bool want)
{
	struct bpf_program *progs[NPAGE_PROGS];
	size_t n = page_progs(skel, progs);

	for (size_t i = 0; i < n; i++)
		bpf_program__set_autoload(progs[i], want);
	skel->rodata->thp_mode = want ? thp_mode() : 0;
	pg.loaded = want;
}

static void detach_all(void)
{
	for (size_t i = 0; i < pg.nlinks; i++)
		bpf_link__destroy(pg.links[i]);
	pg.nlinks = 0;
}

static int attach_all(struct memscope_bpf *skel)
{
	struct bpf_program *progs[NPAGE_PROGS];
	size_t n = page_progs(skel, progs);
	int err;

	for (size_t i = 0; i < n; i++) {
		struct bpf_link *l;

		if (!bpf_program__autoload(progs[i]))
			continue;
		l = bpf_program__attach(progs[i]);
		if (!l) {
			err = -errno;
			pr_warn("page level: cannot attach %s: %s",
				bpf_program__name(progs[i]), strerror(-err));
			detach_all();
			return err;
		}
		pg.links[pg.nlinks++] = l;
	}
	return 0;
}

int attach__pages_on(struct memscope_bpf *skel, pid_t pid)
{
	uint32_t key = (uint32_t)pid;
	uint8_t one = 1;
	int err;

	if (!pg.loaded)
		return -ENOTSUP;
	if (!pg.users) {
		err = attach_all(skel);
		if (err)
			return err;
	}
	err = bpf_map__update_elem(skel->maps.paged, &key, sizeof(key), &one,
				   sizeof(one), BPF_ANY);
	if (err) {
		if (!pg.users)
			detach_all();
		return err;
	}
	pg.users++;
	return 0;
}

void attach__pages_off(struct memscope_bpf *skel, pid_t pid)
{
	uint32_t key = (uint32_t)pid;

	if (bpf_map__delete_elem(skel->maps.paged, &key, sizeof(key), 0))
		return;
	if (pg.users && !--pg.users)
		detach_all();
}

/* Which allocator's own messages the file holds: they are linked in
 * whether or not the symbols were stripped. */
static const char *embedded_allocator(const char *path)
{
	static const struct {
		const char *marker, *name;
	} sigs[] = {
		{ "<jemalloc>", "jemalloc" },
		{ "mimalloc: ", "mimalloc" },
		{ "tcmalloc: ", "tcmalloc" },
	};
	const char *found = NULL;
	struct stat st;
	void *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || st.st_size <= 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]) && !found; i++)
		if (memmem(p, (size_t)st.st_size, sigs[i].marker,
			   strlen(sigs[i].marker)))
			found = sigs[i].name;
	munmap(p, (size_t)st.st_size);
	return found;
}

/*
 * The trigger, kept small so that it can take the allocator detection's
 * word later: the executable is stripped and carries its own allocator,
 * and the malloc found in its libraries is glibc's, which it does not use
 * for its own memory. Then no probe sees its heap: why goes in out.
 */
bool attach__pages_needed(const char *exe, const char *alloc, char *out,
			  size_t len)
{
	struct elf_file *ef;
	const char *name;
	bool stripped;

	if (strcmp(attach__allocator_name(alloc), "glibc"))
		return false; /* an allocator library, probed */
	if (elf__open(exe, &ef))
		return false;
	stripped = !elf__has_symtab(ef);
	elf__close(ef);
	if (!stripped || !(name = embedded_allocator(exe)))
		return false;
	snprintf(
		out, len,
		"the executable is stripped and has %s linked in, which cannot be probed",
		name);
	return true;
}
