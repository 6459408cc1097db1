//! tk_matrix: one scenario that covers every task outcome memscope reports,
//! built unchanged against each tokio version of the matrix (see README.md).
//!
//! Only APIs present in tokio 1.24.2 .. 1.53.1 are used: `runtime::Builder`
//! (no macros), `spawn`, `JoinHandle::{abort, is_finished}`, `sync::{oneshot,
//! Notify}`, `time::sleep`, `task::yield_now`. No sleeps are used for
//! synchronisation: every "has been polled" or "has been dropped" fact that
//! READY relies on is an acknowledgement sent by the task itself.
//!
//! Protocol: `TRUTH {json}` on stderr, then `READY` on stdout (flushed), then
//! wait for one stdin line (or EOF), finish, shut the runtime down, exit 0.

use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::io::{BufRead, Write};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

/// tokio version this binary was linked with (read from the crate's
/// Cargo.lock by build.rs).
const TOKIO: &str = env!("TOKIO_VERSION");
/// "legacy" or "v0" (from the rustflags the crate was built with).
const MANGLING: &str = env!("TK_MANGLING");

/// Array lengths of the four sized futures. With the 96 bytes the rest of
/// their state machine takes (the same for every tokio here, rustc 1.95) the
/// futures are 184, 1120, 20120 and 100120 bytes: MEDIUM stays below tokio's
/// 2048-byte debug boxing threshold, LARGE and HUGE are above the 16384-byte
/// release one (tokio >= 1.41 boxes them at spawn).
const SMALL: usize = 88;
const MEDIUM: usize = 1024;
const LARGE: usize = 20_024;
const HUGE: usize = 100_024;

/// The leak demo: LEAK tasks from one spawn site, LEAK_QUICK of which
/// complete on their first poll; the others sleep and get aborted.
const LEAK: usize = 10;
const LEAK_QUICK: usize = 4;
/// Tasks pending on a oneshot whose sender outlives the runtime.
const SHUTDOWN: usize = 3;
/// Short tasks that complete before READY; each mallocs and frees
/// QUICK_ALLOC bytes (a Vec<u8> with exactly that capacity).
const QUICK: usize = 20;
const QUICK_ALLOC: usize = 64;
const WORKERS: usize = 2;

// ---------------------------------------------------------------- plumbing

fn usage(msg: &str) -> ! {
    eprintln!("tk_matrix: {msg}\nusage: tk_matrix [--rt mt|ct] [--wait-go]");
    std::process::exit(2);
}

/// Read one line from stdin; EOF counts as a line.
fn read_line() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Counts arrivals; `wait()` resolves once `target` arrivals happened.
/// `notify_one` stores a permit if nobody waits yet: no lost wake-ups.
struct Count {
    n: AtomicUsize,
    target: usize,
    notify: Notify,
}

impl Count {
    fn new(target: usize) -> Arc<Count> {
        Arc::new(Count { n: AtomicUsize::new(0), target, notify: Notify::new() })
    }

    fn arrive(&self) {
        if self.n.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            self.notify.notify_one();
        }
    }

    async fn wait(&self) {
        while self.n.load(Ordering::SeqCst) < self.target {
            self.notify.notified().await;
        }
    }
}

/// Poll `fut`; the first time it returns `Pending` (waker registered), count
/// one arrival on `count`.
async fn arrive_when_pending<F: Future>(count: &Count, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut signalled = false;
    poll_fn(|cx| {
        let r = fut.as_mut().poll(cx);
        if r.is_pending() && !signalled {
            signalled = true;
            count.arrive();
        }
        r
    })
    .await
}

/// Counts one arrival on `Count` when dropped (used to see an abort's drop
/// of the future).
struct ArriveOnDrop(Arc<Count>);

impl Drop for ArriveOnDrop {
    fn drop(&mut self) {
        self.0.arrive();
    }
}

/// A future that is pending forever and never stores or clones the waker, so
/// the task awaiting it can never be woken again (as in tk_nowaker).
struct NoWaker {
    polled: Arc<Count>,
    seen: bool,
}

impl Future for NoWaker {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if !self.seen {
            self.seen = true;
            self.polled.arrive();
        }
        Poll::Pending // waker deliberately dropped
    }
}

/// True when this tokio boxes a future of `size` bytes at spawn (tokio >=
/// 1.41 in release builds: futures larger than 16384 bytes), so the task's
/// future is a `Pin<Box<F>>` and `F` is a separate allocation.
fn boxed_at_spawn(size: usize) -> bool {
    let mut it = TOKIO.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    (major, minor) >= (1, 41) && size > 16384
}

