#!/bin/bash
# malloc_bench.sh - what tracing costs a tight malloc+free loop.
#
# Runs build/tools/targets/bench_loop (malloc(64..127) + free, prints
# "ns_per_pair X") untraced and under each tracer, in interleaved rounds
# (every configuration once per round, the order rotated each round) so
# that slow phases of a shared machine hit all configurations alike, and
# reports the median and the minimum of each:
#
#   untraced    bench_loop alone
#   floor       memscoped --bench-floor: memscoped's probe set (malloc
#               family entry + return, free past its NULL check), empty
#               BPF programs
#   memscoped   memscoped, full tracking
#   tasks-only  memscoped --tasks-only (no allocator probes)
#   bpftrace    tools/bench/memleak.bt, bcc memleak's per-call work
#
# plus, unless --no-breakdown, the price of each probe on its own (empty
# programs attached by tools/bench/probe_cost.c, built here with cc).
# Every traced run is checked: memscoped launches the loop stopped and
# prints "attached to pid" before resuming it, full tracking must have seen
# ITER allocations with no lost event, and bpftrace -c starts its child
# only once all probes are attached. Needs root.
#
# usage: tools/bench/malloc_bench.sh [-r ROUNDS] [-n ITER] [--fast-iter N]
#            [--no-breakdown] [--prog-stats|--no-prog-stats] [--check]
#
#   -r ROUNDS       rounds (default 5)
#   -n ITER         pairs per traced run (default 300000)
#   --fast-iter N   pairs per untraced and tasks-only run (default 100 * ITER)
#   --prog-stats    also measure each BPF program's ns per run
#                   (kernel.bpf_stats_enabled, one extra run each of
#                   memscoped and the floor); automatic when
#                   memscoped/floor > 1.2
#   --check         exit 1 when a target check fails
#
# Environment: BUILD (default <repo>/build), BPFTRACE (default bpftrace).
# Output: a Markdown report on stdout, progress on stderr.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BPFTRACE=${BPFTRACE:-bpftrace}
BENCH=$BUILD/tools/targets/bench_loop
MS=$BUILD/memscoped

ROUNDS=5
ITER=300000
FAST_ITER=
BREAKDOWN=1
PROG_STATS=auto
CHECK=0

die() { echo "malloc_bench: $*" >&2; exit 2; }
say() { echo "$*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	-r) ROUNDS=${2:?}; shift 2 ;;
	-n) ITER=${2:?}; shift 2 ;;
	--fast-iter) FAST_ITER=${2:?}; shift 2 ;;
	--no-breakdown) BREAKDOWN=0; shift ;;
	--prog-stats) PROG_STATS=1; shift ;;
	--no-prog-stats) PROG_STATS=0; shift ;;
	--check) CHECK=1; shift ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "-r takes a positive number"
[[ $ITER =~ ^[1-9][0-9]*$ ]] || die "-n takes a positive number"
FAST_ITER=${FAST_ITER:-$((ITER * 100))}
[[ $FAST_ITER =~ ^[1-9][0-9]*$ ]] || die "--fast-iter takes a positive number"
BITER=$(( ITER / 5 > 1000 ? ITER / 5 : 1000 )) # breakdown runs (free+0 is slow)

[ "$(id -u)" = 0 ] || die "needs root (BPF, uprobes)"
[ -x "$BENCH" ] || die "$BENCH is missing: build first (cmake -S . -B build && make -C build)"
[ -x "$MS" ] || die "$MS is missing: build first"

TMP=$(mktemp -d /tmp/malloc_bench.XXXXXX)
STATS_WAS=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$STATS_WAS" ]; then
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS" || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

HAVE_BPFTRACE=0
if command -v "$BPFTRACE" >/dev/null; then
	HAVE_BPFTRACE=1
	# bpftrace attaches uprobes through tracefs, which may not be mounted.
	mountpoint -q /sys/kernel/tracing ||
		mount -t tracefs nodev /sys/kernel/tracing ||
		die "cannot mount tracefs (bpftrace needs it)"
