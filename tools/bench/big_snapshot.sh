#!/bin/bash
# big_snapshot.sh - memscope's time and peak memory on a large snapshot:
# a real one (the fuzz seed, from tk_demo with spawn sites) replicated
# with jq to N tasks (default 300000, about 200 MB) over 5000 sites.
# Each command runs with this build and, with --before DIR, with an
# older build's memscope, side by side.
# usage: tools/bench/big_snapshot.sh [--before BUILD_DIR] [N]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NEW=${BUILD:-$ROOT/build}/user/offline/memscope
OLD=
if [ "${1:-}" = --before ]; then
	OLD=$2/user/offline/memscope
	shift 2
fi
N=${1:-300000}
SEED=$ROOT/tests/fuzz/corpus/good-demo-spawn-sites.json
for b in "$NEW" ${OLD:+"$OLD"} jq /usr/bin/time; do
	command -v "$b" >/dev/null || { echo "big_snapshot: $b not found" >&2; exit 2; }
done

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
jq -c --argjson n "$N" '
	.tasks as $t | ($t | length) as $m |
	.tasks = [range(0; $n) as $i | $t[$i % $m] | .id = ($i + 10) |
		  .key = ($i * 4096 + 65536) |
		  if .spawn_site_id then .spawn_site_id = ($i % 5000 + 1)
		  else . end] |
	.sites as $s |
	.sites = [range(0; 5000) as $j | $s[$j % ($s | length)] | .id = ($j + 1)]
' "$SEED" >"$T/a.json"
# B: the same with every task holding 1 KiB more, for diff.
jq -c '.tasks |= map(.live_bytes += 1024)' "$T/a.json" >"$T/b.json"
size=$(stat -c %s "$T/a.json")

run() { # label binary args...
	local label=$1 bin=$2
	shift 2
	/usr/bin/time -f "%e %M" -o "$T/time" "$bin" "$@" >/dev/null 2>"$T/err" ||
		{ echo "big_snapshot: $label failed: $(head -1 "$T/err")" >&2; exit 1; }
	read -r secs kib <"$T/time"
	printf '%s|%s|%s' "$label" "$secs s" "$((kib / 1024)) MiB"
}

echo "snapshot: $N tasks, $((size / 1048576)) MiB"
echo
echo "| command | this build | peak RSS | before | peak RSS |"
echo "|---|---:|---:|---:|---:|"
for cmd in "report" "report --html" "export --format json" \
	"export --format pprof" "export --format folded" "diff"; do
	if [ "$cmd" = diff ]; then set -- "$T/a.json" "$T/b.json"; else set -- "$T/a.json"; fi
	# shellcheck disable=SC2086
	new=$(run "$cmd" "$NEW" $cmd -o "$T/out" "$@")
	old="|-|-"
	# shellcheck disable=SC2086
	[ -z "$OLD" ] || old="|$(run "$cmd" "$OLD" $cmd -o "$T/out" "$@" | cut -d'|' -f2-)"
	echo "| ${new//|/ | } ${old//|/ | } |" | sed 's/  */ /g'
done