/// One spawn site's ground truth.
struct Site {
    site: &'static str,
    tasks: usize,
    size: usize,
    align: usize,
    alloc: usize,
    completed: usize,
    released: usize,
    aborted: usize,
    nowaker: usize,
    shutdown: usize,
}

impl Site {
    fn json(&self) -> String {
        format!(
            concat!(
                r#"{{"site":"{}","tasks":{},"size":{},"align":{},"boxed":{},"alloc":{},"#,
                r#""completed":{},"released":{},"aborted":{},"nowaker":{},"shutdown":{}}}"#
            ),
            self.site,
            self.tasks,
            self.size,
            self.align,
            boxed_at_spawn(self.size),
            self.alloc,
            self.completed,
            self.released,
            self.aborted,
            self.nowaker,
            self.shutdown
        )
    }
}

/// Measure the future value that is about to be spawned, then spawn exactly
/// that value. A macro, not a function: the spawn must stay in the caller's
/// frame so that the caller is the spawn site.
macro_rules! measure_and_spawn {
    ($fut:expr) => {{
        let fut = $fut;
        let size = std::mem::size_of_val(&fut);
        let align = std::mem::align_of_val(&fut);
        (tokio::spawn(fut), size, align)
    }};
}

// ------------------------------------------------------------ the futures

/// Holds a `[u8; N]` across its await, so the array is part of the state
/// machine (inline in the task's Cell, or in the box tokio >= 1.41 makes).
async fn sized_task<const N: usize>(go: oneshot::Receiver<()>, polled: Arc<Count>) -> u8 {
    let mut array = [0x5au8; N];
    black_box(&mut array); // touched before the await ...
    let _ = arrive_when_pending(&polled, go).await;
    black_box(&mut array); // ... and after it: it lives across the await
    array[N - 1]
}

/// Holds a `tokio::time::Sleep` inline (128-byte aligned) and a oneshot
/// receiver; completes when the receiver does.
async fn sleeper_task(go: oneshot::Receiver<()>, polled: Arc<Count>) -> bool {
    let mut nap = pin!(tokio::time::sleep(Duration::from_secs(100_000)));
    let mut go = go;
    let mut signalled = false;
    poll_fn(|cx| {
        if let Poll::Ready(r) = Pin::new(&mut go).poll(cx) {
            return Poll::Ready(r.is_ok());
        }
        if nap.as_mut().poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        if !signalled {
            signalled = true;
            polled.arrive();
        }
        Poll::Pending
    })
    .await
}

/// The leak demo's task: quick ones complete on their first poll; the others
/// sleep for 10^6 s (a `Sleep` inline: 128-byte aligned) until aborted. The
/// guard counts the drop of the future that the abort causes.
async fn leak_task(i: usize, quick: bool, asleep: Arc<Count>, dropped: Arc<Count>) -> usize {
    if quick {
        return black_box(i);
    }
    let _guard = ArriveOnDrop(dropped);
    arrive_when_pending(&asleep, tokio::time::sleep(Duration::from_secs(1_000_000))).await;
    i
}

/// Pending on a oneshot whose sender outlives the runtime: dropped by the
/// runtime's shutdown.
async fn shutdown_task(rx: oneshot::Receiver<()>, polled: Arc<Count>) -> bool {
    arrive_when_pending(&polled, rx).await.is_ok()
}

/// Allocates and frees exactly QUICK_ALLOC bytes, completes on first poll.
async fn quick_task(i: usize) -> usize {
    let mut v: Vec<u8> = Vec::with_capacity(QUICK_ALLOC);
    v.extend((0..QUICK_ALLOC).map(|x| (x ^ i) as u8));
    black_box(&mut v);
    v.iter().map(|&b| b as usize).sum()
}

// ------------------------------------------------------------ spawn sites

type Spawned<T> = (JoinHandle<T>, usize, usize);

#[inline(never)]
fn spawn_small(go: oneshot::Receiver<()>, polled: Arc<Count>) -> Spawned<u8> {
    measure_and_spawn!(sized_task::<SMALL>(go, polled))
}

#[inline(never)]
fn spawn_medium(go: oneshot::Receiver<()>, polled: Arc<Count>) -> Spawned<u8> {
    measure_and_spawn!(sized_task::<MEDIUM>(go, polled))
}

#[inline(never)]
fn spawn_large(go: oneshot::Receiver<()>, polled: Arc<Count>) -> Spawned<u8> {
    measure_and_spawn!(sized_task::<LARGE>(go, polled))
}

