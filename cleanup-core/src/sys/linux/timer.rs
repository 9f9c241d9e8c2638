//! The deadline timer: a POSIX timer that delivers the first handled
//! signal with `si_code == SI_TIMER` (see `signals::Origin::Timer`).

use std::time::Duration;

use crate::sys::signals::Origin;

/// A `timer_t` of this process.
#[derive(Clone, Copy)]
pub(crate) struct Timer(libc::timer_t);

impl Timer {
    /// A disarmed timer that delivers `signal` to the process when it fires
    /// (its handler, there, tells it apart: see [`fired`]); `None` if the
    /// kernel refuses one.
    pub(crate) fn create(signal: i32, _handler: fn(i32, Origin)) -> Option<Timer> {
        // SAFETY: timer_create(2) with a zeroed sigevent set to deliver
        // `signal` to the process, writing the id into a local.
        unsafe {
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_SIGNAL;
            event.sigev_signo = signal;
            let mut timer: libc::timer_t = std::mem::zeroed();
            (libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) == 0)
                .then_some(Timer(timer))
        }
    }

    /// Raw form, for an atomic. Async-signal-safe.
    pub(crate) fn to_raw(self) -> usize {
        self.0 as usize
    }

    /// Back from [`Timer::to_raw`].
    pub(crate) fn from_raw(raw: usize) -> Timer {
        Timer(raw as libc::timer_t)
    }

    /// Fires once at `at_ns` on `monotonic_ns`'s clock (`CLOCK_MONOTONIC`,
    /// the timer's own), at once if that has passed; 0 disarms. An
    /// absolute time: nothing to read first. Async-signal-safe
    /// (`timer_settime` is).
    pub(crate) fn arm_at(self, at_ns: u64) {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: crate::sys::unix::timespec(Duration::from_nanos(at_ns)),
        };
        // SAFETY: timer_settime(2) on a timer this process created, with a
        // spec on this stack for the call.
        unsafe { libc::timer_settime(self.0, libc::TIMER_ABSTIME, &spec, std::ptr::null_mut()) };
    }
}

/// Whether a signal with `info` is the deadline timer firing (`SI_TIMER`),
/// not one sent by someone. Async-signal-safe.
pub(crate) fn fired(info: &libc::siginfo_t) -> bool {
    info.si_code == libc::SI_TIMER
}
