#!/bin/bash
# Are the C sources formatted as .clang-format says? Checks the .c and .h
# files git knows under bpf/, user/, include/, tests/unit/ and tools/ (or
# the files given), changes nothing, and exits 1 listing each file that
# clang-format would change with its number of differing places; 0 when
# none would change, 2 when clang-format is missing.
#
#   tools/check-format.sh                 # the whole tree
#   tools/check-format.sh user/log.c      # some files
#   clang-format -i FILE                  # to format one
#
# CLANG_FORMAT names another binary. The reference is Debian 12's
# clang-format (14), which tools/setup-deps.sh installs: other versions
# format some constructs differently.
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
if ! command -v "$CLANG_FORMAT" >/dev/null; then
	echo "check-format: $CLANG_FORMAT not installed (tools/setup-deps.sh installs it)" >&2
	exit 2
fi

if [ $# -gt 0 ]; then
	files=("$@")
else
	mapfile -t files < <(git ls-files -- \
		'bpf/*.c' 'bpf/*.h' 'user/*.c' 'user/*.h' 'include/*.c' 'include/*.h' \
		'tests/unit/*.c' 'tests/unit/*.h' 'tools/*.c' 'tools/*.h')
fi
[ ${#files[@]} -gt 0 ] || { echo "check-format: no files" >&2; exit 2; }

for f in "${files[@]}"; do
	[ -f "$f" ] || { echo "check-format: no file $f" >&2; exit 2; }
done

# One clang-format for all the files; each difference is one
# "FILE:LINE:COL: error: code should be clang-formatted" line (then the
# source line and a caret).
rc=0
out=$("$CLANG_FORMAT" --dry-run --Werror "${files[@]}" 2>&1 >/dev/null) || rc=$?
bad=$(printf '%s\n' "$out" | sed -n 's/^\(.*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' |
	sort | uniq -c | sort -rn)
# A failure without a difference (a file it could not read, a bad
# .clang-format) is an error of its own.
if [ $rc -ne 0 ] && [ -z "$bad" ]; then
	echo "check-format: $CLANG_FORMAT failed (exit $rc):" >&2
	printf '%s\n' "$out" >&2
	exit 2
fi
if [ -n "$bad" ]; then
	n=$(printf '%s\n' "$bad" | wc -l)
	echo "check-format: $n of ${#files[@]} files not formatted ($("$CLANG_FORMAT" --version | sed 's/.*version //'); places, file):"
	printf '%s\n' "$bad"
	exit 1
fi
echo "check-format: ${#files[@]} files formatted"
