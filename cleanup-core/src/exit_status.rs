//! How the process leaves, so its parent sees what happened.
//!
//! After a signal the honest exit is death by that same signal: shells and
//! supervisors look at `WIFSIGNALED`/`WTERMSIG`, and a shell loop stops on
//! Ctrl-C only if the child died of SIGINT.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// A thread is inside the C library's `exit`: a second `exit` would wait for
/// it forever, so the ordinary way out is `_exit`.
static IN_EXIT: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_exiting() {
    IN_EXIT.store(true, Ordering::SeqCst);
}

/// The end a shutdown settles on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Die by this signal (or exit `128 + n` where re-raising cannot work).
    Raise(i32),
    /// Exit with this code.
    Code(i32),
    /// `abort()`: the panic = "abort" path, after the cleanups.
    Abort,
}

impl Ending {
    /// Leaves the process the ordinary way: buffered output flushed, other
    /// libraries' exit hooks run.
    pub(crate) fn leave(self) -> ! {
        let _ = std::io::stdout().flush();
        match self {
            Ending::Code(code) if IN_EXIT.load(Ordering::SeqCst) => hard_exit(code),
            Ending::Code(code) => std::process::exit(code),
            Ending::Raise(sig) => die_by(sig),
            Ending::Abort => std::process::abort(),
        }
    }

    /// Leaves at once, touching no lock: for the deadline, when a thread may
    /// be stuck holding stdout or inside `exit` itself.
    pub(crate) fn leave_now(self) -> ! {
        match self {
            Ending::Code(code) => hard_exit(code),
            Ending::Raise(sig) => die_by(sig),
            Ending::Abort => std::process::abort(),
        }
    }
}

/// Whether this process is the init of its PID namespace (a container's
/// entry point), where a signal sent to itself with the default action is
/// ignored.
pub(crate) fn is_pid_one() -> bool {
    std::process::id() == 1
}

/// Dies by `sig`: restores its default action, unblocks it and raises it. As
/// PID 1, where that is a no-op, exits with `128 + sig`. Async-signal-safe.
pub(crate) fn die_by(sig: i32) -> ! {
    if !is_pid_one() {
        // SAFETY: sigaction, sigprocmask and raise with valid arguments; a
        // zeroed sigaction with SIG_DFL is the default action.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &action, std::ptr::null_mut());
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(sig);
        }
    }
    hard_exit(128 + sig)
}

/// `_exit`: no exit hooks, no locks. Async-signal-safe.
pub(crate) fn hard_exit(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}
