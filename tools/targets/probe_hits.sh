#!/bin/bash
# probe_hits.sh [-l FILE]... -- COMMAND ARGS...
#
# Runs COMMAND under bpftrace with one uprobe on every allocator entry point
# found in each FILE (a shared library or an executable: its .dynsym, and
# its .symtab when it has one) and prints, per entry address, how often it
# was hit by COMMAND's process. Symbols at the same address (aliases such
# as malloc = tc_malloc = __libc_malloc) share one probe and one line,
# named "a=b=c". Default FILEs: glibc. Needs root.
#
# The entry points are those of the malloc family, jemalloc (plain and
# _rjem_-prefixed), mimalloc (mi_*), tcmalloc (tc_*), C++ operator
# new/delete, and Rust's allocator shim (__rust_alloc and friends, mangled
# or not). Comparing the hits of a full run minus those of a --baseline run
# with the CALLS line of a target's --stats shows which probes fire for
# which call, including calls one entry point makes to another.
set -euo pipefail

files=()
while [ $# -gt 0 ]; do
	case $1 in
	-l) files+=("$(readlink -f "$2")"); shift 2 ;;
	--) shift; break ;;
	*) echo "usage: $0 [-l FILE]... -- COMMAND ARGS..." >&2; exit 2 ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [-l FILE]... -- COMMAND ARGS..." >&2; exit 2; }
[ ${#files[@]} -gt 0 ] || files=("$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)")

fam='malloc|calloc|realloc|reallocarray|free|cfree|posix_memalign|aligned_alloc|memalign|valloc|pvalloc'
je='mallocx|rallocx|xallocx|dallocx|sdallocx'
re="^((__libc_)?($fam)|__posix_memalign|(_rjem_)?($fam|$je)|mi_(malloc|calloc|zalloc|realloc|expand|free|free_size|free_aligned|free_size_aligned|malloc_aligned|zalloc_aligned|calloc_aligned|realloc_aligned|new|new_aligned|new_nothrow|new_aligned_nothrow|reallocarray|posix_memalign|memalign|valloc|pvalloc|aligned_alloc)|tc_(malloc|calloc|realloc|free|free_sized|memalign|posix_memalign|valloc|pvalloc|new|new_nothrow|new_aligned|new_aligned_nothrow|delete|delete_sized|delete_aligned|delete_sized_aligned|newarray|deletearray)|_Zn[wa]m.*|_Zd[la]Pv.*|.*__rust_(alloc|alloc_zeroed|realloc|dealloc)|__rg_(alloc|alloc_zeroed|realloc|dealloc)|.*__rdl_(alloc|alloc_zeroed|realloc|dealloc))$"

script=$(mktemp)
legend=$(mktemp)
out=$(mktemp)
trap 'rm -f "$script" "$legend" "$out"' EXIT
for f in "${files[@]}"; do
	{
		nm -D --defined-only "$f" 2>/dev/null || true
		nm --defined-only "$f" 2>/dev/null || true
	} | sed 's/@.*//' |
		awk -v re="$re" '$2 ~ /^[TtWwi]$/ && $3 ~ re { print $1, $3 }' |
		sort -u |
		awk -v f="$f" '
		{ if ($1 in first) names[$1] = names[$1] "=" $2
		  else { first[$1] = $2; names[$1] = $2 } }
		END { for (a in names) print f, first[a], names[a] }'
done | awk -v legend="$legend" '{
	n++
	printf "uprobe:%s:%s /pid == cpid/ { @[%d] = count(); }\n", $1, $2, n
	sub(/.*\//, "", $1)
	print n, $1, $3 >legend
}' >"$script"
[ -s "$script" ] || { echo "probe_hits: no allocator symbol in ${files[*]}" >&2; exit 1; }
# bpftrace keys are numbers (its strings are limited to 64 bytes).
echo 'END { print(@); clear(@); }' >>"$script"
# COMMAND's stderr is bpftrace's: keep it, less bpftrace's RLIMIT_MEMLOCK
# complaint (harmless where BPF memory is charged to the cgroup).
bpftrace -q -o "$out" "$script" -c "$*" 2> >(grep -v RLIMIT_MEMLOCK >&2)
sed -n 's/^@\[\([0-9]*\)\]: \([0-9]*\)$/\1 \2/p' "$out" |
	awk -v legend="$legend" 'BEGIN { while ((getline l <legend) > 0) {
		split(l, w, " "); label[w[1]] = w[2] " " w[3] } }
	{ print "HITS", label[$1], $2 }' | sort -k2,3
