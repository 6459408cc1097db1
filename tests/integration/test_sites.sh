#!/bin/bash
# Spawn sites and allocation sites in binaries without frame pointers:
# a Rust release build (tk_sites, no frame pointers, no debug info) and a C
# program built with -fomit-frame-pointer (crt_target). The spawn site of
# a known task names the function that spawned it; a known allocation's
# site names the function that allocated it.
. "$(dirname "$0")/lib.sh"

run_held() { # name memscoped-args... -- target args...
	local name=$1 fifo
	shift
	fifo=$(make_fifo "$name")
	"$MEMSCOPED" -q "$@" <"$fifo" >"$T/$name.out" 2>"$T/$name.err" &
	MS_PIDS+=("$!")
	exec {MS_HOLD}>"$fifo"
	wait_for "$T/$name.out" '^READY'
	echo go >&$MS_HOLD
	exec {MS_HOLD}>&-
	wait "${MS_PIDS[-1]}" || fail "$name: memscoped exited $?"
}

for rt in mt ct; do
	snap=$T/rust-$rt.json
	run_held rust-$rt --sample-bytes 65536 -s "$snap" -- \
		"$TOKIO/tk_sites" --tasks 4 --size 1000000 --rt $rt
	# No frame pointers in this binary: CFI must have done the work.
	n=$(jq "$SITE"' . as $s | [.tasks[] | select(.kind == "user" and
		site($s)[0].function == "tk_sites::spawn_workers")] | length' "$snap")
	expect_eq "$rt: tasks spawned at tk_sites::spawn_workers" "$n" 4
	bytes=$(jq '[.sites[] | select(.frames[0].function == "tk_sites::fill_buffer")
		| .alloc_bytes] | add // 0' "$snap")
	# Sampled: 4 MB allocated there, estimated within 25 %.
	[ "$bytes" -ge 3000000 ] && [ "$bytes" -le 5000000 ] ||
		fail "$rt: fill_buffer site estimate $bytes, want ~4000000"
	expect_eq "$rt: lost events" "$(jqv "$snap" .totals.lost_events)" 0
	pass "rust $rt: spawn site spawn_workers, allocation site fill_buffer ($bytes bytes estimated)"
done

# The frames really are unwound without frame pointers: tk_sites has none.
if objdump -d "$TOKIO/tk_sites" | grep -A3 '<_ZN8tk_sites13spawn_workers' |
	grep -q 'mov    %rsp,%rbp'; then
	fail "tk_sites was built with frame pointers: the test proves nothing"
fi

snap=$T/c.json
run_held c --sample-bytes 4096 -s "$snap" -- "$CRT/crt_target" --tasks 3 \
	--size 200000 --threads 2
n=$(jq "$SITE"' . as $s | [.tasks[] | select(.kind == "user") |
	site($s)[0] // {} | select((.file // "" | endswith("crt_target.c")) and
	(.function == "spawn_or_die" or .function == "worker_setup"))] |
	length' "$snap")
[ "$n" -ge 3 ] || fail "C: $n tasks with a crt_target.c spawn site, want >= 3"
bytes=$(jq '[.sites[] | select(.frames[0].function == "take_buf" or
	.frames[0].function == "holder_fn") | .alloc_bytes] | add // 0' "$snap")
[ "$bytes" -ge 450000 ] || fail "C: take_buf/holder_fn site estimate $bytes, want ~600000"
pass "C: spawn site in crt_target.c, allocation site take_buf ($bytes bytes estimated)"
