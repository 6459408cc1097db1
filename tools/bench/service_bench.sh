#!/bin/bash
# service_bench.sh - what tracing costs a real service: a hyper 0.14 "hello"
# server on tokio (tools/tokio/target/release/tk_hello) under wrk load.
#
# Every run starts a fresh server (--port 0, on 127.0.0.1), attaches the
# tracer to it with --pid / -p, waits until the tracer says it is attached,
# and only then runs wrk against it for a fixed time. Configurations:
#
#   untraced    the server alone
#   memscoped   memscoped --pid, full tracking
#   tasks-only  memscoped --tasks-only --pid (task probes only)
#   floor       memscoped --bench-floor --pid: the probe set of full
#               tracking (allocator and task probes) with empty BPF
#               programs: the floor of full tracking
#   tasks-floor memscoped --tasks-only --bench-floor --pid: the task probes
#               of --tasks-only with empty programs: its floor
#   bpftrace    tools/bench/naive.bt: malloc/free and tokio raw::poll
#               tracked in bpftrace maps, the way a user would write it
#
# and with --extra, a diagnostic one:
#
#   no-stacks   memscoped --sample-bytes 0 --no-spawn-stacks: full tracking
#               without any stack capture
#
# and with --pages, the page-level mode's cost (issue 14):
#
#   page-level  memscoped --page-level: full tracking plus page level
#   tasks-pages memscoped --tasks-only --page-level: task probes and page
#               level, what a stripped program with a static allocator
#               gets (against tasks-only: the page-level programs' cost)
#
# and with --before PATH (another memscoped build, e.g. the previous
# commit's), side by side with this one:
#
#   before, before-tasks, before-tasks-floor
#               full tracking, --tasks-only and its floor with PATH
#
# in interleaved rounds (every configuration once per round, the order
# rotated each round) so that slow phases of a shared machine hit all of
# them alike. It reports, per configuration, the median requests/s and p99
# latency and their ratios to untraced, the tracer's CPU use (utime+stime of
# the tracer process over the wrk run, % of one core), the server's and
# wrk's CPU time per request (the uprobes and BPF programs run in the
# server's threads), how busy the whole machine was, and memscoped's lost
# events (from the snapshot's totals.lost_events: must be 0). Needs root.
#
# usage: tools/bench/service_bench.sh [-r ROUNDS] [-d SEC] [-c CONNS]
#            [-t THREADS] [--rt mt|ct] [--extra] [--prog-stats] [--check]
#
#   -r ROUNDS      rounds (default 5)
#   -d SEC         wrk duration per run (default 8)
#   -c CONNS       wrk connections (default 32)
#   -t THREADS     wrk threads (default 2)
#   --rt mt|ct     the server's tokio runtime (default mt: 2 workers)
#   --extra        add the no-stacks configuration
#   --pages        add the page-level and tasks-pages configurations
#   --before PATH  add the before* configurations, run with PATH
#   --prog-stats   after the rounds, one more full-tracking run with
#                  kernel.bpf_stats_enabled=1: each BPF program's runs per
#                  request and ns per run
#   --check        exit 1 when a target is missed (memscoped >= 0.45x
#                  untraced req/s, tasks-only >= 0.95x, 0 lost events) or a
#                  run failed
#
# Environment: BUILD (default <repo>/build), BPFTRACE (default bpftrace),
# WRK (default wrk). Output: a Markdown report on stdout, progress on stderr.
# A whole run with the defaults takes about 4 minutes (25 runs of 8 s
# plus attach/detach).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BPFTRACE=${BPFTRACE:-bpftrace}
WRK=${WRK:-wrk}
MS=$BUILD/memscoped
TK=$ROOT/tools/tokio/target/release/tk_hello

ROUNDS=5
DUR=8
CONNS=32
THREADS=2
RT=mt
PROG_STATS=0
CHECK=0
EXTRA=0
PAGES=0
BEFORE=

die() { echo "service_bench: $*" >&2; exit 2; }
say() { echo "$*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	-r) ROUNDS=${2:?}; shift 2 ;;
	-d) DUR=${2:?}; shift 2 ;;
	-c) CONNS=${2:?}; shift 2 ;;
	-t) THREADS=${2:?}; shift 2 ;;
	--rt) RT=${2:?}; shift 2 ;;
	--prog-stats) PROG_STATS=1; shift ;;
	--extra) EXTRA=1; shift ;;
	--pages) PAGES=1; shift ;;
	--before) BEFORE=${2:?}; shift 2 ;;
	--check) CHECK=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
