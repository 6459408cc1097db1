//! tk_abort --sleepers K --workers M: K tasks sleep "forever" and get
//! aborted; M tasks do a small job and complete normally.
use std::hint::black_box;
use std::time::Duration;
use tkcommon::{arrive_when_pending, ready, start, truth, Args, Count};

fn main() {
    let args = Args::parse("tk_abort", &["--sleepers", "--workers"], &[]);
    let k: usize = args.get("--sleepers", 3);
    let m: usize = args.get("--workers", 3);
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
        truth(&format!(r#"{{"aborted":{k},"completed":{m}}}"#));
        ready();
        let _ = release.await;
    });
}
