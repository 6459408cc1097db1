#!/usr/bin/env bash
# The page-level fallback (issue 14): a stripped tokio program whose global
# allocator is jemalloc linked in (ra_tokio_pages.stripped) has no allocator
# memscoped can probe. memscoped says so in one line at attach, and charges
# the pages the kernel maps to the task running: the task that touched
# 64 MiB holds at least 60 MiB page-level, the one that touched 1 MiB less
# than 4 MiB. The same program with symbols is not switched to page level
# unless --page-level asks for it.
# shellcheck disable=SC2016 # jq programs: their $vars are jq's
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

. "$(dirname "${BASH_SOURCE[0]}")/async_lib.sh"

RA=$MS_SRC/tools/alloc-rust
if ! bash "$RA/build.sh" >"$T/build.log" 2>&1; then
	echo "SKIP: the Rust targets cannot be built here (tools/alloc-rust/build.sh):"
	tail -n 5 "$T/build.log"
	exit 77
fi
BIN=$RA/target/release/ra_tokio_pages
! readelf -S "$BIN.stripped" | grep -q '\.symtab' ||
	fail "the stripped copy has a symbol table"
MIB=1048576
THP=$(sed -nE 's/.*\[(.*)\].*/\1/p' \
	/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo never)

# The two user tasks by id (spawn order: big first), page-level figures.
BIG='[.tasks[] | select(.kind == "user")] | sort_by(.id) | .[0].page_level.resident_bytes'
SMALL='[.tasks[] | select(.kind == "user")] | sort_by(.id) | .[1].page_level.resident_bytes'

# check_pages NAME [huge]: the READY snapshot against the program's TRUTH
# (huge: its memory came in huge pages).
check_pages() {
	local name=$1 huge=${2:-} f=$T/$1.ready.json big small
	big=$(jqv "$T/$name.truth" .big)
	small=$(jqv "$T/$name.truth" .small)
	check "$f" "$name: page-level mode in the snapshot" \
		'.page_level != null and (.page_level.reason | length > 0)' true
	check "$f" "$name: no lost events" '.totals.lost_events' 0
	check "$f" "$name: two user tasks" \
		'[.tasks[] | select(.kind == "user")] | length' 2
	check "$f" "$name: the task that touched $((big / MIB)) MiB holds >= $((big / MIB - 4)) MiB page-level" \
		"$BIG >= $big - 4 * $MIB" true
	check "$f" "$name: the task that touched $((small / MIB)) MiB holds < $((small / MIB + 3)) MiB page-level" \
		"$SMALL < $small + 3 * $MIB" true
	# In huge pages, its 1 MiB may lie in one touched before, by another.
	if [ "$THP" != always ] && [ -z "$huge" ]; then
		check "$f" "$name: ... and at least half of it" \
			"$SMALL >= $small / 2" true
	fi
	check "$f" "$name: tasks, runtime and threads add up to the process" \
		'([.tasks[].page_level.resident_bytes] | add)
		 + .page_level.runtime.resident_bytes
		 + .page_level.outside_tasks.resident_bytes
		 == .page_level.resident_bytes' true
	check "$f" "$name: by thread, they add up to the process too" \
		'([.page_level.threads[].resident_bytes] | add)
		 == .page_level.resident_bytes' true
	# The worker that polled it (the main thread in current_thread).
	check "$f" "$name: one thread touched the big task's pages" \
		"[.page_level.threads[] | select(
			.resident_bytes >= $big - 4 * $MIB)] | length" 1
	echo "$name: big task $(jqv "$f" "$BIG") bytes, small task $(jqv "$f" "$SMALL") bytes page-level"
}

session launch-mt launch -- "$BIN.stripped" --rt mt
expect_eq "launch-mt: one line at attach says why" \
	"$(grep -c '^memscoped: page-level attribution: the executable is stripped and has jemalloc' "$T/launch-mt.err")" 1
check_pages launch-mt

session pid-ct pid -- "$BIN.stripped" --rt ct
check_pages pid-ct

# Transparent huge pages: jemalloc asks for them for its regions
# (MADV_HUGEPAGE), so the 64 MiB come as 2 MiB pages, one fault each.
if [ "$THP" != never ]; then
	_RJEM_MALLOC_CONF=thp:always session thp launch -- "$BIN.stripped" --rt mt
	check_pages thp huge
	# A fault while another thread holds the region lock may still be
	# guessed (said, not an error): the big task's figure is the test.
	check "$T/thp.ready.json" "thp: page sizes guessed are reported" \
		'.page_level.size_guessed | type' number
fi

# With symbols: not the fallback's case (the allocator's symbols are
# there to be probed), but --page-level forces it.
session symbols launch -- "$BIN" --rt mt
check "$T/symbols.ready.json" "symbols: no page level unless asked" \
	'.page_level' null
check "$T/symbols.ready.json" "symbols: no page-level figures in tasks" \
	'[.tasks[] | select(.page_level != null)] | length' 0
session forced launch --page-level -- "$BIN" --rt mt
check "$T/forced.ready.json" "forced: the reason is the option" \
	'.page_level.reason' "--page-level was given"
check_pages forced
echo "PASS"
