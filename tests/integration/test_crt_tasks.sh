#!/usr/bin/env bash
# crt_target (the C coroutine runtime, memscope USDT markers), launch mode:
# holders each malloc SIZE bytes, K tasks are cancelled before READY, J tasks
# park with no waiter, one big task has a larger state block. memscoped must
# attribute each holder's buffer to it, flag the aborted and no-waker tasks
# (at READY, SIGUSR1 snapshot), and report each task's state size, on one
# scheduler thread and on two.
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

TASKS=4
SIZE=50000
ABORT=2
NOWAKER=2
BIG=100000

# jq definitions over the TRUTH line ($tr[0]): tasks of one kind.
KIND='def kind(k): [.tasks[] | select(.id as $i | $tr[0][k] | any(.[]; . == $i))];
def big: [.tasks[] | select(.id == $tr[0].big)];'

# check_crt NAME: the READY and end snapshots against $T/NAME.truth.
check_crt() {
	local name=$1 tr=$T/$1.truth f at
	local -a a=(--slurpfile tr "$T/$1.truth")

	check "$tr" "$name: TRUTH" \
		'"\(.holders | length) \(.aborted | length) \(.nowaker | length) \(.big != null)"' \
		"$TASKS $ABORT $NOWAKER true"
	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: runtime is usdt" '.runtime' usdt
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: every task is a usdt user task" \
			'[.tasks[] | select(.runtime != "usdt" or .kind != "user")] | length' 0
		check_ids "$f" "$name@$at"
		check "$f" "$name@$at: the task ids are exactly TRUTH's" \
			'[.tasks[].id] | sort == ($tr[0] | .holders + .aborted + .nowaker + [.big] | sort)' \
			true "${a[@]}"
		check "$f" "$name@$at: each holder is charged its $SIZE-byte buffer" \
			"$KIND kind(\"holders\") | map(select(.alloc_count >= 1 and
				.alloc_bytes >= $SIZE and .alloc_bytes < 2 * $SIZE)) | length" \
			"$TASKS" "${a[@]}"
		check "$f" "$name@$at: the aborted tasks are flagged aborted, cancelled" \
			"$KIND kind(\"aborted\") | map(select(.never_finished and
				.never_finished_reason == \"aborted\" and
				.state == \"cancelled\")) | length" "$ABORT" "${a[@]}"
		check "$f" "$name@$at: the aborted tasks' buffers were charged to them and freed" \
			"$KIND kind(\"aborted\") | map(select(.alloc_bytes >= $SIZE and
				.live_bytes == 0)) | length" "$ABORT" "${a[@]}"
		check "$f" "$name@$at: the big task's future_size is its state size" \
			"$KIND big | map(.future_size) | tostring" \
			"[$(jqv "$tr" '.big_size')]" "${a[@]}"
		check "$f" "$name@$at: every task's future_size is its state size" \
			'[.tasks[] | select(.future_size != $tr[0].state_size[.id | tostring])] | length' \
			0 "${a[@]}"
		check "$f" "$name@$at: async.largest_future_size is the big task's" \
			'.async.largest_future_size == $tr[0].big_size' true "${a[@]}"
		check "$f" "$name@$at: async.never_finished_count" \
			'.async.never_finished_count' $((ABORT + NOWAKER))
		check "$f" "$name@$at: only aborted and nowaker tasks are flagged" \
			"$KIND kind(\"holders\") + big | map(select(.never_finished or
				.never_finished_reason != null)) | length" 0 "${a[@]}"
	done

	f=$T/$name.ready.json
	check "$f" "$name@READY: the holders are pending and hold their buffer" \
		"$KIND kind(\"holders\") | map(select(.state == \"pending\" and
			.live_bytes >= $SIZE)) | length" "$TASKS" "${a[@]}"
	check "$f" "$name@READY: the nowaker tasks are flagged no-waker, pending" \
		"$KIND kind(\"nowaker\") | map(select(.never_finished and
			.never_finished_reason == \"no-waker\" and
			.state == \"pending\")) | length" "$NOWAKER" "${a[@]}"
	check "$f" "$name@READY: the big task is pending" \
		"$KIND big | map(.state) | tostring" '["pending"]' "${a[@]}"

	f=$T/$name.end.json
	check "$f" "$name@end: the holders and the big task completed, buffers freed" \
		"$KIND kind(\"holders\") + big | map(select(.state == \"completed\" and
			.live_bytes == 0)) | length" $((TASKS + 1)) "${a[@]}"
	# crt_shutdown() cancels them: nobody aborted them, and nothing could
	# ever have woken them. They keep the reason found at READY, as tokio
	# tasks dropped at runtime shutdown do.
	check "$f" "$name@end: the nowaker tasks, cancelled at shutdown, stay no-waker" \
		"$KIND kind(\"nowaker\") | map(select(.never_finished and
			.never_finished_reason == \"no-waker\" and
			.state == \"cancelled\")) | length" "$NOWAKER" "${a[@]}"
}

[ -x "$CRT/crt_target" ] || fail "$CRT/crt_target is missing: build the tree first"
for threads in 2 1; do
	session "launch-t$threads" launch --never-finished 1000 -- \
		"$CRT/crt_target" --tasks "$TASKS" --size "$SIZE" \
		--abort "$ABORT" --nowaker "$NOWAKER" --big "$BIG" \
		--threads "$threads"
	check_crt "launch-t$threads"
done
echo "PASS"
