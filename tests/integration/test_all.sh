#!/usr/bin/env bash
# memscoped --all: one daemon watches every async process. A tokio program
# already running when it starts is found in /proc; a tokio program and a
# crt (USDT markers) program started later are caught at exec; a plain C
# program is left alone. Each watched process gets its own snapshot when it
# exits, with its own tasks, and SIGINT ends memscoped cleanly.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

for p in "$TOKIO/tk_abort" "$CRT/crt_target" "$TARGETS/bench_loop"; do
	[ -x "$p" ] || fail "$p is missing: build the tree first"
done
K=2
M=2
MSERR=$T/ms.err

# start NAME PROGRAM ARGS...: the program waits for "go" on its FIFO.
declare -A PID HOLD
start() {
	local name=$1 fd
	shift
	exec {fd}<>"$(make_fifo "$name")"
	HOLD[$name]=$fd
	"$@" --wait-go <"$T/$name.fifo" >"$T/$name.out" 2>"$T/$name.terr" &
	PID[$name]=$!
	MS_PIDS+=("${PID[$name]}")
	wait_count "$T/$name.out" '^WAITING$' 1 "${PID[$name]}"
}

# run NAME: once memscoped watches it, let it go through its scenario and
# exit; then memscoped must have written its snapshot.
run() {
	local name=$1 pid=${PID[$1]} rc=0
	wait_count "$MSERR" "^memscoped: attached to pid $pid " 1 "$MS" "$pid"
	echo go >&"${HOLD[$name]}"
	wait_count "$T/$name.out" '^READY$' 1 "$pid"
	echo release >&"${HOLD[$name]}"
	wait "$pid" || rc=$?
	expect_eq "$name: exit status" "$rc" 0
	wait_count "$MSERR" "^memscoped: pid $pid: no longer watched \\(it exited\\)" 1 "$MS"
	[ -s "$T/all.$pid.json" ] || fail "$name: no snapshot $T/all.$pid.json"
	pass "$name (pid $pid): watched, snapshot written when it exited"
}

check_tokio() {
	local name=$1 f=$T/all.${PID[$1]}.json
	check "$f" "$name: runtime is tokio" '.runtime' tokio
	check "$f" "$name: the snapshot is of pid ${PID[$name]}" '.target.pid' "${PID[$name]}"
	check "$f" "$name: no lost events" '.totals.lost_events' 0
	check "$f" "$name: $((K + M)) user tasks" "$USER | length" $((K + M))
	check "$f" "$name: $K user tasks never finished: aborted" \
		"$USER | map(select(.never_finished_reason == \"aborted\")) | length" "$K"
	check "$f" "$name: the $M workers completed" \
		"$USER | map(select(.state == \"completed\")) | length" "$M"
	check_ids "$f" "$name"
}

# Running before memscoped starts.
start early "$TOKIO/tk_abort" --rt mt --sleepers "$K" --workers "$M"

"$MEMSCOPED" --all --no-top -s "$T/all.{pid}.json" </dev/null \
	>"$T/ms.out" 2>"$MSERR" &
MS=$!
MS_PIDS+=("$MS")
wait_count "$MSERR" '^memscoped: watching every async process' 1 "$MS"
pass "memscoped --all is up"

# Started after it: caught at exec.
start late "$TOKIO/tk_abort" --rt ct --sleepers "$K" --workers "$M"
start crt "$CRT/crt_target" --tasks 3 --size 4096 --abort 1
start bufs "$TOKIO/tk_buffers" --rt mt --tasks 3 --size 100000
"$TARGETS/bench_loop" 1000 >"$T/plain.out" 2>&1 &
PLAIN=$!
wait "$PLAIN" || fail "bench_loop failed"

run early
run late
run crt
run bufs
check_tokio early
check_tokio late
# Caught at exec and busy: exact from the moment it is attached (return
# probes go in before entry probes: nothing in flight is left unmatched).
for name in late bufs; do
	f=$T/all.${PID[$name]}.json
	echo "$name totals: $(jq -c .totals "$f")"
	check "$f" "$name: complete" '.incomplete' false
	check "$f" "$name: no unmatched allocator call" '.totals.unmatched_calls' 0
	check "$f" "$name: allocations seen" '.totals.alloc_count > 0' true
done
f=$T/all.${PID[bufs]}.json
check "$f" "bufs: 3 tasks, each allocated its 100000 bytes" \
	"$USER | map(select(.alloc_bytes >= 100000)) | length" 3

# An async program over in a few milliseconds: attached, or said to have
# ended before it could be.
for i in 1 2 3; do
	"$TOKIO/tk_buffers" --tasks 1 --size 10 </dev/null >/dev/null 2>&1 &
	short=$!
	wait "$short" || fail "tk_buffers failed"
	wait_count "$MSERR" "pid $short(: no longer watched| \(.*\) ended)" 1 "$MS"
done
pass "short-lived async programs: each one is said"

f=$T/all.${PID[crt]}.json
check "$f" "crt: runtime is usdt" '.runtime' usdt
check "$f" "crt: 4 user tasks (3 holders, 1 aborted)" "$USER | length" 4
check "$f" "crt: the aborted one never finished" \
	"$USER | map(select(.never_finished)) | length" 1
check "$f" "crt: each holder allocated 4096 bytes in its task" \
	"$USER | map(select(.alloc_bytes == 4096)) | length >= 3" true

grep -q "attached to pid $PLAIN " "$MSERR" &&
	fail "bench_loop (no async runtime) was watched"
[ ! -e "$T/all.$PLAIN.json" ] || fail "a snapshot of bench_loop was written"
pass "a plain C program is not watched"

kill -INT "$MS"
rc=0
wait "$MS" || rc=$?
expect_eq "memscoped --all exit status after SIGINT" "$rc" 0
# Other async programs on the machine may be watched too: count ours.
for name in early late crt bufs; do
	[ "$(grep -c "^== pid ${PID[$name]}: " "$T/ms.out")" = 1 ] ||
		fail "$name: want one summary of pid ${PID[$name]} on stdout"
done
pass "one summary per watched process"
echo "PASS"
