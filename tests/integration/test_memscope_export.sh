#!/bin/bash
# memscope export on a real snapshot: json is the snapshot, folded stacks
# add up to the live memory, and the pprof profile is what 'go tool
# pprof' reads: one sample per task. Without go the pprof profile is only
# checked for shape, and the test ends with a skip (77) saying so.
. "$(dirname "$0")/lib.sh"

MEMSCOPE=$MS_BUILD/user/offline/memscope
[ -x "$MEMSCOPE" ] || fail "memscope not built ($MEMSCOPE)"
[ -x "$TOKIO/tk_buffers" ] || fail "tokio targets not built (tools/tokio/build.sh)"

# tk_buffers at READY: N tasks each holding one B-byte buffer.
N=6
B=100000
exec {MS_HOLD}<>"$(make_fifo buf)"
"$MEMSCOPED" -q -s "$T/buf.json" -- "$TOKIO/tk_buffers" --tasks $N --size $B \
	<"$T/buf.fifo" >"$T/buf.out" 2>"$T/buf.err" &
ms=$!
MS_PIDS+=("$ms")
wait_for "$T/buf.out" '^READY$'
kill -USR1 "$ms"
wait_for "$T/buf.err" 'snapshot written to'
cp "$T/buf.json" "$T/snap.json"
echo release >&"$MS_HOLD"
wait "$ms" || fail "memscoped failed"
exec {MS_HOLD}>&-
S=$T/snap.json
USERS=$(jq -r '.tasks[] | select(.kind == "user") | .id' "$S")
expect_eq "user tasks" "$(wc -w <<<"$USERS")" $N

# json: the same document, pretty-printed.
"$MEMSCOPE" export --format json "$S" -o "$T/out.json" || fail "export json failed"
cmp -s <(jq -S . "$S") <(jq -S . "$T/out.json") || fail "json export differs from the snapshot"
[ "$(wc -l <"$T/out.json")" -gt 50 ] || fail "json export is not pretty-printed"
pass "json: the snapshot, pretty-printed"

# folded: "stack value" lines; one per task holding memory; the values add
# up to the live bytes of tasks, runtime overhead and outside tasks.
"$MEMSCOPE" export --format folded "$S" >"$T/out.folded" || fail "export folded failed"
grep -vqE '^[^ ;][^;]*(;[^;]+)* [0-9]+$' "$T/out.folded" &&
	fail "malformed folded line: $(grep -vE '^[^ ;][^;]*(;[^;]+)* [0-9]+$' "$T/out.folded" | head -1)"
for id in $USERS; do
	grep -qE "^tokio;(.*;)?task $id $B$" "$T/out.folded" ||
		fail "folded: no line for task $id with $B bytes"
done
sum=$(awk '{ s += $NF } END { print s }' "$T/out.folded")
want=$(jq '[.tasks[].live_bytes] + [.runtime_overhead.live_bytes, .outside_tasks.live_bytes] | add' "$S")
expect_eq "folded values add up to live memory" "$sum" "$want"
if jq -e '[.tasks[] | select(.spawn_site_id != null)] | length > 0' "$S" >/dev/null; then
	f=$(jq -r "$SITE"' . as $s | [.tasks[] | select(.kind == "user")][0] | site($s)[0].function' "$S")
	grep -qF ";$f;task " "$T/out.folded" || fail "folded: spawn frame $f not above the task"
fi
pass "folded: $(wc -l <"$T/out.folded") stacks, $sum bytes"

# pprof: gzipped, and what go tool pprof reads.
"$MEMSCOPE" export --format pprof "$S" -o "$T/out.pb.gz" || fail "export pprof failed"
expect_eq "gzip magic" "$(head -c 2 "$T/out.pb.gz" | od -An -tx1 | tr -d ' \n')" 1f8b
gzip -t "$T/out.pb.gz" || fail "pprof output is not valid gzip"
pass "pprof: a gzip file ($(stat -c %s "$T/out.pb.gz") bytes)"

if ! command -v go >/dev/null; then
	echo "SKIP: go is not installed (apt-get install golang-go): the pprof profile was not checked with go tool pprof"
	exit 77
fi
export GOCACHE=$T/gocache GOPATH=$T/gopath HOME=$T
pprof() { timeout 120 go tool pprof "$@" 2>"$T/pprof.err" || fail "go tool pprof $*: $(cat "$T/pprof.err")"; }

pprof -top "$T/out.pb.gz" >"$T/top.txt"
grep -q '^Type: inuse_space$' "$T/top.txt" || fail "default sample type is not inuse_space"
for id in $USERS; do
	grep -qE "^ +97\.66kB .* task $id$" "$T/top.txt" ||
		fail "go tool pprof -top: task $id not listed with 97.66kB"
done
pprof -sample_index=inuse_space -top "$T/out.pb.gz" >"$T/inuse.txt"
for id in $USERS; do
	grep -qE " task $id$" "$T/inuse.txt" || fail "-sample_index=inuse_space: no task $id"
done
pprof -sample_index=alloc_objects -top "$T/out.pb.gz" >"$T/objs.txt"
grep -q '^Type: alloc_objects$' "$T/objs.txt" || fail "no alloc_objects"
pprof -sample_index=inuse_objects -top "$T/out.pb.gz" >/dev/null
pprof -sample_index=alloc_space -top "$T/out.pb.gz" >/dev/null
pprof -tags "$T/out.pb.gz" >"$T/tags.txt"
for id in $USERS; do
	grep -qE "^ +97\.7kB \( *[0-9.]+%\): $id$" "$T/tags.txt" || fail "-tags: no task_id $id"
done
grep -q 'state: Total' "$T/tags.txt" || fail "-tags: no state label"
grep -qE '^ +[0-9.]+[kM]B \( *100%\): pending$' "$T/tags.txt" || fail "-tags: tasks not pending"
# task_id is a string label (ids can exceed int64): a regexp selects one.
pprof "-tagfocus=task_id=^$(head -1 <<<"$USERS")\$" -top "$T/out.pb.gz" >"$T/focus.txt"
grep -q "Showing nodes accounting for 97.66kB" "$T/focus.txt" || fail "-tagfocus on one task"
pass "go tool pprof: -top, -sample_index, -tags and -tagfocus see every task"

# A snapshot with never-finished tasks: the reason label.
"$MEMSCOPED" -q -s "$T/demo.json" -- "$TOKIO/tk_demo" >"$T/demo.out" \
	2>"$T/demo.err" || fail "memscoped on tk_demo failed"
"$MEMSCOPE" export --format pprof "$T/demo.json" -o "$T/demo.pb.gz" || fail "export demo"
pprof -sample_index=alloc_space -tags "$T/demo.pb.gz" >"$T/dtags.txt"
for r in $(jq -r '[.tasks[] | select(.never_finished and .alloc_bytes > 0) |
	.never_finished_reason] | unique | .[]' "$T/demo.json"); do
	grep -qE "^ +[0-9.]+[kMG]?B \( *[0-9.]+%\): $r$" "$T/dtags.txt" ||
		fail "-tags: reason $r missing"
done
pprof -sample_index=alloc_space -top "$T/demo.pb.gz" >"$T/dtop.txt"
top=$(jq -r '[.tasks[]] | sort_by(-.alloc_bytes) | .[0].id' "$T/demo.json")
awk '/flat%/ { getline; print; exit }' "$T/dtop.txt" | grep -qE " task $top$" ||
	fail "-sample_index=alloc_space: task $top is not first"
pass "go tool pprof: reasons as labels; task $top allocated the most"
