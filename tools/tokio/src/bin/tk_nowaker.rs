//! tk_nowaker: two tasks await a future that returns Pending without
//! keeping the waker (one detached, one whose JoinHandle is kept), plus one
//! normal task waiting on a oneshot that is fired at the end.
use tkcommon::{arrive_when_pending, ready, start, truth, Args, Count, NoWaker};

fn main() {
    let args = Args::parse("tk_nowaker", &[], &[]);
    let (rt, release) = start(&args);
    rt.block_on(async move {
        let lost = Count::new(2);
        let normal_pending = Count::new(1);
        // Lost task #1: JoinHandle dropped right away (detached).
        drop(tokio::spawn(NoWaker::new(lost.clone())));
        // Lost task #2: JoinHandle kept until exit (never awaited).
        let kept = tokio::spawn(NoWaker::new(lost.clone()));
        // Normal task: has a waker (the oneshot's), finishes on release.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let np = normal_pending.clone();
        let normal = tokio::spawn(async move { arrive_when_pending(&np, rx).await.is_ok() });
        lost.wait().await;
        normal_pending.wait().await;
        truth(r#"{"nowaker":2}"#);
        ready();
        let _ = release.await;
        let _ = tx.send(());
        assert!(normal.await.expect("normal task"));
        drop(kept); // both lost tasks are still pending; runtime shutdown drops them
    });
}
