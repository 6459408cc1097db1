#!/bin/bash
# Allocator libraries that take malloc's place (issue 14): a program linked
# with -ljemalloc, -lmimalloc or -ltcmalloc is probed in that library, not
# in libc, with the library's own API and C++ operator new/delete. The
# totals are exact: totals(full run) - totals(baseline run) == the target's
# ground truth (tools/targets/README.md), in launch and --pid mode for each
# library; the attach line and the snapshot's "allocators" name it. And
# jemalloc and tcmalloc linked statically into the executable
# (alloc_jemalloc_static, alloc_tcmalloc_static).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.sh"

# Also 0 with an allocator library: nothing freed that was not seen
# allocated, no address allocated twice, no call left unmatched.
STRICT="untracked_frees stale_allocs unmatched_calls"


check_named() { # what name err json
	grep -q "allocator: $2 (/" "$3" || fail "$1: no 'allocator: $2' line"
	case $(jqv "$4" '.allocators[0]') in
	"$2 (/"*) ;;
	*) fail "$1: snapshot allocators: $(jqv "$4" -c .allocators)" ;;
	esac
	pass "$1: the allocator is $2"
}


ran=0
for lib in jemalloc mimalloc tcmalloc; do
	prog=alloc_$lib
	if [ ! -x "$TARGETS/$prog" ]; then
		echo "$prog not built (lib$lib not installed): not checked"
		continue
	fi
	ran=$((ran + 1))
	launch full_$lib "$TARGETS/$prog" --threads 4 --iters 200
	launch base_$lib "$TARGETS/$prog" --threads 4 --iters 200 --baseline
	check_named "$lib" $lib "$T/full_$lib.err" "$T/full_$lib.json"
	check_delta "$lib, launch, 4 threads" "$T/full_$lib.json" \
		"$T/base_$lib.json" "$T/full_$lib.truth" \
		$STRICT
done
if [ $ran = 0 ]; then
	echo "skipped: none of alloc_jemalloc, alloc_mimalloc, alloc_tcmalloc is built (tools/setup-deps.sh installs the libraries)"
	exit 77
fi

# LD_PRELOAD: a glibc program given tcmalloc by its environment, through
# env (an exec followed): tcmalloc has the whole family, and frees on
# realloc(p, 0) as glibc does, so alloc_family's truth holds.
if [ -x "$TARGETS/alloc_tcmalloc" ]; then
	lib=$(jqv "$T/full_tcmalloc.json" '.allocators[0]' | sed 's/.*(\(.*\))$/\1/')
	launch full_pre /usr/bin/env LD_PRELOAD="$lib" "$TARGETS/alloc_family" --threads 4 --iters 200
	launch base_pre /usr/bin/env LD_PRELOAD="$lib" "$TARGETS/alloc_family" --threads 4 --iters 200 --baseline
	check_named "LD_PRELOAD" tcmalloc "$T/full_pre.err" "$T/full_pre.json"
	check_delta "LD_PRELOAD tcmalloc, alloc_family" "$T/full_pre.json" \
		"$T/base_pre.json" "$T/full_pre.truth" \
		$STRICT
fi

# jemalloc linked into the executable (libjemalloc_pic.a, unprefixed): found
# in the executable by its own API, its entries probed there.
if [ -x "$TARGETS/alloc_jemalloc_static" ]; then
	launch full_st "$TARGETS/alloc_jemalloc_static" --threads 4 --iters 200
	launch base_st "$TARGETS/alloc_jemalloc_static" --threads 4 --iters 200 --baseline
	grep -q "allocator: jemalloc (static) in /" "$T/full_st.err" ||
		fail "static jemalloc: no 'allocator: jemalloc (static) in' line"
	expect_eq "static jemalloc: snapshot allocators" \
		"$(jqv "$T/full_st.json" '.allocators | map(select(startswith("jemalloc (static) in /"))) | length')" 1
	check_delta "static jemalloc, launch, 4 threads" "$T/full_st.json" \
		"$T/base_st.json" "$T/full_st.truth" $STRICT
	# Stripped: malloc and friends stay in .dynsym (they interpose), its
	# own API is gone: named by its strings, half found, said in one
	# warning naming what is missing.
	strip --strip-all -o "$T/st_stripped" "$TARGETS/alloc_jemalloc_static"
	launch stripped_st "$T/st_stripped" --threads 1 --iters 10
	grep -q "allocator: jemalloc (static) in $T/st_stripped" "$T/stripped_st.err" ||
		fail "stripped static jemalloc: not named jemalloc"
	expect_eq "stripped static jemalloc: one warning naming its API" \
		"$(grep -c 'jemalloc is linked in and the executable is stripped: its malloc family is probed, its own API (mallocx, rallocx, xallocx, sdallocx, dallocx) is not found' "$T/stripped_st.err")" 1
	pass "stripped static jemalloc: half found, said"
fi

# tcmalloc linked into the executable (libtcmalloc_minimal.a): its tc_* API
# and malloc family probed there, the same exact figures.
if [ -x "$TARGETS/alloc_tcmalloc_static" ]; then
	launch full_tst "$TARGETS/alloc_tcmalloc_static" --threads 4 --iters 200
	launch base_tst "$TARGETS/alloc_tcmalloc_static" --threads 4 --iters 200 --baseline
	grep -q "allocator: tcmalloc (static) in /" "$T/full_tst.err" ||
		fail "static tcmalloc: no 'allocator: tcmalloc (static) in' line"
	check_delta "static tcmalloc, launch, 4 threads" "$T/full_tst.json" \
		"$T/base_tst.json" "$T/full_tst.truth" $STRICT
else
	echo "skipped: static tcmalloc (libtcmalloc_minimal.a not found)"
fi

for lib in jemalloc mimalloc tcmalloc; do
	[ -x "$TARGETS/alloc_$lib" ] || continue
	attach_run alloc_$lib pfull_$lib --threads 4 --iters 200
	attach_run alloc_$lib pbase_$lib --threads 4 --iters 200 --baseline
	check_named "$lib --pid" $lib "$T/pfull_$lib.err" "$T/pfull_$lib.json"
	check_delta "$lib, --pid, 4 threads" "$T/pfull_$lib.json" \
		"$T/pbase_$lib.json" "$T/pfull_$lib.truth" \
		$STRICT
done
echo PASS
