//! The shutdown machine: from the first sign that the process is ending to
//! the moment it leaves. The end has one owner.
//!
//! ```text
//! Running ──start──▶ Draining ──an owner claims the end──▶ Cleaning ──▶ Exiting
//! ```
//!
//! - `start` (a signal, a return, a panic, `exit`, `request_shutdown`) moves
//!   to `Draining`: the budget's clock starts (at the signal, if one came
//!   first), waiters wake, children are told. The first route's reason and
//!   code are claimed once, in `state`: they decide the status.
//! - In `Draining` the body may still finish on its own.
//! - The first route that reaches the end — `main`'s thread once the body is
//!   over, `exit` or `std::process::exit` on any thread, or the watchdog when
//!   the body's share of the budget is spent — claims it (`Cleaning`). Every
//!   later route waits there for the owner and never cuts it short.
//! - In `Cleaning` one executor at a time runs the cleanups: it claims each
//!   one in the registry (so a drop or a disarm racing it cannot also run
//!   it). First the guards its first scan finds, newest first; then the
//!   registry closes (a thread that makes a cleanup from now on, outside a
//!   cleanup, is parked in that call: threads that keep registering cannot
//!   keep the drain from its end); then the guards made meanwhile; it waits
//!   for guards running on their own threads; then finalizers newest first,
//!   and whatever cleanups add, until nothing is left. The runtime thread
//!   watches the executor: one that overstays its cleanup's share (which
//!   keeps a reserve for every cleanup still waiting, guards and finalizers
//!   alike) is named and abandoned, and a fresh executor goes on with the
//!   rest.
//! - Just before the hard deadline the runtime thread says what did not run
//!   and ends the process, whatever runs; at the deadline itself the timer
//!   ends it if that thread could not.

mod batch;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::deadline::{Budget, Stamp};
use crate::exit_status::{Ending, Facts, Seen};
use crate::log::{self, Count, Fields, Left, Level, Secs, SignalName, Text};
use crate::registry::{self, Claimed, Found, Kind, Name, State, Ticket};
use crate::state::{self, ExitReason};
use crate::sync::lock;
use batch::{Batch, Next};

/// How often the runtime thread says what it is still waiting for.
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long past the body's deadline the watchdog waits for an async `main`
/// to be dropped by its own thread.
const ASYNC_GRACE: Duration = Duration::from_millis(200);
/// How often an executor looks at a guard running on another thread.
const POLL: Duration = Duration::from_millis(1);
/// How often the runtime thread looks at the cleanup the executor runs,
/// once it keeps the shares (see [`Machine::ticking`]): a cleanup's share
/// counts from the first look that finds it called, at most this much (and
/// the scheduler's delay) after it started.
const TICK: Duration = Duration::from_millis(1);

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
    /// The code `main` returned (or panicked) with: what a requested
    /// shutdown exits with. A later `exit` on another thread does not
    /// change it: the first route, the request, decides.
    body_code: Option<i32>,
    /// `exit(code)` or `std::process::exit(code)` from inside a cleanup.
    final_code: Option<i32>,
    /// The body did not return within its share: the runtime went on without it.
    body_late: bool,
    /// A start line was printed, so an end line is owed.
    announced: bool,
    /// Cleanups found armed by the last scan, newest first, to claim in turn.
    batch: Batch,
    /// The time left was kept for the cleanups made before the shutdown:
    /// those made since are no longer started.
    late_cut: bool,
    running: Option<Running>,
    /// Claimed cleanups the executor no longer waits for: abandoned when they
    /// hung, or ended by an `exit` inside them.
    settled: Vec<Ticket>,
    /// The executor has taken the guards of its first scan.
    first_pass: bool,
    /// The registry was closed: from now on only cleanups add cleanups.
    closed: bool,
    /// Cleanups waiting behind the current batch (the finalizers behind a
    /// batch of guards): each share keeps their reserve too.
    after_batch: usize,
    /// When the runtime thread will next look: an executor starting a
    /// cleanup due earlier wakes it (one notify, not one per cleanup).
    watch_at: Option<Stamp>,
    /// The runtime thread looks at the running cleanup every [`TICK`] and
    /// sets its share when it first finds it called: the executor then
    /// starts a cleanup without reading the clock (100 000 quick ones took
    /// 8.1 ms with a reading each, 30 ns here, and 5.1 ms without).
    ticking: bool,
    /// When the runtime thread last looked (while `ticking`).
    looked_at: Stamp,
    /// Only this executor may take the next cleanup; an abandoned one stops.
    executor: u64,
    /// Cleanups the executors have claimed, to number them (see [`CALLED`]).
    claims: u64,
    guards_ran: usize,
    finalizers_ran: usize,
    hung: usize,
    panicked: usize,
    /// Late cleanups left unrun for lack of time (see `late_cut`).
    not_started: usize,
}

