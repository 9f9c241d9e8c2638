//! Linux: the baseline, with Linux's own mechanisms where they serve better.

pub(crate) mod barrier;
pub(crate) mod clock;
pub(crate) mod exit;
pub(crate) mod guardian;
pub(crate) mod park;
pub(crate) mod process;
pub(crate) mod timer;

pub(crate) use super::unix::{bell, fd, hooks, notify, os_str, signals, stack};
