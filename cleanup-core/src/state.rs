//! The shutdown state every thread can ask about: is the process ending, and why.
//!
//! Two atomics carry the hot path ([`checkpoint`] is one relaxed load while the
//! process runs) and are the only state the signal handler touches; the reason
//! and the wake-up of blocked waiters live behind a mutex that only the slow
//! path takes.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Set once the process is ending, by whatever ends it (through
/// [`mark_shutting_down`], here alone). Never cleared.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// The first route out of the process and its code, claimed once (by a
/// compare-exchange, so the signal handler can claim it too): `tag << 32 |
/// value`, 0 while the process runs.
static FIRST: AtomicU64 = AtomicU64::new(0);

/// Set by [`ready`]; what [`is_ready`] answers until a shutdown starts.
static READY: AtomicBool = AtomicBool::new(false);

/// The payload `cleanup::exit` unwinds a thread with: not a panic (no hook
/// runs); `run`, or the runner of a cleanup, catches it.
pub(crate) struct ExitUnwind(pub(crate) i32);

thread_local! {
    static SHIELDS: Cell<usize> = const { Cell::new(0) };
}

/// Why the process is ending.
///
/// ```
/// use cleanup::ExitReason;
///
/// let reason = ExitReason::Signal(cleanup::signal::SIGTERM);
/// assert_eq!(reason.to_string(), "SIGTERM received");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    /// `main` returned successfully (`()`, `Ok`, `ExitCode::SUCCESS`).
    Return,
    /// `main` returned an error or a failing `ExitCode`.
    Error,
    /// `main` panicked, or any thread panicked with `panic = "abort"`.
    Panic,
    /// A handled signal, by number (`cleanup::signal::SIGTERM`, …).
    Signal(i32),
    /// [`request_shutdown`](crate::request_shutdown) was called.
    Requested,
    /// [`exit`](crate::exit) or `std::process::exit` was called with this code.
    Exit(i32),
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitReason::Return => f.write_str("main returned"),
            ExitReason::Error => f.write_str("main returned an error"),
            ExitReason::Panic => f.write_str("panic"),
            ExitReason::Signal(sig) => write!(f, "{} received", crate::log::SignalName(sig)),
            ExitReason::Requested => f.write_str("shutdown requested"),
            ExitReason::Exit(code) => write!(f, "exit({code}) called"),
        }
    }
}

/// The error returned by [`checkpoint`] and [`sleep`] once the process is
/// shutting down: return it (with `?`) so `main` unwinds and its values drop.
/// Returning `Err(Shutdown)` from `main` during a shutdown is "done as asked",
/// not an error: nothing is printed for it.
///
/// ```
/// fn step() -> Result<(), cleanup::Shutdown> {
///     cleanup::checkpoint()?;
///     Ok(())
/// }
/// assert!(step().is_ok());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shutdown;

impl Shutdown {
    /// Why the process is shutting down: the same as [`reason`].
    ///
    /// ```
    /// cleanup::request_shutdown();
    /// let shutdown = cleanup::checkpoint().unwrap_err();
    /// assert_eq!(shutdown.reason(), Some(cleanup::ExitReason::Requested));
    /// ```
    pub fn reason(&self) -> Option<ExitReason> {
        reason()
    }
}

impl fmt::Display for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match reason() {
            Some(reason) => write!(f, "shutting down ({reason})"),
            None => f.write_str("shutting down"),
        }
    }
}

impl std::error::Error for Shutdown {}

impl From<Shutdown> for std::io::Error {
    /// So `checkpoint()?` works in a function returning `io::Result`.
    fn from(shutdown: Shutdown) -> Self {
        std::io::Error::new(std::io::ErrorKind::Interrupted, shutdown)
    }
}

