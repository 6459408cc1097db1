#!/usr/bin/env bash
# tk_nowaker: two tasks await a future that returns Pending and drops the
# waker (one detached, one whose JoinHandle is kept), a third awaits a
# oneshot fired after the release line. With --never-finished 1000 (so the
# pending threshold cannot be the reason), memscoped must flag exactly the two
# lost tasks as "no-waker" while the program still runs, and not the third.
# Launch mode and --pid mode, both schedulers.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# ---- the test --------------------------------------------------------------

check_nowaker() {
	local name=$1 f=$T/$1.ready.json lost

	check "$f" "$name@READY: runtime is tokio" '.runtime' tokio
	check "$f" "$name@READY: no lost events" '.totals.lost_events' 0
	check "$f" "$name@READY: 3 user tasks" "$USER | length" 3
	check_ids "$f" "$name@READY"
	check "$f" "$name@READY: exactly 2 user tasks flagged no-waker, still pending" \
		"$USER | map(select(.never_finished and
			.never_finished_reason == \"no-waker\" and
			.state == \"pending\")) | length" 2
	check "$f" "$name@READY: no other task is flagged" \
		'[.tasks[] | select(.never_finished or .never_finished_reason != null)] | length' 2
	check "$f" "$name@READY: async.never_finished_count" \
		'.async.never_finished_count' 2
	check "$f" "$name@READY: the oneshot task is pending and not flagged" \
		"$USER | map(select(.state == \"pending\" and
			(.never_finished | not))) | length" 1
	lost=$(jq -r "$USER | map(select(.never_finished) | .id) | sort | tostring" "$f")

	f=$T/$name.end.json
	check "$f" "$name@end: no lost events" '.totals.lost_events' 0
	check_ids "$f" "$name@end"
	check "$f" "$name@end: the oneshot task completed, not flagged" \
		"$USER | map(select(.state == \"completed\" and
			(.never_finished | not))) | length" 1
	check "$f" "$name@end: the two lost tasks stay flagged no-waker" \
		"$USER | map(select(.never_finished and
			.never_finished_reason == \"no-waker\") | .id) | sort | tostring" \
		"$lost"
	check "$f" "$name@end: no other task is flagged" \
		'[.tasks[] | select(.never_finished)] | length' 2
}

for rt in mt ct; do
	session "launch-$rt" launch --never-finished 1000 -- \
		"$TOKIO/tk_nowaker" --rt "$rt"
	check "$T/launch-$rt.truth" "launch-$rt: TRUTH" '.nowaker' 2
	check_nowaker "launch-$rt"
	session "pid-$rt" pid --never-finished 1000 -- \
		"$TOKIO/tk_nowaker" --rt "$rt"
	check_nowaker "pid-$rt"
done
echo "PASS"
