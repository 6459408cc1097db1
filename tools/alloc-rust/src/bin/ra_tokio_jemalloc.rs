//! ra_tokio_jemalloc [--rt mt|ct] [--wait-go] [--forever] [--tasks N] [--size B]
//!
//! tools/tokio's tk_buffers with statically linked jemalloc as the global
//! allocator: N tasks each hold one Vec<u8> of exactly B bytes (one
//! `__rust_alloc(B, 1)`, i.e. `_rjem_malloc(B)`, filled with a non-zero
//! byte so it is not a calloc) across an await, and free it
//! (`_rjem_sdallocx(p, B, 0)`) after the release line. Each task's own
//! figures: B bytes live from its first poll until the release, plus its
//! task cell (allocated by tokio at spawn, outside the task's polls).
//!
//! Protocol as tools/tokio (README.md): `TRUTH {"tasks":N,"size":B}` on
//! stderr, then `READY` on stdout once every task is pending; one stdin
//! line (or EOF) releases them; exit status 0 after the runtime shut down.
use std::hint::black_box;

use racommon::tokio_support::{arrive_when_pending, say, start, truth, Count, Gate};
use racommon::{Argv, Jemalloc};

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn usage(msg: &str) -> ! {
    eprintln!(
        "ra_tokio_jemalloc: {msg}\nusage: ra_tokio_jemalloc [--rt mt|ct] [--wait-go] [--forever] [--tasks N] [--size B]"
    );
    std::process::exit(2);
}

fn main() {
    let argv = Argv::read();
    let (mut n, mut size, mut multi, mut wait_go, mut forever) = (8usize, 100_000usize, true, false, false);
    let mut it = argv.args();
    while let Some(a) = it.next() {
        match a {
            "--tasks" | "--size" | "--rt" => {
                let v = it.next().unwrap_or_else(|| usage("option needs a value"));
                match a {
                    "--rt" => {
                        multi = match v {
                            "mt" => true,
                            "ct" => false,
                            _ => usage("--rt must be mt or ct"),
                        }
                    }
                    "--tasks" => n = v.parse().unwrap_or_else(|_| usage("bad --tasks")),
                    _ => {
                        size = v.parse().unwrap_or_else(|_| usage("bad --size"));
                        if size == 0 {
                            usage("--size must be > 0");
                        }
                    }
                }
            }
            "--wait-go" => wait_go = true,
            "--forever" => forever = true,
            _ => usage("unknown argument"),
        }
    }

    let (rt, release) = start(multi, wait_go, forever);
    rt.block_on(async move {
        let held = Count::new(n);
        let gate = Gate::new();
        let mut handles = Vec::with_capacity(n);
        for i in 0..n {
            let (held, gate) = (held.clone(), gate.clone());
            handles.push(tokio::spawn(async move {
                // Exactly one allocation of `size` bytes.
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
        say("READY");
        let _ = release.await;
        gate.open();
        for h in handles {
            assert_eq!(h.await.expect("buffer task"), size);
        }
    });
}
