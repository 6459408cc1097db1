#!/bin/bash
# alloc_bench.sh - malloc_bench.sh's loop per allocator (issue 14): what
# memscoped costs a tight allocate+free loop with glibc, shared jemalloc,
# mimalloc and tcmalloc, jemalloc linked into the executable (unprefixed),
# and Rust's static jemalloc (_rjem_ prefix), against the floor
# (memscoped --bench-floor: the same probes, empty BPF programs).
#
# Programs: build/tools/targets/bench_loop{,_jemalloc,_mimalloc,_tcmalloc,
# _jemalloc_static} (malloc(64..127) + free) and tools/alloc-rust's
# ra_bench (a Vec of 64..127 bytes: _rjem_malloc + _rjem_sdallocx). Each
# prints "ns_per_pair X". Interleaved rounds: every (allocator,
# configuration) once per round, the order rotated each round, so that slow
# phases of a shared machine hit all alike. Every memscoped run must have
# seen ITER allocations with no lost event. Needs root.
#
# usage: tools/bench/alloc_bench.sh [-r ROUNDS] [-n ITER]
#   -r ROUNDS   rounds (default 5)
#   -n ITER     pairs per traced run (default 200000; untraced: 100 x)
# Output: a Markdown table on stdout, progress on stderr.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MS=$BUILD/memscoped
ROUNDS=5
ITER=200000

die() { echo "alloc_bench: $*" >&2; exit 2; }
say() { echo "$*" >&2; }

while [ $# -gt 0 ]; do
	case $1 in
	-r) ROUNDS=${2:?}; shift 2 ;;
	-n) ITER=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "-r takes a positive number"
[[ $ITER =~ ^[1-9][0-9]*$ ]] || die "-n takes a positive number"
[ "$(id -u)" = 0 ] || die "needs root (BPF, uprobes)"
[ -x "$MS" ] || die "$MS is missing: build first"

declare -A BIN=(
	[glibc]=$BUILD/tools/targets/bench_loop
	[jemalloc]=$BUILD/tools/targets/bench_loop_jemalloc
	[mimalloc]=$BUILD/tools/targets/bench_loop_mimalloc
	[tcmalloc]=$BUILD/tools/targets/bench_loop_tcmalloc
	[jemalloc-static]=$BUILD/tools/targets/bench_loop_jemalloc_static
	[rust-rjem-static]=$ROOT/tools/alloc-rust/target/release/ra_bench
)
ALLOCS=()
for a in glibc jemalloc mimalloc tcmalloc jemalloc-static rust-rjem-static; do
	if [ -x "${BIN[$a]}" ]; then
		ALLOCS+=("$a")
	else
		say "alloc_bench: ${BIN[$a]} not built: $a skipped"
	fi
done

TMP=$(mktemp -d /tmp/alloc_bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ns_of() { sed -n 's/^ns_per_pair \([0-9.]*\)$/\1/p' "$1" | tail -1; }

# run_one ALLOC CONFIG: ns per pair, or return 1.
run_one() {
	local a=$1 c=$2 out=$TMP/run.out err=$TMP/run.err n allocs lost
	case $c in
	untraced) "${BIN[$a]}" $((ITER * 100)) >"$out" 2>"$err" ;;
	floor) timeout 600 "$MS" -q --bench-floor -- "${BIN[$a]}" "$ITER" >"$out" 2>"$err" ;;
	memscoped) timeout 600 "$MS" -- "${BIN[$a]}" "$ITER" >"$out" 2>"$err" ;;
	esac || { say "  $a $c failed: $(tail -2 "$err" | tr '\n' ' ')"; return 1; }
	if [ "$c" = memscoped ]; then
		allocs=$(awk '$1 == "allocations" { print $2; exit }' "$out")
		lost=$(awk '$1 == "lost" && $2 == "events" { print $3; exit }' "$out")
		if [ -z "$allocs" ] || [ "$allocs" -lt "$ITER" ] || [ "$lost" != 0 ]; then
			say "  $a: memscoped saw ${allocs:-?} allocations (want >= $ITER), ${lost:-?} lost"
			return 1
		fi
	fi
	n=$(ns_of "$out")
	[ -n "$n" ] || return 1
	echo "$n"
}

CONFIGS=(untraced floor memscoped)
JOBS=()
for a in "${ALLOCS[@]}"; do
	for c in "${CONFIGS[@]}"; do JOBS+=("$a:$c"); done
done
START=$(date +%s)
N=${#JOBS[@]}
for ((r = 0; r < ROUNDS; r++)); do
	line="round $((r + 1))/$ROUNDS:"
	for ((i = 0; i < N; i++)); do
		j=${JOBS[(i + r) % N]}
		a=${j%%:*} c=${j#*:}
		if ns=$(run_one "$a" "$c"); then
			echo "$ns" >>"$TMP/$a.$c"
			echo "$r $ns" >>"$TMP/$a.$c.byround"
			line+=" $j=$ns"
		else
			line+=" $j=FAIL"
		fi
	done
	say "$line"
done
ELAPSED=$(( $(date +%s) - START ))

median() {
	[ -s "$1" ] || { echo -; return; }
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f\n", m }'
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f\n", a / b }'
}
# median of memscoped/floor within each round (run in the same round)
paired() {
	join <(sort "$TMP/$1.floor.byround" 2>/dev/null) \
		<(sort "$TMP/$1.memscoped.byround" 2>/dev/null) |
		awk '$2 > 0 { print $3 / $2 }' | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.2f (%.2f-%.2f)\n", m, v[1], v[NR] }'
}

CPU=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "## alloc_bench $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "$(nproc) CPUs ($CPU), kernel $(uname -r); $ROUNDS interleaved rounds in ${ELAPSED}s;" \
	"ITER=$ITER pairs per traced run, $((ITER * 100)) untraced."
echo
echo "| allocator | untraced ns/pair | floor ns/pair | memscoped ns/pair | memscoped / floor | per round |"
echo "|---|---:|---:|---:|---:|---:|"
for a in "${ALLOCS[@]}"; do
	u=$(median "$TMP/$a.untraced")
	f=$(median "$TMP/$a.floor")
	m=$(median "$TMP/$a.memscoped")
	echo "| $a | $u | $f | $m | $(ratio "$m" "$f") | $(paired "$a") |"
done
