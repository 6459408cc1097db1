#!/usr/bin/env bash
# tk_buffers --tasks N --size B: every task mallocs exactly one B-byte buffer
# and holds it across an await. memscoped must charge each buffer to the task
# that made it, on both schedulers, in launch mode and in --pid mode.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# ---- the test --------------------------------------------------------------

N=6
B=100000

check_buffers() {
	local name=$1 f

	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		local at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: runtime is tokio" '.runtime' tokio
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: exactly $N user tasks (runtime tasks are kind runtime)" \
			"$USER | length" "$N"
		check "$f" "$name@$at: exactly $N user tasks charged with a $B-byte buffer" \
			"$USER | map(select(.alloc_bytes >= $B and .alloc_count >= 1)) | length" "$N"
		check "$f" "$name@$at: each buffer counted once (alloc_bytes < 2*B)" \
			"$USER | map(select(.alloc_bytes >= 2 * $B)) | length" 0
		check "$f" "$name@$at: every user task has a future_size" \
			"$USER | map(select(.future_size != null and .future_size > 0)) | length" "$N"
		check_ids "$f" "$name@$at"
		check "$f" "$name@$at: no user task flagged never-finished" \
			"$USER | map(select(.never_finished)) | length" 0
		check "$f" "$name@$at: async.async_allocation_count >= $N" \
			".async.async_allocation_count >= $N" true
	done
	f=$T/$name.ready.json
	check "$f" "$name@READY: the $N buffer tasks are pending" \
		"$USER | map(select(.state == \"pending\")) | length" "$N"
	check "$f" "$name@READY: each task still holds its buffer (live_bytes >= B)" \
		"$USER | map(select(.live_bytes >= $B)) | length" "$N"
	check "$f" "$name@READY: $N live allocations in B's size class" \
		"[.live_by_size[] | select(.min <= $B and $B <= .max) | .live_count] | add // 0 | . >= $N" true
	f=$T/$name.end.json
	check "$f" "$name@end: the $N tasks completed" \
		"$USER | map(select(.state == \"completed\")) | length" "$N"
	check "$f" "$name@end: the buffers were freed (no live bytes left in tasks)" \
		"$USER | map(.live_bytes) | add" 0
}

for rt in mt ct; do
	session "launch-$rt" launch -- "$TOKIO/tk_buffers" --rt "$rt" \
		--tasks "$N" --size "$B"
	check "$T/launch-$rt.truth" "launch-$rt: TRUTH" '.tasks' "$N"
	check_buffers "launch-$rt"
	session "pid-$rt" pid -- "$TOKIO/tk_buffers" --rt "$rt" \
		--tasks "$N" --size "$B"
	check "$T/pid-$rt.truth" "pid-$rt: TRUTH" '.tasks' "$N"
	check_buffers "pid-$rt"
done
echo "PASS"
