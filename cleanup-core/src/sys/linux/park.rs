//! Sleepers on a futex, which the signal handler itself wakes
//! (`FUTEX_WAKE` is a plain system call, async-signal-safe).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Whether [`wake`] may be called from a signal handler.
pub(crate) const WAKES_FROM_HANDLER: bool = true;

/// Sleeps while `word` is 0, until [`wake`], a signal or `timeout`.
pub(crate) fn wait(word: &AtomicU32, timeout: Option<Duration>) {
    let timespec = timeout.map(|t| libc::timespec {
        tv_sec: t.as_secs().try_into().unwrap_or(libc::time_t::MAX),
        tv_nsec: t.subsec_nanos().into(),
    });
    let timespec_ptr = timespec
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: futex(2) WAIT on a live, aligned AtomicU32, with a relative
    // timeout that outlives the call; it returns at once if the word is no
    // longer 0, and on a wake, a signal or the timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            0u32,
            timespec_ptr,
        )
    };
}

/// Wakes every sleeper of `word`. Async-signal-safe.
pub(crate) fn wake(word: &AtomicU32) {
    // SAFETY: futex(2) WAKE of every waiter on a live AtomicU32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        )
    };
}