else
	say "malloc_bench: no bpftrace: that row is skipped"
fi

LIBC=$(ldd "$BENCH" | awk '$1 ~ /^libc\.so/ { print $3; exit }')
{ [ -n "$LIBC" ] && [ -r "$LIBC" ]; } || die "cannot find the libc of $BENCH"

# ---- where memscoped puts its probes, as file offsets in libc ----------

# file offset of a dynamic symbol's address (mawk has no strtonum: bash
# does the hex)
sym_off() {
	local vaddr v off va fs
	vaddr=$(readelf -W --dyn-syms "$LIBC" |
		awk -v s="$1" '$4 == "FUNC" && ($8 == s || index($8, s "@") == 1) { print $2; exit }')
	[ -n "$vaddr" ] || return 1
	v=$((16#$vaddr))
	while read -r off va fs; do
		if ((v >= va && v < va + fs)); then
			printf '0x%x\n' $((v - va + off))
			return 0
		fi
	done < <(readelf -W -l "$LIBC" | awk '$1 == "LOAD" { print $2, $3, $5 }')
	return 1
}

if [ "$BREAKDOWN" = 1 ]; then
	if ! command -v cc >/dev/null; then
		say "malloc_bench: no C compiler: no per-probe breakdown"
		BREAKDOWN=0
	elif ! cc -O2 -o "$TMP/probe_cost" "$HERE/probe_cost.c" 2>"$TMP/cc.err"; then
		cat "$TMP/cc.err" >&2
		say "malloc_bench: probe_cost does not build: no per-probe breakdown"
		BREAKDOWN=0
	fi
fi
if [ "$BREAKDOWN" = 1 ]; then
	"$MS" -v --bench-floor -- "$BENCH" 1 >/dev/null 2>"$TMP/placement" ||
		die "memscoped --bench-floor failed: $(tail -3 "$TMP/placement")"
	M_PLUS=$(sed -n 's/.*: malloc: probe at +\([0-9]*\) .*/\1/p' "$TMP/placement")
	F_PLUS=$(sed -n 's/.*: free: probe at +\([0-9]*\) .*/\1/p' "$TMP/placement")
	M_OFF=$(sym_off malloc) || die "no malloc in $LIBC"
	F_OFF=$(sym_off free) || die "no free in $LIBC"
	{ [ -n "$M_PLUS" ] && [ -n "$F_PLUS" ]; } || die "memscoped -v did not say where it probes malloc and free"
	ME=$(printf '0x%x' $((M_OFF + M_PLUS)))
	MR=$M_OFF
	FE=$(printf '0x%x' $((F_OFF + F_PLUS)))
	F0=$F_OFF
fi

# ---- configurations ----------------------------------------------------

CONFIGS=(untraced floor memscoped tasks-only)
[ "$HAVE_BPFTRACE" = 1 ] && CONFIGS+=(bpftrace)
BCONFIGS=()
if [ "$BREAKDOWN" = 1 ]; then
	BCONFIGS=(p:malloc-entry p:malloc-return p:malloc-both p:free-memscoped
		  p:free-at-0 p:floor3 p:floor3-multi)
	CONFIGS+=("${BCONFIGS[@]}")
fi

declare -A LABEL=(
	[untraced]="untraced"
	[floor]="floor (memscoped --bench-floor, empty programs)"
	[memscoped]="memscoped (full tracking)"
	[tasks-only]="memscoped --tasks-only"
	[bpftrace]="bpftrace memleak.bt"
	[p:malloc-entry]="uprobe malloc+${M_PLUS:-?}"
	[p:malloc-return]="uretprobe malloc"
	[p:malloc-both]="uprobe + uretprobe malloc"
	[p:free-memscoped]="uprobe free+${F_PLUS:-?} (memscoped's placement)"
	[p:free-at-0]="uprobe free+0 (bpftrace/bcc placement)"
	[p:floor3]="malloc entry+return, free+${F_PLUS:-?} (perf-event links, like memscoped)"
	[p:floor3-multi]="same 3 probes as 2 uprobe_multi links"
)

# bench_loop's result in file $1, or nothing
ns_of() { sed -n 's/^ns_per_pair \([0-9.]*\)$/\1/p' "$1" | tail -1; }

# run_one CONFIG TAG: runs once, prints ns per pair; returns 1 on failure.
run_one() {
	local c=$1 out=$TMP/$2.out err=$TMP/$2.err ns
	case $c in
	untraced)
		"$BENCH" "$FAST_ITER" >"$out" 2>"$err" ;;
	floor)
		timeout 600 "$MS" -q --bench-floor -- "$BENCH" "$ITER" >"$out" 2>"$err" ;;
	memscoped)
		# Not -q: the summary proves every allocation was seen.
		timeout 600 "$MS" -- "$BENCH" "$ITER" >"$out" 2>"$err" ;;
	tasks-only)
		timeout 600 "$MS" -q --tasks-only -- "$BENCH" "$FAST_ITER" >"$out" 2>"$err" ;;
	bpftrace)
		timeout 600 "$BPFTRACE" -c "$BENCH $ITER" "$HERE/memleak.bt" >"$out" 2>"$err" ;;
	p:malloc-entry)
		"$TMP/probe_cost" "$LIBC" e:"$ME" -- "$BENCH" --wait-go "$BITER" >"$out" 2>"$err" ;;
	p:malloc-return)
		"$TMP/probe_cost" "$LIBC" r:"$MR" -- "$BENCH" --wait-go "$BITER" >"$out" 2>"$err" ;;
	p:malloc-both)
		"$TMP/probe_cost" "$LIBC" e:"$ME" r:"$MR" -- "$BENCH" --wait-go "$BITER" >"$out" 2>"$err" ;;
	p:free-memscoped)
		"$TMP/probe_cost" "$LIBC" e:"$FE" -- "$BENCH" --wait-go "$BITER" >"$out" 2>"$err" ;;
	p:free-at-0)
		"$TMP/probe_cost" "$LIBC" e:"$F0" -- "$BENCH" --wait-go "$BITER" >"$out" 2>"$err" ;;
	p:floor3)
		"$TMP/probe_cost" "$LIBC" e:"$ME" r:"$MR" e:"$FE" -- "$BENCH" --wait-go "$BITER" >"$out" 2>"$err" ;;
	p:floor3-multi)
		"$TMP/probe_cost" --multi "$LIBC" e:"$ME" r:"$MR" e:"$FE" -- "$BENCH" --wait-go "$BITER" >"$out" 2>"$err" ;;
	esac || { say "  $c failed (exit $?): $(tail -2 "$err" | tr '\n' ' ')"; return 1; }

	ns=$(ns_of "$out")
	[ -n "$ns" ] || { say "  $c: no ns_per_pair in the output"; return 1; }
	case $c in
	floor|memscoped|tasks-only)
		grep -q 'attached to pid' "$err" ||
			{ say "  $c: memscoped never said 'attached to pid'"; return 1; } ;;
	esac
	if [ "$c" = floor ] && ! grep -Eq 'attached to pid .*: [1-9][0-9]* probes' "$err"; then
		say "  floor: no probes attached"; return 1
	fi
	if [ "$c" = memscoped ]; then
		local allocs lost
		allocs=$(awk '$1 == "allocations" { print $2; exit }' "$out")
		lost=$(awk '$1 == "lost" && $2 == "events" { print $3; exit }' "$out")
		if [ -z "$allocs" ] || [ "$allocs" -lt "$ITER" ] || [ "$lost" != 0 ]; then
			say "  memscoped saw ${allocs:-?} allocations (want >= $ITER), ${lost:-?} lost events"
			return 1
		fi
	fi
	if [[ $c == p:* ]]; then
		grep -o 'detached in [0-9.]*' "$err" | awk '{ print $3 }' >"$TMP/$2.detach"
	fi
	echo "$ns"
}

