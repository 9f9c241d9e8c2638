//! The clock `std::time::Instant` reads, from a signal handler: at first
//! through the system call, then through the vDSO.
//!
//! The vDSO's first reading in a process faults in two pages (the C
//! library's `clock_gettime` and the kernel's data page), about 5 µs here;
//! the system call costs 0.3 µs a reading and faults nothing. A shutdown
//! with nothing to run reads the clock a few times: by the system call.
//! A drain reads it once per cleanup: past the first few, by the vDSO.

use std::sync::atomic::{AtomicU32, Ordering};

/// How many readings go through the system call before the vDSO's.
const COLD_READINGS: u32 = 16;

/// The readings made through the system call so far (at most
/// [`COLD_READINGS`]; two threads may both take one more).
static COLD: AtomicU32 = AtomicU32::new(0);

/// Nanoseconds on the clock `Instant` reads (`CLOCK_MONOTONIC`).
/// Async-signal-safe.
pub(crate) fn monotonic_ns() -> u64 {
    if COLD.load(Ordering::Relaxed) >= COLD_READINGS {
        return super::super::unix::clock::monotonic_ns();
    }
    COLD.fetch_add(1, Ordering::Relaxed);
    by_system_call()
}

/// One reading through the system call, not the vDSO. (On 32-bit targets,
/// whose `timespec` may not be the one this system call fills, through the
/// C library.)
fn by_system_call() -> u64 {
    #[cfg(target_pointer_width = "64")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime(2) itself, writing into a timespec on this
        // stack, which on 64-bit Linux is the kernel's own layout.
        let result =
            unsafe { libc::syscall(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, &mut ts) };
        if result == 0 {
            return (ts.tv_sec as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec as u64);
        }
    }
    super::super::unix::clock::monotonic_ns()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_call_and_the_vdso_read_one_clock() {
        for _ in 0..1000 {
            let (before, raw, after) = (
                super::super::super::unix::clock::monotonic_ns(),
                by_system_call(),
                super::super::super::unix::clock::monotonic_ns(),
            );
            assert!(before <= raw && raw <= after, "{before} {raw} {after}");
        }
        // Past the cold readings, the same clock still moves forward.
        let mut last = 0;
        for _ in 0..2 * COLD_READINGS {
            let now = monotonic_ns();
            assert!(now >= last);
            last = now;
        }
    }
}
