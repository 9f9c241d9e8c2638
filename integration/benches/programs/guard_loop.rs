//! `guard(f)` made and dropped in a loop, in a program under
//! `#[graceful_main]` (as users write them), beside the same closure boxed,
//! called and freed. Prints each loop's time per iteration, in ns.
//!
//! The two loops take turns, a slice at a time, so that a machine whose
//! load changes during the run weighs on both alike (one loop after the
//! other had either come out up to a tenth ahead on a busy machine).
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: u64 = 5_000_000;
/// Turns each loop takes.
const TURNS: u64 = 20;

fn guards(from: u64, to: u64) -> Duration {
    let started = Instant::now();
    for i in from..to {
        let x = black_box(i);
        drop(cleanup::guard(move || {
            black_box(x);
        }));
    }
    started.elapsed()
}

fn boxed(from: u64, to: u64) -> Duration {
    let started = Instant::now();
    for i in from..to {
        let x = black_box(i);
        let f: Box<dyn FnOnce() + Send> = Box::new(move || {
            black_box(x);
        });
        black_box(f)();
    }
    started.elapsed()
}

#[cleanup::graceful_main(quiet)]
fn main() {
    let (mut guard, mut boxed_time) = (Duration::ZERO, Duration::ZERO);
    let slice = ROUNDS / TURNS;
    for turn in 0..TURNS {
        let (from, to) = (turn * slice, (turn + 1) * slice);
        // Each starts every other turn, so neither is always second.
        if turn % 2 == 0 {
            guard += guards(from, to);
            boxed_time += boxed(from, to);
        } else {
            boxed_time += boxed(from, to);
            guard += guards(from, to);
        }
    }
    let per = |time: Duration| time.as_nanos() as f64 / (slice * TURNS) as f64;
    println!("guard_ns={:.3} boxed_ns={:.3}", per(guard), per(boxed_time));
}
