//! tk_abort --sleepers K --workers M [--racers R]: K tasks sleep "forever"
//! and get aborted; M tasks do a small job and complete normally; R tasks
//! (multi_thread only) are aborted while their first poll runs, so tokio
//! cancels them at the end of that same poll.
use std::future::{poll_fn, Future};
use std::hint::black_box;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tkcommon::{arrive_when_pending, ready, start, truth, Args, Count, Rt};

/// Spins inside its first poll until the main task has called abort() on
/// it, then returns Pending: abort() lands on a running task, and the poll
/// that began without CANCELLED ends by cancelling it.
async fn racer(in_poll: Arc<Count>, aborted: Arc<AtomicBool>) {
    let mut nap = pin!(tokio::time::sleep(Duration::from_secs(1_000_000)));
    let mut first = true;
    poll_fn(|cx| {
        if first {
            first = false;
            in_poll.arrive();
            while !aborted.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        }
        nap.as_mut().poll(cx)
    })
    .await
}

fn main() {
    let args = Args::parse("tk_abort", &["--sleepers", "--workers", "--racers"], &[]);
    let k: usize = args.get("--sleepers", 3);
    let m: usize = args.get("--workers", 3);
    let r: usize = args.get("--racers", 0);
    if r > 0 && args.rt() != Rt::Multi {
        eprintln!("tk_abort: --racers needs --rt mt (a racer spins in its poll)");
        std::process::exit(2);
    }
    let (rt, release) = start(&args);
    rt.block_on(async move {
        let asleep = Count::new(k);
        let sleepers: Vec<_> = (0..k)
            .map(|_| {
                let asleep = asleep.clone();
                tokio::spawn(async move {
                    let nap = tokio::time::sleep(Duration::from_secs(1_000_000));
                    arrive_when_pending(&asleep, nap).await;
                })
            })
            .collect();
        let workers: Vec<_> = (0..m as u64)
            .map(|i| {
                tokio::spawn(async move {
                    let v: Vec<u64> = (0..64).map(|x| x * i).collect();
                    black_box(v.iter().sum::<u64>())
                })
            })
            .collect();
        for w in workers {
            w.await.expect("worker task");
        }
        asleep.wait().await;
        for s in &sleepers {
            s.abort();
        }
        let mut aborted = 0;
        for s in sleepers {
            match s.await {
                Err(e) if e.is_cancelled() => aborted += 1,
                other => panic!("sleeper not cancelled: {other:?}"),
            }
        }
        assert_eq!(aborted, k);
        // One racer at a time: a second one could wait behind the first
        // on the same worker, which spins until its abort.
        for _ in 0..r {
            let in_poll = Count::new(1);
            let flag = Arc::new(AtomicBool::new(false));
            let h = tokio::spawn(racer(in_poll.clone(), flag.clone()));
            in_poll.wait().await;
            h.abort();
            flag.store(true, Ordering::SeqCst);
            match h.await {
                Err(e) if e.is_cancelled() => aborted += 1,
                other => panic!("racer not cancelled: {other:?}"),
            }
        }
        assert_eq!(aborted, k + r);
        truth(&format!(r#"{{"aborted":{aborted},"completed":{m}}}"#));
        ready();
        let _ = release.await;
    });
}
