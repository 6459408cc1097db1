#!/bin/bash
# Rust programs whose #[global_allocator] is jemalloc linked statically
# with jemalloc-sys's _rjem_ prefix (tools/alloc-rust, issue 14):
# memscoped finds the allocator in the executable by its symbols, probes
# its _rjem_* entry points and not the __rust_* shim above them, and says
# so at attach and in the snapshot's "allocators".
# * ra_jemalloc: totals(full) - totals(--baseline) == its TRUTH, exactly,
#   in launch and --pid mode;
# * ra_tokio_jemalloc: each of the N tasks holds its B-byte buffer at READY
#   (N x B live in the tasks), all freed at the end;
# * ra_custom (a counting wrapper over glibc as #[global_allocator]): its
#   __rust_* shim is probed, and full - baseline == TRUTH all the same;
# * ra_jemalloc.stripped: one line at attach says the allocator cannot be
#   probed; the snapshot names it as not probed. With a separate debug
#   file, the stripped copy is exact again.
# The targets are built here (tools/alloc-rust/build.sh, offline, Debian's
# crates); if they cannot be, the test is skipped (77), never passed.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.sh"
. "$(dirname "$0")/async_lib.sh"

RA=$MS_SRC/tools/alloc-rust/target/release
if ! bash "$MS_SRC/tools/alloc-rust/build.sh" >"$T/build.log" 2>&1; then
	tail -n 5 "$T/build.log"
	echo "SKIP: tools/alloc-rust does not build (cargo and librust-jemalloc-sys-dev: tools/setup-deps.sh)"
	exit 77
fi
for b in ra_jemalloc ra_tokio_jemalloc ra_jemalloc.stripped ra_custom; do
	[ -x "$RA/$b" ] || fail "$RA/$b missing after tools/alloc-rust/build.sh"
done

# 0 in both runs: no call left unmatched, no address allocated twice.
# (untracked_frees is not compared: both runs have some 20 frees of blocks
# never seen allocated, varying by one between runs, the same with and
# without the program's work; where they come from is not established.)
STRICT="stale_allocs unmatched_calls"
STATIC="jemalloc (static, _rjem_) in $RA"

# check_static WHAT ERR JSON BIN: the attach line and the snapshot name the
# static jemalloc, and no warning says an entry point is missing.
check_static() {
	grep -qF "allocator: $STATIC/$4" "$2" ||
		fail "$1: no 'allocator: $STATIC/$4' line"
	expect_eq "$1: snapshot allocators" \
		"$(jq -r --arg a "$STATIC/$4" '.allocators | index($a) != null' "$3")" true
	if grep -q "not found\|none of its" "$2"; then
		fail "$1: a warning about missing entry points"
	fi
	pass "$1: the allocator is the static jemalloc (_rjem_)"
}

launch full "$RA/ra_jemalloc" --threads 4 --iters 200
launch base "$RA/ra_jemalloc" --threads 4 --iters 200 --baseline
check_static "ra_jemalloc" "$T/full.err" "$T/full.json" ra_jemalloc
check_delta "ra_jemalloc, launch, 4 threads" "$T/full.json" "$T/base.json" \
	"$T/full.truth" $STRICT

attach_run "$RA/ra_jemalloc" pfull --threads 4 --iters 200
attach_run "$RA/ra_jemalloc" pbase --threads 4 --iters 200 --baseline
check_static "ra_jemalloc --pid" "$T/pfull.err" "$T/pfull.json" ra_jemalloc
check_delta "ra_jemalloc, --pid, 4 threads" "$T/pfull.json" "$T/pbase.json" \
	"$T/pfull.truth" $STRICT

# ---- a #[global_allocator] memscoped does not know --------------------------
# ra_custom's wrapper over glibc: its __rust_* shim is probed (std's
# format! and str::repeat reach it, some 580 calls a run), glibc's malloc
# below it too, and each allocation still counts once.
launch cfull "$RA/ra_custom"
launch cbase "$RA/ra_custom" --baseline
grep -qF "allocator: Rust global allocator (__rust_*) in $RA/ra_custom" \
	"$T/cfull.err" || fail "ra_custom: the shim is not said to be probed"
check_delta "ra_custom, launch" "$T/cfull.json" "$T/cbase.json" \
	"$T/cfull.truth" $STRICT untracked_frees

# ---- tokio: per-task figures ----------------------------------------------
N=8
B=100000
for mode in launch pid; do
	name=tokio-$mode
	session "$name" "$mode" -- "$RA/ra_tokio_jemalloc" --rt mt \
		--tasks "$N" --size "$B"
	check "$T/$name.truth" "$name: TRUTH" '.tasks' "$N"
	f=$T/$name.ready.json
	check "$f" "$name@READY: the snapshot names the static jemalloc" \
		'.allocators | map(select(startswith("jemalloc (static, _rjem_) in "))) | length' 1
	check "$f" "$name@READY: no lost events" '.totals.lost_events' 0
	check "$f" "$name@READY: $N user tasks, pending" \
		"$USER | map(select(.state == \"pending\")) | length" "$N"
	check "$f" "$name@READY: each task holds exactly its $B-byte buffer" \
		"$USER | map(select(.live_bytes == $B and .alloc_count == 1)) | length" "$N"
	check "$f" "$name@READY: the tasks hold $N x $B bytes" \
		"$USER | map(.live_bytes) | add" $((N * B))
	f=$T/$name.end.json
	check "$f" "$name@end: the $N tasks completed" \
		"$USER | map(select(.state == \"completed\")) | length" "$N"
	check "$f" "$name@end: the buffers were freed" \
		"$USER | map(.live_bytes) | add" 0
done

# ---- stripped: said, not silently near zero -------------------------------
launch stripped "$RA/ra_jemalloc.stripped" --threads 1 --iters 10
expect_eq "stripped: one line says why" \
	"$(grep -c 'jemalloc (_rjem_) is linked into the executable, which is stripped, with no debug file (--debug-dir): no symbol for its entry points (_rjem_malloc, _rjem_mallocx, _rjem_sdallocx, _rjem_free, ...), its allocations cannot be probed, heap figures cover only glibc' "$T/stripped.err")" 1
check "$T/stripped.json" "stripped: the snapshot names jemalloc as not probed" \
	'.allocators | map(select(startswith("jemalloc (static, _rjem_, stripped: not probed) in "))) | length' 1
check "$T/stripped.json" "stripped: the warning is in the snapshot" \
	'.warnings | map(select(test("its allocations cannot be probed"))) | length' 1
# ---- stripped, with a separate debug file: exact again ----------------------
# The symbols come from the debug file (.gnu_debuglink next to the binary),
# code and offsets from the stripped executable.
objcopy --only-keep-debug "$RA/ra_jemalloc" "$T/ra_jemalloc.debug"
strip --strip-all -o "$T/ra_dbg" "$RA/ra_jemalloc"
(cd "$T" && objcopy --add-gnu-debuglink=ra_jemalloc.debug ra_dbg)
launch dfull "$T/ra_dbg" --threads 4 --iters 200
launch dbase "$T/ra_dbg" --threads 4 --iters 200 --baseline
grep -qF "symbols are read from $T/ra_jemalloc.debug" "$T/dfull.err" ||
	fail "debug file: not said to be used"
grep -qF "allocator: jemalloc (static, _rjem_) in $T/ra_dbg" "$T/dfull.err" ||
	fail "debug file: the static jemalloc is not named"
check_delta "ra_jemalloc stripped + debug file, launch" "$T/dfull.json" \
	"$T/dbase.json" "$T/dfull.truth" $STRICT
echo PASS
