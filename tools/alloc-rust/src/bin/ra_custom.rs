//! ra_custom [--iters N] [--baseline] [--wait-go]
//!
//! A #[global_allocator] memscoped does not know: a counting wrapper over
//! System (glibc). Its __rust_* shim is what memscoped can probe for it;
//! std's precompiled code calls the shim (format!, str::repeat), the
//! binary's own code calls the wrapper inlined, straight into glibc. Every
//! allocation must still be counted once: the shim's calls reach glibc's
//! malloc nested inside them.
//!
//!   totals(full run) - totals(--baseline run) == TRUTH
//!
//! TRUTH is what the wrapper itself counted while the work ran (the same
//! accounting rule as ra_jemalloc: an alloc is one allocation of its size,
//! a realloc one free of the old size and one allocation of the new, a
//! dealloc one free of its size). The baseline does no work; the live set
//! is never freed (_exit).

use racommon::{exit_now, wait_line, write_all, Argv, Line};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static FREES: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static FREE_BYTES: AtomicU64 = AtomicU64::new(0);

fn count_alloc(size: usize) {
    if ON.load(Relaxed) {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(size as u64, Relaxed);
    }
}

fn count_free(size: usize) {
    if ON.load(Relaxed) {
        FREES.fetch_add(1, Relaxed);
        FREE_BYTES.fetch_add(size as u64, Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            count_alloc(l.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            count_alloc(l.size());
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let p = System.realloc(ptr, l, new);
        if !p.is_null() {
            count_free(l.size());
            count_alloc(new);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, l: Layout) {
        System.dealloc(ptr, l);
        count_free(l.size());
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[repr(align(64))]
#[allow(dead_code)] // only its alignment and size matter
struct Aligned([u8; 64]);

fn main() {
    let argv = Argv::read();
    let (mut iters, mut baseline, mut wait_go) = (300usize, false, false);
    let mut it = argv.args();
    while let Some(a) = it.next() {
        match a {
            "--iters" => iters = it.next().and_then(|s| s.parse().ok()).unwrap_or(300),
            "--baseline" => baseline = true,
            "--wait-go" => wait_go = true,
            _ => {
                write_all(2, b"usage: ra_custom [--iters N] [--baseline] [--wait-go]\n");
                exit_now(2)
            }
        }
    }
    if wait_go {
        write_all(1, b"WAITING\n");
        wait_line();
    }
    // Allocated in both runs, before counting: the live set's holders.
    let mut keep_s: Vec<String> = Vec::with_capacity(iters);
    let mut keep_b: Vec<Box<Aligned>> = Vec::with_capacity(iters);
    let mut keep_z: Vec<Vec<u8>> = Vec::with_capacity(iters);
    ON.store(true, Relaxed);
    for i in 0..if baseline { 0 } else { iters } {
        // Through the shim (std's precompiled code).
        let s = format!("item {i} {}", "ab".repeat(i % 40));
        // Inlined into this crate: the wrapper, then glibc.
        let mut v: Vec<u64> = Vec::new();
        for k in 0..(i % 37) as u64 {
            v.push(k);
        }
        let z = vec![0u8; 100 + i];
        let b = Box::new(Aligned([i as u8; 64]));
        if i % 3 == 0 {
            keep_s.push(s);
            keep_b.push(b);
            keep_z.push(z);
        }
        drop(v);
    }
    ON.store(false, Relaxed);
    let (a, f) = (ALLOCS.load(Relaxed), FREES.load(Relaxed));
    let (ab, fb) = (ALLOC_BYTES.load(Relaxed), FREE_BYTES.load(Relaxed));
    let mut l = Line::new();
    let _ = writeln!(
        l,
        "TRUTH {{\"alloc_count\":{a},\"free_count\":{f},\"alloc_bytes\":{ab},\"free_bytes\":{fb},\"live_count\":{},\"live_bytes\":{}}}",
        a - f,
        ab - fb
    );
    l.emit(2);
    std::hint::black_box((&keep_s, &keep_b, &keep_z));
    exit_now(0)
}
