#!/bin/bash
# Allocator libraries that take malloc's place (issue 14): a program linked
# with -ljemalloc, -lmimalloc or -ltcmalloc is probed in that library, not
# in libc, with the library's own API and C++ operator new/delete. The
# totals are exact: totals(full run) - totals(baseline run) == the target's
# ground truth (tools/targets/README.md), in launch and --pid mode for each
# library; the attach line and the snapshot's "allocators" name it.
. "$(dirname "$0")/lib.sh"

fields="alloc_count free_count alloc_bytes free_bytes live_count live_bytes"

check_delta() { # what full.json base.json truth.json
	local f got
	for f in $fields; do
		got=$(($(jqv "$2" ".totals.$f") - $(jqv "$3" ".totals.$f")))
		expect_eq "$1 $f" "$got" "$(jqv "$4" ".$f")"
	done
	for f in lost_events untracked_frees stale_allocs unmatched_calls; do
		expect_eq "$1 $f" "$(jqv "$2" ".totals.$f")" 0
	done
	expect_eq "$1 incomplete" "$(jqv "$2" .incomplete)" false
	pass "$1: totals match the ground truth exactly"
}

check_named() { # what name err json
	grep -q "allocator: $2 (/" "$3" || fail "$1: no 'allocator: $2' line"
	case $(jqv "$4" '.allocators[0]') in
	"$2 (/"*) ;;
	*) fail "$1: snapshot allocators: $(jqv "$4" -c .allocators)" ;;
	esac
	pass "$1: the allocator is $2"
}

launch() { # prog name args...
	local prog=$1 name=$2
	shift 2
	"$MEMSCOPED" -q -s "$T/$name.json" -- "$TARGETS/$prog" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" || fail "$name: memscoped exited $?"
	truth "$T/$name.err" >"$T/$name.truth"
}

ran=0
for lib in jemalloc mimalloc tcmalloc; do
	prog=alloc_$lib
	if [ ! -x "$TARGETS/$prog" ]; then
		echo "$prog not built (lib$lib not installed): not checked"
		continue
	fi
	ran=$((ran + 1))
	launch $prog full_$lib --threads 4 --iters 200
	launch $prog base_$lib --threads 4 --iters 200 --baseline
	check_named "$lib" $lib "$T/full_$lib.err" "$T/full_$lib.json"
	check_delta "$lib, launch, 4 threads" "$T/full_$lib.json" \
		"$T/base_$lib.json" "$T/full_$lib.truth"
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
	launch_pre() { # name args...
		local name=$1
		shift
		"$MEMSCOPED" -q -s "$T/$name.json" -- /usr/bin/env \
			LD_PRELOAD="$lib" "$TARGETS/alloc_family" "$@" \
			>"$T/$name.out" 2>"$T/$name.err" ||
			fail "$name: memscoped exited $?"
		truth "$T/$name.err" >"$T/$name.truth"
	}
	launch_pre full_pre --threads 4 --iters 200
	launch_pre base_pre --threads 4 --iters 200 --baseline
	check_named "LD_PRELOAD" tcmalloc "$T/full_pre.err" "$T/full_pre.json"
	check_delta "LD_PRELOAD tcmalloc, alloc_family" "$T/full_pre.json" \
		"$T/base_pre.json" "$T/full_pre.truth"
fi

# --pid: the library is found in the process's maps; counting starts at
# "go" on stdin.
attach_run() { # prog name args...
	local prog=$1 name=$2 fifo pid mspid
	shift 2
	fifo=$(make_fifo "$name")
	"$TARGETS/$prog" --wait-go "$@" <"$fifo" >"$T/$name.tout" \
		2>"$T/$name.terr" &
	pid=$!
	MS_PIDS+=("$pid")
	exec {MS_HOLD}>"$fifo"
	wait_for "$T/$name.tout" '^WAITING'
	"$MEMSCOPED" -q -s "$T/$name.json" --pid "$pid" >"$T/$name.out" \
		2>"$T/$name.err" &
	mspid=$!
	MS_PIDS+=("$mspid")
	wait_for "$T/$name.err" 'attached to pid'
	echo go >&$MS_HOLD
	exec {MS_HOLD}>&-
	wait "$pid" || fail "$name: target failed"
	wait "$mspid" || fail "$name: memscoped exited $?"
	truth "$T/$name.terr" >"$T/$name.truth"
}

for lib in jemalloc mimalloc tcmalloc; do
	[ -x "$TARGETS/alloc_$lib" ] || continue
	attach_run alloc_$lib pfull_$lib --threads 4 --iters 200
	attach_run alloc_$lib pbase_$lib --threads 4 --iters 200 --baseline
	check_named "$lib --pid" $lib "$T/pfull_$lib.err" "$T/pfull_$lib.json"
	check_delta "$lib, --pid, 4 threads" "$T/pfull_$lib.json" \
		"$T/pbase_$lib.json" "$T/pfull_$lib.truth"
done
echo PASS
