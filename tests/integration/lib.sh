# Shared helpers for integration tests (sourced). Every wait here waits for
# an event (a line in a file, a process state) with a generous safety
# timeout; none sleeps to synchronise.
set -euo pipefail

: "${MS_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${MS_BUILD:=$MS_SRC/build}"
MEMSCOPED=${MEMSCOPED:-$MS_BUILD/memscoped}
TARGETS=$MS_BUILD/tools/targets
CRT=$MS_BUILD/tools/crt
TOKIO=$MS_SRC/tools/tokio/target/release

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: integration tests need root"
	exit 77
fi

T=$(mktemp -d /tmp/memscope-test.XXXXXX)
MS_PIDS=()
cleanup() {
	local p
	for p in "${MS_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${MS_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "${MS_HOLD:-}" ]; then exec {MS_HOLD}>&- 2>/dev/null || true; fi
	# Mounts a test made under $T go with it.
	{ grep -o " $T/[^ ]*" /proc/mounts || true; } | while read -r mnt; do umount "$mnt" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	# MS_KEEP=DIR: the failed run's files are copied there to look at.
	if [ -n "${MS_KEEP:-}" ]; then
		mkdir -p "$MS_KEEP" && cp -r "$T" "$MS_KEEP/" 2>/dev/null || true
	fi
	for f in "$T"/*.out "$T"/*.err; do
		[ -f "$f" ] || continue
		echo "---- $f" >&2
		tail -n 30 "$f" >&2
	done
	exit 1
}

pass() { echo "ok: $*"; }

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches.
wait_for() {
	local file=$1 re=$2 limit=${3:-60} i=0
	while ! grep -qE -- "$re" "$file" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $((limit * 20)) ] || fail "timed out waiting for /$re/ in $file"
		sleep 0.05
	done
}

# wait_exit PID [SECONDS]: until the process is gone (not our child).
wait_gone() {
	local pid=$1 limit=${2:-60} i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le $((limit * 20)) ] || fail "pid $pid still alive"
		sleep 0.05
	done
}

# A FIFO the test writes to when it wants the target to go on. The write
# end stays open in this shell so the target never sees EOF early.
make_fifo() {
	local f=$T/$1.fifo
	mkfifo "$f"
	echo "$f"
}

# truth FILE: the JSON after "TRUTH " in a target's stderr.
truth() { grep -m1 '^TRUTH ' "$1" | cut -d' ' -f2-; }

# jqv FILE EXPR: one value from a JSON file.
jqv() { jq -r "$2" "$1"; }

# jq: a task's spawn stack, from sites[] (memscoped writes each site's
# frames once): jq "$SITE"' . as $s | .tasks[] | site($s)[0].function'
# shellcheck disable=SC2034,SC2016 # used by the tests; jq's $s
SITE='def site($s): if .spawn_site_id == null then null
	else $s.sites[.spawn_site_id].frames end;'

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
