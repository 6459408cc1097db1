// SPDX-License-Identifier: MIT
/* Output files: atomic replacement, no symlinks followed, no leftovers. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "offline/outfile.h"
#include "offline_helpers.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/offline_outfile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static char *path(const char *name)
{
	static char buf[4][128];
	static int n;
	char *p = buf[n++ % 4];

	snprintf(p, 128, "%s/%s", dir, name);
	return p;
}

static char *contents(const char *p)
{
	static char buf[256];
	FILE *f = fopen(p, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static size_t entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static void test_new_file(void **state)
{
	struct outfile o;

	assert_int_equal(outfile__open(&o, path("new.txt")), 0);
	fputs("hello\n", o.f);
	/* invisible until committed */
	assert_int_equal(access(path("new.txt"), F_OK), -1);
	assert_int_equal(outfile__commit(&o), 0);
	assert_string_equal(contents(path("new.txt")), "hello\n");
	assert_int_equal(entries(), 1);
	unlink(path("new.txt"));
}

static void test_replace_is_a_rename(void **state)
{
	struct outfile o;
	struct stat before, after;

	write_file(path("old.txt"), "old\n");
	assert_int_equal(stat(path("old.txt"), &before), 0);
	assert_int_equal(outfile__open(&o, path("old.txt")), 0);
	fputs("new\n", o.f);
	assert_string_equal(contents(path("old.txt")), "old\n");
	assert_int_equal(outfile__commit(&o), 0);
	assert_int_equal(stat(path("old.txt"), &after), 0);
	assert_string_equal(contents(path("old.txt")), "new\n");
	/* a new inode: readers of the old file were never disturbed */
	assert_int_not_equal(before.st_ino, after.st_ino);
	assert_int_equal(entries(), 1);
	unlink(path("old.txt"));
}

static void test_abort_keeps_old(void **state)
{
	struct outfile o;

	write_file(path("keep.txt"), "keep\n");
	assert_int_equal(outfile__open(&o, path("keep.txt")), 0);
	fputs("half", o.f);
	outfile__abort(&o);
	assert_string_equal(contents(path("keep.txt")), "keep\n");
	assert_int_equal(entries(), 1);
	unlink(path("keep.txt"));
}

static void test_symlink_refused(void **state)
{
	struct outfile o;

	write_file(path("victim"), "victim\n");
	assert_int_equal(symlink(path("victim"), path("link")), 0);
	assert_int_equal(outfile__open(&o, path("link")), -ELOOP);
	assert_string_equal(contents(path("victim")), "victim\n");
	/* a dangling link too: nothing is created where it points */
	assert_int_equal(symlink(path("nowhere"), path("dangling")), 0);
	assert_int_equal(outfile__open(&o, path("dangling")), -ELOOP);
	assert_int_equal(access(path("nowhere"), F_OK), -1);
	assert_int_equal(entries(), 3);
	unlink(path("link"));
	unlink(path("dangling"));
	unlink(path("victim"));
}

static void test_directory_and_missing_dir(void **state)
{
	struct outfile o;

	assert_int_equal(outfile__open(&o, dir), -EISDIR);
	assert_int_equal(outfile__open(&o, path("no/such/dir.txt")), -ENOENT);
	assert_int_equal(outfile__open(&o, ""), -ENOENT);
}

static void test_devices_are_written_not_replaced(void **state)
{
	struct outfile o;
	struct stat st;

	assert_int_equal(outfile__open(&o, "/dev/null"), 0);
	fputs("discarded\n", o.f);
	assert_int_equal(outfile__commit(&o), 0);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
}

static void test_full_device_fails(void **state)
{
	struct outfile o;
	char big[8192];

	if (access("/dev/full", W_OK))
		skip();
	memset(big, 'x', sizeof(big));
	assert_int_equal(outfile__open(&o, "/dev/full"), 0);
	fwrite(big, 1, sizeof(big), o.f);
	assert_int_equal(outfile__commit(&o), -ENOSPC);
}

static void test_stdout(void **state)
{
	struct outfile o;

	assert_int_equal(outfile__open(&o, NULL), 0);
	assert_ptr_equal(o.f, stdout);
	assert_int_equal(outfile__commit(&o), 0);
	assert_int_equal(outfile__open(&o, "-"), 0);
	assert_ptr_equal(o.f, stdout);
	outfile__abort(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_file),
		cmocka_unit_test(test_replace_is_a_rename),
		cmocka_unit_test(test_abort_keeps_old),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_directory_and_missing_dir),
		cmocka_unit_test(test_devices_are_written_not_replaced),
		cmocka_unit_test(test_full_device_fails),
		cmocka_unit_test(test_stdout),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