/// `Err(Shutdown)` once the process is shutting down, unless this thread holds
/// a [`Shield`]. Put it at the top of every iteration of a long loop.
///
/// Costs one relaxed atomic load while the process runs.
///
/// ```
/// # fn do_one_unit_of_work() {}
/// fn work() -> Result<(), cleanup::Shutdown> {
///     for _ in 0..3 {
///         cleanup::checkpoint()?;
///         do_one_unit_of_work();
///     }
///     Ok(())
/// }
/// assert!(work().is_ok());
/// ```
#[inline]
pub fn checkpoint() -> Result<(), Shutdown> {
    crate::notify::progress();
    if SHUTTING_DOWN.load(Ordering::Relaxed) && !shielded() {
        Err(Shutdown)
    } else {
        Ok(())
    }
}

/// Whether the process is ending, for any reason. Tells the truth inside a
/// [`Shield`] too, so a critical section can decide not to start its next step.
///
/// ```
/// assert!(!cleanup::is_shutting_down());
/// ```
#[inline]
pub fn is_shutting_down() -> bool {
    SHUTTING_DOWN.load(Ordering::Relaxed)
}

/// The program is ready to serve: [`is_ready`] turns true (until a shutdown
/// starts), and under systemd (`Type=notify`, `NOTIFY_SOCKET` set) READY=1
/// is sent, so units ordered after it may start and `systemctl start`
/// returns. Call it once start-up is over (configuration read, sockets
/// bound); it is never sent on its own. Without `NOTIFY_SOCKET` it only
/// sets the flag; it never fails (a manager that is gone loses the
/// message), and a child forked by this process sends nothing.
///
/// ```
/// cleanup::ready();
/// assert!(cleanup::is_ready());
/// ```
pub fn ready() {
    READY.store(true, Ordering::SeqCst);
    crate::notify::ready();
}

/// Whether the program is ready to serve: true after [`ready`] until a
/// shutdown starts — at once on the signal, even while a `drain_delay` keeps
/// it serving. What a `/readyz` endpoint answers, so Kubernetes takes the pod
/// out of its endpoints.
///
/// ```
/// assert!(!cleanup::is_ready()); // `ready()` not called yet
/// ```
pub fn is_ready() -> bool {
    READY.load(Ordering::Relaxed) && FIRST.load(Ordering::Relaxed) == 0
}

/// Why the process is ending, once it is; `None` while it runs.
///
/// ```
/// assert_eq!(cleanup::reason(), None);
/// ```
pub fn reason() -> Option<ExitReason> {
    first().map(|(reason, _)| reason)
}

/// The first route out of the process, with its exit code (`main`'s code
/// for a return or an error, the argument of `exit`).
pub(crate) fn first() -> Option<(ExitReason, i32)> {
    let word = FIRST.load(Ordering::SeqCst);
    let value = word as u32 as i32;
    let reason = match word >> 32 {
        0 => return None,
        1 => ExitReason::Return,
        2 => ExitReason::Error,
        3 => ExitReason::Panic,
        4 => ExitReason::Signal(value),
        5 => ExitReason::Requested,
        _ => ExitReason::Exit(value),
    };
    Some((reason, value))
}

