/* SPDX-License-Identifier: MIT */
/* Just enough ELF reading (libelf) to place probes. */
#ifndef MS_ELF_H
#define MS_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_file;

struct elf_sym {
	const char *name;
	uint64_t vaddr;
	uint64_t size;
	bool global; /* binding GLOBAL or WEAK: not a file's static function */
};

/* Negative errno on failure; -ENOEXEC if the file is not ELF. */
int elf__open(const char *path, struct elf_file **out);
void elf__close(struct elf_file *ef);
bool elf__has_symtab(const struct elf_file *ef);
bool elf__is_dynamic(const struct elf_file *ef); /* has PT_INTERP/DYNAMIC */
uint16_t elf__machine(const struct elf_file *ef);
bool elf__is_64bit(const struct elf_file *ef);
/* DT_NEEDED entries; fn returns non-zero to stop. */
int elf__foreach_needed(struct elf_file *ef,
			int (*fn)(const char *name, void *ctx), void *ctx);
/* Function symbols of .symtab and .dynsym (versions stripped from names). */
int elf__foreach_func(struct elf_file *ef,
		      int (*fn)(const struct elf_sym *s, void *ctx), void *ctx);
int elf__find_func(struct elf_file *ef, const char *name, struct elf_sym *out);
/* Virtual address to file offset (what uprobes take). */
int elf__vaddr_to_off(const struct elf_file *ef, uint64_t vaddr, uint64_t *off);
/* Bytes of the file at the given virtual address. */
int elf__read_vaddr(const struct elf_file *ef, uint64_t vaddr, void *buf,
		    size_t len);
/* The vaddr of the first loadable segment (load bias = map start - this). */
uint64_t elf__first_load_vaddr(const struct elf_file *ef);
/* The whole file as mapped by libelf (len bytes), or NULL. */
const void *elf__image(struct elf_file *ef, size_t *len);
/* The GNU build id (up to len bytes): its length, or 0 when it has none. */
size_t elf__build_id(struct elf_file *ef, uint8_t *buf, size_t len);
/* The file name in .gnu_debuglink: 0, or -ENOENT. */
int elf__debuglink(struct elf_file *ef, char *buf, size_t len);
/* Does any section named sec contain the bytes? (a cheap "is it tokio") */
bool elf__section_contains(struct elf_file *ef, const char *sec,
			   const char *needle);

#endif
