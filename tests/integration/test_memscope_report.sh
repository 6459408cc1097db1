#!/bin/bash
# memscope report on real snapshots: the figures it prints are the
# snapshot's, it runs without root, and bad input or usage gets one line
# on stderr and exit code 2, never a crash. Output files are replaced
# atomically and never written through a symbolic link.
. "$(dirname "$0")/lib.sh"

MEMSCOPE=$MS_BUILD/user/offline/memscope
[ -x "$MEMSCOPE" ] || fail "memscope not built ($MEMSCOPE)"
[ -x "$TOKIO/tk_demo" ] || fail "tokio targets not built (tools/tokio/build.sh)"

# nobody must be able to reach its files: a world-readable corner of $T.
chmod 711 "$T"
P=$T/pub
mkdir -m 777 "$P"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)

# section FILE TITLE: the lines of one report section.
section() {
	awk -v t="$2" '$0 == t { on = 1; next } on && /^[A-Z]/ && !/^--/ { exit } on' "$1"
}

# ---- 1. tk_demo: aborted, no-waker and shutdown tasks --------------------
"$MEMSCOPED" -q -s "$T/demo.json" -- "$TOKIO/tk_demo" >"$T/demo.out" \
	2>"$T/demo.err" || fail "memscoped on tk_demo failed"
cp "$T/demo.json" "$P/demo.json"
chmod 644 "$P/demo.json"
"${NOBODY[@]}" "$MEMSCOPE" report "$P/demo.json" >"$T/demo.txt" 2>"$T/report.err" ||
	fail "memscope report as nobody failed: $(cat "$T/report.err")"
[ ! -s "$T/report.err" ] || fail "report wrote to stderr: $(cat "$T/report.err")"
pass "memscope report runs without root"

grep -q "^  target .*tk_demo$" "$T/demo.txt" || fail "no target line"
grep -q "^  status .*exited with status 0$" "$T/demo.txt" || fail "no exit status"
grep -q "^  runtime  *tokio$" "$T/demo.txt" || fail "no runtime"
alloc=$(jqv "$T/demo.json" '.allocators[0]')
grep -qF "  allocators  $alloc" "$T/demo.txt" ||
	fail "no allocators line with '$alloc'"
grep -q "^  events  *$(jqv "$T/demo.json" .totals.records) records, 0 lost$" \
	"$T/demo.txt" || fail "events line wrong"
grep -q "INCOMPLETE" "$T/demo.txt" && fail "complete snapshot reported incomplete"
nf=$(jqv "$T/demo.json" .async.never_finished_count)
grep -qE "^  never finished +$nf$" "$T/demo.txt" || fail "never finished count not $nf"
lf=$(jqv "$T/demo.json" .async.largest_future_size)
grep -qE "^  largest future size +.*\($lf bytes\)$" "$T/demo.txt" ||
	fail "largest future size not $lf"
fo=$(jqv "$T/demo.json" .async.future_state_overhead)
grep -qE "^  future state overhead +.*\($fo bytes\)" "$T/demo.txt" ||
	fail "future state overhead not $fo"
pass "report header and async analysis match the snapshot"

# Every never-finished task is listed, with its reason and state; the
# counts agree with what tk_demo says it did.
section "$T/demo.txt" "Tasks that never finished" >"$T/nf.txt"
jq -r '.tasks[] | select(.never_finished_reason != null) |
	"\(.id) \(.never_finished_reason) \(.state) \(.polls)"' "$T/demo.json" |
	while read -r id reason state polls; do
		grep -qE "^  $id +$reason +$state +.* $polls +[0-9.]+ [KMG]?i?B( |$)" "$T/nf.txt" ||
			fail "task $id ($reason, $state, $polls polls) not in the never-finished table"
	done
rows=$(grep -cE '^  [0-9]+ ' "$T/nf.txt")
expect_eq "never-finished rows" "$rows" "$nf"
truth=$(truth "$T/demo.err")
expect_eq "aborted rows" "$(grep -cE '^  [0-9]+ +aborted ' "$T/nf.txt")" \
	"$(jq -r .aborted <<<"$truth")"
expect_eq "no-waker rows" "$(grep -cE '^  [0-9]+ +no-waker ' "$T/nf.txt")" \
	"$(jq -r .nowaker <<<"$truth")"
pass "never-finished tasks listed with reason, state and polls ($rows)"

