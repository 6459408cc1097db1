// SPDX-License-Identifier: MIT
/* Unwinder and symbolizer: unwind our own stack through CFI (the chain
 * below is built without frame pointers), symbolize libc, demangle Rust
 * and C++, survive garbage, classify runtime frames, and resolve a binary
 * that was deleted after it started. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "attach/elf.h"
#include "sym/debugfile.h"
#include "sym/sym.h"

#define STACK_COPY 8192
#define MAX_PCS 64
#define CHILD_FLAG "--sym-test-child"

/* Frame pointers off, whatever the build flags (the sanitizer build turns
 * them on): these frames can only be unwound through CFI. */
#define NO_FP __attribute__((noinline, noclone, optimize("omit-frame-pointer")))

static struct sym_regs cap_regs;
static uint8_t cap_stack[STACK_COPY];
static size_t cap_len;
static int line_c, line_b, line_a, line_t;
static volatile int sink;

/* The registers a uprobe would hand us; lea gives the current rip. */
#define CAPTURE(r)                                 \
	__asm__ volatile("lea 0(%%rip), %%rax\n\t" \
			 "mov %%rax, 0(%0)\n\t"    \
			 "mov %%rsp, 8(%0)\n\t"    \
			 "mov %%rbp, 16(%0)\n\t"   \
			 "mov %%rbx, 24(%0)\n\t"   \
			 "mov %%r12, 32(%0)\n\t"   \
			 "mov %%r13, 40(%0)\n\t"   \
			 "mov %%r14, 48(%0)\n\t"   \
			 "mov %%r15, 56(%0)\n\t"   \
			 :                         \
			 : "r"(r)                  \
			 : "rax", "memory")

/* End of the mapping that holds ADDR (our stack), so the copy never reads
 * past the top of the stack. */
static uint64_t mapping_end(uint64_t addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uint64_t start, end, found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNx64 "-%" SCNx64, &start, &end) == 2 &&
		    addr >= start && addr < end) {
			found = end;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Word by word, not memcpy: the copy spans our callers' frames, whose
 * sanitizer redzones memcpy would report. */
__attribute__((noinline, no_sanitize_address)) static void
copy_stack(uint64_t sp)
{
	uint64_t end = mapping_end(sp);
	size_t len = end > sp ? (size_t)(end - sp) : 0;

	if (len > STACK_COPY)
		len = STACK_COPY;
	len &= ~(size_t)7;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t w = *(volatile const uint64_t *)(uintptr_t)(sp + i);

		memcpy(cap_stack + i, &w, 8);
	}
	cap_len = len;
}

NO_FP static int unwind_c(int x)
{
	/* The line and the call share a line: __LINE__ names the call. */
	// clang-format off
	line_c = __LINE__; CAPTURE(&cap_regs);
	// clang-format on
	copy_stack(cap_regs.sp);
	return x + sink;
}

NO_FP static int unwind_b(int x)
{
	int r;

	/* The line and the call share a line: __LINE__ names the call. */
	// clang-format off
	line_b = __LINE__; r = unwind_c(x + 1);
	// clang-format on
	sink += r;
	return r + 1;
}

