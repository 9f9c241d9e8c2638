//! Where threads and tasks sleep until shutdown starts ([`sleep`](crate::sleep),
//! [`ShutdownToken::wait`](crate::ShutdownToken::wait), the wakers of
//! [`Cancelled`](crate::Cancelled)).
//!
//! They sleep where the signal handler itself wakes them (`sys::park`: a
//! futex on Linux, a self-pipe elsewhere): a program waiting in `sleep` or
//! `wait` learns of SIGTERM without any thread hand-off, which is what
//! keeps kill-to-exit close to the kernel's default action.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::task::Waker;
use std::time::Instant;

use crate::sync::lock;

/// Futures waiting for the shutdown, by id.
static WAKERS: Mutex<Vec<(u64, Waker)>> = Mutex::new(Vec::new());

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
    // Once is enough: a sleeper checks the word before it sleeps (and the
    // self-pipe stays readable), so a later call has no one to wake.
    if STARTED.swap(1, Ordering::SeqCst) == 0 {
        crate::sys::park::wake(&STARTED);
    }
}

/// Wakes every sleeper from a signal handler where the platform allows it
/// (both backends do); elsewhere the runtime thread does it when it starts
/// the shutdown.
pub(crate) fn wake_from_handler() {
    if crate::sys::park::WAKES_FROM_HANDLER {
        wake_all();
    }
}

/// Stores `waker` under `id` (replacing the one stored before), unless the
/// shutdown has started: then `false`, and the future is ready. Checked
/// under the lock [`wake_tasks`] takes after the flag is set, so a waker
/// stored while the flag reads false is always woken.
pub(crate) fn store_waker(id: u64, waker: &Waker, started: impl Fn() -> bool) -> bool {
    let mut wakers = lock(&WAKERS);
    if started() {
        return false;
    }
    match wakers.iter_mut().find(|(other, _)| *other == id) {
        Some((_, stored)) => stored.clone_from(waker),
        None => wakers.push((id, waker.clone())),
    }
    true
}

/// Forgets the waker stored under `id` (its future was dropped).
pub(crate) fn forget_waker(id: u64) {
    lock(&WAKERS).retain(|(other, _)| *other != id);
}

/// Wakes every stored waker. Called once, when shutdown begins, from an
/// ordinary thread (it takes a lock).
pub(crate) fn wake_tasks() {
    let wakers = std::mem::take(&mut *lock(&WAKERS));
    for (_, waker) in wakers {
        waker.wake();
    }
}
