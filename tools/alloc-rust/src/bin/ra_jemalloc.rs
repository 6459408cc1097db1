//! ra_jemalloc [--threads T] [--iters N] [--baseline] [--wait-go] [--hold] [--stats]
//!
//! A plain Rust program whose #[global_allocator] is statically linked
//! jemalloc (jemalloc-sys, `_rjem_` prefix; racommon::Jemalloc calls what
//! jemallocator calls) and whose heap activity is known exactly, like
//! tools/targets/alloc_family:
//!
//!   totals(full run) - totals(--baseline run) == TRUTH
//!
//! T threads (default 4) each run N iterations (default 200) of a fixed mix
//! of Box, Vec, String and std::alloc calls: plain, zeroed and over-aligned
//! allocations, growth (realloc) and shrinking, a failed allocation and a
//! failed realloc, blocks freed at once, a few steps later, by the next
//! thread, or kept until exit. The baseline run does everything else the
//! same (threads, their bookkeeping vectors, the handoff ring, the output).
//!
//! Accounting (README.md "Accounting rule", at the GlobalAlloc boundary,
//! i.e. what `__rust_alloc` and friends are called with): every successful
//! `alloc`/`alloc_zeroed` is one allocation of `layout.size()`; a
//! successful `realloc` is one free of the old size and one allocation of
//! the new size (moved or not); every `dealloc` is one free of its size;
//! calls that return null count for nothing. A Vec's or String's calls are
//! read from its capacity: a change from 0 is an alloc, to 0 a dealloc,
//! any other change a realloc (elements * size_of). Each GlobalAlloc call
//! is exactly one call of one jemalloc entry point (`--stats` prints both
//! counts: `__rust_*` and `_rjem_*`).
//!
//! The bookkeeping never allocates: argv from /proc/self/cmdline, output
//! from a fixed buffer with write(2), stdin with read(2), `_exit` at the end
//! (the live set is never freed).
use std::alloc::{self, Layout};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use racommon::{exit_now, layout_to_flags, wait_line, write_all, Argv, JeEntry, Jemalloc, Line, Rng};

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

const MAX_THREADS: usize = 64;
const MAX_ITERS: usize = 100_000;
/// About 8 blocks per iteration stay live; beyond this cap they are freed.
const LIVE_CAP: usize = 32768;
const DELAY_SLOTS: usize = 8;
const HANDOFF_MAX: usize = 64;
const HANDOFF_EVERY: usize = 8;
const PIECE: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_";

#[allow(dead_code)] // held, never read
#[repr(align(64))]
struct A64([u8; 64]);

#[allow(dead_code)] // held, never read
#[repr(align(4096))]
struct Page([u8; 4096]);

#[allow(dead_code)] // held, never read
#[repr(align(32))]
#[derive(Clone, Copy)]
struct A32([u8; 32]);

/// A block from std::alloc directly.
struct RawBlock {
    ptr: *mut u8,
    layout: Layout,
}

// The block is owned by whoever holds the RawBlock.
unsafe impl Send for RawBlock {}

impl Drop for RawBlock {
    fn drop(&mut self) {
        unsafe { alloc::dealloc(self.ptr, self.layout) }
    }
}

/// A block we hold; dropping it is one `__rust_dealloc`. The contents are
/// held, never read.
#[allow(dead_code)]
enum Held {
    Bytes(Box<[u8]>),
    Words(Vec<u64>),
    Text(String),
    Lines(Vec<A32>),
    Small(Box<[u64; 4]>),
    Al64(Box<A64>),
    Page(Box<Page>),
    Raw(RawBlock),
}

impl Held {
    /// (size, align) of the allocation it will give back.
    fn layout(&self) -> (usize, usize) {
        match self {
            Held::Bytes(b) => (b.len(), 1),
            Held::Words(v) => (v.capacity() * 8, 8),
            Held::Text(s) => (s.capacity(), 1),
            Held::Lines(v) => (v.capacity() * 32, 32),
            Held::Small(_) => (32, 8),
            Held::Al64(_) => (64, 64),
            Held::Page(_) => (4096, 4096),
            Held::Raw(r) => (r.layout.size(), r.layout.align()),
        }
    }
}

// ---- per-call statistics -----------------------------------------------

const C_RUST_ALLOC: usize = 0;
const C_RUST_ALLOC_ZEROED: usize = 1;
const C_RUST_REALLOC: usize = 2;
const C_RUST_DEALLOC: usize = 3;
const C_JE: usize = 4; // + JeEntry as usize
const NCALLS: usize = C_JE + 6;
const CALL_NAMES: [&str; NCALLS] = [
    "__rust_alloc",
    "__rust_alloc_zeroed",
    "__rust_realloc",
    "__rust_dealloc",
    "_rjem_malloc",
    "_rjem_calloc",
    "_rjem_mallocx",
    "_rjem_realloc",
    "_rjem_rallocx",
    "_rjem_sdallocx",
];

