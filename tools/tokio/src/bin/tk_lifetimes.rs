//! tk_lifetimes --short S --long L: S tasks finish immediately (each
//! allocates and frees a small Vec), L tasks stay pending until stdin.
use std::hint::black_box;
use tkcommon::{arrive_when_pending, ready, start, truth, Args, Count, Gate};

fn main() {
    let args = Args::parse("tk_lifetimes", &["--short", "--long"], &[]);
    let s: usize = args.get("--short", 10);
    let l: usize = args.get("--long", 3);
    let (rt, release) = start(&args);
    rt.block_on(async move {
        let waiting = Count::new(l);
        let gate = Gate::new();
        let shorts: Vec<_> = (0..s)
            .map(|i| {
                tokio::spawn(async move {
                    let v = vec![(i as u8) | 1; 64];
                    black_box(&v);
                    v.len()
                })
            })
            .collect();
        let longs: Vec<_> = (0..l)
            .map(|_| {
                let (waiting, gate) = (waiting.clone(), gate.clone());
                tokio::spawn(async move { arrive_when_pending(&waiting, gate.wait()).await })
            })
            .collect();
        for h in shorts {
            h.await.expect("short task");
        }
        waiting.wait().await;
        truth(&format!(r#"{{"short":{s},"long":{l}}}"#));
        ready();
        let _ = release.await;
        gate.open();
        for h in longs {
            h.await.expect("long task");
        }
    });
}