for v in ROUNDS DUR CONNS THREADS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v takes a positive number"
done
case $RT in mt|ct) ;; *) die "--rt takes mt or ct" ;; esac

[ "$(id -u)" = 0 ] || die "needs root (BPF, uprobes)"
[ -x "$MS" ] || die "$MS is missing: build first (cmake -S . -B build && make -C build)"
[ -x "$TK" ] || die "$TK is missing: bash tools/tokio/build.sh"
command -v "$WRK" >/dev/null || die "no wrk (apt-get install -y wrk)"
command -v jq >/dev/null || die "no jq (apt-get install -y jq)"

TMP=$(mktemp -d /tmp/service_bench.XXXXXX)
PIDS=()
STATS_WAS=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "$STATS_WAS" ]; then
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS" || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

CONFIGS=(untraced memscoped tasks-only floor tasks-floor)
if command -v "$BPFTRACE" >/dev/null; then
	# bpftrace attaches uprobes through tracefs, which may not be mounted.
	mountpoint -q /sys/kernel/tracing ||
		mount -t tracefs nodev /sys/kernel/tracing ||
		die "cannot mount tracefs (bpftrace needs it)"
	# bpftrace wants the binary's path literally in the probe.
	sed "s|@TARGET@|$TK|g" "$HERE/naive.bt" >"$TMP/naive.bt"
	CONFIGS+=(bpftrace)
else
	say "service_bench: no bpftrace: its rows are skipped"
fi
[ "$EXTRA" = 0 ] || CONFIGS+=(no-stacks)
[ "$PAGES" = 0 ] || CONFIGS+=(page-level tasks-pages)
if [ -n "$BEFORE" ]; then
	[ -x "$BEFORE" ] || die "--before: $BEFORE is not executable"
	CONFIGS+=(before before-tasks before-tasks-floor)
fi

declare -A LABEL=(
	[untraced]="untraced"
	[memscoped]="memscoped (full tracking)"
	[tasks-only]="memscoped --tasks-only"
	[floor]="floor of full tracking (--bench-floor: same probes, empty programs)"
	[tasks-floor]="floor of --tasks-only (--tasks-only --bench-floor)"
	[bpftrace]="bpftrace naive.bt (malloc/free + raw::poll in maps)"
	[no-stacks]="memscoped --sample-bytes 0 --no-spawn-stacks"
	[page-level]="memscoped --page-level (full tracking + page level)"
	[tasks-pages]="memscoped --tasks-only --page-level"
	[before]="--before build, full tracking"
	[before-tasks]="--before build, --tasks-only"
	[before-tasks-floor]="--before build, --tasks-only --bench-floor"
)

CLK_TCK=$(getconf CLK_TCK)
# utime+stime of a process (all its threads), in clock ticks
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
now() { date +%s.%N; }

# wait_line FILE REGEX SECONDS PID: until FILE has a matching line; fails
# when PID dies first or time runs out.
wait_line() {
	local file=$1 re=$2 limit=$3 pid=$4 i=0
	while ! grep -qE -- "$re" "$file" 2>/dev/null; do
		alive "$pid" || return 1
		i=$((i + 1))
		[ $i -le $((limit * 50)) ] || return 1
		sleep 0.02
	done
}

# stop_tracer PID [NAME]: SIGINT, and wait for it to exit; its exit status.
# bpftrace 0.17 now and then misses a SIGINT (it stays in epoll_wait and
# never runs END, seen once in 25 runs); a SIGTERM then ends it normally.
stop_tracer() {
	local pid=$1 name=${2:-tracer} sig i
	for sig in INT TERM KILL; do
		kill -"$sig" "$pid" 2>/dev/null || true
		for ((i = 0; i < 500; i++)); do
			alive "$pid" || { wait "$pid"; return; }
			sleep 0.02
		done
		say "  $name (pid $pid) still running 10 s after SIG$sig"
	done
	wait "$pid"
}
# alive PID: the process exists and is not a zombie
alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# a latency percentile ("50%", "99%") from wrk --latency output, in ms
pct_ms() {
	awk -v p="$1" '$1 == p {
		v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
		f = u == "us" ? 0.001 : u == "ms" ? 1 : u == "s" ? 1000 : u == "m" ? 60000 : -1
		if (f > 0) printf "%.3f\n", v * f }' "$2"
}
# busy and total jiffies of the whole machine
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# The measurements of one run, in this order (RES holds them, "-" where
# they do not apply):
FIELDS=(rps p50 p99 srv_us wrk_us tr_pct busy lost apr)

