#!/bin/bash
# --user USER: the launched program runs with USER's uid, gid and groups
# (not as root, though memscoped is), and is traced as usual; --user
# without a program, or with an unknown user, is bad usage.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/async_lib.sh"

id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
"$MEMSCOPED" --no-top -q --user nobody -s "$T/id.json" -- /usr/bin/id \
	>"$T/id.out" 2>"$T/id.err" || fail "memscoped failed: $(cat "$T/id.err")"
grep -q "^uid=$(id -u nobody)(nobody) gid=$(id -g nobody)(" "$T/id.out" ||
	fail "the program ran as $(cat "$T/id.out")"
pass "the program ran as $(cat "$T/id.out")"
check "$T/id.json" "its allocations traced" '.totals.alloc_count > 0' true

# A tokio program as nobody: its tasks as ever.
session nobody launch --user nobody -- "$TOKIO/tk_buffers" --tasks 3 --size 100000
check "$T/nobody.ready.json" "as nobody: 3 tasks holding their buffers" \
	'[.tasks[] | select(.kind == "user" and .live_bytes >= 100000)] | length' 3
echo "PASS"
