//! `#[graceful_main] async fn main` (feature `tokio`): the runtime that runs
//! the body, and the unwinding-equivalent end of a body that does not finish.
//!
//! On a shutdown the token is cancelled. If `main`'s future has not finished
//! when its share of the budget is spent, it is dropped: dropping a future
//! runs the `Drop` of every value it holds, so this is a true unwinding that
//! needs no cooperation. Spawned tasks get what is left of that share to
//! finish, then they are dropped too; a `spawn_blocking` task that never
//! returns is not waited for.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::process::Termination;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::log;
use crate::shutdown;
use crate::state::ExitReason;

/// How `#[graceful_main]` builds the tokio runtime, as `#[tokio::main]` does.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `flavor = "current_thread"`.
    CurrentThread,
    /// `flavor = "multi_thread"` (the default), with `worker_threads` if given.
    MultiThread {
        /// `worker_threads = N`; the number of cores when `None`.
        worker_threads: Option<usize>,
    },
}

/// How often the spawned tasks are counted while they are given time.
const TASK_POLL: Duration = Duration::from_millis(5);
/// The least time the workers get to drop the remaining tasks.
const TASK_DROP: Duration = Duration::from_millis(50);

/// Runs `main`'s future on a tokio runtime under the cleanup runtime, then
/// the cleanups, then leaves with the status the parent expects. What
/// `#[graceful_main] async fn main` expands to.
pub fn run_async<T, F>(config: Config, flavor: Flavor, body: F) -> !
where
    T: Termination + 'static,
    F: Future<Output = T>,
{
    crate::run::install(config);
    // Futures waiting on the token are woken by a thread, not by the handler.
    crate::runtime::ensure();
    shutdown::set_async_body();
    let runtime = match build(flavor) {
        Ok(runtime) => runtime,
        Err(err) => {
            log::always(format_args!(
                "cleanup: cannot build the tokio runtime: {err}"
            ));
            crate::shutdown::end(ExitReason::Error, 1)
        }
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(body_or_deadline(body))
    }));
    let (reason, code) = match outcome {
        Ok(Some(value)) => crate::run::settle_outcome(Ok(value)),
        Ok(None) => {
            // A warning: this is what cuts requests still in flight.
            log::warn(format_args!(
                "main's future did not finish in time and was dropped"
            ));
            shutdown::set_body_late();
            (ExitReason::Return, 0)
        }
        Err(payload) => crate::run::settle_outcome::<T>(Err(payload)),
    };
    // Tasks learn of the end through the token, if they have not yet, and
    // get what is left of the body's share of the budget.
    shutdown::start(reason, code);
    shutdown::set_body_returned("spawned tasks");
    let until = shutdown::body_deadline();
    // Inside `block_on`, so a current-thread runtime goes on running them.
    runtime.block_on(async {
        while runtime.metrics().num_alive_tasks() > 0
            && until.is_some_and(|until| Instant::now() < until)
        {
            tokio::time::sleep(TASK_POLL).await;
        }
    });
    let left = until.map_or(Duration::ZERO, |until| {
        until.saturating_duration_since(Instant::now())
    });
    // Drops the remaining tasks (on the workers, so they get a moment even
    // when the share is spent); waits for blocking ones only while time is
    // left: one that never returns does not hold the process.
    runtime.shutdown_timeout(left.max(TASK_DROP));
    crate::shutdown::end(reason, code)
}

fn build(flavor: Flavor) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread { worker_threads } => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(n) = worker_threads {
                builder.worker_threads(n);
            }
            builder
        }
    };
    // systemd's watchdog: a runtime running tasks is making progress.
    builder.on_thread_unpark(crate::notify::progress);
    builder.enable_all().build()
}

/// The body's output, or `None` once a shutdown has run past the body's
/// share of the budget (the body is then dropped by the caller's scope).
async fn body_or_deadline<T>(body: impl Future<Output = T>) -> Option<T> {
    let mut body = pin!(body);
    let mut deadline = pin!(async {
        crate::token().cancelled().await;
        // The handler cancels the token at once; the budget starts a moment
        // later, on the runtime thread. Until it does, the deadline is unknown,
        // not past.
        loop {
            if let Some(until) = shutdown::body_deadline() {
                break tokio::time::sleep_until(until.into()).await;
            }
            tokio::time::sleep(TASK_POLL).await;
        }
    });
    poll_fn(|cx| {
        if let Poll::Ready(value) = body.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        deadline.as_mut().poll(cx).map(|()| None)
    })
    .await
}
