#!/usr/bin/env bash
# Correctness under load: tk_hello (hyper 0.14 on tokio) served to wrk with
# memscoped attached, both schedulers, launch mode and --pid mode.
#
# Per session:
#   - IDLE keep-alive connections are opened first (one served one request,
#     one never sent anything) and stay open, idle on I/O, to the end;
#   - wrk -cCONNS runs for DUR seconds; while it runs, SIGUSR1 snapshots are
#     taken until one shows at least CONNS user tasks alive and MIDALLOCS
#     allocations (mid-load);
#   - after the load, with the idle connections still open, one more
#     snapshot (idle);
#   - then the idle connections close and the server exits (a line on its
#     stdin): the final snapshot.
# Checks: no lost events and not incomplete (every snapshot); the per-owner
# figures (every task, runtime_overhead, outside_tasks) add up to the
# totals (alloc/free count and bytes, live count and bytes); at least
# CONNS + IDLE user tasks (one per connection); no user task flagged
# no-waker at any point (hyper's connection tasks are detached and wait on
# I/O: they are not lost); the idle connections' tasks are pending and
# unflagged while open.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONNS=32
DUR=4
IDLE=2
MIDALLOCS=20000 # about 4000 requests
WRK=${WRK:-wrk}
command -v "$WRK" >/dev/null || { echo "SKIP: no wrk (apt-get install -y wrk)"; exit 77; }
[ -x "$TOKIO/tk_hello" ] || fail "$TOKIO/tk_hello is missing: bash tools/tokio/build.sh"

# ---- helpers ----------------------------------------------------------------

# alive, wait_count (and a check of its own, redefined below).
. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# check FILE WHAT JQ_EXPR WANT: the value of JQ_EXPR is WANT.
check() {
	local file=$1 what=$2 expr=$3 want=$4 got
	got=$(jq -r "$expr" "$file") || fail "$what: jq failed on $file"
	if [ "$got" != "$want" ]; then
		echo "totals, owners and flagged tasks in $file:" >&2
		jq -c '.totals, .runtime_overhead, .outside_tasks' "$file" >&2
		jq -c '.tasks[] | select(.never_finished) | {id, kind, state,
			never_finished_reason, polls, alloc_count, live_bytes}' \
			"$file" | head -20 >&2
		fail "$what: got '$got', want '$want'"
	fi
}

USER='[.tasks[] | select(.kind == "user")]'
ALIVE="$USER | map(select(.state == \"pending\" or .state == \"running\"))"
# Connection tasks alive: alive user tasks that spawned none (the server
# task spawns one per connection).
CONN_ALIVE="([.tasks[].parent | select(. != null)] | unique) as \$p | $ALIVE |
	map(select(.id as \$i | \$p | index(\$i) | not))"

# The per-owner figures add up to the totals. Prints the fields that do not.
SUMS='. as $s | [("alloc_count", "alloc_bytes", "free_count", "free_bytes",
	"live_count", "live_bytes") as $k |
	select(([$s.tasks[][$k]] | add // 0) + $s.runtime_overhead[$k] +
		$s.outside_tasks[$k] != $s.totals[$k]) |
	"\($k): tasks \([$s.tasks[][$k]] | add // 0) + runtime \($s.runtime_overhead[$k]) + outside \($s.outside_tasks[$k]) != total \($s.totals[$k])"]
	| join("; ")'

# common_checks FILE WHAT
common_checks() {
	check "$1" "$2: lost events" '.totals.lost_events' 0
	check "$1" "$2: incomplete" '.incomplete' false
	check "$1" "$2: runtime" '.runtime' tokio
	check "$1" "$2: per-owner figures add up to the totals" "$SUMS" ""
	check "$1" "$2: user tasks flagged no-waker" \
		"$USER | map(select(.never_finished_reason == \"no-waker\")) | length" 0
}

# snap NAME: a SIGUSR1 snapshot, copied to $T/$NAME.json.
SNAPS=0
snap() {
	SNAPS=$((SNAPS + 1))
	kill -USR1 "$MS"
	wait_count "$T/$S.err" 'snapshot written to' "$SNAPS" "$MS"
	cp "$T/$S.snap.json" "$T/$1.json"
}

# ---- one session -------------------------------------------------------------

