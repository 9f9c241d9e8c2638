//! No deadline timer: with no signals to deliver one, a runtime thread
//! keeps the deadline from the start.

use crate::sys::signals::Origin;

/// No deadline timer: a runtime thread keeps the deadline from the start
/// instead.
#[derive(Clone, Copy)]
pub(crate) struct Timer(());

impl Timer {
    /// A timer that runs `handler(signal, Origin::Timer)` when it fires;
    /// `None` here.
    pub(crate) fn create(_signal: i32, _handler: fn(i32, Origin)) -> Option<Timer> {
        None
    }

    /// Raw form, for an atomic. Async-signal-safe.
    pub(crate) fn to_raw(self) -> usize {
        0
    }

    /// Back from [`Timer::to_raw`].
    pub(crate) fn from_raw(_raw: usize) -> Timer {
        Timer(())
    }

    /// Fires once at `at_ns` on `monotonic_ns`'s clock; 0 disarms.
    /// Async-signal-safe.
    pub(crate) fn arm_at(self, _at_ns: u64) {}
}
