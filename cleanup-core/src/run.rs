//! The one entry `#[graceful_main]` calls, and the calls that end the process
//! on purpose: [`request_shutdown`] and [`exit`].

use std::any::Any;
use std::error::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{ExitCode, Termination};
use std::cell::Cell;
use std::thread;


use crate::config::Config;
use crate::sys::bell::{Heard, Listener};
use crate::state::{self, ExitReason, ExitUnwind, Shutdown};
use crate::{hooks, log, registry, shutdown, signals};

/// The guardian, for [`Config::guardian`](crate::config::Config::guardian):
/// named in the expansion only with `guardian`.
pub const GUARDIAN: crate::config::Guardian = crate::config::Guardian {
    serve_if_asked: crate::guardian::serve_if_asked,
    start: crate::guardian::start,
};

thread_local! {
    /// This thread runs `main`'s body: the one [`exit`] unwinds. (A flag
    /// set at install: asking `thread::current()` there cost 3.6 µs of the
    /// start-up.)
    static ON_MAIN: Cell<bool> = const { Cell::new(false) };
}

/// Runs `main`'s body under the runtime, then the cleanups, then leaves with
/// the status the parent expects. What `#[graceful_main]` expands to.
///
/// ```no_run
/// use cleanup::__private::{run, Config};
///
/// fn main() {
///     run(Config::new().timeout_ms(5000), move || {
///         let _guard = cleanup::guard(|| println!("cleaned up"));
///     })
/// }
/// ```
pub fn run<T: Termination + 'static>(config: Config, body: impl FnOnce() -> T) -> ! {
    install(config);
    finish_body(catch_unwind(AssertUnwindSafe(body)))
}

/// What happens once `main`'s body has returned or unwound.
fn finish_body<T: Termination + 'static>(outcome: std::thread::Result<T>) -> ! {
    let (reason, code) = settle_outcome(outcome);
    shutdown::end(reason, code)
}

/// Why the process ends and with which code, from how the body ended.
pub(crate) fn settle_outcome<T: Termination + 'static>(
    outcome: std::thread::Result<T>,
) -> (ExitReason, i32) {
    match outcome {
        Ok(value) => settle(value),
        Err(payload) => match payload.downcast_ref::<ExitUnwind>() {
            Some(&ExitUnwind(code)) => (ExitReason::Exit(code), code),
            None => (ExitReason::Panic, 101),
        },
    }
}

pub(crate) fn install(config: Config) {
    // The guardian is this same program run again: it serves, never
    // returning here. (A program without `guardian` starts none, so is
    // never run as one.)
    if let Some(guardian) = config.guardian {
        (guardian.serve_if_asked)();
    }
    // While the process has one thread, and before the guardian's launch.
    crate::registry::prepare();
    let config = config.with_env();
    if let Some(guardian) = config.guardian {
        // First: the process still has one thread.
        (guardian.start)(config.timeout);
    }
    log::set_quiet(config.quiet);
    crate::exit_status::remember_pid_one();
    ON_MAIN.with(|on_main| on_main.set(true));
    hooks::install_panic_hook();
    hooks::install_process_exit_hook();
    crate::notify::init();
    shutdown::configure(config);
    crate::runtime::install(start_runtime);
    if let Err(err) =
        signals::install(config.signals, config.timeout, config.drain_delay, config.exit)
    {
        log::always(format_args!(
            "cleanup: cannot install signal handlers ({err})"
        ));
    }
    if crate::exit_status::is_pid_one() {
        // A container's entry point: orphans are ours to reap, from the start.
        if let Err(err) = signals::install_reaper() {
            log::always(format_args!(
                "cleanup: cannot watch for orphans to reap ({err})"
            ));
        }
        crate::runtime::ensure();
    }
    if !signals::has_timer() || crate::notify::enabled() || log::ROUTABLE {
        // No deadline timer here, systemd to keep informed from the first
        // signal on, or a subscriber that may take the start event (which
        // the handler cannot emit): the runtime thread watches from the start.
        crate::runtime::ensure();
    }
    if let Some(interval) = crate::notify::watchdog_interval() {
        start_watchdog(interval);
    }
}

