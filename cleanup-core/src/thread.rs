//! Worker threads whose stop and join are part of the shutdown.
//!
//! A thread started with [`spawn`] gets the [`ShutdownToken`]; when the
//! process ends, the cleanups wait for every such thread to return (within
//! the body's share of the budget) before guards and finalizers run, so a
//! finalizer never tears down what a worker still uses. A worker that does
//! not return in time is named on stderr and left behind; the deadline holds.

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::{JoinHandle, ThreadId};
use std::time::Instant;

use crate::state::lock;
use crate::token::{token, ShutdownToken};

static WORKERS: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());
static RETURNED: Condvar = Condvar::new();

struct Worker {
    at: &'static Location<'static>,
    done: AtomicBool,
    /// The worker's thread, once it runs: a worker that ends the process
    /// itself (`exit` on its thread) is not waited for by its own end.
    thread: OnceLock<ThreadId>,
}

impl Worker {
    fn running_elsewhere(&self) -> bool {
        !self.done.load(Ordering::SeqCst)
            && self.thread.get() != Some(&std::thread::current().id())
    }
}

/// Marks its worker as returned when dropped, panics included.
struct Returned(Arc<Worker>);

impl Drop for Returned {
    fn drop(&mut self) {
        self.0.done.store(true, Ordering::SeqCst);
        let _workers = lock(&WORKERS);
        RETURNED.notify_all();
    }
}

/// Spawns a worker thread that is told of the shutdown through its token and
/// joined, within the budget, before the cleanups run. Panics if the thread
/// cannot be created, as [`std::thread::spawn`] does.
///
/// ```
/// use std::time::Duration;
///
/// let worker = cleanup_core::thread::spawn(|token| {
///     let mut jobs = 0;
///     while !token.wait_timeout(Duration::from_millis(10)) {
///         jobs += 1; // one unit of work
///     }
///     jobs
/// });
/// cleanup_core::request_shutdown();
/// let jobs = worker.join().unwrap();
/// # let _ = jobs;
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce(ShutdownToken) -> T + Send + 'static,
    T: Send + 'static,
{
    crate::run::ensure_runtime();
    let worker = Arc::new(Worker {
        at: Location::caller(),
        done: AtomicBool::new(false),
        thread: OnceLock::new(),
    });
    lock(&WORKERS).push(Arc::clone(&worker));
    std::thread::spawn(move || {
        let _ = worker.thread.set(std::thread::current().id());
        let _returned = Returned(worker);
        f(token())
    })
}

/// `worker thread spawned at src/main.rs:12:5`.
pub(crate) struct WorkerName(&'static Location<'static>);

impl fmt::Display for WorkerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker thread spawned at {}", self.0)
    }
}

/// In the child of a `fork`: the parent's workers do not exist here.
pub(crate) fn forget_after_fork() {
    if let Ok(mut workers) = WORKERS.try_lock() {
        workers.clear();
    }
}

/// Whether a worker of [`spawn`] is still running.
pub(crate) fn any_running() -> bool {
    lock(&WORKERS).iter().any(|worker| worker.running_elsewhere())
}

/// Waits until every worker has returned or `until` passes; returns the
/// ones still running.
pub(crate) fn wait_for_workers(until: Instant) -> Vec<WorkerName> {
    let mut workers = lock(&WORKERS);
    loop {
        workers.retain(|worker| !worker.done.load(Ordering::SeqCst));
        let left = workers.iter().filter(|worker| worker.running_elsewhere());
        let now = Instant::now();
        if left.clone().next().is_none() || now >= until {
            return left.map(|worker| WorkerName(worker.at)).collect();
        }
        workers = RETURNED
            .wait_timeout(workers, until - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}
