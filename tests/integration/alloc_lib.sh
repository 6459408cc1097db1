# Helpers shared by the exact-accounting tests (sourced after lib.sh): a
# full run and a baseline run of a target that prints its own TRUTH, and
# totals(full) - totals(baseline) == TRUTH.
# shellcheck shell=bash

ALLOC_FIELDS="alloc_count free_count alloc_bytes free_bytes live_count live_bytes"

# check_delta WHAT FULL.json BASE.json TRUTH.json [FIELD...]: the totals
# match exactly; lost_events and each FIELD given are 0, and the snapshot
# is complete.
check_delta() {
	local what=$1 full=$2 base=$3 truth=$4 f got
	shift 4
	for f in $ALLOC_FIELDS; do
		got=$(($(jqv "$full" ".totals.$f") - $(jqv "$base" ".totals.$f")))
		expect_eq "$what $f" "$got" "$(jqv "$truth" ".$f")"
	done
	for f in lost_events "$@"; do
		expect_eq "$what $f" "$(jqv "$full" ".totals.$f")" 0
	done
	expect_eq "$what incomplete" "$(jqv "$full" .incomplete)" false
	pass "$what: totals match the ground truth exactly"
}

# launch NAME COMMAND ARGS...: under memscoped from its first instruction;
# $T/NAME.json, and the TRUTH it printed in $T/NAME.truth.
launch() {
	local name=$1
	shift
	"$MEMSCOPED" -q -s "$T/$name.json" -- "$@" \
		>"$T/$name.out" 2>"$T/$name.err" || fail "$name: memscoped exited $?"
	truth "$T/$name.err" >"$T/$name.truth"
}

# attach_run PROG NAME ARGS...: tools/targets/PROG (or PROG, an absolute
# path) waits for "go" on stdin, so that counting starts once memscoped
# --pid is attached.
attach_run() {
	local prog=$1 name=$2 fifo pid mspid
	shift 2
	case $prog in /*) ;; *) prog=$TARGETS/$prog ;; esac
	fifo=$(make_fifo "$name")
	"$prog" --wait-go "$@" <"$fifo" >"$T/$name.tout" \
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
