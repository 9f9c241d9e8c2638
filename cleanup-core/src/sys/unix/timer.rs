//! No deadline timer in the baseline: POSIX timers are missing on macOS,
//! and `setitimer` would take SIGALRM from the program. A runtime thread
//! keeps the deadline from the start instead.

pub(crate) use crate::sys::std_only::Timer;

/// Whether a signal with `info` is this timer firing; never here.
/// Async-signal-safe.
pub(crate) fn fired(_info: &libc::siginfo_t) -> bool {
    false
}
