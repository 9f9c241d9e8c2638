//! The C library's hooks: in the child of a `fork`, and at `exit`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

use once_cell::sync::OnceCell;

/// The hooks run in the child of a `fork`, in the order registered: each
/// module registers the reset of its own state when it first has some (up
/// to seven do; room for sixteen).
static AFTER_FORK: [AtomicUsize; 16] = [const { AtomicUsize::new(0) }; 16];
static AT_EXIT: OnceCell<fn(i32)> = OnceCell::new();

/// Has `hook` run in the child of every `fork` (with one thread alive, so
/// it must be async-signal-safe). A hook registered twice runs once.
/// Returns whether the C library took it.
pub(crate) fn after_fork(hook: fn()) -> bool {
    static REGISTER: Once = Once::new();
    let raw = hook as usize;
    for slot in &AFTER_FORK {
        match slot.compare_exchange(0, raw, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => break,
            Err(present) if present == raw => break,
            Err(_) => {}
        }
    }
    if cfg!(miri) {
        // (No `pthread_atfork` under Miri: the registry's unit tests.)
        return true;
    }
    let mut taken = true;
    REGISTER.call_once(|| {
        // SAFETY: registers a function the C library calls in the child of
        // every `fork`; it only reads atomics and calls the hooks.
        taken = unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) == 0 };
    });
    taken
}

extern "C" fn after_fork_in_child() {
    for slot in &AFTER_FORK {
        let raw = slot.load(Ordering::SeqCst);
        if raw == 0 {
            break;
        }
        // SAFETY: every non-zero slot holds a `fn()` stored by `after_fork`.
        let hook: fn() = unsafe { std::mem::transmute::<usize, fn()>(raw) };
        hook();
    }
}

/// Has `hook(status)` run when the process calls `exit` (`std::process::exit`,
/// or a return from a plain `main`), on the exiting thread. Once per
/// process. Returns whether the C library took it. Where the C library
/// does not pass the status to its hooks, `status` is 0.
pub(crate) fn at_exit(hook: fn(i32)) -> bool {
    if AT_EXIT.set(hook).is_err() || cfg!(miri) {
        // (No C exit hooks under Miri: the registry's unit tests.)
        return true;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn on_exit(
                function: extern "C" fn(libc::c_int, *mut libc::c_void),
                arg: *mut libc::c_void,
            ) -> libc::c_int;
        }
        extern "C" fn with_status(status: libc::c_int, _arg: *mut libc::c_void) {
            run_at_exit(status);
        }
        // SAFETY: registers a function with the C library's exit handlers;
        // `on_exit` is glibc's `atexit` that also passes the exit status.
        unsafe { on_exit(with_status, std::ptr::null_mut()) == 0 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        extern "C" fn without_status() {
            // The status is not known here; 0 is what a plain return reports.
            run_at_exit(0);
        }
        // SAFETY: registers a function with the C library's exit handlers.
        unsafe { libc::atexit(without_status) == 0 }
    }
}

fn run_at_exit(status: i32) {
    if let Some(hook) = AT_EXIT.get() {
        // A panic must not unwind into the C library.
        let _ = std::panic::catch_unwind(|| hook(status));
    }
}