NO_FP static int unwind_a(int x)
{
	int r;

	/* The line and the call share a line: __LINE__ names the call. */
	// clang-format off
	line_a = __LINE__; r = unwind_b(x + 1);
	// clang-format on
	sink += r;
	return r + 1;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n, m;

	if (!s)
		return false;
	n = strlen(s);
	m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static void print_frame(int i, const struct sym_frame *f)
{
	print_message("  #%-2d %#" PRIx64 " %s (%s:%d) [%s]\n", i, f->pc,
		      f->function ? f->function : "?", f->file ? f->file : "?",
		      f->line, f->module ? f->module : "?");
}

static void expect_frame(const struct sym_frame *f, const char *fn, int line)
{
	assert_non_null(f->function);
	assert_string_equal(f->function, fn);
	assert_true(ends_with(f->file, "test_sym.c"));
	assert_int_equal(f->line, line);
	assert_non_null(f->module);
	assert_string_equal(f->module, "test_sym");
}

NO_FP static void test_unwind_self(void **state)
{
	struct sym_proc *p = NULL;
	struct sym_frame f;
	uint64_t pcs[MAX_PCS];
	int n, r;

	/* The line and the call share a line: __LINE__ names the call. */
	// clang-format off
	line_t = __LINE__; r = unwind_a(1);
	// clang-format on
	sink += r;
	assert_true(cap_len >= 512);

	assert_int_equal(sym__open(getpid(), &p), 0);
	n = sym__unwind(p, &cap_regs, cap_stack, cap_len, pcs, MAX_PCS);
	assert_true(n >= 4);
	assert_int_equal(pcs[0], cap_regs.ip);
	for (int i = 0; i < n; i++) {
		sym__frame(p, pcs[i], i > 0, &f);
		print_frame(i, &f);
	}

	assert_int_equal(sym__frame(p, pcs[0], false, &f), 0);
	expect_frame(&f, "unwind_c", line_c);
	assert_int_equal(sym__frame(p, pcs[1], true, &f), 0);
	expect_frame(&f, "unwind_b", line_b);
	assert_int_equal(sym__frame(p, pcs[2], true, &f), 0);
	expect_frame(&f, "unwind_a", line_a);
	assert_int_equal(sym__frame(p, pcs[3], true, &f), 0);
	expect_frame(&f, "test_unwind_self", line_t);
	/* Beyond us: cmocka and libc, through their CFI. */
	assert_true(n >= 5);
	assert_int_equal(sym__frame(p, pcs[4], true, &f), 0);
	assert_non_null(f.module);

	/* Cached lookups give the same interned strings. */
	{
		struct sym_frame g;

		assert_int_equal(sym__frame(p, pcs[1], true, &f), 0);
		assert_int_equal(sym__frame(p, pcs[1], true, &g), 0);
		assert_ptr_equal(f.function, g.function);
		assert_ptr_equal(f.file, g.file);
	}

	/* Shorter copies and limits: never more than asked. */
	assert_int_equal(sym__unwind(p, &cap_regs, cap_stack, cap_len, pcs, 1),
			 1);
	assert_int_equal(sym__unwind(p, &cap_regs, cap_stack, cap_len, pcs, 3),
			 3);
	assert_int_equal(sym__unwind(p, &cap_regs, NULL, 0, pcs, MAX_PCS), 1);
	assert_int_equal(sym__unwind(p, &cap_regs, cap_stack, cap_len, pcs, 0),
			 -EINVAL);
	assert_int_equal(sym__refresh(p), 0);
	sym__close(p);
}

static void test_libc(void **state)
{
	struct sym_proc *p = NULL;
	struct sym_frame f;
	void *h, *fn;

	/* Through dlsym: under ASan, &malloc is the interceptor. */
	h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	fn = dlsym(h, "malloc");
	assert_non_null(fn);

	assert_int_equal(sym__open(getpid(), &p), 0);
	assert_int_equal(sym__frame(p, (uint64_t)(uintptr_t)fn, false, &f), 0);
	print_frame(0, &f);
	assert_non_null(f.function);
	assert_true(!strcmp(f.function, "malloc") ||
		    !strcmp(f.function, "__libc_malloc"));
	assert_non_null(f.module);
	assert_string_equal(f.module, "libc.so.6");
	assert_true(sym__is_runtime_frame(&f));
	assert_int_equal(f.pc, (uint64_t)(uintptr_t)fn);

	/* Nothing is mapped at page 0. */
	assert_int_equal(sym__frame(p, 16, false, &f), -ENOENT);
	assert_null(f.function);
	assert_null(f.module);
	assert_int_equal(f.pc, 16);
	assert_int_equal(sym__frame(NULL, 16, false, &f), -EINVAL);
	dlclose(h);
	sym__close(p);
}

/* The child of test_dlopen_refresh: on "go", dlopen libresolv, send the
 * address of one of its functions, then wait for EOF. */
static void dlopen_child(int in, int out)
{
	uint64_t a = 0;
	void *h, *fn;
	char c;

	if (read(in, &c, 1) != 1)
		_exit(1);
	h = dlopen("libresolv.so.2", RTLD_NOW | RTLD_LOCAL);
	fn = h ? dlsym(h, "__b64_ntop") : NULL;
	a = (uint64_t)(uintptr_t)fn;
	if (write(out, &a, sizeof(a)) != sizeof(a))
		_exit(1);
	while (read(in, &c, 1) > 0)
		;
	_exit(0);
}

/* Another process, as memscoped sees its targets: symbolizing itself,
 * this test would also see its own libelf mappings of the libraries. */
static void test_dlopen_refresh(void **state)
{
	struct sym_proc *manual = NULL, *automatic = NULL;
	struct sym_frame f;
	uint64_t vdso = getauxval(AT_SYSINFO_EHDR), fn = 0;
	int to[2], from[2], status;
	pid_t pid;

	assert_int_equal(pipe(to), 0);
	assert_int_equal(pipe(from), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(to[1]);
		close(from[0]);
		dlopen_child(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	assert_int_equal(sym__open(pid, &manual), 0);
	assert_int_equal(sym__open(pid, &automatic), 0);

	/* The vDSO (where fork left it) is read from memory. */
	if (vdso) {
		assert_int_equal(sym__frame(manual, vdso + 16, false, &f), 0);
		assert_non_null(f.module);
		assert_string_equal(f.module, "[vdso]");
	}

	/* A library mapped after sym__open: found after sym__refresh, or by
	 * the automatic refresh on a miss. */
	assert_int_equal(write(to[1], "g", 1), 1);
	assert_int_equal(read(from[0], &fn, sizeof(fn)), (ssize_t)sizeof(fn));
	assert_true(fn != 0);
	assert_int_equal(sym__refresh(manual), 0);
	assert_int_equal(sym__frame(manual, fn, false, &f), 0);
	print_frame(0, &f);
	assert_non_null(f.module);
	assert_string_equal(f.module, "libresolv.so.2");
	assert_non_null(f.function);
	assert_non_null(strstr(f.function, "b64_ntop"));

	assert_int_equal(sym__frame(automatic, fn, false, &f), 0);
	assert_non_null(f.module);
	assert_string_equal(f.module, "libresolv.so.2");
	/* Nothing changed: a no-op. */
	assert_int_equal(sym__refresh(automatic), 0);
	assert_int_equal(sym__refresh(NULL), -EINVAL);

	close(to[1]);
	close(from[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sym__close(manual);
	sym__close(automatic);
}

static void expect_demangle(const char *mangled, const char *want)
{
	char buf[1024];
	int n = sym__demangle(mangled, buf, sizeof(buf));

	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(buf, want);
}

static void test_demangle(void **state)
{
	char small[8];

	/* Rust legacy: the hash goes, with or without LLVM's suffix. */
	expect_demangle("_ZN5tokio7runtime4task3raw4poll17h5f62f87c15c35885E",
			"tokio::runtime::task::raw::poll");
	expect_demangle("_ZN5tokio7runtime4task3raw4poll17h2f5a90674daa645aE"
			".llvm.2452139798628056596",
			"tokio::runtime::task::raw::poll");
	expect_demangle("_ZN10tk_buffers4main28_$u7b$$u7b$closure$u7d$$u7d$"
			"17h48dc1e15437b5ba6E",
			"tk_buffers::main::{{closure}}");
	/* Rust v0 (rustc -C symbol-mangling-version=v0). */
	expect_demangle("_RNvNtCs1234_7mycrate3foo3bar", "mycrate::foo::bar");
	expect_demangle("_RINvNtCsjrHSEGnQ3l9_3std2rt15handle_rt_paniciEB4_",
			"std::rt::handle_rt_panic::<isize>");
	expect_demangle(
		"_RNvXs_NtNtNtNtCsjrHSEGnQ3l9_3std12backtrace_rs9"
		"symbolize5gimli19parse_running_mmapsNtB4_9MapsEntry"
		"NtNtNtCsgEmfK2I1SDS_4core3str6traits7FromStr8from_str",
		"<std::backtrace_rs::symbolize::gimli::parse_running_mmaps"
		"::MapsEntry as core::str::traits::FromStr>::from_str");
	/* C++. */
	expect_demangle(
		"_ZNSt6vectorIiSaIiEE9push_backERKi",
		"std::vector<int, std::allocator<int> >::push_back(int const&)");
	expect_demangle("_Z3fooi.isra.0", "foo(int) [clone .isra.0]");
	/* Not mangled, or not validly: as is. */
	expect_demangle("malloc", "malloc");
	expect_demangle("__libc_start_main@@GLIBC_2.34", "__libc_start_main");
	expect_demangle(
		"_ZNSt6vectorIiSaIiEE9push_backERKi@GLIBCXX_3.4",
		"std::vector<int, std::allocator<int> >::push_back(int const&)");
	expect_demangle("@weird", "@weird");
	expect_demangle("_ZN3foo", "_ZN3foo");
	expect_demangle("_R", "_R");
	expect_demangle("", "");
	/* Truncation. */
	assert_int_equal(sym__demangle("_ZN5tokio7runtime4task3raw4poll"
				       "17h5f62f87c15c35885E",
				       small, sizeof(small)),
			 7);
	assert_string_equal(small, "tokio::");
	assert_int_equal(sym__demangle(NULL, small, sizeof(small)), -EINVAL);
	assert_int_equal(sym__demangle("x", small, 0), -EINVAL);
}

static uint64_t rng_state;

/* xorshift64*: the same garbage on every run. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void test_garbage(void **state)
{
	static uint8_t stack[STACK_COPY];
	struct sym_proc *p = NULL;
	struct sym_regs r;
	uint64_t pcs[MAX_PCS], self_pc = (uint64_t)(uintptr_t)&test_garbage;
	uint64_t libc_pc = (uint64_t)(uintptr_t)&memmove;
	int n, max_seen = 0;

	rng_state = 0x5eed;
	assert_int_equal(sym__open(getpid(), &p), 0);
	for (int iter = 0; iter < 3000; iter++) {
		size_t len = rng() % (STACK_COPY + 1);
		uint64_t base = 0x7ffc00000000ull + (rng() & 0xfffffff0ull);

		for (size_t i = 0; i + 8 <= sizeof(stack); i += 8) {
			uint64_t w = rng();

			/* Some words look like stack or code addresses, so
			 * chains do get followed for a while. */
			switch (w % 4) {
			case 0:
				w = base + (w >> 8) % STACK_COPY;
				break;
			case 1:
				w = self_pc + (w >> 8) % 4096;
				break;
			case 2:
				w = libc_pc + (w >> 8) % 65536;
				break;
			}
			memcpy(stack + i, &w, 8);
		}
		r = (struct sym_regs){
			.ip = iter % 3 == 0 ? rng() :
			      iter % 3 == 1 ? self_pc + rng() % 512 :
					      libc_pc + rng() % 4096,
			.sp = iter % 7 == 0 ? rng() : base,
			.bp = base + rng() % STACK_COPY,
			.bx = rng(),
			.r12 = rng(),
			.r13 = rng(),
			.r14 = rng(),
			.r15 = rng(),
		};
		n = sym__unwind(p, &r, stack, len, pcs, MAX_PCS);
		assert_true(n >= 1 && n <= MAX_PCS);
		assert_int_equal(pcs[0], r.ip);
		if (n > max_seen)
			max_seen = n;
		for (int i = 0; i < n; i++) {
			struct sym_frame f;
			int rc = sym__frame(p, pcs[i], i > 0, &f);

			assert_true(rc == 0 || rc == -ENOENT);
		}
	}
	print_message("  deepest garbage unwind: %d frames\n", max_seen);

	/* A frame-pointer loop: rbp points at itself. The ip has no CFI, so
	 * the rbp rule is tried, and the stack pointer stops going up. */
	memset(stack, 0, sizeof(stack));
	r = (struct sym_regs){ .ip = 0x1000, .sp = 0x7ffd00000000ull };
	r.bp = r.sp + 64;
	memcpy(stack + 64, &r.bp, 8);
	memcpy(stack + 72, &libc_pc, 8);
	n = sym__unwind(p, &r, stack, sizeof(stack), pcs, MAX_PCS);
	assert_true(n >= 1 && n <= 3);

	/* An rbp chain that climbs but leaves the copy: cut at the edge. */
	for (size_t off = 0; off + 16 <= sizeof(stack); off += 16) {
		uint64_t next = r.sp + off + 16, ret = 0x2000 + off;

		memcpy(stack + off, &next, 8);
		memcpy(stack + off + 8, &ret, 8);
	}
	r.bp = r.sp;
	n = sym__unwind(p, &r, stack, 256, pcs, MAX_PCS);
	assert_true(n >= 2 && n <= 256 / 16 + 1);
	n = sym__unwind(p, &r, stack, sizeof(stack), pcs, 10);
	assert_int_equal(n, 10);

	assert_int_equal(sym__unwind(NULL, &r, stack, 8, pcs, 4), -EINVAL);
	assert_int_equal(sym__unwind(p, NULL, stack, 8, pcs, 4), -EINVAL);
	assert_int_equal(sym__unwind(p, &r, NULL, 8, pcs, 4), -EINVAL);
	sym__close(p);
}

static bool runtime(const char *fn, const char *module)
{
	struct sym_frame f = { .pc = 1, .function = fn, .module = module };

	return sym__is_runtime_frame(&f);
}

static void test_runtime_frames(void **state)
{
	assert_true(runtime("tokio::runtime::task::raw::poll", "tk_buffers"));
	assert_true(runtime("core::ops::function::FnOnce::call_once", NULL));
	assert_true(runtime("alloc::raw_vec::RawVec<T,A>::allocate_in", NULL));
	assert_true(runtime("std::rt::lang_start_internal", NULL));
	assert_true(
		runtime("futures_util::future::FutureExt::poll_unpin", NULL));
	assert_true(runtime("hyper::proto::h1::dispatch::Dispatcher::poll_loop",
			    NULL));
	assert_true(
		runtime("<tokio::runtime::blocking::task::BlockingTask<T> as "
			"core::future::future::Future>::poll",
			NULL));
	assert_true(runtime("<core::pin::Pin<P> as "
			    "core::future::future::Future>::poll",
			    NULL));
	assert_true(runtime("<&mut F as core::future::future::Future>::poll",
			    NULL));
	assert_true(runtime("<F as core::future::into_future::IntoFuture>"
			    "::into_future",
			    NULL));
	assert_true(runtime("<alloc::raw_vec::RawVecInner<_>>::reserve", NULL));
	assert_true(runtime("<[u8]>::to_vec", NULL));
	assert_true(runtime("__rust_alloc", "tk_buffers"));
	assert_true(runtime("__rdl_alloc", "tk_buffers"));
	assert_true(runtime("malloc", "libc.so.6"));
	assert_true(runtime("__libc_malloc", NULL));
	assert_true(runtime("malloc", NULL));
	assert_true(runtime(NULL, "libc.so.6"));
	assert_true(runtime("crt_spawn", "crt_target"));
	assert_true(runtime("std::vector<int, std::allocator<int> >"
			    "::push_back(int const&)",
			    NULL));

	assert_false(runtime("tk_buffers::main::{{closure}}", "tk_buffers"));
	assert_false(runtime("<myapp::Conn as "
			     "core::future::future::Future>::poll",
			     NULL));
	assert_false(runtime("<myapp::Conn>::new", NULL));
	assert_false(runtime("<u32 as myapp::Codec>::encode", NULL));
	assert_false(runtime("main", "alloc_family"));
	assert_false(runtime("worker_loop", "crt_target"));
	assert_false(runtime("mallocx_wrapper", NULL));
	assert_false(runtime("tokio_like::spawn", NULL));
	assert_false(runtime(NULL, NULL));
	assert_false(sym__is_runtime_frame(NULL));
}

/* In the child: something to find by name. */
__attribute__((noinline)) int sym_test_child_marker(int x)
{
	return x * 3 + sink;
}

static uint64_t exe_base(pid_t pid, const char *path_prefix)
{
	char maps[64], line[PATH_MAX + 128];
	uint64_t start, end, off;
	FILE *f;
	int pos = 0;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line,
			   "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %*s %*s %n",
			   &start, &end, &off, &pos) >= 3 &&
		    pos > 0 && off == 0 &&
		    !strncmp(line + pos, path_prefix, strlen(path_prefix))) {
			fclose(f);
			return start;
		}
	}
	fclose(f);
	return 0;
}

