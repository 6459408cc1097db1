#!/usr/bin/env bash
# tk_lifetimes --short S --long L: S tasks allocate and free a 64-byte Vec and
# complete before READY; L tasks stay pending until the release line. With
# --never-finished 0 every still-pending user task is flagged "pending" at the
# next detector tick, and memscoped ticks just before it writes a snapshot: the
# SIGUSR1 snapshot at READY must flag exactly the L long tasks; the end
# snapshot, once they completed, none.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# ---- the test --------------------------------------------------------------

S=5
L=3

check_lifetimes() {
	local name=$1 f=$T/$1.ready.json

	check "$f" "$name@READY: runtime is tokio" '.runtime' tokio
	check "$f" "$name@READY: no lost events" '.totals.lost_events' 0
	check "$f" "$name@READY: $((S + L)) user tasks" "$USER | length" $((S + L))
	check_ids "$f" "$name@READY"
	check "$f" "$name@READY: $S short tasks completed, not flagged, their Vec charged and freed" \
		"$USER | map(select(.state == \"completed\" and .ended_ns != null and
			(.never_finished | not) and .never_finished_reason == null and
			.alloc_count >= 1 and .alloc_bytes >= 64 and
			.live_bytes == 0)) | length" "$S"
	check "$f" "$name@READY: $L long tasks alive, pending and flagged \"pending\"" \
		"$USER | map(select(.state == \"pending\" and .ended_ns == null and
			.never_finished and
			.never_finished_reason == \"pending\")) | length" "$L"
	check "$f" "$name@READY: nothing else is flagged (runtime tasks neither)" \
		'[.tasks[] | select(.never_finished or .never_finished_reason != null)] | length' "$L"
	check "$f" "$name@READY: async.never_finished_count" \
		'.async.never_finished_count' "$L"
	check "$f" "$name@READY: async.tasks_alive" '.async.tasks_alive' "$L"

	f=$T/$name.end.json
	check "$f" "$name@end: no lost events" '.totals.lost_events' 0
	check_ids "$f" "$name@end"
	check "$f" "$name@end: all $((S + L)) user tasks completed" \
		"$USER | map(select(.state == \"completed\")) | length" $((S + L))
	check "$f" "$name@end: the long tasks were polled again" \
		"$USER | map(select(.polls >= 2)) | length" "$L"
	check "$f" "$name@end: a task that finished is not flagged any more" \
		'[.tasks[] | select(.never_finished)] | length' 0
	check "$f" "$name@end: async.never_finished_count" \
		'.async.never_finished_count' 0
}

for rt in mt ct; do
	session "launch-$rt" launch --never-finished 0 -- \
		"$TOKIO/tk_lifetimes" --rt "$rt" --short "$S" --long "$L"
	check "$T/launch-$rt.truth" "launch-$rt: TRUTH" '"\(.short) \(.long)"' "$S $L"
	check_lifetimes "launch-$rt"
done
echo "PASS"
