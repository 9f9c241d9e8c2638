//! Guards and finalizers: the cleanups that run exactly once.
//!
//! Each cleanup is owned by exactly one list at a time: its thread's guard list
//! or the finalizer list, until either its handle takes it back (drop, disarm,
//! cancel) or the shutdown drain takes it. Both take under the same lock, so
//! whoever takes first is the only one that can run it.
//!
//! Guards live in a list per thread, so creating and dropping one never
//! contends with another thread; the drain visits every thread's list. The
//! lists are never freed: a finished thread's list goes back to a pool for
//! the next thread, so a guard refers to its list by a plain `&'static` and
//! costs no reference count. A guard made on a thread that then ended (and
//! moved elsewhere) still finds its entry: entries are found by number.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::state::lock;

type Job = Box<dyn FnOnce() + Send>;

/// Creation order across all threads: guards and finalizers run newest first.
static SEQ: AtomicU64 = AtomicU64::new(0);
/// Every guard list ever made, for the drain.
static LISTS: Mutex<Vec<&'static Local>> = Mutex::new(Vec::new());
/// Lists of finished threads, ready for the next thread.
static POOL: Mutex<Vec<&'static Local>> = Mutex::new(Vec::new());
static FINALIZERS: Mutex<Vec<Cleanup>> = Mutex::new(Vec::new());
/// Guards that ran by their own drop once shutdown had started (the end line
/// counts them with those the drain ran).
static DROPPED_DURING_SHUTDOWN: AtomicUsize = AtomicUsize::new(0);
/// Guards running by their own drop during a shutdown, so the watchdog can
/// name one that hangs there (on `main`'s thread, where it cannot be seen
/// otherwise).
static IN_FLIGHT: Mutex<Vec<(u64, Name, Instant)>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Lease = Lease::take();
}

#[derive(Default)]
struct Local {
    guards: spin::Mutex<Vec<Cleanup>>,
}

/// This thread's use of a list; gives it back to the pool when the thread ends.
struct Lease(&'static Local);

impl Lease {
    fn take() -> Lease {
        if let Some(local) = lock(&POOL).pop() {
            return Lease(local);
        }
        let local: &'static Local = Box::leak(Box::default());
        lock(&LISTS).push(local);
        Lease(local)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        lock(&POOL).push(self.0);
    }
}

/// Whether a cleanup came from [`guard`] or [`on_exit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Guard,
    Finalizer,
}

/// A cleanup taken for the shutdown drain, with what the log needs to name it.
pub(crate) struct Cleanup {
    seq: u64,
    pub(crate) kind: Kind,
    pub(crate) at: &'static Location<'static>,
    pub(crate) job: Job,
}

impl Cleanup {
    #[track_caller]
    fn new(kind: Kind, job: Job) -> Self {
        Cleanup {
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            kind,
            at: Location::caller(),
            job,
        }
    }

    pub(crate) fn name(&self) -> Name {
        Name(self.kind, self.at)
    }
}

/// `guard created at src/main.rs:12:5`: how the log names a cleanup.
#[derive(Clone, Copy)]
pub(crate) struct Name(pub(crate) Kind, pub(crate) &'static Location<'static>);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.0 {
            Kind::Guard => "guard created",
            Kind::Finalizer => "finalizer registered",
        };
        write!(f, "{what} at {}", self.1)
    }
}

/// Removes the cleanup numbered `seq`; newest-first search, since handles
/// mostly go away in reverse order.
fn take(list: &mut Vec<Cleanup>, seq: u64) -> Option<Cleanup> {
    let index = list.iter().rposition(|c| c.seq == seq)?;
    Some(list.remove(index))
}

/// A closure that runs when this value is dropped — at the end of its scope,
/// while a panic unwinds, or, if the process is shutting down and the scope
/// never ends, from the shutdown drain. Exactly once, unless disarmed.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
/// use std::sync::Arc;
///
/// let cleaned = Arc::new(AtomicBool::new(false));
/// {
///     let flag = cleaned.clone();
///     let _guard = cleanup_core::guard(move || flag.store(true, SeqCst));
/// }
/// assert!(cleaned.load(SeqCst));
/// ```
///
/// What a guard does not cover: SIGKILL, an OOM kill, power loss; and a
/// second Ctrl-C, which asks for an exit without cleanup.
#[must_use = "the guard runs its closure when dropped; `let _ = guard(..)` runs it at once"]
pub struct Guard {
    local: &'static Local,
    seq: u64,
}

/// Makes a [`Guard`] that runs `f` when dropped.
#[track_caller]
pub fn guard<F>(f: F) -> Guard
where
    F: FnOnce() + Send + 'static,
{
    crate::run::ensure_runtime();
    let cleanup = Cleanup::new(Kind::Guard, Box::new(f));
    let seq = cleanup.seq;
    let local = LOCAL.with(|lease| lease.0);
    local.guards.lock().push(cleanup);
    Guard { local, seq }
}

impl Guard {
    /// Disarms the guard: its closure will never run (it is dropped unrun).
    ///
    /// ```
    /// let guard = cleanup_core::guard(|| unreachable!());
    /// guard.disarm();
    /// ```
    pub fn disarm(self) {
        // Dropping the closure may run arbitrary Drop code: outside the lock.
        let cleanup = take(&mut self.local.guards.lock(), self.seq);
        std::mem::forget(self);
        drop(cleanup);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let taken = take(&mut self.local.guards.lock(), self.seq);
        let Some(cleanup) = taken else {
            return;
        };
        if !crate::state::is_shutting_down() {
            return (cleanup.job)();
        }
        lock(&IN_FLIGHT).push((self.seq, cleanup.name(), Instant::now()));
        // Off the list however the closure ends, panics included.
        struct Landed(u64);
        impl Drop for Landed {
            fn drop(&mut self) {
                lock(&IN_FLIGHT).retain(|&(seq, _, _)| seq != self.0);
            }
        }
        let _landed = Landed(self.seq);
        (cleanup.job)();
        DROPPED_DURING_SHUTDOWN.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard").field("seq", &self.seq).finish()
    }
}

