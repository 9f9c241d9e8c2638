//! The randomized test: random programs racing random signals, checked
//! against DESIGN.md ("What runs, on every exit path", "Exactly once holds
//! under every race", "Exit status", "Deadline").
//!
//! Each trial takes a seed, from which `random_plan.rs` derives a program for
//! `fixture_random` (1–4 threads making, dropping, disarming, holding guards,
//! registering and cancelling finalizers, and a way out) and the signals to
//! send: none, SIGTERM, SIGHUP, a storm of both, one SIGINT or two. The test
//! starts the program, waits for `ready`, sends the signals at their moments
//! (writing `sent <signal>` into the record just before each), waits for the
//! end, and checks the record and the exit status. The record is a file the
//! program appends to, one `write(2)` per line, so it survives any death.
//!
//! ```text
//! cargo test --test random                        # a bounded number of trials
//! CLEANUP_TRIALS=10000 cargo test --test random   # many more
//! CLEANUP_SEED=<seed> cargo test --test random    # one trial, replayed
//! ```

mod common;
#[path = "fixtures/random_plan.rs"]
mod plan;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Ended, Spawn, MARGIN, SIGINT, SIGKILL, TIMEOUT_SECS};
use plan::Plan;

/// Trials per `cargo test` run unless `CLEANUP_TRIALS` says otherwise: about
/// a minute on a 2-core machine.
const DEFAULT_TRIALS: usize = 1000;
/// Trials run side by side: most of a trial is waiting.
const PARALLEL: usize = 2;
/// Failing trials whose full report is printed; the rest are listed by seed.
const REPORTS_PRINTED: usize = 20;

