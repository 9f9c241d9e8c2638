//! 100 000 cleanups run at shutdown: 50 000 guards held by a thread that
//! never returns (so the drain runs them) and 50 000 finalizers. Prints the
//! drain's time beside the time to call as many boxed closures in a loop,
//! and the CPU time the drain took on its thread: a drain that was
//! preempted takes longer than its CPU time, one on a slower CPU does not.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

const EACH: usize = 50_000;
static RAN: AtomicU64 = AtomicU64::new(0);
static START: Mutex<Option<(Instant, u64, std::thread::ThreadId)>> = Mutex::new(None);

/// The CPU time of the calling thread, in µs.
fn thread_cpu_us() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes the `timespec` it is given, which
    // lives for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000
}

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
        let (started, cpu, thread) = START.lock().unwrap().unwrap();
        let drained = started.elapsed();
        // `main`'s thread drains after its return; were it another, its
        // CPU time would not be the drain's: none said.
        let cpu = if std::thread::current().id() == thread {
            format!(" cpu_us={}", thread_cpu_us() - cpu)
        } else {
            String::new()
        };
        println!(
            "drain_us={} baseline_us={} ran={}{cpu}",
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
    let thread = std::thread::current().id();
    *START.lock().unwrap() = Some((Instant::now(), thread_cpu_us(), thread));
}
