//! The clock `std::time::Instant` reads: the performance counter.

use std::sync::atomic::{AtomicU64, Ordering};

use windows_sys::Win32::System::Performance::{
    QueryPerformanceCounter, QueryPerformanceFrequency,
};

/// Counts per second, read once (it is fixed at boot).
static FREQUENCY: AtomicU64 = AtomicU64::new(0);

/// Nanoseconds on the performance counter. Callable from the console
/// handler (any thread).
pub(crate) fn monotonic_ns() -> u64 {
    let mut frequency = FREQUENCY.load(Ordering::Relaxed);
    if frequency == 0 {
        let mut read = 0i64;
        // SAFETY: writes the frequency into a local; cannot fail on XP and later.
        unsafe { QueryPerformanceFrequency(&mut read) };
        frequency = u64::try_from(read).unwrap_or(1).max(1);
        FREQUENCY.store(frequency, Ordering::Relaxed);
    }
    let mut count = 0i64;
    // SAFETY: writes the counter into a local; cannot fail on XP and later.
    unsafe { QueryPerformanceCounter(&mut count) };
    let count = u128::try_from(count).unwrap_or(0);
    u64::try_from(count * 1_000_000_000 / u128::from(frequency)).unwrap_or(u64::MAX)
}
