#!/bin/bash
# memscoped stops when asked, within 1 s, with its snapshot and summary
# written, in every mode (launch, --pid, --all) and for every way of asking
# (--duration, SIGINT, SIGTERM, SIGHUP, q in the live view), against:
#  - blocked: tk_blocked --busy: a task blocked forever inside its poll,
#    spawn_blocking work running all along, the runtime's own worker
#    tasks, and a task spawned every 10 ms;
#  - load: tk_hello (hyper) under wrk.
# After each stop the target still runs (and answers, for tk_hello), and
# no BPF link or program of memscoped's is left in the kernel.
. "$(dirname "$0")/lib.sh"

for c in bpftool jq tmux wrk; do
	command -v "$c" >/dev/null || { echo "SKIP: $c is not installed"; exit 77; }
done
BLK=$TOKIO/tk_blocked
HELLO=$TOKIO/tk_hello
[ -x "$BLK" ] && [ -x "$HELLO" ] || { echo "SKIP: tokio targets not built"; exit 77; }

LIMIT_MS=1000
SOCK=$T/tmux.sock
tm() { tmux -f /dev/null -S "$SOCK" "$@"; }
TGT=
WRK=
stop_target() {
	[ -z "$WRK" ] || { kill "$WRK" 2>/dev/null || true; wait "$WRK" 2>/dev/null || true; }
	[ -z "$TGT" ] || { kill -9 "$TGT" 2>/dev/null || true; wait "$TGT" 2>/dev/null || true; }
	WRK=
	TGT=
}
trap 'tm kill-server >/dev/null 2>&1 || true; stop_target; cleanup' EXIT

now_ms() { date +%s%3N; }
ids() { bpftool -j "$1" show | jq -c '[.[].id]'; }
LINKS0=$(ids link)
PROGS0=$(ids prog)

