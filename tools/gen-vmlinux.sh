#!/bin/bash
# Regenerates vmlinux/<arch>/vmlinux.h from the running kernel's BTF. The
# build only reads the vendored copy: CO-RE relocates at load time, so it
# needs no kernel headers and runs on other kernels with BTF.
set -euo pipefail
cd "$(dirname "$0")/.."
case "$(uname -m)" in
x86_64) arch=x86 ;;
aarch64) arch=arm64 ;;
*) echo "gen-vmlinux: unsupported architecture $(uname -m)" >&2; exit 2 ;;
esac
btf=${1:-/sys/kernel/btf/vmlinux}
mkdir -p "vmlinux/$arch"
bpftool btf dump file "$btf" format c >"vmlinux/$arch/vmlinux.h.tmp"
mv "vmlinux/$arch/vmlinux.h.tmp" "vmlinux/$arch/vmlinux.h"
echo "vmlinux/$arch/vmlinux.h from $btf"
