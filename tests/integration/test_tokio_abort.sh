#!/usr/bin/env bash
# tk_abort --sleepers K --workers M --racers R: K tasks sleep "forever" and
# are aborted before READY (each ends Err(cancelled)); M tasks do a small job
# and complete; (multi_thread) R tasks are aborted while their first poll
# runs, so tokio cancels them at the end of that poll. memscoped must flag
# exactly the K + R aborted tasks, as "aborted" and "cancelled", while the
# program still runs (SIGUSR1 snapshot at READY) and at the end, and leave
# the M workers unflagged.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# ---- the test --------------------------------------------------------------

K=3
M=2

check_abort() {
	local name=$1 K=$2 f at
	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: runtime is tokio" '.runtime' tokio
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: $((K + M)) user tasks" "$USER | length" $((K + M))
		check "$f" "$name@$at: exactly $K user tasks never finished: aborted, cancelled" \
			"$USER | map(select(.never_finished and
				.never_finished_reason == \"aborted\" and
				.state == \"cancelled\" and .ended_ns != null)) | length" "$K"
		check "$f" "$name@$at: no other task is flagged" \
			'[.tasks[] | select(.never_finished or .never_finished_reason != null)] | length' "$K"
		check "$f" "$name@$at: async.never_finished_count" \
			'.async.never_finished_count' "$K"
		check "$f" "$name@$at: async.tasks_cancelled" '.async.tasks_cancelled' "$K"
		check "$f" "$name@$at: the $M workers completed and are not flagged" \
			"$USER | map(select(.state == \"completed\" and
				(.never_finished | not) and
				.never_finished_reason == null)) | length" "$M"
		check "$f" "$name@$at: async.tasks_completed" '.async.tasks_completed' "$M"
		check "$f" "$name@$at: the aborted tasks' cells (posix_memalign) are sized" \
			"$USER | map(select(.state == \"cancelled\" and
				.future_size != null and .future_size >= 128)) | length" "$K"
		check_ids "$f" "$name@$at"
	done
	check "$T/$name.end.json" "$name: the same tasks are flagged at READY and at the end" \
		"$USER | map(select(.never_finished) | .id) | sort | tostring" \
		"$(jq -r "$USER | map(select(.never_finished) | .id) | sort | tostring" \
			"$T/$name.ready.json")"
}

for rt in mt ct; do
	R=0
	[ $rt = mt ] && R=2
	session "launch-$rt" launch -- "$TOKIO/tk_abort" --rt "$rt" \
		--sleepers "$K" --workers "$M" --racers $R
	check "$T/launch-$rt.truth" "launch-$rt: TRUTH" '"\(.aborted) \(.completed)"' \
		"$((K + R)) $M"
	check_abort "launch-$rt" $((K + R))
done
echo "PASS"
