//! The shutdown machine: from the first sign that the process is ending to
//! the moment it leaves.
//!
//! ```text
//! Running ──start──▶ Draining ──body returns, or its share of the budget is spent──▶ Cleaning ──▶ Exiting
//! ```
//!
//! In `Draining` the body may still finish on its own (it was told through
//! the token, `checkpoint`, `sleep`). In `Cleaning` one executor thread runs
//! the cleanups one after another; the runtime thread watches it and, when a
//! cleanup overstays its share of the budget, names it, abandons that
//! executor and starts a fresh one for the rest. At the hard deadline the
//! runtime thread ends the process, whatever still runs.

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::{Config, Exit};
use crate::deadline::Budget;
use crate::exit_status::{is_pid_one, Ending};
use crate::log::{self, Count, Secs, SignalName};
use crate::registry::{self, Cleanup, Kind, Name};
use crate::state::{self, lock, ExitReason};

/// How often the runtime thread says what it is still waiting for.
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long past the body's deadline the watchdog waits for an async `main`
/// to be dropped by its own thread.
const ASYNC_GRACE: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Running,
    Draining,
    Cleaning,
    Exiting,
}

struct Machine {
    phase: Phase,
    config: Config,
    /// The program runs under `#[graceful_main]`.
    installed: bool,
    /// `main` is a future, which its own thread drops at the body's
    /// deadline; the watchdog gives it a moment before going on without it.
    async_body: bool,
    /// `main` has returned; its thread is now waiting for these (worker
    /// threads, spawned tasks) before the cleanups, within the body's share.
    body_returned: Option<&'static str>,
    budget: Option<Budget>,
    /// The exit code the body ended with, once it has.
    body_code: Option<i32>,
    /// The body did not return within its share: the runtime went on without it.
    body_late: bool,
    /// A start line was printed, so an end line is owed.
    announced: bool,
    jobs: VecDeque<Cleanup>,
    running: Option<Running>,
    /// When the runtime thread will next look: an executor starting a
    /// cleanup due earlier wakes it (one notify, not one per cleanup).
    watch_at: Option<Instant>,
    /// Only this executor may take the next cleanup; an abandoned one stops.
    executor: u64,
    guards_ran: usize,
    finalizers_ran: usize,
    hung: usize,
    panicked: usize,
}

struct Running {
    name: Name,
    started: Instant,
    until: Instant,
}

static MACHINE: Mutex<Machine> = Mutex::new(Machine {
    phase: Phase::Running,
    config: Config::new(),
    installed: false,
    async_body: false,
    body_returned: None,
    budget: None,
    body_code: None,
    body_late: false,
    announced: false,
    jobs: VecDeque::new(),
    running: None,
    watch_at: None,
    executor: 0,
    guards_ran: 0,
    finalizers_ran: 0,
    hung: 0,
    panicked: 0,
});
/// Wakes the runtime thread when the phase changes.
static WATCH: Condvar = Condvar::new();

thread_local! {
    /// Set while this thread runs a cleanup.
    static IN_CLEANUP: Cell<bool> = const { Cell::new(false) };
}

pub(crate) fn configure(config: Config) {
    let mut machine = lock(&MACHINE);
    machine.config = config;
    machine.installed = true;
}

#[cfg(feature = "tokio")]
pub(crate) fn set_async_body() {
    lock(&MACHINE).async_body = true;
}

/// `main` has returned (or its future was dropped) and its thread now waits
/// for `what` within the body's share: the watchdog must not take over.
pub(crate) fn set_body_returned(what: &'static str) {
    lock(&MACHINE).body_returned = Some(what);
}

/// The async `main`'s future had to be dropped at its deadline: not clean.
#[cfg(feature = "tokio")]
pub(crate) fn set_body_late() {
    lock(&MACHINE).body_late = true;
}

/// Until when `main` may run once a shutdown has started; `None` before.
#[cfg(feature = "tokio")]
pub(crate) fn body_deadline() -> Option<Instant> {
    lock(&MACHINE).budget.map(|budget| budget.body_until())
}

pub(crate) fn signals() -> &'static [i32] {
    lock(&MACHINE).config.signals
}

