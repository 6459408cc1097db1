#!/bin/bash
# A stripped tokio binary has no task symbols: memscoped says so in one
# line and keeps tracking allocations exactly.
. "$(dirname "$0")/lib.sh"

cp "$TOKIO/tk_buffers" "$T/tk_stripped"
strip "$T/tk_stripped"
"$MEMSCOPED" -q --no-top -s "$T/s.json" -- "$T/tk_stripped" --tasks 3 \
	--size 100000 </dev/null >"$T/s.out" 2>"$T/s.err" ||
	fail "memscoped exited $?"
n=$(grep -c 'no symbol table (stripped)' "$T/s.err" || true)
expect_eq "one line about the stripped binary" "$n" 1
expect_eq "runtime" "$(jqv "$T/s.json" .runtime)" none
expect_eq "tasks" "$(jqv "$T/s.json" '.tasks | length')" 0
big=$(jq '[.live_by_size[]] | length' "$T/s.json")
allocs=$(jqv "$T/s.json" .totals.alloc_count)
[ "$allocs" -ge 3 ] || fail "allocations not tracked ($allocs)"
jq -e '.warnings | map(select(test("stripped"))) | length == 1' "$T/s.json" \
	>/dev/null || fail "warning not in the snapshot"
pass "stripped binary: one warning, $allocs allocations still tracked ($big size classes live)"