# run_one CONFIG TAG: one server, one tracer, one wrk run; sets RES.
# Returns 1 on failure. Not run in a subshell, so that the cleanup trap
# knows every process it started.
run_one() {
	local c=$1 d=$TMP/$2
	local fifo=$d.fifo srv tr="" hold port rc
	local rps p50 p99 srv_us wrk_us tr_pct=- busy lost=- apr=-
	local t0 t1 s0 s1 tr0=0 tr1=0 m0 m1 reqs
	mkfifo "$fifo"
	"$TK" --rt "$RT" --port 0 <"$fifo" >"$d.srv.out" 2>"$d.srv.err" &
	srv=$!
	PIDS+=("$srv")
	exec {hold}>"$fifo"
	# shellcheck disable=SC2317
	stop() {
		[ -z "$tr" ] || { kill -9 "$tr" 2>/dev/null || true; wait "$tr" 2>/dev/null || true; }
		exec {hold}>&-
		wait "$srv" 2>/dev/null || true
		rm -f "$fifo"
	}
	if ! wait_line "$d.srv.out" '^READY' 30 "$srv"; then
		say "  $c: the server did not start: $(tail -2 "$d.srv.err" | tr '\n' ' ')"
		stop; return 1
	fi
	port=$(awk '$1 == "LISTEN" { print $2; exit }' "$d.srv.out")
	case $c in
	memscoped)
		"$MS" -q --pid "$srv" -s "$d.snap.json" >"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	tasks-only)
		"$MS" -q --tasks-only --pid "$srv" -s "$d.snap.json" >"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	floor)
		"$MS" -q --bench-floor --pid "$srv" >"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	tasks-floor)
		"$MS" -q --tasks-only --bench-floor --pid "$srv" >"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	bpftrace)
		BPFTRACE_MAP_KEYS_MAX=65536 "$BPFTRACE" -p "$srv" "$TMP/naive.bt" "$srv" \
			>"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	no-stacks)
		"$MS" -q --sample-bytes 0 --no-spawn-stacks --pid "$srv" -s "$d.snap.json" \
			>"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	page-level)
		"$MS" -q --page-level --pid "$srv" -s "$d.snap.json" >"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	tasks-pages)
		"$MS" -q --tasks-only --page-level --pid "$srv" -s "$d.snap.json" \
			>"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	before)
		"$BEFORE" -q --pid "$srv" -s "$d.snap.json" >"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	before-tasks)
		"$BEFORE" -q --tasks-only --pid "$srv" -s "$d.snap.json" >"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	before-tasks-floor)
		"$BEFORE" -q --tasks-only --bench-floor --pid "$srv" >"$d.tr.out" 2>"$d.tr.err" & tr=$! ;;
	esac
	if [ -n "$tr" ]; then
		PIDS+=("$tr")
		# memscoped says so on stderr once every probe is in place;
		# naive.bt's BEGIN prints ATTACHED after bpftrace attached all.
		if [ "$c" = bpftrace ]; then
			wait_line "$d.tr.out" '^ATTACHED' 60 "$tr"
		else
			wait_line "$d.tr.err" 'attached to pid' 60 "$tr"
		fi || {
			say "  $c: the tracer did not attach: $(tail -2 "$d.tr.err" | tr '\n' ' ')"
			stop; return 1
		}
		if [[ $c = *floor ]] && ! grep -Eq 'attached to pid .*: [1-9][0-9]* probes' "$d.tr.err"; then
			say "  floor: no probes attached"; stop; return 1
		fi
		tr0=$(cpu_ticks "$tr")
	fi
	s0=$(cpu_ticks "$srv")
	m0=$(machine_ticks)
	t0=$(now)
	# wrk's own CPU time: the shell that waited for it reads its
	# cutime + cstime.
	if ! sh -c '"$@" >"$0" 2>&1 || exit 1; sed "s/.*) //" /proc/$$/stat >"$0.stat"' \
		"$d.wrk" "$WRK" -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency \
		"http://127.0.0.1:$port/"; then
		say "  $c: wrk failed: $(tail -2 "$d.wrk" | tr '\n' ' ')"
		stop; return 1
	fi
	t1=$(now)
	m1=$(machine_ticks)
	s1=$(cpu_ticks "$srv")
	[ -z "$tr" ] || tr1=$(cpu_ticks "$tr")
	rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$d.wrk")
	reqs=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$d.wrk")
	p50=$(pct_ms 50% "$d.wrk")
	p99=$(pct_ms 99% "$d.wrk")
	if [ -z "$rps" ] || [ -z "$p99" ] || [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
		say "  $c: no result in wrk's output"; stop; return 1
	fi
	if grep -q 'Non-2xx\|Socket errors' "$d.wrk"; then
		say "  $c: wrk saw errors: $(grep 'Non-2xx\|Socket errors' "$d.wrk")"
	fi
	srv_us=$(awk -v a="$s0" -v b="$s1" -v hz="$CLK_TCK" -v n="$reqs" \
		'BEGIN { printf "%.1f\n", (b - a) / hz * 1e6 / n }')
	wrk_us=$(awk -v hz="$CLK_TCK" -v n="$reqs" '{ printf "%.1f\n", ($14 + $15) / hz * 1e6 / n }' "$d.wrk.stat")
	busy=$(awk -v a="$m0" -v b="$m1" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		printf "%.0f\n", (y[2] > x[2]) ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0 }')
	if [ -n "$tr" ]; then
		tr_pct=$(awk -v a="$tr0" -v b="$tr1" -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" \
			'BEGIN { printf "%.1f\n", (b - a) / hz / (t1 - t0) * 100 }')
		rc=0
		stop_tracer "$tr" "$c" || rc=$?
		tr=""
		if [ "$rc" != 0 ]; then
			say "  $c: the tracer exited with status $rc: $(tail -2 "$d.tr.err" | tr '\n' ' ')"
			stop; return 1
		fi
	fi
	case $c in
	memscoped|tasks-only|no-stacks|before|before-tasks|page-level|tasks-pages)
		if [ ! -s "$d.snap.json" ]; then
			say "  $c: no snapshot"; stop; return 1
		fi
		lost=$(jq -r '.totals.lost_events' "$d.snap.json")
		if [ "$c" != tasks-only ] && [ "$c" != before-tasks ] &&
			[ "$c" != tasks-pages ]; then
			apr=$(jq -r --argjson n "$reqs" '.totals.alloc_count / $n * 100 | round / 100' "$d.snap.json")
		fi
		[ "$(jq -r '.incomplete' "$d.snap.json")" = false ] ||
			say "  $c: the snapshot says incomplete"
		;;
	bpftrace)
		apr=$(awk -v n="$reqs" '$1 == "@mallocs:" { printf "%.2f\n", $2 / n }' "$d.tr.out")
		[ -n "$apr" ] || { say "  bpftrace saw no malloc"; stop; return 1; }
		;;
	esac
	stop
	RES="$rps $p50 $p99 $srv_us $wrk_us $tr_pct $busy $lost $apr"
}

