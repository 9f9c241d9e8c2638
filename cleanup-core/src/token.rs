//! [`ShutdownToken`]: the shutdown state as a value to hand to threads and tasks.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::state;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A handle on the process's shutdown: cancelled once the process starts to
/// end. `Clone + Send + Sync`, cheap to copy into threads and tasks.
///
/// ```
/// use std::time::Duration;
///
/// let token = cleanup::token();
/// let worker = std::thread::spawn(move || {
///     // Wakes at once when shutdown is requested.
///     token.wait_timeout(Duration::from_secs(30))
/// });
/// cleanup::request_shutdown();
/// assert!(worker.join().unwrap());
/// ```
#[derive(Clone, Default)]
pub struct ShutdownToken {
    _private: (),
}

/// The process's [`ShutdownToken`]. There is one per process: every call
/// returns a handle on the same shutdown.
///
/// ```
/// let token = cleanup::token();
/// assert!(!token.is_cancelled());
/// cleanup::request_shutdown();
/// assert!(token.is_cancelled());
/// ```
pub fn token() -> ShutdownToken {
    ShutdownToken { _private: () }
}

impl ShutdownToken {
    /// Whether shutdown has started (same as [`is_shutting_down`](crate::is_shutting_down)).
    ///
    /// ```
    /// let token = cleanup::token();
    /// let mut done = 0;
    /// while !token.is_cancelled() && done < 3 {
    ///     done += 1; // one unit of work
    /// }
    /// assert_eq!(done, 3);
    /// ```
    pub fn is_cancelled(&self) -> bool {
        state::is_shutting_down()
    }

    /// Blocks this thread until shutdown starts.
    ///
    /// ```
    /// let token = cleanup::token();
    /// let waiter = std::thread::spawn(move || token.wait());
    /// cleanup::request_shutdown();
    /// waiter.join().unwrap();
    /// ```
    pub fn wait(&self) {
        state::wait_until(None);
    }

    /// Blocks until shutdown starts or `timeout` passes; returns whether it
    /// started.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let token = cleanup::token();
    /// assert!(!token.wait_timeout(Duration::from_millis(10))); // timed out
    /// cleanup::request_shutdown();
    /// assert!(token.wait_timeout(Duration::from_secs(1))); // at once
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        state::wait_until(Instant::now().checked_add(timeout))
    }

    /// A future that completes when shutdown starts. It needs no particular
    /// executor: it works with tokio, async-std, `futures::executor` alike.
    ///
    /// ```
    /// let token = cleanup::token();
    /// let server = std::thread::spawn(move || {
    ///     pollster::block_on(async move {
    ///         // Serve until the process shuts down.
    ///         token.cancelled().await;
    ///         "drained"
    ///     })
    /// });
    /// cleanup::request_shutdown();
    /// assert_eq!(server.join().unwrap(), "drained");
    /// ```
    pub fn cancelled(&self) -> Cancelled {
        Cancelled { id: None }
    }
}

impl fmt::Debug for ShutdownToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The future returned by [`ShutdownToken::cancelled`]: ready once the
/// process is shutting down, on any executor (here pollster's).
///
/// ```
/// let cancelled: cleanup::Cancelled = cleanup::token().cancelled();
/// let task = std::thread::spawn(move || pollster::block_on(cancelled));
/// cleanup::request_shutdown();
/// task.join().unwrap();
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Cancelled {
    id: Option<u64>,
}

impl Future for Cancelled {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if state::is_shutting_down() {
            return Poll::Ready(());
        }
        // A thread, not the signal handler, wakes the stored wakers.
        crate::runtime::ensure();
        let id = *self
            .id
            .get_or_insert_with(|| NEXT_ID.fetch_add(1, Ordering::Relaxed));
        if !crate::park::store_waker(id, cx.waker(), state::is_shutting_down) {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Cancelled {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            crate::park::forget_waker(id);
        }
    }
}

impl fmt::Debug for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cancelled")
    }
}
