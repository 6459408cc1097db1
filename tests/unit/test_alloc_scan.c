// SPDX-License-Identifier: MIT
/*
 * Finding an allocator inside an executable (user/attach/alloc_scan.c):
 * the names first (Rust's shim in its plain and v0-mangled forms, as
 * rustc 1.95 writes them; jemalloc's prefixes), then real files where this
 * machine has them: Debian's libjemalloc.so.2 and libmimalloc.so.2 (the
 * same symbols a static link puts in an executable), tools/alloc-rust's
 * ra_jemalloc and its stripped copy (tools/alloc-rust/README.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "attach/alloc_scan.h"

static void shim_names(void **state)
{
	(void)state;
	assert_int_equal(alloc_scan__shim_kind("__rust_alloc"),
			 ALLOC_SHIM_ALLOC);
	assert_int_equal(alloc_scan__shim_kind("__rust_dealloc"),
			 ALLOC_SHIM_DEALLOC);
	assert_int_equal(alloc_scan__shim_kind(
				 "_RNvCsfLfy6EI15iL_7___rustc12___rust_alloc"),
			 ALLOC_SHIM_ALLOC);
	assert_int_equal(
		alloc_scan__shim_kind(
			"_RNvCsfLfy6EI15iL_7___rustc19___rust_alloc_zeroed"),
		ALLOC_SHIM_ZEROED);
	assert_int_equal(
		alloc_scan__shim_kind(
			"_RNvCsfLfy6EI15iL_7___rustc14___rust_realloc"),
		ALLOC_SHIM_REALLOC);
	assert_int_equal(
		alloc_scan__shim_kind(
			"_RNvCsfLfy6EI15iL_7___rustc14___rust_dealloc"),
		ALLOC_SHIM_DEALLOC);
	/* Not the shim: the error handler, other crates' lookalikes. */
	assert_int_equal(
		alloc_scan__shim_kind(
			"_RNvCsfLfy6EI15iL_7___rustc26___rust_alloc_error_handler"),
		-1);
	assert_int_equal(alloc_scan__shim_kind("my__rust_alloc"), -1);
	assert_int_equal(alloc_scan__shim_kind("__rust_alloc_zeroed_x"), -1);
}

static void jemalloc_prefixes(void **state)
{
	char p[ALLOC_SCAN_PREFIX];

	(void)state;
	assert_true(alloc_scan__jemalloc_prefix("_rjem_mallocx", p, sizeof(p)));
	assert_string_equal(p, "_rjem_");
	assert_true(alloc_scan__jemalloc_prefix("_rjem_mallctl", p, sizeof(p)));
	assert_string_equal(p, "_rjem_");
	/* All that may be left after --gc-sections. */
	assert_true(
		alloc_scan__jemalloc_prefix("_rjem_sdallocx", p, sizeof(p)));
	assert_string_equal(p, "_rjem_");
	assert_true(alloc_scan__jemalloc_prefix("mallocx", p, sizeof(p)));
	assert_string_equal(p, "");
	assert_true(alloc_scan__jemalloc_prefix("je_mallocx", p, sizeof(p)));
	assert_string_equal(p, "je_");
	/* Words ending the same way are not the API. */
	assert_false(alloc_scan__jemalloc_prefix("pvallocx", p, sizeof(p)));
	assert_false(alloc_scan__jemalloc_prefix("my_nmallocx", p, sizeof(p)));
	assert_false(alloc_scan__jemalloc_prefix("_rjem_mallctlbymib", p,
						 sizeof(p)));
	assert_false(alloc_scan__jemalloc_prefix(
		"a_prefix_far_too_long_for_any_allocator_mallocx", p,
		sizeof(p)));
}

/* Strings alone, in a binary with symbols: text naming an allocator. */
static void strings_with_symbols(void **state)
{
	struct alloc_scan s = { .hint = "jemalloc", .symtab = true };

	(void)state;
	assert_false(alloc_scan__unprobeable(&s));
	s.symtab = false;
	assert_true(alloc_scan__unprobeable(&s));
	/* Named, but nothing that allocates found: half found. */
	s = (struct alloc_scan){ .name = "jemalloc", .symtab = true };
	assert_true(alloc_scan__unprobeable(&s));
	s.has_alloc = true;
	assert_false(alloc_scan__unprobeable(&s));
}