fn je_index(e: JeEntry) -> usize {
    C_JE + match e {
        JeEntry::Malloc => 0,
        JeEntry::Calloc => 1,
        JeEntry::Mallocx => 2,
        JeEntry::Realloc => 3,
        JeEntry::Rallocx => 4,
        JeEntry::Sdallocx => 5,
    }
}

#[derive(Clone, Copy)]
struct Totals {
    alloc_count: u64,
    free_count: u64,
    alloc_bytes: u64,
    free_bytes: u64,
    live_count: u64,
    live_bytes: u64,
    moved: u64,
    in_place: u64,
    failed_as_expected: u64,
    unexpected: u64,
    calls: [u64; NCALLS],
}

impl Totals {
    const ZERO: Totals = Totals {
        alloc_count: 0,
        free_count: 0,
        alloc_bytes: 0,
        free_bytes: 0,
        live_count: 0,
        live_bytes: 0,
        moved: 0,
        in_place: 0,
        failed_as_expected: 0,
        unexpected: 0,
        calls: [0; NCALLS],
    };

    fn add(&mut self, o: &Totals) {
        self.alloc_count += o.alloc_count;
        self.free_count += o.free_count;
        self.alloc_bytes += o.alloc_bytes;
        self.free_bytes += o.free_bytes;
        self.live_count += o.live_count;
        self.live_bytes += o.live_bytes;
        self.moved += o.moved;
        self.in_place += o.in_place;
        self.failed_as_expected += o.failed_as_expected;
        self.unexpected += o.unexpected;
        for (a, b) in self.calls.iter_mut().zip(o.calls.iter()) {
            *a += b;
        }
    }
}

// ---- one thread's state --------------------------------------------------

struct Slot {
    out: Mutex<Vec<Held>>,
    ready: AtomicBool,
}

struct Shared {
    slots: Vec<Slot>,
    gate: AtomicBool,
}

struct State {
    t: Totals,
    rng: Rng,
    live: Vec<Held>,
    delay: [Option<Held>; DELAY_SLOTS],
    delay_next: usize,
}

impl State {
    // What GlobalAlloc is called with, counted as the accounting rule says.

    fn alloc(&mut self, size: usize, align: usize) {
        self.t.calls[C_RUST_ALLOC] += 1;
        self.t.calls[je_index(if layout_to_flags(align, size) == 0 {
            JeEntry::Malloc
        } else {
            JeEntry::Mallocx
        })] += 1;
        self.t.alloc_count += 1;
        self.t.alloc_bytes += size as u64;
    }

    fn alloc_zeroed(&mut self, size: usize, align: usize) {
        self.t.calls[C_RUST_ALLOC_ZEROED] += 1;
        self.t.calls[je_index(if layout_to_flags(align, size) == 0 {
            JeEntry::Calloc
        } else {
            JeEntry::Mallocx
        })] += 1;
        self.t.alloc_count += 1;
        self.t.alloc_bytes += size as u64;
    }

    fn realloc_call(&mut self, new: usize, align: usize) {
        self.t.calls[C_RUST_REALLOC] += 1;
        self.t.calls[je_index(if layout_to_flags(align, new) == 0 {
            JeEntry::Realloc
        } else {
            JeEntry::Rallocx
        })] += 1;
    }

    fn realloc(&mut self, old: usize, new: usize, align: usize, moved: bool) {
        self.realloc_call(new, align);
        self.t.free_count += 1;
        self.t.free_bytes += old as u64;
        self.t.alloc_count += 1;
        self.t.alloc_bytes += new as u64;
        if moved {
            self.t.moved += 1;
        } else {
            self.t.in_place += 1;
        }
    }

    fn dealloc(&mut self, size: usize) {
        self.t.calls[C_RUST_DEALLOC] += 1;
        self.t.calls[je_index(JeEntry::Sdallocx)] += 1;
        self.t.free_count += 1;
        self.t.free_bytes += size as u64;
    }

    /// A Vec's capacity went from `old` to `new` elements of `elem` bytes.
    fn capacity(&mut self, old: usize, new: usize, elem: usize, align: usize, moved: bool) {
        match (old, new) {
            (o, n) if o == n => {}
            (0, n) => self.alloc(n * elem, align),
            (o, 0) => self.dealloc(o * elem),
            (o, n) => self.realloc(o * elem, n * elem, align, moved),
        }
    }

