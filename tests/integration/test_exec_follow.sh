#!/bin/bash
# A target that runs another program is followed (launch and --pid mode):
#  - through env, nice, taskset and a shell script that execs, the tokio
#    program's tasks are found (runtime tokio, its buffer tasks holding
#    their bytes), the exec is said on stderr and in the snapshot
#    (target.execs), and the old image's blocks are gone, not live
#    (totals.exec_released_*, live = allocated - freed - released);
#  - forked children are counted once (target.forks, one line);
#  - in --pid mode the exit status is the kernel's: 3 for exit(3), 137 for
#    SIGKILL, never an invented 0.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/async_lib.sh"

# By its real path: what /proc/PID/exe (target.execs[].exe) says, even when
# tools/tokio/target is a symlink (a git worktree sharing another's build).
BUF=$(readlink -f "$TOKIO/tk_buffers" || true)
[ -x "$BUF" ] || { echo "SKIP: $TOKIO/tk_buffers not built"; exit 77; }

check_followed() {
	local name=$1 snap=$T/$1.end.json r=$T/$1.ready.json
	check "$snap" "$name: runtime" '.runtime' tokio
	check "$r" "$name@READY: 3 tasks holding their buffer" \
		'[.tasks[] | select(.kind == "user" and .live_bytes >= 100000)] | length' 3
	check "$snap" "$name: the exec in the snapshot" \
		"[.target.execs[] | select(.exe == \"$BUF\")] | length" 1
	check "$snap" "$name: the old image's blocks released, not live" \
		'.totals.exec_released_count > 0 and
		 .totals.live_count == .totals.alloc_count - .totals.free_count - .totals.exec_released_count' true
	check "$snap" "$name: nothing lost" '.totals.lost_events' 0
	grep -q "ran another program: $BUF" "$T/$name.err" ||
		fail "$name: no word of the exec on stderr"
}

# The wrappers keep the stdin protocol of the tokio target.
session env launch -- /usr/bin/env RUST_LOG=info "$BUF" --tasks 3 --size 100000
check_followed env
session nice launch -- /usr/bin/nice -n 1 "$BUF" --tasks 3 --size 100000
check_followed nice
session taskset launch -- /usr/bin/taskset -c 0,1 "$BUF" --tasks 3 --size 100000
check_followed taskset
printf '#!/bin/sh\nexec %s "$@"\n' "$BUF" >"$T/run.sh"
chmod +x "$T/run.sh"
session script launch -- "$T/run.sh" --tasks 3 --size 100000
check_followed script

# --pid: a program that execs once the probes are in (--wait-go first).
cat >"$T/later.sh" <<EOF
#!/bin/sh
read go
exec $BUF --tasks 3 --size 100000
EOF
chmod +x "$T/later.sh"
exec {HOLD}<>"$(make_fifo later)"
"$T/later.sh" <"$T/later.fifo" >"$T/later.out" 2>"$T/later.terr" &
tgt=$!
MS_PIDS+=("$tgt")
"$MEMSCOPED" --no-top -s "$T/later.json" --pid "$tgt" >"$T/later.msout" \
	2>"$T/later.err" &
ms=$!
MS_PIDS+=("$ms")
wait_for "$T/later.err" "attached to pid $tgt" 30
echo go >&"$HOLD"
wait_for "$T/later.out" '^READY$' 30
wait_for "$T/later.err" 'ran another program' 30
echo release >&"$HOLD"
wait "$ms" || fail "memscoped failed"
exec {HOLD}>&-
check "$T/later.json" "pid mode: the exec followed" \
	"[.target.execs[] | select(.exe == \"$BUF\")] | length" 1
check "$T/later.json" "pid mode: runtime" '.runtime' tokio
check "$T/later.json" "pid mode: exit status" '.target.exit_status' 0

# Forks and exit statuses the kernel gives.
cat >"$T/ex.c" <<'EOF'
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(void)
{
	char l[8];

	puts("READY");
	fflush(stdout);
	if (!fgets(l, sizeof(l), stdin))
		return 5;
	if (l[0] == 'k')
		raise(SIGKILL);
	for (int i = 0; i < 2; i++)
		if (fork() == 0)
			_exit(0);
	return 3;
}
EOF
cc -O1 -o "$T/ex" "$T/ex.c" || { echo "SKIP: no C compiler"; exit 77; }
for act in exit kill; do
	exec {HOLD}<>"$(make_fifo "ex-$act")"
	"$T/ex" <"$T/ex-$act.fifo" >"$T/ex-$act.out" &
	tgt=$!
	wait_for "$T/ex-$act.out" '^READY$' 30
	"$MEMSCOPED" --no-top -s "$T/ex-$act.json" --pid "$tgt" >/dev/null \
		2>"$T/ex-$act.err" &
	ms=$!
	MS_PIDS+=("$ms")
	wait_for "$T/ex-$act.err" "attached to pid $tgt" 30
	echo "${act:0:1}" >&"$HOLD"
	wait "$ms" || fail "memscoped failed"
	wait "$tgt" 2>/dev/null || true
	exec {HOLD}>&-
	if [ $act = exit ]; then
		check "$T/ex-exit.json" "pid mode: exit(3) is status 3" '.target.exit_status' 3
		check "$T/ex-exit.json" "pid mode: 2 forks counted" '.target.forks' 2
		expect_eq "one line about the forks" \
			"$(grep -c 'forked 2 processes: not followed' "$T/ex-exit.err")" 1
	else
		check "$T/ex-kill.json" "pid mode: SIGKILL is status 137" '.target.exit_status' 137
		check "$T/ex-kill.json" "pid mode: no forks" '.target.forks' 0
	fi
done
echo "PASS"
