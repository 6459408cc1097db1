#!/bin/bash
# task_bench.sh - the cost of the async parts, side by side in one run:
#   per task poll   tk_spawnbench --yields K: untraced vs the task probes'
#                   floor (empty programs) vs --tasks-only vs full
#   per spawn       tk_spawnbench: full tracking without spawn stacks vs with
#   per sampled allocation  bench_loop: --sample-bytes 0 vs --sample-bytes 1
#                   (every allocation sampled: stack copy + unwind + symbolize)
# Interleaved rounds, median per configuration. Needs root.
# usage: tools/bench/task_bench.sh [-r ROUNDS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MS=$BUILD/memscoped
SPAWN=$ROOT/tools/tokio/target/release/tk_spawnbench
LOOP=$BUILD/tools/targets/bench_loop
ROUNDS=5
[ "${1:-}" = -r ] && ROUNDS=$2

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
val() { grep -m1 "^$1 " | awk '{print $2}'; }

declare -A R
run() { # key field command...
	local key=$1 field=$2 out
	shift 2
	out=$("$@" </dev/null 2>/dev/null) || true
	R[$key]+="$(echo "$out" | val "$field") "
}

for ((r = 0; r < ROUNDS; r++)); do
	echo "round $((r + 1))/$ROUNDS" >&2
	run poll_untraced ns_per_poll "$SPAWN" --tasks 20000 --yields 10
	run poll_floor ns_per_poll "$MS" -q --no-top --tasks-only --bench-floor -- "$SPAWN" --tasks 20000 --yields 10
	run poll_tasks_only ns_per_poll "$MS" -q --no-top --tasks-only -- "$SPAWN" --tasks 20000 --yields 10
	run poll_full ns_per_poll "$MS" -q --no-top --no-spawn-stacks --sample-bytes 0 -- "$SPAWN" --tasks 20000 --yields 10
	run spawn_untraced ns_per_task "$SPAWN" --tasks 50000
	run spawn_nostack ns_per_task "$MS" -q --no-top --no-spawn-stacks --sample-bytes 0 -- "$SPAWN" --tasks 50000
	run spawn_stack ns_per_task "$MS" -q --no-top --sample-bytes 0 -- "$SPAWN" --tasks 50000
	run alloc_nosample ns_per_pair "$MS" -q --no-top --sample-bytes 0 -- "$LOOP" 200000
	run alloc_sample_all ns_per_pair "$MS" -q --no-top --sample-bytes 1 -- "$LOOP" 200000
done

m() { echo "${R[$1]}" | tr ' ' '\n' | grep -v '^$' | median; }
pu=$(m poll_untraced) pt=$(m poll_tasks_only) pf=$(m poll_full) pl=$(m poll_floor)
su=$(m spawn_untraced) sn=$(m spawn_nostack) ss=$(m spawn_stack)
an=$(m alloc_nosample) aa=$(m alloc_sample_all)
cat <<EOT
| what | configuration | median ns | cost |
|---|---|---:|---:|
| task poll (yield) | untraced | $pu | |
| task poll | floor (--tasks-only --bench-floor) | $pl | $(awk "BEGIN{printf \"%.0f ns per poll\", $pl-$pu}") |
| task poll | --tasks-only | $pt | $(awk "BEGIN{printf \"%.0f ns per poll (%.2fx floor)\", $pt-$pu, ($pt-$pu)/($pl-$pu)}") |
| task poll | full tracking | $pf | $(awk "BEGIN{printf \"%.0f ns per poll\", $pf-$pu}") |
| spawn (+1 poll) | untraced | $su | |
| spawn | full, no spawn stacks | $sn | |
| spawn | full, spawn stacks | $ss | $(awk "BEGIN{printf \"%.0f ns per spawn stack\", $ss-$sn}") |
| malloc+free | full, no sampling | $an | |
| malloc+free | full, every allocation sampled | $aa | $(awk "BEGIN{printf \"%.0f ns per sampled allocation\", $aa-$an}") |
EOT
