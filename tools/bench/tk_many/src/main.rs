//! tk_many: spawns one task of each of TASK_TYPES distinct future types,
//! then waits for a line on stdin (so a tracer can be attached and timed).
//! Prints `TYPES <n>` and `READY`.
use std::io::BufRead;

include!(concat!(env!("OUT_DIR"), "/spawns.rs"));

async fn work<const N: usize>() -> usize {
    std::hint::black_box(N)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    println!("TYPES {TASK_TYPES}");
    println!("READY");
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    rt.block_on(async {
        let mut h = Vec::with_capacity(TASK_TYPES);
        spawn_all(&mut h);
        for t in h {
            t.await.expect("task");
        }
    });
}
