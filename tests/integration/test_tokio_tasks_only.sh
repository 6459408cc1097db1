#!/usr/bin/env bash
# --tasks-only on tk_abort: only the task probes are attached, no allocator
# probes. Task tracking and the "aborted" detection must still work, and no
# allocation may be counted.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# ---- the test --------------------------------------------------------------

K=3
M=2

check_tasks_only() {
	local name=$1 f at
	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: mode is tasks-only" '.mode' tasks-only
		check "$f" "$name@$at: runtime is tokio" '.runtime' tokio
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: totals.alloc_count is 0" '.totals.alloc_count' 0
		check "$f" "$name@$at: totals.alloc_bytes is 0" '.totals.alloc_bytes' 0
		check "$f" "$name@$at: no task is charged an allocation" \
			'[.tasks[].alloc_count] | add // 0' 0
		check "$f" "$name@$at: $((K + M)) user tasks" "$USER | length" $((K + M))
		check "$f" "$name@$at: exactly $K user tasks never finished: aborted, cancelled" \
			"$USER | map(select(.never_finished and
				.never_finished_reason == \"aborted\" and
				.state == \"cancelled\")) | length" "$K"
		check "$f" "$name@$at: no other task is flagged" \
			'[.tasks[] | select(.never_finished)] | length' "$K"
		check "$f" "$name@$at: the $M workers completed and are not flagged" \
			"$USER | map(select(.state == \"completed\" and
				(.never_finished | not))) | length" "$M"
		check_ids "$f" "$name@$at"
	done
}

for rt in mt ct; do
	session "launch-$rt" launch --tasks-only -- "$TOKIO/tk_abort" \
		--rt "$rt" --sleepers "$K" --workers "$M"
	check_tasks_only "launch-$rt"
done
echo "PASS"
