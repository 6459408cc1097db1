#!/bin/bash
# exact_check.sh TARGET [ARGS...]
#
# An independent check of a target's TRUTH line: runs TARGET ARGS and
# TARGET ARGS --baseline under a bpftrace tracer that applies the accounting
# rule (README.md "Accounting rule", tools/targets/README.md) at the
# allocator's entry points, and compares the difference of the two runs'
# totals with TRUTH. Needs root and bpftrace. TARGET is a path to
# alloc_family, alloc_jemalloc, alloc_jemalloc_static, alloc_mimalloc or
# alloc_tcmalloc.
#
# Entry points call one another (operator delete -> free, mi_free_size ->
# mi_free, valloc -> tc_memalign, glibc's reallocarray -> realloc, ...):
# only the outermost call on a thread counts, found with a per-thread depth
# (entry and return probes on every entry point; a tail call runs both
# return probes at once, inner first). Symbols at one address share a probe.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 TARGET [ARGS...]" >&2; exit 2; }
target=$(readlink -f "$1")
shift
libdir=/usr/lib/x86_64-linux-gnu
libc=$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)

# Kinds: A0 alloc(arg0) A1 alloc(arg1) C calloc(arg0*arg1) F free(arg0)
# R realloc(arg0,arg1) RA reallocarray(arg0,arg1*arg2) PM posix_memalign
# X xallocx(arg0,arg1) E mi_expand(arg0,arg1). Z: realloc(p, 0) frees p.
fam="malloc A0
calloc C
realloc R
free F
cfree F
posix_memalign PM
aligned_alloc A1
memalign A1
valloc A0
pvalloc A0
reallocarray RA"
cxx="_Znwm A0
_Znam A0
_ZnwmRKSt9nothrow_t A0
_ZnamRKSt9nothrow_t A0
_ZnwmSt11align_val_t A0
_ZnamSt11align_val_t A0
_ZnwmSt11align_val_tRKSt9nothrow_t A0
_ZnamSt11align_val_tRKSt9nothrow_t A0
_ZdlPv F
_ZdaPv F
_ZdlPvm F
_ZdaPvm F
_ZdlPvRKSt9nothrow_t F
_ZdaPvRKSt9nothrow_t F
_ZdlPvSt11align_val_t F
_ZdaPvSt11align_val_t F
_ZdlPvmSt11align_val_t F
_ZdaPvmSt11align_val_t F
_ZdlPvSt11align_val_tRKSt9nothrow_t F
_ZdaPvSt11align_val_tRKSt9nothrow_t F"
je="mallocx A0
rallocx R
xallocx X
dallocx F
sdallocx F"
mi="mi_malloc A0
mi_calloc C
mi_zalloc A0
mi_realloc R
mi_expand E
mi_free F
mi_free_size F
mi_free_aligned F
mi_free_size_aligned F
mi_malloc_aligned A0
mi_zalloc_aligned A0
mi_posix_memalign PM
mi_memalign A1
mi_aligned_alloc A1
mi_valloc A0
mi_pvalloc A0
mi_reallocarray RA
mi_new A0
mi_new_nothrow A0
mi_new_aligned A0
mi_new_aligned_nothrow A0"
tc="tc_malloc A0
tc_calloc C
tc_realloc R
tc_free F
tc_free_sized F
tc_memalign A1
tc_posix_memalign PM
tc_valloc A0
tc_pvalloc A0
tc_new A0
tc_delete F"

zero=1	# realloc(p, 0) frees p and returns NULL
case ${target##*/} in
alloc_family) objs=("$libc") table="$fam" ;;
alloc_jemalloc) objs=("$libdir/libjemalloc.so.2" "$libc") table="$fam
$cxx
$je" ;;
alloc_jemalloc_static) objs=("$target" "$libc") table="$fam
$cxx
$je" ;;
alloc_mimalloc) objs=("$libdir/libmimalloc.so.2") table="$fam
$cxx
$mi" zero=0 ;;
alloc_tcmalloc) objs=("$libdir/libtcmalloc.so.4" "$libc") table="$fam
$cxx
$tc" ;;
*) echo "exact_check: unknown target ${target##*/}" >&2; exit 2 ;;
esac

bt=$(mktemp)
trap '[ -n "${KEEP:-}" ] || rm -f "$bt" "$bt".*' EXIT

