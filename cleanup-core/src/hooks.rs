//! The ways out of a process that bypass `main`'s return: a panic that
//! aborts, and `exit` called anywhere. Both run the cleanups on the thread
//! that is leaving, then let the process go on its way.

use std::sync::Once;

use crate::exit_status::Ending;
use crate::shutdown;
use crate::state::ExitReason;

/// Parks this thread for good: another thread owns the end of the process
/// and will end it.
pub(crate) fn wait_for_the_end() -> ! {
    loop {
        std::thread::park();
    }
}

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
            if crate::registry::in_cleanup() {
                return;
            }
            match shutdown::clean_up_here(ExitReason::Panic, 101) {
                // The abort that follows the hook is the right end.
                Some(Ending::Abort) => {}
                // A route before the panic decides how the process ends.
                Some(ending) => ending.leave(),
                None => wait_for_the_end(),
            }
        }));
    });
}

/// Registers, once, the hook that makes a `fork`ed child forget its
/// parent's cleanups.
pub(crate) fn install_fork_hook() {
    if !crate::sys::hooks::after_fork(after_fork_in_child) {
        crate::log::always(format_args!(
            "cleanup: cannot register the fork hook; a forked child may run its parent's cleanups"
        ));
    }
}

/// Registers, once, the hook that runs the cleanups when the process calls
/// `exit` (`std::process::exit`, or returning from a plain `main`).
pub(crate) fn install_process_exit_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        install_fork_hook();
        if !crate::sys::hooks::at_exit(run_at_exit) {
            crate::log::always(format_args!(
                "cleanup: cannot register the exit hook; `std::process::exit` will skip cleanups"
            ));
        }
    });
}

/// The process is calling `exit(status)` on this thread.
fn run_at_exit(status: i32) {
    if crate::exit_status::leaving_here() {
        return; // the shutdown itself is leaving: its cleanups are done
    }
    {
        crate::exit_status::set_exiting();
        let ending = if crate::state::is_shutting_down() && crate::registry::in_cleanup() {
            // Inside a cleanup: `status` is final, and the rest still run.
            shutdown::exit_inside_cleanup(status)
        } else {
            shutdown::clean_up_here(ExitReason::Exit(status), status)
        };
        match ending {
            // The C library goes on to exit with `status`.
            Some(Ending::Code(code)) if code == status => {}
            Some(ending) => ending.leave(),
            // Another route owns the end: returning would cut it short.
            None => wait_for_the_end(),
        }
    }
}

/// In the child of a `fork` (without `exec`): the parent's cleanups,
/// children, workers, timer and runtime thread are not this process's. Its
/// own, made from now on, work as usual.
fn after_fork_in_child() {
    crate::registry::forget_all_after_fork();
    crate::children::forget_after_fork();
    crate::guardian::forget_after_fork();
    crate::thread::forget_after_fork();
    crate::signals::reset_after_fork();
    crate::run::reset_after_fork();
}
