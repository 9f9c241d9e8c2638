//! A build that Ctrl-C does not cut in half; a second Ctrl-C does.
//!
//! ```text
//! cargo run --example critical_section
//! ```
//!
//! Each build runs its steps inside a [`cleanup::shield`]: a Ctrl-C during a
//! build is noted, the build finishes, and only then does `main` return and
//! the process die by SIGINT. A second Ctrl-C means "now": the process dies at
//! once, mid-build. Ctrl-C goes to the whole foreground process group, so a
//! real build's child processes get it too; run them in their own process
//! group if they must finish as well.
//!
//! Arguments: the number of steps per build (default 6) and the time each
//! takes in milliseconds (default 500).

use std::thread;
use std::time::Duration;

#[cleanup::graceful_main(timeout = "30s")]
fn main() -> Result<(), cleanup::Shutdown> {
    let mut args = std::env::args().skip(1).map(|arg| arg.parse::<u64>());
    let steps = args.next().unwrap_or(Ok(6)).expect("steps: a number");
    let step_ms = args
        .next()
        .unwrap_or(Ok(500))
        .expect("step time: milliseconds");

    println!(
        "builder ready (pid {}): press Ctrl-C during a build; it finishes first",
        std::process::id()
    );
    for round in 1.. {
        // Do not start a new build once shutting down.
        cleanup::checkpoint()?;
        build(round, steps, Duration::from_millis(step_ms));
        cleanup::sleep(Duration::from_millis(step_ms))?;
    }
    Ok(())
}

fn build(round: u32, steps: u64, step_time: Duration) {
    let _shield = cleanup::shield();
    // Runs only if the build is abandoned half-way (the deadline passed while
    // `main` was still inside it): a real build would delete partial output.
    let partial = cleanup::guard(move || println!("build {round}: partial output removed"));
    let mut told = false;
    for step in 1..=steps {
        println!("build {round}: step {step}/{steps}");
        thread::sleep(step_time);
        // Inside the shield `checkpoint()` says Ok, but the truth is known.
        if cleanup::is_shutting_down() && !told && step < steps {
            println!("build {round}: shutdown requested, finishing the build first");
            told = true;
        }
    }
    partial.disarm();
    println!("build {round}: done, output complete");
}
