#!/usr/bin/env python3
"""Print the tokio task vtable offsets of every task type in a tk_matrix
binary built with v0 mangling (legacy names carry no generic arguments, so
the future type of a `raw::poll` instance cannot be told there; the layout is
the same in the legacy build of the same version).

    tools/tokio-matrix/vtables.py DIR/tk_matrix-1.47.1-v0

tokio's Vtable (1.24 .. 1.53, without tokio_unstable) is 7 function pointers
(poll first) then trailer_offset, scheduler_offset, id_offset. A vtable is
found as the R_X86_64_RELATIVE relocation whose addend is a `raw::poll`
instance. Needs nm, readelf (binutils); x86_64 PIE only.
"""
import re
import struct
import subprocess
import sys


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def main(path):
    polls = {}
    for line in run("nm", "-C", "--defined-only", path).splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            m = re.match(r"tokio::runtime::task::raw::poll::<(.*)>$", parts[2])
            if m:
                polls.setdefault(int(parts[0], 16), []).append(m.group(1))
    vtables = {}
    for line in run("readelf", "-rW", path).splitlines():
        f = line.split()
        if len(f) >= 4 and f[2] == "R_X86_64_RELATIVE":
            vtables.setdefault(int(f[3], 16), []).append(int(f[0], 16))
    segs = []
    for line in run("readelf", "-lW", path).splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[2], 16), int(f[1], 16), int(f[4], 16)))
    data = open(path, "rb").read()

    def qword(va):
        for vaddr, off, filesz in segs:
            if vaddr <= va < vaddr + filesz:
                return struct.unpack_from("<Q", data, off + va - vaddr)[0]
        raise KeyError(hex(va))

    rows = []
    for addr, names in polls.items():
        for vt in vtables.get(addr, []):
            trailer, sched, tid = (qword(vt + 8 * i) for i in (7, 8, 9))
            for n in names:
                rt = "mt" if "multi_thread" in n else "ct" if "current_thread" in n else "?"
                fut = re.sub(r", (alloc::sync::Arc<|tokio::runtime::blocking::schedule).*$", "", n)
                rows.append((fut, rt, trailer, sched, tid))
    if not rows:
        sys.exit(f"{path}: no tokio task vtable found (not a v0-mangled tk_matrix?)")
    print("rt  trailer sched  id  future")
    for fut, rt, trailer, sched, tid in sorted(rows):
        print(f"{rt:2} {trailer:8} {sched:5} {tid:3}  {fut}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: vtables.py BINARY-v0")
    main(sys.argv[1])
