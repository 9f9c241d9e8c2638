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
//!     cleanup::on_exit(|| println!("log flushed"));
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
//! # Depend on it
//!
//! ```toml
//! [dependencies]
//! graceful-cleanup = "0.1"
//! # or, for `async fn main`:
//! # graceful-cleanup = { version = "0.1", features = ["tokio"] }
//! ```
//!
//! The package is `graceful-cleanup` (`cleanup` on crates.io is an unrelated
//! crate); its library is named `cleanup`, so code still says `cleanup::…`.
//! Under another name (a renamed dependency, a re-export), tell the attribute
//! where the crate is, as `#[tokio::main(crate = "…")]` is told:
//! `#[shutdown::graceful_main(crate = "shutdown")]` with
//! `shutdown = { package = "graceful-cleanup", version = "0.1" }`.
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
//! | SIGKILL, OOM kill, a crash | no | no; with `guardian`, the durable ones, by the guardian | 137 (or the crash's signal) |
//!
//! # Exactly once, under every race
//!
//! Each cleanup is claimed once, by one compare-exchange, by whoever comes
//! first: its drop, [`Guard::disarm`]/[`Finalizer::cancel`], or the shutdown;
//! the others wait until it has finished, so after `disarm()` returns the
//! closure never starts. A guard still running on its own thread is waited
//! for before any finalizer starts; cleanups made during the shutdown still
//! run. (Once the drain has run the guards it found when it began, a thread
//! outside the cleanups that makes a new one is parked in that call: threads
//! that keep registering cannot keep the process from its deadline.) A
//! cleanup that hangs is abandoned at its share, which keeps a reserve for
//! every cleanup still waiting. The end of the process has one owner: the first route out (a signal,
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
//!     guardian,                    // durable cleanups survive a SIGKILL (see below)
//!     crate = "cleanup",           // where the crate is, for a renamed dependency
//!     flavor = "multi_thread",     // async fn main only: or "current_thread"
//!     worker_threads = 4,          // async fn main only
//! )]
//! ```
//!
//! # Telling what happened
//!
//! One line on stderr when the shutdown starts (`shutdown: SIGTERM received,
//! draining (10s)`), a line now and then that names what is pending and the
//! time left, a line naming any cleanup that hung or panicked, and one at the
//! end (`shutdown: done in 12ms, 2 guards and 1 finalizer ran, exiting by
//! SIGTERM`). `quiet` silences them. A child started with [`spawn`] by a
//! program that uses this crate prefixes its lines with its name and pid;
//! [`thread::Builder`] names workers in them.
//!
//! # Features
//!
//! - `tokio`: `#[graceful_main] async fn main`.
//! - `tracing`: once a global subscriber is set, every line is an event with
//!   target `cleanup` and fields (`signal`, `elapsed_ms`, `left_ms`, pending
//!   counts, the `name` and `location` of a hung or panicking cleanup,
//!   `exit_code`/`exit_signal`): INFO for the start, progress and a clean
//!   end, WARN for a hung, panicking or abandoned cleanup, ERROR at the hard
//!   deadline. `quiet` drops the INFO events only. The signal handler never
//!   calls the subscriber: the start event comes from the runtime's thread,
//!   and only "press Ctrl-C again to force" and "second SIGINT, exiting now"
//!   stay raw on stderr.
//! - `log`: the same as `log` records with key-values, once a logger is set.
//!   With both, `tracing` if it has a subscriber, else `log`; never both.
//! - `anyhow`, `eyre`: a [`Shutdown`] inside `anyhow::Error` or
//!   `eyre::Report`, under `.context(..)`/`.wrap_err(..)` too, ends `main`
//!   as `Err(Shutdown)` does: no `Error:` line, and exit 0 after
//!   [`request_shutdown`].
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
//! # Testing code that uses cleanup
//!
//! The shutdown state is one per process, and it never goes back: once a test
//! calls [`request_shutdown`], [`checkpoint`] and [`sleep`] return
//! `Err(Shutdown)` and the [`token`] is cancelled in every other test of that
//! test binary, for good. So test a shutdown in a process of its own.
//!
//! **The program, from outside.** Run it as a child process, as an
//! orchestrator does: wait for the line that says it is ready, send it
//! SIGTERM, and check what it printed and how it ended. Cargo builds a
//! package's binaries for its integration tests and gives their paths as
//! `env!("CARGO_BIN_EXE_<name>")` (this test needs `libc` as a
//! dev-dependency; `Command::new("kill")` would do too; [`TIMEOUT_ENV`] set
//! short in the child's environment keeps it fast). The crate runs this very
//! test, and the next one, on its quick start (`tests/testing_pattern.rs`):
//!
//! ```ignore
//! use std::io::{BufRead as _, BufReader};
//! use std::os::unix::process::ExitStatusExt as _;
//! use std::process::{Command, Stdio};
//! use std::sync::mpsc;
//! use std::time::{Duration, Instant};
//!
//! #[test]
//! fn sigterm_runs_the_cleanups_and_the_program_dies_by_it() {
//!     let program = env!("CARGO_BIN_EXE_myapp");
//!     let mut child = Command::new(program)
//!         .stdout(Stdio::piped())
//!         .spawn()
//!         .unwrap();
//!
//!     // Its stdout, line by line, on a channel, so that every wait has a bound.
//!     let (sender, lines) = mpsc::channel();
//!     let stdout = BufReader::new(child.stdout.take().unwrap());
//!     std::thread::spawn(move || {
//!         for line in stdout.lines().map_while(Result::ok) {
//!             let _ = sender.send(line);
//!         }
//!     });
//!     let within = Duration::from_secs(30);
//!
//!     // Its readiness line, never a sleep: by then its signal handlers are in.
//!     while !lines
//!         .recv_timeout(within)
//!         .expect("the readiness line")
//!         .starts_with("worker started")
//!     {}
//!
//!     // SIGTERM, as `docker stop` or Kubernetes sends it.
//!     // SAFETY: kill(2) on our own child, not waited for yet.
//!     assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
//!
//!     // A watchdog: a program that does not end in time fails the test.
//!     let started = Instant::now();
//!     let status = loop {
//!         if let Some(status) = child.try_wait().unwrap() {
//!             break status;
//!         }
//!         if started.elapsed() > within {
//!             child.kill().unwrap();
//!             panic!("still running {within:?} after SIGTERM");
//!         }
//!         std::thread::sleep(Duration::from_millis(10));
//!     };
//!
//!     // What it printed once stopped, and how it ended.
//!     let printed: Vec<String> = lines.iter().collect();
//!     let guard = printed
//!         .iter()
//!         .position(|line| line == "guard: work queue lock released");
//!     let finalizer = printed
//!         .iter()
//!         .position(|line| line == "finalizer: log flushed");
//!     assert!(guard.is_some() && guard < finalizer, "{printed:?}");
//!     assert_eq!(status.signal(), Some(libc::SIGTERM));
//! }
//! ```
//!
//! **The code under `main`, without the global.** Hand it how it learns of a
//! stop. A `&dyn Fn() -> bool` is the simplest: the program passes
//! `&cleanup::is_shutting_down`, a test whatever it wants to check:
//!
//! ```ignore
//! /// Copies `batches` until a stop is asked; the caller says how it learns of
//! /// one: `&cleanup::is_shutting_down` in the program, anything in a test.
//! fn copy_batches(batches: &[&str], out: &mut Vec<String>, stopping: &dyn Fn() -> bool) {
//!     for batch in batches {
//!         if stopping() {
//!             return;
//!         }
//!         out.push(batch.to_uppercase());
//!     }
//! }
//!
//! #[test]
//! fn copy_stops_between_batches() {
//!     let asked = std::cell::Cell::new(0);
//!     let stop_at_the_third = || {
//!         asked.set(asked.get() + 1);
//!         asked.get() == 3
//!     };
//!     let mut out = Vec::new();
//!     copy_batches(&["a", "b", "c", "d"], &mut out, &stop_at_the_third);
//!     assert_eq!(out, ["A", "B"]);
//! }
//! ```
//!
//! A [`ShutdownToken`] can be handed down the same way, but there is one per
//! process: a unit test can check the path where it is never cancelled, and
//! leaves the stopping path to a child-process test. Guards and
//! [`checkpoint`] need no `#[graceful_main]`: in a test, a guard runs when it
//! drops, and `checkpoint()` is `Ok` as long as nothing asked for a shutdown.
//!
//! **Not on `#[test]`.** [`graceful_main`] is for `fn main` only (it refuses
//! any other function): it installs process-wide signal handlers and ends the
//! process once the body returns. Keep the program's work in functions `main`
//! calls, and test those.
//!
//! # Surviving SIGKILL (the guardian)
//!
//! Nothing runs in a process that is SIGKILLed, killed by the OOM killer or
//! crashes. With `#[graceful_main(guardian)]`, a small guardian process
//! started before `main`'s body does the *durable* cleanups then — they are
//! data, since closures cannot cross a process boundary: [`remove_on_exit`]
//! (a file or a directory tree), [`run_on_exit`] (a command, waited for
//! within its share of the deadline), and every child of [`spawn`] (killed
//! with its process group). They are ordinary finalizers: on a normal end the
//! program does them itself, exactly once, and the guardian leaves without a
//! word; when the program dies without doing them, the guardian does what is
//! left (children first, then newest first, within the deadline) and says
//! on the program's stderr how it died. [`Finalizer::cancel`] is honoured by
//! both. The guardian lives in a session of its own, without a terminal,
//! keeps the program's stdout closed (a reader sees EOF when the program
//! dies), and lets go of its stderr once it has said how the program died.
//!
//! ```no_run
//! use std::process::Command;
//!
//! #[cleanup::graceful_main(guardian)]
//! fn main() -> std::io::Result<()> {
//!     let dir = std::env::temp_dir().join(format!("work-{}", std::process::id()));
//!     std::fs::create_dir_all(&dir)?;
//!     cleanup::remove_on_exit(&dir);
//!     cleanup::run_on_exit(Command::new("logger").arg("work finished"));
//!     loop {
//!         // `kill -9` this process: the guardian removes the directory and
//!         // runs the command.
//!         cleanup::sleep(std::time::Duration::from_secs(1))?;
//!     }
//! }
//! ```
//!
//! The guardian does not survive what kills its cgroup or its container with
//! the program, nor a reboot:
//!
//! - `docker stop`'s and `docker kill`'s SIGKILL, and Kubernetes' at the end of
//!   `terminationGracePeriodSeconds`, kill every process of the container;
//! - systemd's final SIGKILL with `KillMode=control-group` (the default) or
//!   `mixed` kills the whole unit;
//! - the OOM killer when it takes the whole cgroup (`memory.oom.group`, which
//!   Kubernetes sets on cgroup v2), or chooses the guardian itself;
//! - a reboot or a power loss.
//!
//! For those, pair it with what runs after the process, whatever ended it:
//! systemd's `ExecStopPost=` (it runs after the unit's processes are gone), a
//! container's restart policy plus a start-up sweep (at start, remove what a
//! previous run left: a stale pid file whose pid is not alive, a temporary
//! directory named after a dead pid), or `tmpfiles.d` for temporary trees.
//!
//! # Limits
//!
//! Without the guardian, nothing runs on SIGKILL, an OOM kill or power loss:
//! the kernel ends the process without a word. Keep state that must survive those in the
//! filesystem (write to a temporary file and rename) and clean up leftovers at
//! start-up. With `panic = "abort"`, a cleanup that itself panics aborts the
//! process. Windows has no signals: console events (Ctrl-C, Ctrl-Break, a
//! console's close, a logoff or a shutdown) stand for them, and the guardian
//! is not there yet (`guardian` says so on stderr; the program runs on).

#![warn(missing_docs)]

// Empty under `--cfg loom` (cleanup-core is then its lock-free core alone),
// where cleanup-core's tests still build this crate as a dev-dependency.
#[allow(unused_imports)]
#[doc(inline)]
pub use cleanup_core::*;

/// Rewrites `fn main` so that every exit path runs the cleanups exactly once,
/// within a deadline, and leaves with the status the parent expects. See the
/// [crate documentation](crate) for the options and what it expands to.
#[doc(inline)]
pub use cleanup_macros::graceful_main;
