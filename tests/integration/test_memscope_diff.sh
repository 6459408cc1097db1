#!/bin/bash
# memscope diff on snapshots of one real process: before the tasks exist,
# while they hold their buffers, after they finished. What grew, what is
# new, what ended must be exactly the tasks tk_buffers made.
. "$(dirname "$0")/lib.sh"

MEMSCOPE=$MS_BUILD/user/offline/memscope
[ -x "$MEMSCOPE" ] || fail "memscope not built ($MEMSCOPE)"
[ -x "$TOKIO/tk_buffers" ] || fail "tokio targets not built (tools/tokio/build.sh)"

# section FILE TITLE: the lines of one diff section.
section() {
	awk -v t="$2" '$0 == t { on = 1; next } on && /^[A-Z]/ && !/^--/ { exit } on' "$1"
}

N=5
B=100000
# snap N: a SIGUSR1 snapshot, the Nth of the run, kept as $T/snap-N.json.
snap() {
	kill -USR1 "$ms"
	wait_for_count "$1"
	cp "$T/run.json" "$T/snap-$1.json"
}
wait_for_count() {
	local i=0
	until [ "$(grep -c 'snapshot written to' "$T/run.err")" -ge "$1" ]; do
		i=$((i + 1))
		[ $i -le 1200 ] || fail "snapshot $1 never written"
		kill -0 "$ms" 2>/dev/null || fail "memscoped died"
		sleep 0.05
	done
}

exec {MS_HOLD}<>"$(make_fifo run)"
"$MEMSCOPED" -q -s "$T/run.json" -- "$TOKIO/tk_buffers" --wait-go --tasks $N \
	--size $B <"$T/run.fifo" >"$T/run.out" 2>"$T/run.err" &
ms=$!
MS_PIDS+=("$ms")
wait_for "$T/run.out" '^WAITING$'
snap 1 # A: the runtime, no user task yet
echo go >&"$MS_HOLD"
wait_for "$T/run.out" '^READY$'
snap 2 # B: N tasks, each holding B bytes
echo release >&"$MS_HOLD"
wait "$ms" || fail "memscoped failed"
exec {MS_HOLD}>&-
cp "$T/run.json" "$T/snap-3.json" # C: the end, tasks completed
A=$T/snap-1.json B_=$T/snap-2.json C=$T/snap-3.json
users() { jq -r '.tasks[] | select(.kind == "user") | .id' "$1"; }
expect_eq "user tasks at READY" "$(users "$B_" | wc -l)" $N
expect_eq "user tasks before go" "$(users "$A" | wc -l)" 0

# A -> B: N new tasks, each with 97.7 KiB live; live bytes grew.
"$MEMSCOPE" diff "$A" "$B_" >"$T/ab.txt" || fail "diff A B failed"
section "$T/ab.txt" "New tasks in B" >"$T/new.txt"
for id in $(users "$B_"); do
	grep -qE "^  $id +user +pending +97\.7 KiB " "$T/new.txt" ||
		fail "A->B: task $id not new with 97.7 KiB"
done
expect_eq "A->B: new user tasks" "$(grep -cE '^  [0-9]+ +user' "$T/new.txt")" $N
grow=$(($(jqv "$B_" .totals.live_bytes) - $(jqv "$A" .totals.live_bytes)))
[ "$grow" -ge $((N * B)) ] || fail "live bytes grew by $grow only"
section "$T/ab.txt" "Totals" | grep -qE '^  live bytes .* \+[0-9.]+ [KM]iB$' ||
	fail "A->B: live bytes growth not shown"
section "$T/ab.txt" "New never-finished tasks in B" | grep -q '^  none' ||
	fail "A->B: spurious never-finished tasks"
pass "A->B: the $N new tasks with their buffers, total growth $grow bytes"

