#!/bin/bash
# fleet_bench.sh - memscoped --all --listen with N watched async processes
# (tk_hello servers, default 20) under wrk, and a scrape of /metrics every
# second, for SECS seconds (default 30). Prints memscoped's CPU (share of
# one core, from /proc/PID/stat), its RSS before the servers started and
# at the end, the RSS per watched process, requests served, lost events,
# scrape times and the /metrics page's size.
# usage: tools/bench/fleet_bench.sh [N] [SECS]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MS=${BUILD:-$ROOT/build}/memscoped
HELLO=$ROOT/tools/tokio/target/release/tk_hello
N=${1:-20}
SECS=${2:-30}
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$T"' EXIT

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

"$MS" --all --no-top --listen 127.0.0.1:0 --max-procs $((N + 8)) \
	</dev/null >/dev/null 2>"$T/ms.err" &
ms=$!
until grep -q '^memscoped: watching every async process' "$T/ms.err"; do sleep 0.1; done
addr=$(sed -nE 's|^memscoped: serving http://([0-9.]+:[0-9]+)/.*|\1|p' "$T/ms.err")
rss0=$(rss "$ms")

ports=()
for i in $(seq 1 "$N"); do
	"$HELLO" --port 0 --forever >"$T/h$i.out" 2>&1 &
	until grep -qs READY "$T/h$i.out"; do sleep 0.05; done
	ports+=("$(sed -n 's/^LISTEN //p' "$T/h$i.out")")
done
until [ "$(grep -c '^memscoped: attached to pid' "$T/ms.err")" -ge "$N" ]; do sleep 0.1; done
rss_idle=$(rss "$ms")
sleep 1.5
watched_idle=$(curl -s "http://$addr/metrics" | awk '/^memscope_daemon_watched_processes / { print $2 }')

t0=$(cpu_ticks "$ms")
wrks=()
for p in "${ports[@]}"; do
	wrk -t1 -c2 -d"${SECS}s" "http://127.0.0.1:$p/" >"$T/wrk.$p" 2>&1 &
	wrks+=($!)
done
scrapes=0 slowest=0 peak=0
end=$((SECONDS + SECS))
while [ $SECONDS -lt $end ]; do
	ms_t=$(curl -s -o "$T/metrics" -w '%{time_total}' "http://$addr/metrics")
	scrapes=$((scrapes + 1))
	slowest=$(echo "$ms_t $slowest" | awk '{ print ($1 > $2) ? $1 : $2 }')
	r=$(rss "$ms")
	[ "$r" -le "$peak" ] || peak=$r
	sleep 1
done
wait "${wrks[@]}" 2>/dev/null || true
t1=$(cpu_ticks "$ms")
hz=$(getconf CLK_TCK)
reqs=$(cat "$T"/wrk.* | awk '/requests in/ { s += $1 } END { print s + 0 }')
lost=$(awk '/^memscope_daemon_lost_events_total / { print $2 }' "$T/metrics")
watched=$(awk '/^memscope_daemon_watched_processes / { print $2 }' "$T/metrics")
series=$(grep -vc '^#' "$T/metrics")
echo "watched processes:        $watched_idle before the load, $watched at the last scrape"
echo "requests served:          $reqs in ${SECS}s"
echo "memscoped CPU:            $(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s="$SECS" 'BEGIN { printf "%.0f%% of one core", (b - a) / hz / s * 100 }')"
echo "memscoped RSS:            ${rss0} KiB alone, ${rss_idle} KiB with $N idle, peak ${peak} KiB under load"
echo "RSS per watched process:  $(( (rss_idle - rss0) / N )) KiB idle, $(( (peak - rss0) / N )) KiB at peak"
echo "scrapes:                  $scrapes, slowest ${slowest}s, page $(wc -c <"$T/metrics") bytes, $series series"
echo "lost events:              $lost"