# median of the numbers in file $1 ("-" when none)
median() {
	[ -f "$1" ] || { echo -; return; }
	awk '$1 != "-"' "$1" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		print m }'
}
ratio() { # a / b with two decimals, "-" when unknown
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

START=$(date +%s)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "service_bench: $ROUNDS rounds of ${CONFIGS[*]}; wrk -t$THREADS -c$CONNS -d${DUR}s; server --rt $RT"
N=${#CONFIGS[@]}
FAILED=0
for ((r = 0; r < ROUNDS; r++)); do
	line="round $((r + 1))/$ROUNDS:"
	for ((i = 0; i < N; i++)); do
		c=${CONFIGS[(i + r) % N]}
		if run_one "$c" "$c.$r"; then
			read -r -a vals <<<"$RES"
			for k in "${!FIELDS[@]}"; do
				echo "${vals[k]}" >>"$TMP/$c.${FIELDS[k]}"
			done
			echo "$r ${vals[0]}" >>"$TMP/$c.byround"
			line+=" $c=${vals[0]%.*}/s"
			[ "${vals[7]}" = - ] || line+=",lost=${vals[7]}"
		else
			FAILED=1
			line+=" $c=FAIL"
		fi
	done
	say "$line"
done
ELAPSED=$(( $(date +%s) - START ))

# ---- report ------------------------------------------------------------

declare -A M
for c in "${CONFIGS[@]}"; do
	for f in "${FIELDS[@]}"; do
		M[$c.$f]=$(median "$TMP/$c.$f")
	done
	if [ -f "$TMP/$c.lost" ] && [ "$(awk '$1 != "-"' "$TMP/$c.lost" | wc -l)" -gt 0 ]; then
		M[$c.lost]=$(awk '$1 != "-"' "$TMP/$c.lost" | sort -g | tail -1)
	fi
done
# Within each round: configuration / untraced of that round.
paired() {
	join <(sort "$TMP/untraced.byround" 2>/dev/null) <(sort "$TMP/$1.byround" 2>/dev/null) |
		awk '$2 > 0 { print $3 / $2 }' | sort -g | awk '{ v[NR] = $1 } END {
			if (NR == 0) { print "-"; exit }
			printf "%.2f-%.2f\n", v[1], v[NR] }'
}
int() { awk -v v="$1" 'BEGIN { if (v == "-") print v; else printf "%.0f\n", v }'; }

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "## service_bench $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "$(nproc) CPUs ($CPU), kernel $(uname -r); load average before: $LOAD_BEFORE," \
	"after: $(cut -d' ' -f1-3 /proc/loadavg). tk_hello --rt $RT;" \
	"\`wrk -t$THREADS -c$CONNS -d${DUR}s --latency\` on 127.0.0.1;" \
	"$ROUNDS interleaved rounds in ${ELAPSED}s. Medians over rounds."
echo
echo "| configuration | req/s | x untraced (per-round range) | p50 ms | p99 ms | p99 x untraced | lost events (max) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for c in "${CONFIGS[@]}"; do
	rr=$(ratio "${M[$c.rps]}" "${M[untraced.rps]}")
	[ "$c" = untraced ] || rr="$rr ($(paired "$c"))"
	echo "| ${LABEL[$c]} | $(int "${M[$c.rps]}") | $rr | ${M[$c.p50]} | ${M[$c.p99]} |" \
		"$(ratio "${M[$c.p99]}" "${M[untraced.p99]}") | ${M[$c.lost]} |"
done
echo
echo "CPU per request (utime+stime over the wrk run; the uprobes and BPF programs run in the server's threads):"
echo
echo "| configuration | server µs/request | server x untraced | wrk µs/request | tracer, % of a core | allocs/request seen | machine busy % |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for c in "${CONFIGS[@]}"; do
	echo "| ${LABEL[$c]} | ${M[$c.srv_us]} | $(ratio "${M[$c.srv_us]}" "${M[untraced.srv_us]}") |" \
		"${M[$c.wrk_us]} | ${M[$c.tr_pct]} | ${M[$c.apr]} | ${M[$c.busy]} |"
done
echo

verdict() { # value op limit
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "-") { print "UNKNOWN"; exit }
		ok = op == "<=" ? v <= l : v >= l
		print ok ? "PASS" : "FAIL" }'
}
# What the CPU figures predict for the throughput ratio: only the server
# (load from elsewhere), and server plus wrk sharing the same CPUs.
predict() {
	awk -v su="${M[untraced.srv_us]}" -v wu="${M[untraced.wrk_us]}" \
		-v sc="${M[$1.srv_us]}" -v wc="${M[$1.wrk_us]}" 'BEGIN {
		if (su == "-" || sc == "-" || wu == "-" || wc == "-" || sc + 0 == 0) { print "- -"; exit }
		printf "%.2f %.2f\n", su / sc, (su + wu) / (sc + wu) }'
}
R_FULL=$(ratio "${M[memscoped.rps]}" "${M[untraced.rps]}")
R_TO=$(ratio "${M[tasks-only.rps]}" "${M[untraced.rps]}")
V1=$(verdict "$R_FULL" ">=" 0.45)
V2=$(verdict "$R_TO" ">=" 0.95)
V3=PASS
for c in memscoped tasks-only; do
	[ "${M[$c.lost]}" = 0 ] || V3=FAIL
done
echo "Targets (ratios of the medians):"
echo
echo "- full tracking: $R_FULL x untraced req/s (target >= 0.45): $V1"
echo "- --tasks-only: $R_TO x untraced req/s (target >= 0.95): $V2"
echo "- lost events: full ${M[memscoped.lost]}, tasks-only ${M[tasks-only.lost]} (target 0): $V3"
if [ -n "${M[bpftrace.rps]+x}" ]; then
	echo "- bpftrace naive.bt: $(ratio "${M[bpftrace.rps]}" "${M[untraced.rps]}") x untraced;" \
		"memscoped / bpftrace = $(ratio "${M[memscoped.rps]}" "${M[bpftrace.rps]}") (req/s)"
fi
echo "- full tracking / its floor = $(ratio "${M[memscoped.rps]}" "${M[floor.rps]}") (req/s)," \
	"server CPU per request $(ratio "${M[memscoped.srv_us]}" "${M[floor.srv_us]}") x the floor's"
echo "- --tasks-only / its floor = $(ratio "${M[tasks-only.rps]}" "${M[tasks-floor.rps]}") (req/s)," \
	"server CPU per request $(ratio "${M[tasks-only.srv_us]}" "${M[tasks-floor.srv_us]}") x the floor's"
echo "- the floors themselves: full $(ratio "${M[floor.rps]}" "${M[untraced.rps]}")," \
	"tasks-only $(ratio "${M[tasks-floor.rps]}" "${M[untraced.rps]}") x untraced req/s"
echo
echo "Throughput ratios the CPU figures predict (untraced CPU per request / traced):" \
	"if only the server's CPU counted (load from another machine), and if the server" \
	"and wrk shared the CPUs with nothing else (wrk's cost taken as untraced):"
echo
for c in "${CONFIGS[@]}"; do
	[ "$c" = untraced ] && continue
	read -r p1 p2 < <(predict "$c")
	echo "- ${LABEL[$c]}: server only $p1, server + wrk $p2"
done
echo

# ---- per-program cost (kernel.bpf_stats_enabled) -----------------------

# prog_stats_of PID: "name run_cnt run_time_ns" for the BPF programs PID holds
prog_stats_of() {
	local id
	awk '$1 == "prog_id:" { print $2 }' /proc/"$1"/fdinfo/* 2>/dev/null | sort -un |
		while read -r id; do
			bpftool prog show id "$id" -j 2>/dev/null |
				jq -r '"\(.name) \(.run_cnt // 0) \(.run_time_ns // 0)"'
		done
}

if [ "$PROG_STATS" = 1 ]; then
	if ! command -v bpftool >/dev/null; then
		say "service_bench: per-program statistics need bpftool"
	else
		STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
		sysctl -q -w kernel.bpf_stats_enabled=1
		d=$TMP/ps
		mkfifo "$d.fifo"
		"$TK" --rt "$RT" --port 0 <"$d.fifo" >"$d.srv.out" 2>"$d.srv.err" &
		srv=$!
		PIDS+=("$srv")
		exec {hold}>"$d.fifo"
		wait_line "$d.srv.out" '^READY' 30 "$srv" || die "the server did not start"
		port=$(awk '$1 == "LISTEN" { print $2; exit }' "$d.srv.out")
		"$MS" -q --pid "$srv" -s "$d.snap.json" >"$d.tr.out" 2>"$d.tr.err" &
		tr=$!
		PIDS+=("$tr")
		wait_line "$d.tr.err" 'attached to pid' 60 "$tr" || die "memscoped did not attach"
		prog_stats_of "$tr" >"$d.a"
		"$WRK" -t"$THREADS" -c"$CONNS" -d"${DUR}s" "http://127.0.0.1:$port/" >"$d.wrk" 2>&1
		prog_stats_of "$tr" >"$d.b"
		stop_tracer "$tr" || true
		exec {hold}>&-
		wait "$srv" || true
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS"
		STATS_WAS=
		reqs=$(awk '$2 == "requests" && $3 == "in" { print $1 }' "$d.wrk")
		rps=$(awk '$1 == "Requests/sec:" { print $2 }' "$d.wrk")
		echo "Per BPF program, one more full-tracking run with kernel.bpf_stats_enabled=1" \
			"(which itself adds about 50 ns per run): $reqs requests, ${rps%.*} req/s."
		echo
		echo "| program | runs per request | ns per run | BPF µs per request |"
		echo "|---|---:|---:|---:|"
		join <(sort "$d.a") <(sort "$d.b") | awk -v n="$reqs" '
			$4 > $2 {
				runs = $4 - $2; t = $5 - $3; tot += t
				printf "| %s | %.2f | %.1f | %.2f |\n", $1, runs / n, t / runs, t / n / 1000
			} END { printf "| all | | | %.2f |\n", tot / n / 1000 }'
		echo
	fi
fi

[ "$FAILED" = 0 ] || say "service_bench: some runs failed (see above); their rows use the runs that worked"
if [ "$CHECK" = 1 ] && { [ "$V1" != PASS ] || [ "$V2" != PASS ] || [ "$V3" != PASS ] || [ "$FAILED" = 1 ]; }; then
	exit 1
fi
exit 0
