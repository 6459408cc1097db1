#!/usr/bin/env bash
# memscoped --all --listen under a real Prometheus (issue 15). Three tokio
# programs with known figures are held at READY: K aborted tasks, 2 tasks
# with no waker left, N tasks holding B bytes each. Prometheus scrapes
# memscoped every second; the values it stored are read back through its
# HTTP API and compared with each program's truth. promtool checks the
# page; the other endpoints answer as documented (docs/deploy.md); a client
# that connects and sends nothing holds up neither the others nor the
# event loop. Loopback ports only.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

skip() { echo "skipped: $*"; exit 77; }
command -v prometheus >/dev/null || skip "no prometheus (Debian package prometheus)"
command -v promtool >/dev/null || skip "no promtool (Debian package prometheus)"
command -v curl >/dev/null || skip "no curl"

K=3
N=4
B=300000
MSERR=$T/ms.err

"$MEMSCOPED" --all --no-top --listen 127.0.0.1:0 -s "$T/all.{pid}.json" \
	</dev/null >"$T/ms.out" 2>"$MSERR" &
MS=$!
MS_PIDS+=("$MS")
wait_count "$MSERR" '^memscoped: watching every async process' 1 "$MS"
ADDR=$(sed -nE 's|^memscoped: serving http://([0-9.]+:[0-9]+)/.*|\1|p' "$MSERR")
[ -n "$ADDR" ] || fail "memscoped did not say where it serves"
pass "memscoped serves on $ADDR"

declare -A PID HOLD
start() {
	local name=$1 fd
	shift
	exec {fd}<>"$(make_fifo "$name")"
	HOLD[$name]=$fd
	"$@" --wait-go <"$T/$name.fifo" >"$T/$name.out" 2>"$T/$name.terr" &
	PID[$name]=$!
	MS_PIDS+=("${PID[$name]}")
	wait_count "$T/$name.out" '^WAITING$' 1 "${PID[$name]}"
	wait_count "$MSERR" "^memscoped: attached to pid ${PID[$name]} " 1 \
		"$MS" "${PID[$name]}"
	echo go >&"${HOLD[$name]}"
	wait_count "$T/$name.out" '^READY$' 1 "${PID[$name]}"
}
start abort "$TOKIO/tk_abort" --rt mt --sleepers "$K" --workers 1
start nowaker "$TOKIO/tk_nowaker" --rt mt
start bufs "$TOKIO/tk_buffers" --rt mt --tasks "$N" --size "$B"
pass "three programs held at READY"

# A free loopback port for Prometheus itself.
PPORT=
for p in $(shuf -i 20000-40000 -n 20); do
	ss -Hltn "sport = :$p" | grep -q . || { PPORT=$p; break; }
done
[ -n "$PPORT" ] || fail "no free port for prometheus"
cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: memscope
    static_configs:
      - targets: ['$ADDR']
EOF
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" >"$T/prom.log" 2>&1 &
MS_PIDS+=("$!")
PROM=http://127.0.0.1:$PPORT

# query EXPR: the value Prometheus has for EXPR now ("" when none yet).
query() {
	{ curl -fsS "$PROM/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null; } || true
}
# expect_query WHAT EXPR WANT: until Prometheus stores WANT (it scrapes
# every second; 60 s at most), with the last value on failure.
expect_query() {
	local what=$1 expr=$2 want=$3 got i
	for i in $(seq 1 120); do
		got=$(query "$expr")
		[ "$got" = "$want" ] && { pass "$what = $want (Prometheus)"; return; }
		sleep 0.5
	done
	tail -5 "$T/prom.log"
	fail "$what: Prometheus has '$got' for $expr, want '$want'"
}
expect_query "memscoped is up" 'up{job="memscope"}' 1
expect_query "abort: never-finished tasks, aborted" \
	"memscope_tasks_never_finished{reason=\"aborted\",pid=\"${PID[abort]}\"}" "$K"
expect_query "nowaker: never-finished tasks, no waker left" \
	"memscope_tasks_never_finished{reason=\"no-waker\",pid=\"${PID[nowaker]}\"}" 2
expect_query "bufs: live heap of its tasks' spawn sites >= N*B" \
	"sum(memscope_spawn_site_live_bytes{pid=\"${PID[bufs]}\"}) >= bool $((N * B))" 1
expect_query "bufs: live heap bytes >= N*B" \
	"memscope_heap_live_bytes{pid=\"${PID[bufs]}\"} >= bool $((N * B))" 1
expect_query "bufs: runtime label" \
	"count(memscope_heap_live_bytes{pid=\"${PID[bufs]}\",runtime=\"tokio\"})" 1
expect_query "no lost events" 'sum(memscope_lost_events_total)' 0
expect_query "watched processes" 'memscope_daemon_watched_processes >= bool 3' 1

curl -fsS "http://$ADDR/metrics" >"$T/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 ||
	{ cat "$T/promtool.out"; fail "promtool check metrics"; }
pass "promtool check metrics: clean"
grep -q 'task_id\|task=' "$T/metrics.txt" && fail "a task id is a label"
pass "no task id among the labels"

# The other endpoints.
code() { curl -s -o "$T/body" -w '%{http_code}' "http://$ADDR$1"; }
expect_eq "/snapshot?pid=bufs" "$(code "/snapshot?pid=${PID[bufs]}")" 200
expect_eq "/snapshot of bufs is its snapshot" "$(jq -r .target.pid "$T/body")" \
	"${PID[bufs]}"
expect_eq "/snapshot?pid=abc" "$(code '/snapshot?pid=abc')" 400
expect_eq "/snapshot?pid=1 (not watched)" "$(code '/snapshot?pid=1')" 404
expect_eq "/nope" "$(code /nope)" 404
expect_eq "/" "$(code /)" 200
grep -q "${PID[bufs]}" "$T/body" || fail "the index does not list bufs"
expect_eq "/debug/pprof/heap?pid=bufs" \
	"$(code "/debug/pprof/heap?pid=${PID[bufs]}")" 200
if command -v go >/dev/null; then
	HOME=$T GOCACHE=$T/gocache go tool pprof -top -sample_index=inuse_space \
		"http://$ADDR/debug/pprof/heap?pid=${PID[bufs]}" \
		>"$T/pprof.out" 2>&1 || { cat "$T/pprof.out"; fail "go tool pprof"; }
	grep -q 'inuse_space' "$T/pprof.out" || fail "go tool pprof: no inuse_space"
	pass "go tool pprof reads /debug/pprof/heap"
else
	echo "skipped: go tool pprof (no go)"
fi

# A client that connects and sends nothing: /metrics still answers, and the
# event loop still drains (a program started now is watched to its end).
exec {SILENT}<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}"
curl -fsS --max-time 5 "http://$ADDR/metrics" >/dev/null ||
	fail "/metrics stalled behind a silent client"
"$TOKIO/tk_lifetimes" --short 50 --long 0 </dev/null >/dev/null 2>&1 &
short=$!
wait "$short" || fail "tk_lifetimes failed"
wait_count "$MSERR" "pid $short(: no longer watched| \(.*\) ended)" 1 "$MS"
pass "a silent client holds up neither requests nor the event loop"
exec {SILENT}>&-

kill -INT "$MS"
rc=0
wait "$MS" || rc=$?
expect_eq "memscoped exit status after SIGINT" "$rc" 0
for name in abort nowaker bufs; do
	echo release >&"${HOLD[$name]}"
done
echo "PASS"
