//! The signal handler: the only code here that runs in a signal context.
//!
//! Rules for everything reachable from [`on_signal`]: no locks, no
//! allocation, no panics; atomics and async-signal-safe syscalls only. The
//! rest of the work happens on the runtime thread, which the handler wakes by
//! writing one byte to a pipe.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::state::{SHUTTING_DOWN, SIGNAL};

/// The write end of the runtime thread's wake-up pipe, or -1.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

pub(crate) fn set_wake_fd(fd: i32) {
    WAKE_FD.store(fd, Ordering::SeqCst);
}

/// Installs the handler for each signal through signal-hook, which chains:
/// handlers set before ours still run, and later signal-hook users coexist.
pub(crate) fn install(signals: &[i32]) -> io::Result<()> {
    for &sig in signals {
        // SAFETY: registering a handler (sigaction); the action is
        // async-signal-safe: see `on_signal`.
        unsafe { signal_hook::low_level::register(sig, move || on_signal(sig)) }?;
    }
    Ok(())
}

/// What the handler does. Async-signal-safe.
///
/// The first signal marks the process as shutting down and wakes the runtime
/// thread. A SIGINT once shutdown has started (the user pressing Ctrl-C again)
/// forces the exit at once, by SIGINT, with no more cleanup. Repeated SIGTERM
/// or SIGHUP change nothing: orchestrators may send several.
fn on_signal(sig: i32) {
    let first = SIGNAL
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    let was_shutting_down = SHUTTING_DOWN.swap(true, Ordering::SeqCst);
    if sig == libc::SIGINT && (!first || was_shutting_down) {
        if !crate::log::quiet() {
            crate::log::write_stderr(b"shutdown: second SIGINT, exiting now without cleanup\n");
        }
        crate::exit_status::die_by(sig);
    }
    if first {
        wake();
    }
}

/// Wakes the runtime thread. Async-signal-safe; never blocks (the pipe is
/// non-blocking, and a full pipe already holds a wake-up).
pub(crate) fn wake() {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) of one byte from a live stack buffer to our pipe.
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
}
