// SPDX-License-Identifier: MIT
/* Separate debug files: found by build id under a debug directory, by
 * .gnu_debuglink next to the binary, in its .debug/ and under a debug
 * directory; a candidate with another build id is skipped. The "debug
 * files" are copies of this test binary (it has a build id) and of
 * another ELF file (another build id). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "attach/elf.h"
#include "sym/debugfile.h"

static char self[PATH_MAX];
static uint8_t id[DEBUGFILE_ID_MAX];
static size_t id_len;
static char hex[2 * DEBUGFILE_ID_MAX + 1];

/* An ELF file with a build id other than ours, or NULL. */
static const char *other_elf(void)
{
	static const char *const cands[] = { "/bin/true", "/bin/sh",
					     "/usr/bin/env" };
	uint8_t got[DEBUGFILE_ID_MAX];

	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		struct elf_file *ef;
		size_t n;

		if (elf__open(cands[i], &ef))
			continue;
		n = elf__build_id(ef, got, sizeof(got));
		elf__close(ef);
		if (n && (n != id_len || memcmp(got, id, n)))
			return cands[i];
	}
	return NULL;
}

/* snprintf into a PATH_MAX buffer; a test path never needs truncating. */
static void pathf(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	assert_true(n > 0 && n < PATH_MAX);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
}

/* mkdir -p */
static void mkdirs(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0700);
		*p = '/';
	}
	mkdir(buf, 0700);
}

static void rm_rf(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct elf_file *ef;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	assert_int_equal(elf__open(self, &ef), 0);
	id_len = elf__build_id(ef, id, sizeof(id));
	elf__close(ef);
	if (!id_len) {
		print_message("no build id in %s: skipped\n", self);
		return 0;
	}
	debugfile__hex(id, id_len, hex);
	return 0;
}

