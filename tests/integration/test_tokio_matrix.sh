#!/usr/bin/env bash
# The tokio version matrix (tools/tokio-matrix): one scenario, tk_matrix,
# built against tokio 1.24.2 (Debian) and 1.29.1, 1.38.2, 1.43.1, 1.47.1,
# 1.53.1 (../shared/vendor), with legacy and v0 symbol mangling, each also
# as a `strip --strip-all` copy. Every binary runs under `memscoped --`
# and prints its own ground truth (TRUTH); memscoped must report the same
# on every one:
#  - 40 user tasks, their states and never-finished reasons (6 aborted,
#    2 no-waker, 3 shutdown, 29 completed by the end);
#  - every task's future size within 32 bytes or 1 % of size_of_val,
#    boxed futures (1.41+) included, and its cell size;
#  - the runtime's own tasks (mt: 2) and a runtime overhead;
#  - spawn sites naming the spawning function where symbols exist (the
#    stack copy is 8 KiB: a spawn whose future sits in the spawner's frame
#    and is larger than that unwinds no further than tokio, so sites of
#    futures over 8 KiB are not checked), none on stripped copies.
# The matrix builds once and is cached (tools/tokio-matrix/build.sh); the
# vendored versions are skipped when ../shared/vendor is absent, the whole
# test when no version can be built.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

BUILD_LOG=$T/matrix-build.log
if ! DIR=$(bash "$MS_SRC/tools/tokio-matrix/build.sh" 2>"$BUILD_LOG" | tail -n1) ||
	[ ! -f "$DIR/versions" ]; then
	cat "$BUILD_LOG" >&2
	if grep -q 'skipped' "$BUILD_LOG" && ! grep -qv '^skipped' "$BUILD_LOG"; then
		echo "SKIP: no tokio version of the matrix can be built here"
		exit 77
	fi
	fail "the matrix did not build"
fi
grep '^skipped' "$BUILD_LOG" >&2 || true
VERSIONS=$(cat "$DIR/versions")
[ -n "$VERSIONS" ] || { echo "SKIP: no tokio version built"; exit 77; }
grep -q 1.29.1 <<<"$VERSIONS" ||
	echo "skipped: tokio 1.29.1 .. 1.53.1 (../shared/vendor is absent): only $VERSIONS"

STACK_COPY=8192
# Every user task's future size, sorted; the truth's, sorted: pairwise
# within max(32, 1 %).
sizes_match() {
	local snap=$1 truth=$2
	jq -n --slurpfile s "$snap" --slurpfile t "$truth" '
		([$s[0].tasks[] | select(.kind == "user") | .future_size // -1] | sort) as $got
		| ([$t[0].sites[] | . as $x | range(.tasks) | $x.size] | sort) as $want
		| ($got | length) == ($want | length) and
		  ([range($want | length)] | all(. as $i |
			($got[$i] - $want[$i] | fabs) <=
			([32, $want[$i] / 100] | max)))'
}

check_run() {
	local name=$1 stripped=$2 rt=$3 r=$T/$1.ready.json e=$T/$1.end.json
	local tr=$T/$1.truth n
	check "$r" "$name@READY: tokio, nothing lost" \
		'.runtime == "tokio" and .totals.lost_events == 0' true
	check "$r" "$name@READY: user tasks as spawned" "$USER | length" \
		"$(jq .user_tasks "$tr")"
	check_ids "$r" "$name@READY"
	check "$r" "$name@READY: pending tasks" \
		"$USER | map(select(.state == \"pending\")) | length" \
		"$(jq .pending_at_ready "$tr")"
	check "$r" "$name@READY: completed tasks" \
		"$USER | map(select(.state == \"completed\")) | length" \
		"$(jq .completed "$tr")"
	check "$r" "$name@READY: no-waker tasks" \
		"$USER | map(select(.never_finished_reason == \"no-waker\")) | length" \
		"$(jq .nowaker "$tr")"
	check "$r" "$name@READY: future sizes within 32 B or 1 % of size_of_val" \
		"$(sizes_match "$r" "$tr")" true
	check "$r" "$name@READY: every user task's cell size" \
		"$USER | map(select(.cell_size == null or .cell_size < 16)) | length" 0
	check "$e" "$name@end: completed" \
		"$USER | map(select(.state == \"completed\")) | length" \
		"$(jq '.completed + .released' "$tr")"
	for reason in aborted no-waker shutdown; do
		n=$(jq --arg r "$reason" \
			'if $r == "no-waker" then .nowaker else .[$r] end' "$tr")
		check "$e" "$name@end: $n $reason" \
			"$USER | map(select(.never_finished_reason == \"$reason\")) | length" "$n"
	done
	check "$e" "$name@end: never finished" \
		'.async.never_finished_count' \
		"$(jq '.aborted + .nowaker + .shutdown' "$tr")"
	check "$e" "$name@end: future sizes still right" \
		"$(sizes_match "$e" "$tr")" true
	if [ "$rt" = mt ]; then
		check "$e" "$name@end: the runtime's own tasks" \
			'[.tasks[] | select(.kind == "runtime")] | length' \
			"$(jq .workers "$tr")"
		check "$e" "$name@end: a runtime overhead" \
			'.async.runtime_overhead_bytes > 0' true
	fi
	if [ "$stripped" = yes ]; then
		check "$e" "$name@end: no spawn site without symbols" \
			"$USER | map(select(.spawn_site_id != null)) | length" 0
		grep -q 'stripped and no debug file' "$T/$name.err" ||
			fail "$name: no word about the missing debug file"
		return
	fi
	jq -c ".sites[] | select(.size < $STACK_COPY)" "$tr" |
		while read -r site; do
			local fn cnt
			fn=$(jq -r .site <<<"$site")
			cnt=$(jq .tasks <<<"$site")
			check "$e" "$name@end: $cnt tasks spawned at $fn" \
				"$SITE . as \$s | $USER | map(select(
					site(\$s)[0].function // \"\" | endswith(\"::$fn\"))) | length" \
				"$cnt"
		done
}

runs=0
for v in $VERSIONS; do
	for m in legacy v0; do
		for s in no yes; do
			bin=$DIR/tk_matrix-$v-$m
			name=$v-$m
			if [ $s = yes ]; then
				bin=$bin-stripped
				name=$name-stripped
			fi
			[ -x "$bin" ] || fail "$bin not built"
			session "$name" launch -- "$bin"
			check_run "$name" $s mt
			runs=$((runs + 1))
		done
	done
	# current_thread: the runtime's tasks and threads differ.
	session "$v-ct" launch -- "$DIR/tk_matrix-$v-legacy" --rt ct
	check_run "$v-ct" no ct
	runs=$((runs + 1))
done
echo "PASS ($runs runs: $(echo "$VERSIONS" | tr '\n' ' '))"
