//! Signal numbers by name, so that [`ExitReason::Signal`](crate::ExitReason)
//! and [`Child::signal`](crate::Child::signal) need no `libc` in the
//! program: plain `i32`s, the numbers of this platform.
//!
//! ```
//! use cleanup::{signal, ExitReason};
//!
//! /// What a guard or finalizer might log about the end.
//! fn describe(reason: Option<ExitReason>) -> String {
//!     match reason {
//!         Some(ExitReason::Signal(signal::SIGTERM)) => "stopped by the orchestrator".to_owned(),
//!         Some(ExitReason::Signal(sig)) => {
//!             format!("stopped by {}", signal::name(sig).unwrap_or("an unknown signal"))
//!         }
//!         Some(other) => other.to_string(),
//!         None => "still running".to_owned(),
//!     }
//! }
//!
//! assert_eq!(describe(cleanup::reason()), "still running");
//! assert_eq!(
//!     describe(Some(ExitReason::Signal(signal::SIGTERM))),
//!     "stopped by the orchestrator"
//! );
//! assert_eq!(describe(Some(ExitReason::Signal(signal::SIGHUP))), "stopped by SIGHUP");
//! ```

use crate::sys::signals::numbers;

/// Hang-up: the terminal went away; a default shutdown signal.
pub const SIGHUP: i32 = numbers::SIGHUP;
/// Interrupt: Ctrl-C at a terminal; a default shutdown signal.
pub const SIGINT: i32 = numbers::SIGINT;
/// Quit: Ctrl-\ at a terminal; keeps its default action (a core dump) unless
/// named in `signals = "…"`.
pub const SIGQUIT: i32 = numbers::SIGQUIT;
/// Illegal instruction: a crash.
pub const SIGILL: i32 = numbers::SIGILL;
/// Abort: `std::process::abort`, a panic with `panic = "abort"`.
pub const SIGABRT: i32 = numbers::SIGABRT;
/// Bus error: a crash (say, a truncated memory-mapped file).
pub const SIGBUS: i32 = numbers::SIGBUS;
/// Arithmetic error: a crash.
pub const SIGFPE: i32 = numbers::SIGFPE;
/// Kill: cannot be caught; nothing runs (the guardian's case).
pub const SIGKILL: i32 = numbers::SIGKILL;
/// User-defined signal 1.
pub const SIGUSR1: i32 = numbers::SIGUSR1;
/// Segmentation fault: a crash.
pub const SIGSEGV: i32 = numbers::SIGSEGV;
/// User-defined signal 2.
pub const SIGUSR2: i32 = numbers::SIGUSR2;
/// Write to a pipe with no reader (Rust programs ignore it by default).
pub const SIGPIPE: i32 = numbers::SIGPIPE;
/// Alarm clock: a timer ran out.
pub const SIGALRM: i32 = numbers::SIGALRM;
/// Terminate: `kill`, `docker stop`, Kubernetes, systemd; a default shutdown
/// signal.
pub const SIGTERM: i32 = numbers::SIGTERM;
/// A child stopped or ended.
pub const SIGCHLD: i32 = numbers::SIGCHLD;
/// Continue a stopped process.
pub const SIGCONT: i32 = numbers::SIGCONT;
/// Stop: cannot be caught.
pub const SIGSTOP: i32 = numbers::SIGSTOP;
/// Stop from a terminal: Ctrl-Z.
pub const SIGTSTP: i32 = numbers::SIGTSTP;
/// The terminal's window changed size.
pub const SIGWINCH: i32 = numbers::SIGWINCH;
/// Windows' Ctrl-Break (`CTRL_BREAK_EVENT`, the C runtime's 21); a default
/// shutdown signal there. (On Windows the console's Ctrl-C is [`SIGINT`],
/// and its close, a logoff and a shutdown are [`SIGTERM`]; the other
/// signals here never arrive.)
#[cfg(windows)]
pub const SIGBREAK: i32 = numbers::SIGBREAK;

/// The name of signal `sig` (`"SIGTERM"`), or `None` for a number that is
/// no signal of this platform. For log lines and messages.
///
/// ```
/// assert_eq!(cleanup::signal::name(cleanup::signal::SIGTERM), Some("SIGTERM"));
/// assert_eq!(cleanup::signal::name(cleanup::signal::SIGINT), Some("SIGINT"));
/// assert_eq!(cleanup::signal::name(-1), None);
/// ```
pub fn name(sig: i32) -> Option<&'static str> {
    crate::sys::signals::name(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_constant_is_named_after_itself() {
        let named = [
            (SIGHUP, "SIGHUP"),
            (SIGINT, "SIGINT"),
            (SIGQUIT, "SIGQUIT"),
            (SIGILL, "SIGILL"),
            (SIGABRT, "SIGABRT"),
            (SIGBUS, "SIGBUS"),
            (SIGFPE, "SIGFPE"),
            (SIGKILL, "SIGKILL"),
            (SIGUSR1, "SIGUSR1"),
            (SIGSEGV, "SIGSEGV"),
            (SIGUSR2, "SIGUSR2"),
            (SIGPIPE, "SIGPIPE"),
            (SIGALRM, "SIGALRM"),
            (SIGTERM, "SIGTERM"),
            (SIGCHLD, "SIGCHLD"),
            (SIGCONT, "SIGCONT"),
            (SIGSTOP, "SIGSTOP"),
            (SIGTSTP, "SIGTSTP"),
            (SIGWINCH, "SIGWINCH"),
        ];
        for (sig, expected) in named {
            assert_eq!(name(sig), Some(expected));
        }
    }

    #[test]
    fn numbers_that_are_no_signal_have_no_name() {
        assert_eq!(name(0), None);
        assert_eq!(name(-1), None);
        assert_eq!(name(100_000), None);
    }
}
