//! tk_sites --tasks N --size BYTES: known spawn and allocation sites for
//! the stack tests. `spawn_workers` spawns N tasks; each task's buffer is
//! allocated in `fill_buffer`. Both are #[inline(never)], so they are real
//! frames in this release build (no frame pointers, no debug info).
use std::hint::black_box;
use tkcommon::{arrive_when_pending, ready, start, truth, Args, Count, Gate};

#[inline(never)]
fn fill_buffer(size: usize, fill: u8) -> Vec<u8> {
    let mut buf: Vec<u8> = Vec::with_capacity(size);
    buf.resize(size, fill | 1);
    black_box(buf)
}

#[inline(never)]
fn spawn_workers(
    n: usize,
    size: usize,
    held: &std::sync::Arc<Count>,
    gate: &std::sync::Arc<Gate>,
) -> Vec<tokio::task::JoinHandle<usize>> {
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let (held, gate) = (held.clone(), gate.clone());
        handles.push(tokio::spawn(async move {
            let buf = fill_buffer(size, i as u8);
            arrive_when_pending(&held, gate.wait()).await;
            black_box(&buf);
            buf.len()
        }));
    }
    black_box(handles)
}

fn main() {
    let args = Args::parse("tk_sites", &["--tasks", "--size"], &[]);
    let n: usize = args.get("--tasks", 4);
    let size: usize = args.get("--size", 1_000_000);
    let (rt, release) = start(&args);
    rt.block_on(async move {
        let held = Count::new(n);
        let gate = Gate::new();
        let handles = spawn_workers(n, size, &held, &gate);
        held.wait().await;
        truth(&format!(
            r#"{{"tasks":{n},"size":{size},"spawn_fn":"tk_sites::spawn_workers","alloc_fn":"tk_sites::fill_buffer"}}"#
        ));
        ready();
        let _ = release.await;
        gate.open();
        for h in handles {
            assert_eq!(h.await.expect("sites task"), size);
        }
    });
}