# median and minimum of the numbers in file $1: "median min n"
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - 0"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f %d\n", m, v[1], NR }'
}

START=$(date +%s)
say "malloc_bench: $ROUNDS rounds; ITER=$ITER (traced), $FAST_ITER (untraced, tasks-only), $BITER (per-probe)"
N=${#CONFIGS[@]}
FAILED=0
for ((r = 0; r < ROUNDS; r++)); do
	line="round $((r + 1))/$ROUNDS:"
	for ((i = 0; i < N; i++)); do
		c=${CONFIGS[(i + r) % N]}
		tag=$(echo "$c.$r" | tr ':' '_')
		if ns=$(run_one "$c" "$tag"); then
			echo "$ns" >>"$TMP/$(echo "$c" | tr ':' '_').ns"
			echo "$r $ns" >>"$TMP/$(echo "$c" | tr ':' '_').byround"
			line+=" $c=$ns"
		else
			FAILED=1
			line+=" $c=FAIL"
		fi
	done
	say "$line"
done
ELAPSED=$(( $(date +%s) - START ))

# ---- report ------------------------------------------------------------

declare -A MED MIN
for c in "${CONFIGS[@]}"; do
	f=$TMP/$(echo "$c" | tr ':' '_').ns
	touch "$f"
	read -r "MED[$c]" "MIN[$c]" _ < <(stats "$f")
done
ratio() { # a / b with one decimal place, "-" when unknown
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "## malloc_bench $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "$(nproc) CPUs ($CPU), kernel $(uname -r), glibc $(ldd --version | awk 'NR == 1 { print $NF }')," \
	"$ROUNDS interleaved rounds in ${ELAPSED}s; ITER=$ITER pairs per traced run," \
	"$FAST_ITER per untraced/tasks-only run."
echo
echo "| configuration | median ns/pair | min ns/pair | x untraced | x floor |"
echo "|---|---:|---:|---:|---:|"
for c in untraced floor memscoped tasks-only bpftrace; do
	[ -n "${MED[$c]+x}" ] || continue
	xf=$(ratio "${MED[$c]}" "${MED[floor]}")
	case $c in untraced|tasks-only) xf=- ;; esac # below the floor: meaningless
	echo "| ${LABEL[$c]} | ${MED[$c]} | ${MIN[$c]} | $(ratio "${MED[$c]}" "${MED[untraced]}") | $xf |"
done
echo

R_FLOOR=$(ratio "${MED[memscoped]}" "${MED[floor]}")
verdict() { # value op limit
	awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
		if (v == "-") { print "UNKNOWN"; exit }
		ok = op == "<=" ? v <= l : v >= l
		print ok ? "PASS" : "FAIL" }'
}
V1=$(verdict "$R_FLOOR" "<=" 1.2)
# The same ratio within each round (floor and memscoped run back to back):
# less sensitive to a slow phase of the machine than the ratio of medians.
PAIRED=$(join <(sort "$TMP/floor.byround" 2>/dev/null) <(sort "$TMP/memscoped.byround" 2>/dev/null) |
	awk '$2 > 0 { print $3 / $2 }' | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "median %.2f, range %.2f-%.2f over %d rounds\n", m, v[1], v[NR], NR }')