/// What the executor is doing: running a cleanup it claimed, or waiting for
/// one that runs on its own thread.
struct Running {
    ticket: Ticket,
    name: Name,
    /// When the cleanup started (for a guard running by its own drop: when
    /// that drop began, or, if before the shutdown, the shutdown's start).
    started: Stamp,
    /// The guard's drop began before the shutdown did: `started` is a
    /// lower bound.
    started_before: bool,
    /// When its share ends; `None` until the runtime thread sets it, from
    /// the first look that finds it called (`started` is until then the
    /// look before, a lower bound).
    until: Option<Stamp>,
    /// Waiting for a guard that another thread runs, not running one.
    elsewhere: bool,
    /// The executor's claim number for it (see [`CALLED`]); 0 elsewhere.
    claim: u64,
}

/// The claim number of the cleanup whose closure the executor has called.
/// Until then a claimed cleanup is not running, and is not abandoned: an
/// executor the scheduler paused past a short share between the claim and
/// the call (seen once in 800 randomized trials, on a loaded machine, with
/// a 5 ms share) would otherwise lose a cleanup that never started.
static CALLED: AtomicU64 = AtomicU64::new(0);

impl Running {
    /// A guard running by its own drop on another thread, given up on at
    /// `until`: started when that drop began, or, if it began before the
    /// shutdown did, counted from `shutdown_began`.
    fn elsewhere(found: &Found, shutdown_began: Instant, until: Instant) -> Running {
        let since = registry::dropping_since(found.ticket);
        Running {
            ticket: found.ticket,
            name: Name::of(found),
            started: Stamp::of(since.unwrap_or(shutdown_began)),
            started_before: since.is_none(),
            until: Some(Stamp::of(until)),
            elsewhere: true,
            claim: 0,
        }
    }

    /// `… hung, abandoned after 2.4s`, a warning.
    fn say_hung(&self, now: Instant) {
        let ran = now.saturating_duration_since(self.started.instant());
        log::event(
            Level::Warn,
            self.name.fields().elapsed(ran),
            format_args!(
                "{} hung, abandoned after {}{}",
                self.name,
                Secs(ran),
                if self.started_before {
                    " (it was already running when the shutdown began)"
                } else {
                    ""
                }
            ),
        );
    }
}

static MACHINE: Mutex<Machine> = Mutex::new(Machine {
    phase: Phase::Running,
    config: Config::new(),
    installed: false,
    async_body: false,
    body_returned: None,
    budget: None,
    body_code: None,
    final_code: None,
    body_late: false,
    announced: false,
    batch: Batch::EMPTY,
    late_cut: false,
    running: None,
    settled: Vec::new(),
    first_pass: false,
    closed: false,
    after_batch: 0,
    watch_at: None,
    ticking: false,
    looked_at: Stamp::ZERO,
    executor: 0,
    claims: 0,
    guards_ran: 0,
    finalizers_ran: 0,
    hung: 0,
    panicked: 0,
    not_started: 0,
});
/// Wakes the runtime thread when the phase changes.
static WATCH: Condvar = Condvar::new();

/// Wakes the runtime thread, if there is one (a notify is a system call
/// even with no one waiting). Called under the machine's lock, which the
/// thread holds from its start until it waits: one starting now sees what
/// changed.
fn notify_watch() {
    if crate::runtime::is_started() {
        WATCH.notify_all();
    }
}

thread_local! {
    /// The executor this thread is, if it is one.
    static EXECUTOR: Cell<Option<u64>> = const { Cell::new(None) };
}

