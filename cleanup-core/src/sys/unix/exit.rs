//! Leaving the process without the C library's exit.

/// `_exit`: no exit hooks, no locks. Async-signal-safe.
pub(crate) fn hard_exit(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}


/// Whether [`flush_stdout_isolated`] may be called from a signal handler.
pub(crate) const FLUSH_FROM_HANDLER: bool = false;

/// The bounded flush thread (see `std_only`).
pub(crate) use crate::sys::std_only::flush_stdout_isolated;
