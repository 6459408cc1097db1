#!/usr/bin/env bash
# tk_bigfuture --size 65536: one task keeps a [u8; 65536] array across an
# await, so the array lives inside the task's Cell (its future), not in a
# separate heap allocation; a small task is spawned for contrast. memscoped
# must report the big task's future_size >= 65536 and the small one's < 1024.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# ---- the test --------------------------------------------------------------

A=65536

check_big() {
	local name=$1 f at bf sf
	bf=$(jqv "$T/$name.truth" '.big_future_size')
	sf=$(jqv "$T/$name.truth" '.small_future_size')
	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: runtime is tokio" '.runtime' tokio
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: 2 user tasks" "$USER | length" 2
		check_ids "$f" "$name@$at"
		check "$f" "$name@$at: the big task's future_size >= $A (and >= its future, $bf)" \
			"$USER | map(select(.future_size != null and
				.future_size >= $A and .future_size >= $bf)) | length" 1
		check "$f" "$name@$at: the small task's future_size < 1024 (and >= its future, $sf)" \
			"$USER | map(select(.future_size != null and
				.future_size < 1024 and .future_size >= $sf)) | length" 1
		check "$f" "$name@$at: async.largest_future_size >= $A" \
			".async.largest_future_size >= $A" true
		check "$f" "$name@$at: the array is not charged as a heap allocation of the task" \
			"$USER | map(select(.alloc_bytes >= $A)) | length" 0
		check "$f" "$name@$at: no user task flagged" \
			"$USER | map(select(.never_finished)) | length" 0
	done
	check "$T/$name.ready.json" "$name@READY: both tasks pending" \
		"$USER | map(select(.state == \"pending\")) | length" 2
	check "$T/$name.end.json" "$name@end: both tasks completed" \
		"$USER | map(select(.state == \"completed\")) | length" 2
}

for rt in mt ct; do
	session "launch-$rt" launch -- "$TOKIO/tk_bigfuture" --rt "$rt" --size "$A"
	check "$T/launch-$rt.truth" "launch-$rt: TRUTH" '.array' "$A"
	check_big "launch-$rt"
done
echo "PASS"
