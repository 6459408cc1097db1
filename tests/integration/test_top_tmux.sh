#!/bin/bash
# memscoped --top in a real terminal (tmux): the rows on the screen match a
# snapshot taken at the same moment; the sort keys, the filter, the detail
# screen, pause and resizing work; 'q' gives the terminal back, and then the
# final snapshot and the summary are written. The target (tk_buffers) is
# frozen at READY, so the screen and the snapshot describe the same state.
. "$(dirname "$0")/lib.sh"

command -v tmux >/dev/null || { echo "SKIP: tmux is not installed"; exit 77; }
BUF=$TOKIO/tk_buffers
[ -x "$BUF" ] || { echo "SKIP: $BUF not built (tools/tokio/build.sh)"; exit 77; }

SOCK=$T/tmux.sock
SESSION=ms
tm() { tmux -f /dev/null -S "$SOCK" "$@"; }
trap 'tm kill-server >/dev/null 2>&1 || true; cleanup' EXIT

# screen [FILE]: the pane as text (and a copy in FILE, shown on failure).
screen() {
	if [ $# -gt 0 ]; then
		tm capture-pane -p -t "$SESSION" >"$1"
		cat "$1"
	else
		tm capture-pane -p -t "$SESSION"
	fi
}

# wait_screen REGEX [SECONDS]: until a line of the pane matches.
wait_screen() {
	local re=$1 limit=${2:-60} i=0
	while ! screen | grep -qE -- "$re"; do
		i=$((i + 1))
		if [ $i -gt $((limit * 20)) ]; then
			screen "$T/screen-timeout.out" >/dev/null
			fail "timed out waiting for /$re/ on the screen"
		fi
		sleep 0.05
	done
}

# wait_no_screen REGEX: until no line of the pane matches.
wait_no_screen() {
	local re=$1 i=0
	while screen | grep -qE -- "$re"; do
		i=$((i + 1))
		[ $i -le 1200 ] || fail "/$re/ stays on the screen"
		sleep 0.05
	done
}

key() { tm send-keys -t "$SESSION" "$@"; }
type_text() { tm send-keys -t "$SESSION" -l "$1"; }

# rows FILE COLUMN...: the task rows of a captured screen, in screen order,
# with the named columns (the names of the column header).
rows() {
	local file=$1
	shift
	awk -v want="$*" '
		/^ *ID / && !on { for (i = 1; i <= NF; i++) col[$i] = i; on = 1; next }
		on && NF == 0 { exit }
		on && $1 ~ /^[0-9]+$/ {
			n = split(want, w, " "); line = ""
			for (i = 1; i <= n; i++) line = line (i > 1 ? " " : "") $(col[w[i]])
			print line
		}' "$file"
}

# sites FILE: "ID SPAWN SITE..." for the task rows of a captured screen.
sites() {
	awk '/^ *ID / && !on { for (i = 1; i <= NF; i++) col[$i] = i; on = 1; next }
		on && NF == 0 { exit }
		on && $1 ~ /^[0-9]+$/ {
			s = $(col["SPAWN"])
			for (i = col["SPAWN"] + 1; i <= NF; i++) s = s " " $i
			print $1, s
		}' "$1"
}

# ---- start: memscoped --top launching tk_buffers, in a 160x40 terminal ----
fifo=$(make_fifo hold)
exec {MS_HOLD}<>"$fifo" # opened both ways: neither side blocks on open
cat >"$T/run.sh" <<EOF
"$MEMSCOPED" --top --never-finished 1000 -s "$T/snap-{n}.json" -- "$BUF" --tasks 4 --size 100000 <"$fifo"
rc=\$?
echo "memscoped-exit=\$rc"
echo "\$rc" >"$T/exit.tmp" && mv "$T/exit.tmp" "$T/exit"
exec sleep 600
EOF
tm new-session -d -x 160 -y 40 -s ms "bash $T/run.sh"

# The four buffer tasks are on the screen, pending.
wait_screen '^ +[0-9]+ user +pending '
wait_screen 'Tasks: 4 alive'
[ "$(screen | grep -cE '^ +[0-9]+ user +pending ')" = 4 ] ||
	fail "want 4 pending user tasks on the screen"
screen | grep -qE '^(READY|TRUTH|memscoped: )' &&
	fail "log or target output written over the screen"
pass "the view shows the tasks, nothing garbles it"

# ---- the screen matches a snapshot taken at the same moment -----------------
key e
wait_screen 'ended shown'
key b # exact bytes, comparable to the snapshot's
wait_screen '^ +[0-9]+ user +pending .* 100000 '
key s
wait_screen 'snapshot written to .*snap-0001\.json'
screen "$T/screen-snap.out" >/dev/null
snap=$T/snap-0001.json
[ -s "$snap" ] || fail "no snapshot file after 's'"
rows "$T/screen-snap.out" ID KIND STATE REASON LIVE PEAK ALLOCS FUTURE |
	sort -n >"$T/shown.txt"
jq -r '.tasks[] | "\(.id) \(.kind) \(.state) \(.never_finished_reason // "-") \(.live_bytes) \(.peak_live_bytes) \(.alloc_count) \(.future_size // "-")"' \
	"$snap" | sort -n >"$T/snap.txt"
[ "$(wc -l <"$T/shown.txt")" -ge 6 ] || fail "too few rows parsed: $(cat "$T/shown.txt")"
diff "$T/snap.txt" "$T/shown.txt" >"$T/rows-diff.out" ||
	fail "rows on the screen differ from the snapshot"
user_live=$(awk '$2 == "user" { print $5 }' "$T/shown.txt" | sort -u)
expect_eq "live bytes of every buffer task" "$user_live" 100000
expect_eq "tasks line" "$(grep -oE 'Tasks: [0-9]+ alive, [0-9]+ completed, [0-9]+ cancelled' "$T/screen-snap.out")" \
	"$(jq -r '.async | "Tasks: \(.tasks_alive) alive, \(.tasks_completed) completed, \(.tasks_cancelled) cancelled"' "$snap")"
blocks=$(grep -oE 'live in [0-9]+ blocks' "$T/screen-snap.out" | grep -oE '[0-9]+')
expect_eq "live blocks in the header" "$blocks" "$(jqv "$snap" .totals.live_count)"
grep -q "Lost: $(jqv "$snap" .totals.lost_events)" "$T/screen-snap.out" ||
	fail "lost events differ"
# Spawn sites: the cell starts with the innermost frame's function.
jq -r "$SITE"' . as $s | .tasks[] | "\(.id) \(site($s)[0].function // "-")"' "$snap" |
	sort -n >"$T/snap-sites.txt"
sites "$T/screen-snap.out" | sort -n >"$T/shown-sites.txt"
while read -r id fn; do
	cell=$(awk -v id="$id" '$1 == id { $1 = ""; print substr($0, 2) }' "$T/shown-sites.txt")
	case "$cell" in
	"$fn"*) ;;
	*) fail "task $id: spawn site on the screen '$cell', snapshot '$fn'" ;;
	esac