static char *tmpdir(void)
{
	static char dir[64];

	snprintf(dir, sizeof(dir), "/tmp/memscope-dbg-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void test_hex(void **state)
{
	static const uint8_t b[] = { 0x00, 0x1f, 0xa0, 0xff };
	char out[9];

	debugfile__hex(b, sizeof(b), out);
	assert_string_equal(out, "001fa0ff");
}

static void test_add_dir(void **state)
{
	char *dir = tmpdir(), file[PATH_MAX];

	debugfile__clear_dirs();
	assert_int_equal(debugfile__add_dir("/nonexistent/memscope"), -ENOENT);
	pathf(file, "%s/f", dir);
	copy_file("/proc/self/exe", file);
	assert_int_equal(debugfile__add_dir(file), -ENOENT); /* not a dir */
	for (int i = 0; i < DEBUGFILE_MAX_DIRS; i++)
		assert_int_equal(debugfile__add_dir(dir), 0);
	assert_int_equal(debugfile__add_dir(dir), -E2BIG);
	debugfile__clear_dirs();
	rm_rf(dir);
}

static void test_by_build_id(void **state)
{
	char *dir = tmpdir(), sub[PATH_MAX], want[PATH_MAX], out[PATH_MAX];
	const char *other = other_elf();

	if (!id_len)
		skip();
	debugfile__clear_dirs();
	/* Not there yet: nothing under /usr/lib/debug for a test binary. */
	assert_int_equal(debugfile__find("/nonexistent/prog", id, id_len, NULL,
					 out, sizeof(out)),
			 -ENOENT);
	pathf(sub, "%s/.build-id/%.2s", dir, hex);
	mkdirs(sub);
	pathf(want, "%s/%s.debug", sub, hex + 2);
	copy_file(self, want);
	/* Only in the directories given. */
	assert_int_equal(debugfile__find("/nonexistent/prog", id, id_len, NULL,
					 out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(debugfile__add_dir(dir), 0);
	assert_int_equal(debugfile__find("/nonexistent/prog", id, id_len, NULL,
					 out, sizeof(out)),
			 0);
	assert_string_equal(out, want);
	/* The binary's path does not matter for a build id. */
	assert_int_equal(
		debugfile__find(NULL, id, id_len, NULL, out, sizeof(out)), 0);
	assert_string_equal(out, want);
	/* Too small a buffer for the path: not found, never truncated. */
	assert_int_equal(debugfile__find(NULL, id, id_len, NULL, out, 8),
			 -ENOENT);

	/* A file at the right place whose build id is another is skipped. */
	if (other) {
		copy_file(other, want);
		assert_int_equal(debugfile__find("/nonexistent/prog", id,
						 id_len, NULL, out,
						 sizeof(out)),
				 -ENOENT);
	}
	/* So is a directory there. */
	unlink(want);
	mkdir(want, 0700);
	assert_int_equal(
		debugfile__find(NULL, id, id_len, NULL, out, sizeof(out)),
		-ENOENT);
	debugfile__clear_dirs();
	rm_rf(dir);
}

static void test_by_debuglink(void **state)
{
	char *dir = tmpdir(), bin[PATH_MAX], dbg[PATH_MAX], out[PATH_MAX];
	char ddir[PATH_MAX], sub[PATH_MAX];
	const char *other = other_elf();

	if (!id_len)
		skip();
	debugfile__clear_dirs();
	/* The binary's directory; the binary itself need not exist. */
	pathf(bin, "%s/bin/prog", dir);
	pathf(sub, "%s/bin", dir);
	mkdirs(sub);

	/* Next to the binary. */
	pathf(dbg, "%s/bin/prog.dbg", dir);
	copy_file(self, dbg);
	assert_int_equal(
		debugfile__find(bin, id, id_len, "prog.dbg", out, sizeof(out)),
		0);
	assert_string_equal(out, dbg);
	/* A link with a directory in it is refused: a name, not a path. */
	assert_int_equal(debugfile__find(bin, id, id_len, "../bin/prog.dbg",
					 out, sizeof(out)),
			 -ENOENT);
	/* Never the binary itself, whatever its debuglink says. */
	assert_int_equal(
		debugfile__find(dbg, id, id_len, "prog.dbg", out, sizeof(out)),
		-ENOENT);
	/* With another build id: skipped. */
	if (other) {
		copy_file(other, dbg);
		assert_int_equal(debugfile__find(bin, id, id_len, "prog.dbg",
						 out, sizeof(out)),
				 -ENOENT);
	}
	unlink(dbg);

	/* In its .debug/ directory. */
	pathf(sub, "%s/bin/.debug", dir);
	mkdirs(sub);
	pathf(dbg, "%s/bin/.debug/prog.dbg", dir);
	copy_file(self, dbg);
	assert_int_equal(
		debugfile__find(bin, id, id_len, "prog.dbg", out, sizeof(out)),
		0);
	assert_string_equal(out, dbg);
	unlink(dbg);

	/* Under a debug directory: DIR/<binary's directory>/name ... */
	pathf(ddir, "%s/debug", dir);
	mkdirs(ddir);
	assert_int_equal(debugfile__add_dir(ddir), 0);
	pathf(sub, "%s%s/bin", ddir, dir);
	mkdirs(sub);
	pathf(dbg, "%s/prog.dbg", sub);
	copy_file(self, dbg);
	assert_int_equal(
		debugfile__find(bin, id, id_len, "prog.dbg", out, sizeof(out)),
		0);
	assert_string_equal(out, dbg);
	unlink(dbg);
	/* ... and DIR/name. */
	pathf(dbg, "%s/prog.dbg", ddir);
	copy_file(self, dbg);
	assert_int_equal(
		debugfile__find(bin, id, id_len, "prog.dbg", out, sizeof(out)),
		0);
	assert_string_equal(out, dbg);
	/* No build id to compare: the name decides. */
	assert_int_equal(
		debugfile__find(bin, NULL, 0, "prog.dbg", out, sizeof(out)), 0);
	assert_string_equal(out, dbg);
	/* No link and no build id: nothing to look for. */
	assert_int_equal(debugfile__find(bin, NULL, 0, NULL, out, sizeof(out)),
			 -ENOENT);
	debugfile__clear_dirs();
	rm_rf(dir);
}

/* debugfile__find_for reads the build id and the debuglink itself: a
 * copy of this binary given a .gnu_debuglink by objcopy. */
static void test_find_for(void **state)
{
	char *dir = tmpdir(), bin[PATH_MAX], dbg[PATH_MAX], out[PATH_MAX];
	char cmd[3 * PATH_MAX];

	if (!id_len || system("objcopy --version >/dev/null 2>&1"))
		skip();
	debugfile__clear_dirs();
	pathf(bin, "%s/prog", dir);
	pathf(dbg, "%s/prog.dbg", dir);
	copy_file(self, bin);
	copy_file(self, dbg);
	snprintf(cmd, sizeof(cmd), "objcopy --add-gnu-debuglink='%s' '%s'", dbg,
		 bin);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(debugfile__find_for(bin, out, sizeof(out)), 0);
	assert_string_equal(out, dbg);
	unlink(dbg);
	assert_int_equal(debugfile__find_for(bin, out, sizeof(out)), -ENOENT);
	assert_int_equal(
		debugfile__find_for("/nonexistent/prog", out, sizeof(out)),
		-ENOENT);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_add_dir),
		cmocka_unit_test(test_by_build_id),
		cmocka_unit_test(test_by_debuglink),
		cmocka_unit_test(test_find_for),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