#[test]
fn random_programs_racing_random_signals_keep_every_promise_of_the_design() {
    let seeds = seeds();
    // Built once, before the trials race to build it.
    common::fixture_path("random", common::Profile::Current);
    let dir = std::env::temp_dir().join(format!("cleanup-random-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory for the records");

    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(seeds.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(index) else {
                    return;
                };
                println!("trial {index}: seed {seed}");
                if let Some(failure) = run_trial(seed, &dir) {
                    let mut failures = failures.lock().unwrap();
                    println!("trial {index}: seed {seed} FAILED: {}", failure.kinds());
                    if failures.len() < REPORTS_PRINTED {
                        println!("{failure}");
                    }
                    failures.push(failure);
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    let _ = std::fs::remove_dir(&dir);
    println!(
        "{} trials in {:.1?}, {} failed",
        seeds.len(),
        started.elapsed(),
        failures.len()
    );
    if failures.is_empty() {
        return;
    }
    failures.sort_by_key(|failure| failure.seed);
    let mut message = format!(
        "{} of {} trials broke DESIGN.md\n\ntrials by kind of violation:\n{}\n",
        failures.len(),
        seeds.len(),
        tally(&failures)
    );
    message += &format!(
        "failing seeds (the first {REPORTS_PRINTED} reports are above; replay one with \
         `CLEANUP_SEED=<seed> cargo test --test random`):\n"
    );
    for failure in &failures {
        message += &format!("  {}  {}\n", failure.seed, failure.kinds());
    }
    panic!("{message}");
}

/// `CLEANUP_SEED=<n>`: that one trial. Otherwise `CLEANUP_TRIALS` (or
/// [`DEFAULT_TRIALS`]) seeds drawn from a base that changes every run.
fn seeds() -> Vec<u64> {
    if let Some(seed) = env_number("CLEANUP_SEED") {
        return vec![seed];
    }
    let trials = env_number("CLEANUP_TRIALS").map_or(DEFAULT_TRIALS, |n| n as usize);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    let base = clock ^ u64::from(std::process::id()).rotate_left(32);
    println!("{trials} trials from base {base}");
    let mut rng = plan::Rng::new(base);
    // Short seeds are easier to copy.
    (0..trials).map(|_| rng.next_u64() >> 20).collect()
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let number = value.trim().parse().unwrap_or_else(|_| {
        panic!("{name}={value:?} is not a number");
    });
    Some(number)
}

// ---- one trial --------------------------------------------------------------

/// Runs the program of `seed`, sends its signals, checks what happened:
/// what it broke, if anything.
fn run_trial(seed: u64, dir: &Path) -> Option<Failure> {
    let plan = Plan::new(seed);
    let path = dir.join(format!("{seed}.record"));
    let _ = std::fs::remove_file(&path);
    let outcome = std::panic::catch_unwind(|| run_program(&plan, &path));
    let record = std::fs::read_to_string(&path).unwrap_or_default();
    let (violations, ended) = match outcome {
        Ok((ended, on_time)) => {
            let mut violations = check(&record, ended.status, ended.after_signal);
            if !on_time {
                violations.push(Violation::new(
                    Kind::Deadline,
                    format!(
                        "still running {:?} after its last signal (or `ready`): \
                         killed by the test",
                        deadline()
                    ),
                ));
            }
            (violations, Some(ended))
        }
        // The harness failed (say, the program died before `ready`).
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            (vec![Violation::new(Kind::Harness, why)], None)
        }
    };
    if violations.is_empty() {
        let _ = std::fs::remove_file(&path);
        return None;
    }
    Some(Failure {
        seed,
        plan,
        path,
        record,
        ended,
        violations,
    })
}

/// How long the program may take after its last signal, or after `ready`
/// when it gets none: the deadline and a generous margin.
fn deadline() -> Duration {
    Duration::from_secs(TIMEOUT_SECS) + MARGIN
}

/// Starts the program, sends the plan's signals, waits for the end. `false`
/// with it when the program had to be killed.
fn run_program(plan: &Plan, record: &Path) -> (Ended, bool) {
    let mut running = Spawn::fixture("random")
        .arg(plan.seed.to_string())
        .arg(record)
        .short_timeout()
        .start_ready();
    let ready = Instant::now();
    // The program created the file before `ready`.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(record)
        .expect("the record file the program created");
    for signal in &plan.signals {
        let at = ready + Duration::from_micros(u64::from(signal.at_us));
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        // One write, before the signal: the record orders it among the rest.
        file.write_all(format!("sent {}\n", signal.sig.name()).as_bytes())
            .expect("appending to the record");
        running.signal(signal.sig.number());
    }
    let on_time = running.ends_within(deadline());
    if !on_time {
        running.signal(SIGKILL);
    }
    (running.finish(), on_time)
}

// ---- the record ---------------------------------------------------------------

/// A guard (`g<id>`) or a finalizer (`f<id>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Tag {
    finalizer: bool,
    id: u32,
}

impl Tag {
    fn parse(text: &str) -> Option<Tag> {
        let (finalizer, id) = match text.split_at_checked(1)? {
            ("g", id) => (false, id),
            ("f", id) => (true, id),
            _ => return None,
        };
        Some(Tag {
            finalizer,
            id: id.parse().ok()?,
        })
    }

    fn is_guard(self) -> bool {
        !self.finalizer
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = if self.finalizer { 'f' } else { 'g' };
        write!(f, "{letter}{}", self.id)
    }
}

/// What the record says of one cleanup: line numbers (0-based) of each event.
#[derive(Default, Debug)]
struct Life {
    make: Option<usize>,
    made: Option<usize>,
    /// The thread that made it (and whose scope ends it).
    owner: String,
    starts: Vec<(usize, String)>,
    ends: Vec<usize>,
    drop: Option<usize>,
    dropped: Option<usize>,
    /// `disarm` or `cancel`: the call was made.
    disarm: Option<usize>,
    /// `disarmed` or `cancelled`: the call returned.
    disarmed: Option<usize>,
}

impl Life {
    fn start(&self) -> Option<usize> {
        self.starts.first().map(|&(line, _)| line)
    }

    /// It ran where its scope ended, inside its own `drop`, not in the drain.
    fn ran_by_its_scope(&self) -> bool {
        let Some((start, thread)) = self.starts.first() else {
            return false;
        };
        let Some(drop) = self.drop else {
            return false;
        };
        *thread == self.owner && *start > drop && self.dropped.map_or(true, |end| *start < end)
    }
}

/// The exit reason f0 recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Return,
    Error,
    Panic,
    Requested,
    Signal(i32),
    Exit(i32),
}

impl Reason {
    /// `Some(Signal(15))` as `{:?}` prints it.
    fn parse(text: &str) -> Option<Reason> {
        let inner = text.strip_prefix("Some(")?.strip_suffix(')')?;
        let number = |prefix: &str| -> Option<i32> {
            inner.strip_prefix(prefix)?.strip_suffix(')')?.parse().ok()
        };
        match inner {
            "Return" => Some(Reason::Return),
            "Error" => Some(Reason::Error),
            "Panic" => Some(Reason::Panic),
            "Requested" => Some(Reason::Requested),
            _ => number("Signal(")
                .map(Reason::Signal)
                .or_else(|| number("Exit(").map(Reason::Exit)),
        }
    }

