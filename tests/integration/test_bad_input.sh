#!/bin/bash
# Bad input: one clear line on stderr, exit code 2, never a crash or hang.
. "$(dirname "$0")/lib.sh"

expect_usage() { # description command...
	local what=$1 rc=0 lines
	shift
	timeout 30 "$@" >"$T/bad.out" 2>"$T/bad.err" || rc=$?
	expect_eq "$what: exit code" "$rc" 2
	lines=$(wc -l <"$T/bad.err")
	expect_eq "$what: lines on stderr ($(cat "$T/bad.err"))" "$lines" 1
	grep -q 'memscoped: error: ' "$T/bad.err" || fail "$what: no error line"
	pass "$what: $(cat "$T/bad.err")"
}

expect_usage "no arguments" "$MEMSCOPED"
expect_usage "pid not a number" "$MEMSCOPED" --pid abc
expect_usage "negative pid" "$MEMSCOPED" --pid -5
expect_usage "both pid and program" "$MEMSCOPED" --pid 1 -- /bin/true
expect_usage "--all and a pid" "$MEMSCOPED" --all --pid 1
expect_usage "--all and a program" "$MEMSCOPED" --all -- /bin/true
expect_usage "--all with one snapshot file" "$MEMSCOPED" --all -s "$T/x.json"
expect_usage "--all with --record" "$MEMSCOPED" --all --record "$T/x.rec"
# A pid that does not exist: above pid_max.
expect_usage "no such pid" "$MEMSCOPED" --pid $(($(cat /proc/sys/kernel/pid_max) + 1))
kthread=$(pgrep -x kthreadd)
expect_usage "kernel thread" "$MEMSCOPED" --pid "$kthread"
expect_usage "no such program" "$MEMSCOPED" -- /nonexistent/program
expect_usage "program not in PATH" "$MEMSCOPED" -- no-such-program-anywhere
# A script runs (its interpreter first, what it execs followed); a file
# that is neither ELF nor a script does not.
printf 'just text\n' >"$T/text"
chmod +x "$T/text"
expect_usage "neither ELF nor a script" "$MEMSCOPED" -- "$T/text"
touch "$T/not-executable"
expect_usage "not executable" "$MEMSCOPED" -- "$T/not-executable"
expect_usage "bad duration" "$MEMSCOPED" --duration -1 -- /bin/true
expect_usage "unknown option" "$MEMSCOPED" --frobnicate -- /bin/true
expect_usage "bad ring size" "$MEMSCOPED" --ring-mb 3 -- /bin/true

# A static binary has no shared libc to probe.
if cc -static -o "$T/static" -x c - <<<'int main(void){return 0;}' 2>/dev/null; then
	expect_usage "static program" "$MEMSCOPED" -- "$T/static"
fi

# Not root: drop to nobody.
if command -v setpriv >/dev/null; then
	expect_usage "not root" setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=-all "$MEMSCOPED" -- /bin/true
fi

# A symlink where the snapshot goes is refused, its target untouched.
echo keep >"$T/victim"
ln -s "$T/victim" "$T/link.json"
rc=0
"$MEMSCOPED" -q -s "$T/link.json" -- /bin/true 2>"$T/link.err" || rc=$?
expect_eq "snapshot via symlink: victim untouched" "$(cat "$T/victim")" keep
grep -q 'symbolic link' "$T/link.err" || fail "no word about the symlink"
pass "snapshot through a symlink refused"