done <"$T/snap-sites.txt"
grep -q ' tk_buffers::main' "$T/shown-sites.txt" || fail "no spawn site shown"
pass "rows (id, kind, state, reason, live, peak, allocs, future, spawn site) and header match snapshot 1"

# ---- sort keys -------------------------------------------------------------
# check_order COLUMN -r|'': the column's values (as numbers, "-" = 0) are in
# that order on the screen.
check_order() {
	local col=$1 dir=$2 f=$T/screen-sort-$1$2.out
	screen "$f" >/dev/null
	rows "$f" "$col" | sed 's/^-$/0/' >"$T/order.txt"
	[ "$(wc -l <"$T/order.txt")" -ge 6 ] || fail "sort $col: rows missing"
	sort -n $dir -c "$T/order.txt" 2>/dev/null ||
		fail "sort by $col ${dir:+(descending)}: not in order: $(tr '\n' ' ' <"$T/order.txt")"
}
key f
wait_screen 'sort future desc'
check_order FUTURE -r
key f
wait_screen 'sort future asc'
check_order FUTURE ''
key p
wait_screen 'sort peak desc'
check_order PEAK -r
key o
wait_screen 'sort polls desc'
check_order POLLS -r
key l
wait_screen 'sort live desc'
check_order LIVE -r
key '>'
wait_screen 'sort peak desc'
key '<'
wait_screen 'sort live desc'
key a
wait_screen 'sort age desc'
key l
wait_screen 'sort live desc'
pass "sort keys l p a o f, reverse, < >"

