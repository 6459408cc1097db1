#!/bin/bash
# check/exact.sh [ARGS...]: runs ra_jemalloc ARGS and ra_jemalloc ARGS
# --baseline under check/rjem_exact.bt (an independent tracer at the _rjem_
# entry points, needs root and bpftrace) and checks that the difference of
# the two runs' totals is the TRUTH line of the first. Prints one line per
# field and "ok" or "MISMATCH".
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/target/release/ra_jemalloc
[ -x "$bin" ] || { echo "exact.sh: build first (build.sh)" >&2; exit 2; }
bt=$(mktemp)
trap 'rm -f "$bt" "$bt".*' EXIT
sed "s#BIN#$bin#g" check/rjem_exact.bt >"$bt"
run() { # out args...
	local out=$1
	shift
	BPFTRACE_MAP_KEYS_MAX=4000000 bpftrace -q "$bt" -c "$bin $*" >"$out" 2>&1
}
run "$bt.full" "$@"
run "$bt.base" "$@" --baseline
val() { sed -n "s/^@$2: //p" "$1" | head -1; }
truth=$(sed -n 's/^TRUTH //p' "$bt.full")
[ -n "$truth" ] || { echo "exact.sh: no TRUTH line" >&2; cat "$bt.full" >&2; exit 1; }
bad=0
for f in alloc_count free_count alloc_bytes free_bytes; do
	got=$(($(val "$bt.full" $f) - $(val "$bt.base" $f)))
	want=$(echo "$truth" | sed -n "s/.*\"$f\":\([0-9]*\).*/\1/p")
	echo "$f traced=$got truth=$want"
	[ "$got" = "$want" ] || bad=1
done
if [ $bad = 0 ]; then echo ok; else echo MISMATCH; exit 1; fi
