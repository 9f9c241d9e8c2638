//! How the process leaves, so its parent sees what happened.
//!
//! After a signal the honest exit is death by that same signal: shells and
//! supervisors look at `WIFSIGNALED`/`WTERMSIG`, and a shell loop stops on
//! Ctrl-C only if the child died of SIGINT.

use std::cell::Cell;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, Ordering};

use crate::config::Exit;
use crate::state::ExitReason;

/// The exit policy (`exit = "signal"|"code"|"zero"`), where a signal
/// handler can read it: [`Exit`] as a number.
static POLICY: AtomicU8 = AtomicU8::new(Exit::Signal as u8);

/// A thread is inside the C library's `exit`: a second `exit` would wait for
/// it forever, so the ordinary way out is `_exit`.
static IN_EXIT: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread is leaving the process on the shutdown's behalf: the exit
    /// hook it meets on the way has nothing left to do.
    static LEAVING: Cell<bool> = const { Cell::new(false) };
}

/// How the process ends if the deadline timer fires (the runtime thread did
/// not leave in time): a code (`>= 0`), a signal (`-n`), an abort, or unset.
static AT_DEADLINE: AtomicI64 = AtomicI64::new(UNSET);
const UNSET: i64 = i64::MIN;
const ABORT: i64 = i64::MIN + 1;

/// Records how the process ends should the deadline pass: what the
/// shutdown's runtime thread would end it with.
pub(crate) fn set_deadline_ending(ending: Ending) {
    let encoded = match ending {
        Ending::Code(code) => i64::from(code).max(0),
        Ending::Raise(sig) => -i64::from(sig),
        Ending::Abort => ABORT,
    };
    AT_DEADLINE.store(encoded, Ordering::SeqCst);
}

/// The ending recorded by [`set_deadline_ending`]. Async-signal-safe.
pub(crate) fn deadline_ending() -> Option<Ending> {
    match AT_DEADLINE.load(Ordering::SeqCst) {
        UNSET => None,
        ABORT => Some(Ending::Abort),
        code if code >= 0 => Some(Ending::Code(code as i32)),
        sig => Some(Ending::Raise((-sig) as i32)),
    }
}

/// Forgets the recorded ending (a forked child's shutdown is its own).
pub(crate) fn reset_deadline_ending() {
    AT_DEADLINE.store(UNSET, Ordering::SeqCst);
}

pub(crate) fn set_exiting() {
    IN_EXIT.store(true, Ordering::SeqCst);
}

/// Whether this thread is the one leaving on the shutdown's behalf.
pub(crate) fn leaving_here() -> bool {
    LEAVING.try_with(Cell::get).unwrap_or(false)
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
        let _ = LEAVING.try_with(|leaving| leaving.set(true));
        if let Ending::Code(code) = self {
            if !IN_EXIT.load(Ordering::SeqCst) {
                // `std::process::exit` flushes stdout itself, when it was
                // ever used and no thread holds it (flushing it here would
                // first set it up: 5 µs of an empty program's exit).
                std::process::exit(code);
            }
        }
        let _ = std::io::stdout().flush();
        match self {
            Ending::Code(code) => hard_exit(code),
            Ending::Raise(sig) => die_by(sig),
            Ending::Abort => std::process::abort(),
        }
    }

    /// Leaves at once, touching no lock: for the deadline, when a thread may
    /// be stuck holding stdout or inside `exit` itself.
    pub(crate) fn leave_now(self) -> ! {
        flush_stdout_isolated(false);
        match self {
            Ending::Code(code) => hard_exit(code),
            Ending::Raise(sig) => die_by(sig),
            Ending::Abort => std::process::abort(),
        }
    }
}

/// Sets the exit policy (at install).
pub(crate) fn set_policy(exit: Exit) {
    POLICY.store(exit as u8, Ordering::SeqCst);
}

fn policy() -> Exit {
    match POLICY.load(Ordering::SeqCst) {
        1 => Exit::Code,
        2 => Exit::Zero,
        _ => Exit::Signal,
    }
}

/// What a shutdown knows when it decides how the process ends.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Facts {
    /// `exit(code)` or `std::process::exit(code)` from inside a cleanup.
    pub(crate) final_code: Option<i32>,
    /// What `main` returned (or panicked) with: a requested shutdown's code.
    pub(crate) body_code: Option<i32>,
    /// The body returned in time, every cleanup finished without panicking,
    /// none was left unstarted, and the deadline was not hit.
    pub(crate) clean: bool,
}