# ---- filter ------------------------------------------------------------------
# The filter matches ids, states, reasons and spawn sites.
id5=$(jq -r "$SITE"' . as $s | [.tasks[] | select((.id | tostring | contains("5")) or
	((site($s)[0] // {}) | "\(.function // "") \(.file // "" | split("/") | last):\(.line // "")" |
	contains("5"))) | .id | tostring] | sort | join(" ")' "$snap")
key /
wait_screen 'Filter: '
type_text 5
key Enter
wait_screen 'filter "5"'
screen "$T/screen-filter.out" >/dev/null
expect_eq "rows matching '5'" "$(rows "$T/screen-filter.out" ID | sort | tr '\n' ' ' | sed 's/ $//')" "$id5"
grep -qE '^ *(runtime|outside) ' "$T/screen-filter.out" &&
	fail "filter '5' kept the runtime/outside rows"
key Escape
wait_no_screen 'filter "'
key /
type_text running
key Enter
wait_screen 'filter "running"'
screen "$T/screen-filter2.out" >/dev/null
expect_eq "rows in state running" \
	"$(rows "$T/screen-filter2.out" ID | sort -n | tr '\n' ' ' | sed 's/ $//')" \
	"$(jq -r '[.tasks[] | select(.state == "running") | .id] | sort | map(tostring) | join(" ")' "$snap")"
key Escape
wait_no_screen 'filter "'
pass "filter by id and by state; Esc clears it"

# ---- detail, pause, help -------------------------------------------------------
screen "$T/screen-list.out" >/dev/null
first=$(rows "$T/screen-list.out" ID | head -1)
key Enter
wait_screen 'Allocation sites \(sampled, estimated\)'
screen "$T/screen-detail.out" >/dev/null
grep -qE "^ Task $first +user, pending" "$T/screen-detail.out" ||
	fail "detail is not task $first"
grep -qE '^ +live +100000 B \(97\.7K\) in 1 block' "$T/screen-detail.out" ||
	fail "detail: live bytes"
grep -qE '^ +children +none' "$T/screen-detail.out" || fail "detail: children"
key Escape
wait_screen '^ +ID KIND'
key Space
wait_screen ' PAUSED '
key Space
wait_no_screen ' PAUSED '
key '?'
wait_screen 'memscoped: keys'
key x
wait_screen '^ +ID KIND'
pass "detail screen, pause, help"

# ---- resize --------------------------------------------------------------------
tm resize-window -t "$SESSION" -x 80 -y 24
wait_no_screen 'SPAWN SITE'
wait_screen '^ +ID .*STATE .*LIVE'
screen "$T/screen-80.out" >/dev/null
expect_eq "rows at 80 columns" "$(rows "$T/screen-80.out" ID | sort -n | tr '\n' ' ')" \
	"$(cut -d' ' -f1 "$T/shown.txt" | tr '\n' ' ')"
tail -1 "$T/screen-80.out" | grep -q '^q Quit' || fail "no key bar at 80x24"
head -1 "$T/screen-80.out" | grep -q 'memscoped  pid' || fail "no title at 80x24"
tm resize-window -t "$SESSION" -x 30 -y 5
wait_screen 'terminal too small'
tm resize-window -t "$SESSION" -x 160 -y 40
wait_screen 'SPAWN SITE'
wait_screen '^q Quit'
pass "resize: 80x24 drops columns, tiny says so, 160x40 again"

# ---- quit: terminal back, final snapshot and summary ----------------------------
key q
wait_for "$T/exit" '.' 120
expect_eq "memscoped exit status" "$(cat "$T/exit")" 0
screen "$T/screen-end.out" >/dev/null
expect_eq "alternate screen after quit" "$(tm display -p -t "$SESSION" '#{alternate_on}')" 0
grep -q '^q Quit' "$T/screen-end.out" && fail "the view is still on the terminal"
grep -q '^memscoped summary' "$T/screen-end.out" || fail "no summary after quit"
grep -q '^  tasks: 4 alive' "$T/screen-end.out" || fail "summary: tasks"
grep -q 'memscoped: snapshot written to .*snap-0002\.json' "$T/screen-end.out" ||
	fail "final snapshot not reported"
