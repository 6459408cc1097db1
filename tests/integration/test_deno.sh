#!/bin/bash
# Deno, a real program nobody here wrote: stripped, no .eh_frame, tokio
# 1.47 built with tokio_unstable, from npm (@deno/linux-x64-glibc, installed
# by tools/setup-deps.sh). A Deno.serve hello server runs under
# `memscoped --top -- deno run ...` in a terminal (tmux), wrk -c 16 loads it:
#  - a snapshot taken during the load shows >= 16 alive user tasks holding
#    memory (the connections), with their future sizes;
#  - the top view lists those tasks at the same moment;
#  - after the load those tasks have completed;
#  - 'q' gives the terminal back with the snapshot written.
# The snapshot is asked for with SIGUSR1 and read when its taken_ns moves,
# until the condition holds: no fixed sleeps.
. "$(dirname "$0")/lib.sh"

DENO=${MEMSCOPE_DENO:-${MEMSCOPE_CACHE:-/var/cache/memscope}/deno/node_modules/@deno/linux-x64-glibc/deno}
[ -x "$DENO" ] || { echo "SKIP: deno is not installed at $DENO (tools/setup-deps.sh installs it from npm)"; exit 77; }
for c in tmux wrk jq; do
	command -v "$c" >/dev/null || { echo "SKIP: $c is not installed"; exit 77; }
done

SOCK=$T/tmux.sock
tm() { tmux -f /dev/null -S "$SOCK" "$@"; }
DENO_PID=
trap 'tm kill-server >/dev/null 2>&1 || true; [ -z "$DENO_PID" ] || kill -9 "$DENO_PID" 2>/dev/null || true; cleanup' EXIT

cat >"$T/serve.ts" <<'EOF'
// A hello server; its port goes to the file named by the first argument.
Deno.serve({
  port: 0,
  hostname: "127.0.0.1",
  onListen: ({ port }) => Deno.writeTextFileSync(Deno.args[0], `${port}\n`),
}, (_req) => new Response("hello\n"));
EOF

export DENO_DIR=$T/deno-dir DENO_NO_UPDATE_CHECK=1 NO_COLOR=1
# A shell in the pane, as in a user's terminal: when memscoped exits, no
# session leader's exit hangs up deno, so whether deno survives memscoped
# is memscoped's doing.
tm new-session -d -x 200 -y 60 \
	"$MEMSCOPED --top -s $T/snap.json -- $DENO run --allow-net --allow-write $T/serve.ts $T/port 2>$T/ms.err; echo memscoped exited \$? >$T/exit; exec sleep 100000"
SH=$(tm list-panes -F '#{pane_pid}')
wait_for "$T/port" '^[0-9]+$' 60
MS=$(pgrep -P "$SH" -x memscoped)
PORT=$(cat "$T/port")
DENO_PID=$(pgrep -P "$MS" | head -1)
pass "deno listens on $PORT under memscoped (pid $MS)"

# snap: a new snapshot, once its taken_ns moved past the last one.
LAST=-1
snap() {
	local i=0 t
	kill -USR1 "$MS"
	while :; do
		t=$(jq -r .taken_ns "$T/snap.json" 2>/dev/null || echo -1)
		[ "$t" != "$LAST" ] && [ "$t" != -1 ] && break
		i=$((i + 1))
		[ $i -le 400 ] || fail "no snapshot after SIGUSR1"
		sleep 0.05
	done
	LAST=$t
}

# The pane once the table is drawn (a snapshot redraws the screen).
screen_with_table() {
	local i=0
	while :; do
		tm capture-pane -p -t 0 >"$T/screen.out"
		grep -qE '^ +ID KIND' "$T/screen.out" && return
		i=$((i + 1))
		[ $i -le 400 ] || fail "the top view shows no task table"
		sleep 0.05
	done
}

# Before the load: the server's own tasks, which stay.
snap
BEFORE=$(jq -c '[.tasks[].id]' "$T/snap.json")
# Alive user tasks holding memory, spawned for the load (connections).
LOADED="[.tasks[] | select(.kind == \"user\" and (.state == \"pending\" or .state == \"running\") and .live_bytes > 0 and .future_size != null and (.id as \$i | $BEFORE | index(\$i) | not))]"

wrk -t2 -c16 -d8s "http://127.0.0.1:$PORT/" >"$T/wrk.out" 2>&1 &
WRK=$!
n=0
while :; do
	snap
	screen_with_table
	n=$(jq "$LOADED | length" "$T/snap.json")
	[ "$n" -ge 16 ] && break
	kill -0 "$WRK" 2>/dev/null || fail "the load ended with only $n loaded tasks in the snapshot"
done
pass "during the load: $n new alive user tasks holding memory"
cp "$T/snap.json" "$T/load.json"
jq -e '.runtime == "tokio" and .totals.lost_events == 0' "$T/load.json" >/dev/null ||
	fail "runtime tokio, nothing lost"
IDS=$(jq -r "$LOADED | sort_by(-.live_bytes) | .[0:16] | .[].id" "$T/load.json")
# The screen was taken right after that snapshot: the same tasks on it
# (but for those that moved in between).
# The view refreshes its copy of the model once a second: wait for it.
i=0
while :; do
	seen=0
	for id in $IDS; do
		awk -v id="$id" '$1 == id && $2 == "user"' "$T/screen.out" | grep -q . && seen=$((seen + 1))
	done
	[ "$seen" -ge 12 ] && break
	i=$((i + 1))
	[ $i -le 60 ] || break
	sleep 0.05
	screen_with_table
done
if [ "$seen" -lt 12 ]; then
	echo "loaded tasks: $IDS" | tr '\n' ' ' >&2
	grep -v '^ *$' "$T/screen.out" >&2
	fail "top view shows $seen of the 16 loaded tasks"
fi
pass "the top view lists $seen of those 16 tasks"

wait "$WRK" || fail "wrk failed"
grep -q 'Requests/sec' "$T/wrk.out" || fail "wrk served nothing"
# After the load: every one of those tasks has completed.
i=0
while :; do
	snap
	left=0
	for id in $IDS; do
		st=$(jq -r --argjson id "$id" '[.tasks[] | select(.id == $id)][0].state // "gone"' "$T/snap.json")
		[ "$st" = completed ] || [ "$st" = gone ] || left=$((left + 1))
	done
	[ $left = 0 ] && break
	i=$((i + 1))
	[ $i -le 200 ] || fail "$left of the loaded tasks still not completed after the load"
done
pass "after the load: all 16 completed"

tm send-keys -t 0 q
wait_for "$T/exit" 'memscoped exited 0' 10
grep -q 'snapshot written' "$T/ms.err" || fail "no final snapshot"
# Messages wait for the live view to close.
grep -q 'no debug file was found' "$T/ms.err" ||
	fail "no word that spawn sites need a debug file"
kill -0 "$DENO_PID" 2>/dev/null || fail "deno did not survive memscoped"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET / HTTP/1.0\r\nHost: x\r\n\r\n' >&3
grep -q '^hello' <&3 || fail "deno does not answer after memscoped stopped"
exec 3<&-
pass "q: memscoped stopped, snapshot written, deno still serving"
echo "PASS"
