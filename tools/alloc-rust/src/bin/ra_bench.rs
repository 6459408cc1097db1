//! ra_bench ITER
//!
//! tools/targets/bench_loop with this crate's global allocator (static
//! jemalloc, _rjem_ prefix): ITER times a Vec of 64..127 bytes
//! (`_rjem_malloc`) dropped again (`_rjem_sdallocx`), timed; prints
//! "ns_per_pair X" on stdout. For tools/bench/alloc_bench.sh.

use racommon::{exit_now, write_all, Argv, Jemalloc, Line};
use std::fmt::Write;
use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    let argv = Argv::read();
    let iters: u64 = match argv.args().next().and_then(|s| s.parse().ok()) {
        Some(n) if n > 0 => n,
        _ => {
            write_all(2, b"usage: ra_bench ITER\n");
            exit_now(2)
        }
    };
    let t0 = Instant::now();
    for i in 0..iters {
        let size = 64 + ((i * 37) & 63) as usize;
        let mut v: Vec<u8> = Vec::with_capacity(black_box(size));
        v.push(i as u8);
        black_box(&v);
    }
    let ns = t0.elapsed().as_nanos() as f64 / iters as f64;
    let mut l = Line::new();
    let _ = writeln!(l, "ns_per_pair {ns:.1}");
    l.emit(1);
    exit_now(0)
}
