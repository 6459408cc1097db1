//! tk_spawnbench --tasks N --yields K [--rt mt|ct] [--wait-go]: spawns N
//! tiny tasks that each yield K times, awaits them all, and prints
//! `ns_per_task <float>` and `ns_per_poll <float>` measured around that
//! work only (benchmarks: the cost of a spawn and of a task poll).
use std::time::Instant;
use tkcommon::{start, Args};

fn main() {
    let args = Args::parse("tk_spawnbench", &["--tasks", "--yields"], &[]);
    let n: usize = args.get("--tasks", 100_000);
    let k: usize = args.get("--yields", 0);
    let (rt, _release) = start(&args);
    let elapsed = rt.block_on(async move {
        let t0 = Instant::now();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            handles.push(tokio::spawn(async move {
                for _ in 0..k {
                    tokio::task::yield_now().await;
                }
                i
            }));
        }
        for h in handles {
            h.await.expect("task");
        }
        t0.elapsed()
    });
    let ns = elapsed.as_nanos() as f64;
    println!("ns_per_task {:.1}", ns / n as f64);
    println!("ns_per_poll {:.1}", ns / (n * (k + 1)) as f64);
}
