#!/bin/bash
# Build tk_matrix against every tokio version of the matrix, offline, and
# cache the binaries outside the repo (see README.md).
#
#   tools/tokio-matrix/build.sh              build if needed; prints the output
#                                            directory as the last stdout line
#   tools/tokio-matrix/build.sh --print-dir  print the directory the current
#                                            sources map to; exit 0 if it is
#                                            complete, 1 if not (builds nothing)
#
# Output: $DIR/tk_matrix-<tokio version>-<legacy|v0>[-stripped], plus
# $DIR/versions (the versions built, one a line) and $DIR/toolchain
# (rustc -vV). $DIR = $CACHE/<key>, key = hash of the sources, manifests,
# lock files, this script, the version list and the toolchain.
#
# Environment:
#   MEMSCOPE_MATRIX_CACHE  cache root (default /var/cache/memscope/tokio-matrix,
#                          or ~/.cache/memscope/tokio-matrix when that is not
#                          writable)
#   MEMSCOPE_VENDOR        vendor dir holding cargo/ (default <repo>/../shared/vendor)
#   CARGO                  cargo to use (its rustc is the one beside it);
#                          default: the first cargo >= 1.70 found
#   MATRIX_PARALLEL        0 (default): one cargo at a time; 1: the two
#                          manglings side by side (on 2 cores no faster: 118 s
#                          against 111 s cold, and 15 % more CPU time)
# Everything but the output directory goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENDOR=${MEMSCOPE_VENDOR:-$ROOT/../shared/vendor}/cargo
DEBIAN_REG=/usr/share/cargo/registry
VENDORED_VERSIONS="1.29.1 1.38.2 1.43.1 1.47.1 1.53.1"
DEBIAN_VERSION=1.24.2
MANGLINGS="legacy v0"

mode=build
case "${1:-}" in
"") ;;
--print-dir) mode=print ;;
*)
	echo "usage: $0 [--print-dir]" >&2
	exit 2
	;;
esac

log() { echo "tokio-matrix: $*" >&2; }

# ---------------------------------------------------------------- toolchain
# A cargo and a rustc >= 1.70 (tokio >= 1.39 needs it). The rustc is the one
# beside the cargo, so a rustup cargo never pairs with Debian's rustc.
version_ok() { # "cargo 1.95.0 (...)" or "rustc 1.95.0 (...)"
	local v major minor
	v=$(printf '%s\n' "$1" | awk 'NR == 1 { print $2 }')
	major=${v%%.*}
	minor=${v#*.}
	minor=${minor%%.*}
	case "$major$minor" in *[!0-9]* | "") return 1 ;; esac
	[ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 70 ]; }
}

CARGO_BIN= RUSTC_BIN=
try_toolchain() {
	local c=$1 r cv rv
	[ -n "$c" ] && [ -x "$c" ] || return 1
	r=$(dirname "$c")/rustc
	[ -x "$r" ] || r=$(command -v rustc) || return 1
	cv=$("$c" -V 2>/dev/null) && rv=$("$r" -V 2>/dev/null) || return 1
	version_ok "$cv" && version_ok "$rv" || return 1
	CARGO_BIN=$c RUSTC_BIN=$r
}

find_toolchain() {
	local c
	# $CARGO first: set when run from cargo, or to force a toolchain.
	for c in "${CARGO:-}" "$(command -v cargo || true)" "${HOME:-/root}/.cargo/bin/cargo" \
		/root/.cargo/bin/cargo /usr/bin/cargo; do
		try_toolchain "$c" && return 0
	done
	return 1
}

install_toolchain() {
	# Debian 12: rustc-web/cargo-web (bookworm-security) install
	# /usr/bin/rustc and /usr/bin/cargo, new enough for every tokio here.
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		log "no cargo >= 1.70 found and cannot apt-get install rustc-web cargo-web"
		return 1
	fi
	log "no cargo >= 1.70 found: installing rustc-web cargo-web"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y --no-install-recommends rustc-web cargo-web >&2 ||
		{ apt-get update >&2 && apt-get install -y --no-install-recommends rustc-web cargo-web >&2; }
	try_toolchain /usr/bin/cargo
}

if ! find_toolchain; then
	[ "$mode" = build ] && install_toolchain || {
		log "no cargo >= 1.70 (PATH, ~/.cargo/bin, /usr/bin)"
		exit 1
	}
fi

# ---------------------------------------------------------------- versions
versions=()
if [ -d "$DEBIAN_REG/tokio-$DEBIAN_VERSION" ]; then
	versions+=("$DEBIAN_VERSION")
else
	log "skipped: tokio $DEBIAN_VERSION ($DEBIAN_REG/tokio-$DEBIAN_VERSION absent)"
fi
if [ -d "$VENDOR" ]; then
	for v in $VENDORED_VERSIONS; do
		if [ -d "$VENDOR/tokio-$v" ]; then
			versions+=("$v")
		else
			log "skipped: tokio $v (absent from $VENDOR)"
		fi
	done
else
	log "skipped: ../shared/vendor absent ($VENDOR): tokio $VENDORED_VERSIONS"
