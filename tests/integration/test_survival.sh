#!/bin/bash
# memscoped must never harm the target: SIGKILL of memscoped leaves the
# target running unharmed; a target killed mid-run still yields a valid
# snapshot and summary.
. "$(dirname "$0")/lib.sh"

# 1. SIGKILL memscoped while the target is allocating (launch mode).
fifo=$(make_fifo hold)
"$MEMSCOPED" -q -s "$T/k.json" -- "$TARGETS/alloc_family" --threads 4 \
	--iters 200 --hold <"$fifo" >"$T/k.out" 2>"$T/k.err" &
ms=$!
MS_PIDS+=("$ms")
exec {MS_HOLD}>"$fifo"
wait_for "$T/k.out" '^READY'
target=$(pgrep -P "$ms" alloc_family) || fail "target not found"
kill -9 "$ms"
wait "$ms" 2>/dev/null || true
kill -0 "$target" || fail "target died with memscoped"
# Probes are gone: the target still allocates and exits cleanly.
echo go >&$MS_HOLD
exec {MS_HOLD}>&-
wait_gone "$target"
grep -q '^TRUTH' "$T/k.err" || fail "target did not finish its run"
pass "target survives SIGKILL of memscoped"

# 2. --pid mode, SIGKILL memscoped, then the target finishes normally.
fifo=$(make_fifo hold2)
"$TARGETS/alloc_family" --wait-go --threads 2 --iters 100 <"$fifo" \
	>"$T/p.out" 2>"$T/p.err" &
tp=$!
MS_PIDS+=("$tp")
exec {MS_HOLD}>"$fifo"
wait_for "$T/p.out" '^WAITING'
"$MEMSCOPED" -q --pid "$tp" >"$T/pm.out" 2>"$T/pm.err" &
ms=$!
MS_PIDS+=("$ms")
wait_for "$T/pm.err" 'attached to pid'
kill -9 "$ms"
wait "$ms" 2>/dev/null || true
echo go >&$MS_HOLD
exec {MS_HOLD}>&-
wait "$tp" || fail "target exited non-zero after memscoped was killed"
pass "--pid target survives SIGKILL of memscoped"

# 3. The target is killed mid-run: summary and a valid snapshot anyway.
fifo=$(make_fifo hold3)
"$MEMSCOPED" -s "$T/d.json" -- "$TARGETS/alloc_family" --threads 2 \
	--iters 100 --hold <"$fifo" >"$T/d.out" 2>"$T/d.err" &
ms=$!
MS_PIDS+=("$ms")
exec {MS_HOLD}>"$fifo"
wait_for "$T/d.out" '^READY'
target=$(pgrep -P "$ms" alloc_family) || fail "target not found"
kill -9 "$target"
wait "$ms" || fail "memscoped exited $? after the target died"
jq -e '.schema == "memscope.snapshot/1"' "$T/d.json" >/dev/null ||
	fail "snapshot invalid"
expect_eq "exited" "$(jqv "$T/d.json" .target.exited)" true
expect_eq "exit status" "$(jqv "$T/d.json" .target.exit_status)" 137
[ "$(jqv "$T/d.json" .totals.live_count)" -gt 0 ] || fail "no live blocks"
grep -q 'memscoped summary' "$T/d.out" || fail "no summary"
pass "killed target: snapshot and summary written"

# 4. SIGUSR1 writes a snapshot without stopping; SIGTERM stops cleanly.
fifo=$(make_fifo hold4)
"$MEMSCOPED" -q -s "$T/u.json" -- "$TARGETS/alloc_family" --threads 2 \
	--iters 50 --hold <"$fifo" >"$T/u.out" 2>"$T/u.err" &
ms=$!
MS_PIDS+=("$ms")
exec {MS_HOLD}>"$fifo"
wait_for "$T/u.out" '^READY'
kill -USR1 "$ms"
wait_for "$T/u.err" 'snapshot written'
live=$(jqv "$T/u.json" .totals.live_count)
[ "$live" -gt 0 ] || fail "SIGUSR1 snapshot has no live blocks"
expect_eq "mode after SIGUSR1" "$(stat -c %a "$T/u.json")" 600
kill -TERM "$ms"
wait "$ms" || fail "memscoped exit $? on SIGTERM"
target_alive=$(pgrep -f "alloc_family --threads 2 --iters 50 --hold" || true)
[ -n "$target_alive" ] || fail "target died on memscoped's SIGTERM"
echo go >&$MS_HOLD
exec {MS_HOLD}>&-
pass "SIGUSR1 snapshot, SIGTERM stop, target untouched"
