//! No deadline timer: with no signals to deliver one, a runtime thread
//! keeps the deadline from the start, as in the POSIX baseline.

use std::time::Duration;

/// The deadline timer; there is none here.
#[derive(Clone, Copy)]
pub(crate) struct Timer(());

impl Timer {
    /// `None`: there is no timer here.
    pub(crate) fn create(_signal: i32) -> Option<Timer> {
        None
    }

    /// Raw form, for an atomic.
    pub(crate) fn to_raw(self) -> usize {
        0
    }

    /// Back from [`Timer::to_raw`].
    pub(crate) fn from_raw(_raw: usize) -> Timer {
        Timer(())
    }

    /// Fires once after `after`; never here.
    pub(crate) fn arm(self, _after: Duration) {}
}
