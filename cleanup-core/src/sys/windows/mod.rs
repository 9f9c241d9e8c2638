//! Windows: no signals, no `fork`, handles instead of descriptors. The
//! console's control events stand in for the shutdown signals (see
//! `signals`), a job object holds the children, and what has no Windows
//! form yet (the guardian, systemd's notify) answers that it is not here.

pub(crate) mod barrier;
pub(crate) mod bell;
pub(crate) mod clock;
pub(crate) mod exit;
pub(crate) mod fd;
pub(crate) mod guardian;
pub(crate) mod hooks;
pub(crate) mod notify;
pub(crate) mod os_str;
pub(crate) mod park;
pub(crate) mod process;
pub(crate) mod signals;
pub(crate) mod stack;
pub(crate) mod timer;
