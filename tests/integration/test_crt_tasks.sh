#!/usr/bin/env bash
# crt_target (the C coroutine runtime, memscope USDT markers), launch mode:
# holders each malloc SIZE bytes, K tasks are cancelled before READY, J tasks
# park with no waiter, one big task has a larger state block. memscoped must
# attribute each holder's buffer to it, flag the aborted and no-waker tasks
# (at READY, SIGUSR1 snapshot), and report each task's state size, on one
# scheduler thread and on two; and in --pid mode.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# ---- the test --------------------------------------------------------------

TASKS=4
SIZE=50000
ABORT=2
NOWAKER=2
BIG=100000

# jq definitions over the TRUTH line ($tr[0]): tasks of one kind.
KIND='def kind(k): [.tasks[] | select(.id as $i | $tr[0][k] | any(.[]; . == $i))];
def big: [.tasks[] | select(.id == $tr[0].big)];'

# check_crt NAME: the READY and end snapshots against $T/NAME.truth.
check_crt() {
	local name=$1 tr=$T/$1.truth f at
	local -a a=(--slurpfile tr "$T/$1.truth")

	check "$tr" "$name: TRUTH" \
		'"\(.holders | length) \(.aborted | length) \(.nowaker | length) \(.big != null)"' \
		"$TASKS $ABORT $NOWAKER true"
	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: runtime is usdt" '.runtime' usdt
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: every task is a usdt user task" \
			'[.tasks[] | select(.runtime != "usdt" or .kind != "user")] | length' 0
		check_ids "$f" "$name@$at"
		check "$f" "$name@$at: the task ids are exactly TRUTH's" \
			'[.tasks[].id] | sort == ($tr[0] | .holders + .aborted + .nowaker + [.big] | sort)' \
			true "${a[@]}"
		check "$f" "$name@$at: each holder is charged its $SIZE-byte buffer" \
			"$KIND kind(\"holders\") | map(select(.alloc_count >= 1 and
				.alloc_bytes >= $SIZE and .alloc_bytes < 2 * $SIZE)) | length" \
			"$TASKS" "${a[@]}"
		check "$f" "$name@$at: the aborted tasks are flagged aborted, cancelled" \
			"$KIND kind(\"aborted\") | map(select(.never_finished and
				.never_finished_reason == \"aborted\" and
				.state == \"cancelled\")) | length" "$ABORT" "${a[@]}"
		check "$f" "$name@$at: the aborted tasks' buffers were charged to them and freed" \
			"$KIND kind(\"aborted\") | map(select(.alloc_bytes >= $SIZE and
				.live_bytes == 0)) | length" "$ABORT" "${a[@]}"
		check "$f" "$name@$at: the big task's future_size is its state size" \
			"$KIND big | map(.future_size) | tostring" \
			"[$(jqv "$tr" '.big_size')]" "${a[@]}"
		check "$f" "$name@$at: every task's future_size is its state size" \
			'[.tasks[] | select(.future_size != $tr[0].state_size[.id | tostring])] | length' \
			0 "${a[@]}"
		check "$f" "$name@$at: async.largest_future_size is the big task's" \
			'.async.largest_future_size == $tr[0].big_size' true "${a[@]}"
		check "$f" "$name@$at: async.never_finished_count" \
			'.async.never_finished_count' $((ABORT + NOWAKER))
		check "$f" "$name@$at: only aborted and nowaker tasks are flagged" \
			"$KIND kind(\"holders\") + big | map(select(.never_finished or
				.never_finished_reason != null)) | length" 0 "${a[@]}"
	done

	f=$T/$name.ready.json
	check "$f" "$name@READY: the holders are pending and hold their buffer" \
		"$KIND kind(\"holders\") | map(select(.state == \"pending\" and
			.live_bytes >= $SIZE)) | length" "$TASKS" "${a[@]}"
	check "$f" "$name@READY: the nowaker tasks are flagged no-waker, pending" \
		"$KIND kind(\"nowaker\") | map(select(.never_finished and
			.never_finished_reason == \"no-waker\" and
			.state == \"pending\")) | length" "$NOWAKER" "${a[@]}"
	check "$f" "$name@READY: the big task is pending" \
		"$KIND big | map(.state) | tostring" '["pending"]' "${a[@]}"

	f=$T/$name.end.json
	check "$f" "$name@end: the holders and the big task completed, buffers freed" \
		"$KIND kind(\"holders\") + big | map(select(.state == \"completed\" and
			.live_bytes == 0)) | length" $((TASKS + 1)) "${a[@]}"
	# crt_shutdown() cancels them: nobody aborted them, and nothing could
	# ever have woken them. They keep the reason found at READY, as tokio
	# tasks dropped at runtime shutdown do.
	check "$f" "$name@end: the nowaker tasks, cancelled at shutdown, stay no-waker" \
		"$KIND kind(\"nowaker\") | map(select(.never_finished and
			.never_finished_reason == \"no-waker\" and
			.state == \"cancelled\")) | length" "$NOWAKER" "${a[@]}"
}

[ -x "$CRT/crt_target" ] || fail "$CRT/crt_target is missing: build the tree first"
for threads in 2 1; do
	session "launch-t$threads" launch --never-finished 1000 -- \
		"$CRT/crt_target" --tasks "$TASKS" --size "$SIZE" \
		--abort "$ABORT" --nowaker "$NOWAKER" --big "$BIG" \
		--threads "$threads"
	check_crt "launch-t$threads"
done
# --pid: the program starts with --wait-go and memscoped attaches to it
# (USDT markers in a running process) before any task is spawned.
session "pid-t2" pid --never-finished 1000 -- \
	"$CRT/crt_target" --tasks "$TASKS" --size "$SIZE" \
	--abort "$ABORT" --nowaker "$NOWAKER" --big "$BIG" --threads 2
check_crt "pid-t2"
echo "PASS"
