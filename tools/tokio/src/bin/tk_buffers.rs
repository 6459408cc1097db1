//! tk_buffers --tasks N --size BYTES: N tasks each hold one Vec<u8> of
//! exactly BYTES bytes (one malloc each) across an await.
use std::hint::black_box;
use tkcommon::{arrive_when_pending, ready, start, truth, Args, Count, Gate};

fn main() {
    let args = Args::parse("tk_buffers", &["--tasks", "--size"], &[]);
    let n: usize = args.get("--tasks", 8);
    let size: usize = args.get("--size", 100_000);
    let (rt, release) = start(&args);
    rt.block_on(async move {
        let held = Count::new(n);
        let gate = Gate::new();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let (held, gate) = (held.clone(), gate.clone());
            handles.push(tokio::spawn(async move {
                // Exactly one allocation of `size` bytes (non-zero fill, so
                // malloc rather than calloc).
                let mut buf: Vec<u8> = Vec::with_capacity(size);
                buf.resize(size, (i as u8) | 1);
                black_box(&mut buf);
                arrive_when_pending(&held, gate.wait()).await;
                black_box(&buf);
                buf.len()
            }));
        }
        held.wait().await;
        truth(&format!(r#"{{"tasks":{n},"size":{size}}}"#));
        ready();
        let _ = release.await;
        gate.open();
        for h in handles {
            assert_eq!(h.await.expect("buffer task"), size);
        }
    });
}