/// How the process ends, for the first route out of it (`first`, as
/// `state::first` gives it) and what the shutdown knows: the one place the
/// status is decided. A cleanup's `exit(code)` decides; else the first
/// route, through the exit policy for a signal. Async-signal-safe.
pub(crate) fn decide(first: Option<(ExitReason, i32)>, facts: Facts) -> Ending {
    if let Some(code) = facts.final_code {
        return Ending::Code(code);
    }
    let (reason, code) = first.unwrap_or((ExitReason::Return, 0));
    match reason {
        ExitReason::Signal(sig) => match policy() {
            Exit::Signal => Ending::Raise(sig),
            Exit::Zero if facts.clean => Ending::Code(0),
            Exit::Code | Exit::Zero => Ending::Code(128 + sig),
        },
        ExitReason::Panic if cfg!(panic = "abort") => Ending::Abort,
        ExitReason::Requested => match facts.body_code.unwrap_or(0) {
            0 if !facts.clean => Ending::Code(1),
            code => Ending::Code(code),
        },
        _ => Ending::Code(code),
    }
}

/// Whether this process is the init of its PID namespace (a container's
/// entry point), where a signal sent to itself with the default action is
/// ignored. Only Linux has PID namespaces: elsewhere PID 1 is the system's
/// own init, never a program of ours, and this is `false` at compile time.
pub(crate) fn is_pid_one() -> bool {
    if !crate::sys::process::PID_NAMESPACES {
        return false;
    }
    // Asked on every way out: read once (a system call each time; see
    // `remember_pid_one`). Async-signal-safe.
    match PID_ONE.load(Ordering::Relaxed) {
        UNKNOWN => std::process::id() == 1,
        known => known == YES,
    }
}

/// Reads once whether this process is PID 1 (at install); a forked child,
/// never PID 1, forgets it.
pub(crate) fn remember_pid_one() {
    let one = std::process::id() == 1;
    PID_ONE.store(if one { YES } else { NO }, Ordering::Relaxed);
    crate::runtime::after_fork(|| PID_ONE.store(UNKNOWN, Ordering::Relaxed));
}

/// [`is_pid_one`]'s answer, once asked.
static PID_ONE: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const NO: u8 = 1;
const YES: u8 = 2;

/// How the parent sees an ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// An exit with this code.
    Code(i32),
    /// A death by this signal.
    Signal(i32),
    /// A re-raise of this signal that PID 1 turns into an exit with
    /// `128 + n` (see [`die_by`]).
    CodeForSignal(i32),
}

impl Ending {
    /// How the parent will see this ending. The PID 1 rule lives here and
    /// in [`die_by`], which applies it.
    pub(crate) fn seen(self) -> Seen {
        match self {
            Ending::Raise(sig) if is_pid_one() => Seen::CodeForSignal(sig),
            Ending::Raise(sig) => Seen::Signal(sig),
            Ending::Code(code) => Seen::Code(code),
            Ending::Abort => Seen::Signal(crate::signal::SIGABRT),
        }
    }
}

/// Dies by `sig`: restores its default action, unblocks it and raises it. As
/// PID 1, where that is a no-op, exits with `128 + sig`. Async-signal-safe.
pub(crate) fn die_by(sig: i32) -> ! {
    if let Seen::Signal(sig) = Ending::Raise(sig).seen() {
        crate::sys::signals::raise_default(sig);
    }
    hard_exit(128 + sig)
}

/// `_exit`: no exit hooks, no locks. Async-signal-safe.
pub(crate) fn hard_exit(code: i32) -> ! {
    crate::sys::exit::hard_exit(code)
}

/// Flushes what `print!` left in stdout's buffer where that cannot block
/// (see `sys::exit`). From a signal handler only where the platform's way
/// allows it (`in_handler`; Linux's does); elsewhere it does nothing there.
pub(crate) fn flush_stdout_isolated(in_handler: bool) {
    if !in_handler || crate::sys::exit::FLUSH_FROM_HANDLER {
        crate::sys::exit::flush_stdout_isolated();
    }
}