    /// DESIGN's "Exit status": what the parent must see for this reason
    /// (`exit = "signal"`, not PID 1).
    fn status(self) -> Status {
        match self {
            Reason::Return | Reason::Requested => Status::Code(0),
            Reason::Error => Status::Code(1),
            Reason::Panic => Status::Code(101),
            Reason::Exit(code) => Status::Code(code),
            Reason::Signal(sig) => Status::Killed(sig),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Code(i32),
    Killed(i32),
}

impl Status {
    fn of(status: ExitStatus) -> Option<Status> {
        status
            .code()
            .map(Status::Code)
            .or(status.signal().map(Status::Killed))
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Code(code) => write!(f, "exit code {code}"),
            Status::Killed(sig) => write!(f, "death by signal {sig}"),
        }
    }
}

/// The record, read.
struct Record<'a> {
    lines: Vec<&'a str>,
    lives: BTreeMap<Tag, Life>,
    /// The first `route` (a way out taken) or `sent` (a signal): cleanups
    /// made before it were surely made before the shutdown began.
    first_trigger: usize,
    /// Every way out taken and signal sent, with its line, as the reason it
    /// would give if it came first.
    triggers: Vec<(usize, Reason)>,
    /// The signals sent, in order, with their lines.
    sent: Vec<(usize, i32)>,
    reason: Option<(usize, Option<Reason>)>,
    /// Lines no rule reads.
    unreadable: Vec<usize>,
}

impl<'a> Record<'a> {
    fn read(text: &'a str) -> Record<'a> {
        let lines: Vec<&str> = text.lines().collect();
        let mut record = Record {
            lives: BTreeMap::new(),
            first_trigger: lines.len(),
            triggers: Vec::new(),
            sent: Vec::new(),
            reason: None,
            unreadable: Vec::new(),
            lines: Vec::new(),
        };
        for (index, line) in lines.iter().enumerate() {
            if !record.read_line(index, line) {
                record.unreadable.push(index);
            }
        }
        record.lines = lines;
        record
    }

    /// Reads one line; `false` if it means nothing.
    fn read_line(&mut self, index: usize, line: &'a str) -> bool {
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["sent", sig] => {
                let number = match sig {
                    "SIGTERM" => 15,
                    "SIGHUP" => 1,
                    "SIGINT" => 2,
                    _ => return false,
                };
                self.sent.push((index, number));
                self.triggers.push((index, Reason::Signal(number)));
                self.first_trigger = self.first_trigger.min(index);
            }
            ["route", what, code, _thread] => {
                let reason = match (what, code.parse()) {
                    ("ok", Ok(0)) => Reason::Return,
                    ("err", Ok(1)) => Reason::Error,
                    ("panic", Ok(101)) => Reason::Panic,
                    ("request", Ok(0)) => Reason::Requested,
                    ("exit" | "process-exit", Ok(code)) => Reason::Exit(code),
                    _ => return false,
                };
                self.triggers.push((index, reason));
                self.first_trigger = self.first_trigger.min(index);
            }
            ["reason", reason] => self.reason = Some((index, Reason::parse(reason))),
            ["main", ..] | [_, "noticed"] | [_, "parks"] => {}
            [event, tag, ref thread @ ..] => {
                let Some(tag) = Tag::parse(tag) else {
                    return false;
                };
                let life = self.lives.entry(tag).or_default();
                match (event, thread) {
                    ("make", [owner]) => {
                        life.make = Some(index);
                        life.owner = (*owner).to_owned();
                    }
                    ("made", [_]) => life.made = Some(index),
                    ("start", [thread]) => life.starts.push((index, (*thread).to_owned())),
                    ("end", []) => life.ends.push(index),
                    ("drop", []) => life.drop = Some(index),
                    ("dropped", []) => life.dropped = Some(index),
                    ("disarm" | "cancel", []) => life.disarm = Some(index),
                    ("disarmed" | "cancelled", []) => life.disarmed = Some(index),
                    ("forget", []) => {}
                    _ => return false,
                }
            }
            _ => return false,
        }
        true
    }

    /// Made before anything could have begun the shutdown.
    fn made_before_the_shutdown(&self, life: &Life) -> bool {
        life.made.is_some_and(|made| made < self.first_trigger)
    }

