//! Worker threads whose stop and join are part of the shutdown.
//!
//! A thread started with [`spawn`] gets the [`ShutdownToken`]; when the
//! process ends, the cleanups wait for every such thread to return (within
//! the body's share of the budget) before guards and finalizers run, so a
//! finalizer never tears down what a worker still uses. A worker that does
//! not return in time is named on stderr and left behind; the deadline holds.
//! [`Builder`] names a worker, as [`std::thread::Builder`] does; the name is
//! the thread's and the one the shutdown's lines use.
//!
//! ```
//! use std::time::Duration;
//!
//! // A named worker that polls until the shutdown; its token says when.
//! let worker = cleanup::thread::Builder::new()
//!     .name("poller".to_owned())
//!     .spawn(|token: cleanup::ShutdownToken| {
//!         let mut polls = 0;
//!         while !token.wait_timeout(Duration::from_millis(1)) && polls < 3 {
//!             polls += 1;
//!         }
//!         polls
//!     })?;
//! assert_eq!(worker.join().unwrap(), 3);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::thread::{JoinHandle, ThreadId};
use std::time::Instant;

use crate::sync::lock;
use crate::token::{token, ShutdownToken};

static WORKERS: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());
static RETURNED: Condvar = Condvar::new();

struct Worker {
    at: &'static Location<'static>,
    name: Option<String>,
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
/// cannot be created, as [`std::thread::spawn`] does; [`Builder::spawn`]
/// returns the error instead, and names the thread.
///
/// The program need not join it: dropping the [`JoinHandle`] detaches it as
/// std's does, and the shutdown still waits for it (and names it if it does
/// not return in time). Join it to get its value.
///
/// ```
/// use std::time::Duration;
///
/// let worker = cleanup::thread::spawn(|token| {
///     let mut jobs = 0;
///     while !token.wait_timeout(Duration::from_millis(10)) {
///         jobs += 1; // one unit of work
///     }
///     jobs
/// });
/// cleanup::request_shutdown();
/// let jobs = worker.join().unwrap();
/// # let _ = jobs;
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce(ShutdownToken) -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(f)
        .expect("failed to spawn a worker thread")
}

/// Configures a worker thread before spawning it, as
/// [`std::thread::Builder`]: a name, which the thread gets and the
/// shutdown's lines use (``worker thread `db-writer` (spawned at
/// src/main.rs:34:22) did not return in time``), and a stack size.
///
/// ```
/// use std::time::Duration;
///
/// let writer = cleanup::thread::Builder::new()
///     .name("db-writer".to_string())
///     .stack_size(256 * 1024)
///     .spawn(|token| {
///         assert_eq!(std::thread::current().name(), Some("db-writer"));
///         token.wait_timeout(Duration::from_secs(60))
///     })
///     .expect("a thread for the writer");
/// cleanup::request_shutdown();
/// assert!(writer.join().unwrap(), "woken by the shutdown");
/// ```
#[derive(Debug, Default)]
#[must_use = "a Builder does nothing until `spawn` is called"]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the default stack size.
    pub fn new() -> Self {
        Builder::default()
    }

    /// The thread's name, as [`std::thread::Builder::name`]; the shutdown's
    /// lines name the worker by it.
    pub fn name(mut self, name: String) -> Self {
        self.name = Some(name);
        self
    }

    /// The thread's stack size in bytes, as
    /// [`std::thread::Builder::stack_size`].
    pub fn stack_size(mut self, size: usize) -> Self {
        self.stack_size = Some(size);
        self
    }

    /// Spawns the worker, as [`spawn`] does, or returns why the thread could
    /// not be created: a name with a NUL byte (`InvalidInput`), or the
    /// system's refusal. A worker that was not created is not waited for.
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce(ShutdownToken) -> T + Send + 'static,
        T: Send + 'static,
    {
        let at = Location::caller();
        let mut builder = std::thread::Builder::new();
        if let Some(name) = &self.name {
            // std panics on it; a bad name is the caller's input: an error.
            if name.contains('\0') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a thread name may not contain a NUL byte: {name:?}"),
                ));
            }
            builder = builder.name(name.clone());
        }
        if let Some(size) = self.stack_size {
            builder = builder.stack_size(size);
        }
        crate::runtime::ensure();
        crate::runtime::after_fork(forget_after_fork);
        let worker = Arc::new(Worker {
            at,
            name: self.name,
            done: AtomicBool::new(false),
            thread: OnceLock::new(),
        });
        // Tracked before it runs, so a shutdown starting now waits for it.
        lock(&WORKERS).push(Arc::clone(&worker));
        let inner = Arc::clone(&worker);
        let spawned = builder.spawn(move || {
            let _ = inner.thread.set(std::thread::current().id());
            let _returned = Returned(inner);
            f(token())
        });
        if spawned.is_err() {
            lock(&WORKERS).retain(|tracked| !Arc::ptr_eq(tracked, &worker));
        }
        spawned
    }
}

/// A worker that did not return in time.
pub(crate) struct Stuck {
    at: &'static Location<'static>,
    name: Option<String>,
}

/// Workers left behind that the log names in one line: those spawned at
/// the same place under the same name (or none), as when spawned in a loop.
pub(crate) struct StuckGroup<'a> {
    pub(crate) at: &'static Location<'static>,
    pub(crate) name: Option<&'a str>,
    pub(crate) count: usize,
}

impl Stuck {
    /// `stuck` in groups of the same name and place, in order of first sight.
    pub(crate) fn group(stuck: &[Stuck]) -> Vec<StuckGroup<'_>> {
        let mut groups: Vec<StuckGroup<'_>> = Vec::new();
        for worker in stuck {
            let name = worker.name.as_deref();
            match groups
                .iter_mut()
                .find(|group| group.name == name && group.at == worker.at)
            {
                Some(group) => group.count += 1,
                None => groups.push(StuckGroup {
                    at: worker.at,
                    name,
                    count: 1,
                }),
            }
        }
        groups
    }
}

/// ``worker thread `db-writer` (spawned at src/main.rs:34:22)``,
/// `4 worker threads spawned at src/main.rs:12:5`.
impl fmt::Display for StuckGroup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let threads = match self.count {
            1 => "worker thread".to_owned(),
            n => format!("{n} worker threads"),
        };
        match self.name {
            Some(name) => write!(f, "{threads} `{name}` (spawned at {})", self.at),
            None => write!(f, "{threads} spawned at {}", self.at),
        }
    }
}

/// In the child of a `fork`: the parent's workers do not exist here.
fn forget_after_fork() {
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
pub(crate) fn wait_for_workers(until: Instant) -> Vec<Stuck> {
    let mut workers = lock(&WORKERS);
    loop {
        workers.retain(|worker| !worker.done.load(Ordering::SeqCst));
        let left = workers.iter().filter(|worker| worker.running_elsewhere());
        let now = Instant::now();
        if left.clone().next().is_none() || now >= until {
            return left
                .map(|worker| Stuck {
                    at: worker.at,
                    name: worker.name.clone(),
                })
                .collect();
        }
        workers = RETURNED
            .wait_timeout(workers, until - now)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}
