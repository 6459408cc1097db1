#!/usr/bin/env bash
# tk_pool --tasks N --size B --mode own|pool. own: every task mallocs its own
# B buffer, so the tasks' alloc_bytes add up to at least N*B. pool: main
# mallocs ONE N*B buffer before spawning and the tasks only borrow slices, so
# the tasks are charged less than B in all and the big allocation is outside
# the tasks.
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

N=4
B=100000
NB=$((N * B))

check_pool() {
	local name=$1 mode=$2 f at
	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: runtime is tokio" '.runtime' tokio
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: $N user tasks" "$USER | length" "$N"
		check_ids "$f" "$name@$at"
		check "$f" "$name@$at: totals.alloc_bytes >= N*B" \
			".totals.alloc_bytes >= $NB" true
		if [ "$mode" = own ]; then
			check "$f" "$name@$at: the tasks' alloc_bytes add up to >= N*B" \
				"$USER | map(.alloc_bytes) | add >= $NB" true
			check "$f" "$name@$at: each task is charged its own buffer" \
				"$USER | map(select(.alloc_bytes >= $B)) | length" "$N"
			check "$f" "$name@$at: the buffers are not charged outside tasks" \
				".outside_tasks.alloc_bytes < $B" true
		else
			check "$f" "$name@$at: the tasks' alloc_bytes add up to < B" \
				"$USER | map(.alloc_bytes) | add < $B" true
			check "$f" "$name@$at: the pool is charged outside tasks" \
				".outside_tasks.alloc_bytes >= $NB" true
		fi
	done
	f=$T/$name.ready.json
	if [ "$mode" = own ]; then
		check "$f" "$name@READY: the tasks hold N*B live" \
			"$USER | map(.live_bytes) | add >= $NB" true
	else
		check "$f" "$name@READY: the pool is live outside tasks" \
			".outside_tasks.live_bytes >= $NB" true
	fi
}

for rt in mt ct; do
	for mode in own pool; do
		session "$mode-$rt" launch -- "$TOKIO/tk_pool" --rt "$rt" \
			--tasks "$N" --size "$B" --mode "$mode"
		check "$T/$mode-$rt.truth" "$mode-$rt: TRUTH" '.mode' "$mode"
		check_pool "$mode-$rt" "$mode"
	done
done
echo "PASS"
