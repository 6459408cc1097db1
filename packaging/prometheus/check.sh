#!/bin/bash
# The Prometheus files of docs/deploy.md: the config and rules load, the
# alerts fire on the series of memscope.rules.test.yml and only then, and
# every metric they name is one memscoped writes (user/view/metrics.c).
# Exits 77 (skipped) without promtool.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

if ! command -v promtool >/dev/null; then
	echo "SKIP: promtool not installed (apt-get install prometheus)"
	exit 77
fi
cd "$here"
promtool check config prometheus.yml
promtool test rules memscope.rules.test.yml
for m in $(grep -o 'memscope_[a-z_]*' memscope.rules.yml | sort -u); do
	grep -q "\"$m\"" "$src/user/view/metrics.c" ||
		{ echo "FAIL: $m is not a metric memscoped writes"; exit 1; }
done
echo "PASS: prometheus.yml, memscope.rules.yml and their tests"
