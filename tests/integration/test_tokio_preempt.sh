#!/usr/bin/env bash
# Tasks preempted anywhere in their polls, even on the way back to user
# space from the poll's own entry probe (where the stack pointer sits at the
# return address's slot): every buffer is still charged to the task that
# made it. Two busy loops keep both CPUs contended so that the scheduler
# preempts the target's workers all through the run.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

N=3000
B=50000

for i in 1 2; do
	(while :; do :; done) &
	MS_PIDS+=("$!")
done

session preempt launch -- "$TOKIO/tk_buffers" --rt mt --tasks "$N" --size "$B"
check "$T/preempt.truth" "TRUTH" '.tasks' "$N"
f=$T/preempt.ready.json
check "$f" "no lost events" '.totals.lost_events' 0
check "$f" "$N user tasks" "$USER | length" "$N"
check "$f" "every one of the $N tasks holds its $B-byte buffer" \
	"$USER | map(select(.live_bytes >= $B and .alloc_bytes < 2 * $B)) | length" "$N"
check "$f" "no buffer charged to the runtime" \
	'.runtime_overhead.live_bytes < '"$B" true
f=$T/preempt.end.json
check "$f" "the $N tasks completed" \
	"$USER | map(select(.state == \"completed\")) | length" "$N"
echo "PASS"