#[inline(never)]
fn spawn_huge(go: oneshot::Receiver<()>, polled: Arc<Count>) -> Spawned<u8> {
    measure_and_spawn!(sized_task::<HUGE>(go, polled))
}

#[inline(never)]
fn spawn_sleeper(go: oneshot::Receiver<()>, polled: Arc<Count>) -> Spawned<bool> {
    measure_and_spawn!(sleeper_task(go, polled))
}

#[inline(never)]
fn spawn_nowaker(polled: Arc<Count>) -> Spawned<()> {
    measure_and_spawn!(NoWaker { polled, seen: false })
}

/// Spawns the LEAK tasks; returns (quick handles, sleeper handles, size, align).
#[inline(never)]
fn spawn_leak(
    asleep: &Arc<Count>,
    dropped: &Arc<Count>,
) -> (Vec<JoinHandle<usize>>, Vec<JoinHandle<usize>>, usize, usize) {
    let (mut quick, mut sleepers) = (Vec::with_capacity(LEAK), Vec::with_capacity(LEAK));
    let (mut size, mut align) = (0, 0);
    for i in 0..LEAK {
        let is_quick = i % 3 == 0; // 0, 3, 6, 9
        let (h, s, a) = measure_and_spawn!(leak_task(i, is_quick, asleep.clone(), dropped.clone()));
        (size, align) = (s, a);
        if is_quick {
            quick.push(h);
        } else {
            sleepers.push(h);
        }
    }
    (quick, sleepers, size, align)
}

#[inline(never)]
fn spawn_shutdown(rx: oneshot::Receiver<()>, polled: Arc<Count>) -> Spawned<bool> {
    measure_and_spawn!(shutdown_task(rx, polled))
}

#[inline(never)]
fn spawn_quick(i: usize) -> Spawned<usize> {
    measure_and_spawn!(quick_task(i))
}

// ---------------------------------------------------------------- main

fn site(name: &'static str, tasks: usize, size: usize, align: usize) -> Site {
    Site {
        site: name,
        tasks,
        size,
        align,
        alloc: 0,
        completed: 0,
        released: 0,
        aborted: 0,
        nowaker: 0,
        shutdown: 0,
    }
}

