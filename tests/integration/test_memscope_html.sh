#!/bin/bash
# memscope report --html on a real snapshot: one self-contained page
# (no script, no network), every snapshot string escaped, and it renders
# in headless Chromium with no console message at all (a script error or
# a Content-Security-Policy violation would log one). Skips (77) without
# chromium.
. "$(dirname "$0")/lib.sh"

MEMSCOPE=$MS_BUILD/user/offline/memscope
[ -x "$MEMSCOPE" ] || fail "memscope not built ($MEMSCOPE)"
[ -x "$TOKIO/tk_demo" ] || fail "tokio targets not built (tools/tokio/build.sh)"

count() { grep -o -- "$1" "$2" | wc -l; }

# tk_demo runs ~3 s: a timeline of a few samples, tasks of every kind.
"$MEMSCOPED" -q -s "$T/demo.json" -- "$TOKIO/tk_demo" >"$T/demo.out" \
	2>"$T/demo.err" || fail "memscoped on tk_demo failed"
"$MEMSCOPE" report --html "$T/demo.json" -o "$T/demo.html" ||
	fail "report --html failed"

head -c 15 "$T/demo.html" | grep -q '<!DOCTYPE html>' || fail "not an HTML page"
grep -q '</html>' "$T/demo.html" || fail "page not finished"
expect_eq "inline SVG plots" "$(count '<svg ' "$T/demo.html")" 3
for id in memory-over-time memory-by-task future-sizes \
	tasks-that-never-finished largest-tasks-by-live-bytes \
	largest-tasks-by-peak live-allocations-by-size-class warnings; do
	grep -q "id=\"$id\"" "$T/demo.html" || fail "no section $id"
done
grep -qi '<script' "$T/demo.html" && fail "the page has a script"
grep -Eq '(src|href)="(https?:)?//' "$T/demo.html" && fail "the page loads something"
# Every task with a known future size has a bar (up to 30).
nf=$(jq '[.tasks[] | select(.future_size != null)] | length' "$T/demo.json")
[ "$nf" -gt 30 ] && nf=30
expect_eq "future-size bars" "$(grep -c '<rect ' "$T/demo.html")" "$nf"
# Every never-finished task is in the table, flagged.
for id in $(jq -r '.tasks[] | select(.never_finished) | .id' "$T/demo.json"); do
	grep -q "<tr class=\"alert\"><td>$id</td>" "$T/demo.html" ||
		fail "never-finished task $id not in the table"
done
pass "page structure: three plots, the report's tables, nothing external"

# Hostile strings from the snapshot are text, never markup.
jq '.target.command = "</title><script>alert(1)</script><b onmouseover=x>" |
	.warnings = ["<img src=x onerror=alert(2)>", "a & b"]' \
	"$T/demo.json" >"$T/evil.json"
"$MEMSCOPE" report --html "$T/evil.json" -o "$T/evil.html" || fail "evil: report failed"
grep -qi '<script\|<img\|<b ' "$T/evil.html" && fail "snapshot strings became markup"
grep -q '&lt;img src=x onerror=alert(2)&gt;' "$T/evil.html" || fail "warning not escaped"
grep -q '&lt;/title&gt;&lt;script&gt;' "$T/evil.html" || fail "command not escaped"
pass "snapshot strings are escaped"

if ! command -v chromium >/dev/null; then
	echo "SKIP: chromium is not installed (apt-get install chromium); page not rendered"
	exit 77
fi

chrome() { # log-file args...
	local log=$1
	shift
	timeout 120 chromium --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update \
		--disable-sync --no-first-run --user-data-dir="$(mktemp -d "$T/chr.XXXXXX")" \
		--enable-logging=stderr --v=0 "$@" 2>"$log"
}

for page in demo evil; do
	chrome "$T/$page.chr.err" --dump-dom "file://$T/$page.html" >"$T/$page.dom" ||
		fail "$page: chromium --dump-dom failed"
	grep -Eq 'CONSOLE|Uncaught' "$T/$page.chr.err" &&
		fail "$page: console errors: $(grep -E 'CONSOLE|Uncaught' "$T/$page.chr.err")"
	expect_eq "$page: SVG plots in the DOM" "$(count '<svg ' "$T/$page.dom")" 3
	grep -q '<h1>memscope report</h1>' "$T/$page.dom" || fail "$page: no title in the DOM"
	grep -qi '<script' "$T/$page.dom" && fail "$page: a script in the DOM"
done
grep -q 'alert(1)' "$T/evil.dom" || fail "evil: the command text is gone from the DOM"
pass "Chromium parses both pages, no console errors"

chrome "$T/shot.err" --window-size=1100,2400 --screenshot="$T/demo.png" \
	"file://$T/demo.html" >/dev/null || fail "chromium --screenshot failed"
grep -Eq 'CONSOLE|Uncaught' "$T/shot.err" && fail "console errors while rendering"
expect_eq "screenshot is a PNG" "$(head -c 8 "$T/demo.png" | od -An -tx1 | tr -d ' \n')" \
	89504e470d0a1a0a
[ "$(stat -c %s "$T/demo.png")" -gt 20000 ] || fail "screenshot suspiciously small"
pass "Chromium renders the page ($(stat -c %s "$T/demo.png") bytes of PNG)"
