//! 100 000 cleanups run at shutdown: 50 000 guards held by a thread that
//! never returns (so the drain runs them) and 50 000 finalizers. Prints the
//! drain's time beside the time to call as many boxed closures in a loop.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

const EACH: usize = 50_000;
static RAN: AtomicU64 = AtomicU64::new(0);
static START: Mutex<Option<Instant>> = Mutex::new(None);

/// The work each cleanup (and each baseline closure) does.
fn count() {
    RAN.fetch_add(1, Ordering::Relaxed);
}

#[cleanup::graceful_main(quiet)]
fn main() {
    // Baseline: the same number of boxed closures, called in a loop.
    let closures: Vec<Box<dyn FnOnce() + Send>> = (0..2 * EACH)
        .map(|_| Box::new(count) as Box<dyn FnOnce() + Send>)
        .collect();
    let started = Instant::now();
    closures.into_iter().for_each(|f| f());
    let baseline = started.elapsed();

    // Registered first, so it runs last and sees the whole drain.
    let _ = cleanup::on_exit(move || {
        let drained = START.lock().unwrap().unwrap().elapsed();
        println!(
            "drain_us={} baseline_us={} ran={}",
            drained.as_micros(),
            baseline.as_micros(),
            RAN.load(Ordering::Relaxed)
        );
    });
    for _ in 0..EACH {
        let _ = cleanup::on_exit(count);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let guards: Vec<cleanup::Guard> = (0..EACH).map(|_| cleanup::guard(count)).collect();
        tx.send(()).unwrap();
        std::thread::park();
        drop(guards);
    });
    rx.recv().unwrap();
    RAN.store(0, Ordering::Relaxed);
    *START.lock().unwrap() = Some(Instant::now());
}