fn main() {
    let mut rt_name = "mt";
    let mut wait_go = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rt" => match args.next().as_deref() {
                Some("mt") => rt_name = "mt",
                Some("ct") => rt_name = "ct",
                _ => usage("--rt must be mt or ct"),
            },
            "--wait-go" => wait_go = true,
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    let rt: Runtime = if rt_name == "mt" {
        let mut b = Builder::new_multi_thread();
        b.worker_threads(WORKERS);
        b.enable_time().build().expect("building tokio runtime")
    } else {
        Builder::new_current_thread().enable_time().build().expect("building tokio runtime")
    };
    if wait_go {
        say("WAITING");
        read_line();
    }
    // The release line is read by a plain std thread (no tokio task of its
    // own), started before the scenario.
    let (release_tx, release) = oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("stdin-release".into())
        .spawn(move || {
            read_line();
            let _ = release_tx.send(());
        })
        .expect("spawning stdin thread");

    // Senders of the shutdown tasks: created here so that they outlive the
    // runtime (dropped after `drop(rt)`).
    let (shutdown_txs, shutdown_rxs): (Vec<_>, Vec<_>) =
        (0..SHUTDOWN).map(|_| oneshot::channel::<()>()).unzip();

    rt.block_on(async move {
        let mut sites: Vec<Site> = Vec::new();

        // Sized futures + sleeper: pending until the release line.
        let sized_polled = Count::new(5);
        let mut go = Vec::new();
        let mut released: Vec<JoinHandle<u8>> = Vec::new();
        type SpawnSized = fn(oneshot::Receiver<()>, Arc<Count>) -> Spawned<u8>;
        let sized: [(&'static str, SpawnSized); 4] = [
            ("spawn_small", spawn_small),
            ("spawn_medium", spawn_medium),
            ("spawn_large", spawn_large),
            ("spawn_huge", spawn_huge),
        ];
        for (name, f) in sized {
            let (tx, rx) = oneshot::channel();
            let (h, size, align) = f(rx, sized_polled.clone());
            go.push(tx);
            released.push(h);
            let mut s = site(name, 1, size, align);
            s.released = 1;
            sites.push(s);
        }
        let (sleeper_tx, sleeper_rx) = oneshot::channel();
        let (sleeper, size, align) = spawn_sleeper(sleeper_rx, sized_polled.clone());
        let mut s = site("spawn_sleeper", 1, size, align);
        s.released = 1;
        sites.push(s);

        // Two no-waker tasks: one detached, one whose JoinHandle is kept but
        // never awaited.
        let lost = Count::new(2);
        let (detached, size, align) = spawn_nowaker(lost.clone());
        drop(detached);
        let (kept_nowaker, _, _) = spawn_nowaker(lost.clone());
        let mut s = site("spawn_nowaker", 2, size, align);
        s.nowaker = 2;
        sites.push(s);

        // The leak demo.
        let asleep = Count::new(LEAK - LEAK_QUICK);
        let dropped = Count::new(LEAK - LEAK_QUICK);
        let (quick_leak, sleepers, size, align) = spawn_leak(&asleep, &dropped);
        assert_eq!((quick_leak.len(), sleepers.len()), (LEAK_QUICK, LEAK - LEAK_QUICK));
        let mut s = site("spawn_leak", LEAK, size, align);
        s.completed = LEAK_QUICK;
        s.aborted = LEAK - LEAK_QUICK;
        sites.push(s);

        // Alive at shutdown, never aborted.
        let shutdown_polled = Count::new(SHUTDOWN);
        let mut shutdown_handles = Vec::new();
        let mut size_align = (0, 0);
        for rx in shutdown_rxs {
            let (h, size, align) = spawn_shutdown(rx, shutdown_polled.clone());
            shutdown_handles.push(h);
            size_align = (size, align);
        }
        let mut s = site("spawn_shutdown", SHUTDOWN, size_align.0, size_align.1);
        s.shutdown = SHUTDOWN;
        sites.push(s);

        // Short tasks that complete before READY.
        let mut quick = Vec::new();
        for i in 0..QUICK {
            let (h, size, align) = spawn_quick(i);
            quick.push(h);
            size_align = (size, align);
        }
        let mut s = site("spawn_quick", QUICK, size_align.0, size_align.1);
        s.alloc = QUICK_ALLOC;
        s.completed = QUICK;
        sites.push(s);

        // Wait: completions first, then every pending task's first poll.
        for h in quick {
            h.await.expect("quick task");
        }
        for h in quick_leak {
            h.await.expect("quick leak task");
        }
        sized_polled.wait().await;
        lost.wait().await;
        shutdown_polled.wait().await;
        asleep.wait().await;

        // Abort the 6 sleeping leak tasks; do not await them. Their futures
        // are dropped by the abort (acknowledged by their guards), then
        // tokio marks them complete; the JoinHandles stay alive (the cells
        // with them) until after the release line.
        for h in &sleepers {
            h.abort();
        }
        dropped.wait().await;
        while !sleepers.iter().all(|h| h.is_finished()) {
            tokio::task::yield_now().await;
        }

        let total: usize = sites.iter().map(|s| s.tasks).sum();
        let sum = |f: fn(&Site) -> usize| -> usize { sites.iter().map(f).sum() };
        let (completed, rel, aborted, nowaker, shutdown) = (
            sum(|s| s.completed),
            sum(|s| s.released),
            sum(|s| s.aborted),
            sum(|s| s.nowaker),
            sum(|s| s.shutdown),
        );
        assert_eq!(total, completed + rel + aborted + nowaker + shutdown);
        let json = format!(
            concat!(
                r#"{{"tokio":"{}","mangling":"{}","rt":"{}","workers":{},"user_tasks":{},"#,
                r#""completed":{},"released":{},"aborted":{},"nowaker":{},"shutdown":{},"#,
                r#""pending_at_ready":{},"sites":[{}]}}"#
            ),
            TOKIO,
            MANGLING,
            rt_name,
            if rt_name == "mt" { WORKERS } else { 0 },
            total,
            completed,
            rel,
            aborted,
            nowaker,
            shutdown,
            rel + nowaker + shutdown,
            sites.iter().map(Site::json).collect::<Vec<_>>().join(",")
        );
        {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "TRUTH {json}");
            let _ = err.flush();
        }
        say("READY");

        let _ = release.await;
        for tx in go {
            let _ = tx.send(());
        }
        let _ = sleeper_tx.send(());
        for h in released {
            assert_eq!(h.await.expect("sized task"), 0x5a);
        }
        assert!(sleeper.await.expect("sleeper task"));
        // The aborted, no-waker and shutdown tasks are left to the runtime:
        // their handles are dropped here, never awaited.
        drop(sleepers);
        drop(kept_nowaker);
        drop(shutdown_handles);
    });
    // Shutdown drops the 2 no-waker tasks and the SHUTDOWN tasks, whose
    // senders are still alive.
    drop(rt);
    drop(shutdown_txs);
}