# session launch|pid RT
session() {
	local mode=$1 rt=$2 tgt port rc i n fd reqs
	local -a idle=()
	S=$mode-$rt
	SNAPS=0
	exec {MS_HOLD}<>"$(make_fifo "$S")"
	if [ "$mode" = launch ]; then
		"$MEMSCOPED" -q -s "$T/$S.snap.json" -- "$TOKIO/tk_hello" --rt "$rt" --port 0 \
			<"$T/$S.fifo" >"$T/$S.out" 2>"$T/$S.err" &
		MS=$!
		MS_PIDS+=("$MS")
		wait_count "$T/$S.err" '^memscoped: attached to pid [0-9]+' 1 "$MS"
		tgt=$(sed -nE 's/^memscoped: attached to pid ([0-9]+).*/\1/p' "$T/$S.err" | head -n1)
		MS_PIDS+=("$tgt")
		wait_count "$T/$S.out" '^READY$' 1 "$MS"
	else
		"$TOKIO/tk_hello" --rt "$rt" --port 0 <"$T/$S.fifo" >"$T/$S.out" 2>"$T/$S.terr" &
		tgt=$!
		MS_PIDS+=("$tgt")
		wait_count "$T/$S.out" '^READY$' 1 "$tgt"
		"$MEMSCOPED" -q -s "$T/$S.snap.json" --pid "$tgt" \
			</dev/null >"$T/$S.msout" 2>"$T/$S.err" &
		MS=$!
		MS_PIDS+=("$MS")
		wait_count "$T/$S.err" "^memscoped: attached to pid $tgt" 1 "$MS" "$tgt"
	fi
	port=$(awk '$1 == "LISTEN" { print $2; exit }' "$T/$S.out")
	[ -n "$port" ] || fail "$S: no LISTEN line"

	# Idle connections: the first is served one request and kept alive,
	# the others never send anything.
	for ((i = 0; i < IDLE; i++)); do
		exec {fd}<>"/dev/tcp/127.0.0.1/$port"
		idle+=("$fd")
	done
	printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n' >&"${idle[0]}"
	IFS= read -r -t 30 line <&"${idle[0]}" || fail "$S: no response on the idle connection"
	[[ $line == "HTTP/1.1 200"* ]] || fail "$S: idle connection got '$line'"

	"$WRK" -t2 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$port/" >"$T/$S.wrk" 2>&1 &
	local wrk=$!
	# Mid-load: snapshots until one shows every wrk connection's task
	# alive and MIDALLOCS allocations made, with wrk still running after
	# it was taken.
	n=0
	while :; do
		snap "$S.mid"
		alive "$wrk" || fail "$S: wrk ended before a mid-load snapshot had $CONNS connection tasks alive and $MIDALLOCS allocations"
		[ "$(jq "($ALIVE | length) >= $CONNS and .totals.alloc_count >= $MIDALLOCS" \
			"$T/$S.mid.json")" = true ] && break
		n=$((n + 1))
		[ $n -le 400 ] || fail "$S: no mid-load snapshot with $CONNS connection tasks alive"
	done
	common_checks "$T/$S.mid.json" "$S@mid-load"
	rc=0
	wait "$wrk" || rc=$?
	expect_eq "$S: wrk exit status" "$rc" 0
	reqs=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$T/$S.wrk")
	[ "${reqs:-0}" -gt 0 ] || fail "$S: wrk made no request: $(cat "$T/$S.wrk")"
	! grep -q 'Non-2xx\|Socket errors' "$T/$S.wrk" ||
		fail "$S: wrk saw errors: $(grep 'Non-2xx\|Socket errors' "$T/$S.wrk")"
	pass "$S: $reqs requests under memscoped, mid-load snapshot consistent" \
		"($(jq "$ALIVE | length" "$T/$S.mid.json") tasks alive, $(jq '.totals.alloc_count' "$T/$S.mid.json") allocations)"

	# After the load, the idle connections are still open: their tasks
	# wait on I/O and must not look lost. wrk has closed its connections;
	# snapshots until the server has finished all of their tasks.
	n=0
	while :; do
		snap "$S.idle"
		[ "$(jq "$CONN_ALIVE | length" "$T/$S.idle.json")" = "$IDLE" ] && break
		n=$((n + 1))
		[ $n -le 200 ] || fail "$S: $(jq "$CONN_ALIVE | length" "$T/$S.idle.json") connection tasks alive after the load, want $IDLE"
	done
	common_checks "$T/$S.idle.json" "$S@idle"
	check "$T/$S.idle.json" "$S@idle: idle connection tasks pending, not flagged" \
		"$CONN_ALIVE | map(select(.state == \"pending\" and (.never_finished | not))) | length" "$IDLE"
	check "$T/$S.idle.json" "$S@idle: wrk's connection tasks completed" \
		"$USER | map(select(.state == \"completed\")) | length >= $CONNS" true
	pass "$S: idle snapshot consistent, the $IDLE idle connections' tasks pending and not flagged"

	for fd in "${idle[@]}"; do exec {fd}>&-; done
	echo quit >&"$MS_HOLD" # the server exits
	exec {MS_HOLD}>&-
	rc=0
	wait "$MS" || rc=$?
	expect_eq "$S: memscoped exit status" "$rc" 0
	if [ "$mode" = pid ]; then
		rc=0
		wait "$tgt" || rc=$?
		expect_eq "$S: server exit status" "$rc" 0
	else
		expect_eq "$S: server exit status" "$(jqv "$T/$S.snap.json" '.target.exit_status')" 0
	fi
	local f=$T/$S.snap.json
	common_checks "$f" "$S@end"
	check "$f" "$S@end: one user task per connection" \
		"$USER | length >= $CONNS + $IDLE" true
	check "$f" "$S@end: allocations seen" '.totals.alloc_count >= 1000' true
	pass "$S: final snapshot consistent ($(jq "$USER | length" "$f") user tasks," \
		"$(jq '.totals.alloc_count' "$f") allocations, 0 lost)"
}

for rt in mt ct; do
	session launch "$rt"
	session pid "$rt"
done
echo "PASS"