# B -> C: the same tasks shrank by their buffer and ended.
"$MEMSCOPE" diff "$B_" "$C" -o "$T/bc.txt" || fail "diff B C failed"
section "$T/bc.txt" "Tasks that shrank" >"$T/shrank.txt"
section "$T/bc.txt" "Tasks that ended between A and B" >"$T/ended.txt"
for id in $(users "$B_"); do
	grep -qE "^  $id +pending +completed +97\.7 KiB +0 B +-97\.7 KiB" "$T/shrank.txt" ||
		fail "B->C: task $id did not shrink by its buffer"
	grep -qE "^  $id +completed +97\.7 KiB +0 B +-97\.7 KiB" "$T/ended.txt" ||
		fail "B->C: task $id not listed as ended"
done
section "$T/bc.txt" "Tasks that grew" | grep -q "no task holds more" ||
	fail "B->C: something grew"
pass "B->C: the $N tasks ended and released their buffers"

# A snapshot against itself: nothing moved.
"$MEMSCOPE" diff "$B_" "$B_" >"$T/bb.txt" || fail "diff B B failed"
section "$T/bb.txt" "Tasks that grew" | grep -q "no task holds more" || fail "B->B grew"
section "$T/bb.txt" "Tasks that shrank" | grep -q "no task holds less" || fail "B->B shrank"
section "$T/bb.txt" "New tasks in B" | grep -q '^  none' || fail "B->B new tasks"
pass "a snapshot against itself: no change"

# Spawn sites, when memscoped recorded them: grouped by innermost frame.
if jq -e '[.tasks[] | select(.spawn_site_id != null)] | length > 0' "$B_" >/dev/null; then
	section "$T/ab.txt" "By spawn site" >"$T/sites.txt"
	[ -s "$T/sites.txt" ] || fail "no By spawn site section"
	site=$(jq -r "$SITE"' . as $s | [.tasks[] | select(.kind == "user")][0] | site($s)[0].function' "$B_")
	grep -qF "$site" "$T/sites.txt" || fail "spawn site $site not listed"
	pass "by spawn site: $site"
fi

# Order matters: B before A says so.
"$MEMSCOPE" diff "$C" "$A" >"$T/ca.txt" || fail "diff C A failed"
grep -q '^!!! B was taken before A' "$T/ca.txt" || fail "reversed order not flagged"
pass "reversed snapshots are flagged"

# A real --snapshot-every series diffs cleanly, step by step.
"$MEMSCOPED" -q --snapshot-every 1 -s "$T/s-{n}.json" -- "$TOKIO/tk_demo" \
	>"$T/demo.out" 2>"$T/demo.err" || fail "memscoped series failed"
mapfile -t series < <(ls "$T"/s-*.json | sort)
[ "${#series[@]}" -ge 3 ] || fail "only ${#series[@]} snapshots in the series"
for ((i = 1; i < ${#series[@]}; i++)); do
	"$MEMSCOPE" diff "${series[i - 1]}" "${series[i]}" >"$T/step.txt" ||
		fail "diff ${series[i - 1]} ${series[i]} failed"
	a=$(jqv "${series[i - 1]}" .totals.live_count)
	b=$(jqv "${series[i]}" .totals.live_count)
	section "$T/step.txt" "Totals" | grep -qE "^  live blocks +$a +$b " ||
		fail "step $i: live blocks not $a -> $b"
done
# Over the whole run, tk_demo's aborted and no-waker tasks appear.
"$MEMSCOPE" diff "${series[0]}" "${series[-1]}" >"$T/whole.txt" || fail "diff whole"
want=$(jq -r --slurpfile a "${series[0]}" '[.tasks[] | select(.never_finished) |
	.id as $id | select(($a[0].tasks | map(select(.id == $id and .never_finished)) | length) == 0)] |
	length' "${series[-1]}")
got=$(section "$T/whole.txt" "New never-finished tasks in B" | grep -cE '^  [0-9]+ ' || true)
expect_eq "new never-finished tasks over the series" "$got" "$want"
pass "a ${#series[@]}-snapshot series diffs step by step; $got tasks became never-finished"