# By peak: the first row is the task with the highest peak.
top=$(jq -r '[.tasks[] | select(.peak_live_bytes > 0)] |
	sort_by(-.peak_live_bytes, .id) | .[0].id' "$T/demo.json")
first=$(section "$T/demo.txt" "Largest tasks by peak" | awk 'NR > 2 { print $1; exit }')
expect_eq "largest task by peak" "$first" "$top"
pass "largest task by peak is task $top"

# ---- 2. tk_buffers at READY: tasks holding memory ------------------------
N=4
B=100000
exec {MS_HOLD}<>"$(make_fifo buf)"
"$MEMSCOPED" -q -s "$T/buf.json" -- "$TOKIO/tk_buffers" --tasks $N --size $B \
	<"$T/buf.fifo" >"$T/buf.out" 2>"$T/buf.err" &
ms=$!
MS_PIDS+=("$ms")
wait_for "$T/buf.out" '^READY$'
kill -USR1 "$ms"
wait_for "$T/buf.err" 'snapshot written to'
cp "$T/buf.json" "$T/ready.json"
echo release >&"$MS_HOLD"
wait "$ms" || fail "memscoped on tk_buffers failed"
exec {MS_HOLD}>&-

"$MEMSCOPE" report "$T/ready.json" >"$T/ready.txt" || fail "report failed"
section "$T/ready.txt" "Largest tasks by live bytes" >"$T/live.txt"
for id in $(jq -r '.tasks[] | select(.kind == "user") | .id' "$T/ready.json"); do
	grep -qE "^  $id +user +pending +97\.7 KiB +1 " "$T/live.txt" ||
		fail "task $id not listed holding 97.7 KiB in one block"
done
expect_eq "tasks holding memory" "$(grep -cE '^  [0-9]+ +user' "$T/live.txt")" $N
"$MEMSCOPE" report --top 2 "$T/ready.json" >"$T/top2.txt" || fail "--top 2 failed"
section "$T/top2.txt" "Largest tasks by live bytes" | grep -q "and $((N - 2)) more tasks" ||
	fail "--top 2 did not cut the table"
pass "largest tasks by live bytes: the $N buffers of $B bytes"

# ---- 3. bad input: one line, exit 2 -------------------------------------
expect_bad() { # what want-regex command...
	local what=$1 re=$2 rc=0 lines
	shift 2
	timeout 30 "$@" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	expect_eq "$what: exit code ($(cat "$T/bad.err"))" "$rc" 2
	lines=$(wc -l <"$T/bad.err")
	expect_eq "$what: lines on stderr ($(cat "$T/bad.err"))" "$lines" 1
	grep -qE -- "^memscope: error: .*$re" "$T/bad.err" ||
		fail "$what: '$(cat "$T/bad.err")' does not match /$re/"
	[ ! -s "$T/bad.out" ] || fail "$what: wrote to stdout"
	pass "$what: $(cat "$T/bad.err")"
}

head -c $(($(stat -c %s "$T/demo.json") / 2)) "$T/demo.json" >"$T/truncated.json"
echo '{"hello": "world"}' >"$T/foreign.json"
echo 'this is not JSON' >"$T/text.json"
: >"$T/empty.json"
jq '.tasks[0].live_bytes = "12"' "$T/demo.json" >"$T/wrongtype.json"
jq '.schema = "memscope.snapshot/9"' "$T/demo.json" >"$T/future.json"
jq '.taken_ns = -3' "$T/demo.json" >"$T/negative.json"

expect_bad "missing file" "$T/nope.json: cannot open: No such file" \
	"$MEMSCOPE" report "$T/nope.json"
expect_bad "truncated snapshot" "truncated.json: truncated" \
	"$MEMSCOPE" report "$T/truncated.json"
expect_bad "foreign JSON" 'foreign.json: not a memscope snapshot: no "schema" field' \
	"$MEMSCOPE" report "$T/foreign.json"
expect_bad "not JSON" "text.json: not a memscope snapshot: not JSON" \
	"$MEMSCOPE" report "$T/text.json"
expect_bad "binary file" "binary data" "$MEMSCOPE" report "$MEMSCOPE"
expect_bad "empty file" "empty.json: empty file" "$MEMSCOPE" report "$T/empty.json"
expect_bad "wrong field type" 'tasks\[0\]\.live_bytes: expected a non-negative integer, found a string' \
	"$MEMSCOPE" report "$T/wrongtype.json"
expect_bad "newer schema" 'unsupported snapshot version "memscope.snapshot/9"' \
	"$MEMSCOPE" report "$T/future.json"
expect_bad "negative number" "taken_ns: expected a non-negative integer, found -3" \
	"$MEMSCOPE" report "$T/negative.json"
expect_bad "directory" "cannot read: Is a directory" "$MEMSCOPE" report "$T"
expect_bad "unreadable as nobody" "cannot open: Permission denied" \
	"${NOBODY[@]}" "$MEMSCOPE" report "$T/demo.json"
expect_bad "bad input for diff" "truncated.json: truncated" \
	"$MEMSCOPE" diff "$T/demo.json" "$T/truncated.json"
expect_bad "bad input for export" "foreign.json: not a memscope snapshot" \
	"$MEMSCOPE" export --format json "$T/foreign.json"
expect_bad "bad input on stdin" "standard input: truncated" \
	"$MEMSCOPE" report - <"$T/truncated.json"

expect_bad "no command" "which command" "$MEMSCOPE"
expect_bad "unknown command" "unknown command 'frob'" "$MEMSCOPE" frob
expect_bad "option before command" "unknown option --html" "$MEMSCOPE" --html x
expect_bad "unknown option" "report: unknown option --frob" \
	"$MEMSCOPE" report --frob "$T/demo.json"
expect_bad "no file" "report: which snapshot" "$MEMSCOPE" report
expect_bad "two files" "report: one snapshot FILE" \
	"$MEMSCOPE" report "$T/demo.json" "$T/demo.json"
expect_bad "bad --top" "--top wants a number" \
	"$MEMSCOPE" report --top 0 "$T/demo.json"
expect_bad "missing -o value" "report: option -o needs a value" \
	"$MEMSCOPE" report "$T/demo.json" -o
expect_bad "diff with one file" "diff: two snapshots" "$MEMSCOPE" diff "$T/demo.json"
expect_bad "export without format" "export: which format" \
	"$MEMSCOPE" export "$T/demo.json"
expect_bad "export bad format" "export: unknown format 'xml'" \
	"$MEMSCOPE" export --format xml "$T/demo.json"

for args in "--help" "help" "report --help" "diff --help" "export --help" \
	"help export"; do
	# shellcheck disable=SC2086 # split on purpose
	"$MEMSCOPE" $args >"$T/help.out" 2>&1 || fail "memscope $args: exit $?"
	grep -q "^usage: memscope" "$T/help.out" || fail "memscope $args: no usage"
done
"$MEMSCOPE" --version | grep -q '^memscope [0-9]' || fail "--version"
pass "--help for every command"

# ---- 4. output files ------------------------------------------------------
mkdir "$T/out"
"$MEMSCOPE" report "$T/demo.json" -o "$T/out/r.txt" || fail "-o failed"
cmp -s "$T/out/r.txt" <("$MEMSCOPE" report "$T/demo.json") ||
	fail "-o output differs from stdout output"
ino=$(stat -c %i "$T/out/r.txt")
"$MEMSCOPE" report "$T/ready.json" -o "$T/out/r.txt" || fail "-o replace failed"
[ "$(stat -c %i "$T/out/r.txt")" != "$ino" ] || fail "output rewritten in place, not renamed"
expect_eq "files in the output directory" "$(ls -A "$T/out")" r.txt
pass "-o replaces the file atomically, no temporary file left"

echo keep >"$T/victim"
ln -s "$T/victim" "$T/out/link.txt"
expect_bad "output through a symlink" "link.txt: is a symbolic link; refusing" \
	"$MEMSCOPE" report "$T/demo.json" -o "$T/out/link.txt"
expect_eq "symlink target untouched" "$(cat "$T/victim")" keep
expect_bad "output is a directory" "out: is a directory" \
	"$MEMSCOPE" report "$T/demo.json" -o "$T/out"
rc=0
"$MEMSCOPE" report "$T/demo.json" -o "$T/no/such/dir.txt" 2>"$T/nodir.err" || rc=$?
expect_eq "output in a missing directory: exit code" "$rc" 1
expect_eq "output in a missing directory: lines" "$(wc -l <"$T/nodir.err")" 1
rc=0
"$MEMSCOPE" report "$T/demo.json" -o /dev/full 2>"$T/full.err" || rc=$?
expect_eq "write error: exit code" "$rc" 1
grep -q "No space left" "$T/full.err" || fail "write error not reported"
[ -c /dev/full ] || fail "/dev/full replaced"
pass "output errors: exit 1 with one line, devices are written not replaced"
