//! tk_pool --tasks N --size BYTES --mode own|pool
//!   own:  every task allocates its own BYTES buffer and holds it.
//!   pool: main allocates ONE pool of N*BYTES bytes before spawning; each
//!         task only borrows its BYTES slice of it (no per-task buffer).
use std::hint::black_box;
use std::sync::Arc;
use tkcommon::{arrive_when_pending, ready, start, truth, Args, Count, Gate};

fn main() {
    let args = Args::parse("tk_pool", &["--tasks", "--size", "--mode"], &[]);
    let n: usize = args.get("--tasks", 8);
    let size: usize = args.get("--size", 100_000);
    let mode = args.get_str("--mode", "own").to_string();
    let pool_mode = match mode.as_str() {
        "own" => false,
        "pool" => true,
        m => {
            eprintln!("tk_pool: --mode must be own or pool, not {m}");
            std::process::exit(2);
        }
    };
    let (rt, release) = start(&args);
    rt.block_on(async move {
        let waiting = Count::new(n);
        let gate = Gate::new();
        // pool mode: one allocation of n*size bytes, made here by main.
        let pool: Option<Arc<Vec<u8>>> = pool_mode.then(|| {
            let mut p = Vec::with_capacity(n * size);
            p.resize(n * size, 7u8);
            Arc::new(p)
        });
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let (waiting, gate, pool) = (waiting.clone(), gate.clone(), pool.clone());
            handles.push(tokio::spawn(async move {
                let own: Option<Vec<u8>> = match pool {
                    Some(_) => None,
                    None => {
                        let mut b = Vec::with_capacity(size);
                        b.resize(size, (i as u8) | 1);
                        Some(b)
                    }
                };
                let mine: &[u8] = match (&own, &pool) {
                    (Some(b), _) => b,
                    (None, Some(p)) => &p[i * size..(i + 1) * size],
                    (None, None) => unreachable!(),
                };
                black_box(mine);
                arrive_when_pending(&waiting, gate.wait()).await;
                black_box(mine).len()
            }));
        }
        waiting.wait().await;
        truth(&format!(r#"{{"tasks":{n},"size":{size},"mode":"{mode}"}}"#));
        ready();
        let _ = release.await;
        gate.open();
        for h in handles {
            assert_eq!(h.await.expect("pool task"), size);
        }
        drop(pool);
    });
}
