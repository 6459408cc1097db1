# Helpers shared by the async integration tests (sourced after lib.sh):
# sessions under memscoped with READY/SIGUSR1/release snapshots, and checks.
# shellcheck shell=bash disable=SC2016


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
