//! Where threads sleep until shutdown starts ([`sleep`](crate::sleep),
//! [`ShutdownToken::wait`](crate::ShutdownToken::wait)).
//!
//! On Linux they sleep on a futex that the signal handler itself wakes
//! (`sys::park`): a program waiting in `sleep` or `wait` learns of SIGTERM
//! without any thread hand-off, which is what keeps kill-to-exit close to
//! the kernel's default action. Elsewhere they sleep on a condition
//! variable, which the runtime thread notifies.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// 0 while the process runs, 1 once shutdown has started.
static STARTED: AtomicU32 = AtomicU32::new(0);

/// Sleeps until [`wake_all`] or `until`, maybe less (a spurious return is
/// fine: callers check the shutdown flag in a loop).
pub(crate) fn wait(until: Option<Instant>) {
    let timeout = match until {
        None => None,
        Some(until) => match until.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Some(left),
            _ => return,
        },
    };
    crate::sys::park::wait(&STARTED, timeout);
}

/// Wakes every sleeper, for good. Async-signal-safe where
/// `sys::park::WAKES_FROM_HANDLER`.
pub(crate) fn wake_all() {
    STARTED.store(1, Ordering::SeqCst);
    crate::sys::park::wake(&STARTED);
}

/// Wakes every sleeper from a signal handler where the platform allows it
/// (a futex); elsewhere the runtime thread does it when it starts the
/// shutdown.
pub(crate) fn wake_from_handler() {
    if crate::sys::park::WAKES_FROM_HANDLER {
        wake_all();
    }
}
