//! The process's life, as every layer may touch it: whether a runtime
//! thread watches the shutdown, and the low-level door to start one (the
//! modules that make something to watch — a cleanup, a child, a worker, a
//! future waiting for the token — call [`ensure`]; the entry, `run`,
//! installs what starts the thread); and what each module forgets in the
//! child of a `fork` ([`after_fork`]). Nothing here knows the thread's work
//! or any module's state.

use std::io;
use std::sync::atomic::{AtomicU8, Ordering};

use once_cell::sync::OnceCell;

/// Whether a runtime thread is wanted and running: one load on the hot path.
static STATE: AtomicU8 = AtomicU8::new(NOT_INSTALLED);
const NOT_INSTALLED: u8 = 0;
const NOT_STARTED: u8 = 1;
const STARTING: u8 = 2;
const RUNNING: u8 = 3;

/// Starts the runtime thread: set by `run` when `#[graceful_main]` installs.
static STARTER: OnceCell<fn() -> io::Result<()>> = OnceCell::new();

/// The program runs under `#[graceful_main]`: from now on [`ensure`] starts
/// the runtime thread with `starter` (once).
pub(crate) fn install(starter: fn() -> io::Result<()>) {
    let _ = STARTER.set(starter);
    let _ = STATE.compare_exchange(NOT_INSTALLED, NOT_STARTED, Ordering::SeqCst, Ordering::SeqCst);
    after_fork(reset_after_fork);
}

/// Starts the runtime thread if the program runs under `#[graceful_main]`
/// and it is not running yet. Called where there starts to be something to
/// watch: the first guard or finalizer, a requested shutdown, a drain with
/// work. Costs one relaxed load once it runs.
#[inline]
pub(crate) fn ensure() {
    if STATE.load(Ordering::Relaxed) == NOT_STARTED {
        start();
    }
}

/// Whether the runtime thread has been started (it may still be starting).
pub(crate) fn is_started() -> bool {
    STATE.load(Ordering::SeqCst) >= STARTING
}

#[cold]
fn start() {
    if STATE
        .compare_exchange(NOT_STARTED, STARTING, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return;
    }
    let Some(starter) = STARTER.get() else {
        return;
    };
    match starter() {
        Ok(()) => STATE.store(RUNNING, Ordering::SeqCst),
        Err(err) => crate::log::always(format_args!(
            "cleanup: cannot start the runtime thread ({err}); \
             a stuck main keeps its cleanups from running"
        )),
    }
}

/// In the child of a `fork`: the parent's runtime thread is not here; the
/// first cleanup made in the child starts one of its own. Async-signal-safe.
fn reset_after_fork() {
    let _ = STATE.compare_exchange(RUNNING, NOT_STARTED, Ordering::SeqCst, Ordering::SeqCst);
}

/// Has `reset` run in the child of every `fork` (without `exec`), to forget
/// what of its module's state is the parent's: each module registers its
/// own when it first has some. `reset` must be async-signal-safe.
pub(crate) fn after_fork(reset: fn()) {
    if !crate::sys::hooks::after_fork(reset) {
        crate::log::always(format_args!(
            "cleanup: cannot register the fork hook; a forked child may run its parent's cleanups"
        ));
    }
}