    fn release(&mut self, h: Held) {
        let (size, _) = h.layout();
        self.dealloc(size);
        drop(h);
    }

    /// Keep until exit, free now, or free a few steps later.
    fn settle(&mut self, h: Held) {
        let r = self.rng.next() % 8;
        if r < 4 && self.live.len() < LIVE_CAP {
            self.live.push(h);
        } else if r < 6 {
            self.release(h);
        } else {
            let i = self.delay_next;
            self.delay_next = (i + 1) % DELAY_SLOTS;
            if let Some(old) = self.delay[i].replace(h) {
                self.release(old);
            }
        }
    }
}

// ---- the mix ---------------------------------------------------------------

fn vec_growth<T: Copy>(st: &mut State, v: &mut Vec<T>, item: T, n: usize) {
    let elem = std::mem::size_of::<T>();
    let align = std::mem::align_of::<T>();
    for _ in 0..n {
        let (cap, ptr) = (v.capacity(), v.as_ptr());
        v.push(item);
        if v.capacity() != cap {
            st.capacity(cap, v.capacity(), elem, align, ptr != v.as_ptr());
        }
    }
}

fn shrink<T>(st: &mut State, v: &mut Vec<T>) {
    let elem = std::mem::size_of::<T>();
    let align = std::mem::align_of::<T>();
    let (cap, ptr) = (v.capacity(), v.as_ptr());
    v.shrink_to_fit();
    st.capacity(cap, v.capacity(), elem, align, ptr != v.as_ptr());
}

