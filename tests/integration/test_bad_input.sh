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
expect_usage "unknown --user" "$MEMSCOPED" --user no-such-user-here -- /bin/true
expect_usage "--user without a program" "$MEMSCOPED" --user nobody --pid 1
# Numbers strtod and strtoull would take: nan, inf, signs, spaces.
expect_usage "duration nan" "$MEMSCOPED" --duration nan -- /bin/true
expect_usage "duration inf" "$MEMSCOPED" --duration inf -- /bin/true
expect_usage "duration with a space" "$MEMSCOPED" --duration " 1" -- /bin/true
expect_usage "never-finished nan" "$MEMSCOPED" --never-finished nan -- /bin/true
expect_usage "snapshot-every inf" "$MEMSCOPED" --snapshot-every inf -- /bin/true
expect_usage "sample-bytes ' -5'" "$MEMSCOPED" --sample-bytes " -5" -- /bin/true
expect_usage "sample-bytes +5" "$MEMSCOPED" --sample-bytes +5 -- /bin/true
expect_usage "keep-ended 0" "$MEMSCOPED" --keep-ended 0 -- /bin/true
expect_usage "keep-ended too many" "$MEMSCOPED" --keep-ended 1000001 -- /bin/true
expect_usage "listen on a name" "$MEMSCOPED" --listen example.com:9464 --all
expect_usage "listen on no port" "$MEMSCOPED" --listen 127.0.0.1: --all
expect_usage "listen on port 70000" "$MEMSCOPED" --listen 70000 --all
expect_usage "max-procs 0" "$MEMSCOPED" --max-procs 0 --all
expect_usage "max-procs 1025" "$MEMSCOPED" --max-procs 1025 --all
expect_usage "metrics-sites -1" "$MEMSCOPED" --metrics-sites -1 --all
# A port in use is found before anything is attached: one memscoped holds
# it, the next one is refused.
"$MEMSCOPED" --all --no-top --listen 127.0.0.1:0 --duration 60 </dev/null \
	>/dev/null 2>"$T/holder.err" &
MS_PIDS+=("$!")
wait_for "$T/holder.err" 'serving http://' 30
BUSY=$(sed -nE 's|^memscoped: serving http://([0-9.]+:[0-9]+)/.*|\1|p' "$T/holder.err")
expect_usage "listen on a port in use" "$MEMSCOPED" --listen "$BUSY" --all
kill -INT "${MS_PIDS[-1]}"
expect_usage "pid with a space" "$MEMSCOPED" --pid " 12"
# The kernel takes no ring buffer of 4 GiB: a limit, said as such.
expect_usage "ring of 4096 MiB" "$MEMSCOPED" --ring-mb 4096 -- /bin/true
# memscoped itself: its pid said.
sh -c 'exec "$0" --pid $$' "$MEMSCOPED" >"$T/self.out" 2>"$T/self.err" && fail "traced itself"
grep -Eq 'cannot trace itself \(pid [0-9]+\)' "$T/self.err" || fail "own pid: $(cat "$T/self.err")"
pass "own pid: $(cat "$T/self.err")"
# A zombie is not a kernel thread.
sh -c 'sleep 0 & exec sleep 60' &
zparent=$!
MS_PIDS+=("$zparent")
for i in $(seq 200); do
	zombie=$(ps -o pid=,stat= --ppid "$zparent" | awk '$2 ~ /^Z/ { print $1 }')
	[ -n "$zombie" ] && break
	sleep 0.05
done
[ -n "$zombie" ] || fail "no zombie to try"
expect_usage "a zombie" "$MEMSCOPED" --pid "$zombie"
grep -q zombie "$T/bad.err" || fail "a zombie is called $(cat "$T/bad.err")"
kill -9 "$zparent"
# Programs memscoped cannot probe: 32-bit, and 64-bit for another machine.
printf '.globl _start\n_start:\n movl $1,%%eax\n xorl %%ebx,%%ebx\n int $0x80\n' >"$T/t32.s"
if as --32 -o "$T/t32.o" "$T/t32.s" 2>/dev/null && ld -m elf_i386 -o "$T/t32" "$T/t32.o" 2>/dev/null; then
	expect_usage "a 32-bit program" "$MEMSCOPED" -- "$T/t32"
	grep -q 32-bit "$T/bad.err" || fail "32-bit not said"
else
	echo "skipped: a 32-bit program (no 32-bit as/ld)"
fi
cp /bin/true "$T/arm64"
printf '\xb7\x00' | dd of="$T/arm64" bs=1 seek=18 conv=notrunc status=none
expect_usage "an aarch64 program" "$MEMSCOPED" -- "$T/arm64"

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
