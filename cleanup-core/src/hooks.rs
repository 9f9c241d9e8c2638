//! The ways out of a process that bypass `main`'s return: a panic that
//! aborts, and `exit` called anywhere. Both run the cleanups on the thread
//! that is leaving, then let the process go on its way. [`on_exit`] is
//! here: a finalizer is what `exit` must not skip.

use std::panic::Location;
use std::sync::Once;

use crate::exit_status::Ending;
use crate::registry::{self, Finalizer};
use crate::shutdown;
use crate::state::ExitReason;

/// Registers `f` to run once when the process ends, however it ends (as
/// `atexit`, but also on signals, panics and `std::process::exit`). Finalizers
/// run after every guard, newest first.
///
/// ```
/// cleanup::on_exit(|| eprintln!("bye"));
/// ```
#[track_caller]
pub fn on_exit<F>(f: F) -> Finalizer
where
    F: FnOnce() + Send + 'static,
{
    finalizer(Location::caller(), 0, f)
}

/// A finalizer made at `at`, with the guardian's id of its work (0: a
/// closure of this process only), once the exit hook is in place.
pub(crate) fn finalizer(
    at: &'static Location<'static>,
    durable: u64,
    f: impl FnOnce() + Send + 'static,
) -> Finalizer {
    install_process_exit_hook();
    registry::finalizer(at, durable, f)
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
                ending => shutdown::leave_or_wait(ending),
            }
        }));
    });
}

/// Registers, once, the hook that runs the cleanups when the process calls
/// `exit` (`std::process::exit`, or returning from a plain `main`).
pub(crate) fn install_process_exit_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
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
        // (Another route owns the end: returning would cut it short.)
        ending => shutdown::leave_or_wait(ending),
    }
}
