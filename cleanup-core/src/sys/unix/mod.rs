//! The POSIX baseline: what macOS, FreeBSD and the other BSDs run, and what
//! Linux runs under `--cfg cleanup_portable`. A platform's own extra (the
//! stack query, FreeBSD's parent-death signal, kqueue) is chosen here by
//! `cfg`, behind the same functions.

// On Linux (without `cleanup_portable`) the `linux` backend replaces some
// of these with its own.
#![cfg_attr(all(target_os = "linux", not(cleanup_portable)), allow(dead_code, unused_imports))]

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
