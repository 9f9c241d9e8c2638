//! The platform layer: every system call of the crate, and every `unsafe`
//! outside the registry's lock-free slots, each behind a safe function with
//! its `// SAFETY:` line. The rest of the crate never names a platform.
//!
//! | backend | runs on | what it adds |
//! |---|---|---|
//! | `unix` | every Unix (macOS, the BSDs, Linux with `--cfg cleanup_portable`) | the POSIX baseline: a self-pipe the handler writes for sleepers, `setitimer` as the deadline's backstop (SIGALRM, taken only once a shutdown arms it), the guardian watching a pipe (and kqueue), a full fence on both sides of the registry's close |
//! | `linux` | Linux | futex sleepers the signal handler wakes, a POSIX timer as the deadline's backstop, `membarrier`, pidfds, the parent-death signal, the isolated stdout flush, systemd's abstract sockets |
//!
//! Each concept is one module with the same functions in every backend
//! (`clock`, `park`, `signals`, `timer`, `bell`, `exit`, `hooks`,
//! `barrier`, `stack`, `fd`, `process`, `notify`, `guardian`); the `linux` backend
//! re-exports the baseline's where it has nothing better. Building on Linux
//! with `RUSTFLAGS="--cfg cleanup_portable"` selects the baseline, so the
//! code macOS and the BSDs run is tested here.
#![allow(unsafe_code)]

mod std_only;

#[cfg(unix)]
mod unix;

#[cfg(windows)]
mod windows;

#[cfg(all(target_os = "linux", not(cleanup_portable)))]
mod linux;

#[cfg(all(target_os = "linux", not(cleanup_portable)))]
use linux as backend;
#[cfg(all(unix, any(not(target_os = "linux"), cleanup_portable)))]
use unix as backend;
#[cfg(windows)]
use windows as backend;

pub(crate) use backend::{
    barrier, bell, clock, exit, fd, guardian, hooks, notify, os_str, park, process, signals, stack,
    timer,
};
