//! ra_tokio_pages [--rt mt|ct] [--wait-go] [--big B] [--small S]
//!
//! The page-level fallback's target (issue 14): statically linked jemalloc
//! as the global allocator, and two tasks, spawned in this order. The
//! first ("big", B = 64 MiB by default) and then the second ("small",
//! S = 1 MiB) each make one `Vec<u8>` of that capacity, write one byte in
//! every 4 KiB page of it (so the kernel gives it memory, page by page,
//! during the task's poll), and hold it across an await. Stripped, this is
//! a program whose allocator memscoped cannot probe: only page faults tell
//! which task touched how much.
//!
//! Protocol as tools/tokio (README.md): once both tasks are really
//! pending, `TRUTH {"tasks":2,"big":B,"small":S,"order":["big","small"]}`
//! on stderr, then `READY` on stdout; one stdin line (or EOF) releases
//! them; exit status 0 after the runtime shut down.
use std::hint::black_box;

use racommon::tokio_support::{arrive_when_pending, say, start, truth, Count, Gate};
use racommon::{Argv, Jemalloc};

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

const PAGE: usize = 4096;

fn usage(msg: &str) -> ! {
    eprintln!(
        "ra_tokio_pages: {msg}\nusage: ra_tokio_pages [--rt mt|ct] [--wait-go] [--big B] [--small S]"
    );
    std::process::exit(2);
}

/// One allocation of `size` bytes, every page of it written.
fn touch(size: usize, fill: u8) -> Vec<u8> {
    let mut buf: Vec<u8> = Vec::with_capacity(size);
    let p = buf.as_mut_ptr();
    let mut off = 0;
    while off < size {
        // SAFETY: off < capacity; the bytes are written before set_len.
        unsafe { p.add(off).write_volatile(fill) };
        off += PAGE;
    }
    // Only the touched bytes matter; the rest stays uninitialised memory
    // of the Vec's capacity, never read.
    black_box(&mut buf);
    buf
}

fn main() {
    let argv = Argv::read();
    let (mut big, mut small, mut multi, mut wait_go) = (64usize << 20, 1usize << 20, true, false);
    let mut it = argv.args();
    while let Some(a) = it.next() {
        match a {
            "--big" | "--small" | "--rt" => {
                let v = it.next().unwrap_or_else(|| usage("option needs a value"));
                match a {
                    "--rt" => {
                        multi = match v {
                            "mt" => true,
                            "ct" => false,
                            _ => usage("--rt must be mt or ct"),
                        }
                    }
                    "--big" => big = v.parse().unwrap_or_else(|_| usage("bad --big")),
                    _ => small = v.parse().unwrap_or_else(|_| usage("bad --small")),
                }
            }
            "--wait-go" => wait_go = true,
            _ => usage("unknown argument"),
        }
    }
    if big == 0 || small == 0 {
        usage("sizes must be > 0");
    }

    let (rt, release) = start(multi, wait_go, false);
    rt.block_on(async move {
        let held = Count::new(2);
        let gate = Gate::new();
        let mut handles = Vec::with_capacity(2);
        for (i, size) in [big, small].into_iter().enumerate() {
            let (held, gate) = (held.clone(), gate.clone());
            handles.push(tokio::spawn(async move {
                let buf = touch(size, (i as u8) | 1);
                arrive_when_pending(&held, gate.wait()).await;
                black_box(&buf);
                buf.capacity()
            }));
        }
        held.wait().await;
        truth(&format!(
            r#"{{"tasks":2,"big":{big},"small":{small},"order":["big","small"]}}"#
        ));
        say("READY");
        let _ = release.await;
        gate.open();
        for (h, size) in handles.into_iter().zip([big, small]) {
            assert!(h.await.expect("page task") >= size);
        }
    });
}
