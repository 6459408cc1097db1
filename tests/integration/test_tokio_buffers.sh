#!/usr/bin/env bash
# tk_buffers --tasks N --size B: every task mallocs exactly one B-byte buffer
# and holds it across an await. memscoped must charge each buffer to the task
# that made it, on both schedulers, in launch mode and in --pid mode.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---- async-test helpers (local: lib.sh is shared and not ours) -------------

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# wait_count FILE REGEX N [PID...]: until at least N lines of FILE match.
# Fails early, instead of at the safety timeout, if one of the PIDs is gone
# without the lines having appeared.
wait_count() {
	local file=$1 re=$2 n=$3 i=0 p
	shift 3
	until [ "$(grep -cE -- "$re" "$file" 2>/dev/null)" -ge "$n" ] 2>/dev/null; do
		for p in "$@"; do
			alive "$p" && continue
			[ "$(grep -cE -- "$re" "$file" 2>/dev/null)" -ge "$n" ] \
				2>/dev/null && return 0
			fail "pid $p ended before $n lines /$re/ in $file"
		done
		i=$((i + 1))
		[ $i -le 1200 ] || fail "timed out waiting for $n lines /$re/ in $file"
		sleep 0.05
	done
}

# session NAME launch|pid [MEMSCOPED OPTS...] -- PROGRAM ARGS...
# Runs PROGRAM under memscoped with its stdin on a FIFO. launch: memscoped
# starts it. pid: PROGRAM starts with --wait-go, memscoped attaches, and only
# then the scenario starts. At READY a SIGUSR1 snapshot is kept as
# $T/NAME.ready.json; then the target is released, and the final snapshot is
# $T/NAME.end.json. The TRUTH json goes to $T/NAME.truth. Both processes
# must exit 0.
session() {
	local name=$1 mode=$2 snap=$T/$1.json ms tgt rc
	local -a opts=()
	shift 2
	while [ "$1" != -- ]; do opts+=("$1"); shift; done
	shift
	exec {MS_HOLD}<>"$(make_fifo "$name")"
	if [ "$mode" = launch ]; then
		"$MEMSCOPED" -q -s "$snap" "${opts[@]}" -- "$@" \
			<"$T/$name.fifo" >"$T/$name.out" 2>"$T/$name.err" &
		ms=$!
		MS_PIDS+=("$ms")
		wait_count "$T/$name.err" '^memscoped: attached to pid [0-9]+' 1 "$ms"
		tgt=$(sed -nE 's/^memscoped: attached to pid ([0-9]+).*/\1/p' \
			"$T/$name.err" | head -n1)
		MS_PIDS+=("$tgt")
		TRUTH_FILE=$T/$name.err
	else
		"$@" --wait-go <"$T/$name.fifo" >"$T/$name.out" \
			2>"$T/$name.terr" &
		tgt=$!
		MS_PIDS+=("$tgt")
		wait_count "$T/$name.out" '^WAITING$' 1 "$tgt"
		"$MEMSCOPED" -q -s "$snap" "${opts[@]}" --pid "$tgt" \
			</dev/null >"$T/$name.msout" 2>"$T/$name.err" &
		ms=$!
		MS_PIDS+=("$ms")
		wait_count "$T/$name.err" "^memscoped: attached to pid $tgt" 1 \
			"$ms" "$tgt"
		echo go >&"$MS_HOLD"
		TRUTH_FILE=$T/$name.terr
	fi
	wait_count "$T/$name.out" '^READY$' 1 "$ms" "$tgt"
	truth "$TRUTH_FILE" >"$T/$name.truth"
	kill -USR1 "$ms"
	wait_count "$T/$name.err" 'snapshot written to' 1 "$ms"
	cp "$snap" "$T/$name.ready.json"
	echo release >&"$MS_HOLD"
	wait_count "$T/$name.err" 'snapshot written to' 2 "$ms"
	rc=0
	wait "$ms" || rc=$?
	expect_eq "$name: memscoped exit status" "$rc" 0
	if [ "$mode" = pid ]; then
		rc=0
		wait "$tgt" || rc=$?
		expect_eq "$name: target exit status" "$rc" 0
	else
		expect_eq "$name: target exit status" \
			"$(jqv "$snap" '.target.exit_status')" 0
	fi
	cp "$snap" "$T/$name.end.json"
	exec {MS_HOLD}>&-
	pass "$name: memscoped and target ran to the end ($mode mode)"
}

