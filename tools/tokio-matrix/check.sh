#!/bin/bash
# Run every tk_matrix binary of a built matrix (each version, mangling,
# stripped or not, under --rt mt and ct) through the protocol and check its
# TRUTH line, exit status and symbols. Needs jq and nm.
#
#   tools/tokio-matrix/check.sh [DIR]    DIR defaults to `build.sh --print-dir`
#
# Prints one line per run and a closing "N passed, N failed".
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
DIR=${1:-$("$HERE/build.sh" --print-dir)} || {
	echo "check: matrix not built (run $HERE/build.sh)" >&2
	exit 1
}
[ -f "$DIR/versions" ] || {
	echo "check: $DIR is not a complete matrix" >&2
	exit 1
}

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
SITES="spawn_small spawn_medium spawn_large spawn_huge spawn_sleeper spawn_nowaker spawn_leak spawn_shutdown spawn_quick"

# run BIN RT: start it, wait for READY, send the release line, wait for exit.
run() {
	local bin=$1 rt=$2 pid i
	rm -f "$T/in" && mkfifo "$T/in"
	"$bin" --rt "$rt" <"$T/in" >"$T/out" 2>"$T/err" &
	pid=$!
	exec 8>"$T/in"
	for ((i = 0; i < 400; i++)); do
		grep -qx READY "$T/out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -qx READY "$T/out" || echo "no READY within 20 s" >>"$T/problems"
	echo release >&8
	exec 8>&-
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 "$pid"
		echo "still running 10 s after the release line" >>"$T/problems"
	fi
	wait "$pid"
}

# expect JQ_FILTER EXPECTED MESSAGE
expect() {
	local got
	got=$(jq -r "$1" "$T/truth.json" 2>&1)
	[ "$got" = "$2" ] || echo "$3: got '$got', want '$2'" >>"$T/problems"
}

while read -r v; do
	minor=$(echo "$v" | cut -d. -f2)
	for m in legacy v0; do
		for s in "" -stripped; do
			bin=$DIR/tk_matrix-$v-$m$s
			for rt in mt ct; do
				: >"$T/problems"
				run "$bin" "$rt"
				rc=$?
				[ $rc = 0 ] || echo "exit status $rc" >>"$T/problems"
				[ "$(cat "$T/out")" = READY ] || echo "stdout is not just READY" >>"$T/problems"
				[ "$(grep -c '^TRUTH ' "$T/err")" = 1 ] || echo "not one TRUTH line" >>"$T/problems"
				sed -n 's/^TRUTH //p' "$T/err" | head -n 1 >"$T/truth.json"
				if jq -e . "$T/truth.json" >/dev/null 2>&1; then
					expect .tokio "$v" "tokio version"
					expect .mangling "$m" mangling
					expect .rt "$rt" rt
					expect '"\(.user_tasks) \(.completed) \(.released) \(.aborted) \(.nowaker) \(.shutdown) \(.pending_at_ready)"' \
						"40 24 5 6 2 3 10" "task counts"
					expect '[.sites[].site] | join(" ")' "$SITES" sites
					expect '[.sites[] | .tasks - .completed - .released - .aborted - .nowaker - .shutdown] | map(select(. != 0)) | length' \
						0 "per-site outcome sums"
					expect '[.sites[].tasks] | add' 40 "per-site task sum"
					for a in small:88 medium:1024 large:20024 huge:100024; do
						expect ".sites[] | select(.site == \"spawn_${a%%:*}\") | .size > ${a#*:} and .size < ${a#*:} + 256" \
							true "spawn_${a%%:*} size"
					done
					if [ "$minor" -ge 41 ]; then
						expect '[.sites[] | select(.boxed) | .site] | join(" ")' "spawn_large spawn_huge" boxed
					else
						expect '[.sites[] | select(.boxed) | .site] | join(" ")' "" boxed
					fi
				else
					echo "TRUTH is not JSON" >>"$T/problems"
				fi
				# Symbols: spawn sites are real functions; v0 or legacy names.
				nm "$bin" >"$T/nm" 2>/dev/null
				if [ -n "$s" ]; then
					[ ! -s "$T/nm" ] || echo "stripped binary has symbols" >>"$T/problems"
				else
					for site in $SITES; do
						grep -q " [tT] .*${#site}${site}" "$T/nm" ||
							echo "no text symbol for $site" >>"$T/problems"
					done
					if [ $m = v0 ]; then pre=_R; else pre=_ZN; fi
					grep -q " [tT] ${pre}.*9tk_matrix11spawn_small" "$T/nm" ||
						echo "spawn_small is not $m-mangled" >>"$T/problems"
				fi
				name="tk_matrix-$v-$m$s --rt $rt"
				if [ -s "$T/problems" ]; then
					fail=$((fail + 1))
					echo "FAIL $name"
					sed 's/^/    /' "$T/problems"
					sed 's/^/    stderr: /' "$T/err" | head -n 5
				else
					pass=$((pass + 1))
					echo "ok   $name $(jq -c '[.sites[] | "\(.site)=\(.size)/\(.align)"] | join(" ")' "$T/truth.json")"
				fi
			done
		done
	done
	# A bad argument exits 2.
	"$DIR/tk_matrix-$v-legacy" --rt xx </dev/null >/dev/null 2>&1
	rc=$?
	if [ $rc = 2 ]; then
		pass=$((pass + 1))
		echo "ok   tk_matrix-$v-legacy --rt xx exits 2"
	else
		fail=$((fail + 1))
		echo "FAIL tk_matrix-$v-legacy --rt xx exits $rc, not 2"
	fi
done <"$DIR/versions"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
