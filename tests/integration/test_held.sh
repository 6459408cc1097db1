#!/bin/bash
# What already holds, kept held:
#  - two memscoped on one pid agree on every total;
#  - a 1 MiB ring under an 8-thread malloc storm counts what it loses and
#    marks the figures incomplete (summary and snapshot);
#  - 2,000,001 live blocks are counted exactly, memscoped's memory growing
#    by under 100 bytes each.
# (SIGKILL of memscoped leaving the target serving: test_survival and
# test_stop; bad snapshot files: test_memscope_report and the corpus.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/async_lib.sh"

AF=$TARGETS/alloc_family
HB=$TARGETS/hold_blocks
[ -x "$HB" ] || fail "$HB is not built"

# Two instances on one pid.
exec {HOLD}<>"$(make_fifo two)"
"$AF" --threads 4 --iters 300 --wait-go <"$T/two.fifo" >"$T/two.out" 2>"$T/two.terr" &
tgt=$!
MS_PIDS+=("$tgt")
wait_for "$T/two.out" '^WAITING' 30
for i in 1 2; do
	"$MEMSCOPED" --no-top -q -s "$T/two$i.json" --pid "$tgt" >/dev/null 2>"$T/two$i.err" &
	ms[i]=$!
	MS_PIDS+=("${ms[i]}")
	wait_for "$T/two$i.err" "attached to pid $tgt" 30
done
echo go >&"$HOLD"
wait "$tgt" || fail "alloc_family failed"
exec {HOLD}>&-
wait "${ms[1]}" && wait "${ms[2]}" || fail "memscoped failed"
for f in alloc_count free_count alloc_bytes free_bytes live_count live_bytes; do
	expect_eq "two instances: totals.$f" "$(jq ".totals.$f" "$T/two1.json")" \
		"$(jq ".totals.$f" "$T/two2.json")"
done
expect_eq "two instances: nothing lost" \
	"$(jq '.totals.lost_events + .totals.unmatched_calls' "$T/two1.json")" 0
pass "two memscoped on one pid agree ($(jq .totals.alloc_count "$T/two1.json") allocations)"

# A 1 MiB ring, 8 threads allocating as fast as they can, each allocation
# with its 8 KiB stack (--sample-bytes 1): more than the ring holds.
"$MEMSCOPED" --no-top --ring-mb 1 --sample-bytes 1 -s "$T/storm.json" -- \
	"$AF" --threads 8 --iters 2000 >"$T/storm.out" 2>"$T/storm.err" ||
	fail "memscoped failed under the storm"
lost=$(jq '.totals.lost_events + .totals.stack_lost' "$T/storm.json")
[ "$lost" -gt 0 ] || fail "no loss counted with a 1 MiB ring under 8 threads"
expect_eq "storm: incomplete" "$(jq .incomplete "$T/storm.json")" true
grep -q INCOMPLETE "$T/storm.out" || fail "the summary does not say INCOMPLETE"
pass "1 MiB ring, 8 threads: $lost lost events counted, figures marked incomplete"

# 2,000,001 live blocks.
N=2000001
exec {HOLD}<>"$(make_fifo many)"
"$MEMSCOPED" --no-top -q --sample-bytes 0 --ring-mb 8 -s "$T/many.json" -- \
	"$HB" "$N" 24 --wait-go <"$T/many.fifo" >"$T/many.out" 2>"$T/many.err" &
ms=$!
MS_PIDS+=("$ms")
wait_for "$T/many.out" '^WAITING$' 30
# memscoped's own memory before the blocks: what they cost is the rest.
rss0_kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$ms/status")
echo go >&"$HOLD"
wait_for "$T/many.out" '^READY$' 120
# The model has them all once the count stops moving: ask for snapshots.
i=0
while :; do
	kill -USR1 "$ms"
	wait_count "$T/many.err" 'snapshot written' $((i + 1)) "$ms"
	i=$((i + 1))
	live=$(jq '[.live_by_size[] | select(.min == 16) | .live_count][0] // 0' "$T/many.json")
	[ "$live" -ge "$N" ] && break
	[ $i -le 100 ] || fail "only $live blocks of 16..31 bytes live"
done
rss_kb=$(awk '/^VmHWM/ { print $2 }' "/proc/$ms/status")
echo release >&"$HOLD"
exec {HOLD}>&-
wait "$ms" || fail "memscoped failed"
# Exact: the N blocks of 24 bytes are the only blocks of 16..31 bytes
# hold_blocks holds (its other blocks are larger or libc's few).
[ "$live" -le $((N + 16)) ] || fail "$live blocks of 16..31 bytes for $N"
per=$(((rss_kb - rss0_kb) * 1024 / N))
[ "$per" -lt 100 ] || fail "memscoped's peak RSS grew by $per bytes per live block"
check_end=$(jq '.totals.live_count' "$T/many.json")
pass "$N live blocks: counted ($live of 16..31 bytes), memscoped's peak RSS grew by $(((rss_kb - rss0_kb) / 1024)) MiB: $per bytes per block; $check_end live at the end"
echo "PASS"