/// Under systemd's watchdog (`WATCHDOG_USEC`): every quarter interval,
/// WATCHDOG=1 if the program made progress (a `checkpoint()` or `sleep()`
/// on any thread) within the last half interval; none once it stops making
/// progress, so systemd restarts a stuck service. Until the shutdown, which
/// systemd does not watch.
fn start_watchdog(interval: std::time::Duration) {
    let started = thread::Builder::new()
        .name("cleanup-watchdog".into())
        .spawn(move || {
            signals::block_on_this_thread(shutdown::signals());
            while !state::is_shutting_down() {
                crate::notify::watchdog_tick();
                thread::sleep(interval / 4);
            }
        });
    if let Err(err) = started {
        log::always(format_args!(
            "cleanup: cannot start the watchdog thread ({err}); systemd's watchdog will fire"
        ));
    }
}

/// Starts the runtime thread (see `runtime::ensure`), which then keeps
/// the deadline: the signal handler's timer is no longer needed.
fn start_runtime() -> std::io::Result<()> {
    spawn_runtime_thread()?;
    signals::set_watched();
    Ok(())
}

fn spawn_runtime_thread() -> std::io::Result<()> {
    let (ringer, listener) = crate::sys::bell::new()?;
    // Kept open for the process's life, owned by the handler's atomic.
    signals::set_wake_fd(ringer);
    let signals = shutdown::signals();
    thread::Builder::new()
        .name("cleanup-runtime".into())
        .spawn(move || {
            signals::block_on_this_thread(signals);
            runtime_thread(listener)
        })?;
    Ok(())
}

/// Sleeps until the first sign of shutdown, then enforces its budget.
fn runtime_thread(mut bell: Listener) {
    let reaper = crate::exit_status::is_pid_one();
    let mut told = false;
    while !state::is_shutting_down() {
        // Serving a drain delay: the shutdown starts when it ends. systemd
        // hears at once, and its stop timeout is extended every second.
        let delay = signals::delay_until();
        if let Some(until) = delay {
            shutdown::tell_systemd_the_delay(until, !told);
            told = true;
        }
        let mut step = None;
        if let Some(until) = delay {
            match until.checked_duration_since(std::time::Instant::now()) {
                Some(left) if !left.is_zero() => {
                    step = Some(left.min(std::time::Duration::from_secs(1)));
                }
                _ => {
                    signals::end_delay();
                    continue;
                }
            }
        }
        if bell.wait(step) == Heard::Closed {
            return;
        }
        if reaper {
            crate::children::reap_orphans();
        }
    }
    if let Some((reason @ ExitReason::Signal(sig), _)) = state::first() {
        shutdown::start(reason, sig);
    }
    shutdown::watch()
}

/// The exit code and reason for what `main` returned. `Err(Shutdown)` during
/// a shutdown is the program doing as asked, not an error: it is not printed.
fn settle<T: Termination + 'static>(value: T) -> (ExitReason, i32) {
    if state::is_shutting_down() && is_shutdown_error(&value) {
        return (ExitReason::Return, 0);
    }
    let code = code_of(value.report());
    let reason = if code == 0 {
        ExitReason::Return
    } else {
        ExitReason::Error
    };
    (reason, code)
}

/// Recognizes `Err(Shutdown)` in the return types `main` commonly has
/// (`Result<(), E>` and `Result<ExitCode, E>`): `E` is `Shutdown` itself, or
/// an error whose chain of sources holds one — boxed, carried by an
/// `io::Error`, or (features `anyhow`, `eyre`) under any layers of context.
fn is_shutdown_error(value: &dyn Any) -> bool {
    /// The error of a `Result<(), E>` or `Result<ExitCode, E>`.
    fn err<E: 'static>(value: &dyn Any) -> Option<&E> {
        match value.downcast_ref::<Result<(), E>>() {
            Some(result) => result.as_ref().err(),
            None => value.downcast_ref::<Result<ExitCode, E>>()?.as_ref().err(),
        }
    }
    if err::<Shutdown>(value).is_some() {
        return true;
    }
    if let Some(err) = err::<Box<dyn Error>>(value) {
        return holds(&**err);
    }
    if let Some(err) = err::<Box<dyn Error + Send>>(value) {
        return holds(&**err);
    }
    if let Some(err) = err::<Box<dyn Error + Send + Sync>>(value) {
        return holds(&**err);
    }
    if let Some(err) = err::<std::io::Error>(value) {
        return holds(err);
    }
    #[cfg(feature = "anyhow")]
    if let Some(err) = err::<anyhow::Error>(value) {
        // The chain starts at the outermost context and ends at the root.
        return err.chain().any(is_shutdown);
    }
    #[cfg(feature = "eyre")]
    if let Some(err) = err::<eyre::Report>(value) {
        return err.chain().any(is_shutdown);
    }
    false
}

