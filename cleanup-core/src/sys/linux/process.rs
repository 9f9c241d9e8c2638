//! Processes, with Linux's parent-death signal.

use std::process::Command;

pub(crate) use crate::sys::unix::process::{
    adopt, ended_child, group_of, has_ended, kill, own_group, parent, reap, sent_as, wait_ended,
    DeathSignal, PID_NAMESPACES,
};
#[cfg(test)]
pub(crate) use crate::sys::unix::process::in_forked_child;

/// `PR_SET_PDEATHSIG` follows the thread that forked the child.
pub(crate) const DEATH_SIGNAL: DeathSignal = DeathSignal::PerThread;

/// Has the child that `command` starts be SIGKILLed when the thread that
/// forks it ends (`PR_SET_PDEATHSIG`).
pub(crate) fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;

    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe system calls (prctl, getppid, raise).
    unsafe {
        command.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            // The parent may have died before the prctl: no signal then.
            if libc::getppid() as u32 != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        })
    };
}
