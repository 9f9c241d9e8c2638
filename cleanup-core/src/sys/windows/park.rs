//! Sleepers wait on the word itself (`WaitOnAddress`), and the console
//! handler, an ordinary thread, wakes them (`WakeByAddressAll`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use windows_sys::Win32::System::Threading::{WaitOnAddress, WakeByAddressAll, INFINITE};

/// Whether [`wake`] may be called from the handler: the console handler
/// runs on a thread of its own, where anything may be called.
pub(crate) const WAKES_FROM_HANDLER: bool = true;

/// Sleeps while `word` is 0, until [`wake`] or `timeout`, maybe less (the
/// caller looks at its flag again).
pub(crate) fn wait(word: &AtomicU32, timeout: Option<Duration>) {
    let ms = timeout.map_or(INFINITE, |t| {
        // Rounded up: a timeout below a millisecond must not spin.
        u32::try_from(t.as_millis().max(1)).unwrap_or(INFINITE - 1)
    });
    let zero = 0u32;
    // SAFETY: waits while the 4 bytes at `word` (a live atomic) equal the
    // 4 bytes of `zero` on this stack; both outlive the call.
    unsafe {
        WaitOnAddress(
            word.as_ptr().cast_const().cast(),
            (&zero as *const u32).cast(),
            4,
            ms,
        )
    };
    let _ = word.load(Ordering::SeqCst);
}

/// Wakes every sleeper of `word` (which the caller set).
pub(crate) fn wake(word: &AtomicU32) {
    // SAFETY: wakes the waiters on a live atomic's address.
    unsafe { WakeByAddressAll(word.as_ptr().cast_const().cast()) };
}