fn one_iteration(st: &mut State, shared: &Shared, idx: usize, i: usize) {
    // Box<[u8]> from vec![x; n] (x != 0: __rust_alloc, not zeroed; length
    // == capacity, so into_boxed_slice does not reallocate).
    let n = st.rng.range(1, 2048);
    let b = vec![(i as u8) | 1; n].into_boxed_slice();
    st.alloc(n, 1);
    st.settle(Held::Bytes(black_box(b)));

    // vec![0; n]: __rust_alloc_zeroed.
    let n = st.rng.range(1, 4096);
    let b = vec![0u8; n].into_boxed_slice();
    st.alloc_zeroed(n, 1);
    st.settle(Held::Bytes(black_box(b)));

    // Box::new of a small value, and of over-aligned ones (mallocx).
    st.alloc(32, 8);
    let b = Box::new([i as u64; 4]);
    st.settle(Held::Small(black_box(b)));
    st.alloc(64, 64);
    let b = Box::new(A64([i as u8; 64]));
    st.settle(Held::Al64(black_box(b)));
    if i % 4 == 0 {
        st.alloc(4096, 4096);
        let b = Box::new(Page([i as u8; 4096]));
        st.settle(Held::Page(black_box(b)));
    }

    // Vec<u64> growing by push (alloc, then realloc), sometimes shrunk.
    let mut v: Vec<u64> = Vec::new();
    let n = st.rng.range(1, 300);
    vec_growth(st, &mut v, i as u64, n);
    if st.rng.next() % 2 == 0 {
        shrink(st, &mut v);
    }
    st.settle(Held::Words(black_box(v)));

    // String growing by push_str.
    let mut s = String::new();
    let pieces = st.rng.range(1, 40);
    for _ in 0..pieces {
        let k = st.rng.range(1, 64);
        // push_str of k bytes: at most one growth per call.
        let (cap, ptr) = (s.capacity(), s.as_ptr());
        s.push_str(&PIECE[..k]);
        if s.capacity() != cap {
            st.capacity(cap, s.capacity(), 1, 1, ptr != s.as_ptr());
        }
    }
    st.settle(Held::Text(black_box(s)));

    // Vec of 32-byte-aligned items: mallocx, then rallocx.
    let mut v: Vec<A32> = Vec::new();
    let n = st.rng.range(1, 100);
    vec_growth(st, &mut v, A32([i as u8; 32]), n);
    st.settle(Held::Lines(black_box(v)));

    // std::alloc directly: size < align (mallocx), then a realloc to a
    // size that needs no flags (plain realloc of a mallocx block).
    let size = st.rng.range(1, 7);
    let layout = Layout::from_size_align(size, 8).unwrap();
    let p = unsafe { alloc::alloc(layout) };
    if !p.is_null() {
        st.alloc(size, 8);
        let new = st.rng.range(9, 200);
        let q = unsafe { alloc::realloc(p, layout, new) };
        if q.is_null() {
            st.realloc_call(new, 8);
            st.t.unexpected += 1;
            st.settle(Held::Raw(RawBlock { ptr: p, layout }));
        } else {
            st.realloc(size, new, 8, q != p);
            let layout = Layout::from_size_align(new, 8).unwrap();
            st.settle(Held::Raw(RawBlock { ptr: q, layout }));
        }
    } else {
        st.t.calls[C_RUST_ALLOC] += 1;
        st.t.calls[je_index(JeEntry::Mallocx)] += 1;
        st.t.unexpected += 1;
    }

    // alloc_zeroed with 64-byte alignment (mallocx | MALLOCX_ZERO), then a
    // shrinking realloc that keeps the alignment (rallocx).
    let size = st.rng.range(100, 1000);
    let layout = Layout::from_size_align(size, 64).unwrap();
    let p = unsafe { alloc::alloc_zeroed(layout) };
    if !p.is_null() {
        st.alloc_zeroed(size, 64);
        let new = st.rng.range(1, 99);
        let q = unsafe { alloc::realloc(p, layout, new) };
        if q.is_null() {
            st.realloc_call(new, 64);
            st.t.unexpected += 1;
            st.settle(Held::Raw(RawBlock { ptr: p, layout }));
        } else {
            st.realloc(size, new, 64, q != p);
            let layout = Layout::from_size_align(new, 64).unwrap();
            st.settle(Held::Raw(RawBlock { ptr: q, layout }));
        }
    } else {
        st.t.calls[C_RUST_ALLOC_ZEROED] += 1;
        st.t.calls[je_index(JeEntry::Mallocx)] += 1;
        st.t.unexpected += 1;
    }

    // Failures count nothing: an allocation too large for jemalloc
    // (malloc, and mallocx with an alignment), and a realloc to such a
    // size, which leaves the block alone.
    let huge = (isize::MAX as usize - 65535) + st.rng.range(0, 4095) * 8;
    let layout = Layout::from_size_align(huge, 16).unwrap();
    let p = unsafe { alloc::alloc(layout) };
    st.t.calls[C_RUST_ALLOC] += 1;
    st.t.calls[je_index(JeEntry::Malloc)] += 1;
    if p.is_null() {
        st.t.failed_as_expected += 1;
    } else {
        st.t.unexpected += 1;
        st.t.alloc_count += 1;
        st.t.alloc_bytes += huge as u64;
        st.settle(Held::Raw(RawBlock { ptr: p, layout }));
    }
    let layout = Layout::from_size_align(isize::MAX as usize + 1 - 4096, 4096).unwrap();
    let p = unsafe { alloc::alloc(layout) };
    st.t.calls[C_RUST_ALLOC] += 1;
    st.t.calls[je_index(JeEntry::Mallocx)] += 1;
    if p.is_null() {
        st.t.failed_as_expected += 1;
    } else {
        st.t.unexpected += 1;
        st.t.alloc_count += 1;
        st.t.alloc_bytes += layout.size() as u64;
        st.settle(Held::Raw(RawBlock { ptr: p, layout }));
    }
    let size = st.rng.range(8, 512);
    let layout = Layout::from_size_align(size, 8).unwrap();
    let p = unsafe { alloc::alloc(layout) };
    if !p.is_null() {
        st.alloc(size, 8);
        let q = unsafe { alloc::realloc(p, layout, huge) };
        st.realloc_call(huge, 8);
        if q.is_null() {
            st.t.failed_as_expected += 1;
            st.settle(Held::Raw(RawBlock { ptr: p, layout }));
        } else {
            st.t.unexpected += 1;
            st.realloc(size, huge, 8, q != p);
            let layout = Layout::from_size_align(huge, 8).unwrap();
            st.settle(Held::Raw(RawBlock { ptr: q, layout }));
        }
    } else {
        st.t.calls[C_RUST_ALLOC] += 1;
        st.t.calls[je_index(JeEntry::Malloc)] += 1;
        st.t.unexpected += 1;
    }

    // Some blocks go to the next thread, which frees them.
    if i % HANDOFF_EVERY == 0 {
        let mut out = shared.slots[idx].out.lock().unwrap();
        if out.len() < HANDOFF_MAX {
            let n = st.rng.range(24, 4000);
            let b = vec![1u8; n].into_boxed_slice();
            st.alloc(n, 1);
            out.push(Held::Bytes(b));
        }
    }
}