pub(crate) fn in_cleanup() -> bool {
    IN_CLEANUP.with(Cell::get)
}

/// Starts the shutdown for `reason` if nothing has started it yet: the
/// budget's clock starts, waiters wake, the runtime thread starts watching.
///
/// All under the machine's lock: the thread that ends the shutdown takes
/// that lock first, so it always knows whether a start line was printed (and
/// so owes an end line).
pub(crate) fn start(reason: ExitReason) -> bool {
    let mut machine = lock(&MACHINE);
    if !state::begin(reason) {
        return false;
    }
    let reason = state::reason().unwrap_or(reason);
    if machine.phase == Phase::Running {
        machine.phase = Phase::Draining;
        machine.budget = Some(Budget::new(Instant::now(), machine.config.timeout));
    }
    machine.announced =
        machine.installed && matches!(reason, ExitReason::Signal(_) | ExitReason::Requested);
    let forward = match reason {
        ExitReason::Signal(sig) => sig,
        _ => libc::SIGTERM,
    };
    let forwarded = crate::children::forward(forward, crate::signals::first_from_terminal());
    if forwarded > 0 {
        log::line(format_args!(
            "forwarding {} to {}",
            SignalName(forward),
            Count(forwarded, "child")
        ));
    }
    // A signal's start line was printed by the handler itself.
    if machine.announced && reason == ExitReason::Requested {
        log::line(format_args!(
            "requested, draining ({})",
            Secs(machine.config.timeout)
        ));
    }
    WATCH.notify_all();
    drop(machine);
    crate::signals::wake();
    true
}

/// Runs every remaining cleanup on this thread, under the runtime thread's
/// watch, and says how the process must end. `None` when another thread
/// already owns the shutdown's end (this one should then wait for it).
pub(crate) fn clean_up_here(reason: ExitReason, code: i32) -> Option<Ending> {
    start(reason);
    if crate::thread::any_running() {
        set_body_returned("worker threads");
        join_workers();
    }
    if crate::children::any_running() {
        set_body_returned("child processes");
        if let Some(until) = lock(&MACHINE).budget.map(|budget| budget.body_until()) {
            crate::children::wait_for_children(until);
        }
    }
    let (id, work) = {
        let mut machine = lock(&MACHINE);
        if matches!(machine.phase, Phase::Cleaning | Phase::Exiting) {
            return None;
        }
        machine.body_code = Some(code);
        let id = begin_cleaning(&mut machine);
        (id, !machine.jobs.is_empty())
    };
    if work {
        // Someone must be able to abandon a cleanup that hangs.
        crate::run::ensure_runtime();
    }
    execute(id).then(finish)
}

/// Waits for the workers of `cleanup::thread::spawn` to return, within the
/// body's share of the budget, so the cleanups never pull the floor from
/// under a worker; names those that overstay.
fn join_workers() {
    let Some(until) = lock(&MACHINE).budget.map(|budget| budget.body_until()) else {
        return;
    };
    let stuck = crate::thread::wait_for_workers(until);
    if stuck.is_empty() {
        return;
    }
    for worker in &stuck {
        log::line(format_args!("{worker} did not return in time, left behind"));
    }
    lock(&MACHINE).hung += stuck.len();
}

/// Moves to `Cleaning`: takes every armed cleanup and names a new executor.
fn begin_cleaning(machine: &mut Machine) -> u64 {
    // Children had the body's share to end after the forwarded signal.
    let killed = crate::children::kill_and_reap();
    for pid in &killed {
        log::line(format_args!("child {pid} did not exit in time, killed"));
    }
    machine.hung += killed.len();
    machine.phase = Phase::Cleaning;
    let timeout = machine.config.timeout;
    machine
        .budget
        .get_or_insert_with(|| Budget::new(Instant::now(), timeout));
    machine.jobs = registry::take_all().into();
    machine.executor += 1;
    WATCH.notify_all();
    machine.executor
}