expect_eq "final snapshot schema" "$(jqv "$T/snap-0002.json" .schema)" memscope.snapshot/1
grep -q '^READY' "$T/screen-end.out" || fail "the target's output was not printed after the view"
pass "'q': terminal restored, summary, final snapshot"

# The target is unharmed: released, it finishes by itself.
tpid=$(jqv "$snap" .target.pid)
kill -0 "$tpid" || fail "the target died with memscoped"
echo go >&$MS_HOLD
wait_gone "$tpid"
exec {MS_HOLD}>&-
pass "the target runs on after memscoped and finishes"

# ---- a busy target: the view loses no events; it ends with the target -----
SESSION=busy
cat >"$T/busy.sh" <<EOF
"$MEMSCOPED" --top -s "$T/busy.json" -- "$TARGETS/bench_loop" 3000000
echo "\$?" >"$T/busy-exit.tmp" && mv "$T/busy-exit.tmp" "$T/busy-exit"
exec sleep 600
EOF
tm new-session -d -x 120 -y 30 -s busy "bash $T/busy.sh"
wait_screen 'Events: [0-9.]+[kM]/s'
wait_for "$T/busy-exit" '.' 120
expect_eq "busy: memscoped exit status" "$(cat "$T/busy-exit")" 0
expect_eq "busy: lost events" "$(jqv "$T/busy.json" .totals.lost_events)" 0
expect_eq "busy: allocations" "$(jqv "$T/busy.json" .totals.alloc_count)" 3000000
screen "$T/screen-busy.out" >/dev/null
grep -q '^memscoped summary' "$T/screen-busy.out" || fail "busy: no summary"
grep -q '^ns_per_pair ' "$T/screen-busy.out" || fail "busy: the target's output is lost"
pass "3M allocations with the view up: none lost; the view ends with the target"

# ---- --pid, quit with Ctrl-C: memscoped leaves, the target stays --------------
SESSION=pid
fifo=$(make_fifo pid)
"$BUF" --wait-go --tasks 2 --size 50000 <"$fifo" >"$T/pid-target.out" \
	2>"$T/pid-target.err" &
tpid=$!
MS_PIDS+=("$tpid")
exec {MS_HOLD}>"$fifo"
wait_for "$T/pid-target.out" '^WAITING'
cat >"$T/pid.sh" <<EOF
"$MEMSCOPED" --top -s "$T/pid.json" --pid $tpid
echo "\$?" >"$T/pid-exit.tmp" && mv "$T/pid-exit.tmp" "$T/pid-exit"
exec sleep 600
EOF
tm new-session -d -x 120 -y 30 -s pid "bash $T/pid.sh"
wait_screen 'attached to pid'
echo go >&$MS_HOLD
wait_for "$T/pid-target.out" '^READY'
wait_screen 'Tasks: 2 alive'
[ "$(screen | grep -cE '^ +[0-9]+ user +pending .* 48\.8K ')" = 2 ] ||
	fail "--pid: want 2 tasks holding 48.8K"
key C-c
wait_for "$T/pid-exit" '.' 120
expect_eq "--pid: memscoped exit status" "$(cat "$T/pid-exit")" 0
expect_eq "--pid: alternate screen after Ctrl-C" "$(tm display -p -t "$SESSION" '#{alternate_on}')" 0
screen | grep -q '^memscoped summary' || fail "--pid: no summary"
expect_eq "--pid: tasks alive in the final snapshot" "$(jqv "$T/pid.json" .async.tasks_alive)" 2
kill -0 "$tpid" || fail "--pid: Ctrl-C reached the target"
echo go >&$MS_HOLD
exec {MS_HOLD}>&-
wait "$tpid" || fail "--pid: the target failed"
pass "--pid: Ctrl-C quits memscoped only; summary and snapshot written"
