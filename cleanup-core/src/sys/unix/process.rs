//! Processes: groups, signals to children, and waiting without reaping.

use std::io;
use std::process::Command;

/// Whether a program can be PID 1 of a namespace of its own (a container's
/// entry point), with an init's duties: Linux's PID namespaces. The
/// baseline tells the OS, not the backend: a portable build on Linux still
/// runs in containers.
pub(crate) const PID_NAMESPACES: bool = cfg!(target_os = "linux");

/// What the system offers so a child dies with this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeathSignal {
    /// Nothing (macOS, the portable baseline): the guardian covers it.
    #[cfg_attr(target_os = "freebsd", allow(dead_code))]
    None,
    /// Sent when the *thread* that forked the child ends (Linux): children
    /// are forked from one thread that lives as long as the process.
    PerThread,
    /// Sent when the process ends (FreeBSD's `procctl`).
    #[cfg_attr(not(target_os = "freebsd"), allow(dead_code))]
    PerProcess,
}

/// What [`die_with_parent`] sets up here.
#[cfg(target_os = "freebsd")]
pub(crate) const DEATH_SIGNAL: DeathSignal = DeathSignal::PerProcess;
#[cfg(not(target_os = "freebsd"))]
pub(crate) const DEATH_SIGNAL: DeathSignal = DeathSignal::None;

/// Has the child that `command` starts be SIGKILLed when this process
/// ends, where the system can (see [`DEATH_SIGNAL`]).
pub(crate) fn die_with_parent(command: &mut Command) {
    #[cfg(target_os = "freebsd")]
    {
        use std::os::unix::process::CommandExt as _;

        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe system calls (procctl, getppid, raise)
        // with a signal number on its own stack.
        unsafe {
            command.pre_exec(move || {
                let mut sig: libc::c_int = libc::SIGKILL;
                libc::procctl(
                    libc::P_PID,
                    0,
                    libc::PROC_PDEATHSIG_CTL,
                    (&mut sig as *mut libc::c_int).cast(),
                );
                // The parent may have died before the procctl: no signal then.
                if libc::getppid() as u32 != parent {
                    libc::raise(libc::SIGKILL);
                }
                Ok(())
            })
        };
    }
    let _ = command;
}

/// Nothing to do once the child exists: [`die_with_parent`] set it up.
pub(crate) fn adopt(_child: &std::process::Child) {}

/// This process's group.
pub(crate) fn own_group() -> i32 {
    // SAFETY: getpgrp(2) has no arguments and cannot fail.
    unsafe { libc::getpgrp() }
}

/// The process group of `pid` (a child of ours, not reaped), or -1.
pub(crate) fn group_of(pid: i32) -> i32 {
    // SAFETY: getpgid(2) takes no pointers.
    unsafe { libc::getpgid(pid) }
}

/// This process's parent.
pub(crate) fn parent() -> i32 {
    // SAFETY: getppid(2) has no preconditions.
    unsafe { libc::getppid() }
}

/// Sends `sig` to `target` (a pid, or `-pgid` for a group); `Ok(false)` if
/// there is no such process. The caller makes sure `target` is still its
/// own (not reaped, so not reused).
pub(crate) fn kill(target: i32, sig: i32) -> io::Result<bool> {
    // SAFETY: kill(2) takes no pointers.
    if unsafe { libc::kill(target, sig) } == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ESRCH) => Ok(false),
        _ => Err(err),
    }
}

/// What `target` gets when [`kill`] sends it `sig`: `sig` itself.
pub(crate) fn sent_as(sig: i32) -> i32 {
    sig
}

/// Whether our child `pid` has ended, leaving it unreaped.
pub(crate) fn has_ended(pid: i32) -> bool {
    // SAFETY: waitid(2) on our own child with WNOWAIT (it stays a zombie),
    // writing into a zeroed siginfo_t on this stack.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        ) == 0
            && info.si_pid() == pid
    }
}

/// Blocks until our child `pid` has ended, leaving it unreaped (its pid
/// stays ours); an error if it is not our unreaped child.
pub(crate) fn wait_ended(pid: i32) -> io::Result<()> {
    // SAFETY: waitid(2) on our own child with WNOWAIT, writing into a
    // zeroed siginfo_t on this stack.
    let result = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT,
        )
    };
    if result != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A child of ours that has ended and is not reaped yet, if any.
pub(crate) fn ended_child() -> Option<i32> {
    // SAFETY: waitid(2) for any child, not blocking and not reaping,
    // writing into a zeroed siginfo_t on this stack.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let result = libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        (result == 0 && info.si_pid() > 0).then(|| info.si_pid())
    }
}

/// Reaps our child `pid` if it has ended.
pub(crate) fn reap(pid: i32) {
    // SAFETY: waitpid(2) on a child of ours, not blocking.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
}

/// Runs `f` in a forked copy of this process that then leaves with
/// `_exit(0)`; whether it did. For tests of what a `fork`ed child does:
/// `f` must make only async-signal-safe calls (the other threads are absent
/// in the child).
#[cfg(test)]
pub(crate) fn in_forked_child(f: impl FnOnce()) -> bool {
    // SAFETY: fork(2); the child runs `f`, which the caller keeps
    // async-signal-safe, then `_exit`, running nothing of the parent's.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork: {}", io::Error::last_os_error());
    if child == 0 {
        f();
        crate::sys::unix::exit::hard_exit(0);
    }
    let mut status = 0;
    // SAFETY: waits for our own child, with a pointer to a live int.
    let waited = unsafe { libc::waitpid(child, &mut status, 0) };
    waited == child && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}