# Per kind: what the outermost call's return does (args saved at entry).
account() { # kind
	local live='@live[$p] = $n + 1; @alloc_count = count(); @alloc_bytes = sum($n);'
	local drop='if (@live[$p] != 0) { @free_count = count(); @free_bytes = sum(@live[$p] - 1); delete(@live[$p]); }'
	case $1 in
	A0) echo "\$p = \$r; \$n = @a0[tid]; if (\$p != 0) { $live }" ;;
	A1) echo "\$p = \$r; \$n = @a1[tid]; if (\$p != 0) { $live }" ;;
	C) echo "\$p = \$r; \$n = @a0[tid] * @a1[tid]; if (\$p != 0) { $live }" ;;
	F) echo "\$p = @a0[tid]; $drop" ;;
	R|RA)
		if [ "$1" = R ]; then
			echo '$n = @a1[tid]; $ok = 1;'
		else # n * m overflows: ENOMEM, nothing touched
			echo '$n = @a1[tid] * @a2[tid]; $ok = 1; if (@a2[tid] != 0 && $n / @a2[tid] != @a1[tid]) { $ok = 0; }'
		fi
		echo "if (\$ok) { \$old = @a0[tid]; if (\$r != 0) {"
		echo "\$p = \$old; if (\$p != 0) { $drop }"
		echo "\$p = \$r; $live"
		echo "} else { if (\$n == 0 && \$old != 0 && $zero) { \$p = \$old; $drop } } }"
		;;
	PM) echo "if (\$r == 0) { \$p = *(uint64 *)@a0[tid]; \$n = @a2[tid]; if (\$p != 0) { $live } }" ;;
	X|E)
		if [ "$1" = X ]; then echo '$ok = $r >= @a1[tid];'
		else echo '$ok = $r == @a0[tid] && $r != 0;'; fi
		echo "\$p = @a0[tid]; \$n = @a1[tid];"
		echo "if (\$ok && @live[\$p] != 0 && @live[\$p] != \$n + 1) { $drop $live }"
		;;
	esac
}

for obj in "${objs[@]}"; do
	{
		nm -D --defined-only "$obj" 2>/dev/null || true
		nm --defined-only "$obj" 2>/dev/null || true
	} | sed 's/@.*//' |
		awk '$2 ~ /^[TtWwi]$/ { print $1, $3 }' | sort -u >"$bt.syms"
	if [ "$obj" = "$libc" ] && [ ${#objs[@]} -gt 1 ]; then
		# With another allocator, only what it lacks comes from glibc.
		grep -E ' (reallocarray|pvalloc)$' "$bt.syms" >"$bt.s2" || true
		mv "$bt.s2" "$bt.syms"
	fi
	# address -> first name, kind
	echo "$table" | awk 'NR == FNR { kind[$1] = $2; next }
		($2 in kind) && !($1 in seen) { seen[$1] = 1; print $1, $2, kind[$2] }' \
		- "$bt.syms" | while read -r _ sym kind; do
		echo "uprobe:$obj:$sym /pid == cpid/ {"
		echo "  if (@d[tid] == 0) { @a0[tid] = arg0; @a1[tid] = arg1; @a2[tid] = arg2; }"
		echo "  @d[tid] = @d[tid] + 1; }"
		echo "uretprobe:$obj:$sym /pid == cpid/ {"
		echo "  \$r = retval; @d[tid] = @d[tid] - 1;"
		echo "  if (@d[tid] == 0) {"
		account "$kind"
		echo "  } }"
	done
done >"$bt"
echo 'END { clear(@d); clear(@a0); clear(@a1); clear(@a2); clear(@live); }' >>"$bt"

run() { # out args...
	local out=$1
	shift
	BPFTRACE_MAP_KEYS_MAX=4000000 bpftrace -q "$bt" -c "$target $*" >"$out" 2>&1 ||
		{ cat "$out" >&2; exit 1; }
}
run "$bt.full" "$@"
run "$bt.base" "$@" --baseline
val() { local v; v=$(sed -n "s/^@$2: //p" "$1" | head -1); echo "${v:-0}"; }
truth=$(sed -n 's/^TRUTH //p' "$bt.full")
[ -n "$truth" ] || { echo "exact_check: no TRUTH line" >&2; cat "$bt.full" >&2; exit 1; }
bad=0
for f in alloc_count free_count alloc_bytes free_bytes; do
	got=$(($(val "$bt.full" $f) - $(val "$bt.base" $f)))
	want=$(echo "$truth" | sed -n "s/.*\"$f\":\([0-9]*\).*/\1/p")
	echo "${target##*/} $f traced=$got truth=$want"
	[ "$got" = "$want" ] || bad=1
done
if [ $bad = 0 ]; then echo ok; else echo MISMATCH; exit 1; fi
