//! tk_bigfuture --size BYTES: one task keeps a [u8; BYTES] array alive
//! across an await, so the array is part of the task's future (its Cell),
//! not a separate heap allocation. A small task is spawned for contrast.
//! BYTES is a const generic: one of 1024, 4096, 16384, 65536 (default),
//! 262144.
use std::hint::black_box;
use std::mem::size_of_val;
use std::sync::Arc;
use tokio::sync::oneshot;
use tkcommon::{arrive_when_pending, ready, start, truth, Args, Count};

async fn big<const N: usize>(go: oneshot::Receiver<()>, polled: Arc<Count>) -> u8 {
    let mut array = [0x5au8; N];
    black_box(&mut array); // touched before the await ...
    let _ = arrive_when_pending(&polled, go).await;
    black_box(&mut array); // ... and after: it lives across the await
    array[N - 1]
}

async fn small(go: oneshot::Receiver<()>, polled: Arc<Count>) -> u8 {
    let _ = arrive_when_pending(&polled, go).await;
    1
}

fn run<const N: usize>(args: &Args) {
    let (rt, release) = start(args);
    rt.block_on(async move {
        let polled = Count::new(2);
        let (big_tx, big_rx) = oneshot::channel();
        let (small_tx, small_rx) = oneshot::channel();
        let big_fut = big::<N>(big_rx, polled.clone());
        let small_fut = small(small_rx, polled.clone());
        let (big_size, small_size) = (size_of_val(&big_fut), size_of_val(&small_fut));
        let big_task = tokio::spawn(big_fut);
        let small_task = tokio::spawn(small_fut);
        polled.wait().await;
        truth(&format!(
            r#"{{"array":{N},"big_future_size":{big_size},"small_future_size":{small_size}}}"#
        ));
        ready();
        let _ = release.await;
        let _ = big_tx.send(());
        let _ = small_tx.send(());
        assert_eq!(big_task.await.expect("big task"), 0x5a);
        assert_eq!(small_task.await.expect("small task"), 1);
    });
}

fn main() {
    let args = Args::parse("tk_bigfuture", &["--size"], &[]);
    match args.get::<usize>("--size", 65536) {
        1024 => run::<1024>(&args),
        4096 => run::<4096>(&args),
        16384 => run::<16384>(&args),
        65536 => run::<65536>(&args),
        262144 => run::<262144>(&args),
        s => {
            eprintln!("tk_bigfuture: --size must be 1024, 4096, 16384, 65536 or 262144, not {s}");
            std::process::exit(2);
        }
    }
}
