//! Signal handlers, masks, and the process group and terminal questions
//! the handler asks.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

/// The signal numbers, this platform's.
pub(crate) mod numbers {
    pub(crate) use libc::{
        SIGABRT, SIGALRM, SIGBUS, SIGCHLD, SIGCONT, SIGFPE, SIGHUP, SIGILL, SIGINT, SIGKILL,
        SIGPIPE, SIGQUIT, SIGSEGV, SIGSTOP, SIGTERM, SIGTSTP, SIGUSR1, SIGUSR2, SIGWINCH,
    };
}

/// The signals a shutdown starts on unless the program names others.
pub(crate) const DEFAULT: &[i32] = &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

/// The interrupts, and the key a person presses for each: a second one
/// forces the exit.
pub(crate) const INTERRUPTS: &[(i32, &str)] = &[(libc::SIGINT, "Ctrl-C")];

/// The name of signal `sig` (`"SIGTERM"`), if it is one here.
pub(crate) fn name(sig: i32) -> Option<&'static str> {
    signal_hook::low_level::signal_name(sig)
}

/// A thread's signal mask, saved to be put back.
pub(crate) struct Mask(libc::sigset_t);

fn set_of(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialize and fill a set on this stack
    // (an all-zero `sigset_t` is a valid value to start from).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

fn change_mask(how: libc::c_int, set: &libc::sigset_t) -> Mask {
    // SAFETY: pthread_sigmask on the calling thread, reading a live set and
    // writing the old mask into one on this stack.
    unsafe {
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(how, set, &mut previous);
        Mask(previous)
    }
}

/// Blocks `signals` on the calling thread; returns the mask it had.
pub(crate) fn block(signals: &[i32]) -> Mask {
    change_mask(libc::SIG_BLOCK, &set_of(signals))
}

/// Blocks every signal on the calling thread; returns the mask it had.
/// Async-signal-safe.
pub(crate) fn block_all() -> Mask {
    // SAFETY: sigfillset fills a set on this stack.
    let all = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        all
    };
    change_mask(libc::SIG_SETMASK, &all)
}

/// Unblocks every signal on the calling thread (a process whose parent left
/// some blocked). Async-signal-safe.
pub(crate) fn unblock_all() {
    change_mask(libc::SIG_SETMASK, &set_of(&[]));
}

/// Puts back a mask saved by [`block`] or [`block_all`]; pending signals
/// are delivered now. Async-signal-safe.
pub(crate) fn restore(mask: &Mask) {
    // SAFETY: pthread_sigmask on the calling thread with a mask it had.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &mask.0, std::ptr::null_mut()) };
}

/// Where a signal came from, as far as the handler needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Our own deadline timer (see `timer`).
    Timer,
    /// A `kill` from this process's parent.
    Parent,
    /// Anything else: a `kill`, a terminal, the kernel.
    Sent,
    /// A console's close (Windows), after which the system ends the
    /// process this long after; never on Unix.
    #[allow(dead_code)]
    Closing(std::time::Duration),
}

/// Whether [`Origin::Parent`] is told apart from [`Origin::Sent`]: only
/// when the parent is one that forwards its signals (a system call per
/// signal saved otherwise).
static TELL_PARENT: AtomicBool = AtomicBool::new(false);

/// Has the handler tell a signal from the parent apart (see
/// [`Origin::Parent`]).
pub(crate) fn tell_parent_apart(tell: bool) {
    TELL_PARENT.store(tell, Ordering::Relaxed);
}

fn origin(info: &libc::siginfo_t) -> Origin {
    // The backend's timer knows its own signal (the baseline has none).
    if crate::sys::timer::fired(info) {
        return Origin::Timer;
    }
    if !TELL_PARENT.load(Ordering::Relaxed) {
        return Origin::Sent;
    }
    // SAFETY: reads the sender's pid from the siginfo the kernel gave the
    // handler (0 for the kernel's own, a terminal's); getppid(2) takes no
    // pointers. Both async-signal-safe.
    let (sender, parent) = unsafe { (info.si_pid(), libc::getppid()) };
    if parent > 1 && sender == parent {
        Origin::Parent
    } else {
        Origin::Sent
    }
}

/// Runs `handler(sig, origin)` when `sig` arrives, through signal-hook,
/// which chains: handlers set before ours still run, and later signal-hook
/// users coexist. `handler` runs in a signal context: it must be
/// async-signal-safe.
pub(crate) fn register(sig: i32, handler: fn(i32, Origin)) -> io::Result<()> {
    // SAFETY: sigaction through signal-hook-registry; the action calls
    // `handler`, which the caller promises is async-signal-safe.
    unsafe {
        signal_hook_registry::register_sigaction(sig, move |info| handler(sig, origin(info)))
    }?;
    Ok(())
}

/// Runs `wake` when `sig` arrives (chained as [`register`]). `wake` must be
/// async-signal-safe.
pub(crate) fn register_plain(sig: i32, wake: fn()) -> io::Result<()> {
    // SAFETY: as in `register`; the caller promises `wake` is
    // async-signal-safe.
    unsafe { signal_hook_registry::register(sig, wake) }?;
    Ok(())
}

/// Sets `sig` to its default action, unblocks it and raises it: the
/// process dies by it, unless `sig`'s default is to be ignored here (as
/// for PID 1 of a PID namespace), when this returns. Async-signal-safe.
pub(crate) fn raise_default(sig: i32) {
    // SAFETY: sigaction with a zeroed action set to SIG_DFL (its default),
    // then pthread_sigmask and raise with valid arguments.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(sig, &action, std::ptr::null_mut());
        let set = set_of(&[sig]);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(sig);
    }
}

/// With a controlling terminal, whether this process's group is its
/// foreground group; `None` without one. Asked through `/dev/tty`, so
/// redirected stdio changes nothing. Async-signal-safe: open(2),
/// tcgetpgrp, getpgrp(2) and close(2).
pub(crate) fn terminal_foreground() -> Option<bool> {
    // SAFETY: open(2) of a NUL-terminated literal path; the descriptor is
    // ours until the close(2) below; tcgetpgrp and getpgrp take no pointers.
    unsafe {
        let tty = libc::open(
            c"/dev/tty".as_ptr(),
            libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        );
        if tty < 0 {
            return None;
        }
        let foreground = libc::tcgetpgrp(tty);
        libc::close(tty);
        Some(foreground > 0 && foreground == libc::getpgrp())
    }
}

/// Whether this process leads a process group other than its parent's (a
/// child started in its own group, a daemon), which no terminal's Ctrl-C
/// aimed at the parent reaches.
pub(crate) fn leads_own_group() -> bool {
    // SAFETY: getpid, getppid, getpgrp and getpgid take no pointers.
    unsafe {
        // Not a group's leader (a child in its parent's group, the common
        // case under a supervisor): two system calls and no more.
        let group = libc::getpgrp();
        if group != libc::getpid() {
            return false;
        }
        let parent = libc::getppid();
        // PID 1 of a container has no parent here (0): not a group apart.
        parent > 0 && libc::getpgid(parent) != group
    }
}
