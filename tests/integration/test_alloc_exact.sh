#!/bin/bash
# Exact accounting of the whole malloc family across threads, in launch and
# --pid mode: totals(full run) - totals(baseline run) == the target's own
# ground truth. The baseline run does the same non-test work (threads,
# writes), so libc's own allocations (pthread's DTV calloc) cancel out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/alloc_lib.sh"



for threads in 1 4 8; do
	launch full$threads "$TARGETS/alloc_family" --threads $threads --iters 300
	launch base$threads "$TARGETS/alloc_family" --threads $threads --iters 300 --baseline
	check_delta "launch, $threads threads" "$T/full$threads.json" \
		"$T/base$threads.json" "$T/full$threads.truth"
done


attach_run alloc_family pfull --threads 4 --iters 300
attach_run alloc_family pbase --threads 4 --iters 300 --baseline
check_delta "--pid, 4 threads" "$T/pfull.json" "$T/pbase.json" "$T/pfull.truth"

# The benchmarks' floor (same probes, empty programs) attaches and runs the
# target to its end.
"$MEMSCOPED" -q --bench-floor -- "$TARGETS/alloc_family" --threads 2 \
	--iters 50 >"$T/floor.out" 2>"$T/floor.err" ||
	fail "--bench-floor: memscoped exited $? ($(cat "$T/floor.err"))"
grep -q 'attached to pid' "$T/floor.err" || fail "--bench-floor: not attached"
pass "--bench-floor attaches and runs the target to its end"