# Nothing of memscoped's left in the kernel: no link or program that was
# not there before the test.
check_kernel_clean() {
	local what=$1 n
	for kind in link prog; do
		local before=$LINKS0
		[ $kind = prog ] && before=$PROGS0
		n=$(bpftool -j $kind show | jq --argjson b "$before" \
			'[.[] | select(.id as $i | $b | index($i) | not)] | length')
		[ "$n" = 0 ] || fail "$what: $n BPF ${kind}s left after memscoped exited"
	done
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_target blocked|load: the target (for --pid and --all), TGT.
start_target() {
	"${PROG[@]}" >"$T/tgt.out" 2>"$T/tgt.err" &
	TGT=$!
	wait_for "$T/tgt.out" '^READY$' 30
}

# The target still runs, and the server answers.
check_target() {
	local what=$1 kind=$2 st
	st=$(sed 's/.*) //' "/proc/$TGT/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] || fail "$what: the target is gone"
	if [ "$kind" = load ]; then
		exec 3<>"/dev/tcp/127.0.0.1/$PORT"
		printf 'GET / HTTP/1.0\r\n\r\n' >&3
		grep -q hello <&3 || fail "$what: the server does not answer"
		exec 3<&-
	fi
}

# The server is loaded: wrk runs and has been answered.
start_load() {
	wrk -t2 -c16 -d30s "http://127.0.0.1:$PORT/" >"$T/wrk.out" 2>&1 &
	WRK=$!
	exec 3<>"/dev/tcp/127.0.0.1/$PORT"
	printf 'GET / HTTP/1.0\r\n\r\n' >&3
	grep -q hello <&3 || fail "the server does not answer under load"
	exec 3<&-
}

# Where memscoped says it watches the target.
attached_re() {
	echo "^memscoped: attached to pid $TGT "
}

# One run: KIND (blocked|load), MODE (launch|pid|all), WAY (duration|INT|
# TERM|HUP|q). Asks memscoped to stop once it watches the target, the
# target is READY (and loaded), and times the stop.
run() {
	local kind=$1 mode=$2 way=$3 name="$1-$2-$3" snap args=() ms= t0 t1 dt
	PORT=$(free_port)
	PROG=("$BLK" --busy --forever)
	[ "$kind" = load ] && PROG=("$HELLO" --port "$PORT" --forever)
	[ "$way" = duration ] && args+=(--duration 2)
	snap=$T/$name.json
	if [ "$mode" = all ]; then
		args+=(--all -s "$T/$name.{pid}.json")
	else
		args+=(-s "$snap")
	fi
	if [ "$mode" != launch ]; then
		start_target
		[ "$mode" = pid ] && args+=(--pid "$TGT")
	else
		args+=(-- "${PROG[@]}")
	fi
	if [ "$way" = q ]; then
		# The live view needs the terminal: the summary is read off
		# the pane afterwards.
		tm kill-server >/dev/null 2>&1 || true
		tm new-session -d -x 200 -y 50 \
			"$MEMSCOPED --top ${args[*]} 2>$T/$name.err; echo \$? >$T/$name.exit; exec sleep 100000"
		local i=0
		until tm capture-pane -p | grep -qE 'tk_(blocked|hello)'; do
			i=$((i + 1))
			[ $i -le 600 ] || fail "$name: no live view"
			sleep 0.05
		done
		[ "$mode" = launch ] && TGT=$(pgrep -n -f -- "^${PROG[0]} ")
		if [ "$mode" = all ]; then
			# The view shows the target once it is watched.
			i=0
			until tm capture-pane -p | grep -q "pid $TGT"; do
				i=$((i + 1))
				[ $i -le 600 ] || fail "$name: target not in the view"
				sleep 0.05
			done
		fi
	else
		"$MEMSCOPED" --no-top "${args[@]}" >"$T/$name.out" 2>"$T/$name.err" &
		ms=$!
		MS_PIDS+=("$ms")
		if [ "$mode" = launch ]; then
			wait_for "$T/$name.err" '^memscoped: attached to pid' 30
			TGT=$(sed -nE 's/^memscoped: attached to pid ([0-9]+).*/\1/p' "$T/$name.err")
			wait_for "$T/$name.out" '^READY$' 30
		else
			wait_for "$T/$name.err" "$(attached_re "$mode")" 30
		fi
	fi
	t0=$(now_ms)
	[ "$kind" = load ] && start_load
	case $way in
	duration) ;;
	q)
		t0=$(now_ms)
		tm send-keys q
		;;
	*)
		t0=$(now_ms)
		kill -"$way" "$ms"
		;;
	esac
	if [ "$way" = q ]; then
		wait_for "$T/$name.exit" '^[0-9]+$' 30
		t1=$(now_ms)
		expect_eq "$name: exit status" "$(cat "$T/$name.exit")" 0
		tm capture-pane -p -S -300 >"$T/$name.out"
	else
		local rc=0
		wait "$ms" || rc=$?
		t1=$(now_ms)
		expect_eq "$name: exit status" "$rc" 0
	fi
	dt=$((t1 - t0))
	if [ "$way" = duration ]; then
		# Asked 2 s after memscoped started, which came before it said
		# it was attached.
		[ $dt -le $((2000 + LIMIT_MS)) ] ||
			fail "$name: stopped $dt ms after attach with --duration 2"
	else
		[ $dt -le $LIMIT_MS ] || fail "$name: stopped $dt ms after being asked"
	fi
	[ "$mode" = all ] && snap=$T/$name.$TGT.json
	jq -e --argjson p "$TGT" '.target.pid == $p' "$snap" >/dev/null ||
		fail "$name: no snapshot of pid $TGT"
	if [ "$mode" = all ]; then
		grep -q "== pid $TGT" "$T/$name.out" || fail "$name: no summary"
	else
		grep -q 'memscoped summary' "$T/$name.out" || fail "$name: no summary"
	fi
	check_target "$name" "$kind"
	check_kernel_clean "$name"
	tm kill-server >/dev/null 2>&1 || true
	stop_target
	pass "$name: stopped in $dt ms$([ "$way" = duration ] && echo ' from attach, --duration 2'), snapshot and summary written, target unharmed, kernel clean"
}

for mode in launch pid all; do
	for way in duration INT TERM HUP q; do
		run blocked "$mode" "$way"
	done
done
for way in duration INT TERM HUP q; do
	run load launch "$way"
done
run load pid INT
run load pid HUP
run load all TERM
run load all q
echo "PASS"
