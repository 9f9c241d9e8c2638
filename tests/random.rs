//! The randomized test: random programs racing random signals, checked
//! against DESIGN.md ("What runs, on every exit path", "Exactly once holds
//! under every race", "Exit status", "Deadline").
//!
//! Each trial takes a seed, from which `random_plan.rs` derives a program for
//! `fixture_random` (1–4 threads making, dropping, disarming, holding guards,
//! registering and cancelling finalizers — some slow, some hanging forever —
//! 0–2 churn threads that make guards in a tight loop and never look at the
//! shutdown, and a way out), the exit policy it is built with (`signal`,
//! `code`, `zero`: three builds of one program), its `CLEANUP_TIMEOUT` (300 ms
//! to 2 s), and the signals to send: none, SIGTERM, SIGHUP, a storm of both,
//! one SIGINT or two, some of them while the program is still starting. The
//! test starts the program (in its own process group or not), sends the
//! signals at their moments (writing `sent <signal>` into the record just
//! before each), waits for the end, and checks the record, stderr and the
//! exit status. The record is a file the program appends to, one `write(2)`
//! per line stamped with `CLOCK_MONOTONIC`, so it survives any death and
//! tells both the order and the time of what happened.
//!
//! ```text
//! cargo test --all-features --test random                       # 800 trials, ~2 min
//! CLEANUP_TRIALS=10000 cargo test --all-features --test random  # many more
//! CLEANUP_SEED=<seed> cargo test --all-features --test random   # one trial, replayed
//! ```
//!
//! A replay prints the plan, the record and the end even when the trial
//! passes; the plan is the seed's, the timing is the machine's, so a failure
//! may need a few replays. The records and reports of failing trials stay in
//! the temporary directory the run names.
//!
//! What it checks, each a kind of violation in the final tally:
//!
//! - exactly once: no cleanup starts twice, none starts after its
//!   `disarm()`/`cancel()` returned, and those return only once a cleanup the
//!   drain had started has finished (the churn threads check their own
//!   unrecorded guards the same way, and that a drop returns once its guard
//!   has run);
//! - everything runs: every cleanup that existed when the shutdown began
//!   starts, and so does every one made later whose registration returned;
//!   one that starts and never finishes is named on stderr as hung and
//!   abandoned; a slow one that fitted its share (the deadline less a
//!   reserve for those still to run) is never cut short;
//! - order: guards newest first, finalizers newest first (of those made
//!   before the shutdown began), every guard made before the first finalizer
//!   started runs before it (one made during the shutdown: made well before
//!   it), and no finalizer starts while a guard runs anywhere (one abandoned
//!   holds nothing up);
//! - one drainer at a time: no two cleanups run by the shutdown overlap
//!   (but one running inside another, or after the other was abandoned);
//! - the status: that of the first route, as the policy says;
//! - the deadline: gone by `timeout` less the margin from the first signal
//!   (or way out), with [`DEADLINE_SLACK`] for a shared machine, and as
//!   much again as the harness itself stood still while it waited for the
//!   end; the distribution of the overrun is printed.
//!
//! A machine that stands still (a VM descheduled for seconds) stops the
//! program and the harness alike, while the clock and so the program's
//! deadline run on: cleanups then rightly go unrun. So the harness times its
//! own waits, and a trial that fails while they overslept by more than
//! `common::STALL` runs again with the same seed (up to [`STALL_RETRIES`]
//! times, while its failures come with such a stall); only the last run
//! counts, and the tally says how many were run again.

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

use common::{monotonic_us, Ended, Spawn, SIGINT, SIGKILL};
use plan::{Body, Plan, Policy};

/// Trials per `cargo test` run unless `CLEANUP_TRIALS` says otherwise: about
/// two minutes on a 2-core machine.
const DEFAULT_TRIALS: usize = 800;
/// Trials run side by side: most of a trial is waiting (for a hung cleanup
/// to be abandoned, for the deadline).
const PARALLEL: usize = 4;
/// Failing trials whose full report is printed; the rest are listed by seed.
const REPORTS_PRINTED: usize = 20;
/// What the process may take past its deadline here: the test sees the end
/// by polling (2 ms), and the machine is shared and noisy.
const DEADLINE_SLACK: Duration = Duration::from_millis(150);
/// A slow cleanup "fits" when it would finish this long before its share
/// ends: a sleep overslept, a record written late.
const FIT_SLACK: Duration = Duration::from_millis(50);
/// How long the runtime may have held a cleanup before its first line was
/// written (it claims it, then calls it; a loaded machine preempts between):
/// its "abandoned after" counts from the claim.
const CLAIM_SLACK: Duration = Duration::from_millis(10);
/// A guard made during the shutdown this long before the first finalizer
/// started existed at the drain's last look for guards.
const LATE_GUARD_MARGIN: Duration = Duration::from_millis(20);
/// DESIGN's reserve per cleanup still to run ("tens of milliseconds each"):
/// the runtime's 25 ms.
const RESERVE_EACH: Duration = Duration::from_millis(25);
/// How many times at most a trial runs again after a failure under a stall
/// of the harness (a machine standing still may catch the next run too).
const STALL_RETRIES: usize = 3;
/// How long past its deadline the test waits before it kills the program.
const KILL_AFTER: Duration = Duration::from_secs(3);