echo "Target checks (ratios of the medians):"
echo
echo "- memscoped / floor = $R_FLOOR (target <= 1.2): $V1 (per-round ratios: $PAIRED)"
if [ -n "${MED[bpftrace]+x}" ]; then
	R_BT=$(ratio "${MED[bpftrace]}" "${MED[memscoped]}")
	V2=$(verdict "$R_BT" ">=" 3)
	echo "- bpftrace / memscoped = $R_BT (target >= 3): $V2"
else
	V2=UNKNOWN
	echo "- bpftrace / memscoped: not measured (no bpftrace)"
fi
echo

if [ "$BREAKDOWN" = 1 ]; then
	echo "Per probe: empty BPF programs attached by probe_cost.c to bench_loop" \
		"only ($BITER pairs per run; malloc at +$M_PLUS, free at +$F_PLUS as memscoped places them)."
	echo
	echo "| probes (empty programs) | median ns/pair | min ns/pair | x untraced | detach ms (median) |"
	echo "|---|---:|---:|---:|---:|"
	for c in "${BCONFIGS[@]}"; do
		t=$(echo "$c" | tr ':' '_')
		cat "$TMP/$t".*.detach 2>/dev/null >"$TMP/$t.det" || true
		read -r dmed _ _ < <(stats "$TMP/$t.det")
		echo "| ${LABEL[$c]} | ${MED[$c]} | ${MIN[$c]} | $(ratio "${MED[$c]}" "${MED[untraced]}") | $dmed |"
	done
	echo
