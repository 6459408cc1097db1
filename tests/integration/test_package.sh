#!/bin/bash
# The Debian package from this build (cpack -G DEB into $T), unpacked into a
# scratch root with dpkg -x: the installed programs print the project's
# version (project(VERSION) in CMakeLists.txt) and run, the man pages are
# found by man, the unit names the installed memscoped, markers.h is there
# and pkg-config finds it through memscope-markers.pc; the package's
# Depends come from dpkg-shlibdeps.
. "$(dirname "$0")/lib.sh"

# cpack's DEB generator runs dpkg-shlibdeps (dpkg-dev) and file on the
# programs: tools/setup-deps.sh installs them.
for tool in cpack dpkg-deb dpkg-shlibdeps file; do
	command -v $tool >/dev/null ||
		fail "$tool not installed (tools/setup-deps.sh installs it)"
done
[ -f "$MS_BUILD/CPackConfig.cmake" ] || fail "no CPackConfig.cmake in $MS_BUILD"

VERSION=$(sed -n 's/^project(memscope VERSION \([0-9][0-9.]*\).*/\1/p' "$MS_SRC/CMakeLists.txt")
[ -n "$VERSION" ] || fail "no project(memscope VERSION ...) in $MS_SRC/CMakeLists.txt"

# ---- the package ----------------------------------------------------------
(cd "$MS_BUILD" && cpack -G DEB -B "$T/pkg" --config CPackConfig.cmake) \
	>"$T/cpack.out" 2>"$T/cpack.err" || fail "cpack -G DEB failed"
DEB=$T/pkg/memscope_${VERSION}_amd64.deb
[ -f "$DEB" ] || fail "no $DEB (made: $(ls "$T/pkg"))"
pass "$(basename "$DEB"), $(stat -c %s "$DEB") bytes"

expect_eq "Package" "$(dpkg-deb -f "$DEB" Package)" memscope
expect_eq "Version" "$(dpkg-deb -f "$DEB" Version)" "$VERSION"
depends=$(dpkg-deb -f "$DEB" Depends)
for lib in libc6 libbpf1 libelf1 libdw1 libjson-c5 libncursesw6 libtinfo6 zlib1g libprotobuf-c1; do
	[[ ", $depends," == *", $lib "* ]] || fail "Depends lacks $lib: $depends"
done
pass "Depends: $depends"
# Everything under /usr, nothing of the build tree.
outside=$(dpkg-deb -c "$DEB" | awk '{print $6}' | grep -v '^\./usr/' | grep -v '^\./$' || true)
[ -z "$outside" ] || fail "files outside /usr: $outside"

ROOT=$T/root
dpkg-deb -x "$DEB" "$ROOT"
for f in usr/bin/memscoped usr/bin/memscope; do
	[ -x "$ROOT/$f" ] || fail "$f not installed"
done
for f in usr/lib/systemd/system/memscoped.service usr/include/memscope/markers.h \
	usr/share/pkgconfig/memscope-markers.pc usr/share/man/man8/memscoped.8.gz \
	usr/share/man/man1/memscope.1.gz usr/share/doc/memscope/snapshot.md; do
	[ -f "$ROOT/$f" ] || fail "$f not installed"
done
if grep -rl -e "$MS_BUILD" -e "$T" "$ROOT/usr/lib" "$ROOT/usr/share" >"$T/leak.out"; then
	fail "build or scratch paths in installed files: $(cat "$T/leak.out")"
fi
pass "files in place"

# ---- the programs -----------------------------------------------------------
expect_eq "memscoped --version" "$("$ROOT/usr/bin/memscoped" --version)" "memscoped $VERSION"
expect_eq "memscope --version" "$("$ROOT/usr/bin/memscope" --version)" "memscope $VERSION"
pass "both print version $VERSION"
# The installed daemon runs (its libraries are the Depends), and its
# snapshot's generator carries the same version.
"$ROOT/usr/bin/memscoped" --no-top -q -s "$T/true.json" -- /bin/true \
	>"$T/run.out" 2>"$T/run.err" || fail "installed memscoped failed"
expect_eq "generator" "$(jqv "$T/true.json" .generator)" "memscoped $VERSION"
"$ROOT/usr/bin/memscope" report "$T/true.json" >"$T/report.out" 2>"$T/report.err" ||
	fail "installed memscope report failed"
pass "installed memscoped and memscope run; generator 'memscoped $VERSION'"

# ---- the unit -----------------------------------------------------------------
unit=$ROOT/usr/lib/systemd/system/memscoped.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
expect_eq "ExecStart" "${exec_start%% *}" /usr/bin/memscoped
grep -q '^Documentation=file:/usr/share/doc/memscope/deploy.md$' "$unit" ||
	fail "Documentation= is not the packaged guide"
pass "unit: ExecStart=$exec_start"

# ---- man pages -----------------------------------------------------------------
if command -v man >/dev/null; then
	expect_eq "man -w memscoped" "$(MANPATH=$ROOT/usr/share/man man -w memscoped)" \
		"$ROOT/usr/share/man/man8/memscoped.8.gz"
	expect_eq "man -w memscope" "$(MANPATH=$ROOT/usr/share/man man -w memscope)" \
		"$ROOT/usr/share/man/man1/memscope.1.gz"
	# Rendered without a groff warning, and saying what the help says.
	MANPATH=$ROOT/usr/share/man MANWIDTH=80 man --warnings memscoped \
		>"$T/man.out" 2>"$T/man.err" || fail "man memscoped failed"
	[ ! -s "$T/man.err" ] || fail "man memscoped warns: $(cat "$T/man.err")"
	for opt in $("$ROOT/usr/bin/memscoped" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
		grep -q -- "$opt" "$T/man.out" || fail "memscoped(8) does not document $opt"
	done
	grep -q "memscope $VERSION" "$T/man.out" || fail "memscoped(8) is not of version $VERSION"
	pass "man -w finds memscoped(8) and memscope(1); memscoped(8) documents every option of --help"
else
	echo "skipped: man pages not read (man-db not installed)"
fi

# ---- markers.h and pkg-config -------------------------------------------------
if command -v pkg-config >/dev/null; then
	export PKG_CONFIG_PATH=$ROOT/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$ROOT
	expect_eq "pkg-config --modversion" "$(pkg-config --modversion memscope-markers)" "$VERSION"
	cflags=$(pkg-config --cflags memscope-markers)
	expect_eq "pkg-config --cflags" "$(echo $cflags)" "-I$ROOT/usr/include"
	expect_eq "pkg-config --libs" "$(echo $(pkg-config --libs memscope-markers))" ""
	if command -v cc >/dev/null; then
		printf '#include <memscope/markers.h>\nint main(void) { MEMSCOPE_TASK_COMPLETE(1); return 0; }\n' >"$T/m.c"
		# shellcheck disable=SC2086 # the flags are words
		cc $cflags -c "$T/m.c" -o "$T/m.o" 2>"$T/cc.err" ||
			fail "a program using the installed markers.h does not build"
	fi
	pass "pkg-config: memscope-markers $VERSION, $cflags"
else
	echo "skipped: pkg-config not installed"
fi
echo "PASS"
