//! Sleepers on a futex, which the signal handler itself wakes
//! (`FUTEX_WAKE` is a plain system call, async-signal-safe).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Threads in [`wait`], counted before they look at their word: a waker
/// that counts none has no one to wake, and skips the system call (the
/// first signal's handler, an empty program's exit). Sound with every
/// access SeqCst: a sleeper counted after the waker looked reads the word
/// after the waker set it, and does not sleep. (A forked child may count
/// its parent's sleepers: one system call more, no lost wake-up.)
static SLEEPERS: AtomicU32 = AtomicU32::new(0);

/// Whether [`wake`] may be called from a signal handler.
pub(crate) const WAKES_FROM_HANDLER: bool = true;

/// Sleeps while `word` is 0, until [`wake`], a signal or `timeout`.
pub(crate) fn wait(word: &AtomicU32, timeout: Option<Duration>) {
    SLEEPERS.fetch_add(1, Ordering::SeqCst);
    if word.load(Ordering::SeqCst) == 0 {
        sleep_on(word, timeout);
    }
    SLEEPERS.fetch_sub(1, Ordering::SeqCst);
}

fn sleep_on(word: &AtomicU32, timeout: Option<Duration>) {
    let timespec = timeout.map(crate::sys::unix::timespec);
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

/// Wakes every sleeper of `word` (which the caller set, SeqCst).
/// Async-signal-safe.
pub(crate) fn wake(word: &AtomicU32) {
    if SLEEPERS.load(Ordering::SeqCst) == 0 {
        return;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    /// Sleepers that arrive at every moment around the wake: none sleeps
    /// on (each would wait 10 s; the whole round must take well under).
    #[test]
    fn a_sleeper_arriving_as_the_waker_looks_is_never_left_asleep() {
        let rounds: usize = std::env::var("CLEANUP_TRIALS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(200);
        for round in 0..rounds {
            let word = Arc::new(AtomicU32::new(0));
            let sleepers: Vec<_> = (0..3)
                .map(|_| {
                    let word = Arc::clone(&word);
                    std::thread::spawn(move || {
                        while word.load(Ordering::SeqCst) == 0 {
                            wait(&word, Some(Duration::from_secs(10)));
                        }
                    })
                })
                .collect();
            // From no head start to tens of microseconds (past a thread's
            // start, into its sleep).
            for _ in 0..(round % 7) * 4000 {
                std::hint::spin_loop();
            }
            let woken = Instant::now();
            word.store(1, Ordering::SeqCst);
            wake(&word);
            for sleeper in sleepers {
                sleeper.join().expect("a sleeper panicked");
            }
            assert!(
                woken.elapsed() < Duration::from_secs(5),
                "round {round}: a sleeper slept through the wake"
            );
        }
    }
}
