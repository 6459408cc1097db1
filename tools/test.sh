#!/bin/bash
# The whole test suite: installs dependencies, builds, runs the unit tests
# (no root needed) and the integration tests (root, real kernel), then the
# unit tests and the core integration tests again under ASan/UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup-deps.sh

echo "== formatting (.clang-format)"
bash tools/check-format.sh

bash tools/build.sh build

echo "== unit and integration tests"
(cd build && ctest --output-on-failure --timeout 600)

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DMEMSCOPE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$(nproc)"
# The daemon under ASan against real targets; the targets themselves stay
# uninstrumented (ASan's malloc would hide the heap from the probes).
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure --timeout 600 -L unit)
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	MEMSCOPED="$PWD/memscoped" \
	ctest --output-on-failure --timeout 600 \
	-R 'alloc_exact|allocators|alloc_rust|page_level|tokio_abort|bad_input|survival|tokio_buffers|crt_|sites|memscope_|test_all$|tokio_blocked|prometheus|exec_follow|snapshot_loss|stripped')
