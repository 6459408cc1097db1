#!/bin/bash
# The systemd unit as `cmake --install` lays it out, in a scratch prefix:
# ExecStart names the installed memscoped, and systemd-analyze verify
# accepts the whole file. Exits 77 (skipped) without systemd-analyze.
set -euo pipefail
BUILD=${1:?usage: verify-unit.sh BUILD_DIR}

if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze not installed (apt-get install systemd)"
	exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$BUILD" --prefix "$tmp/usr" >/dev/null
unit=$tmp/usr/lib/systemd/system/memscoped.service
[ -f "$unit" ] || { echo "FAIL: no unit installed at $unit"; exit 1; }
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "${exec_start%% *}" = "$tmp/usr/bin/memscoped" ] ||
	{ echo "FAIL: ExecStart=$exec_start"; exit 1; }
[ -x "$tmp/usr/bin/memscoped" ] || { echo "FAIL: memscoped not installed"; exit 1; }
grep -q "^Documentation=file:$tmp/usr/share/doc/memscope/deploy.md$" "$unit" ||
	{ echo "FAIL: Documentation= not the installed guide"; exit 1; }
[ -f "$tmp/usr/share/doc/memscope/deploy.md" ] || { echo "FAIL: guide not installed"; exit 1; }
# The default listens on loopback only.
grep -q -- "--listen 127.0.0.1:9464" "$unit" || { echo "FAIL: not 127.0.0.1:9464"; exit 1; }
if ! out=$(systemd-analyze verify "$unit" 2>&1) || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify:"
	echo "$out"
	exit 1
fi
echo "PASS: unit installed and verified ($(systemd-analyze security --offline=true "$unit" 2>/dev/null | tail -1 || true))"