static void test_deleted_binary(void **state)
{
	char tmp[] = "/tmp/memscope-sym-XXXXXX", exe[PATH_MAX], link[64];
	char self[PATH_MAX];
	struct sym_proc *p = NULL;
	struct sym_frame f;
	uint64_t self_base, child_base, addr;
	int fd, in, pipefd[2];
	ssize_t n;
	pid_t pid;

	/* A copy of this test binary, started, then deleted. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	fd = mkstemp(tmp);
	assert_true(fd >= 0);
	in = open(self, O_RDONLY);
	assert_true(in >= 0);
	for (;;) {
		char buf[65536];
		ssize_t got = read(in, buf, sizeof(buf));

		assert_true(got >= 0);
		if (got == 0)
			break;
		assert_int_equal(write(fd, buf, (size_t)got), got);
	}
	close(in);
	assert_int_equal(fchmod(fd, 0700), 0);
	close(fd);

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[0], 0);
		close(pipefd[0]);
		close(pipefd[1]);
		execl(tmp, tmp, CHILD_FLAG, (char *)NULL);
		_exit(127);
	}
	close(pipefd[0]);

	/* Wait until the exec happened and the child reached main. */
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	for (int i = 0; i < 500; i++) {
		n = readlink(link, exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			if (!strcmp(exe, tmp) && exe_base(pid, tmp))
				break;
		}
		usleep(10000);
	}
	usleep(100000);
	assert_int_equal(unlink(tmp), 0);

	self_base = exe_base(getpid(), self);
	child_base = exe_base(pid, tmp);
	assert_true(self_base && child_base);
	addr = (uint64_t)(uintptr_t)&sym_test_child_marker - self_base +
	       child_base;

	assert_int_equal(sym__open(pid, &p), 0);
	assert_int_equal(sym__frame(p, addr + 1, false, &f), 0);
	print_frame(0, &f);
	assert_non_null(f.module);
	assert_string_equal(f.module, strrchr(tmp, '/') + 1);
	/* The symbol table and the line table are not in the loaded
	 * segments: the deleted file itself was read. */
	assert_non_null(f.function);
	assert_string_equal(f.function, "sym_test_child_marker");
	assert_true(ends_with(f.file, "test_sym.c"));
	assert_true(f.line > 0);
	sym__close(p);

	close(pipefd[1]);
	assert_int_equal(waitpid(pid, NULL, 0), pid);

	assert_int_equal(sym__open(pid, &p), -ESRCH);
	assert_int_equal(sym__open(0, &p), -EINVAL);
}

