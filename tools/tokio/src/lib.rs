//! Shared plumbing for the memscope tokio target programs.
//!
//! Protocol every program follows (see README.md):
//!   * `--rt mt|ct`   multi_thread runtime with 2 workers, or current_thread.
//!   * `--wait-go`    after the runtime is built, print `WAITING` and block
//!                    until one line (or EOF) arrives on stdin, then start.
//!   * after the scenario is set up: `TRUTH {json}` on stderr, then `READY`
//!     on stdout; then (unless the program exits by itself) wait for one
//!     line (or EOF) on stdin, finish the scenario and shut the runtime down.
//!
//! Nothing in here allocates inside a spawned task except where a program
//! asks for it, so a tracer's per-task numbers match the TRUTH line.

use std::future::{poll_fn, Future};
use std::io::{BufRead, Write};
use std::pin::{pin, Pin};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::runtime::{Builder, Runtime};
use tokio::sync::{oneshot, Notify, Semaphore};

/// Scheduler flavour selected with `--rt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    /// `--rt mt`: multi_thread scheduler, 2 worker threads.
    Multi,
    /// `--rt ct`: current_thread scheduler.
    Current,
}

impl Rt {
    pub fn name(self) -> &'static str {
        match self {
            Rt::Multi => "mt",
            Rt::Current => "ct",
        }
    }
}

/// Minimal `--key value` / `--flag` parser (no clap: keeps the build small).
pub struct Args {
    prog: &'static str,
    values: Vec<(String, String)>,
    flags: Vec<String>,
}

impl Args {
    /// Parse argv. `value_opts` take one argument, `flag_opts` take none.
    /// `--rt` and `--wait-go` are always accepted. Exits with status 2 on
    /// anything unknown.
    pub fn parse(prog: &'static str, value_opts: &[&str], flag_opts: &[&str]) -> Args {
        let mut args = Args { prog, values: Vec::new(), flags: Vec::new() };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            if a == "--rt" || value_opts.contains(&a.as_str()) {
                match it.next() {
                    Some(v) => args.values.push((a, v)),
                    None => args.usage(&format!("{a} needs a value"), value_opts, flag_opts),
                }
            } else if a == "--wait-go" || a == "--forever" || flag_opts.contains(&a.as_str()) {
                args.flags.push(a);
            } else {
                args.usage(&format!("unknown argument {a}"), value_opts, flag_opts);
            }
        }
        if let Some(rt) = args.raw("--rt") {
            if rt != "mt" && rt != "ct" {
                args.usage("--rt must be mt or ct", value_opts, flag_opts);
            }
        }
        args
    }

    fn usage(&self, msg: &str, value_opts: &[&str], flag_opts: &[&str]) -> ! {
        let mut u = format!("usage: {} [--rt mt|ct] [--wait-go] [--forever]", self.prog);
        for v in value_opts {
            u.push_str(&format!(" [{v} N]"));
        }
        for f in flag_opts {
            u.push_str(&format!(" [{f}]"));
        }
        eprintln!("{}: {msg}\n{u}", self.prog);
        std::process::exit(2);
    }

    fn raw(&self, key: &str) -> Option<&str> {
        self.values.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Value of `--key`, or `default` when absent. Exits 2 if unparsable.
    pub fn get<T: FromStr>(&self, key: &str, default: T) -> T {
        match self.raw(key) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("{}: bad value for {key}: {v}", self.prog);
                std::process::exit(2);
            }),
        }
    }

    /// String value of `--key`, or `default`.
    pub fn get_str<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.raw(key).unwrap_or(default)
    }

    pub fn flag(&self, key: &str) -> bool {
        self.flags.iter().any(|f| f == key)
    }

    /// `--rt`, default `mt`.
    pub fn rt(&self) -> Rt {
        match self.raw("--rt") {
            Some("ct") => Rt::Current,
            _ => Rt::Multi,
        }
    }
}

/// Build the runtime for `rt` (timers and IO enabled).
pub fn runtime(rt: Rt) -> Runtime {
    let mut b = match rt {
        Rt::Multi => {
            let mut b = Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
        Rt::Current => Builder::new_current_thread(),
    };
    b.enable_all().build().expect("building tokio runtime")
}

/// Read one line from stdin; EOF counts as a line.
fn read_line() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

/// Print one line on stdout and flush it (the test harness reads it).
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Print `READY` on stdout.
pub fn ready() {
    say("READY");
}

/// Print the ground truth line `TRUTH {json}` on stderr.
pub fn truth(json: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "TRUTH {json}");
    let _ = err.flush();
}

/// Common start-up: build the runtime, honour `--wait-go`, and start the
/// stdin reader thread. The returned receiver resolves when the "release"
/// line (or EOF) arrives on stdin; with `--forever`, never (stdin is not
/// read: the program runs until it is killed).
///
/// The reader is a plain std thread (not `spawn_blocking`/`tokio::io::stdin`)
/// so it adds no tokio task of its own; it is started before the scenario so
/// that nothing is allocated after `READY` except by the scenario itself.
pub fn start(args: &Args) -> (Runtime, oneshot::Receiver<()>) {
    let rt = runtime(args.rt());
    if args.flag("--wait-go") {
        say("WAITING");
        read_line();
    }
    let (tx, rx) = oneshot::channel();
    if args.flag("--forever") {
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
/// No lost wake-ups: `notify_one` stores a permit if nobody waits yet.
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

    pub fn get(&self) -> usize {
        self.n.load(Ordering::SeqCst)
    }

    pub async fn wait(&self) {
        while self.n.load(Ordering::SeqCst) < self.target {
            self.notify.notified().await;
        }
    }
}

/// A gate many tasks can wait on; `open()` releases all of them at once
/// (a closed semaphore: no lost wake-ups, no allocation per waiter).
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

/// Poll `fut`; the first time it returns `Pending`, count one arrival on
/// `count`. So `count.wait()` means "every task got as far as its await and
/// is really pending (waker registered)", not just "started".
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

/// A future that is pending forever and never stores or clones the waker,
/// so the task awaiting it can never be woken again. Its first poll counts
/// one arrival on `polled`.
pub struct NoWaker {
    polled: Arc<Count>,
    seen: bool,
}

impl NoWaker {
    pub fn new(polled: Arc<Count>) -> NoWaker {
        NoWaker { polled, seen: false }
    }
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
