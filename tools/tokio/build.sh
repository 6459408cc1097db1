#!/bin/sh
# Build the memscope tokio target programs (release, offline, Debian crates).
# Binaries end up in tools/tokio/target/release/tk_*.
set -eu
cd "$(dirname "$0")"
exec cargo build --release --offline --target-dir "$PWD/target" "$@"
