//! No deadline timer: with no signals to deliver one, a runtime thread
//! keeps the deadline from the start, as in the POSIX baseline.

pub(crate) use crate::sys::std_only::Timer;