    /// The cleanups made before the shutdown began that the drain ran (not
    /// their own scope), of one kind, with their lives.
    fn drained(&self, finalizers: bool) -> Vec<(Tag, &Life)> {
        self.lives
            .iter()
            .filter(|(tag, life)| {
                tag.finalizer == finalizers
                    && life.start().is_some()
                    && !life.ran_by_its_scope()
                    && self.made_before_the_shutdown(life)
            })
            .map(|(tag, life)| (*tag, life))
            .collect()
    }

    /// `line 12 (start g3 t0)`, to point at the record.
    fn at(&self, index: usize) -> String {
        format!(
            "line {} ({})",
            index + 1,
            self.lines.get(index).unwrap_or(&"?")
        )
    }
}

// ---- the checks -----------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    RanTwice,
    RanAfterDisarm,
    DisarmReturnedWhileRunning,
    NeverRan,
    CutShort,
    FinalizerDuringGuard,
    FinalizerBeforeGuard,
    GuardOrder,
    FinalizerOrder,
    Status,
    Deadline,
    /// The fixture or the harness misbehaved: not a verdict on the runtime.
    Harness,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::RanTwice => "a cleanup ran twice",
            Kind::RanAfterDisarm => "a cleanup started after disarm()/cancel() returned",
            Kind::DisarmReturnedWhileRunning => {
                "disarm()/cancel() returned before the drain finished the cleanup"
            }
            Kind::NeverRan => "a cleanup never ran",
            Kind::CutShort => "a cleanup started but never finished",
            Kind::FinalizerDuringGuard => "a finalizer started while a guard was running",
            Kind::FinalizerBeforeGuard => "a finalizer ran before a guard",
            Kind::GuardOrder => "guards ran out of reverse creation order",
            Kind::FinalizerOrder => "finalizers ran out of reverse registration order",
            Kind::Status => "wrong exit status",
            Kind::Deadline => "not gone within the deadline",
            Kind::Harness => "the fixture or harness failed",
        }
    }
}

struct Violation {
    kind: Kind,
    what: String,
}

impl Violation {
    fn new(kind: Kind, what: String) -> Self {
        Violation { kind, what }
    }
}

/// Every check, on the record and how the program ended.
fn check(text: &str, status: ExitStatus, after_signal: Option<Duration>) -> Vec<Violation> {
    let record = Record::read(text);
    let mut found = Vec::new();
    for &index in &record.unreadable {
        found.push(Violation::new(
            Kind::Harness,
            format!("unreadable {}", record.at(index)),
        ));
    }
    let sigints = record
        .sent
        .iter()
        .filter(|&&(_, sig)| sig == SIGINT)
        .count();
    // The test killed it: the record stops short, the deadline check says why.
    let killed = status.signal() == Some(SIGKILL);
    never_runs_twice(&record, &mut found);
    never_starts_after_disarm_or_cancel_returns(&record, &mut found);
    runs_exactly_once_always(&record, owed(&record, status), &mut found);
    no_finalizer_starts_while_a_guard_is_still_running(&record, &mut found);
    guards_then_finalizers(&record, &mut found);
    guards_in_reverse_order_of_creation(&record, &mut found);
    finalizers_in_reverse_order_of_registration(&record, &mut found);
    if !killed {
        status_is_that_of_the_first_route(&record, status, sigints, &mut found);
    }
    if !killed {
        gone_within_the_deadline(after_signal, &mut found);
    }
    found
}

/// "Exactly once, always: a guard or finalizer never runs twice."
fn never_runs_twice(record: &Record, found: &mut Vec<Violation>) {
    for (tag, life) in &record.lives {
        if life.starts.len() > 1 || life.ends.len() > 1 {
            let starts: Vec<String> = life.starts.iter().map(|&(i, _)| record.at(i)).collect();
            found.push(Violation::new(
                Kind::RanTwice,
                format!(
                    "{tag} started {} times: {}",
                    starts.len(),
                    starts.join(", ")
                ),
            ));
        }
        if let (Some(&end), start) = (life.ends.first(), life.start()) {
            if start.map_or(true, |start| end < start) {
                found.push(Violation::new(
                    Kind::Harness,
                    format!("{tag} ended before it started: {}", record.at(end)),
                ));
            }
        }
    }
}