pub(crate) fn configure(config: Config) {
    let mut machine = lock(&MACHINE);
    machine.config = config;
    machine.installed = true;
    // A limit the system sets later cuts the budget (see `cap`).
    crate::signals::on_cap(cap);
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

/// Whether an owner has claimed the end (it runs the cleanups, or is leaving).
pub(crate) fn is_owned() -> bool {
    matches!(lock(&MACHINE).phase, Phase::Cleaning | Phase::Exiting)
}

/// Starts the shutdown for `reason` if nothing has started it yet: the
/// first route is claimed (a signal may have claimed it already), the
/// budget's clock starts, waiters wake, children are told, the runtime
/// thread starts watching. Returns whether this call started it.
///
/// All under the machine's lock: the thread that ends the shutdown takes
/// that lock first, so it always knows whether a start line was printed (and
/// so owes an end line).
pub(crate) fn start(reason: ExitReason, code: i32) -> bool {
    let mut machine = lock(&MACHINE);
    state::begin(reason, code);
    if machine.phase != Phase::Running {
        return false;
    }
    machine.phase = Phase::Draining;
    let reason = state::reason().unwrap_or(reason);
    // In stamps: a shutdown with nothing to run makes no `Instant` (see
    // `Stamp`). The deadline runs from the signal, however late this
    // thread is: the handler's reading, none taken here.
    let from = match reason {
        ExitReason::Signal(_) => crate::deadline::first_signal_stamp(),
        _ => None,
    }
    .unwrap_or_else(Stamp::now);
    let budget = Budget::from(from, crate::deadline::timeout());
    machine.budget = Some(budget);
    // Whoever was to end the process, it is gone by the hard deadline.
    crate::exit_status::set_deadline_ending(machine.ending(true));
    crate::signals::arm_deadline(budget.hard_stamp());
    machine.announced =
        machine.installed && matches!(reason, ExitReason::Signal(_) | ExitReason::Requested);
    let forward = match reason {
        ExitReason::Signal(sig) => sig,
        _ => crate::signal::SIGTERM,
    };
    // The handler left its line to an ordinary thread: this one.
    announce_deferred_start();
    let crate::children::Forwarded {
        as_is: forwarded,
        as_term,
        failed,
    } = crate::children::forward(forward);
    // What they get: the signal itself, or on Windows the Ctrl-Break that
    // stands for it.
    let sent = crate::sys::process::sent_as(forward);
    if forwarded > 0 {
        log::event(
            Level::Info,
            Fields::new().signal(sent).children(forwarded),
            format_args!(
                "forwarding {} to {}",
                SignalName(sent),
                Count(forwarded, "child")
            ),
        );
    }
    for (pid, err) in failed {
        log::event(
            Level::Warn,
            Fields::new().signal(sent).pid(pid),
            format_args!(
                "could not send {} to child {pid}: {err}; it is waited for within the budget, then killed",
                SignalName(sent),
            ),
        );
    }
    if as_term > 0 {
        log::event(
            Level::Info,
            Fields::new().signal(crate::signal::SIGTERM).children(as_term),
            format_args!(
                "forwarding SIGTERM to {} in our process group (it may have had the SIGINT already)",
                Count(as_term, "child")
            ),
        );
    }
    // A signal's start line was printed by the handler itself.
    if machine.announced && reason == ExitReason::Requested {
        log::event(
            Level::Info,
            Fields::new().timeout(crate::deadline::timeout()),
            format_args!("requested, draining ({})", Secs(crate::deadline::timeout())),
        );
    }
    notify_watch();
    // systemd (Type=notify): stopping, why, and how long to wait for us, in
    // one message, so a stop that ends at once still says all three. Sent
    // under the lock: the thread that ends the shutdown takes it first, so
    // its last STATUS never comes before this (or is sent by a process
    // already gone). A wedged manager holds it at most the send's timeout.
    if crate::notify::enabled() {
        let left = budget.left_at(Stamp::now());
        crate::notify::stopping_for(&format!("stopping: {reason}"), Some(extension(left)));
    }
    drop(machine);
    crate::signals::wake();
    true
}

/// The start line the signal handler did not write (a subscriber or logger
/// takes the lines), as an event from this ordinary thread.
fn announce_deferred_start() {
    if let Some((text, sig)) = crate::signals::take_deferred_start() {
        log::event(
            Level::Info,
            Fields::new()
                .signal(sig)
                .timeout(crate::deadline::timeout()),
            format_args!("{text}"),
        );
    }
}

/// How long systemd is asked to wait, re-asked every second: what is left
/// of our own deadline, at most a few seconds at a time, plus a second for
/// the next message to arrive.
fn extension(left: Duration) -> Duration {
    left.min(Duration::from_secs(3)) + Duration::from_secs(1)
}

/// A signal came and a drain delay keeps the program serving until `until`:
/// systemd hears at once (`first`) that the service is stopping, then has
/// its stop timeout extended every second, as during the drain itself.
pub(crate) fn tell_systemd_the_delay(until: Instant, first: bool) {
    // The runtime thread comes here first after a signal that starts a
    // drain delay: the place to emit the start event.
    announce_deferred_start();
    if !crate::notify::enabled() {
        return;
    }
    if first {
        crate::notify::stopping();
    }
    if let Some(reason) = state::reason() {
        let left = until.saturating_duration_since(Instant::now());
        crate::notify::status(&format!(
            "stopping: {reason}; serving {} more before draining",
            Left(left)
        ));
    }
    if let Some(deadline) = crate::deadline::deadline() {
        crate::notify::extend_timeout(extension(
            deadline.saturating_duration_since(Instant::now()),
        ));
    }
}

/// The one entry every route out of the process hands over to (`main`'s
/// return or unwinding, `exit` on any thread, the C library's `exit`, a
/// panic that aborts): the route `reason` with `code` claims the end and
/// runs the cleanups here, or, if another route owns the end, waits for it.
/// Never returns.
pub(crate) fn end(reason: ExitReason, code: i32) -> ! {
    leave_or_wait(clean_up_here(reason, code))
}

/// Leaves as `ending` says; `None` (another route owns the end) parks this
/// thread for good, as the owner will end the process.
pub(crate) fn leave_or_wait(ending: Option<Ending>) -> ! {
    match ending {
        Some(ending) => ending.leave(),
        None => loop {
            std::thread::park();
        },
    }
}

/// The route `reason` (with `code`) has reached the end on this thread:
/// claims the end and runs every remaining cleanup here, under the runtime
/// thread's watch, and says how the process must end. `None` when another
/// route already owns the end: this thread must then wait for it.
pub(crate) fn clean_up_here(reason: ExitReason, code: i32) -> Option<Ending> {
    start(reason, code);
    if matches!(
        reason,
        ExitReason::Return | ExitReason::Error | ExitReason::Panic
    ) {
        lock(&MACHINE).body_code.get_or_insert(code);
    }
    // The cleanups this thread is inside of (an `exit` from a guard's
    // closure) end here: the drain must not wait for them. (`main`'s thread
    // after its body returned is inside none; the search scans the whole
    // registry, a tenth of a drain of 100 000.)
    if !matches!(reason, ExitReason::Return | ExitReason::Error) {
        for ticket in registry::mine() {
            settle(ticket);
        }
    }
    if is_owned() {
        return None;
    }
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
    let id = {
        let mut machine = lock(&MACHINE);
        if matches!(machine.phase, Phase::Cleaning | Phase::Exiting) {
            return None;
        }
        begin_cleaning(&mut machine)
    };
    if registry::any() {
        // Someone must be able to abandon a cleanup that hangs. (With
        // nothing to run, no thread: the signal's timer keeps the deadline.)
        crate::runtime::ensure();
    }
    execute(id).then(finish)
}

/// `exit(code)` or `std::process::exit(code)` inside a cleanup while the
/// process is ending: `code` becomes the final status, and the cleanup that
/// called it is over.
pub(crate) fn set_final_code(code: i32) {
    let mut machine = lock(&MACHINE);
    machine.final_code = Some(code);
    crate::exit_status::set_deadline_ending(machine.ending(true));
}

/// The cleanup this thread runs called `exit` and cannot return to its
/// runner. On the executor's thread, the rest of the cleanups run here, and
/// the ending is returned; on a thread running its own guard, the executor
/// goes on without that guard and this thread waits for it (`None`).
pub(crate) fn exit_inside_cleanup(code: i32) -> Option<Ending> {
    set_final_code(code);
    for ticket in registry::mine() {
        settle(ticket);
    }
    let executor = EXECUTOR.with(Cell::get)?;
    let id = {
        let mut machine = lock(&MACHINE);
        if machine.executor != executor {
            return None;
        }
        // The cleanup counts as run; this thread goes on as a new executor.
        if let Some(running) = machine.running.take() {
            count_ran(&mut machine, running.ticket_kind());
            if running.ticket_kind() == Kind::Finalizer {
                registry::finalizer_done();
            }
        }
        machine.executor += 1;
        machine.executor
    };
    execute(id).then(finish)
}

/// Stops waiting for a claimed cleanup that will never finish by itself.
fn settle(ticket: Ticket) {
    let mut machine = lock(&MACHINE);
    if !machine.settled.contains(&ticket) {
        machine.settled.push(ticket);
    }
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
    let mut left_behind = 0;
    for workers in crate::thread::Stuck::group(&stuck) {
        left_behind += workers.count;
        log::event(
            Level::Warn,
            Fields::new()
                .cleanup("worker", Some(workers.at))
                .name(workers.name)
                .abandoned(workers.count),
            format_args!("{workers} did not return in time, left behind"),
        );
    }
    lock(&MACHINE).hung += left_behind;
}

/// Moves to `Cleaning` and names a new executor.
fn begin_cleaning(machine: &mut Machine) -> u64 {
    // Children had the body's share to end after the forwarded signal.
    let killed = crate::children::kill_and_reap();
    for &pid in &killed {
        log::event(
            Level::Warn,
            Fields::new().cleanup("child", None).pid(pid),
            format_args!("child {pid} did not exit in time, killed"),
        );
    }
    machine.hung += killed.len();
    machine.phase = Phase::Cleaning;
    registry::begin_claims();
    let timeout = crate::deadline::timeout();
    machine
        .budget
        .get_or_insert_with(|| Budget::from(Stamp::now(), timeout));
    machine.executor += 1;
    notify_watch();
    machine.executor
}

/// What the executor does next.
enum Step {
    /// Run this cleanup, the executors' claim number `u64`.
    Run(Claimed, Kind, Name, u64),
    /// A guard runs on another thread: look again shortly.
    Wait,
    Done,
}

/// Runs cleanups until none is left (`true`) or this executor was abandoned
/// while one of its cleanups hung (`false`).
fn execute(id: u64) -> bool {
    let outer = EXECUTOR.with(|executor| executor.replace(Some(id)));
    // Held from one cleanup's end to the next one's start: one lock per
    // cleanup.
    let mut machine = lock(&MACHINE);
    let done = loop {
        if machine.executor != id {
            break false;
        }
        let step = next_step(&mut machine);
        drop(machine);
        match step {
            Step::Done => break true,
            Step::Wait => {
                std::thread::sleep(POLL);
                machine = lock(&MACHINE);
            }
            Step::Run(claimed, kind, name, claim) => {
                // (A plain store: the watchdog that does not see it yet
                // only waits longer.)
                CALLED.store(claim, Ordering::Release);
                let result = match kind {
                    Kind::Guard => registry::run_drained(claimed),
                    Kind::Finalizer => registry::run_finalizer(claimed),
                };
                machine = lock(&MACHINE);
                if machine.executor != id {
                    // Abandoned meanwhile: the watchdog ended its turn.
                    break false;
                }
                if kind == Kind::Finalizer {
                    registry::finalizer_done();
                }
                machine.running = None;
                match result {
                    Ok(()) => count_ran(&mut machine, kind),
                    // `exit` inside the cleanup: it is over; its code is kept.
                    Err(payload) if payload.is::<state::ExitUnwind>() => {
                        count_ran(&mut machine, kind)
                    }
                    Err(payload) => {
                        log::event(
                            Level::Warn,
                            name.fields(),
                            format_args!(
                                "{name} panicked: {}",
                                registry::panic_message(&*payload)
                            ),
                        );
                        count_ran(&mut machine, kind);
                        machine.panicked += 1;
                    }
                }
            }
        }
    };
    EXECUTOR.with(|executor| executor.set(outer));
    done
}

fn count_ran(machine: &mut Machine, kind: Kind) {
    match kind {
        Kind::Guard => machine.guards_ran += 1,
        Kind::Finalizer => machine.finalizers_ran += 1,
    }
}

impl Running {
    fn ticket_kind(&self) -> Kind {
        self.name.0
    }
}

/// Decides the executor's next step: the next armed cleanup in order, or a
/// wait for a guard running elsewhere, or the end.
///
/// The order of the passes, each a scan of the registry:
///
/// 1. the guards armed when the drain begins, newest first;
/// 2. the registry closes: from here on only a cleanup (or the thread
///    leaving the process) can add a cleanup, so every later pass is finite
///    however fast other threads were registering;
/// 3. the guards made before the close, newest first, until none is left;
///    then the guards running on their own threads are waited for;
/// 4. the finalizers, newest first, and those that cleanups register, until
///    none is left.
fn next_step(machine: &mut Machine) -> Step {
    loop {
        while let Some(entry) = take_next(machine) {
            let kind = machine.batch.kind;
            // A guard running by its own drop right now goes first: look
            // again (the scan finds it, and waits for it within its share).
            if kind == Kind::Finalizer && !registry::finalizers_turn(&machine.settled) {
                machine.batch.clear();
                return Step::Wait;
            }
            let Some(claimed) = entry.ticket.claim() else {
                if kind == Kind::Finalizer {
                    registry::finalizer_done();
                }
                continue; // its handle took it first
            };
            let name = Name(kind, entry.ticket.location());
            machine.claims += 1;
            let (started, until) = if machine.ticking {
                // The runtime thread sets its share when it first sees it
                // called, within a tick: no clock reading here.
                (machine.looked_at, None)
            } else {
                let now = Stamp::now();
                let after = machine.batch.waiting() + machine.after_batch;
                let until = machine
                    .budget
                    .map_or(now, |budget| budget.cleanup_until_stamp(now, after));
                if machine.watch_at.is_some_and(|at| until < at) {
                    notify_watch();
                }
                (now, Some(until))
            };
            machine.running = Some(Running {
                ticket: entry.ticket,
                name,
                started,
                started_before: false,
                until,
                elsewhere: false,
                claim: machine.claims,
            });
            return Step::Run(claimed, kind, name, machine.claims);
        }
        if machine.first_pass && !machine.closed {
            // The guards there when the drain began have had their turn.
            // From now on a thread outside the cleanups that makes one is
            // parked in that call; the scans after this see every other.
            machine.closed = true;
            registry::close();
        }
        let registry::Sweep {
            guards,
            finalizers,
            finalizers_armed,
            finalizers_early,
            claimed,
        } = registry::sweep(machine.late_cut, machine.batch.take_list());
        if !guards.is_empty() && (machine.closed || !machine.first_pass) {
            machine.first_pass = true;
            machine.after_batch = finalizers_armed;
            let early_after = finalizers_early;
            let now = Instant::now();
            machine.batch = Batch::new(Kind::Guard, guards, early_after, machine.budget, now);
            continue;
        }
        machine.first_pass = true;
        if !machine.closed {
            // The first scan found no guard: close now (as above).
            registry::close();
            continue;
        }
        // Guards running on their own threads finish before any finalizer.
        let elsewhere: Vec<&Found> = claimed
            .iter()
            .filter(|found| !machine.settled.contains(&found.ticket))
            .collect();
        if let Some(found) = elsewhere.iter().find(|found| found.kind == Kind::Guard) {
            wait_for(machine, found, finalizers_armed);
            return Step::Wait;
        }
        if !finalizers.is_empty() {
            machine.after_batch = 0;
            let now = Instant::now();
            machine.batch = Batch::new(Kind::Finalizer, finalizers, 0, machine.budget, now);
            continue;
        }
        // A finalizer being cancelled: its closure is being dropped.
        if let Some(found) = elsewhere.first() {
            wait_for(machine, found, 0);
            return Step::Wait;
        }
        machine.running = None;
        return Step::Done;
    }
}

/// The next cleanup of the batch; once the late ones are cut, says so.
fn take_next(machine: &mut Machine) -> Option<registry::Entry> {
    loop {
        match machine.batch.next(Instant::now) {
            Next::Run(entry) => return Some(entry),
            Next::Empty => return None,
            Next::CutLate(count) => {
                machine.late_cut = true;
                log::event(
                    Level::Warn,
                    Fields::new().not_run(count),
                    format_args!(
                        "{} made during the shutdown not started: the time left is for those made before it",
                        Count(count, "cleanup")
                    ),
                );
            }
        }
    }
}

/// The executor waits for `found`, running on another thread, within its
/// share of the budget (the watchdog abandons it past that).
fn wait_for(machine: &mut Machine, found: &Found, after: usize) {
    if machine
        .running
        .as_ref()
        .is_some_and(|running| running.elsewhere && running.ticket == found.ticket)
    {
        return;
    }
    let now = Instant::now();
    let until = machine
        .budget
        .map_or(now, |budget| budget.cleanup_until(now, after));
    // Its share counts from now; the log counts from the shutdown's start
    // (it may have started later: when, only its thread knew).
    let shutdown_began = machine.budget.map_or(now, |budget| budget.start());
    machine.running = Some(Running::elsewhere(found, shutdown_began, until));
    if machine.watch_at.is_some_and(|at| Stamp::of(until) < at) {
        notify_watch();
    }
}

/// The system will end the process `limit` after `since` (on Windows, a
/// console's close, logoff or shutdown during a shutdown that began
/// earlier): the shutdown's budget is cut to end by then, less the margin,
/// if that is sooner. The cleanup running now keeps the share of what is
/// left that it would get if it started now, so a cleanup that hangs cannot
/// take the time of those after it; the body's share is cut the same way.
pub(crate) fn cap(since: Instant, limit: Duration) {
    let mut machine = lock(&MACHINE);
    let Some(budget) = machine.budget else {
        // Not made yet: it will be, from the timeout already clamped.
        return;
    };
    let capped = budget.capped(since, limit);
    if capped.hard() >= budget.hard() {
        return;
    }
    machine.budget = Some(capped);
    let now = Instant::now();
    let after = machine.batch.waiting() + machine.after_batch;
    if let Some(until) = machine.running.as_mut().and_then(|running| running.until.as_mut()) {
        // (One without a share yet gets it from the capped budget.)
        *until = (*until).min(Stamp::of(capped.cleanup_until(now, after)));
    }
    log::event(
        Level::Warn,
        Fields::new().timeout(limit).left(capped.left(now)),
        format_args!(
            "the system ends this process {} after its event: finishing in {} instead of {}",
            Secs(limit),
            Secs(capped.left(now)),
            Secs(budget.left(now)),
        ),
    );
    crate::signals::arm_deadline(capped.hard_stamp());
    notify_watch();
}

/// The active executor is done: settle the ending and say so.
fn finish() -> Ending {
    let mut machine = lock(&MACHINE);
    machine.phase = Phase::Exiting;
    machine.panicked += registry::panicked_during_shutdown();
    if machine.late_cut {
        machine.not_started = registry::scan()
            .iter()
            .filter(|found| found.state == State::Armed)
            .count();
    }
    let ending = machine.ending(false);
    let problems = machine.hung + machine.panicked + machine.not_started > 0 || machine.body_late;
    let mut last_status = None;
    if machine.announced || problems {
        let elapsed = machine
            .budget
            .map_or(Duration::ZERO, |b| b.start_stamp().elapsed());
        let guards = machine.guards_ran + registry::dropped_during_shutdown();
        // Built as the handler builds its lines (`log::Text`), whose code
        // is warm by now after a signal.
        let mut text = Text::new();
        let head = log::start_line(&mut text);
        text.str("done in ")
            .secs(elapsed)
            .str(", ")
            .count(guards, "guard")
            .str(" and ")
            .count(machine.finalizers_ran, "finalizer")
            .str(" ran");
        machine.problems(&mut text);
        describe(text.str(", "), ending);
        log::event_line(
            if problems { Level::Warn } else { Level::Info },
            || {
                ending_fields(
                    Fields::new()
                        .elapsed(elapsed)
                        .ran(guards, machine.finalizers_ran)
                        .problems(machine.hung, machine.panicked),
                    ending,
                )
            },
            &mut text,
            head,
        );
        if crate::notify::enabled() {
            // The last word for `systemctl status`: not a stale progress
            // line.
            let done = text.as_str().get(head..).unwrap_or_default();
            last_status = Some(format!("stopped: {done}"));
        }
    }
    drop(machine);
    if let Some(status) = last_status {
        crate::notify::status(&status);
    }
    flush_log(|| Instant::now() + FLUSH_AT_END);
    ending
}

/// How long the end waits for a subscriber or logger to take the last
/// events (a normal one takes microseconds; a stuck one is left behind),
/// never past the hard deadline.
const FLUSH_AT_END: Duration = Duration::from_secs(1);

/// Gives the `cleanup-log` thread until `until`, never past the hard
/// deadline, to deliver the queued events. (`until` is asked only if there
/// are some.)
fn flush_log(until: impl FnOnce() -> Instant) {
    log::flush(|| {
        let until = until();
        let latest = crate::deadline::hard().map_or(until, |hard| hard.max(Instant::now()));
        until.min(latest)
    });
}

/// How the process leaves, as fields of the end event.
fn ending_fields(fields: Fields, ending: Ending) -> Fields {
    match ending.seen() {
        Seen::CodeForSignal(sig) => fields.exit_code(128 + sig),
        Seen::Signal(sig) => fields.exit_signal(sig),
        Seen::Code(code) => fields.exit_code(code),
    }
}

impl Name {
    /// The event fields that name this cleanup: its kind and where it was made.
    fn fields(self) -> Fields {
        let kind = match self.0 {
            Kind::Guard => "guard",
            Kind::Finalizer => "finalizer",
        };
        Fields::new().cleanup(kind, self.1)
    }
}

impl Machine {
    /// How the process ends: as the first route says, unless a cleanup
    /// called `exit`. A shutdown is clean when the body returned in time and
    /// every cleanup finished without panicking.
    fn ending(&self, deadline_hit: bool) -> Ending {
        let clean = !deadline_hit
            && !self.body_late
            && self.hung + self.panicked + self.not_started == 0;
        crate::exit_status::decide(
            state::first(),
            Facts {
                final_code: self.final_code,
                body_code: self.body_code,
                clean,
            },
        )
    }

    /// `, 1 abandoned, 2 panicked`: what went wrong, if anything.
    fn problems(&self, text: &mut Text) {
        if self.hung > 0 {
            text.str(", ").number(self.hung as u128).str(" abandoned");
        }
        if self.panicked > 0 {
            text.str(", ").number(self.panicked as u128).str(" panicked");
        }
        if self.not_started > 0 {
            text.str(", ")
                .number(self.not_started as u128)
                .str(" made during the shutdown not started");
        }
    }
}

/// [`describe`] for `format!`.
struct Describe(Ending);

impl std::fmt::Display for Describe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(describe(&mut Text::new(), self.0).as_str())
    }
}

