//! Sleepers on a condition variable: the handler cannot notify it, so the
//! runtime thread does, once it sees the shutdown.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

static LOCK: Mutex<()> = Mutex::new(());
static CHANGED: Condvar = Condvar::new();

/// Whether [`wake`] may be called from a signal handler.
pub(crate) const WAKES_FROM_HANDLER: bool = false;

/// Sleeps while `word` is 0, until [`wake`] or `timeout`, maybe less.
pub(crate) fn wait(word: &AtomicU32, timeout: Option<Duration>) {
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    if word.load(Ordering::SeqCst) != 0 {
        return;
    }
    match timeout {
        None => drop(CHANGED.wait(guard)),
        Some(timeout) => drop(CHANGED.wait_timeout(guard, timeout)),
    }
}

/// Wakes every sleeper of `word`. Not from a signal handler.
pub(crate) fn wake(_word: &AtomicU32) {
    let _guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    CHANGED.notify_all();
}
