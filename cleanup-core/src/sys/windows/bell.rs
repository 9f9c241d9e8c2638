//! The runtime thread's bell: a flag and a condition variable, which the
//! console handler (an ordinary thread) may take. One per process, as the
//! runtime thread is.

use std::io;
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// The rings not yet heard.
static RUNG: Mutex<u32> = Mutex::new(0);
static HEARD: Condvar = Condvar::new();

/// The listener, for the thread that sleeps until the bell rings.
pub(crate) struct Listener(());

/// What woke the listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Heard {
    /// The bell rang.
    Rung,
    /// The timeout passed.
    TimedOut,
    /// Nothing will ring (not here).
    #[allow(dead_code)]
    Closed,
}

/// The bell: a number for [`ring`] (there is one bell, number 0) and its
/// listener.
pub(crate) fn new() -> io::Result<(i32, Listener)> {
    Ok((0, Listener(())))
}

/// Rings the bell.
pub(crate) fn ring(_bell: i32) {
    let mut rung = RUNG.lock().unwrap_or_else(PoisonError::into_inner);
    *rung = rung.saturating_add(1);
    HEARD.notify_all();
}

impl Listener {
    /// Sleeps until the bell rings, or `timeout` passes.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Heard {
        let rung = RUNG.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rung = match timeout {
            None => HEARD
                .wait_while(rung, |rung| *rung == 0)
                .unwrap_or_else(PoisonError::into_inner),
            Some(timeout) => {
                HEARD
                    .wait_timeout_while(rung, timeout, |rung| *rung == 0)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
        };
        if *rung == 0 {
            return Heard::TimedOut;
        }
        *rung = 0;
        Heard::Rung
    }
}
