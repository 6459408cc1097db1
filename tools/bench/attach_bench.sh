#!/bin/bash
# attach_bench.sh - attach time on a binary with thousands of monomorphized
# tokio task functions (tools/bench/tk_many: TK_MANY_TASKS distinct future
# types, default 10000; building it takes ~25 min on 2 cores, so it is not
# part of the test build), and the memory of the BPF maps.
# usage: tools/bench/attach_bench.sh [--no-uprobe-multi]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MS=${BUILD:-$ROOT/build}/memscoped
MANY=$HERE/tk_many/target/release/tk_many
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin:/root/.cargo/bin"
[ -x "$MANY" ] || (cd "$HERE/tk_many" && cargo build --release --offline --quiet)

T=$(mktemp -d)
trap 'exec 8>&- 2>/dev/null || true; rm -rf "$T"' EXIT
mkfifo "$T/go"
"$MANY" <"$T/go" >"$T/many.out" 2>&1 &
target=$!
exec 8>"$T/go"
until grep -q READY "$T/many.out"; do sleep 0.01; done
polls=$(nm "$MANY" | grep -c 'task3raw4poll')
t0=$(date +%s%N)
"$MS" -q --no-top "$@" -s "$T/s.json" --pid "$target" >/dev/null 2>"$T/ms.err" &
ms=$!
until grep -q 'attached to pid' "$T/ms.err"; do sleep 0.005; done
t1=$(date +%s%N)
# Maps memscoped holds: their fdinfo tells each one's memlock.
maps=$(grep -h -A20 '^map_type' /proc/"$ms"/fdinfo/* 2>/dev/null |
	awk '/^memlock:/ {s += $2} END {print s + 0}')
echo go >&8
exec 8>&-
t2=$(date +%s%N)
wait "$ms"
t3=$(date +%s%N)
wait "$target" || true
probes=$(sed -nE 's/.*: ([0-9]+) probes/\1/p' "$T/ms.err")
echo "| raw::poll symbols | probes | attach | run + detach | BPF maps (memlock) | tasks seen |"
echo "|---:|---:|---:|---:|---:|---:|"
echo "| $polls | $probes | $(( (t1 - t0) / 1000000 )) ms | $(( (t3 - t2) / 1000000 )) ms | $((maps / 1048576)) MiB | $(jq '.tasks | length' "$T/s.json") |"
