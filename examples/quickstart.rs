//! A worker you stop with Ctrl-C (or `kill -TERM <pid>`), showing what runs.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Press Ctrl-C: the loop notices at its next `sleep`, `main` returns, the
//! guard and then the finalizer run, and the process dies by SIGINT (your
//! shell shows 130). Press Ctrl-C twice to leave at once, without cleanup.

use std::thread;
use std::time::Duration;

/// A value on `main`'s stack: its `Drop` runs because `main` returns.
struct Connection;

impl Drop for Connection {
    fn drop(&mut self) {
        println!("stack value: connection closed");
    }
}

#[cleanup::graceful_main(timeout = "5s")]
fn main() -> Result<(), cleanup::Shutdown> {
    // Finalizers run last, newest first, however the process ends.
    cleanup::on_exit(|| println!("finalizer: log flushed"));
    // A guard runs when it drops, or from the runtime if `main` were stuck.
    let _lock = cleanup::guard(|| println!("guard: work queue lock released"));
    let _connection = Connection;

    // A background thread stops when the shutdown starts.
    let token = cleanup::token();
    let heartbeat = thread::spawn(move || {
        while !token.wait_timeout(Duration::from_secs(2)) {
            println!("heartbeat");
        }
        println!("heartbeat: stopped");
    });

    println!(
        "worker started (pid {}); press Ctrl-C to stop it",
        std::process::id()
    );
    let mut job = 0;
    let result = loop {
        // Err(Shutdown) as soon as a signal arrives.
        if let Err(shutdown) = cleanup::sleep(Duration::from_millis(700)) {
            break Err(shutdown);
        }
        job += 1;
        println!("job {job} done");
    };
    heartbeat.join().expect("the heartbeat thread panicked");
    println!("main: returning after {job} jobs ({:?})", cleanup::reason());
    result
}