/// Whether `err` or one of its sources is a `Shutdown`.
fn holds(err: &(dyn Error + 'static)) -> bool {
    let mut link = Some(err);
    while let Some(err) = link {
        if is_shutdown(err) {
            return true;
        }
        link = err.source();
    }
    false
}

/// One link of a chain: `Shutdown`, or an `io::Error` made from one (whose
/// `source()` skips the error it carries, so that one is looked at here).
fn is_shutdown(err: &(dyn Error + 'static)) -> bool {
    err.is::<Shutdown>()
        || err
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            .is_some_and(|inner| holds(inner))
}

/// `ExitCode` keeps its number private; it compares, though.
fn code_of(code: ExitCode) -> i32 {
    (0..=u8::MAX)
        .find(|&n| ExitCode::from(n) == code)
        .map_or(1, i32::from)
}

/// Starts a shutdown from the program itself, as a signal would: the token is
/// cancelled, `checkpoint()` and `sleep()` return `Err(Shutdown)`, and the
/// deadline runs. When `main` then returns (even as `Err(Shutdown)`), the
/// process exits with 0.
///
/// ```
/// cleanup::request_shutdown();
/// assert!(cleanup::is_shutting_down());
/// assert_eq!(cleanup::reason(), Some(cleanup::ExitReason::Requested));
/// ```
pub fn request_shutdown() {
    crate::runtime::ensure();
    shutdown::start(ExitReason::Requested, 0);
}

/// Runs the cleanups, then exits with `code`.
///
/// Called on `main`'s thread, it unwinds that thread first, so the values in
/// `main`'s frames are dropped as on a return. Called on another thread, the
/// cleanups run there and `main`'s frames are not unwound. Called from inside
/// a cleanup while the process is ending, it ends that cleanup, makes `code`
/// the exit status, and the remaining cleanups still run (as Ruby's
/// `exit` inside `at_exit`).
///
/// The status is that of the first route out of the process: if a signal or
/// another `exit` came first, this call joins that shutdown instead.
///
/// ```no_run
/// cleanup::exit(3);
/// ```
pub fn exit(code: i32) -> ! {
    if state::is_shutting_down() && registry::in_cleanup() {
        if cfg!(panic = "unwind") {
            shutdown::set_final_code(code);
            // Caught by whatever runs the cleanup: it is over.
            std::panic::resume_unwind(Box::new(ExitUnwind(code)));
        }
        shutdown::leave_or_wait(shutdown::exit_inside_cleanup(code))
    }
    let on_main = ON_MAIN.try_with(Cell::get).unwrap_or(false);
    if on_main && cfg!(panic = "unwind") {
        shutdown::start(ExitReason::Exit(code), code);
        // Not a panic: no hook runs, no message; `run` catches it.
        std::panic::resume_unwind(Box::new(ExitUnwind(code)));
    }
    shutdown::end(ExitReason::Exit(code), code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_keep_their_number() {
        assert_eq!(code_of(ExitCode::SUCCESS), 0);
        assert_eq!(code_of(ExitCode::FAILURE), 1);
        assert_eq!(code_of(ExitCode::from(42)), 42);
    }

    #[test]
    fn shutdown_errors_are_recognized_through_boxes() {
        let plain: Result<(), Shutdown> = Err(Shutdown);
        assert!(is_shutdown_error(&plain));
        let boxed: Result<(), Box<dyn Error>> = Err(Box::new(Shutdown));
        assert!(is_shutdown_error(&boxed));
        let io: Result<(), std::io::Error> = Err(Shutdown.into());
        assert!(is_shutdown_error(&io));
        let other: Result<(), Box<dyn Error + Send + Sync>> = Err("disk full".into());
        assert!(!is_shutdown_error(&other));
        assert!(!is_shutdown_error(&Ok::<(), Shutdown>(())));
    }

    /// An error of our own that carries another as its source, as a
    /// library's error type wraps the one it got.
    #[derive(Debug)]
    struct Wrapped(Box<dyn Error + Send + Sync>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("while working")
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn shutdown_errors_are_recognized_down_a_chain_of_sources() {
        let wrapped: Result<(), Box<dyn Error>> = Err(Box::new(Wrapped(Box::new(Shutdown))));
        assert!(is_shutdown_error(&wrapped));
        let io_in_wrapped: Result<(), Box<dyn Error + Send + Sync>> = Err(Box::new(Wrapped(
            Box::new(std::io::Error::from(Shutdown)),
        )));
        assert!(is_shutdown_error(&io_in_wrapped));
        let wrapped_in_io: Result<(), std::io::Error> =
            Err(std::io::Error::other(Wrapped(Box::new(Shutdown))));
        assert!(is_shutdown_error(&wrapped_in_io));
        let other: Result<(), Box<dyn Error>> = Err(Box::new(Wrapped("disk full".into())));
        assert!(!is_shutdown_error(&other));
    }

    #[test]
    fn shutdown_errors_are_recognized_beside_an_exit_code() {
        assert!(is_shutdown_error(&Err::<ExitCode, Shutdown>(Shutdown)));
        let boxed: Result<ExitCode, Box<dyn Error>> = Err(Box::new(Shutdown));
        assert!(is_shutdown_error(&boxed));
        assert!(!is_shutdown_error(&Ok::<ExitCode, Shutdown>(ExitCode::SUCCESS)));
        let other: Result<ExitCode, std::io::Error> = Err(std::io::Error::other("disk full"));
        assert!(!is_shutdown_error(&other));
    }

    #[cfg(feature = "anyhow")]
    #[test]
    fn shutdown_errors_are_recognized_in_anyhow_under_context() {
        use anyhow::Context as _;
        let plain: anyhow::Result<()> = Err(Shutdown.into());
        assert!(is_shutdown_error(&plain));
        let context: anyhow::Result<()> = Err(Shutdown).context("while copying");
        assert!(is_shutdown_error(&context));
        let layers: anyhow::Result<()> = Err(Shutdown)
            .context("while copying")
            .context("while syncing")
            .context("in the nightly job");
        assert!(is_shutdown_error(&layers));
        let io: anyhow::Result<()> = Err(std::io::Error::from(Shutdown)).context("while reading");
        assert!(is_shutdown_error(&io));
        let code: anyhow::Result<ExitCode> = Err(Shutdown).context("while copying");
        assert!(is_shutdown_error(&code));
        let other: anyhow::Result<()> = Err(anyhow::anyhow!("disk full")).context("while copying");
        assert!(!is_shutdown_error(&other));
    }

    #[cfg(feature = "eyre")]
    #[test]
    fn shutdown_errors_are_recognized_in_eyre_under_context() {
        use eyre::WrapErr as _;
        let plain: eyre::Result<()> = Err(Shutdown.into());
        assert!(is_shutdown_error(&plain));
        let layers: eyre::Result<()> = Err(Shutdown)
            .wrap_err("while copying")
            .wrap_err("in the nightly job");
        assert!(is_shutdown_error(&layers));
        let io: eyre::Result<()> = Err(std::io::Error::from(Shutdown)).wrap_err("while reading");
        assert!(is_shutdown_error(&io));
        let code: eyre::Result<ExitCode> = Err(Shutdown).wrap_err("while copying");
        assert!(is_shutdown_error(&code));
        let other: eyre::Result<()> = Err(eyre::eyre!("disk full")).wrap_err("while copying");
        assert!(!is_shutdown_error(&other));
    }
}