fi

# ---- per-program cost (kernel.bpf_stats_enabled) -----------------------

# prog_stats_of PID: "name run_cnt run_time_ns" for the BPF programs PID holds
prog_stats_of() {
	local id
	for id in $(cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" { print $2 }' | sort -un); do
		bpftool prog show id "$id" -j 2>/dev/null |
			jq -r '"\(.name) \(.run_cnt // 0) \(.run_time_ns // 0)"'
	done
}

# measure_progs MODE: one memscoped run with BPF run-time statistics on;
# two samples of its programs' counters 1 s apart, mid-loop.
measure_progs() {
	local mode=$1 err=$TMP/ps.$1.err pid i
	# Long enough (about 4 s) that both samples fall inside the loop.
	local n=$(( ITER * 6 > 1500000 ? ITER * 6 : 1500000 ))
	local args=(-q)
	[ "$mode" = floor ] && args+=(--bench-floor)
	"$MS" "${args[@]}" -- "$BENCH" "$n" >"$TMP/ps.$mode.out" 2>"$err" &
	pid=$!
	for ((i = 0; i < 100; i++)); do
		grep -qs 'attached to pid' "$err" && break
		sleep 0.1
	done
	sleep 0.5
	prog_stats_of "$pid" >"$TMP/ps.$mode.a"
	sleep 1
	prog_stats_of "$pid" >"$TMP/ps.$mode.b"
	wait "$pid" || true
	join <(sort "$TMP/ps.$mode.a") <(sort "$TMP/ps.$mode.b") |
		awk -v mode="$mode" -v ns="$(ns_of "$TMP/ps.$mode.out")" '
		$4 > $2 {
			runs = $4 - $2; t = $5 - $3
			printf "| %s | %s | %d | %.1f |\n", mode, $1, runs, t / runs
		} END { printf "| %s | (whole run, with stats on) | | %s ns/pair |\n", mode, ns }'
}

if [ "$PROG_STATS" = auto ]; then
	PROG_STATS=$(awk -v r="$R_FLOOR" 'BEGIN { print (r != "-" && r > 1.2) ? 1 : 0 }')
fi
if [ "$PROG_STATS" = 1 ]; then
	if ! command -v bpftool >/dev/null || ! command -v jq >/dev/null; then
		say "malloc_bench: per-program statistics need bpftool and jq"
	else
		STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
		sysctl -q -w kernel.bpf_stats_enabled=1
		echo "Per BPF program (kernel.bpf_stats_enabled=1, which itself adds two clock reads per run;" \
			"counters sampled 1 s apart in the middle of a $(( ITER * 6 > 1500000 ? ITER * 6 : 1500000 ))-pair run):"
		echo
		echo "| mode | program | runs in the window | ns per run |"
		echo "|---|---|---:|---:|"
		measure_progs memscoped
		measure_progs floor
		echo
		sysctl -q -w kernel.bpf_stats_enabled="$STATS_WAS"
		STATS_WAS=
	fi
fi

[ "$FAILED" = 0 ] || say "malloc_bench: some runs failed (see above); their rows use the runs that worked"
if [ "$CHECK" = 1 ] && { [ "$V1" != PASS ] || [ "$V2" = FAIL ] || [ "$FAILED" = 1 ]; }; then
	exit 1
fi
exit 0
