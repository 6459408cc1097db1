#!/bin/bash
# A stripped binary and its separate debug file. tk_sites (spawn_workers
# spawns the tasks, fill_buffer allocates their buffers, both
# #[inline(never)]) is copied, stripped of every symbol, and its symbols
# kept apart with objcopy --only-keep-debug, as distributions ship them.
#  (a) no debug file: memscoped says in one line that spawn sites need
#      one; sampled allocation sites are module+offset frames with the
#      build id and no function names;
#  (b) --debug-dir DIR holding it under .build-id: spawn sites name
#      spawn_workers as in test_sites.sh;
#  (c) memscope report/export --debug-dir DIR names, from (a)'s snapshot,
#      what memscoped could not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/async_lib.sh"

MEMSCOPE=$MS_BUILD/user/offline/memscope
skip() { echo "skipped: $*"; exit 77; }
for tool in objcopy strip readelf jq; do
	command -v $tool >/dev/null || skip "$tool not installed"
done
[ -x "$TOKIO/tk_sites" ] || skip "tk_sites not built (tools/tokio/build.sh)"
[ -x "$MEMSCOPE" ] || fail "memscope not built ($MEMSCOPE)"

# The stripped copy runs from bin/; its debug file is only under
# dbg/.build-id/, where nothing looks unless told (the debuglink name,
# tk_stripped.debug, is next to neither).
mkdir "$T/bin" "$T/dbg"
BIN=$T/bin/tk_stripped
cp "$TOKIO/tk_sites" "$BIN"
objcopy --only-keep-debug "$BIN" "$T/tk_stripped.debug"
strip --strip-all "$BIN"
objcopy --add-gnu-debuglink="$T/tk_stripped.debug" "$BIN"
ID=$(readelf -n "$BIN" | awk '/Build ID:/ { print $3 }')
[ -n "$ID" ] || fail "tk_sites has no build id"
readelf -S "$BIN" | grep -q '\.symtab' && fail "strip left a .symtab"
mkdir -p "$T/dbg/.build-id/${ID:0:2}"
mv "$T/tk_stripped.debug" "$T/dbg/.build-id/${ID:0:2}/${ID:2}.debug"
# A debug file somewhere the test does not control would spoil (a).
[ ! -e "/usr/lib/debug/.build-id/${ID:0:2}/${ID:2}.debug" ] ||
	skip "a debug file for $ID is installed in /usr/lib/debug"

# Frames of the stripped module, as jq filters.
MOD='[.sites[].frames[] | select(.module == "tk_stripped")]'

# ---- (a) no debug file ----------------------------------------------------
# --sample-bytes 1: every allocation is sampled, so fill_buffer's four
# buffers are allocation sites whatever the sampling draws.
session nodebug launch --sample-bytes 1 -- "$BIN" --tasks 4 --size 100000
snap=$T/nodebug.ready.json
n=$(grep -c 'stripped and no debug file was found' "$T/nodebug.err" || true)
expect_eq "(a) one line: spawn sites need a debug file" "$n" 1
check "$snap" "(a) stripped frames carry the build id, an address and the path" \
	"$MOD"' | length > 0 and all(.[]; .build_id == $id and .addr > 0 and
		.path == $bin)' true --arg id "$ID" --arg bin "$BIN"
check "$snap" "(a) no function names in the stripped module" \
	"$MOD"' | map(select(.function != null)) | length' 0
check "$snap" "(a) the tasks have no spawn site" \
	'[.tasks[] | select(.kind == "user" and .spawn_site_id != null)] | length' 0
# fill_buffer's address (file offsets are addresses: the debug file has
# the same layout) is in some site's first frame.
read -r lo size < <(readelf -sW "$T/dbg/.build-id/${ID:0:2}/${ID:2}.debug" \
	2>/dev/null | awk '$8 ~ /^_ZN8tk_sites11fill_buffer/ { print $2, $3; exit }')
[ -n "$lo" ] || fail "no fill_buffer symbol in the debug file"
lo=$((16#$lo))
check "$snap" "(a) a site starts in fill_buffer (by address), 4 live buffers" \
	'[.sites[] | select(.frames[0].addr >= $lo and
		.frames[0].addr < $lo + $size) | .live_count] | add' 4 \
	--argjson lo "$lo" --argjson size "$size"

# ---- (b) --debug-dir --------------------------------------------------------
session debug launch --debug-dir "$T/dbg" -- "$BIN" --tasks 4 --size 100000
snap=$T/debug.ready.json
grep -q 'no debug file was found' "$T/debug.err" &&
	fail "(b) memscoped did not find the debug file in --debug-dir"
check "$snap" "(b) tasks spawned at tk_sites::spawn_workers" \
	"$SITE"' . as $s | [.tasks[] | select(.kind == "user" and
		site($s)[0].function == "tk_sites::spawn_workers")] | length' 4
