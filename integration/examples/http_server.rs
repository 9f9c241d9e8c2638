//! An HTTP server (axum) that drains under load.
//!
//! ```text
//! cargo run -p cleanup-integration --example http_server
//! curl http://127.0.0.1:3000/work/200     # then Ctrl-C, or kill -TERM <pid>
//! ```
//!
//! On SIGTERM or Ctrl-C the token is cancelled, so `with_graceful_shutdown`
//! stops accepting connections and lets the requests in flight finish; `main`
//! returns, the finalizer reports, and the process dies by that signal. A
//! request slower than the budget (`/slow`) does not hold the process: at the
//! deadline `main`'s future is dropped, which closes its connections.
//!
//! Routes: `/` answers at once, `/work/{ms}` after `ms` milliseconds, `/slow`
//! after an hour, `/readyz` 200 while [`cleanup::is_ready`] (from
//! `cleanup::ready()` once bound until the first signal), 503 after. `--port
//! 0` picks a free port.
//!
//! Under Kubernetes, `CLEANUP_DRAIN_DELAY=5` (or `drain_delay = "5s"`) keeps
//! it serving for 5 s after SIGTERM while `/readyz` says 503 and the
//! endpoints catch up; then it drains as above.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;

/// Requests started and finished, for the report at exit.
#[derive(Default)]
struct Stats {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Stats {
    async fn serve<F: std::future::Future<Output = ()>>(&self, work: F) -> &'static str {
        self.started.fetch_add(1, Ordering::SeqCst);
        work.await;
        self.finished.fetch_add(1, Ordering::SeqCst);
        "done\n"
    }
}

#[cleanup::graceful_main(timeout = "10s")]
async fn main() -> std::io::Result<()> {
    let port = match std::env::args().skip_while(|arg| arg != "--port").nth(1) {
        Some(port) => port
            .parse()
            .map_err(|_| std::io::Error::other(format!("--port {port}: not a port number")))?,
        None => 3000,
    };
    let stats = Arc::new(Stats::default());
    cleanup::on_exit({
        let stats = Arc::clone(&stats);
        move || {
            println!(
                "served {} of {} requests",
                stats.finished.load(Ordering::SeqCst),
                stats.started.load(Ordering::SeqCst)
            );
        }
    });

    let app = Router::new()
        .route(
            "/",
            get(|State(stats): State<Arc<Stats>>| async move { stats.serve(async {}).await }),
        )
        .route(
            "/work/{ms}",
            get(
                |State(stats): State<Arc<Stats>>, Path(ms): Path<u64>| async move {
                    stats
                        .serve(tokio::time::sleep(Duration::from_millis(ms)))
                        .await
                },
            ),
        )
        .route(
            "/readyz",
            get(|| async {
                match cleanup::is_ready() {
                    true => (StatusCode::OK, "ready\n"),
                    false => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
                }
            }),
        )
        .route(
            "/slow",
            get(|State(stats): State<Arc<Stats>>| async move {
                println!("slow request started");
                stats
                    .serve(tokio::time::sleep(Duration::from_secs(3600)))
                    .await
            }),
        )
        .with_state(stats);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    cleanup::ready();
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(cleanup::token().cancelled())
        .await?;
    println!("server drained");
    Ok(())
}