fi
if [ ${#versions[@]} -eq 0 ]; then
	log "nothing to build"
	exit 1
fi

crate_dir() { echo "$HERE/crates/t${1//./_}"; }

# ---------------------------------------------------------------- cache key
key=$(
	{
		cat "$HERE/build.sh" "$HERE/src/main.rs" "$HERE/src/build.rs"
		for v in "${versions[@]}"; do
			echo "version $v"
			cat "$(crate_dir "$v")/Cargo.toml" "$(crate_dir "$v")/Cargo.lock"
			if [ "$v" = "$DEBIAN_VERSION" ]; then
				cat "$DEBIAN_REG/tokio-$v/Cargo.toml"
			else
				cat "$VENDOR/tokio-$v/Cargo.toml"
			fi
		done
		"$RUSTC_BIN" -vV
		strip --version | head -n 1
	} | sha256sum | cut -c1-16
)

if [ -n "${MEMSCOPE_MATRIX_CACHE:-}" ]; then
	CACHE=$MEMSCOPE_MATRIX_CACHE
elif mkdir -p /var/cache/memscope/tokio-matrix 2>/dev/null &&
	[ -w /var/cache/memscope/tokio-matrix ]; then
	CACHE=/var/cache/memscope/tokio-matrix
else
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/memscope/tokio-matrix
fi
OUT=$CACHE/$key

if [ "$mode" = print ]; then
	echo "$OUT"
	[ -f "$OUT/versions" ]
	exit
fi

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9 # one build per cache at a time; the winner's result is reused
if [ -f "$OUT/versions" ]; then
	log "up to date ($("$RUSTC_BIN" -V); tokio ${versions[*]})"
	echo "$OUT"
	exit 0
fi

# ---------------------------------------------------------------- build
# Ordinary release builds: cargo's default release profile, no flags from
# the caller's environment.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_TARGET_DIR \
	CARGO_BUILD_TARGET CARGO_BUILD_TARGET_DIR
for var in $(env | sed -n 's/^\(CARGO_PROFILE_[A-Za-z0-9_]*\)=.*/\1/p'); do
	unset "$var"
done
export RUSTC=$RUSTC_BIN

TMP=$CACHE/.tmp-$key-$$
rm -rf "$TMP"
mkdir -p "$TMP"
trap 'rm -rf "$TMP"' EXIT

log "building tk_matrix for tokio ${versions[*]} x {$MANGLINGS} with $("$CARGO_BIN" -V)"
log "into $OUT"

# One cargo invocation per (version, mangling). Target dirs are kept between
# runs, so a rebuild after a change to main.rs recompiles only tk_matrix.
# Each mangling has its own (RUSTFLAGS differ: nothing could be shared), and
# so has each crate source: libc, autocfg and num_cpus exist in both, and a
# shared dir would rebuild them (and tokio) each time the source path flips.
# The vendored versions >= 1.38 share pin-project-lite.
build_one() { # version mangling
	local v=$1 m=$2 dir src target t0 t1
	dir=$(crate_dir "$v")
	if [ "$v" = "$DEBIAN_VERSION" ]; then
		src=(--config 'source.crates-io.replace-with="debian"'
			--config "source.debian.directory=\"$DEBIAN_REG\"")
		target=$CACHE/target/$m-debian
	else
		src=(--config 'source.crates-io.replace-with="vendored"'
			--config "source.vendored.directory=\"$VENDOR\"")
		target=$CACHE/target/$m-vendored
	fi
	if [ "$m" = v0 ]; then export RUSTFLAGS="-C symbol-mangling-version=v0"; else unset RUSTFLAGS; fi
	t0=$(date +%s.%N)
	if ! (cd "$dir" && "$CARGO_BIN" build --release --locked --offline \
		--target-dir "$target" "${src[@]}") >"$TMP/log-$v-$m" 2>&1; then
		log "FAILED: tokio $v, $m mangling:"
		tail -n 40 "$TMP/log-$v-$m" >&2
		return 1
	fi
	cp "$target/release/tk_matrix" "$TMP/tk_matrix-$v-$m" &&
		strip --strip-all -o "$TMP/tk_matrix-$v-$m-stripped" "$TMP/tk_matrix-$v-$m" ||
		return 1
	t1=$(date +%s.%N)
	log "built tk_matrix-$v-$m ($(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s)"
}

build_chain() { # mangling: every version, in order
	local v
	for v in "${versions[@]}"; do
		build_one "$v" "$1" || return 1
	done
}

start=$(date +%s.%N)
if [ "${MATRIX_PARALLEL:-0}" = 1 ]; then
	pids=()
	for m in $MANGLINGS; do
		build_chain "$m" &
		pids+=($!)
	done
	ok=1
	for p in "${pids[@]}"; do wait "$p" || ok=0; done
	[ $ok = 1 ] || exit 1
else
	for m in $MANGLINGS; do build_chain "$m"; done
fi

printf '%s\n' "${versions[@]}" >"$TMP/versions.tmp"
"$RUSTC_BIN" -vV >"$TMP/toolchain"
rm -f "$TMP"/log-*
mv "$TMP/versions.tmp" "$TMP/versions" # marks the directory complete
rm -rf "$OUT"
mv "$TMP" "$OUT"
trap - EXIT
log "done in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
echo "$OUT"