#[test]
fn random_programs_racing_random_signals_keep_every_promise_of_the_design() {
    let seeds = seeds();
    // Built once, before the trials race to build them.
    for policy in [Policy::Signal, Policy::Code, Policy::Zero] {
        common::fixture_path(policy.fixture(), common::Profile::Current);
    }
    let dir = std::env::temp_dir().join(format!("cleanup-random-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory for the records");

    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let overruns: Mutex<Vec<i64>> = Mutex::new(Vec::new());
    let coverage: Mutex<BTreeMap<&str, usize>> = Mutex::new(BTreeMap::new());
    let retried = Mutex::new(0_usize);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(seeds.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = seeds.get(index) else {
                    return;
                };
                println!("trial {index}: seed {seed}");
                let mut trial = run_trial(seed, &dir);
                for _ in 0..STALL_RETRIES {
                    let (kinds, stalled) = match &trial.failure {
                        Some(failure) if !failure.stalled.is_zero() => {
                            (failure.kinds(), failure.stalled)
                        }
                        _ => break,
                    };
                    // The machine stood still under the trial (the
                    // harness's own waits overslept): the program's deadline
                    // ran on meanwhile, so what it could not do in time
                    // says nothing. Again, same seed.
                    println!(
                        "trial {index}: seed {seed} failed ({kinds}) while the harness stood \
                         still {:.1} ms: run again",
                        stalled.as_secs_f64() * 1000.0
                    );
                    *retried.lock().unwrap() += 1;
                    trial = run_trial(seed, &dir);
                }
                let Trial {
                    failure,
                    overrun,
                    seen,
                } = trial;
                let mut covered = coverage.lock().unwrap();
                for what in seen {
                    *covered.entry(what).or_default() += 1;
                }
                drop(covered);
                if let Some(overrun) = overrun {
                    if overrun > 50_000 {
                        println!(
                            "trial {index}: seed {seed} ended {:.1} ms past its deadline",
                            overrun as f64 / 1000.0
                        );
                    }
                    overruns.lock().unwrap().push(overrun);
                }
                if let Some(failure) = failure {
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
    if std::fs::remove_dir(&dir).is_err() {
        println!(
            "the records and reports of the failing trials are in {}",
            dir.display()
        );
    }
    println!(
        "{} trials in {:.1?}, {} failed; {} run again after a failure under a stall of the harness",
        seeds.len(),
        started.elapsed(),
        failures.len(),
        retried.into_inner().unwrap()
    );
    println!("{}", overrun_summary(overruns.into_inner().unwrap()));
    let coverage: Vec<String> = coverage
        .into_inner()
        .unwrap()
        .iter()
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
    println!("trials by what they covered: {}", coverage.join(", "));
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
         `CLEANUP_SEED=<seed> cargo test --all-features --test random`):\n"
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

/// The overrun past the deadline (the end less `timeout` less its margin
/// after the first signal or way out), over the trials: percentiles and the
/// worst, in ms; negative is early.
fn overrun_summary(mut overruns: Vec<i64>) -> String {
    if overruns.is_empty() {
        return "no trial had a deadline to measure".to_owned();
    }
    overruns.sort_unstable();
    let at = |percent: usize| overruns[(overruns.len() - 1) * percent / 100] as f64 / 1000.0;
    let late = overruns.iter().filter(|&&us| us > 0).count();
    format!(
        "overrun past the deadline over {} trials (ms): p50 {:.1}, p90 {:.1}, p99 {:.1}, \
         max {:.1}; {} past it at all, {} past it by more than {:?}",
        overruns.len(),
        at(50),
        at(90),
        at(99),
        at(100),
        late,
        overruns
            .iter()
            .filter(|&&us| us > DEADLINE_SLACK.as_micros() as i64)
            .count(),
        DEADLINE_SLACK
    )
}

// ---- one trial --------------------------------------------------------------

/// Runs the program of `seed`, sends its signals, checks what happened:
/// what it broke, if anything, and how far past its deadline it ended.
fn run_trial(seed: u64, dir: &Path) -> Trial {
    let plan = Plan::new(seed);
    let path = dir.join(format!("{seed}.record"));
    let _ = std::fs::remove_file(&path);
    let outcome = std::panic::catch_unwind(|| run_program(&plan, &path));
    let record = std::fs::read_to_string(&path).unwrap_or_default();
    let mut seen = circumstances_of(&plan);
    let (violations, ended, overrun, stalled) = match outcome {
        Ok(run) => {
            let context = Context::of(&plan, &run);
            let checked = check(&record, &context);
            seen.extend(checked.seen);
            (
                checked.violations,
                Some(run.ended),
                checked.overrun_us,
                run.stalled,
            )
        }
        // The harness failed (say, it could not start the program).
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            (
                vec![Violation::new(Kind::Harness, why)],
                None,
                None,
                Duration::ZERO,
            )
        }
    };
    if violations.is_empty() {
        let _ = std::fs::remove_file(&path);
        if std::env::var_os("CLEANUP_SEED").is_some() {
            // A replay shows what happened, broken or not.
            println!("--- plan ---\n{plan}\n--- record ---\n{record}");
            if let Some(ended) = &ended {
                println!("{ended}");
            }
        }
        return Trial {
            failure: None,
            overrun,
            seen,
        };
    }
    let failure = Failure {
        seed,
        plan,
        path,
        record,
        ended,
        violations,
        stalled,
    };
    // The whole report next to the record, for the trials not printed.
    let _ = std::fs::write(failure.path.with_extension("report"), failure.to_string());
    Trial {
        failure: Some(failure),
        overrun,
        seen,
    }
}

/// What one trial came to.
struct Trial {
    failure: Option<Failure>,
    /// How far past its deadline it ended (µs), when it had one.
    overrun: Option<i64>,
    /// What the trial covered: its plan's circumstances and what happened.
    seen: Vec<&'static str>,
}

/// A program run: how it ended, and when (µs of `CLOCK_MONOTONIC`).
struct Run {
    ended: Ended,
    gone_us: Option<u64>,
    /// It was still running long past its deadline: the test killed it.
    killed_by_test: bool,
    /// How long the harness itself stood still while it waited for the end
    /// (`Running::stalled`).
    stalled: Duration,
}

/// Starts the program, sends the plan's signals, waits for the end.
fn run_program(plan: &Plan, record: &Path) -> Run {
    // The test's `sent` lines may come before the program has opened it.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(record)
        .expect("the record file");
    let mut spawn = Spawn::fixture(plan.policy.fixture())
        .arg(plan.seed.to_string())
        .arg(record)
        .env("CLEANUP_TIMEOUT", &plan.timeout_env)
        .default_signal_actions();
    if plan.own_group {
        spawn = spawn.own_process_group();
    }
    let timeout = Duration::from_millis(u64::from(plan.timeout_ms));
    let spawned = Instant::now();
    file.write_all(format!("{} spawned\n", monotonic_us()).as_bytes())
        .expect("appending to the record");
    let mut running = spawn.start();
    // How long the harness stood still while it waited to send a signal.
    let mut stalled = Duration::ZERO;
    let mut send = |running: &mut common::Running, from: Instant, signal: &plan::Signal| {
        let at = from + Duration::from_micros(u64::from(signal.at_us));
        std::thread::sleep(at.saturating_duration_since(Instant::now()));
        let late = at.elapsed();
        if late > common::STALL {
            stalled += late;
        }
        // One write, before the signal: the record orders it among the rest.
        let line = format!("{} sent {}\n", monotonic_us(), signal.sig.name());
        file.write_all(line.as_bytes())
            .expect("appending to the record");
        running.signal(signal.sig.number());
    };
    for signal in &plan.startup {
        send(&mut running, spawned, signal);
    }
    // A signal at start-up may have ended it before `ready`, by its
    // default action or by a shutdown.
    let limit = timeout + KILL_AFTER;
    if running.try_wait_stdout("ready", limit) {
        let ready = Instant::now();
        for signal in &plan.signals {
            if running.ends_within(Duration::ZERO) {
                break;
            }
            send(&mut running, ready, signal);
        }
    }
    let ended_in_time = running.ends_within(limit);
    let gone_us = ended_in_time.then(monotonic_us);
    if !ended_in_time {
        running.signal(SIGKILL);
    }
    let stalled = stalled + running.stalled();
    Run {
        ended: running.finish(),
        gone_us,
        killed_by_test: !ended_in_time,
        stalled,
    }
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
    /// The line of the fixture's call that made it: how the log names it.
    site: Option<u32>,
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

    fn end(&self) -> Option<usize> {
        self.ends.first().copied()
    }

    /// The thread that ran it.
    fn runner(&self) -> Option<&str> {
        self.starts.first().map(|(_, thread)| thread.as_str())
    }

    /// It ran where its scope ended, inside its own `drop`, not in the drain.
    fn ran_by_its_scope(&self) -> bool {
        let Some((start, thread)) = self.starts.first() else {
            return false;
        };
        let Some(drop) = self.drop else {
            return false;
        };
        *thread == self.owner && *start > drop && self.dropped.is_none_or(|end| *start < end)
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

    /// DESIGN's "Exit status": what the parent may see for this reason
    /// under `policy` (not PID 1), given how clean the shutdown was.
    fn statuses(self, policy: Policy, clean: Clean) -> Vec<Status> {
        match self {
            Reason::Return => vec![Status::Code(0)],
            // A requested shutdown whose cleanups failed may say so.
            Reason::Requested if clean != Clean::Yes => vec![Status::Code(0), Status::Code(1)],
            Reason::Requested => vec![Status::Code(0)],
            Reason::Error => vec![Status::Code(1)],
            Reason::Panic => vec![Status::Code(101)],
            Reason::Exit(code) => vec![Status::Code(code)],
            Reason::Signal(sig) => match (policy, clean) {
                (Policy::Signal, _) => vec![Status::Killed(sig)],
                (Policy::Code, _) | (Policy::Zero, Clean::No) => vec![Status::Code(128 + sig)],
                (Policy::Zero, Clean::Yes) => vec![Status::Code(0)],
                (Policy::Zero, Clean::Unsure) => vec![Status::Code(0), Status::Code(128 + sig)],
            },
        }
    }
}

/// Whether a shutdown was clean, for `exit = "zero"`: "0 after a clean,
/// signal-triggered shutdown; still non-zero if cleanup failed or the
/// deadline was hit".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Clean {
    Yes,
    /// A cleanup never finished, or the deadline was hit.
    No,
    /// The runtime says something went wrong (a cleanup abandoned but
    /// finished later, `main` late): DESIGN does not say which status.
    Unsure,
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

/// A churn guard that counted its runs wrong: `bad g<id> <what> <starts> <ends>`.
#[derive(Debug)]
struct Bad {
    line: usize,
    tag: Tag,
    disarmed: bool,
    starts: u32,
    ends: u32,
}

/// The record, read.
struct Record<'a> {
    lines: Vec<&'a str>,
    /// When each line was written (µs of `CLOCK_MONOTONIC`), if it says.
    times: Vec<Option<u64>>,
    lives: BTreeMap<Tag, Life>,
    /// Where `main`'s body began: the signal handlers were in place.
    begin: Option<usize>,
    /// The first `route` (a way out taken), `sent` (a signal) or `left main`:
    /// cleanups made before it were surely made before the shutdown began.
    first_trigger: usize,
    /// Every way out taken and signal sent, with its line, as the reason it
    /// would give if it came first.
    triggers: Vec<(usize, Reason)>,
    /// The lines from which the deadline runs: a signal sent, a way out that
    /// starts the shutdown at once, `main`'s frame gone.
    deadline_from: Vec<usize>,
    /// The signals sent, in order, with their lines.
    sent: Vec<(usize, i32)>,
    reason: Option<(usize, Option<Reason>)>,
    bad: Vec<Bad>,
    /// Where the churn threads make the guards they do not record.
    churn_site: Option<u32>,
    /// Lines no rule reads.
    unreadable: Vec<usize>,
}

impl<'a> Record<'a> {
    fn read(text: &'a str) -> Record<'a> {
        let mut record = Record {
            lives: BTreeMap::new(),
            begin: None,
            first_trigger: usize::MAX,
            triggers: Vec::new(),
            deadline_from: Vec::new(),
            sent: Vec::new(),
            reason: None,
            bad: Vec::new(),
            churn_site: None,
            unreadable: Vec::new(),
            lines: Vec::new(),
            times: Vec::new(),
        };
        for (index, line) in text.lines().enumerate() {
            // `<µs> <event>…`; records written by hand may leave out the time.
            let (time, event) = match line.split_once(' ') {
                Some((time, rest)) if time.bytes().all(|b| b.is_ascii_digit()) => {
                    (time.parse().ok(), rest)
                }
                _ => (None, line),
            };
            record.lines.push(line);
            record.times.push(time);
            if !record.read_line(index, event) {
                record.unreadable.push(index);
            }
        }
        record.first_trigger = record.first_trigger.min(record.lines.len());
        // A churn thread's unrecorded guards: no `make` or `made` line, one
        // site. (One with a `make` but no `made` is a call that never
        // returned: made once the registry had closed, its thread parked;
        // its site is not known.)
        for life in record.lives.values_mut() {
            if life.make.is_none() && life.made.is_none() && life.site.is_none() {
                life.site = record.churn_site;
            }
        }
        record
    }

    /// Reads one line; `false` if it means nothing.
    fn read_line(&mut self, index: usize, line: &str) -> bool {
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            ["begin"] => self.begin = Some(index),
            ["spawned"] => {}
            ["sent", sig] => {
                let number = match sig {
                    "SIGTERM" => 15,
                    "SIGHUP" => 1,
                    "SIGINT" => 2,
                    _ => return false,
                };
                self.sent.push((index, number));
                self.triggers.push((index, Reason::Signal(number)));
                self.deadline_from.push(index);
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
                // A return or a panic starts the shutdown once `main`'s
                // frame is gone (`left main`); these, at once.
                if matches!(what, "request" | "exit" | "process-exit") {
                    self.deadline_from.push(index);
                }
                self.triggers.push((index, reason));
                self.first_trigger = self.first_trigger.min(index);
            }
            ["left", "main"] => {
                self.deadline_from.push(index);
                self.first_trigger = self.first_trigger.min(index);
            }
            ["reason", reason] => self.reason = Some((index, Reason::parse(reason))),
            ["bad", tag, what, starts, ends] => {
                let (Some(tag), Ok(starts), Ok(ends)) =
                    (Tag::parse(tag), starts.parse(), ends.parse())
                else {
                    return false;
                };
                self.bad.push(Bad {
                    line: index,
                    tag,
                    disarmed: what == "disarmed",
                    starts,
                    ends,
                });
            }
            ["churn", _, "site", site] => {
                let Ok(site) = site.parse() else {
                    return false;
                };
                self.churn_site = Some(site);
            }
            ["main", ..] | [_, "noticed"] | [_, "parks"] => {}
            [event, tag, ref rest @ ..] => {
                let Some(tag) = Tag::parse(tag) else {
                    return false;
                };
                let life = self.lives.entry(tag).or_default();
                match (event, rest) {
                    ("make", [owner]) => {
                        life.make = Some(index);
                        life.owner = (*owner).to_owned();
                    }
                    ("made", [_]) => life.made = Some(index),
                    ("made", [_, site]) => {
                        life.made = Some(index);
                        life.site = site.parse().ok();
                    }
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

    fn time(&self, index: usize) -> Option<u64> {
        self.times.get(index).copied().flatten()
    }

    /// When the first trigger was written: the shutdown's budget starts no
    /// earlier.
    fn first_trigger_time(&self) -> Option<u64> {
        self.time(self.first_trigger)
    }

    /// The earliest moment the deadline may run from: the first signal, or
    /// the first way out that starts the shutdown.
    fn deadline_start(&self) -> Option<u64> {
        self.deadline_from
            .iter()
            .filter_map(|&i| self.time(i))
            .min()
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

// ---- what stderr says ------------------------------------------------------------

/// `shutdown: guard created at tests/fixtures/random_body.rs:350:21 hung,
/// abandoned after 468ms`: a cleanup the runtime gave up on, by where it
/// was made, and how long after it started (or after the drain began
/// waiting for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Abandoned {
    finalizer: bool,
    site: u32,
    after: Duration,
    /// How far off `after` may be: the log rounds to 1 ms below a second,
    /// to 100 ms above.
    rounding: Duration,
}

fn abandoned_on(stderr: &str) -> Vec<Abandoned> {
    stderr
        .lines()
        .filter_map(|line| {
            let (named, after) = line.split_once(" hung, abandoned after ")?;
            let finalizer = named.contains("finalizer registered at ");
            let site = named.rsplit_once("random_body.rs:")?.1;
            let site = site.split(':').next()?.parse().ok()?;
            let after = after.split_whitespace().next()?;
            let (after, rounding) = if let Some(ms) = after.strip_suffix("ms") {
                (
                    Duration::from_millis(ms.parse().ok()?),
                    Duration::from_millis(1),
                )
            } else {
                let secs: f64 = after.strip_suffix('s')?.parse().ok()?;
                (Duration::from_secs_f64(secs), Duration::from_millis(60))
            };
            Some(Abandoned {
                finalizer,
                site,
                after,
                rounding,
            })
        })
        .collect()
}

/// The lines that say the shutdown was not clean.
fn runtime_says_unclean(stderr: &str) -> bool {
    [
        "hung, abandoned",
        "panicked",
        "did not return",
        "deadline of",
        "not run",
        "left behind",
    ]
    .iter()
    .any(|words| stderr.contains(words))
}

// ---- the checks -----------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    RanTwice,
    RanAfterDisarm,
    DisarmReturnedWhileRunning,
    DropReturnedEarly,
    NeverRan,
    LateLost,
    CutShort,
    HungNotNamed,
    FinalizerDuringGuard,
    FinalizerBeforeGuard,
    LateGuardAfterFinalizer,
    GuardOrder,
    FinalizerOrder,
    TwoDrainers,
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
            Kind::DropReturnedEarly => "a guard's drop returned before its closure had run",
            Kind::NeverRan => "a cleanup that existed when the shutdown began never ran",
            Kind::LateLost => {
                "a cleanup made during the shutdown never ran, though the drain finished"
            }
            Kind::CutShort => "a cleanup that fitted its share did not finish",
            Kind::HungNotNamed => "a cleanup left running was not named as hung on stderr",
            Kind::FinalizerDuringGuard => "a finalizer started while a guard was running",
            Kind::FinalizerBeforeGuard => "a finalizer ran before a guard made before the shutdown",
            Kind::LateGuardAfterFinalizer => {
                "a guard made during the shutdown, well before the first finalizer started, ran \
                 after it"
            }
            Kind::GuardOrder => "guards ran out of reverse creation order",
            Kind::FinalizerOrder => "finalizers ran out of reverse registration order",
            Kind::TwoDrainers => "two cleanups ran at once on behalf of the shutdown",
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

/// What the checks know besides the record: the plan's settings and how the
/// program ended.
struct Context<'a> {
    status: ExitStatus,
    stderr: &'a str,
    policy: Policy,
    timeout: Duration,
    /// The plan's cleanups: which hang, which are slow and by how much.
    bodies: BTreeMap<Tag, Body>,
    /// When the process was seen gone (µs of `CLOCK_MONOTONIC`).
    gone_us: Option<u64>,
    killed_by_test: bool,
    /// How long the harness stood still while it waited for the end.
    stalled: Duration,
}

impl<'a> Context<'a> {
    fn of(plan: &Plan, run: &'a Run) -> Context<'a> {
        Context {
            status: run.ended.status,
            stderr: &run.ended.stderr,
            policy: plan.policy,
            timeout: Duration::from_millis(u64::from(plan.timeout_ms)),
            bodies: plan
                .bodies()
                .into_iter()
                .map(|(finalizer, id, body)| (Tag { finalizer, id }, body))
                .collect(),
            gone_us: run.gone_us,
            killed_by_test: run.killed_by_test,
            stalled: run.stalled,
        }
    }

    fn body(&self, tag: Tag) -> Body {
        self.bodies.get(&tag).copied().unwrap_or(Body::PLAIN)
    }

    /// "gone by `timeout` minus the safety margin": a twentieth, at most 500 ms.
    fn effective(&self) -> Duration {
        self.timeout - (self.timeout / 20).min(Duration::from_millis(500))
    }
}

/// What [`check`] found.
struct Checked {
    violations: Vec<Violation>,
    /// How far past its deadline the process ended (µs; negative: before).
    overrun_us: Option<i64>,
    /// What happened, for the coverage tally.
    seen: Vec<&'static str>,
}

/// Every check, on the record and how the program ended.
fn check(text: &str, context: &Context) -> Checked {
    let record = Record::read(text);
    let mut found = Vec::new();
    for &index in &record.unreadable {
        found.push(Violation::new(
            Kind::Harness,
            format!("unreadable {}", record.at(index)),
        ));
    }
    if context.stderr.contains("CLEANUP_TIMEOUT") {
        found.push(Violation::new(
            Kind::Harness,
            "the runtime did not take CLEANUP_TIMEOUT".to_owned(),
        ));
    }
    let sigints = record
        .sent
        .iter()
        .filter(|&&(_, sig)| sig == SIGINT)
        .count();
    let abandoned = abandoned_on(context.stderr);
    let owed = owed(&record, context);
    never_runs_twice(&record, &mut found);
    never_starts_after_disarm_or_cancel_returns(&record, &mut found);
    churn_guards_ran_exactly_once(&record, &mut found);
    runs_exactly_once_always(&record, context, owed, &mut found);
    // After a second SIGINT what was left running was cut by it.
    if owed == Owed::All {
        left_running_is_named_as_hung(&record, context, &abandoned, &mut found);
        fitting_cleanups_finish(&record, context, &abandoned, &mut found);
    }
    no_finalizer_starts_while_a_guard_is_still_running(&record, context, &abandoned, &mut found);
    guards_then_finalizers(&record, &mut found);
    guards_in_reverse_order_of_creation(&record, &mut found);
    finalizers_in_reverse_order_of_registration(&record, &mut found);
    one_drainer_at_a_time(&record, context, &abandoned, &mut found);
    if !context.killed_by_test {
        status_is_that_of_the_first_route(&record, context, sigints, &mut found);
    }
    let overrun_us = overrun(&record, context);
    if context.killed_by_test {
        found.push(Violation::new(
            Kind::Deadline,
            format!(
                "still running {KILL_AFTER:?} past its deadline (or `ready`): killed by the test{}",
                stall_note(context.stalled)
            ),
        ));
    } else if let Some(overrun) = overrun_us {
        // When the harness stood still while it waited, it saw the end
        // that much later than it may have come: a pause of the whole
        // machine (a VM descheduled) stops the program and the harness
        // alike, and the harness then sees every end at once, seconds late.
        let stalled = context.stalled.as_micros() as i64;
        if overrun - stalled > DEADLINE_SLACK.as_micros() as i64 {
            // Whether the program was still at work or only slow to go (or
            // the test slow to see it): its last line against the deadline.
            let last = record.times.iter().rev().flatten().next().copied();
            let deadline = context.gone_us.unwrap() as i64 - overrun;
            let last = last.map_or("?".to_owned(), |last| {
                format!("{:.1}", (last as i64 - deadline) as f64 / 1000.0)
            });
            found.push(Violation::new(
                Kind::Deadline,
                format!(
                    "gone {:.1} ms past its deadline, its last record line {last} ms past it \
                     ({:?} less the margin after the first signal or way out, {}){}",
                    overrun as f64 / 1000.0,
                    context.timeout,
                    record.at(*record
                        .deadline_from
                        .iter()
                        .min_by_key(|&&i| record.time(i))
                        .unwrap()),
                    stall_note(context.stalled)
                ),
            ));
        }
    }
    let mut seen = happened(&record, context);
    if !context.stalled.is_zero() {
        seen.push("a stall of the harness");
    }
    Checked {
        violations: found,
        overrun_us,
        seen,
    }
}

/// The harness's own stall, said beside a time it measured across it.
fn stall_note(stalled: Duration) -> String {
    if stalled.is_zero() {
        return String::new();
    }
    format!(
        "; the harness stood still {:.1} ms while it waited for the end",
        stalled.as_secs_f64() * 1000.0
    )
}

/// What a trial came to, for the coverage tally.
fn happened(record: &Record, context: &Context) -> Vec<&'static str> {
    let mut seen = Vec::new();
    if let Some(&(first, _)) = record.sent.first() {
        match record.begin {
            Some(begin) if first < begin => seen.push("a signal before `begin`"),
            None => seen.push("a signal, and no `begin`"),
            Some(_) => {}
        }
    }
    if record
        .sent
        .iter()
        .filter(|&&(_, sig)| sig == SIGINT)
        .count()
        >= 2
        && context.status.signal() == Some(SIGINT)
    {
        seen.push("two SIGINTs");
    }
    if record
        .lives
        .iter()
        .any(|(tag, life)| context.body(*tag).hang && life.start().is_some())
    {
        seen.push("a hung cleanup ran");
    }
    if record.lives.iter().any(|(tag, life)| {
        !tag.is_guard()
            && life.start().is_some()
            && life.runner().is_some_and(|t| t.starts_with('x'))
    }) {
        seen.push("the runtime's own drain");
    }
    if context.stderr.contains("deadline of") {
        seen.push("the deadline cut the drain");
    }
    if !record.bad.is_empty() || record.churn_site.is_some() {
        seen.push("churn ran");
    }
    seen
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
        if let (Some(end), start) = (life.end(), life.start()) {
            if start.is_none_or(|start| end < start) {
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

/// The churn threads' unrecorded guards, checked where they were dropped or
/// disarmed: exactly once, and not running once `disarm` returned; a drop
/// returns once its guard has run (the API docs: "If the drain has already
/// started the closure when the guard is dropped … the drop waits for it").
fn churn_guards_ran_exactly_once(record: &Record, found: &mut Vec<Violation>) {
    for bad in &record.bad {
        let kind = match bad {
            Bad { starts: 2.., .. } => Kind::RanTwice,
            Bad { disarmed: true, .. } => Kind::DisarmReturnedWhileRunning,
            Bad { .. } => Kind::DropReturnedEarly,
        };
        found.push(Violation::new(
            kind,
            format!(
                "churn guard {} counted {} start(s) and {} end(s) once its {} returned ({})",
                bad.tag,
                bad.starts,
                bad.ends,
                if bad.disarmed { "disarm" } else { "drop" },
                record.at(bad.line)
            ),
        ));
    }
}

/// Which cleanups must have run by the end.
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

fn owed(record: &Record, context: &Context) -> Owed {
    if context.killed_by_test {
        return Owed::None;
    }
    let mut sigints = record.sent.iter().filter(|&&(_, sig)| sig == SIGINT);
    let second = sigints.nth(1).map(|&(line, _)| line);
    let Some(second) = second.filter(|_| context.status.signal() == Some(SIGINT)) else {
        return Owed::All;
    };
    let f0 = Tag {
        finalizer: true,
        id: 0,
    };
    let f0_end = record.lives.get(&f0).and_then(Life::end);
    if f0_end.is_some_and(|end| end < second) {
        Owed::MadeBeforeTheShutdown
    } else {
        Owed::None
    }
}

/// "Exactly once, always", with "every guard and finalizer that existed
/// when the shutdown began runs (unless it hangs)" and "Guards and
/// finalizers made after the shutdown began … still run before the process
/// leaves": every cleanup made and not disarmed or cancelled starts. After
/// a second SIGINT only what had to be done before it is owed.
fn runs_exactly_once_always(
    record: &Record,
    context: &Context,
    owed: Owed,
    found: &mut Vec<Violation>,
) {
    // The drain did not finish: the deadline came first, or the runtime
    // kept what was left for the cleanups made before the shutdown and said
    // so ("… made during the shutdown not started"). "Made after the
    // shutdown began … still run, within the deadline": such a late one is
    // owed only when the time was there.
    let cut = context.stderr.contains("deadline of")
        || context
            .stderr
            .contains("made during the shutdown not started");
    for (tag, life) in &record.lives {
        let Some(made) = life.made else {
            continue;
        };
        if !life.starts.is_empty() || life.disarm.is_some() {
            continue;
        }
        let before = record.made_before_the_shutdown(life);
        let kind = match owed {
            Owed::All | Owed::MadeBeforeTheShutdown if before => Kind::NeverRan,
            Owed::All if cut => continue,
            Owed::All => Kind::LateLost,
            Owed::MadeBeforeTheShutdown | Owed::None => continue,
        };
        found.push(Violation::new(
            kind,
            format!("{tag} never started ({})", record.at(made)),
        ));
    }
}

/// Cleanups that started and never finished: the process left while they
/// ran.
fn left_running<'r>(record: &'r Record) -> impl Iterator<Item = (Tag, &'r Life)> {
    record
        .lives
        .iter()
        .filter(|(_, life)| life.start().is_some() && life.ends.is_empty())
        .map(|(tag, life)| (*tag, life))
}

/// "a guard or finalizer hangs → that one is abandoned at its budget … and
/// the log names the one that hung": each cleanup still running when the
/// process left is named on stderr as hung, abandoned, by where it was made.
fn left_running_is_named_as_hung(
    record: &Record,
    context: &Context,
    abandoned: &[Abandoned],
    found: &mut Vec<Violation>,
) {
    let mut running: BTreeMap<(bool, Option<u32>), Vec<Tag>> = BTreeMap::new();
    for (tag, life) in left_running(record) {
        running
            .entry((tag.finalizer, life.site))
            .or_default()
            .push(tag);
    }
    for ((finalizer, site), tags) in running {
        let named = abandoned
            .iter()
            .filter(|a| a.finalizer == finalizer && site.is_none_or(|site| a.site == site))
            .count();
        if named < tags.len() {
            let tags: Vec<String> = tags
                .iter()
                .map(|&tag| {
                    let hang = if context.body(tag).hang {
                        " (hangs)"
                    } else {
                        ""
                    };
                    format!("{tag}{hang}")
                })
                .collect();
            found.push(Violation::new(
                Kind::HungNotNamed,
                format!(
                    "{} still running at the end, made at line {} of random_body.rs; \
                     stderr names {named} such {} as hung",
                    tags.join(", "),
                    site.map_or("?".to_owned(), |site| site.to_string()),
                    if finalizer { "finalizer" } else { "guard" },
                ),
            ));
        }
    }
}

/// Whether `life`, started and abandoned, was abandoned (as stderr says) by
/// `time`: its share was over.
fn abandoned_by(
    record: &Record,
    life: &Life,
    finalizer: bool,
    abandoned: &[Abandoned],
    time: u64,
) -> bool {
    // A cleanup whose `made` line never came (its call never returned: made
    // once the registry had closed, its thread parked) has no known site.
    let site_fits = |a: &Abandoned| life.site.is_none_or(|site| a.site == site);
    let Some(start) = life.start().and_then(|start| record.time(start)) else {
        // Hand-written records: abandoned at all.
        return abandoned
            .iter()
            .any(|a| a.finalizer == finalizer && site_fits(a));
    };
    // One that a program thread ran (its own drop), the drain found running:
    // the log counts its time from the shutdown's start, all the runtime
    // knows, though it may have started later.
    let from = match life.starts.first() {
        Some((_, thread)) if !thread.starts_with('x') => record
            .deadline_start()
            .map_or(start, |began| began.min(start)),
        _ => start,
    };
    abandoned.iter().any(|a| {
        a.finalizer == finalizer
            && site_fits(a)
            && from + (a.after.saturating_sub(a.rounding + CLAIM_SLACK)).as_micros() as u64 <= time
    })
}

/// "A slow but finite cleanup that fits is never cut short": one that
/// started with time for its work and the reserve of those still to run
/// (25 ms each, at most half of what is left) before the deadline, and still
/// [`FIT_SLACK`] to spare, finishes and is not abandoned.
fn fitting_cleanups_finish(
    record: &Record,
    context: &Context,
    abandoned: &[Abandoned],
    found: &mut Vec<Violation>,
) {
    // The budget starts no earlier than the first trigger was written.
    let Some(from) = record.first_trigger_time() else {
        return;
    };
    let hard = from + context.effective().as_micros() as u64;
    for (tag, life) in &record.lives {
        let body = context.body(*tag);
        let Some(start) = life.start() else {
            continue;
        };
        let Some(started) = record.time(start) else {
            continue;
        };
        let unfinished = life.ends.is_empty();
        // A line that says a cleanup was abandoned is this one's only if it
        // could have been abandoned before it ended: one whose call never
        // returned has no known site, and would otherwise take another's
        // line (a hung guard's) for its own although it finished in time.
        let ended = life
            .end()
            .and_then(|end| record.time(end))
            .unwrap_or(u64::MAX);
        let given_up = !unfinished
            && abandoned_by(record, life, tag.finalizer, abandoned, ended)
            && body.site.is_some();
        if body.hang || !(unfinished || given_up) {
            continue;
        }
        let waiting = record
            .lives
            .values()
            .filter(|other| other.made.is_some() && other.disarm.is_none())
            .filter(|other| other.start().is_none_or(|s| s > start))
            .count() as u64;
        // Its share: what is left but 25 ms for each still to run; when so
        // little is left that those reserves do not fit, an equal slice.
        let left = hard.saturating_sub(started);
        let share = left
            .saturating_sub(RESERVE_EACH.as_micros() as u64 * waiting)
            .max(left / (waiting + 1));
        if u64::from(body.slow_us) + FIT_SLACK.as_micros() as u64 <= share {
            let what = if unfinished {
                "never finished"
            } else {
                "was abandoned"
            };
            found.push(Violation::new(
                Kind::CutShort,
                format!(
                    "{tag} ({} µs of work) {what}: it started {:.1} ms before the deadline, \
                     {waiting} others still to run ({})",
                    body.slow_us,
                    (hard - started) as f64 / 1000.0,
                    record.at(start)
                ),
            ));
        }
    }
}

/// "no finalizer starts while a guard is still running anywhere", but for a
/// guard abandoned by then ("waits for a running guard only until it is done
/// or abandoned").
fn no_finalizer_starts_while_a_guard_is_still_running(
    record: &Record,
    context: &Context,
    abandoned: &[Abandoned],
    found: &mut Vec<Violation>,
) {
    let _ = context;
    let guards: Vec<(Tag, &Life, usize)> = record
        .lives
        .iter()
        .filter(|(tag, _)| tag.is_guard())
        .filter_map(|(tag, life)| Some((*tag, life, life.start()?)))
        .collect();
    if guards.is_empty() {
        return;
    }
    let mut reported = 0;
    for (finalizer, life) in record.lives.iter().filter(|(tag, _)| tag.finalizer) {
        let Some(start) = life.start() else {
            continue;
        };
        for &(guard, running, guard_start) in &guards {
            let still = running.end().is_none_or(|end| end > start);
            if guard_start > start || !still {
                continue;
            }
            let time = record.time(start).unwrap_or(u64::MAX);
            if abandoned_by(record, running, false, abandoned, time) {
                continue;
            }
            reported += 1;
            if reported > 5 {
                return;
            }
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

/// "Order: guards …, then finalizers": every guard made before the first
/// finalizer started starts before it. For guards made before the shutdown
/// began this is the table's order; for those made during it, before the
/// first finalizer started, it is "newest first holds … across the lists".
/// Guards made once a finalizer has started are left out, and so are those
/// made during the shutdown within [`LATE_GUARD_MARGIN`] of the first
/// finalizer's start (the drain may have looked for guards just before).
fn guards_then_finalizers(record: &Record, found: &mut Vec<Violation>) {
    let Some((first, first_start)) = record
        .lives
        .iter()
        .filter(|(tag, _)| tag.finalizer)
        .filter_map(|(tag, life)| Some((*tag, life.start()?)))
        .min_by_key(|&(_, start)| start)
    else {
        return;
    };
    let mut reported = 0;
    for (guard, life) in record.lives.iter().filter(|(tag, _)| tag.is_guard()) {
        let (Some(made), Some(start)) = (life.made, life.start()) else {
            continue;
        };
        if made > first_start || start < first_start {
            continue;
        }
        let kind = if record.made_before_the_shutdown(life) {
            Kind::FinalizerBeforeGuard
        } else {
            // Made while the drain turned to the finalizers, it may have
            // missed the last scan: only one that existed well before is
            // one the drain passed over.
            let (Some(made), Some(first)) = (record.time(made), record.time(first_start)) else {
                continue;
            };
            if made + LATE_GUARD_MARGIN.as_micros() as u64 > first {
                continue;
            }
            Kind::LateGuardAfterFinalizer
        };
        reported += 1;
        if reported > 5 {
            return;
        }
        found.push(Violation::new(
            kind,
            format!(
                "{first} {} before {guard} {} (made at {})",
                record.at(first_start),
                record.at(start),
                record.at(made)
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
/// the newer one's `make`), the newer one starts first. In start order, each
/// one is checked against the one with the earliest `made` started before it.
fn newest_first(record: &Record, ran: &[(Tag, &Life)], kind: Kind, found: &mut Vec<Violation>) {
    // By when each started (the time stamped before the line was written:
    // a runner paused in between writes its line late), then by line.
    let mut by_start: Vec<&(Tag, &Life)> = ran.iter().collect();
    by_start.sort_by_key(|(_, life)| life.start().map(|line| (record.time(line), line)));
    let mut oldest: Option<&(Tag, &Life)> = None;
    let mut reported = 0;
    for entry in by_start {
        let (newer, new) = entry;
        if let Some((older, old)) = oldest {
            if matches!((old.made, new.make), (Some(a), Some(b)) if a < b) {
                reported += 1;
                if reported > 5 {
                    return;
                }
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
        if new.made.is_some() && oldest.is_none_or(|(_, old)| new.made < old.made) {
            oldest = Some(entry);
        }
    }
}

/// "One drainer at a time: cleanups never run two at once on behalf of the
/// shutdown": of the cleanups not run by their own scope, none starts while
/// another runs, unless it runs inside it (on the same thread: a guard made
/// and dropped inside a cleanup) or the other was abandoned by then.
fn one_drainer_at_a_time(
    record: &Record,
    context: &Context,
    abandoned: &[Abandoned],
    found: &mut Vec<Violation>,
) {
    let _ = context;
    let mut drained: Vec<(Tag, &Life, usize)> = record
        .lives
        .iter()
        .filter(|(_, life)| !life.ran_by_its_scope())
        .filter_map(|(tag, life)| Some((*tag, life, life.start()?)))
        .collect();
    drained.sort_by_key(|&(_, _, start)| start);
    let mut running: Vec<(Tag, &Life)> = Vec::new();
    let mut reported = 0;
    for (tag, life, start) in drained {
        running.retain(|(_, other)| other.end().is_none_or(|end| end > start));
        let time = record.time(start).unwrap_or(u64::MAX);
        for &(other_tag, other) in &running {
            // A thread may be held up between stamping a line and writing
            // it: the one written first may have started second, after the
            // other was abandoned.
            let other_time = other
                .start()
                .and_then(|start| record.time(start))
                .unwrap_or(u64::MAX);
            // And a cleanup the runtime claimed, then gave up on before its
            // thread (paused by the scheduler) got to write its first line,
            // writes that line after the other has started.
            let claimed_before = other_time.saturating_add(CLAIM_SLACK.as_micros() as u64);
            if other.runner() == life.runner()
                || abandoned_by(record, other, other_tag.finalizer, abandoned, time)
                || abandoned_by(record, life, tag.finalizer, abandoned, claimed_before)
            {
                continue;
            }
            reported += 1;
            if reported > 5 {
                return;
            }
            found.push(Violation::new(
                Kind::TwoDrainers,
                format!(
                    "{tag} {} while {other_tag} ran ({})",
                    record.at(start),
                    record.at(other.start().unwrap())
                ),
            ));
        }
        running.push((tag, life));
    }
}

/// "The end has one owner … The status is that of the first route", with
/// "Exit status" for the policy and "The first SIGINT never forces … only a
/// second SIGINT does". f0, run last, records the reason: it must be a way
/// out the program took or a signal the test sent, the first one when the
/// record shows which came first, and the status must be one DESIGN gives
/// for it — or death by SIGINT when two SIGINTs were sent, or death by the
/// signal's default action when it came before the handlers were in place.
fn status_is_that_of_the_first_route(
    record: &Record,
    context: &Context,
    sigints: usize,
    found: &mut Vec<Violation>,
) {
    let seen = Status::of(context.status);
    let may_be_forced = sigints >= 2 && seen == Some(Status::Killed(SIGINT));
    // Before `begin`, a signal may have met no handler yet.
    let by_default_action = record.begin.is_none()
        && record
            .sent
            .iter()
            .any(|&(_, sig)| seen == Some(Status::Killed(sig)));
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
    let clean = clean(record, context);
    let expected = expected.statuses(context.policy, clean);
    if seen.is_some_and(|seen| expected.contains(&seen)) || may_be_forced || by_default_action {
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
    let expected: Vec<String> = expected.iter().map(Status::to_string).collect();
    found.push(Violation::new(
        Kind::Status,
        format!(
            "{what}{why} with exit = {:?} and a shutdown clean: {clean:?} wants {}, got {}",
            context.policy,
            expected.join(" or "),
            seen.map_or_else(|| format!("{:?}", context.status), |s| s.to_string())
        ),
    ));
}

/// How clean the shutdown was: a cleanup left running or the deadline hit
/// is a failure; what only the runtime's own lines say is left open.
fn clean(record: &Record, context: &Context) -> Clean {
    if left_running(record).next().is_some() || context.stderr.contains("deadline of") {
        Clean::No
    } else if runtime_says_unclean(context.stderr) {
        Clean::Unsure
    } else {
        Clean::Yes
    }
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
        .min()
        .unwrap_or(usize::MAX);
    let mut before = record.triggers.iter().filter(|&&(line, _)| line < drained);
    match (before.next(), before.next()) {
        (Some(&only), None) => Some(only),
        _ => None,
    }
}

/// "from the first signal the process has exited within `timeout`" less its
/// margin: how far past that it was seen gone.
fn overrun(record: &Record, context: &Context) -> Option<i64> {
    let from = record.deadline_start()?;
    let gone = context.gone_us?;
    let deadline = from + context.effective().as_micros() as u64;
    Some(gone as i64 - deadline as i64)
}

// ---- reporting --------------------------------------------------------------------

struct Failure {
    seed: u64,
    plan: Plan,
    path: PathBuf,
    record: String,
    ended: Option<Ended>,
    violations: Vec<Violation>,
    /// How long the harness stood still during the trial.
    stalled: Duration,
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

/// Violations of one kind shown in a report; the rest are counted.
const VIOLATIONS_SHOWN: usize = 6;
/// Records longer than this are shown by their head and tail.
const RECORD_SHOWN: usize = 400;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "==== seed {} broke DESIGN.md ====", self.seed)?;
        let mut shown: BTreeMap<Kind, usize> = BTreeMap::new();
        for violation in &self.violations {
            let count = shown.entry(violation.kind).or_default();
            *count += 1;
            if *count <= VIOLATIONS_SHOWN {
                writeln!(f, "- {}: {}", violation.kind.describe(), violation.what)?;
            }
        }
        for (kind, count) in shown {
            if count > VIOLATIONS_SHOWN {
                writeln!(
                    f,
                    "- {}: … and {} more",
                    kind.describe(),
                    count - VIOLATIONS_SHOWN
                )?;
            }
        }
        writeln!(f, "--- plan ---\n{}", self.plan)?;
        writeln!(f, "--- record ({}) ---", self.path.display())?;
        let lines: Vec<&str> = self.record.lines().collect();
        for (number, line) in lines.iter().enumerate() {
            let head = number < RECORD_SHOWN / 2;
            let tail = number + RECORD_SHOWN / 2 >= lines.len();
            if head || tail {
                writeln!(f, "{:4} {line}", number + 1)?;
            } else if number == RECORD_SHOWN / 2 {
                writeln!(f, "     … ({} lines)", lines.len() - RECORD_SHOWN)?;
            }
        }
        match &self.ended {
            Some(ended) => write!(f, "{ended}")?,
            None => writeln!(f, "(the program's end was not seen)")?,
        }
        if !self.stalled.is_zero() {
            writeln!(
                f,
                "the harness stood still {:.1} ms during this trial",
                self.stalled.as_secs_f64() * 1000.0
            )?;
        }
        writeln!(
            f,
            "replay: CLEANUP_SEED={} cargo test --all-features --test random",
            self.seed
        )
    }
}

/// How many failing trials showed each kind of violation, and in what
/// circumstances (how many of those trials had each).
fn tally(failures: &[Failure]) -> String {
    let mut counts: BTreeMap<Kind, (usize, BTreeMap<&str, usize>)> = BTreeMap::new();
    for failure in failures {
        let mut kinds: Vec<Kind> = failure.violations.iter().map(|v| v.kind).collect();
        kinds.sort();
        kinds.dedup();
        for kind in kinds {
            let (count, circumstances) = counts.entry(kind).or_default();
            *count += 1;
            for circumstance in circumstances_of(&failure.plan) {
                *circumstances.entry(circumstance).or_default() += 1;
            }
        }
    }
    counts
        .iter()
        .map(|(kind, (count, circumstances))| {
            let circumstances: Vec<String> = circumstances
                .iter()
                .map(|(what, n)| format!("{what} {n}"))
                .collect();
            format!(
                "  {count:5}  {}\n         ({})\n",
                kind.describe(),
                circumstances.join(", ")
            )
        })
        .collect()
}

/// What in a plan may matter to a failure, for the tally.
fn circumstances_of(plan: &Plan) -> Vec<&'static str> {
    let mut what = Vec::new();
    if !plan.churn.is_empty() {
        what.push("churn");
    }
    if plan.hangs() {
        what.push("hangs");
    }
    if plan
        .bodies()
        .iter()
        .any(|(_, _, body)| !body.hang && body.slow_us > plan.timeout_ms * 500)
    {
        what.push("runs long");
    }
    if !plan.startup.is_empty() {
        what.push("start-up signal");
    }
    if plan.timeout_ms < 800 {
        what.push("timeout < 0.8s");
    }
    what.push(match plan.policy {
        Policy::Signal => "exit=signal",
        Policy::Code => "exit=code",
        Policy::Zero => "exit=zero",
    });
    what
}

// ---- the checker, on records written by hand ----------------------------------------

/// The kinds [`check`] finds in `record` for a program of `policy` that
/// ended with `status` and wrote `stderr`.
fn kinds_with(record: &str, status: Status, policy: Policy, stderr: &str) -> Vec<Kind> {
    let raw = match status {
        Status::Code(code) => code << 8,
        Status::Killed(sig) => sig,
    };
    let context = Context {
        status: ExitStatus::from_raw(raw),
        stderr,
        policy,
        timeout: Duration::from_secs(2),
        bodies: BTreeMap::new(),
        gone_us: None,
        killed_by_test: false,
        stalled: Duration::ZERO,
    };
    let found = check(record, &context).violations;
    let mut kinds: Vec<Kind> = found.iter().map(|v| v.kind).collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

fn kinds_found(record: &str, status: Status) -> Vec<Kind> {
    kinds_with(record, status, Policy::Signal, "")
}

/// `main` made f0, f1, g2 and g3 and returned; the drain ran them in order.
const ORDERLY: &str = "\
begin\nmake f0 t0\nmade f0 t0\nmake f1 t0\nmade f1 t0\nmake g2 t0\nmade g2 t0\n\
make g3 t1\nmade g3 t1\nroute ok 0 t0\n\
start g3 t0\nend g3\nstart g2 t0\nend g2\nstart f1 t0\nend f1\n\
start f0 t0\nreason Some(Return)\nend f0\n";

#[test]
fn the_checker_passes_an_orderly_end() {
    assert_eq!(kinds_found(ORDERLY, Status::Code(0)), []);
}

#[test]
fn the_checker_reads_the_times_of_the_lines() {
    let timed: String = ORDERLY
        .lines()
        .enumerate()
        .map(|(i, line)| format!("{} {line}\n", 1_000 + i))
        .collect();
    assert_eq!(kinds_found(&timed, Status::Code(0)), []);
    let record = Record::read(&timed);
    assert_eq!(record.time(2), Some(1_002));
    assert_eq!(record.first_trigger_time(), Some(1_009));
}

/// An end seen 3 s past the deadline is late, unless the harness itself
/// stood still that long while it waited (a paused machine), and then only
/// by what the stall does not cover.
#[test]
fn the_checker_allows_a_late_end_only_for_the_harness_own_stall() {
    let timed: String = ORDERLY
        .replace("route ok 0 t0\n", "route ok 0 t0\nleft main\n")
        .lines()
        .enumerate()
        .map(|(i, line)| format!("{} {line}\n", 1_000_000 + i as u64 * 10))
        .collect();
    let record = Record::read(&timed);
    let way_out = record.deadline_start().expect("main returned");
    let late = |stalled_ms: u64| {
        let context = Context {
            status: ExitStatus::from_raw(0),
            stderr: "",
            policy: Policy::Signal,
            timeout: Duration::from_secs(2),
            bodies: BTreeMap::new(),
            // 1.9 s (2 s less its margin) after the way out, and 3 s more.
            gone_us: Some(way_out + 1_900_000 + 3_000_000),
            killed_by_test: false,
            stalled: Duration::from_millis(stalled_ms),
        };
        check(&timed, &context)
            .violations
            .iter()
            .any(|v| v.kind == Kind::Deadline)
    };
    assert!(late(0));
    assert!(late(2_000));
    assert!(!late(3_000));
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
fn the_checker_wants_the_status_of_each_exit_policy() {
    let term = ORDERLY
        .replace("route ok 0 t0\n", "sent SIGTERM\n")
        .replace("Some(Return)", "Some(Signal(15))");
    let signal = |status| kinds_with(&term, status, Policy::Signal, "");
    assert_eq!(signal(Status::Killed(15)), []);
    assert_eq!(signal(Status::Code(143)), [Kind::Status]);
    let code = |status| kinds_with(&term, status, Policy::Code, "");
    assert_eq!(code(Status::Code(143)), []);
    assert_eq!(code(Status::Killed(15)), [Kind::Status]);
    let zero = |status, stderr| kinds_with(&term, status, Policy::Zero, stderr);
    assert_eq!(zero(Status::Code(0), ""), []);
    assert_eq!(zero(Status::Code(143), ""), [Kind::Status]);
    // The deadline was hit: never 0.
    let hit = "shutdown: deadline of 2s reached, 0 cleanups not run, exiting with code 143";
    assert_eq!(zero(Status::Code(143), hit), []);
    assert_eq!(zero(Status::Code(0), hit), [Kind::Status]);
    // Before `begin` a signal may meet the default action.
    let early = "sent SIGTERM\n";
    assert_eq!(kinds_with(early, Status::Killed(15), Policy::Zero, ""), []);
}

#[test]
fn the_checker_sees_a_cleanup_lost_or_cut_unless_a_second_sigint_came_first() {
    let lost = ORDERLY.replace("start g2 t0\nend g2\n", "");
    assert_eq!(kinds_found(&lost, Status::Code(0)), [Kind::NeverRan]);
    let cut = ORDERLY.replace("start g2 t0\nend g2\n", "start g2 t0\n");
    assert!(kinds_found(&cut, Status::Code(0)).contains(&Kind::HungNotNamed));
    // Forced: the rest may be missing, what ran must still be in order.
    let forced = "begin\nmake f0 t0\nmade f0 t0\nmake g1 t0\nmade g1 t0\n\
                  sent SIGINT\nsent SIGINT\nstart g1 t0\n";
    assert_eq!(kinds_found(forced, Status::Killed(SIGINT)), []);
    // The second SIGINT came after the end: nothing was forced.
    let late = lost.replace("route ok 0 t0\n", "route ok 0 t0\nsent SIGINT\n") + "sent SIGINT\n";
    assert_eq!(kinds_found(&late, Status::Killed(SIGINT)), [Kind::NeverRan]);
    // Made during the shutdown, never run.
    let made_late = ORDERLY.replace("end f1\n", "end f1\nmake f9 t1\nmade f9 t1\n");
    assert_eq!(kinds_found(&made_late, Status::Code(0)), [Kind::LateLost]);
    // …unless the time ran out for it, and the runtime said so.
    let hit = "shutdown: deadline of 2s reached, 1 cleanup not run, exiting with code 0";
    assert_eq!(
        kinds_with(&made_late, Status::Code(0), Policy::Signal, hit),
        []
    );
    let kept = "shutdown: 1 cleanup made during the shutdown not started: the time left is \
                for those made before it";
    assert_eq!(
        kinds_with(&made_late, Status::Code(0), Policy::Signal, kept),
        []
    );
}

#[test]
fn the_checker_wants_a_hung_cleanup_named_and_lets_it_be_overtaken() {
    // g2 hangs at site 300; f1 starts on a fresh executor.
    let hung = ORDERLY
        .replace("made g2 t0\n", "made g2 t0 300\n")
        .replace("start g2 t0\nend g2\n", "start g2 t0\n")
        .replace("start f1 t0", "start f1 x2");
    let named = "shutdown: guard created at tests/fixtures/random_body.rs:300:21 hung, \
                 abandoned after 1.4s";
    assert_eq!(
        kinds_with(&hung, Status::Code(0), Policy::Signal, named),
        []
    );
    assert_eq!(
        kinds_found(&hung, Status::Code(0)),
        [
            Kind::HungNotNamed,
            Kind::FinalizerDuringGuard,
            Kind::TwoDrainers
        ]
    );
    let other = named.replace(":300:", ":301:");
    assert!(
        kinds_with(&hung, Status::Code(0), Policy::Signal, &other).contains(&Kind::HungNotNamed)
    );
}

/// `record` with a time on each line: 1 s on, 10 µs apart.
fn timed_10us(record: &str) -> String {
    record
        .lines()
        .enumerate()
        .map(|(i, line)| format!("{} {line}\n", 1_000_000 + i as u64 * 10))
        .collect()
}

/// Whether the checker finds a cleanup cut short in `record`, under a 2 s
/// timeout, with `stderr`, `g2` being made as `g2`.
fn cut_short(record: &str, stderr: &str, g2: Body) -> bool {
    let mut context = Context {
        status: ExitStatus::from_raw(0),
        stderr,
        policy: Policy::Signal,
        timeout: Duration::from_secs(2),
        bodies: BTreeMap::new(),
        gone_us: None,
        killed_by_test: false,
        stalled: Duration::ZERO,
    };
    let tag = Tag {
        finalizer: false,
        id: 2,
    };
    context.bodies.insert(tag, g2);
    check(record, &context)
        .violations
        .iter()
        .any(|v| v.kind == Kind::CutShort)
}

/// Seed 4287044491856 (CI, 2026-12-06): a guard made once the registry had
/// closed (its `made` line never came, so its site is unknown) was run by
/// the drain and finished in 36 ms; another guard hung and was abandoned
/// 386 ms in. The abandoned line is not the finished guard's.
#[test]
fn the_checker_does_not_take_a_finished_cleanup_for_one_abandoned_later() {
    let stderr = "shutdown: guard created at tests/fixtures/random_body.rs:0:0 hung, \
                  abandoned after 386ms (it was already running when the shutdown began)";
    let g2 = Body {
        slow_us: 10,
        site: Some(1),
        ..Body::PLAIN
    };
    assert!(!cut_short(&timed_10us(ORDERLY), stderr, g2));
}

#[test]
fn the_checker_sees_a_slow_cleanup_cut_short_when_it_fitted() {
    let cut = timed_10us(&ORDERLY.replace("start g2 t0\nend g2\n", "start g2 t0\n"));
    let stderr = "shutdown: guard created at tests/fixtures/random_body.rs:0:0 hung, \
                  abandoned after 1ms";
    let slow = |us| Body {
        slow_us: us,
        ..Body::PLAIN
    };
    // 10 ms of work, started right after the route: it fitted.
    assert!(cut_short(&cut, stderr, slow(10_000)));
    // 3 s of work under a 2 s timeout: it did not.
    assert!(!cut_short(&cut, stderr, slow(3_000_000)));
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
    let churn = ORDERLY.replace("end f1\n", "end f1\nbad g100000003 dropped 0 0\n");
    assert_eq!(
        kinds_found(&churn, Status::Code(0)),
        [Kind::DropReturnedEarly]
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
fn the_checker_sees_two_drainers_but_not_a_cleanup_inside_another() {
    let two = ORDERLY.replace(
        "start g3 t0\nend g3\nstart g2 t0\nend g2\n",
        "start g3 t0\nstart g2 x1\nend g3\nend g2\n",
    );
    assert!(kinds_found(&two, Status::Code(0)).contains(&Kind::TwoDrainers));
    // g4, made and dropped inside g3, runs inside it, on its thread.
    let nested = ORDERLY.replace(
        "start g3 t0\nend g3\n",
        "start g3 t0\nmake g4 t0\nmade g4 t0\ndrop g4\nstart g4 t0\nend g4\ndropped g4\nend g3\n",
    );
    assert_eq!(kinds_found(&nested, Status::Code(0)), []);
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
