// SPDX-License-Identifier: MIT
/* Symbol names: demangling (libiberty) and the runtime/user split used to
 * fold async-runtime frames. No libdw here: pure string work. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "sym/sym.h"

#define DMGL_OPTS (DMGL_PARAMS | DMGL_ANSI)

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Rust legacy names end in "::h" + 16 hex digits, a hash of the crate and
 * instance; libiberty drops it, but a name that only the C++ demangler
 * accepted (a legacy symbol libiberty found malformed) still carries it. */
static size_t strip_rust_hash(const char *s, size_t len)
{
	const char *h;

	if (len < 19)
		return len;
	h = s + len - 19;
	if (memcmp(h, "::h", 3))
		return len;
	for (int i = 3; i < 19; i++)
		if (!is_hex(h[i]))
			return len;
	return len - 19;
}

int sym__demangle(const char *name, char *buf, size_t size)
{
	char *d = NULL, *plain = NULL;
	const char *s, *at;
	size_t len;

	if (!name || !buf || !size)
		return -EINVAL;
	/* Symbol versions (__libc_start_main@@GLIBC_2.34) are not part of
	 * the function's name. */
	at = strchr(name, '@');
	if (at && at != name) {
		plain = strndup(name, (size_t)(at - name));
		if (plain)
			name = plain;
	}
	/* Legacy Rust names are valid C++ names too ("_ZN...17h<hash>E"), so
	 * Rust goes first: it only accepts names with the hash. */
	if (!strncmp(name, "_ZN", 3) || !strncmp(name, "_R", 2))
		d = rust_demangle(name, DMGL_OPTS);
	if (!d && !strncmp(name, "_Z", 2))
		d = cplus_demangle_v3(name, DMGL_OPTS);
	s = d ? d : name;
	len = strlen(s);
	if (d)
		len = strip_rust_hash(s, len);
	if (len >= size)
		len = size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	free(d);
	free(plain);
	return (int)len;
}

/* Crates and namespaces whose frames belong to the runtime, the standard
 * libraries or the allocator glue, never to the user's code. */
static const char *const runtime_paths[] = {
	"tokio::",
	"tokio_util::",
	"tokio_stream::",
	"core::",
	"alloc::",
	"std::",
	"__gnu_cxx::",
	"futures::",
	"futures_util::",
	"futures_core::",
	"futures_task::",
	"futures_executor::",
	"futures_channel::",
	"hyper::",
	"h2::",
	"mio::",
	"parking_lot::",
	"parking_lot_core::",
	"__rustc::",
};

/* Symbol prefixes: Rust's allocator shims (__rust_alloc, __rdl_alloc,
 * __rg_alloc), glibc internals, and the memscope crt runtime. */
static const char *const runtime_prefixes[] = {
	"__rust_",    "__rdl_",	 "__rg_", "rust_begin_unwind",
	"rust_panic", "__libc_", "__GI_", "_int_",
	"_dl_",	      "crt_",
};

static const char *const runtime_names[] = {
	"malloc",	"calloc", "realloc",	    "reallocarray",
	"free",		"cfree",  "posix_memalign", "aligned_alloc",
	"memalign",	"valloc", "pvalloc",	    "_start",
	"start_thread", "clone",  "clone3",	    "__clone",
};

/* glibc, the dynamic loader and the C++/unwinder support libraries. */
static const char *const runtime_modules[] = {
	"libc.so.6",	  "ld-linux-x86-64.so.2", "libpthread.so.0",
	"libstdc++.so.6", "libgcc_s.so.1",
};

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static bool is_runtime_path(const char *s)
{
	for (size_t i = 0; i < NELEMS(runtime_paths); i++)
		if (has_prefix(s, runtime_paths[i]))
			return true;
	return false;
}

/* Skips reference, pointer and trait-object sigils of a Rust self type. */
static const char *skip_sigils(const char *s)
{
	static const char *const sigils[] = {
		"&mut ", "&", "*const ", "*mut ", "dyn ", "impl ",
	};
	bool again = true;

	while (again) {
		again = false;
		for (size_t i = 0; i < NELEMS(sigils); i++) {
			if (has_prefix(s, sigils[i])) {
				s += strlen(sigils[i]);
				again = true;
			}
		}
	}
	return s;
}

/* "<Self as Trait>::f" or "<Self>::f": Self decides. When Self is not a
 * path (a generic parameter, a primitive, a slice), the impl is a blanket
 * or primitive impl, and those live in the crate of the trait (or core). */
static bool is_runtime_impl(const char *s)
{
	const char *self = skip_sigils(s + 1), *p;
	bool path = false;
	int depth = 0;

	if (is_runtime_path(self))
		return true;
	for (p = self; *p; p++) {
		if (*p == '<' || *p == '[' || *p == '(') {
			depth++;
		} else if (*p == '>' || *p == ']' || *p == ')') {
			/* "<[u8]>::len": inherent impls on non-paths are core's. */
			if (depth-- == 0)
				return !path;
		} else if (depth == 0 && p[0] == ':' && p[1] == ':') {
			path = true;
		} else if (depth == 0 && !strncmp(p, " as ", 4)) {
			return !path && is_runtime_path(skip_sigils(p + 4));
		}
	}
	return false;
}

bool sym__is_runtime_frame(const struct sym_frame *f)
{
	const char *fn;

	if (!f)
		return false;
	if (f->module) {
		for (size_t i = 0; i < NELEMS(runtime_modules); i++)
			if (!strcmp(f->module, runtime_modules[i]))
				return true;
	}
	fn = f->function;
	if (!fn)
		return false;
	if (fn[0] == '<')
		return is_runtime_impl(fn);
	if (is_runtime_path(fn))
		return true;
	for (size_t i = 0; i < NELEMS(runtime_prefixes); i++)
		if (has_prefix(fn, runtime_prefixes[i]))
			return true;
	for (size_t i = 0; i < NELEMS(runtime_names); i++)
		if (!strcmp(fn, runtime_names[i]))
			return true;
	return false;
}
