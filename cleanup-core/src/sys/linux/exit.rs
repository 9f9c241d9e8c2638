//! Leaving the process, with Linux's isolated flush of stdout.

use std::io::Write as _;
use std::time::Duration;

pub(crate) use crate::sys::unix::exit::hard_exit;

/// Whether [`flush_stdout_isolated`] may be called from a signal handler.
pub(crate) const FLUSH_FROM_HANDLER: bool = true;

/// Flushes what `print!` left in stdout's buffer, where its lock can be
/// taken without blocking, from any context, a signal handler included: a
/// copy of this process made by a raw `clone` (no fork handlers) flushes it
/// and exits. If stdout's lock is held (a thread stuck in `println!`) or the
/// copy fails, the copy is killed after a moment and this process goes on
/// untouched. Async-signal-safe in the parent.
pub(crate) fn flush_stdout_isolated() {
    const WAIT: Duration = Duration::from_millis(100);
    const STEP: Duration = Duration::from_millis(1);
    // SAFETY: clone(2) with only SIGCHLD, as fork(2) but without the C
    // library's fork handlers (which take locks). The child touches only
    // stdout's buffer and leaves with _exit.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            libc::SIGCHLD as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    } as libc::pid_t;
    if pid == 0 {
        let _ = std::io::stdout().flush();
        hard_exit(0);
    }
    if pid < 0 {
        return;
    }
    let mut waited = Duration::ZERO;
    loop {
        // SAFETY: waitpid(2) on the copy just made, without blocking.
        let done = unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if done != 0 {
            return;
        }
        if waited >= WAIT {
            // SAFETY: kill(2) and waitpid(2) on our own unreaped child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            return;
        }
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: STEP.as_nanos() as libc::c_long,
        };
        // SAFETY: nanosleep(2) with a timespec on this stack.
        unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
        waited += STEP;
    }
}
