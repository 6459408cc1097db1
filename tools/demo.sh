#!/bin/bash
# The main job on the bundled demo: installs dependencies, builds
# everything, runs memscoped on a sample tokio program (tasks holding
# buffers, aborted tasks, a task that can never be woken, a big future) and
# shows what it found. Needs root (eBPF).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tools/setup-deps.sh
bash tools/build.sh build >/dev/null

out=${MEMSCOPE_DEMO_OUT:-demo}
mkdir -p "$out"
echo "== memscoped -s $out/demo.json -- tk_demo"
build/memscoped --never-finished 2 -s "$out/demo.json" -- \
	tools/tokio/target/release/tk_demo
echo
echo "== memscope report $out/demo.json"
build/user/offline/memscope report "$out/demo.json"
build/user/offline/memscope report --html -o "$out/demo.html" "$out/demo.json"
build/user/offline/memscope export --format pprof -o "$out/demo.pb.gz" "$out/demo.json"
echo
echo "Also written: $out/demo.json (snapshot), $out/demo.html (report with plots),"
echo "$out/demo.pb.gz (go tool pprof). Live view: sudo build/memscoped --top -- PROGRAM"