fn worker(idx: usize, nthreads: usize, niters: usize, baseline: bool, shared: Arc<Shared>) -> Totals {
    let mut st = State {
        t: Totals::ZERO,
        rng: Rng(0x6d656d73636f7065u64.wrapping_mul(idx as u64 + 1)),
        // In both modes: the live set's storage (never freed).
        live: Vec::with_capacity(LIVE_CAP),
        delay: Default::default(),
        delay_next: 0,
    };

    while !shared.gate.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    if !baseline {
        for i in 0..niters {
            one_iteration(&mut st, &shared, idx, i);
        }
        for i in 0..DELAY_SLOTS {
            if let Some(h) = st.delay[i].take() {
                st.release(h);
            }
        }
    }

    // Publish our handoff blocks, then free those of the previous thread.
    shared.slots[idx].ready.store(true, Ordering::Release);
    let prev = (idx + nthreads - 1) % nthreads;
    while !shared.slots[prev].ready.load(Ordering::Acquire) {
        std::thread::yield_now();
    }
    {
        let mut out = shared.slots[prev].out.lock().unwrap();
        for h in out.drain(..) {
            st.release(h);
        }
    }

    for h in &st.live {
        st.t.live_count += 1;
        st.t.live_bytes += h.layout().0 as u64;
    }
    std::mem::forget(std::mem::take(&mut st.live));
    st.t
}

fn usage(why: &str) -> ! {
    let mut l = Line::new();
    let _ = write!(
        l,
        "ra_jemalloc: {why}\nusage: ra_jemalloc [--threads T] [--iters N] [--baseline] [--wait-go] [--hold] [--stats]\n"
    );
    l.emit(2);
    exit_now(2)
}

fn parse(v: Option<&str>, lo: usize, hi: usize, what: &str) -> usize {
    match v.and_then(|s| s.parse::<usize>().ok()) {
        Some(n) if n >= lo && n <= hi => n,
        _ => usage(what),
    }
}

fn main() {
    let argv = Argv::read();
    let (mut nthreads, mut niters) = (4usize, 200usize);
    let (mut baseline, mut wait_go, mut hold, mut stats) = (false, false, false, false);
    let mut it = argv.args();
    while let Some(a) = it.next() {
        match a {
            "--threads" => nthreads = parse(it.next(), 1, MAX_THREADS, "--threads needs 1..64"),
            "--iters" => niters = parse(it.next(), 0, MAX_ITERS, "--iters needs 0..100000"),
            "--baseline" => baseline = true,
            "--wait-go" => wait_go = true,
            "--hold" => hold = true,
            "--stats" => stats = true,
            _ => usage("unknown argument"),
        }
    }

    if wait_go {
        write_all(1, b"WAITING\n");
        wait_line();
    }

    let shared = Arc::new(Shared {
        slots: (0..nthreads)
            .map(|_| Slot { out: Mutex::new(Vec::with_capacity(HANDOFF_MAX)), ready: AtomicBool::new(false) })
            .collect(),
        gate: AtomicBool::new(false),
    });
    let mut handles = Vec::with_capacity(nthreads);
    for idx in 0..nthreads {
        let shared = shared.clone();
        handles.push(
            std::thread::Builder::new()
                .spawn(move || worker(idx, nthreads, niters, baseline, shared))
                .unwrap_or_else(|_| usage("cannot spawn a thread")),
        );
    }
    shared.gate.store(true, Ordering::Release);
    let mut t = Totals::ZERO;
    for h in handles {
        match h.join() {
            Ok(w) => t.add(&w),
            Err(_) => usage("a worker panicked"),
        }
    }

    // The live set is counted from the blocks actually held; it must
    // agree with the running counters.
    if t.live_count != t.alloc_count - t.free_count || t.live_bytes != t.alloc_bytes - t.free_bytes {
        let mut l = Line::new();
        let _ = writeln!(l, "ra_jemalloc: internal error: live set does not match the counters");
        l.emit(2);
        exit_now(1);
    }

    let mut l = Line::new();
    if stats {
        let _ = writeln!(
            l,
            "STATS moved={} in_place={} failed_as_expected={} unexpected={}",
            t.moved, t.in_place, t.failed_as_expected, t.unexpected
        );
        let _ = write!(l, "CALLS");
        for (name, n) in CALL_NAMES.iter().zip(t.calls.iter()) {
            if *n != 0 {
                let _ = write!(l, " {name}={n}");
            }
        }
        let _ = writeln!(l);
        l.emit(2);
    }
    let _ = writeln!(
        l,
        "TRUTH {{\"alloc_count\":{},\"free_count\":{},\"alloc_bytes\":{},\"free_bytes\":{},\"live_count\":{},\"live_bytes\":{}}}",
        t.alloc_count, t.free_count, t.alloc_bytes, t.free_bytes, t.live_count, t.live_bytes
    );
    l.emit(2);

    if hold {
        write_all(1, b"READY\n");
        wait_line();
    }
    exit_now(0)
}