/// "After `disarm()`/`cancel()` returns, the closure never starts. (If the
/// drain had already started it, the call returns once it has finished.)"
fn never_starts_after_disarm_or_cancel_returns(record: &Record, found: &mut Vec<Violation>) {
    for (tag, life) in &record.lives {
        let Some(returned) = life.disarmed else {
            continue;
        };
        for &(start, _) in &life.starts {
            if start > returned {
                found.push(Violation::new(
                    Kind::RanAfterDisarm,
                    format!("{tag}: {} after {}", record.at(start), record.at(returned)),
                ));
            } else if !life.ends.iter().any(|&end| start < end && end < returned) {
                found.push(Violation::new(
                    Kind::DisarmReturnedWhileRunning,
                    format!(
                        "{tag}: {} while it ran ({}, not finished by then)",
                        record.at(returned),
                        record.at(start)
                    ),
                ));
            }
        }
    }
}

/// Which cleanups must have run (and finished) by the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owed {
    /// Every one made and not disarmed or cancelled.
    All,
    /// Those made before the shutdown began: a second SIGINT came, but only
    /// after f0, which runs last, had finished.
    MadeBeforeTheShutdown,
    /// None: a second SIGINT may have cut the shutdown ("no more" run), or
    /// the test killed the program.
    None,
}

fn owed(record: &Record, status: ExitStatus) -> Owed {
    if status.signal() == Some(SIGKILL) {
        return Owed::None;
    }
    let mut sigints = record.sent.iter().filter(|&&(_, sig)| sig == SIGINT);
    let second = sigints.nth(1).map(|&(line, _)| line);
    let Some(second) = second.filter(|_| status.signal() == Some(SIGINT)) else {
        return Owed::All;
    };
    let f0 = Tag {
        finalizer: true,
        id: 0,
    };
    let f0_end = record.lives.get(&f0).and_then(|life| life.ends.first());
    if f0_end.is_some_and(|&end| end < second) {
        Owed::MadeBeforeTheShutdown
    } else {
        Owed::None
    }
}

/// "Exactly once, always", with "Guards and finalizers made after the
/// shutdown began … still run before the process leaves" and "A guard whose
/// closure is running on its own thread … is waited for": every cleanup made
/// and not disarmed or cancelled starts, and every one that starts finishes.
/// After a second SIGINT only what had to be done before it is owed.
fn runs_exactly_once_always(record: &Record, owed: Owed, found: &mut Vec<Violation>) {
    let is_owed = |life: &Life| match owed {
        Owed::All => true,
        Owed::MadeBeforeTheShutdown => record.made_before_the_shutdown(life),
        Owed::None => false,
    };
    for (tag, life) in record.lives.iter().filter(|(_, life)| is_owed(life)) {
        if let Some(made) = life.made {
            if life.starts.is_empty() && life.disarm.is_none() {
                found.push(Violation::new(
                    Kind::NeverRan,
                    format!("{tag} never started ({})", record.at(made)),
                ));
            }
        }
        if let (Some(start), true) = (life.start(), life.ends.is_empty()) {
            found.push(Violation::new(
                Kind::CutShort,
                format!("{tag} never finished ({})", record.at(start)),
            ));
        }
    }
}

/// "no finalizer starts while a guard is still running anywhere": when a
/// finalizer starts, no guard that started before it is unfinished. A guard
/// made after the shutdown began that starts once the finalizers have begun
/// is left out: DESIGN orders only what can still be ordered.
fn no_finalizer_starts_while_a_guard_is_still_running(record: &Record, found: &mut Vec<Violation>) {
    let finalizer_starts = record
        .lives
        .iter()
        .filter(|(tag, _)| tag.finalizer)
        .filter_map(|(tag, life)| Some((*tag, life.start()?)));
    let Some(first) = finalizer_starts.clone().map(|(_, start)| start).min() else {
        return;
    };
    for (finalizer, start) in finalizer_starts {
        for (guard, running) in record.lives.iter().filter(|(tag, _)| tag.is_guard()) {
            let Some(guard_start) = running.start() else {
                continue;
            };
            let ordered = guard_start < first || record.made_before_the_shutdown(running);
            let ended = running.ends.first().is_some_and(|&end| end < start);
            if ordered && guard_start < start && !ended {
                found.push(Violation::new(
                    Kind::FinalizerDuringGuard,
                    format!(
                        "{finalizer} {} while {guard} ran ({})",
                        record.at(start),
                        record.at(guard_start)
                    ),
                ));
            }
        }
    }
}

