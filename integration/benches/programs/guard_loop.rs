//! `guard(f)` made and dropped in a loop, in a program under
//! `#[graceful_main]` (as users write them), beside the same closure boxed,
//! called and freed. Prints each loop's time per iteration, in ns.
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: u64 = 5_000_000;

#[cleanup::graceful_main(quiet)]
fn main() {
    let started = Instant::now();
    for i in 0..ROUNDS {
        let x = black_box(i);
        drop(cleanup::guard(move || {
            black_box(x);
        }));
    }
    let guard = started.elapsed();
    let started = Instant::now();
    for i in 0..ROUNDS {
        let x = black_box(i);
        let f: Box<dyn FnOnce() + Send> = Box::new(move || {
            black_box(x);
        });
        black_box(f)();
    }
    let boxed = started.elapsed();
    let per = |time: std::time::Duration| time.as_nanos() as f64 / ROUNDS as f64;
    println!("guard_ns={:.3} boxed_ns={:.3}", per(guard), per(boxed));
}
