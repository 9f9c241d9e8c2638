//! Make a Rust program die well.
//!
//! `#[cleanup::graceful_main]` on `fn main` installs handlers for SIGTERM,
//! SIGINT and SIGHUP. The program holds [guards](guard) (a closure that runs
//! when the guard drops, as Ruby's `ensure`) and registers
//! [finalizers](on_exit) (as Python's `atexit`). However the process ends —
//! a return, an error, a panic, [`exit`], `std::process::exit`, a signal —
//! every cleanup runs exactly once, guards newest first, then finalizers
//! newest first, within a deadline; and the process leaves with the status
//! its parent expects: after SIGTERM it dies *by* SIGTERM, so shells,
//! supervisors and `WIFSIGNALED` see the truth.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! #[cleanup::graceful_main(timeout = "5s")]
//! fn main() -> Result<(), cleanup::Shutdown> {
//!     let _pidfile = cleanup::guard(|| println!("pid file removed"));
//!     let _ = cleanup::on_exit(|| println!("log flushed"));
//!     loop {
//!         // Err(Shutdown) once SIGTERM or Ctrl-C arrives: `?` returns from
//!         // main, the stack unwinds, the guard and finalizer run, and the
//!         // process exits by that signal.
//!         cleanup::sleep(Duration::from_secs(1))?;
//!         println!("working");
//!     }
//! }
//! ```
//!
//! # What runs, on every exit path
//!
//! | the process ends by | stack values dropped | guards, then finalizers | exit status |
//! |---|---|---|---|
//! | `main` returns `Ok`/`()`/`ExitCode` | yes | yes | 0 / that code |
//! | `main` returns `Err(e)` | yes | yes | 1, `Error: {e:?}` on stderr |
//! | a panic (unwinding) | yes | yes | 101 |
//! | a panic with `panic = "abort"` | no | yes, before the abort | SIGABRT |
//! | [`exit(code)`](exit) | yes on `main`'s thread | yes | `code` |
//! | `std::process::exit(code)` | no | yes | `code` |
//! | a signal, and `main` notices ([`checkpoint`], [`sleep`], [`token`]) | yes | yes | killed by that signal |
//! | a signal, and `main` never returns | no | yes, from the runtime thread | killed by that signal |
//! | a signal, and a cleanup hangs | — | that one is abandoned and named; the rest run | killed by that signal |
//! | [`request_shutdown`], and `main` returns | yes | yes | 0 |
//! | a second SIGINT (Ctrl-C again) | no | no more | killed by SIGINT, at once |
//! | SIGKILL, OOM kill, power loss | no | no | 137 (nothing can run) |
//!
//! # Exactly once, under every race
//!
//! Each cleanup is claimed once, by one compare-exchange, by whoever comes
//! first: its drop, [`Guard::disarm`]/[`Finalizer::cancel`], or the shutdown;
//! the others wait until it has finished, so after `disarm()` returns the
//! closure never starts. A guard still running on its own thread is waited
//! for before any finalizer starts; cleanups made during the shutdown still
//! run. The end of the process has one owner: the first route out (a signal,
//! a return, a panic, `exit` on any thread) decides the status, and later
//! routes wait for it; [`exit`] inside a cleanup sets the final code while
//! the remaining cleanups still run. A child made by `fork` runs none of its
//! parent's cleanups.
//!
//! # Async main (feature `tokio`)
//!
//! `#[graceful_main] async fn main` builds a tokio runtime, as
//! `#[tokio::main]` does (`flavor`, `worker_threads`). On a signal the
//! [`token`] is cancelled (`token().cancelled()` is a future for any
//! executor, ready for `axum::serve(..).with_graceful_shutdown(..)`); a `main`
//! future that has not finished at its deadline is dropped, which runs every
//! `Drop` it holds; spawned tasks get the rest of its share; a blocking task
//! that never returns does not keep the process alive.
//!
//! # Worker threads
//!
//! [`thread::spawn`] starts a thread that gets the token and is joined within
//! the budget before the cleanups run.
//!
//! # Child processes
//!
//! [`spawn`] starts a tracked child: on shutdown it is forwarded the signal
//! (to its process group when it leads one; not a terminal's Ctrl-C when it
//! shares ours, since the terminal already sent it), waited for within the
//! budget, then SIGKILLed and reaped. As PID 1 of a container, the program
//! also reaps every orphan, as tini does.
//!
//! # The deadline
//!
//! Set `timeout` to the grace period the orchestrator gives (default 10 s,
//! docker's; `CLEANUP_TIMEOUT=30` overrides it at run time without a
//! rebuild). From the first signal the process is gone by `timeout` less a
//! safety margin (500 ms at 10 s), so it ends before the orchestrator's
//! SIGKILL whatever hangs; [`deadline`] says when. `main`
//! may use up to three quarters of it to return; the rest is kept for the
//! cleanups, which run even if `main` never returns. Each cleanup may use what
//! is left but a small reserve for those still to run; one that would eat
//! into that reserve is abandoned and named on stderr, and the rest go on.
//!
//! # Options
//!
//! ```text
//! #[cleanup::graceful_main(
//!     timeout = "10s",             // the grace period; "500ms", "1.5s", "2m", "1m30s"
//!     drain_delay = "5s",          // keep serving this long after SIGTERM (Kubernetes)
//!     signals = "TERM,INT,HUP",    // the signals that start a shutdown
//!     exit = "signal",             // "signal": re-raise; "code": exit 128+n;
//!                                  // "zero": 0 after a clean shutdown
//!     quiet,                       // no `shutdown: …` lines on stderr
//!     flavor = "multi_thread",     // async fn main only: or "current_thread"
//!     worker_threads = 4,          // async fn main only
//! )]
//! ```
//!
//! # What it expands to
//!
//! ```no_run
//! fn main() -> Result<(), cleanup::Shutdown> {
//!     ::cleanup::__private::run(
//!         ::cleanup::__private::Config::new().timeout_ms(5000),
//!         move || -> Result<(), cleanup::Shutdown> {
//!             // the body of main, unchanged
//! #           Ok(())
//!         },
//!     )
//! }
//! ```
//!
//! # Limits
//!
//! Nothing runs on SIGKILL, an OOM kill or power loss: the kernel ends the
//! process without a word. Keep state that must survive those in the
//! filesystem (write to a temporary file and rename) and clean up leftovers at
//! start-up. With `panic = "abort"`, a cleanup that itself panics aborts the
//! process. Signals are Unix only.

#![warn(missing_docs)]

#[doc(inline)]
pub use cleanup_core::*;

/// Rewrites `fn main` so that every exit path runs the cleanups exactly once,
/// within a deadline, and leaves with the status the parent expects. See the
/// [crate documentation](crate) for the options and what it expands to.
#[doc(inline)]
pub use cleanup_macros::graceful_main;
