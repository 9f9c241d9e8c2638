//! The ways out of a process that bypass `main`'s return: a panic that
//! aborts, and `exit` called anywhere. Both run the cleanups on the thread
//! that is leaving, then let the process go on its way.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;

use crate::shutdown;
use crate::state::ExitReason;

/// The pid that installed the exit hook: a forked child must not run the
/// parent's cleanups when it exits.
static OWNER: AtomicU32 = AtomicU32::new(0);

/// Chains a panic hook that, when panics abort, runs the cleanups before the
/// abort. (When panics unwind, the unwinding itself leads to the cleanups.)
pub(crate) fn install_panic_hook() {
    if cfg!(panic = "unwind") {
        return;
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if !shutdown::in_cleanup() {
                shutdown::clean_up_here(ExitReason::Panic, 101);
            }
        }));
    });
}

/// Registers, once, the hook that runs the cleanups when the process calls
/// `exit` (`std::process::exit`, or returning from a plain `main`).
pub(crate) fn install_process_exit_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        OWNER.store(std::process::id(), Ordering::SeqCst);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: registers a function with the C library's exit handlers;
        // `on_exit` is glibc's `atexit` that also passes the exit status.
        let status = unsafe { on_exit(at_exit_with_status, std::ptr::null_mut()) };
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        // SAFETY: registers a function with the C library's exit handlers.
        let status = unsafe { libc::atexit(at_exit) };
        if status != 0 {
            crate::log::always(format_args!(
                "cleanup: cannot register the exit hook; `std::process::exit` will skip cleanups"
            ));
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    fn on_exit(
        function: extern "C" fn(libc::c_int, *mut libc::c_void),
        arg: *mut libc::c_void,
    ) -> libc::c_int;
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn at_exit_with_status(status: libc::c_int, _arg: *mut libc::c_void) {
    run_at_exit(status);
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
extern "C" fn at_exit() {
    // The status is not known here; 0 is what a plain return reports.
    run_at_exit(0);
}

fn run_at_exit(status: i32) {
    if OWNER.load(Ordering::SeqCst) != std::process::id() {
        return;
    }
    // A panic must not unwind into the C library.
    let _ = std::panic::catch_unwind(|| {
        crate::exit_status::set_exiting();
        shutdown::clean_up_here(ExitReason::Exit(status), status);
    });
}
