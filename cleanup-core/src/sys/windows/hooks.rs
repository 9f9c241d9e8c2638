//! The C runtime's hooks: at `exit`. There is no `fork` on Windows.

use once_cell::sync::OnceCell;

static AT_EXIT: OnceCell<fn(i32)> = OnceCell::new();

/// There is no `fork`: nothing to run in a child. Always taken.
pub(crate) fn after_fork(_hook: fn()) -> bool {
    true
}

/// Has `hook(0)` run when the process calls the C runtime's `exit`, on the
/// exiting thread (the status is not passed). Once per process. Returns
/// whether the C runtime took it.
pub(crate) fn at_exit(hook: fn(i32)) -> bool {
    if AT_EXIT.set(hook).is_err() {
        return true;
    }
    extern "C" fn without_status() {
        if let Some(hook) = AT_EXIT.get() {
            // A panic must not unwind into the C runtime.
            let _ = std::panic::catch_unwind(|| hook(0));
        }
    }
    // SAFETY: registers a function with the C runtime's exit handlers.
    unsafe { libc::atexit(without_status) == 0 }
}
