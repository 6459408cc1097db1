#!/usr/bin/env bash
# tk_blocked: a task blocks its worker thread inside its first poll and
# allocates nothing there. tokio's poll record is sent when a poll ends, so
# memscoped finds this one by looking at the threads' BPF state: at READY
# the snapshot must show it running, with its tokio id; after the release
# it completed. Full tracking and --tasks-only, launch and --pid.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

[ -x "$TOKIO/tk_blocked" ] || fail "$TOKIO/tk_blocked is missing: bash tools/tokio/build.sh"

check_blocked() {
	local name=$1
	local f=$T/$name.ready.json
	check "$f" "$name@READY: no lost events" '.totals.lost_events' 0
	check "$f" "$name@READY: one user task" "$USER | length" 1
	check "$f" "$name@READY: it is running (in a poll that has not returned)" \
		"$USER | .[0].state" running
	check "$f" "$name@READY: it is not flagged" \
		"$USER | map(select(.never_finished)) | length" 0
	check_ids "$f" "$name@READY"
	f=$T/$name.end.json
	check "$f" "$name@end: the task completed" "$USER | .[0].state" completed
	check "$f" "$name@end: one poll" "$USER | .[0].polls" 1
	check "$f" "$name@end: the same id" "$USER | .[0].id" \
		"$(jq -r "$USER | .[0].id" "$T/$name.ready.json")"
}

session launch launch -- "$TOKIO/tk_blocked" --rt mt
check_blocked launch
session pid pid -- "$TOKIO/tk_blocked" --rt mt
check_blocked pid
session tasks-only launch --tasks-only -- "$TOKIO/tk_blocked" --rt mt
check_blocked tasks-only
echo "PASS"
