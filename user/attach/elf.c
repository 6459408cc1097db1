// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach/elf.h"

#define MAX_PHDRS 64

struct elf_file {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	GElf_Phdr phdr[MAX_PHDRS];
	size_t nphdr;
	bool dynamic;
	bool symtab;
};

int elf__open(const char *path, struct elf_file **out)
{
	struct elf_file *ef;
	size_t n;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	ef = calloc(1, sizeof(*ef));
	if (!ef)
		return -ENOMEM;
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ef->fd < 0) {
		err = -errno;
		goto err_free;
	}
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF ||
	    !gelf_getehdr(ef->elf, &ef->ehdr)) {
		err = -ENOEXEC;
		goto err_close;
	}
	if (elf_getphdrnum(ef->elf, &n))
		n = 0;
	for (size_t i = 0; i < n && ef->nphdr < MAX_PHDRS; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(ef->elf, (int)i, &ph))
			continue;
		if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
			ef->dynamic = true;
		if (ph.p_type == PT_LOAD)
			ef->phdr[ef->nphdr++] = ph;
	}
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(ef->elf, scn));) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB)
			ef->symtab = true;
	}
	*out = ef;
	return 0;
err_close:
	if (ef->elf)
		elf_end(ef->elf);
	close(ef->fd);
err_free:
	free(ef);
	return err;
}

void elf__close(struct elf_file *ef)
{
	if (!ef)
		return;
	elf_end(ef->elf);
	close(ef->fd);
	free(ef);
}

bool elf__has_symtab(const struct elf_file *ef)
{
	return ef->symtab;
}

bool elf__is_dynamic(const struct elf_file *ef)
{
	return ef->dynamic;
}

bool elf__is_64bit(const struct elf_file *ef)
{
	return ef->ehdr.e_ident[EI_CLASS] == ELFCLASS64;
}

uint16_t elf__machine(const struct elf_file *ef)
{
	return ef->ehdr.e_machine;
}

int elf__foreach_needed(struct elf_file *ef,
			int (*fn)(const char *name, void *ctx), void *ctx)
{
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(ef->elf, scn));) {
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize;
		     i++) {
			GElf_Dyn dyn;
			const char *name;
			int ret;

			if (!gelf_getdyn(data, (int)i, &dyn))
				break;
			if (dyn.d_tag != DT_NEEDED)
				continue;
			name = elf_strptr(ef->elf, sh.sh_link, dyn.d_un.d_val);
			if (name && (ret = fn(name, ctx)))
				return ret;
		}
	}
	return 0;
}

int elf__foreach_func(struct elf_file *ef,
		      int (*fn)(const struct elf_sym *s, void *ctx), void *ctx)
{
	char buf[512];

	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(ef->elf, scn));) {
		Elf_Data *data;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0;
		     data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize;
		     i++) {
			struct elf_sym s;
			const char *name, *at;
			GElf_Sym sym;
			int ret;

			if (!gelf_getsym(data, (int)i, &sym))
				break;
			if (GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
			    GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC)
				continue;
			if (sym.st_shndx == SHN_UNDEF || !sym.st_value)
				continue;
			name = elf_strptr(ef->elf, sh.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			at = strchr(name, '@');
			if (at) {
				size_t n = (size_t)(at - name);

				if (n >= sizeof(buf))
					continue;
				memcpy(buf, name, n);
				buf[n] = '\0';
				name = buf;
			}
			s.name = name;
			s.vaddr = sym.st_value;
			s.size = sym.st_size;
			s.global = GELF_ST_BIND(sym.st_info) != STB_LOCAL;
			ret = fn(&s, ctx);
			if (ret)
				return ret;
		}
	}
	return 0;
}

struct find_ctx {
	const char *name;
	struct elf_sym *out;
};

static int find_cb(const struct elf_sym *s, void *ctx)
{
	struct find_ctx *fc = ctx;

	if (strcmp(s->name, fc->name))
		return 0;
	*fc->out = *s;
	fc->out->name = fc->name;
	return 1;
}

int elf__find_func(struct elf_file *ef, const char *name, struct elf_sym *out)
{
	struct find_ctx fc = { name, out };

	return elf__foreach_func(ef, find_cb, &fc) == 1 ? 0 : -ENOENT;
}

int elf__vaddr_to_off(const struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	for (size_t i = 0; i < ef->nphdr; i++) {
		const GElf_Phdr *ph = &ef->phdr[i];

		if (vaddr >= ph->p_vaddr &&
		    vaddr < ph->p_vaddr + ph->p_filesz) {
			*off = vaddr - ph->p_vaddr + ph->p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

int elf__read_vaddr(const struct elf_file *ef, uint64_t vaddr, void *buf,
		    size_t len)
{
	uint64_t off;
	ssize_t n;

	if (elf__vaddr_to_off(ef, vaddr, &off))
		return -ENOENT;
	n = pread(ef->fd, buf, len, (off_t)off);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

uint64_t elf__first_load_vaddr(const struct elf_file *ef)
{
	return ef->nphdr ? ef->phdr[0].p_vaddr - ef->phdr[0].p_offset : 0;
}

static Elf_Scn *section_by_name(struct elf_file *ef, const char *sec)
{
	size_t shstrndx;

	if (elf_getshdrstrndx(ef->elf, &shstrndx))
		return NULL;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(ef->elf, scn));) {
		GElf_Shdr sh;
		const char *n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		n = elf_strptr(ef->elf, shstrndx, sh.sh_name);
		if (n && !strcmp(n, sec))
			return scn;
	}
	return NULL;
}

const void *elf__image(struct elf_file *ef, size_t *len)
{
	return elf_rawfile(ef->elf, len);
}

size_t elf__build_id(struct elf_file *ef, uint8_t *buf, size_t len)
{
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(ef->elf, scn));) {
		Elf_Data *d;
		GElf_Shdr sh;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		while (d && (off = gelf_getnote(d, off, &nh, &name_off,
						&desc_off)) > 0) {
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 ||
			    memcmp((char *)d->d_buf + name_off, "GNU", 4) ||
			    !nh.n_descsz || nh.n_descsz > len)
				continue;
			memcpy(buf, (char *)d->d_buf + desc_off, nh.n_descsz);
			return nh.n_descsz;
		}
	}
	return 0;
}

int elf__debuglink(struct elf_file *ef, char *buf, size_t len)
{
	Elf_Scn *scn = section_by_name(ef, ".gnu_debuglink");
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;
	size_t n;

	if (!d || !d->d_buf || !d->d_size)
		return -ENOENT;
	n = strnlen(d->d_buf, d->d_size);
	if (!n || n == d->d_size || n >= len || memchr(d->d_buf, '/', n))
		return -ENOENT;
	memcpy(buf, d->d_buf, n + 1);
	return 0;
}

bool elf__section_contains(struct elf_file *ef, const char *sec,
			   const char *needle)
{
	Elf_Scn *scn = section_by_name(ef, sec);
	Elf_Data *d = scn ? elf_getdata(scn, NULL) : NULL;

	return d && d->d_buf &&
	       memmem(d->d_buf, d->d_size, needle, strlen(needle)) != NULL;
}
