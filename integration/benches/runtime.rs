//! The per-call costs of the runtime, each beside the baseline it is judged
//! against, measured side by side in one run:
//!
//! ```text
//! cargo bench -p cleanup-integration --bench runtime
//! ```
//!
//! See BENCHMARKS.md for the budgets and the figures.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use divan::{black_box, Bencher};

fn main() {
    divan::main();
}

static FLAG: AtomicBool = AtomicBool::new(false);
static LIST: Mutex<Vec<usize>> = Mutex::new(Vec::new());

/// Baseline for `checkpoint`: one relaxed atomic load.
#[divan::bench]
fn atomic_load() -> bool {
    black_box(&FLAG).load(Ordering::Relaxed)
}

#[divan::bench]
fn checkpoint() -> bool {
    cleanup::checkpoint().is_ok()
}

#[divan::bench]
fn is_shutting_down() -> bool {
    cleanup::is_shutting_down()
}

/// Baseline for `guard`: the closure alone, boxed, called and freed.
#[divan::bench(threads = [1, 2], sample_size = 1000)]
fn boxed_closure(bencher: Bencher) {
    bencher.with_inputs(|| 7usize).bench_local_values(|x| {
        let f: Box<dyn FnOnce() + Send> = Box::new(move || {
            black_box(x);
        });
        black_box(f)();
    });
}

/// Baseline for a registry: a global `Mutex<Vec>` push and pop.
#[divan::bench(threads = [1, 2])]
fn global_mutex_push_pop() {
    LIST.lock().unwrap().push(1);
    black_box(LIST.lock().unwrap().pop());
}

/// `guard(f)` created and dropped (the closure runs), with a capturing closure.
#[divan::bench(threads = [1, 2], sample_size = 1000)]
fn guard_create_drop(bencher: Bencher) {
    bencher.with_inputs(|| 7usize).bench_local_values(|x| {
        drop(cleanup::guard(move || {
            black_box(x);
        }));
    });
}

/// `on_exit(f)` registered and cancelled (no budget; a global list).
#[divan::bench]
fn on_exit_register_cancel(bencher: Bencher) {
    bencher.with_inputs(|| 7usize).bench_local_values(|x| {
        cleanup::on_exit(move || {
            black_box(x);
        })
        .cancel();
    });
}
