//! tk_blocked: one task blocks its worker thread in its first poll (a
//! synchronous wait on a std channel: the "blocking call in async code"
//! bug) until the release line. READY once it is blocked, so a snapshot
//! then finds a task in a poll that has not returned and allocated
//! nothing. Multi-thread runtime only (the main thread goes on).
//!
//! `--busy` adds, for stop tests, spawn_blocking work that runs until the
//! release line (a blocking-pool task in a poll all along) and a small task
//! spawned every 10 ms (polls and allocations going on all the time).
use std::sync::mpsc;
use std::time::Duration;
use tkcommon::{ready, start, truth, Args};

fn main() {
    let args = Args::parse("tk_blocked", &[], &["--busy"]);
    let busy = args.flag("--busy");
    let (rt, release) = start(&args);
    rt.block_on(async move {
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        if busy {
            tokio::task::spawn_blocking(move || {
                let _ = stop_rx.recv(); // until the release line
            });
            tokio::spawn(async {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    tokio::spawn(async { std::hint::black_box(vec![1u8; 100]) });
                }
            });
        }
        let (blocked_tx, blocked_rx) = tokio::sync::oneshot::channel::<()>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let h = tokio::spawn(async move {
            let _ = blocked_tx.send(());
            let _ = go_rx.recv(); // blocks this worker thread
            7u32
        });
        let _ = blocked_rx.await;
        truth(r#"{"blocked":1}"#);
        ready();
        let _ = release.await;
        let _ = stop_tx.send(());
        let _ = go_tx.send(());
        assert_eq!(h.await.expect("blocked task"), 7);
    });
}
