//! What a backend without a better mechanism does with std alone: the
//! POSIX baseline and Windows share these.

// On Linux (without `cleanup_portable`) the `linux` backend has its own.
#![cfg_attr(all(target_os = "linux", not(cleanup_portable)), allow(dead_code))]

use std::io::Write as _;
use std::sync::mpsc;
use std::time::Duration;

/// Flushes what `print!` left in stdout's buffer, without blocking on a
/// stuck thread: a thread of its own takes stdout's lock and flushes, and
/// this one waits for it 100 ms at most (if a thread stuck in `println!`
/// holds the lock, the flush thread waits there, and the process ends
/// without it). From an ordinary thread only (it starts a thread).
pub(crate) fn flush_stdout_isolated() {
    const WAIT: Duration = Duration::from_millis(100);
    let (done, flushed) = mpsc::channel();
    let started = std::thread::Builder::new()
        .name("cleanup-flush".into())
        .spawn(move || {
            let _ = std::io::stdout().flush();
            let _ = done.send(());
        });
    if started.is_ok() {
        let _ = flushed.recv_timeout(WAIT);
    }
}
