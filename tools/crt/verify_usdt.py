#!/usr/bin/env python3
"""Check the memscope markers of crt_target against its ground truth, live.

Runs crt_target under bpftrace (root; mounts tracefs, which bpftrace needs),
records every marker plus malloc/free of the process, and checks that:
  - each task_spawn reports the size of the malloc that made its block, with
    parent 0, and that block is freed right after the task's task_free;
  - every poll_begin has its poll_end on the same thread, never nested;
  - holders and aborted tasks malloc exactly --size inside their poll;
  - wakers at poll_end: 1 for waiting tasks, 0 for nowaker, -1 at the end;
  - holders and big complete; aborted and nowaker are cancelled, never
    complete; an aborted task's buffer is freed between cancel and free.

usage: verify_usdt.py ./crt_target [crt_target args...]
Exit 0 when every check holds, 1 otherwise.
"""
import json
import os
import subprocess
import sys
from collections import defaultdict

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"

SCRIPT = r"""
usdt:@T@:memscope:task_spawn { printf("E %lld %d spawn %lld %lld %lld\n", nsecs, tid, arg0, arg1, arg2); }
usdt:@T@:memscope:poll_begin { printf("E %lld %d poll_begin %lld\n", nsecs, tid, arg0); }
usdt:@T@:memscope:poll_end { printf("E %lld %d poll_end %lld %lld\n", nsecs, tid, arg0, (int64)arg1); }
usdt:@T@:memscope:task_complete { printf("E %lld %d complete %lld\n", nsecs, tid, arg0); }
usdt:@T@:memscope:task_cancel { printf("E %lld %d cancel %lld\n", nsecs, tid, arg0); }
usdt:@T@:memscope:task_free { printf("E %lld %d task_free %lld\n", nsecs, tid, arg0); }
uprobe:@L@:malloc /pid == cpid/ { @sz[tid] = arg0; }
uretprobe:@L@:malloc /pid == cpid && @sz[tid]/ {
	printf("E %lld %d malloc %lld %lld\n", nsecs, tid, @sz[tid], retval);
	delete(@sz[tid]);
}
uprobe:@L@:free /pid == cpid && arg0/ { printf("E %lld %d free %lld\n", nsecs, tid, arg0); }
"""


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    target = os.path.abspath(sys.argv[1])
    args = sys.argv[2:]
    subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"],
                   stderr=subprocess.DEVNULL)
    script = SCRIPT.replace("@T@", target).replace("@L@", LIBC)
    cmd = " ".join([target] + args)
    p = subprocess.run(["bpftrace", "-e", script, "-c", cmd], input="\n",
                       capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    truth = None
    events = []
    for line in out.splitlines():
        if line.startswith("TRUTH "):
            truth = json.loads(line[6:])
        elif line.startswith("E "):
            f = line.split()
            events.append((int(f[1]), int(f[2]), f[3], [int(x) for x in f[4:]]))
    if truth is None:
        print(out)
        print("FAIL: no TRUTH line")
        return 1
    events.sort(key=lambda e: e[0])

    errors = []

    def check(cond, msg):
        if not cond:
            errors.append(msg)

    size = truth["size"]
    kind = {}
    for k in ("holders", "aborted", "nowaker"):
        for i in truth[k]:
            kind[i] = k
    if truth["big"] is not None:
        kind[truth["big"]] = "big"
    state = {int(k): v for k, v in truth["state_size"].items()}

    last_malloc = {}		# tid -> (size, ptr)
    block = {}			# task id -> block pointer
    cur = {}			# tid -> task polled now
    task_tid = {}
    wakers = defaultdict(list)
    allocs = defaultdict(list)	# task id -> sizes malloc'd in its polls
    buf_of = {}			# buffer ptr -> task id
    ends = defaultdict(list)	# task id -> end events in order
    pending_free = {}		# tid -> task id whose block must be freed next
    counts = defaultdict(int)

    for ts, tid, ev, a in events:
        counts[ev] += 1
        if ev == "malloc":
            last_malloc[tid] = (a[0], a[1])
            if tid in cur:
                allocs[cur[tid]].append(a[0])
                buf_of[a[1]] = cur[tid]
        elif ev == "free":
            if tid in pending_free:
                t = pending_free.pop(tid)
                check(a[0] == block.get(t),
                      f"task {t}: first free after task_free is not its block")
            t = buf_of.pop(a[0], None)
            if t is not None:
                ends[t].append("buf_free")
        elif ev == "spawn":
            t, parent, sz = a
            task_tid[t] = tid
            check(t in kind, f"spawn of unknown task {t}")
            check(parent == 0, f"task {t}: parent {parent}, expected 0")
            check(sz == state.get(t), f"task {t}: state_size {sz}, truth {state.get(t)}")
            m = last_malloc.get(tid)
            check(m is not None and m[0] == sz,
                  f"task {t}: malloc before spawn was {m}, not {sz} bytes")
            if m:
                block[t] = m[1]
        elif ev == "poll_begin":
            check(tid not in cur, f"nested poll on tid {tid}")
            check(task_tid.get(a[0]) == tid, f"task {a[0]} polled on another thread")
            cur[tid] = a[0]
        elif ev == "poll_end":
            check(cur.get(tid) == a[0], f"poll_end {a[0]} without its poll_begin")
            cur.pop(tid, None)
            wakers[a[0]].append(a[1])
        elif ev in ("complete", "cancel"):
            ends[a[0]].append(ev)
        elif ev == "task_free":
            ends[a[0]].append("task_free")
            pending_free[tid] = a[0]

    for t, k in sorted(kind.items()):
        w, e = wakers[t], ends[t]
        check(t in block, f"task {t} ({k}): no spawn seen")
        if k in ("holders", "aborted"):
            want = [size] if size else []
            check(allocs[t] == want, f"task {t} ({k}): mallocs {allocs[t]}, expected {want}")
        else:
            check(allocs[t] == [], f"task {t} ({k}): unexpected mallocs {allocs[t]}")
        if k in ("holders", "big"):
            check(w == [1, -1], f"task {t} ({k}): wakers {w}, expected [1, -1]")
            # a holder frees its buffer inside its last poll, before complete
            want = ["buf_free", "complete", "task_free"] if k == "holders" and size \
                else ["complete", "task_free"]
            check(e == want, f"task {t} ({k}): end events {e}, expected {want}")
        elif k == "aborted":
            check(w == [1], f"task {t}: wakers {w}, expected [1]")
            want = ["cancel", "buf_free", "task_free"] if size else ["cancel", "task_free"]
            check(e == want, f"task {t}: end events {e}, expected {want}")
        elif k == "nowaker":
            check(w == [0], f"task {t}: wakers {w}, expected [0]")
            check(e == ["cancel", "task_free"], f"task {t}: end events {e}")
    check(not pending_free, f"task blocks never freed: {pending_free}")

    print("events:", " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print("truth:", json.dumps({k: truth[k] for k in
                                ("holders", "aborted", "nowaker", "big", "size", "big_size")}))
    for e in errors:
        print("FAIL:", e)
    if p.returncode != 0:
        print("FAIL: bpftrace exited", p.returncode)
        errors.append("rc")
    print("OK" if not errors else f"{len(errors)} failure(s)")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
