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
pub(crate) mod errno;
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

/// `duration` as a `timespec`, its seconds capped where `time_t` has 32
/// bits (the field widths differ by target, hence the conversions).
/// (Not every backend sleeps with one: the portable one on Linux does not.)
#[allow(
    dead_code,
    clippy::useless_conversion,
    clippy::unnecessary_fallible_conversions
)]
pub(crate) fn timespec(duration: std::time::Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: duration.as_secs().try_into().unwrap_or(i32::MAX.into()),
        // Below 10^9: fits a 32-bit `long`.
        tv_nsec: duration.subsec_nanos().try_into().unwrap_or(0),
    }
}
