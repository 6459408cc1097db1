#!/bin/sh
# Build the memscope Rust allocator targets (release, offline, Debian crates).
# Binaries end up in tools/alloc-rust/target/release/ra_*, with stripped
# copies (strip --strip-all) as ra_*.stripped. Idempotent; quiet unless
# something fails. Extra arguments go to cargo build.
set -eu
cd "$(dirname "$0")"
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin:/root/.cargo/bin"
cargo build --release --offline --quiet --target-dir "$PWD/target" "$@"
for b in ra_jemalloc ra_tokio_jemalloc ra_tokio_pages; do
	bin=target/release/$b
	if [ ! -e "$bin.stripped" ] || [ "$bin" -nt "$bin.stripped" ]; then
		strip --strip-all -o "$bin.stripped.tmp" "$bin"
		mv "$bin.stripped.tmp" "$bin.stripped"
	fi
done