check "$snap" "(b) the frames still carry the build id" \
	"$MOD"' | all(.[]; .build_id == $id and .addr > 0)' true --arg id "$ID"

# ---- (c) memscope report / export --debug-dir -----------------------------
# sites REPORT: its allocation sites section, in REPORT.sites (a file:
# grep -q on a pipe would fail it under pipefail).
sites() {
	awk '$0 == "Allocation sites" { on = 1; next }
		on && /^[A-Z]/ && !/^--/ { exit } on' "$1" >"$1.sites"
	echo "$1.sites"
}
"$MEMSCOPE" report --top 1000 "$T/nodebug.ready.json" >"$T/r0.txt" \
	2>"$T/r0.err" || fail "memscope report failed: $(cat "$T/r0.err")"
grep -q "tk_stripped+0x[0-9a-f]* (build id ${ID:0:12}" "$(sites "$T/r0.txt")" ||
	fail "(c) without the debug file: no module+0xADDR (build id) frame"
grep -q 'tk_sites::' "$T/r0.txt.sites" &&
	fail "(c) without the debug file, a name came from somewhere"
pass "(c) without --debug-dir: module+0xADDR (build id ${ID:0:12}...)"

"$MEMSCOPE" report --top 1000 --debug-dir "$T/dbg" "$T/nodebug.ready.json" \
	>"$T/r1.txt" 2>"$T/r1.err" ||
	fail "memscope report --debug-dir failed: $(cat "$T/r1.err")"
[ ! -s "$T/r1.err" ] || fail "report wrote to stderr: $(cat "$T/r1.err")"
row=$(grep -E ' tk_sites::fill_buffer$' "$(sites "$T/r1.txt")" | head -n1)
[ -n "$row" ] || fail "(c) report --debug-dir: no fill_buffer allocation site"
pass "(c) report --debug-dir names the allocation site: $row"

# The debug file found by .gnu_debuglink under DIR (DIR/<name>) as well.
mkdir "$T/dbg2"
cp "$T/dbg/.build-id/${ID:0:2}/${ID:2}.debug" "$T/dbg2/tk_stripped.debug"
"$MEMSCOPE" report --top 1000 --debug-dir "$T/dbg2" "$T/nodebug.ready.json" \
	>"$T/r2.txt" 2>&1 || fail "memscope report (debuglink) failed"
grep -qE ' tk_sites::fill_buffer$' "$(sites "$T/r2.txt")" ||
	fail "(c) debug file by .gnu_debuglink in --debug-dir not used"
pass "(c) report --debug-dir finds the debug file by its .gnu_debuglink name"

# Spawn sites memscoped could not name: (b)'s snapshot with the stripped
# module's names taken out, as a run without the debug file would have
# them had it found the spawn functions.
jq ".sites[].frames[] |= (if .module == \"tk_stripped\" then
	.function = null else . end)" "$T/debug.ready.json" >"$T/unnamed.json"
"$MEMSCOPE" export --format folded "$T/unnamed.json" >"$T/f0.txt" ||
	fail "memscope export failed"
grep -q 'tk_sites::spawn_workers' "$T/f0.txt" &&
	fail "(c) export without the debug file named spawn_workers"
"$MEMSCOPE" export --format folded --debug-dir "$T/dbg" "$T/unnamed.json" \
	>"$T/f1.txt" || fail "memscope export --debug-dir failed"
n=$(grep -c '^tokio;.*tk_sites::spawn_workers;task [0-9]*' "$T/f1.txt" || true)
expect_eq "(c) export --debug-dir: folded stacks through spawn_workers" "$n" 4
"$MEMSCOPE" report --debug-dir "$T/dbg" "$T/unnamed.json" >"$T/r3.txt" ||
	fail "memscope report failed"
awk '$0 == "Largest tasks by live bytes" { on = 1; next }
	on && /^[A-Z]/ && !/^--/ { exit } on' "$T/r3.txt" >"$T/r3.live"
n=$(grep -c ' tk_sites::spawn_workers$' "$T/r3.live" || true)
expect_eq "(c) report --debug-dir: spawn sites of the 4 tasks" "$n" 4
pass "(c) export and report --debug-dir name spawn sites memscoped left unnamed"

# --debug-dir takes a directory: one line on stderr, exit 2.
for cmd in "$MEMSCOPED --debug-dir $T/nowhere -- true" \
	"$MEMSCOPE report --debug-dir $T/nowhere $T/unnamed.json"; do
	rc=0
	$cmd >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	expect_eq "$cmd: exit status" "$rc" 2
	expect_eq "$cmd: stderr lines" "$(wc -l <"$T/bad.err")" 1
done
pass "--debug-dir DIR that is not a directory: one line, exit 2"