/// "Order: guards …, then finalizers": of the cleanups made before the
/// shutdown began, every guard the drain runs starts before any finalizer.
fn guards_then_finalizers(record: &Record, found: &mut Vec<Violation>) {
    let guards = record.drained(false);
    let finalizers = record.drained(true);
    let Some((last_guard, guard)) = guards.iter().max_by_key(|(_, life)| life.start()) else {
        return;
    };
    let Some((first_finalizer, finalizer)) = finalizers.iter().min_by_key(|(_, life)| life.start())
    else {
        return;
    };
    let (guard_start, finalizer_start) = (guard.start().unwrap(), finalizer.start().unwrap());
    if finalizer_start < guard_start {
        found.push(Violation::new(
            Kind::FinalizerBeforeGuard,
            format!(
                "{first_finalizer} {} before {last_guard} {}",
                record.at(finalizer_start),
                record.at(guard_start)
            ),
        ));
    }
}

/// "guards in reverse order of creation (as unwinding would)", for the guards
/// made before the shutdown began that the drain ran: one whose `make` came
/// after another's `made` starts first.
fn guards_in_reverse_order_of_creation(record: &Record, found: &mut Vec<Violation>) {
    newest_first(record, &record.drained(false), Kind::GuardOrder, found);
}

/// "then finalizers in reverse order of registration (as `atexit` does)",
/// for those registered before the shutdown began.
fn finalizers_in_reverse_order_of_registration(record: &Record, found: &mut Vec<Violation>) {
    newest_first(record, &record.drained(true), Kind::FinalizerOrder, found);
}

/// Of two cleanups made one after the other (the older one's `made` before
/// the newer one's `make`), the newer one starts first.
fn newest_first(record: &Record, ran: &[(Tag, &Life)], kind: Kind, found: &mut Vec<Violation>) {
    for (older, old) in ran {
        for (newer, new) in ran {
            let made_after = matches!((old.made, new.make), (Some(a), Some(b)) if a < b);
            if made_after && new.start() > old.start() {
                found.push(Violation::new(
                    kind,
                    format!(
                        "{older} (made at line {}) {} before {newer} (made at line {}) {}",
                        old.made.unwrap() + 1,
                        record.at(old.start().unwrap()),
                        new.make.unwrap() + 1,
                        record.at(new.start().unwrap()),
                    ),
                ));
            }
        }
    }
}

/// "The end has one owner … The status is that of the first route", with
/// "Exit status" and "The first SIGINT never forces … only a second SIGINT
/// does". f0, run last, records the reason: it must be a way out the program
/// took or a signal the test sent, the first one when the record shows which
/// came first, and the status must be the one DESIGN's table gives for it —
/// or death by SIGINT when two SIGINTs were sent.
fn status_is_that_of_the_first_route(
    record: &Record,
    status: ExitStatus,
    sigints: usize,
    found: &mut Vec<Violation>,
) {
    let seen = Status::of(status);
    let may_be_forced = sigints >= 2 && seen == Some(Status::Killed(SIGINT));
    let first = first_route(record);
    let reason = match record.reason {
        Some((_, Some(reason))) => Some(reason),
        Some((index, None)) => {
            found.push(Violation::new(
                Kind::Status,
                format!("no reason while ending: {}", record.at(index)),
            ));
            return;
        }
        // f0 never ran (`runs_exactly_once_always` says so, unless forced).
        None => None,
    };
    if let Some(reason) = reason {
        if !record.triggers.iter().any(|&(_, taken)| taken == reason) {
            found.push(Violation::new(
                Kind::Status,
                format!("reason {reason:?} is no way out taken and no signal sent"),
            ));
        }
        if let Some((line, _)) = first.filter(|&(_, first)| first != reason) {
            found.push(Violation::new(
                Kind::Status,
                format!(
                    "reason {reason:?}, but {} came first, alone before the shutdown's \
                     first cleanup",
                    record.at(line)
                ),
            ));
        }
    }
    let Some(expected) = reason.or(first.map(|(_, first)| first)) else {
        return;
    };
    let expected = expected.status();
    if seen == Some(expected) || may_be_forced {
        return;
    }
    let what = if sigints == 1 && seen == Some(Status::Killed(SIGINT)) {
        "a single SIGINT forced the exit: "
    } else {
        ""
    };
    let why = match (reason, first) {
        (Some(reason), _) => format!("reason {reason:?}"),
        (None, Some((line, _))) => format!("{}, the first way out", record.at(line)),
        (None, None) => unreachable!("`expected` comes from one of them"),
    };
    found.push(Violation::new(
        Kind::Status,
        format!(
            "{what}{why} wants {expected}, got {}",
            seen.map_or_else(|| format!("{status:?}"), |s| s.to_string())
        ),
    ));
}

