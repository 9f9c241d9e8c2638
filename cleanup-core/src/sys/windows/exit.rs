//! Leaving the process without the C library's exit.

use std::io::Write as _;
use std::sync::mpsc;
use std::time::Duration;

use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};

/// Ends the process now with `code`, as `_exit` does on Unix: no exit
/// hooks, no DLL notifications, no locks.
pub(crate) fn hard_exit(code: i32) -> ! {
    // SAFETY: terminates the calling process (the pseudo-handle needs no
    // closing); the call does not return for the current process.
    unsafe { TerminateProcess(GetCurrentProcess(), code as u32) };
    unreachable!("TerminateProcess of the current process returned")
}

/// Whether [`flush_stdout_isolated`] may be called from the handler.
pub(crate) const FLUSH_FROM_HANDLER: bool = false;

/// Flushes what `print!` left in stdout's buffer without blocking on a
/// stuck thread (as the POSIX baseline does: a thread of its own, waited
/// for 100 ms at most).
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