# check FILE WHAT JQ_EXPR WANT [JQ ARGS...]: the value of JQ_EXPR is WANT.
check() {
	local file=$1 what=$2 expr=$3 want=$4 got
	shift 4
	got=$(jq -r "$@" "$expr" "$file") || fail "$what: jq failed on $file"
	if [ "$got" != "$want" ]; then
		echo "tasks in $file:" >&2
		jq -c '.tasks[] | {id, kind, state, never_finished_reason,
			future_size, polls, alloc_count, alloc_bytes, live_bytes}' \
			"$file" >&2
		fail "$what: got '$got', want '$want'"
	fi
	pass "$what"
}

# Filters shared by the checks.
USER='[.tasks[] | select(.kind == "user")]'
# check_ids FILE WHAT: task ids are distinct positive integers. They are
# small counters; anything jq (doubles) could not tell apart is wrong too.
check_ids() {
	check "$1" "$2: task ids are distinct positive integers" \
		'[.tasks[].id] | (unique | length) == length and
			all(.[]; type == "number" and . >= 1 and . == floor and
				. < 9007199254740992)' true
}

# ---- the test --------------------------------------------------------------

N=6
B=100000

check_buffers() {
	local name=$1 f

	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		local at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: runtime is tokio" '.runtime' tokio
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: exactly $N user tasks (runtime tasks are kind runtime)" \
			"$USER | length" "$N"
		check "$f" "$name@$at: exactly $N user tasks charged with a $B-byte buffer" \
			"$USER | map(select(.alloc_bytes >= $B and .alloc_count >= 1)) | length" "$N"
		check "$f" "$name@$at: each buffer counted once (alloc_bytes < 2*B)" \
			"$USER | map(select(.alloc_bytes >= 2 * $B)) | length" 0
		check "$f" "$name@$at: every user task has a future_size" \
			"$USER | map(select(.future_size != null and .future_size > 0)) | length" "$N"
		check_ids "$f" "$name@$at"
		check "$f" "$name@$at: no user task flagged never-finished" \
			"$USER | map(select(.never_finished)) | length" 0
		check "$f" "$name@$at: async.async_allocation_count >= $N" \
			".async.async_allocation_count >= $N" true
	done
	f=$T/$name.ready.json
	check "$f" "$name@READY: the $N buffer tasks are pending" \
		"$USER | map(select(.state == \"pending\")) | length" "$N"
	check "$f" "$name@READY: each task still holds its buffer (live_bytes >= B)" \
		"$USER | map(select(.live_bytes >= $B)) | length" "$N"
	check "$f" "$name@READY: $N live allocations in B's size class" \
		"[.live_by_size[] | select(.min <= $B and $B <= .max) | .live_count] | add // 0 | . >= $N" true
	f=$T/$name.end.json
	check "$f" "$name@end: the $N tasks completed" \
		"$USER | map(select(.state == \"completed\")) | length" "$N"
	check "$f" "$name@end: the buffers were freed (no live bytes left in tasks)" \
		"$USER | map(.live_bytes) | add" 0
}

for rt in mt ct; do
	session "launch-$rt" launch -- "$TOKIO/tk_buffers" --rt "$rt" \
		--tasks "$N" --size "$B"
	check "$T/launch-$rt.truth" "launch-$rt: TRUTH" '.tasks' "$N"
	check_buffers "launch-$rt"
	session "pid-$rt" pid -- "$TOKIO/tk_buffers" --rt "$rt" \
		--tasks "$N" --size "$B"
	check "$T/pid-$rt.truth" "pid-$rt: TRUTH" '.tasks' "$N"
	check_buffers "pid-$rt"
done
echo "PASS"
