#!/bin/bash
# Installs what memscope needs to build, test and run its demo, from
# Debian's archive. Idempotent: apt is only asked when something is missing.
set -euo pipefail

PKGS=(
	# build
	cmake make gcc clang pkg-config bpftool libbpf-dev
	libelf-dev libdw-dev libiberty-dev libjson-c-dev libncurses-dev
	libprotobuf-c-dev protobuf-c-compiler zlib1g-dev
	# packaging (cpack -G DEB: dpkg-shlibdeps, file) and its test (man),
	# tools/check-format.sh
	dpkg-dev file man-db clang-format
	# memscoped --listen: the HTTP server library
	libmicrohttpd-dev
	# tests (chromium: the HTML report renders; golang-go: go tool pprof
	# reads our profiles; prometheus: promtool checks the /metrics page;
	# systemd: systemd-analyze verifies the unit file)
	libcmocka-dev jq tmux util-linux procps chromium golang-go prometheus
	systemd
	# tokio target programs, built offline from Debian's crates
	librust-tokio-dev librust-hyper-dev
	# ground-truth targets for other allocators (tools/targets alloc_*,
	# tools/alloc-rust: jemalloc-sys builds its own static jemalloc)
	g++ libjemalloc-dev libmimalloc-dev libgoogle-perftools-dev
	librust-jemalloc-sys-dev
	# benchmarks and comparisons
	bpftrace wrk
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# Only promtool is wanted from the prometheus package: a server it
	# started under systemd is stopped and not started at boot.
	if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
		systemctl disable --now prometheus.service >/dev/null 2>&1 || true
	fi
fi

# cargo: rustup's if present, else Debian's.
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin:/root/.cargo/bin"
if ! command -v cargo >/dev/null; then
	echo "setup-deps: installing Debian's cargo"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cargo >/dev/null
fi

# Deno (a stripped tokio program nobody here wrote, for test_deno) from
# the npm registry, with Debian's nodejs/npm when the machine has no npm.
# Not fatal: without it test_deno says "skipped".
DENO_PKG=@deno/linux-x64-glibc@2.9.6
DENO_DIR_=${MEMSCOPE_CACHE:-/var/cache/memscope}/deno
if [ ! -x "$DENO_DIR_/node_modules/@deno/linux-x64-glibc/deno" ]; then
	if ! command -v npm >/dev/null; then
		echo "setup-deps: installing Debian's nodejs and npm"
		apt-get update -qq || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null ||
			echo "setup-deps: nodejs/npm not installed"
	fi
	if command -v npm >/dev/null; then
		echo "setup-deps: installing $DENO_PKG from npm into $DENO_DIR_"
		mkdir -p "$DENO_DIR_"
		npm install --prefix "$DENO_DIR_" --no-audit --no-fund --silent "$DENO_PKG" >/dev/null ||
			echo "setup-deps: $DENO_PKG not installed: test_deno will be skipped"
	fi
fi

# bpftrace (benchmarks) needs tracefs; libbpf does not.
if [ ! -e /sys/kernel/tracing/uprobe_events ]; then
	mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi
