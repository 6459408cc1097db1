#!/usr/bin/env bash
# tk_pool --tasks N --size B --mode own|pool. own: every task mallocs its own
# B buffer, so the tasks' alloc_bytes add up to at least N*B. pool: main
# mallocs ONE N*B buffer before spawning and the tasks only borrow slices, so
# the tasks are charged less than B in all and the big allocation is outside
# the tasks.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

# ---- the test --------------------------------------------------------------

N=4
B=100000
NB=$((N * B))

check_pool() {
	local name=$1 mode=$2 f at
	for f in "$T/$name.ready.json" "$T/$name.end.json"; do
		at=end
		case $f in *.ready.json) at=READY ;; esac
		check "$f" "$name@$at: runtime is tokio" '.runtime' tokio
		check "$f" "$name@$at: no lost events" '.totals.lost_events' 0
		check "$f" "$name@$at: $N user tasks" "$USER | length" "$N"
		check_ids "$f" "$name@$at"
		check "$f" "$name@$at: totals.alloc_bytes >= N*B" \
			".totals.alloc_bytes >= $NB" true
		if [ "$mode" = own ]; then
			check "$f" "$name@$at: the tasks' alloc_bytes add up to >= N*B" \
				"$USER | map(.alloc_bytes) | add >= $NB" true
			check "$f" "$name@$at: each task is charged its own buffer" \
				"$USER | map(select(.alloc_bytes >= $B)) | length" "$N"
			check "$f" "$name@$at: the buffers are not charged outside tasks" \
				".outside_tasks.alloc_bytes < $B" true
		else
			check "$f" "$name@$at: the tasks' alloc_bytes add up to < B" \
				"$USER | map(.alloc_bytes) | add < $B" true
			check "$f" "$name@$at: the pool is charged outside tasks" \
				".outside_tasks.alloc_bytes >= $NB" true
		fi
	done
	f=$T/$name.ready.json
	if [ "$mode" = own ]; then
		check "$f" "$name@READY: the tasks hold N*B live" \
			"$USER | map(.live_bytes) | add >= $NB" true
	else
		check "$f" "$name@READY: the pool is live outside tasks" \
			".outside_tasks.live_bytes >= $NB" true
	fi
}

for rt in mt ct; do
	for mode in own pool; do
		session "$mode-$rt" launch -- "$TOKIO/tk_pool" --rt "$rt" \
			--tasks "$N" --size "$B" --mode "$mode"
		check "$T/$mode-$rt.truth" "$mode-$rt: TRUTH" '.mode' "$mode"
		check_pool "$mode-$rt" "$mode"
	done
done
echo "PASS"
