#!/bin/bash
# Exact accounting of the whole malloc family across threads, in launch and
# --pid mode: totals(full run) - totals(baseline run) == the target's own
# ground truth. The baseline run does the same non-test work (threads,
# writes), so libc's own allocations (pthread's DTV calloc) cancel out.
. "$(dirname "$0")/lib.sh"

fields="alloc_count free_count alloc_bytes free_bytes live_count live_bytes"

check_delta() { # what full.json base.json truth.json
	local f got
	for f in $fields; do
		got=$(($(jqv "$2" ".totals.$f") - $(jqv "$3" ".totals.$f")))
		expect_eq "$1 $f" "$got" "$(jqv "$4" ".$f")"
	done
	expect_eq "$1 lost_events" "$(jqv "$2" .totals.lost_events)" 0
	expect_eq "$1 incomplete" "$(jqv "$2" .incomplete)" false
	pass "$1: totals match the ground truth exactly"
}

launch() { # name args...
	local name=$1
	shift
	"$MEMSCOPED" -q -s "$T/$name.json" -- "$TARGETS/alloc_family" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" || fail "$name: memscoped exited $?"
	truth "$T/$name.err" >"$T/$name.truth"
}

for threads in 1 4 8; do
	launch full$threads --threads $threads --iters 300
	launch base$threads --threads $threads --iters 300 --baseline
	check_delta "launch, $threads threads" "$T/full$threads.json" \
		"$T/base$threads.json" "$T/full$threads.truth"
done

# --pid: the target waits for "go" on stdin, so counting starts at attach.
attach_run() { # name args...
	local name=$1 fifo pid mspid
	shift
	fifo=$(make_fifo "$name")
	"$TARGETS/alloc_family" --wait-go "$@" <"$fifo" >"$T/$name.tout" \
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

attach_run pfull --threads 4 --iters 300
attach_run pbase --threads 4 --iters 300 --baseline
check_delta "--pid, 4 threads" "$T/pfull.json" "$T/pbase.json" "$T/pfull.truth"
