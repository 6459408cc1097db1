#!/bin/bash
# Soak: tk_hello (hyper on tokio) under wrk for SOAK_SECS seconds (default
# 180), every request on a new connection (Connection: close), so a task
# is spawned and ends per request: thousands a second, for minutes.
# memscoped --pid ... --snapshot-every 1 --keep-ended 20000 watches it.
# At each snapshot written (one a second: the test waits on those lines,
# not on a clock) memscoped's RSS is read. Checks:
#  - memscoped's RSS: the high-water mark of the last minute within 10 %
#    of the first minute's (ended tasks beyond --keep-ended are folded into
#    aggregates: the model is bounded, and so are the snapshots);
#  - the final snapshot: 0 lost events, complete, tasks completed as many
#    as the requests wrk had answered (a task per connection), most of them
#    folded (tasks_dropped), the ones kept about --keep-ended;
#  - the target still serves afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/async_lib.sh"

for c in jq wrk python3; do
	command -v "$c" >/dev/null || { echo "SKIP: $c is not installed"; exit 77; }
done
HELLO=$TOKIO/tk_hello
[ -x "$HELLO" ] || { echo "SKIP: tokio targets not built"; exit 77; }
SECS=${SOAK_SECS:-180}
KEEP=20000
[ "$SECS" -ge 120 ] || fail "SOAK_SECS=$SECS: two minutes at least (a first and a last one)"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$HELLO" --port "$PORT" --forever >"$T/tgt.out" 2>&1 &
TGT=$!
MS_PIDS+=("$TGT")
wait_for "$T/tgt.out" '^READY$' 30
"$MEMSCOPED" -q --no-top --snapshot-every 1 --keep-ended "$KEEP" \
	-s "$T/soak.json" --pid "$TGT" >"$T/ms.out" 2>"$T/ms.err" &
MS=$!
MS_PIDS+=("$MS")
wait_count "$T/ms.err" "^memscoped: attached to pid $TGT" 1 "$MS" "$TGT"

wrk -t2 -c16 -d"${SECS}s" -H 'Connection: close' \
	"http://127.0.0.1:$PORT/" >"$T/wrk.out" 2>&1 &
WRK=$!
MS_PIDS+=("$WRK")
# One RSS reading per snapshot written, until wrk is done.
k=0
: >"$T/rss"
while alive "$WRK"; do
	k=$((k + 1))
	wait_count "$T/ms.err" 'snapshot written to' "$k" "$MS"
	alive "$WRK" || break
	awk '/^VmRSS:/ { print $2 }' "/proc/$MS/status" >>"$T/rss"
done
wait "$WRK" || fail "wrk failed: $(cat "$T/wrk.out")"
n=$(wc -l <"$T/rss")
[ "$n" -ge 120 ] || fail "$n snapshots in ${SECS}s: want one a second"
first=$(head -n 60 "$T/rss" | sort -n | tail -n 1)
last=$(tail -n 60 "$T/rss" | sort -n | tail -n 1)
echo "memscoped RSS (KiB), every 10th snapshot: $(awk 'NR % 10 == 1' "$T/rss" | tr '\n' ' ')"
[ $((last * 100)) -le $((first * 110)) ] ||
	fail "memscoped grew: last minute's RSS high-water ${last} KiB > first minute's ${first} KiB + 10 %"
pass "memscoped RSS flat over ${n} snapshots: first minute ${first} KiB, last minute ${last} KiB"

kill -INT "$MS"
rc=0
wait "$MS" || rc=$?
expect_eq "memscoped exit status" "$rc" 0
S=$T/soak.json
reqs=$(awk '/requests in/ { print $1 }' "$T/wrk.out")
[ -n "$reqs" ] && [ "$reqs" -gt 0 ] || fail "wrk was not answered: $(cat "$T/wrk.out")"
check "$S" "lost events" '.totals.lost_events' 0
check "$S" "incomplete" '.incomplete' false
check "$S" "runtime" '.runtime' tokio
done_=$(jqv "$S" '.async.tasks_completed')
dropped=$(jqv "$S" '.async.tasks_dropped')
kept=$(jqv "$S" '[.tasks[] | select(.state == "completed")] | length')
echo "requests $reqs, completed $done_, folded $dropped, kept $kept"
# A task per connection: wrk counts the answered ones; the last few it
# had open when it stopped may have ended too.
[ "$done_" -ge "$reqs" ] && [ "$done_" -le $((reqs + 64)) ] ||
	fail "$done_ tasks completed for $reqs requests"
# One ended task is folded per task spawned: a few more than KEEP may be
# kept for a moment (as many as end at once: at most the 16 connections).
[ "$kept" -le $((KEEP + 64)) ] || fail "$kept ended tasks kept, over --keep-ended $KEEP"
[ "$dropped" -gt 0 ] || fail "no task folded: the load was too light to test the bound"
pass "$reqs requests: $done_ tasks completed, $dropped folded, $kept kept; 0 lost; $(stat -c %s "$S") bytes of snapshot"

# The target never noticed.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET / HTTP/1.0\r\n\r\n' >&3
grep -q hello <&3 || fail "the server does not answer after the soak"
exec 3<&-
pass "tk_hello still serves"