/// The way out that surely came first: the only one recorded before the
/// shutdown's first cleanup (one run by the drain, not by its own scope).
/// Any other was taken after the end had an owner.
fn first_route(record: &Record) -> Option<(usize, Reason)> {
    let drained = record
        .lives
        .values()
        .filter(|life| !life.ran_by_its_scope())
        .filter_map(Life::start)
        .min()?;
    let mut before = record.triggers.iter().filter(|&&(line, _)| line < drained);
    match (before.next(), before.next()) {
        (Some(&only), None) => Some(only),
        _ => None,
    }
}

/// "from the first signal the process has exited within `timeout`" (here
/// with a generous margin: the machine is shared and noisy).
fn gone_within_the_deadline(after_signal: Option<Duration>, found: &mut Vec<Violation>) {
    if let Some(after) = after_signal {
        if after > deadline() {
            found.push(Violation::new(
                Kind::Deadline,
                format!("ended {after:?} after the first signal"),
            ));
        }
    }
}

// ---- reporting --------------------------------------------------------------------

struct Failure {
    seed: u64,
    plan: Plan,
    path: PathBuf,
    record: String,
    ended: Option<Ended>,
    violations: Vec<Violation>,
}

impl Failure {
    /// The kinds of violation, each once: `status, never ran`.
    fn kinds(&self) -> String {
        let mut kinds: Vec<Kind> = self.violations.iter().map(|v| v.kind).collect();
        kinds.sort();
        kinds.dedup();
        let names: Vec<&str> = kinds.iter().map(|kind| kind.describe()).collect();
        names.join("; ")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "==== seed {} broke DESIGN.md ====", self.seed)?;
        for violation in &self.violations {
            writeln!(f, "- {}: {}", violation.kind.describe(), violation.what)?;
        }
        writeln!(f, "--- plan ---\n{}", self.plan)?;
        writeln!(f, "--- record ({}) ---", self.path.display())?;
        for (number, line) in self.record.lines().enumerate() {
            writeln!(f, "{:4} {line}", number + 1)?;
        }
        match &self.ended {
            Some(ended) => write!(f, "{ended}")?,
            None => writeln!(f, "(the program's end was not seen)")?,
        }
        writeln!(
            f,
            "replay: CLEANUP_SEED={} cargo test --test random",
            self.seed
        )
    }
}

/// How many failing trials showed each kind of violation.
fn tally(failures: &[Failure]) -> String {
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for failure in failures {
        let mut kinds: Vec<Kind> = failure.violations.iter().map(|v| v.kind).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            *counts.entry(kind).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(kind, count)| format!("  {count:5}  {}\n", kind.describe()))
        .collect()
}

// ---- the checker, on records written by hand ----------------------------------------

/// The kinds [`check`] finds in `record` for a program that ended with `status`.
fn kinds_found(record: &str, status: Status) -> Vec<Kind> {
    let raw = match status {
        Status::Code(code) => code << 8,
        Status::Killed(sig) => sig,
    };
    let found = check(record, ExitStatus::from_raw(raw), None);
    let mut kinds: Vec<Kind> = found.iter().map(|v| v.kind).collect();
    kinds.dedup();
    kinds
}

/// `main` made f0, f1, g2 and g3 and returned; the drain ran them in order.
const ORDERLY: &str = "\
make f0 t0\nmade f0 t0\nmake f1 t0\nmade f1 t0\nmake g2 t0\nmade g2 t0\n\
make g3 t1\nmade g3 t1\nroute ok 0 t0\n\
start g3 t0\nend g3\nstart g2 t0\nend g2\nstart f1 t0\nend f1\n\
start f0 t0\nreason Some(Return)\nend f0\n";

#[test]
fn the_checker_passes_an_orderly_end() {
    assert_eq!(kinds_found(ORDERLY, Status::Code(0)), []);
}

#[test]
fn the_checker_sees_a_wrong_status_and_a_single_sigint_that_forced() {
    assert_eq!(kinds_found(ORDERLY, Status::Code(1)), [Kind::Status]);
    let one_sigint = ORDERLY.replace("route ok 0 t0\n", "route ok 0 t0\nsent SIGINT\n");
    assert_eq!(
        kinds_found(&one_sigint, Status::Killed(SIGINT)),
        [Kind::Status]
    );
    let two = one_sigint.replace("sent SIGINT\n", "sent SIGINT\nsent SIGINT\n");
    assert_eq!(kinds_found(&two, Status::Killed(SIGINT)), []);
}

