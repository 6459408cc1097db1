#!/bin/bash
# deno_bench.sh - memscoped on Deno (stripped, tokio 1.47 with
# tokio_unstable, 95 MB, from npm: tools/setup-deps.sh installs it): a
# Deno.serve hello server under wrk.
#
# Every run starts a fresh server, attaches memscoped with --pid (none for
# untraced), waits until memscoped says it is attached, runs wrk, then
# stops memscoped. Configurations, in interleaved rounds (order rotated):
#
#   untraced    the server alone
#   memscoped   memscoped --pid, full tracking
#   tasks-only  memscoped --tasks-only --pid
#
# Reported: median requests/s and the ratio to untraced, lost events, the
# attach time (memscoped started -> "attached" on stderr, median), and
# the task vtables and poll functions memscoped found (its -v output).
#
# usage: tools/bench/deno_bench.sh [-r ROUNDS] [-d SEC] [-c CONNS]
# Environment: BUILD (default <repo>/build), DENO (default the setup-deps
# install), WRK (default wrk). Markdown on stdout, progress on stderr.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MS=$BUILD/memscoped
DENO=${DENO:-${MEMSCOPE_CACHE:-/var/cache/memscope}/deno/node_modules/@deno/linux-x64-glibc/deno}
WRK=${WRK:-wrk}
ROUNDS=5
DUR=8
CONNS=16

die() { echo "deno_bench: $*" >&2; exit 2; }
say() { echo "$*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	-r) ROUNDS=${2:?}; shift 2 ;;
	-d) DUR=${2:?}; shift 2 ;;
	-c) CONNS=${2:?}; shift 2 ;;
	*) die "unknown argument $1" ;;
	esac
done
[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$DENO" ] || die "no deno at $DENO (tools/setup-deps.sh)"
[ -x "$MS" ] || die "no memscoped at $MS (tools/build.sh)"
command -v "$WRK" >/dev/null || die "no wrk"

W=$(mktemp -d /tmp/deno-bench.XXXXXX)
SERVER=
cleanup() {
	[ -z "$SERVER" ] || kill -9 "$SERVER" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
cat >"$W/serve.ts" <<'EOF'
Deno.serve({
  port: 0,
  hostname: "127.0.0.1",
  onListen: ({ port }) => Deno.writeTextFileSync(Deno.args[0], `${port}\n`),
}, (_req) => new Response("hello\n"));
EOF
export DENO_DIR=$W/deno-dir DENO_NO_UPDATE_CHECK=1 NO_COLOR=1

now_ms() { date +%s%3N; }

wait_file() {
	local f=$1 re=$2 i=0
	until grep -qE -- "$re" "$f" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 600 ] || die "timed out waiting for /$re/ in $f"
		sleep 0.05
	done
}

# run CONFIG: one server, one wrk run; prints "rps lost attach_ms".
run() {
	local cfg=$1 port ms= t0 t1 att=- lost=- rps
	rm -f "$W/port" "$W/snap.json" "$W/ms.err"
	"$DENO" run --allow-net --allow-write "$W/serve.ts" "$W/port" \
		>/dev/null 2>&1 &
	SERVER=$!
	wait_file "$W/port" '^[0-9]+$'
	port=$(cat "$W/port")
	if [ "$cfg" != untraced ]; then
		local extra=()
		[ "$cfg" = tasks-only ] && extra=(--tasks-only)
		t0=$(now_ms)
		"$MS" -v --no-top -s "$W/snap.json" "${extra[@]}" \
			--pid "$SERVER" >/dev/null 2>"$W/ms.err" &
		ms=$!
		wait_file "$W/ms.err" 'attached to pid'
		t1=$(now_ms)
		att=$((t1 - t0))
	fi
	rps=$("$WRK" -t2 -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$port/" |
		awk '/^Requests\/sec/ { print $2 }')
	if [ -n "$ms" ]; then
		kill -INT "$ms"
		wait "$ms" || true
		lost=$(jq .totals.lost_events "$W/snap.json")
		grep -oE '[0-9]+ task vtables, [0-9]+ poll functions' "$W/ms.err" |
			head -1 >"$W/found" || true
	fi
	kill -9 "$SERVER" 2>/dev/null || true
	wait "$SERVER" 2>/dev/null || true
	SERVER=
	echo "$rps $lost $att"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

CFGS=(untraced memscoped tasks-only)
for ((r = 0; r < ROUNDS; r++)); do
	for ((k = 0; k < ${#CFGS[@]}; k++)); do
		cfg=${CFGS[$(((k + r) % ${#CFGS[@]}))]}
		read -r rps lost att < <(run "$cfg")
		say "round $((r + 1)) $cfg: $rps req/s, lost $lost, attach ${att} ms"
		echo "$rps" >>"$W/$cfg.rps"
		[ "$lost" = - ] || echo "$lost" >>"$W/$cfg.lost"
		[ "$att" = - ] || echo "$att" >>"$W/$cfg.attach"
	done
done

base=$(median <"$W/untraced.rps")
echo "| configuration | req/s (median of $ROUNDS) | vs untraced | lost events (max) | attach ms (median) |"
echo "|---|---:|---:|---:|---:|"
for cfg in "${CFGS[@]}"; do
	m=$(median <"$W/$cfg.rps")
	lost=-
	att=-
	[ -f "$W/$cfg.lost" ] && lost=$(sort -n "$W/$cfg.lost" | tail -1)
	[ -f "$W/$cfg.attach" ] && att=$(median <"$W/$cfg.attach")
	printf '| %s | %.0f | %.2fx | %s | %s |\n' "$cfg" "$m" \
		"$(echo "$m / $base" | bc -l)" "$lost" "$att"
done
echo
echo "deno $("$DENO" --version | head -1 | cut -d' ' -f2): $(cat "$W/found" 2>/dev/null || echo '?'); wrk -c$CONNS -t2 -d${DUR}s"
