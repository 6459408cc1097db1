#!/bin/bash
# soak_bench.sh - memscoped under a service's churn, this build against
# another: tk_hello under wrk with a new connection (a task) per request,
# memscoped --pid --snapshot-every 1 for SECS seconds (default 60), each
# build in turn on the same machine. Prints, per build: requests served,
# memscoped's peak RSS (read every 0.2 s), lost events and the last
# snapshot's size.
# usage: tools/bench/soak_bench.sh [--before BUILD_DIR] [SECS] [-- MEMSCOPED OPTS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILDS=("${BUILD:-$ROOT/build}")
if [ "${1:-}" = --before ]; then
	BUILDS+=("$2")
	shift 2
fi
SECS=60
if [ -n "${1:-}" ] && [ "$1" != -- ]; then SECS=$1; shift; fi
[ "${1:-}" != -- ] || shift
HELLO=$ROOT/tools/tokio/target/release/tk_hello
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT

one() { # BUILD_DIR [MEMSCOPED OPTS...]
	local ms=$1/memscoped port tgt pid peak=0 rss
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$HELLO" --port "$port" --forever >"$T/tgt.out" 2>&1 &
	tgt=$!
	until grep -q READY "$T/tgt.out"; do sleep 0.05; done
	"$ms" -q --no-top --snapshot-every 1 "$@" -s "$T/s.json" --pid "$tgt" \
		>/dev/null 2>"$T/ms.err" &
	pid=$!
	until grep -q 'attached to pid' "$T/ms.err"; do sleep 0.05; done
	wrk -t2 -c16 -d"${SECS}s" -H 'Connection: close' \
		"http://127.0.0.1:$port/" >"$T/wrk.out" 2>&1 &
	local w=$!
	while kill -0 "$w" 2>/dev/null; do
		rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
		[ "${rss:-0}" -le "$peak" ] || peak=$rss
		sleep 0.2
	done
	kill -INT "$pid"
	wait "$pid" || true
	kill "$tgt"
	wait "$tgt" 2>/dev/null || true
	printf '| %s | %s | %s MiB | %s | %s MiB |\n' "$1" \
		"$(awk '/requests in/ { print $1 }' "$T/wrk.out")" \
		"$((peak / 1024))" \
		"$(head -c 4096 "$T/s.json" | grep -o '"lost_events":[0-9]*' | cut -d: -f2)" \
		"$(($(stat -c %s "$T/s.json") / 1048576))"
}

echo "| build | requests in ${SECS}s | memscoped peak RSS | lost events | last snapshot |"
echo "|---|---:|---:|---:|---:|"
for b in "${BUILDS[@]}"; do one "$b" "$@"; done
