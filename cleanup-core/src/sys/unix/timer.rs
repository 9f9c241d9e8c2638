//! No deadline timer in the baseline: POSIX timers are missing on macOS,
//! and `setitimer` would take SIGALRM from the program. A runtime thread
//! keeps the deadline from the start instead.

use std::time::Duration;

/// The deadline timer; there is none here.
#[derive(Clone, Copy)]
pub(crate) struct Timer(());

impl Timer {
    /// A timer that delivers `signal` when it fires; `None` here.
    pub(crate) fn create(_signal: i32) -> Option<Timer> {
        None
    }

    /// Raw form, for an atomic. Async-signal-safe.
    pub(crate) fn to_raw(self) -> usize {
        0
    }

    /// Back from [`Timer::to_raw`].
    pub(crate) fn from_raw(_raw: usize) -> Timer {
        Timer(())
    }

    /// Fires once after `after`; zero disarms. Async-signal-safe.
    pub(crate) fn arm(self, _after: Duration) {}
}

/// Whether a signal with `info` is this timer firing; never here.
/// Async-signal-safe.
pub(crate) fn fired(_info: &libc::siginfo_t) -> bool {
    false
}