/// Claims the first route for `reason` (with `code`); `false` if another
/// route came first. Async-signal-safe: one compare-exchange.
pub(crate) fn claim(reason: ExitReason, code: i32) -> bool {
    let (tag, value) = match reason {
        ExitReason::Return => (1u64, code),
        ExitReason::Error => (2, code),
        ExitReason::Panic => (3, code),
        ExitReason::Signal(sig) => (4, sig),
        ExitReason::Requested => (5, code),
        ExitReason::Exit(code) => (6, code),
    };
    let word = tag << 32 | u64::from(value as u32);
    FIRST
        .compare_exchange(0, word, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
}

/// Marks the process as ending for `reason` (unless a route came first) and
/// wakes every waiter. Returns whether this call set the flag.
pub(crate) fn begin(reason: ExitReason, code: i32) -> bool {
    claim(reason, code);
    let first = !mark_shutting_down();
    crate::park::wake_all();
    crate::park::wake_tasks();
    first
}

/// [`is_shutting_down`], in the total order of sequentially consistent
/// operations: for the protocols that pair it with another such access.
/// Async-signal-safe.
pub(crate) fn shutting_down_seqcst() -> bool {
    SHUTTING_DOWN.load(Ordering::SeqCst)
}

/// Sets the flag [`is_shutting_down`] reads; returns whether it was set
/// already. The only write of the flag. Async-signal-safe.
pub(crate) fn mark_shutting_down() -> bool {
    SHUTTING_DOWN.swap(true, Ordering::SeqCst)
}

/// Blocks until the process is shutting down or `until` passes. Returns
/// whether it is shutting down.
pub(crate) fn wait_until(until: Option<Instant>) -> bool {
    loop {
        // The flag is set before the sleepers are woken, so checking it before
        // each sleep cannot miss the wake-up.
        if is_shutting_down() {
            return true;
        }
        if until.is_some_and(|until| Instant::now() >= until) {
            return false;
        }
        crate::park::wait(until);
    }
}

/// Sleeps for `duration`, or returns `Err(Shutdown)` as soon as shutdown is
/// requested. Inside a [`Shield`] it sleeps the whole duration.
///
/// ```
/// use std::time::Duration;
/// assert!(cleanup::sleep(Duration::from_millis(1)).is_ok());
/// ```
pub fn sleep(duration: Duration) -> Result<(), Shutdown> {
    crate::notify::progress();
    if shielded() {
        std::thread::sleep(duration);
        return Ok(());
    }
    if wait_until(Instant::now().checked_add(duration)) {
        Err(Shutdown)
    } else {
        Ok(())
    }
}

/// A critical section: while this value lives, [`checkpoint`] and [`sleep`]
/// on this thread see no shutdown. Made by [`shield`].
///
/// A shield defers the cooperative part of a shutdown, not its deadline:
/// when the timeout is spent the process ends anyway.
///
/// ```
/// use std::time::Duration;
///
/// fn build(finished: &mut Vec<u32>) -> Result<(), cleanup::Shutdown> {
///     for step in 0..3 {
///         cleanup::checkpoint()?; // between steps, a shutdown stops the build
///         let _shield = cleanup::shield();
///         if step == 0 {
///             cleanup::request_shutdown(); // as a SIGTERM in the middle of a step
///         }
///         cleanup::sleep(Duration::from_millis(1))?; // shielded: the step goes on
///         finished.push(step);
///     }
///     Ok(())
/// }
///
/// let mut finished = Vec::new();
/// assert!(build(&mut finished).is_err());
/// assert_eq!(finished, [0]); // the step under way finished; no other started
/// ```
#[must_use = "the critical section ends when the shield is dropped: bind it to a name, `let _shield = shield()`; `let _ = shield()` ends it at once"]
pub struct Shield {
    // Counted per thread, so the shield must stay on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

/// Starts a critical section on this thread; it ends when the [`Shield`] drops.
///
/// Bind it to a name (`let _shield = cleanup::shield();`): `let _ =
/// cleanup::shield();` drops it at once and shields nothing
/// (`#[graceful_main]` refuses it in `main`).
///
/// ```
/// let shield = cleanup::shield();
/// cleanup::request_shutdown();
/// assert!(cleanup::checkpoint().is_ok()); // shielded
/// assert!(cleanup::is_shutting_down()); // but told the truth
/// drop(shield);
/// assert!(cleanup::checkpoint().is_err());
/// ```
pub fn shield() -> Shield {
    SHIELDS.with(|n| n.set(n.get() + 1));
    Shield {
        _not_send: PhantomData,
    }
}

impl Drop for Shield {
    fn drop(&mut self) {
        SHIELDS.with(|n| n.set(n.get() - 1));
    }
}

impl fmt::Debug for Shield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Shield")
    }
}

fn shielded() -> bool {
    SHIELDS.with(|n| n.get() > 0)
}