/* The build id of the file at path, in hex, or "" without one. */
static void file_build_id(const char *path, char *hex)
{
	uint8_t id[DEBUGFILE_ID_MAX];
	struct elf_file *ef;
	size_t n;

	hex[0] = '\0';
	assert_int_equal(elf__open(path, &ef), 0);
	n = elf__build_id(ef, id, sizeof(id));
	elf__close(ef);
	if (n)
		debugfile__hex(id, n, hex);
}

/* A frame says which file (path, build id) and where in it (addr); the
 * file read by itself, long after, gives the same names. */
static void test_file_offline(void **state)
{
	char self[PATH_MAX], hex[2 * DEBUGFILE_ID_MAX + 1];
	struct sym_proc *p = NULL;
	struct sym_file *sf = NULL;
	struct sym_frame f, g;
	uint64_t base, pc;
	void *h, *fn;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	base = exe_base(getpid(), self);
	assert_true(base);
	assert_int_equal(sym__open(getpid(), &p), 0);

	/* A return address into this binary: addr is the byte before it,
	 * as an ELF address (PIE: the first segment is at 0). */
	pc = (uint64_t)(uintptr_t)&sym_test_child_marker + 4;
	assert_int_equal(sym__frame(p, pc, true, &f), 0);
	print_frame(0, &f);
	assert_string_equal(f.function, "sym_test_child_marker");
	assert_non_null(f.path);
	assert_string_equal(f.path, self);
	assert_int_equal(f.addr, pc - 1 - base);
	file_build_id(self, hex);
	if (hex[0])
		assert_string_equal(f.build_id, hex);
	else
		assert_null(f.build_id);
	/* Not a return address: the pc itself. */
	assert_int_equal(sym__frame(p, pc, false, &g), 0);
	assert_int_equal(g.addr, pc - base);

	assert_int_equal(sym__file_open(f.path, &sf), 0);
	assert_int_equal(sym__file_frame(sf, f.addr, &g), 0);
	assert_string_equal(g.function, f.function);
	assert_non_null(g.file);
	assert_string_equal(g.file, f.file);
	assert_int_equal(g.line, f.line);
	assert_string_equal(g.module, "test_sym");
	assert_int_equal(g.addr, f.addr);
	/* Outside every function and line. */
	assert_int_equal(sym__file_frame(sf, 1, &g), -ENOENT);
	assert_null(g.function);
	sym__file_close(sf);

	/* libc: its build id, and its dynamic symbols read from the file. */
	h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(h);
	fn = dlsym(h, "malloc");
	assert_int_equal(sym__frame(p, (uint64_t)(uintptr_t)fn, false, &f), 0);
	assert_true(ends_with(f.path, "/libc.so.6"));
	file_build_id(f.path, hex);
	if (hex[0])
		assert_string_equal(f.build_id, hex);
	assert_int_equal(sym__file_open(f.path, &sf), 0);
	assert_int_equal(sym__file_frame(sf, f.addr, &g), 0);
	assert_string_equal(g.function, f.function);
	sym__file_close(sf);
	dlclose(h);
	sym__close(p);

	/* What is not a regular ELF file is refused, never opened. */
	assert_int_equal(sym__file_open("/nonexistent/memscope", &sf), -ENOENT);
	assert_int_equal(sym__file_open("/dev/null", &sf), -ENOEXEC);
	assert_int_equal(sym__file_open("/proc/self/status", &sf), -ENOEXEC);
	assert_null(sf);
	assert_int_equal(sym__file_frame(NULL, 0, &g), -EINVAL);
	sym__file_close(NULL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unwind_self),
		cmocka_unit_test(test_libc),
		cmocka_unit_test(test_dlopen_refresh),
		cmocka_unit_test(test_demangle),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_runtime_frames),
		cmocka_unit_test(test_deleted_binary),
		cmocka_unit_test(test_file_offline),
	};

	if (argc > 1 && !strcmp(argv[1], CHILD_FLAG)) {
		char c;

		/* Parked until the parent closes the pipe. */
		while (read(0, &c, 1) > 0)
			;
		return sym_test_child_marker(1) > 0 ? 0 : 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
