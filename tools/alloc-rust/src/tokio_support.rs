//! The protocol of tools/tokio's programs (tools/tokio/README.md), for
//! ra_tokio_jemalloc: `--rt mt|ct`, `--wait-go` (WAITING on stdout, wait
//! for a stdin line), `TRUTH {json}` on stderr then `READY` on stdout once
//! every task is really pending, then one stdin line (or EOF) releases the
//! scenario. A small copy of tools/tokio/src/lib.rs, so that this crate
//! does not build tools/tokio's dependencies (hyper).

use std::future::{poll_fn, Future};
use std::io::{BufRead, Write};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::runtime::{Builder, Runtime};
use tokio::sync::{oneshot, Notify, Semaphore};

/// `--rt mt`: multi_thread with 2 workers; `--rt ct`: current_thread.
pub fn runtime(multi: bool) -> Runtime {
    let mut b = if multi {
        let mut b = Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        Builder::new_current_thread()
    };
    b.enable_all().build().expect("building tokio runtime")
}

fn read_line() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// One line on stdout, flushed.
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// `TRUTH {json}` on stderr.
pub fn truth(json: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "TRUTH {json}");
    let _ = err.flush();
}

/// Build the runtime, honour `--wait-go`, start the stdin reader thread
/// (a plain std thread: no tokio task of its own). The receiver resolves
/// on the release line; with `forever`, never.
pub fn start(multi: bool, wait_go: bool, forever: bool) -> (Runtime, oneshot::Receiver<()>) {
    let rt = runtime(multi);
    if wait_go {
        say("WAITING");
        read_line();
    }
    let (tx, rx) = oneshot::channel();
    if forever {
        std::mem::forget(tx);
        return (rt, rx);
    }
    std::thread::Builder::new()
        .name("stdin-release".into())
        .spawn(move || {
            read_line();
            let _ = tx.send(());
        })
        .expect("spawning stdin thread");
    (rt, rx)
}

/// Counts arrivals; `wait()` resolves once `target` arrivals happened.
pub struct Count {
    n: AtomicUsize,
    target: usize,
    notify: Notify,
}

impl Count {
    pub fn new(target: usize) -> Arc<Count> {
        Arc::new(Count { n: AtomicUsize::new(0), target, notify: Notify::new() })
    }

    pub fn arrive(&self) {
        if self.n.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            self.notify.notify_one();
        }
    }

    pub async fn wait(&self) {
        while self.n.load(Ordering::SeqCst) < self.target {
            self.notify.notified().await;
        }
    }
}

/// Many tasks wait on it; `open()` releases them all (a closed semaphore:
/// no lost wake-ups, no allocation per waiter).
pub struct Gate(Semaphore);

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate(Semaphore::new(0)))
    }

    pub async fn wait(&self) {
        let _ = self.0.acquire().await;
    }

    pub fn open(&self) {
        self.0.close();
    }
}

/// Poll `fut`; the first time it is pending, count one arrival: so
/// `count.wait()` means every task is really pending (waker registered).
pub async fn arrive_when_pending<F: Future>(count: &Count, fut: F) -> F::Output {
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