static void scan_or_skip(const char *path, struct alloc_scan *s)
{
	if (access(path, R_OK) || alloc_scan__exe(path, s))
		skip();
}

static void debian_libraries(void **state)
{
	struct alloc_scan s;
	char d[128];

	(void)state;
	scan_or_skip("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", &s);
	assert_string_equal(s.name, "jemalloc");
	assert_string_equal(s.prefix, "");
	assert_true(s.has_alloc && s.has_release);
	assert_false(alloc_scan__unprobeable(&s));
	assert_false(alloc_scan__probe_shim(&s));
	alloc_scan__describe(&s, d, sizeof(d));
	assert_string_equal(d, "jemalloc (static)");
	scan_or_skip("/usr/lib/x86_64-linux-gnu/libmimalloc.so.2", &s);
	assert_string_equal(s.name, "mimalloc");
	assert_true(s.has_alloc && s.has_release);
	/* gperftools exports jemalloc's sdallocx and nallocx too. */
	scan_or_skip("/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4", &s);
	assert_string_equal(s.name, "tcmalloc");
	assert_string_equal(s.prefix, "");
	assert_true(s.has_alloc && s.has_release);
}

static void glibc_program(void **state)
{
	struct alloc_scan s;

	(void)state;
	scan_or_skip("/bin/true", &s);
	assert_null(s.name);
	assert_null(s.hint);
	assert_false(alloc_scan__unprobeable(&s));
	assert_false(alloc_scan__probe_shim(&s));
}

#define RA MS_SRC_DIR "/tools/alloc-rust/target/release/ra_jemalloc"

static void rust_static_jemalloc(void **state)
{
	struct alloc_scan s;
	char d[128];

	(void)state;
	scan_or_skip(RA, &s);
	assert_string_equal(s.name, "jemalloc");
	assert_string_equal(s.prefix, "_rjem_");
	/* No _rjem_free (--gc-sections): sdallocx is its release. */
	assert_true(s.has_alloc && s.has_release);
	assert_non_null(s.shim[ALLOC_SHIM_ALLOC].vaddr);
	assert_non_null(s.shim[ALLOC_SHIM_DEALLOC].vaddr);
	/* A #[global_allocator] (no __rdl_alloc left); but jemalloc is
	 * probed, and the shim above it is not. */
	assert_true(s.custom_global);
	assert_false(alloc_scan__probe_shim(&s));
	assert_false(alloc_scan__unprobeable(&s));
	alloc_scan__describe(&s, d, sizeof(d));
	assert_string_equal(d, "jemalloc (static, _rjem_)");
}

/* tools/tokio's programs keep Rust's default allocator (glibc, probed). */
static void rust_system_allocator(void **state)
{
	struct alloc_scan s;

	(void)state;
	scan_or_skip(MS_SRC_DIR "/tools/tokio/target/release/tk_buffers", &s);
	assert_null(s.name);
	assert_non_null(s.shim[ALLOC_SHIM_ALLOC].vaddr);
	assert_false(s.custom_global);
	assert_false(alloc_scan__probe_shim(&s));
	assert_false(alloc_scan__unprobeable(&s));
}

static void rust_static_jemalloc_stripped(void **state)
{
	struct alloc_scan s;

	(void)state;
	scan_or_skip(RA ".stripped", &s);
	assert_null(s.name);
	assert_false(s.symtab);
	assert_string_equal(s.hint, "jemalloc");
	/* From _RJEM_MALLOC_CONF in its strings. */
	assert_string_equal(s.prefix, "_rjem_");
	assert_true(alloc_scan__unprobeable(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shim_names),
		cmocka_unit_test(jemalloc_prefixes),
		cmocka_unit_test(strings_with_symbols),
		cmocka_unit_test(debian_libraries),
		cmocka_unit_test(glibc_program),
		cmocka_unit_test(rust_static_jemalloc),
		cmocka_unit_test(rust_system_allocator),
		cmocka_unit_test(rust_static_jemalloc_stripped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