#[test]
fn the_checker_sees_a_cleanup_lost_or_cut_unless_a_second_sigint_came_first() {
    let lost = ORDERLY.replace("start g2 t0\nend g2\n", "");
    assert_eq!(kinds_found(&lost, Status::Code(0)), [Kind::NeverRan]);
    let cut = ORDERLY.replace("start g2 t0\nend g2\n", "start g2 t0\n");
    assert!(kinds_found(&cut, Status::Code(0)).contains(&Kind::CutShort));
    // Forced: the rest may be missing, what ran must still be in order.
    let forced = "make f0 t0\nmade f0 t0\nmake g1 t0\nmade g1 t0\n\
                  sent SIGINT\nsent SIGINT\nstart g1 t0\n";
    assert_eq!(kinds_found(forced, Status::Killed(SIGINT)), []);
    // The second SIGINT came after the end: nothing was forced.
    let late = lost.replace("route ok 0 t0\n", "route ok 0 t0\nsent SIGINT\n") + "sent SIGINT\n";
    assert_eq!(kinds_found(&late, Status::Killed(SIGINT)), [Kind::NeverRan]);
}

#[test]
fn the_checker_sees_a_cleanup_run_twice_or_after_its_disarm_returned() {
    let twice = ORDERLY.replace("end g2\n", "end g2\nstart g2 x1\nend g2\n");
    assert_eq!(kinds_found(&twice, Status::Code(0)), [Kind::RanTwice]);
    let after = ORDERLY.replace("route ok", "disarm g2\ndisarmed g2\nroute ok");
    assert_eq!(kinds_found(&after, Status::Code(0)), [Kind::RanAfterDisarm]);
    let during = ORDERLY.replace("end g2\n", "disarm g2\ndisarmed g2\nend g2\n");
    assert_eq!(
        kinds_found(&during, Status::Code(0)),
        [Kind::DisarmReturnedWhileRunning]
    );
}

#[test]
fn the_checker_sees_cleanups_out_of_order() {
    let guards = ORDERLY.replace(
        "start g3 t0\nend g3\nstart g2 t0\nend g2\n",
        "start g2 t0\nend g2\nstart g3 t0\nend g3\n",
    );
    assert_eq!(kinds_found(&guards, Status::Code(0)), [Kind::GuardOrder]);
    let finalizers = ORDERLY.replace(
        "start f1 t0\nend f1\nstart f0 t0\nreason Some(Return)\nend f0\n",
        "start f0 t0\nreason Some(Return)\nend f0\nstart f1 t0\nend f1\n",
    );
    assert_eq!(
        kinds_found(&finalizers, Status::Code(0)),
        [Kind::FinalizerOrder]
    );
    let early = ORDERLY.replace(
        "start g2 t0\nend g2\nstart f1 t0\nend f1\n",
        "start f1 t0\nend f1\nstart g2 t0\nend g2\n",
    );
    assert_eq!(
        kinds_found(&early, Status::Code(0)),
        [Kind::FinalizerBeforeGuard]
    );
    // g3 runs on its own thread (its scope ended) into the finalizers.
    let overlap = ORDERLY
        .replace("start g3 t0\nend g3\n", "drop g3\nstart g3 t1\n")
        .replace("end f1\n", "end f1\nend g3\ndropped g3\n");
    assert_eq!(
        kinds_found(&overlap, Status::Code(0)),
        [Kind::FinalizerDuringGuard]
    );
}

#[test]
fn the_checker_sees_a_later_route_that_cut_the_shutdown_and_set_the_status() {
    // `main` returned an error; the drain had begun when a worker called
    // `std::process::exit(42)`, which cut it: f0 never ran.
    let cut = ORDERLY.replace("route ok 0 t0", "route err 1 t0").replace(
        "start f0 t0\nreason Some(Return)\nend f0\n",
        "route process-exit 42 t1\n",
    );
    assert_eq!(
        kinds_found(&cut, Status::Code(42)),
        [Kind::NeverRan, Kind::Status]
    );
    let reason = cut.replace(
        "route process-exit 42 t1\n",
        "route process-exit 42 t1\nstart f0 t1\nreason Some(Exit(42))\nend f0\n",
    );
    assert_eq!(kinds_found(&reason, Status::Code(42)), [Kind::Status]);
    assert_eq!(
        kinds_found(&reason.replace("Exit(42)", "Error"), Status::Code(1)),
        []
    );
}