/// A handle on a closure registered with [`on_exit`]. Dropping the handle does
/// not cancel it; [`Finalizer::cancel`] does.
#[must_use = "dropping the handle keeps the finalizer; bind it to `_` if you never cancel"]
#[derive(Debug)]
pub struct Finalizer {
    seq: u64,
}

/// Registers `f` to run once when the process ends, however it ends (as
/// `atexit`, but also on signals, panics and `std::process::exit`). Finalizers
/// run after every guard, newest first.
///
/// ```
/// let _ = cleanup_core::on_exit(|| eprintln!("bye"));
/// ```
#[track_caller]
pub fn on_exit<F>(f: F) -> Finalizer
where
    F: FnOnce() + Send + 'static,
{
    crate::hooks::install_process_exit_hook();
    crate::run::ensure_runtime();
    let cleanup = Cleanup::new(Kind::Finalizer, Box::new(f));
    let seq = cleanup.seq;
    lock(&FINALIZERS).push(cleanup);
    Finalizer { seq }
}

impl Finalizer {
    /// Cancels the finalizer: it will not run. Does nothing if it already ran.
    ///
    /// ```
    /// let finalizer = cleanup_core::on_exit(|| unreachable!());
    /// finalizer.cancel();
    /// ```
    pub fn cancel(self) {
        drop(take(&mut lock(&FINALIZERS), self.seq));
    }
}

/// Takes every cleanup still armed: guards newest first, then finalizers
/// newest first. From here on, their handles find nothing to run.
pub(crate) fn take_all() -> Vec<Cleanup> {
    let mut guards: Vec<Cleanup> = lock(&LISTS)
        .iter()
        .flat_map(|local| std::mem::take(&mut *local.guards.lock()))
        .collect();
    guards.sort_unstable_by_key(|c| std::cmp::Reverse(c.seq));
    let mut finalizers = std::mem::take(&mut *lock(&FINALIZERS));
    finalizers.sort_unstable_by_key(|c| std::cmp::Reverse(c.seq));
    guards.append(&mut finalizers);
    guards
}

/// The guards running by their own drop right now, oldest first.
pub(crate) fn in_flight() -> Vec<(Name, Instant)> {
    lock(&IN_FLIGHT)
        .iter()
        .map(|&(_, name, started)| (name, started))
        .collect()
}

/// The same, taken: the watchdog names them once, as abandoned.
pub(crate) fn take_in_flight() -> Vec<(Name, Instant)> {
    std::mem::take(&mut *lock(&IN_FLIGHT))
        .into_iter()
        .map(|(_, name, started)| (name, started))
        .collect()
}

pub(crate) fn dropped_during_shutdown() -> usize {
    DROPPED_DURING_SHUTDOWN.load(Ordering::Relaxed)
}

/// How many guards and finalizers are still armed, for the progress lines.
pub(crate) fn pending() -> (usize, usize) {
    let guards = lock(&LISTS)
        .iter()
        .map(|local| local.guards.lock().len())
        .sum();
    (guards, lock(&FINALIZERS).len())
}

#[cfg(test)]
mod tests {
    // The registry is global: these are the only unit tests that make cleanups,
    // and they run one after another under TEST_LOCK.
    use super::*;
    use std::sync::{Arc, Barrier};

    static TEST_LOCK: Mutex<()> = Mutex::new(());

    fn run_all() -> Vec<Kind> {
        take_all()
            .into_iter()
            .map(|cleanup| {
                (cleanup.job)();
                cleanup.kind
            })
            .collect()
    }

    #[test]
    fn a_guard_runs_exactly_once_when_its_drop_races_the_drain() {
        let _serial = lock(&TEST_LOCK);
        for _ in 0..5_000 {
            let runs = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&runs);
            let guard = guard(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            });
            let barrier = Arc::new(Barrier::new(2));
            let start = Arc::clone(&barrier);
            let dropper = std::thread::spawn(move || {
                start.wait();
                drop(guard);
            });
            barrier.wait();
            run_all();
            dropper.join().unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 1);
        }
    }

    #[test]
    fn disarmed_and_cancelled_never_run_and_the_rest_run_newest_first() {
        let _serial = lock(&TEST_LOCK);
        let order = Arc::new(Mutex::new(Vec::new()));
        let push = |name: &'static str| {
            let order = Arc::clone(&order);
            move || lock(&order).push(name)
        };
        let f1 = on_exit(push("f1"));
        let g1 = guard(push("g1"));
        let f2 = on_exit(push("f2"));
        let g2 = guard(push("g2"));
        let g3 = std::thread::spawn({
            let push = push("g3");
            move || guard(push)
        })
        .join()
        .unwrap();
        guard(push("disarmed")).disarm();
        on_exit(push("cancelled")).cancel();
        run_all();
        assert_eq!(*lock(&order), ["g3", "g2", "g1", "f2", "f1"]);
        // The handles find nothing left to run.
        drop((g1, g2, g3, f1, f2));
        assert_eq!(lock(&order).len(), 5);
    }
}
