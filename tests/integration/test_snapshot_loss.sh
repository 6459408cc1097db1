#!/bin/bash
# A run's snapshot is never lost while memscoped says it succeeded:
#  - a snapshot path that cannot be written (no such directory, a
#    directory, a symbolic link, a read-only filesystem) is refused before
#    anything is attached: one line, exit 2;
#  - one that becomes unwritable during the run makes the run exit 1;
#  - a closed stdout (| head -1) costs the summary, not the snapshot;
#  - temporary files never collide (files left by others with the old
#    naming) and none is left behind, even by a memscoped killed while
#    writing snapshots ten times a second.
. "$(dirname "$0")/lib.sh"

AF=$TARGETS/alloc_family
ms_bad() {
	local what=$1 path=$2 rc=0
	"$MEMSCOPED" --no-top -s "$path" -- "$AF" --threads 1 \
		>"$T/bad.out" 2>"$T/bad.err" || rc=$?
	expect_eq "$what: exit status" "$rc" 2
	expect_eq "$what: one line" "$(wc -l <"$T/bad.err")" 1
	grep -q 'cannot write the snapshot' "$T/bad.err" ||
		fail "$what: $(cat "$T/bad.err")"
	! grep -q attached "$T/bad.err" || fail "$what: attached first"
	pass "$what: refused before attaching ($(cut -d: -f3- "$T/bad.err"))"
}

ms_bad "missing directory" "$T/no/such/dir/s.json"
mkdir "$T/adir"
ms_bad "a directory" "$T/adir"
ln -s "$T/elsewhere" "$T/link.json"
ms_bad "a symbolic link" "$T/link.json"
mkdir "$T/ro"
mount -t tmpfs -o ro,size=1m tmpfs "$T/ro"
ms_bad "a read-only filesystem" "$T/ro/s.json"

# Unwritable during the run: exit 1, and it says so.
mount -o remount,rw "$T/ro"
exec {HOLD}<>"$(make_fifo late)"
"$MEMSCOPED" --no-top -s "$T/ro/s.json" -- "$AF" --threads 1 --hold \
	<"$T/late.fifo" >"$T/late.out" 2>"$T/late.err" &
ms=$!
MS_PIDS+=("$ms")
wait_for "$T/late.out" '^READY' 30
mount -o remount,ro "$T/ro"
kill -INT "$ms"
rc=0
wait "$ms" || rc=$?
exec {HOLD}>&-
expect_eq "snapshot unwritable at the end: exit status" "$rc" 1
grep -q 'cannot write snapshot' "$T/late.err" || fail "no word of the lost snapshot"
pass "a snapshot that cannot be written at the end: exit 1"
umount "$T/ro"

# A closed stdout: the snapshot is written all the same.
mkdir "$T/out"
set +o pipefail
"$MEMSCOPED" --no-top -s "$T/out/s.json" -- "$AF" --threads 2 2>"$T/head.err" | head -1 >/dev/null
set -o pipefail
jq -e '.totals.alloc_count > 0' "$T/out/s.json" >/dev/null ||
	fail "no snapshot behind a closed stdout: $(cat "$T/head.err")"
pass "stdout closed early: the snapshot is written"

# Files named as the old writer named its temporary files, and others'
# hidden files, are in the way of nothing and left alone.
touch "$T/out/s.json.tmp.$$" "$T/out/.s.json.0000000000000000"
"$MEMSCOPED" --no-top -q -s "$T/out/s.json" -- "$AF" --threads 1 \
	>/dev/null 2>"$T/tmp.err" || fail "memscoped failed: $(cat "$T/tmp.err")"
expect_eq "files in the snapshot's directory" \
	"$(find "$T/out" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ')" \
	".s.json.0000000000000000 s.json s.json.tmp.$$ "
pass "no collision with files of others"

# Killed while writing snapshots ten times a second: nothing of its own
# is left beside the snapshot.
mkdir "$T/kill"
for i in 1 2 3 4 5; do
	exec {HOLD}<>"$(make_fifo "k$i")"
	"$MEMSCOPED" --no-top -q -s "$T/kill/s.json" --snapshot-every 0.1 -- \
		"$TOKIO/tk_buffers" --tasks 200 --size 1000 <"$T/k$i.fifo" \
		>"$T/k$i.out" 2>"$T/k$i.err" &
	ms=$!
	wait_for "$T/k$i.out" '^READY' 30
	wait_for "$T/k$i.err" 'snapshot written' 30
	kill -9 "$ms"
	wait "$ms" 2>/dev/null || true
	exec {HOLD}>&-
	pkill -9 -f "$TOKIO/tk_buffers --tasks 200" 2>/dev/null || true
done
expect_eq "files after 5 kills" "$(ls -A "$T/kill" | tr '\n' ' ')" "s.json "
pass "killed mid-run 5 times: no temporary file left"
echo "PASS"