/// `exiting by SIGTERM`, `exiting with code 0`.
fn describe(text: &mut Text, ending: Ending) -> &mut Text {
    match (ending, ending.seen()) {
        (Ending::Abort, _) => text.str("aborting"),
        (_, Seen::CodeForSignal(sig)) => text
            .str("exiting with code ")
            .int(128 + i64::from(sig))
            .str(" (PID 1)"),
        (_, Seen::Signal(sig)) => text.str("exiting by ").signal(sig),
        (_, Seen::Code(code)) => text.str("exiting with code ").int(i64::from(code)),
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
        log::warn(format_args!(
            "cannot start a thread for the cleanups ({err}); running them on the watchdog"
        ));
        // Nobody looks at them now: each takes its share itself.
        lock(&MACHINE).ticking = false;
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
    // The timer is the backstop at the hard deadline: armed again here, in
    // case this thread's start disarmed it while the shutdown began.
    let mut armed = false;
    loop {
        let now = Instant::now();
        let timeout = crate::deadline::timeout();
        let budget = *machine
            .budget
            .get_or_insert_with(|| Budget::new(now, timeout));
        crate::exit_status::set_deadline_ending(machine.ending(true));
        if !armed {
            armed = true;
            crate::signals::arm_deadline(budget.hard_stamp());
        }
        if crate::exit_status::is_pid_one() {
            crate::children::reap_orphans();
        }
        if now >= budget.wrap_up() {
            // The executor starts nothing more.
            machine.phase = Phase::Exiting;
            machine.executor += 1;
            crate::children::forward_kill();
            // The one that hung to the end is named, as any other, and
            // again in the deadline's line with those it kept from running;
            // so is every guard still running on its own thread.
            let running = machine.running.take();
            if let Some(running) = &running {
                running.say_hung(now);
                machine.hung += 1;
            }
            let found = registry::scan();
            for found in found.iter().filter(|found| found.state == State::Claimed) {
                let known = running.as_ref().is_some_and(|r| r.ticket == found.ticket)
                    || machine.settled.contains(&found.ticket);
                if !known {
                    Running::elsewhere(found, budget.start(), now).say_hung(now);
                    machine.hung += 1;
                }
            }
            let ending = machine.ending(true);
            let not_run: Vec<Name> = found
                .iter()
                .filter(|found| found.state == State::Armed)
                .map(Name::of)
                .collect();
            let fields = running.as_ref().map_or_else(Fields::new, |r| r.name.fields());
            let text = format!(
                "deadline of {} reached{}, {} not run{}, {}",
                Secs(budget.timeout),
                Still(running.as_ref().map(|running| running.name)),
                Count(not_run.len(), "cleanup"),
                NotRun(&not_run),
                Describe(ending)
            );
            log::event(
                Level::Error,
                ending_fields(
                    fields
                        .timeout(budget.timeout)
                        .not_run(not_run.len())
                        .problems(machine.hung, machine.panicked),
                    ending,
                ),
                format_args!("{text}"),
            );
            drop(machine);
            // The last word for `systemctl status`: not a stale progress line.
            crate::notify::status(&format!("stopped: {text}"));
            flush_log(|| budget.hard());
            ending.leave_now();
        }
        let mut wake_at = budget.hard().min(next_report);
        match machine.phase {
            Phase::Draining if now >= body_until(&machine, &budget) => {
                log::event(
                    Level::Warn,
                    Fields::new().elapsed(now - budget.start()).left(budget.left(now)),
                    format_args!(
                        "main did not return within {}, running cleanups without it",
                        Secs(now - budget.start())
                    ),
                );
                machine.body_late = true;
                let id = begin_cleaning(&mut machine);
                drop(machine);
                spawn_executor(id);
                machine = lock(&MACHINE);
                continue;
            }
            Phase::Draining => wake_at = wake_at.min(body_until(&machine, &budget)),
            Phase::Cleaning => {
                let after = machine.batch.waiting() + machine.after_batch;
                // From now on this thread sets the executor's shares, and
                // looks every tick for the next cleanup.
                machine.ticking = true;
                machine.looked_at = Stamp::of(now);
                wake_at = wake_at.min(now + TICK);
                if let Some(running) = machine.running.as_mut() {
                    let called =
                        running.elsewhere || CALLED.load(Ordering::Acquire) == running.claim;
                    let until = running.until.map(Stamp::instant);
                    // Its share counts from now: the first look that finds
                    // it called (the executor left its share to this
                    // thread), or one past its share whose closure the
                    // executor has not called yet (the executor is late,
                    // not the cleanup).
                    let late = until.is_some_and(|until| now >= until) && !called;
                    if (until.is_none() && called) || late {
                        running.started = Stamp::of(now);
                        running.until = Some(Stamp::of(budget.cleanup_until(now, after)));
                        continue;
                    }
                    if let Some(until) = until {
                        if now >= until {
                            running.say_hung(now);
                            let (ticket, elsewhere) = (running.ticket, running.elsewhere);
                            if !elsewhere && running.name.0 == Kind::Finalizer {
                                // Abandoned: the guards' turn comes again.
                                registry::finalizer_done();
                            }
                            machine.hung += 1;
                            machine.running = None;
                            machine.settled.push(ticket);
                            if !elsewhere {
                                // The executor is stuck inside it: a fresh one
                                // goes on with the rest.
                                machine.executor += 1;
                                let id = machine.executor;
                                drop(machine);
                                spawn_executor(id);
                                machine = lock(&MACHINE);
                            }
                            continue;
                        }
                        wake_at = wake_at.min(until);
                    }
                }
            }
            Phase::Running | Phase::Exiting => {}
        }
        if now >= next_report && matches!(machine.phase, Phase::Draining | Phase::Cleaning) {
            next_report = now + REPORT_EVERY;
            wake_at = wake_at.min(next_report);
            crate::notify::extend_timeout(extension(budget.left(now)));
            announce_late(&mut machine);
            report(&machine, budget.left(now));
        }
        machine.watch_at = Some(Stamp::of(wake_at));
        machine = WATCH
            .wait_timeout(machine, wake_at.saturating_duration_since(now))
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// A shutdown that began without a start line (`main` returned, an error,
/// `exit`) and still waits a second later (a slow worker, a child, a
/// cleanup) says it began before its first progress line, so the lines that
/// follow read as a shutdown's; it then owes the end line too.
fn announce_late(machine: &mut Machine) {
    if machine.announced || !machine.installed {
        return;
    }
    machine.announced = true;
    if let Some(reason) = state::reason() {
        let timeout = crate::deadline::timeout();
        log::event(
            Level::Info,
            Fields::new().timeout(timeout),
            format_args!("{reason}, draining ({})", Secs(timeout)),
        );
    }
}

/// The progress line (on stderr, and to systemd as STATUS=): what the
/// shutdown is waiting for, and the time left.
fn report(machine: &Machine, left: Duration) {
    if let Some((text, fields)) = progress(machine, left) {
        crate::notify::status(&text);
        log::event(Level::Info, fields.left(left), format_args!("{text}"));
    }
}

fn progress(machine: &Machine, left: Duration) -> Option<(String, Fields)> {
    let left = Left(left);
    if let Some(running) = machine.running.as_ref() {
        let text = format!("running {}, {left} left", running.name);
        return Some((text, running.name.fields()));
    }
    if machine.phase != Phase::Draining {
        return None;
    }
    let found = registry::scan();
    if let Some(found) = found.iter().find(|found| found.state == State::Claimed) {
        let name = Name::of(found);
        return Some((format!("running {name}, {left} left"), name.fields()));
    }
    if let Some(what) = machine.body_returned {
        return Some((
            format!("waiting for {what} to finish, {left} left"),
            Fields::new(),
        ));
    }
    let count = |kind| {
        found
            .iter()
            .filter(|found| found.state == State::Armed && found.kind == kind)
            .count()
    };
    let (guards, finalizers) = (count(Kind::Guard), count(Kind::Finalizer));
    Some((
        format!(
            "waiting for main to return, {} and {} pending, {left} left",
            Count(guards, "guard"),
            Count(finalizers, "finalizer")
        ),
        Fields::new().pending(guards, finalizers),
    ))
}

/// ` with finalizer registered at src/main.rs:9:5 still running` at the
/// deadline, or nothing.
struct Still(Option<Name>);

impl std::fmt::Display for Still {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(name) => write!(f, " with {name} still running"),
            None => Ok(()),
        }
    }
}

/// ` (guard created at src/main.rs:9:5, …)`: the cleanups the deadline
/// kept from running, the first three by name.
struct NotRun<'a>(&'a [Name]);

impl std::fmt::Display for NotRun<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const NAMED: usize = 3;
        if self.0.is_empty() {
            return Ok(());
        }
        f.write_str(" (")?;
        for (i, name) in self.0.iter().take(NAMED).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}")?;
        }
        if self.0.len() > NAMED {
            write!(f, ", {} more", self.0.len() - NAMED)?;
        }
        f.write_str(")")
    }
}