/// Runs cleanups until none is left (`true`) or this executor was abandoned
/// while one of its cleanups hung (`false`).
fn execute(id: u64) -> bool {
    let mut finished: Option<(Kind, bool)> = None;
    loop {
        let cleanup = {
            let mut machine = lock(&MACHINE);
            if machine.executor != id {
                return false;
            }
            if let Some((kind, ok)) = finished.take() {
                match kind {
                    Kind::Guard => machine.guards_ran += 1,
                    Kind::Finalizer => machine.finalizers_ran += 1,
                }
                machine.panicked += usize::from(!ok);
            }
            let Some(cleanup) = machine.jobs.pop_front() else {
                machine.running = None;
                return true;
            };
            let now = Instant::now();
            let until = machine
                .budget
                .map_or(now, |budget| budget.cleanup_until(now, machine.jobs.len()));
            machine.running = Some(Running {
                name: cleanup.name(),
                started: now,
                until,
            });
            if machine.watch_at.is_some_and(|at| until < at) {
                WATCH.notify_all();
            }
            cleanup
        };
        let (kind, name) = (cleanup.kind, cleanup.name());
        IN_CLEANUP.with(|flag| flag.set(true));
        let result = catch_unwind(AssertUnwindSafe(cleanup.job));
        IN_CLEANUP.with(|flag| flag.set(false));
        if let Err(payload) = &result {
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            log::line(format_args!("{name} panicked: {message}"));
        }
        finished = Some((kind, result.is_ok()));
    }
}

/// The active executor is done: settle the ending and say so.
fn finish() -> Ending {
    let mut machine = lock(&MACHINE);
    machine.phase = Phase::Exiting;
    let ending = machine.ending(false);
    let problems = machine.hung + machine.panicked > 0 || machine.body_late;
    if machine.announced || problems {
        let elapsed = machine.budget.map_or(Duration::ZERO, |b| b.start.elapsed());
        log::line(format_args!(
            "done in {}, {} and {} ran{}, {}",
            Secs(elapsed),
            Count(
                machine.guards_ran + registry::dropped_during_shutdown(),
                "guard"
            ),
            Count(machine.finalizers_ran, "finalizer"),
            machine.problems(),
            Describe(ending)
        ));
    }
    ending
}

impl Machine {
    /// How the process ends, given what happened. A shutdown is clean when the
    /// body returned in time and every cleanup finished without panicking.
    fn ending(&self, deadline_hit: bool) -> Ending {
        let clean = !deadline_hit && !self.body_late && self.hung + self.panicked == 0;
        let code = self.body_code.unwrap_or(1);
        match state::reason().unwrap_or(ExitReason::Return) {
            ExitReason::Signal(sig) => match self.config.exit {
                Exit::Signal => Ending::Raise(sig),
                Exit::Zero if clean => Ending::Code(0),
                Exit::Code | Exit::Zero => Ending::Code(128 + sig),
            },
            ExitReason::Panic if cfg!(panic = "abort") => Ending::Abort,
            ExitReason::Requested if !clean && code == 0 => Ending::Code(1),
            _ => Ending::Code(code),
        }
    }

    fn problems(&self) -> String {
        let mut text = String::new();
        if self.hung > 0 {
            text += &format!(", {} abandoned", self.hung);
        }
        if self.panicked > 0 {
            text += &format!(", {} panicked", self.panicked);
        }
        text
    }
}

/// `exiting by SIGTERM`, `exiting with code 0`.
struct Describe(Ending);

impl std::fmt::Display for Describe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Ending::Raise(sig) if is_pid_one() => {
                write!(f, "exiting with code {} (PID 1)", 128 + sig)
            }
            Ending::Raise(sig) => write!(f, "exiting by {}", SignalName(sig)),
            Ending::Code(code) => write!(f, "exiting with code {code}"),
            Ending::Abort => f.write_str("aborting"),
        }
    }
}

/// Starts an executor thread for the remaining cleanups.
fn spawn_executor(id: u64) {
    let spawned = std::thread::Builder::new()
        .name("cleanup-drain".into())
        .spawn(move || {
            if execute(id) {
                finish().leave();
            }
        });
    if let Err(err) = spawned {
        log::line(format_args!(
            "cannot start a thread for the cleanups ({err}); running them on the watchdog"
        ));
        if execute(id) {
            finish().leave();
        }
    }
}

