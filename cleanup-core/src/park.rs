//! Where threads sleep until shutdown starts ([`sleep`](crate::sleep),
//! [`ShutdownToken::wait`](crate::ShutdownToken::wait)).
//!
//! On Linux they sleep on a futex that the signal handler itself wakes
//! (`FUTEX_WAKE` is a plain syscall, async-signal-safe): a program waiting in
//! `sleep` or `wait` learns of SIGTERM without any thread hand-off, which is
//! what keeps kill-to-exit close to the kernel's default action. Elsewhere
//! they sleep on a condition variable, which the runtime thread notifies.

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
    imp::wait(&STARTED, timeout);
}

/// Wakes every sleeper, for good. Async-signal-safe on Linux.
pub(crate) fn wake_all() {
    STARTED.store(1, Ordering::SeqCst);
    imp::wake(&STARTED);
}

/// Wakes every sleeper from a signal handler: on Linux at once; elsewhere the
/// runtime thread does it when it starts the shutdown.
pub(crate) fn wake_from_handler() {
    if cfg!(target_os = "linux") {
        wake_all();
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    pub(super) fn wait(word: &AtomicU32, timeout: Option<Duration>) {
        let timespec = timeout.map(|t| libc::timespec {
            tv_sec: t.as_secs().try_into().unwrap_or(libc::time_t::MAX),
            tv_nsec: t.subsec_nanos().into(),
        });
        let timespec_ptr = timespec
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: futex(2) WAIT on a live, aligned AtomicU32 of ours, with a
        // relative timeout that outlives the call; it returns at once if the
        // word is no longer 0, and on a wake, a signal or the timeout.
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

    pub(super) fn wake(word: &AtomicU32) {
        // SAFETY: futex(2) WAKE of every waiter on a live AtomicU32 of ours.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            )
        };
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Condvar, Mutex, PoisonError};
    use std::time::Duration;

    static LOCK: Mutex<()> = Mutex::new(());
    static CHANGED: Condvar = Condvar::new();

    pub(super) fn wait(word: &AtomicU32, timeout: Option<Duration>) {
        let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        if word.load(Ordering::SeqCst) != 0 {
            return;
        }
        match timeout {
            None => drop(CHANGED.wait(guard)),
            Some(timeout) => drop(CHANGED.wait_timeout(guard, timeout)),
        }
    }

    pub(super) fn wake(_word: &AtomicU32) {
        let _guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        CHANGED.notify_all();
    }
}
