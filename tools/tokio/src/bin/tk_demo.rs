//! tk_demo: a ~3 second mixed workload for the README: worker tasks with
//! buffers, two aborted sleepers, one task stuck on a no-waker future and
//! one big future. Exits by itself (no stdin needed, except --wait-go).
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::time::sleep;
use tkcommon::{arrive_when_pending, ready, say, start, truth, Args, Count, NoWaker};

const WORKERS: usize = 4;
const WORKER_BUF: usize = 256 * 1024;
const BIG: usize = 64 * 1024;
const RUN: Duration = Duration::from_millis(3000);

async fn big_future(until: Instant) -> u8 {
    let mut array = [0x42u8; BIG];
    black_box(&mut array);
    tokio::time::sleep_until(until.into()).await;
    black_box(&mut array);
    array[BIG - 1]
}

// Each kind of task is spawned from its own function, kept out of line, so
// memscope's spawn sites name them even in this release build without
// debug info (inlined code would show up as its caller).
#[inline(never)]
fn spawn_worker(w: usize, end: Instant) -> tokio::task::JoinHandle<(usize, u32)> {
    tokio::spawn(async move {
        let mut rounds = 0u32;
        let mut keep: Vec<u8> = Vec::new();
        while Instant::now() < end {
            let mut buf = Vec::with_capacity(WORKER_BUF * (w + 1));
            buf.resize(WORKER_BUF * (w + 1), w as u8 | 1);
            keep = black_box(buf);
            rounds += 1;
            sleep(Duration::from_millis(100)).await;
        }
        (keep.len(), rounds)
    })
}

#[inline(never)]
fn spawn_sleeper(asleep: std::sync::Arc<Count>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let hoard = vec![9u8; 32 * 1024];
        arrive_when_pending(&asleep, sleep(Duration::from_secs(1_000_000))).await;
        black_box(hoard);
    })
}

#[inline(never)]
fn spawn_stuck(stuck: std::sync::Arc<Count>) {
    drop(tokio::spawn(NoWaker::new(stuck)));
}

#[inline(never)]
fn spawn_big(until: Instant) -> tokio::task::JoinHandle<u8> {
    tokio::spawn(big_future(until))
}

fn main() {
    let args = Args::parse("tk_demo", &[], &[]);
    let (rt, _release) = start(&args);
    let rt_name = args.rt().name();
    rt.block_on(async move {
        let t0 = Instant::now();
        let end = t0 + RUN;
        say(&format!("tk_demo: {rt_name} runtime, running {} ms", RUN.as_millis()));

        // Workers: every 100 ms allocate a fresh buffer and keep the last one.
        let workers: Vec<_> = (0..WORKERS).map(|w| spawn_worker(w, end)).collect();
        say(&format!("spawned {WORKERS} workers holding 256/512/768/1024 KiB buffers"));

        // Two sleepers, aborted after one second.
        let asleep = Count::new(2);
        let sleepers: Vec<_> = (0..2).map(|_| spawn_sleeper(asleep.clone())).collect();
        say("spawned 2 sleepers (32 KiB each), to be aborted at t=1s");

        // One task that can never be woken (detached).
        let stuck = Count::new(1);
        spawn_stuck(stuck.clone());
        say("spawned 1 task stuck on a future that drops its waker");

        // One big future: 64 KiB array held across a 2 s await.
        let big = spawn_big(t0 + Duration::from_millis(2000));
        say(&format!("spawned 1 task with a {BIG}-byte array in its future"));

        asleep.wait().await;
        stuck.wait().await;
        ready();

        sleep(Duration::from_millis(1000)).await;
        for s in &sleepers {
            s.abort();
        }
        let aborted = futures_aborted(sleepers).await;
        say(&format!("t={} ms: aborted {aborted} sleepers", t0.elapsed().as_millis()));

        big.await.expect("big task");
        say(&format!("t={} ms: big-future task finished", t0.elapsed().as_millis()));

        let mut rounds = 0;
        for w in workers {
            rounds += w.await.expect("worker").1;
        }
        say(&format!(
            "t={} ms: workers finished after {rounds} buffer rounds; the stuck task is dropped at shutdown",
            t0.elapsed().as_millis()
        ));
        truth(&format!(
            r#"{{"workers":{WORKERS},"worker_rounds":{rounds},"aborted":{aborted},"nowaker":1,"big_array":{BIG}}}"#
        ));
    });
}

async fn futures_aborted(handles: Vec<tokio::task::JoinHandle<()>>) -> usize {
    let mut n = 0;
    for h in handles {
        if matches!(h.await, Err(e) if e.is_cancelled()) {
            n += 1;
        }
    }
    n
}