/// When the watchdog stops waiting for `main`. When `main`'s own thread ends
/// the body's share itself (an async `main` dropped at its deadline, or
/// workers and tasks waited for after `main` returned), the watchdog leaves
/// it a moment to do so, so that thread, not the watchdog, runs the cleanups.
fn body_until(machine: &Machine, budget: &Budget) -> Instant {
    let grace = if machine.async_body || machine.body_returned.is_some() {
        ASYNC_GRACE.min(budget.hard().saturating_duration_since(budget.body_until()) / 2)
    } else {
        Duration::ZERO
    };
    budget.body_until() + grace
}

/// The runtime thread's work once shutdown has started: enforce the budget.
/// Never returns: the process ends here at the hard deadline if not before.
pub(crate) fn watch() -> ! {
    let mut next_report = Instant::now() + REPORT_EVERY;
    let mut machine = lock(&MACHINE);
    loop {
        let now = Instant::now();
        let timeout = machine.config.timeout;
        let budget = *machine
            .budget
            .get_or_insert_with(|| Budget::new(now, timeout));
        if crate::exit_status::is_pid_one() {
            crate::children::reap_orphans();
        }
        if now >= budget.hard() {
            crate::children::forward(libc::SIGKILL, false);
            let ending = machine.ending(true);
            let not_run = machine.jobs.len() + usize::from(machine.running.is_some());
            machine.phase = Phase::Exiting;
            log::line(format_args!(
                "deadline of {} reached, {} not run, {}",
                Secs(budget.timeout),
                Count(not_run, "cleanup"),
                Describe(ending)
            ));
            ending.leave_now();
        }
        let mut wake_at = budget.hard().min(next_report);
        match machine.phase {
            Phase::Draining if now >= body_until(&machine, &budget) => {
                for (name, started) in registry::take_in_flight() {
                    log::line(format_args!(
                        "{name} hung, abandoned after {}",
                        Secs(now - started)
                    ));
                    machine.hung += 1;
                }
                log::line(format_args!(
                    "main did not return within {}, running cleanups without it",
                    Secs(now - budget.start)
                ));
                machine.body_late = true;
                let id = begin_cleaning(&mut machine);
                drop(machine);
                spawn_executor(id);
                machine = lock(&MACHINE);
                continue;
            }
            Phase::Draining => wake_at = wake_at.min(body_until(&machine, &budget)),
            Phase::Cleaning => {
                if let Some(running) = machine.running.as_ref() {
                    if now >= running.until {
                        log::line(format_args!(
                            "{} hung, abandoned after {}",
                            running.name,
                            Secs(now - running.started)
                        ));
                        machine.hung += 1;
                        machine.running = None;
                        machine.executor += 1;
                        let id = machine.executor;
                        drop(machine);
                        spawn_executor(id);
                        machine = lock(&MACHINE);
                        continue;
                    }
                    wake_at = wake_at.min(running.until);
                }
            }
            Phase::Running | Phase::Exiting => {}
        }
        if now >= next_report && matches!(machine.phase, Phase::Draining | Phase::Cleaning) {
            next_report = now + REPORT_EVERY;
            wake_at = wake_at.min(next_report);
            let left = Secs(budget.left(now));
            let dropping = registry::in_flight().first().map(|&(name, _)| name);
            match machine
                .running
                .as_ref()
                .map(|running| running.name)
                .or(dropping)
            {
                Some(name) => log::line(format_args!("running {name}, {left} left")),
                None if machine.phase == Phase::Draining && machine.body_returned.is_some() => {
                    let what = machine.body_returned.unwrap_or_default();
                    log::line(format_args!("waiting for {what} to finish, {left} left"));
                }
                None if machine.phase == Phase::Draining => {
                    let (guards, finalizers) = registry::pending();
                    log::line(format_args!(
                        "waiting for main to return, {} and {} pending, {left} left",
                        Count(guards, "guard"),
                        Count(finalizers, "finalizer")
                    ));
                }
                None => {}
            }
        }
        machine.watch_at = Some(wake_at);
        machine = WATCH
            .wait_timeout(machine, wake_at.saturating_duration_since(now))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}
