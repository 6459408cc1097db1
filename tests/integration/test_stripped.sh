#!/bin/bash
# A stripped tokio binary (strip --strip-all: no .symtab) still has its task
# vtables: memscoped tracks its tasks as in the unstripped one, says in one
# line that spawn sites need a debug file, and tracks allocations exactly.
# A program with no async runtime gets one line saying so, and its
# allocations.
. "$(dirname "$0")/lib.sh"

cp "$TOKIO/tk_buffers" "$T/tk_stripped"
strip --strip-all "$T/tk_stripped"
! readelf -S "$T/tk_stripped" | grep -q '\.symtab' || fail "strip left a symbol table"
for b in "$TOKIO/tk_buffers" "$T/tk_stripped"; do
	n=$(basename "$b")
	"$MEMSCOPED" -q --no-top -s "$T/$n.json" -- "$b" --tasks 3 \
		--size 100000 </dev/null >"$T/$n.out" 2>"$T/$n.err" ||
		fail "memscoped exited $?"
done
S=$T/tk_stripped.json
U=$T/tk_buffers.json
expect_eq "runtime" "$(jqv "$S" .runtime)" tokio
expect_eq "user tasks holding 100000 bytes" \
	"$(jqv "$S" '[.tasks[] | select(.kind == "user" and .alloc_bytes >= 100000)] | length')" 3
for f in '[.tasks[] | select(.kind == "user")] | length' \
	'[.tasks[] | select(.kind == "user") | .future_size] | sort' \
	'.async.tasks_completed' '.totals.lost_events'; do
	expect_eq "stripped as unstripped: $f" "$(jq -c "$f" "$S")" \
		"$(jq -c "$f" "$U")"
done
n=$(grep -c 'stripped and no debug file' "$T/tk_stripped.err" || true)
expect_eq "one line about the missing debug file" "$n" 1
jq -e '.warnings | map(select(test("stripped"))) | length == 1' "$S" \
	>/dev/null || fail "warning not in the snapshot"
expect_eq "no spawn sites without symbols" \
	"$(jqv "$S" '[.tasks[] | select(.spawn_site_id != null)] | length')" 0
pass "stripped tokio binary: tasks as unstripped, one warning"

# No runtime at all: one line, allocations only.
"$MEMSCOPED" --no-top -s "$T/plain.json" -- "$TARGETS/alloc_family" \
	--threads 1 </dev/null >"$T/plain.out" 2>"$T/plain.err" ||
	fail "memscoped exited $?"
n=$(grep -c 'no async runtime found' "$T/plain.err" || true)
expect_eq "one line about no runtime" "$n" 1
expect_eq "runtime" "$(jqv "$T/plain.json" .runtime)" none
allocs=$(jqv "$T/plain.json" .totals.alloc_count)
[ "$allocs" -ge 100 ] || fail "allocations not tracked ($allocs)"
pass "no runtime: one line, $allocs allocations tracked"
