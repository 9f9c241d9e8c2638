//! Exactly once under races (issue 8, "What breaks today"): one
//! deterministic real-process test per item, in the item's order.
//!
//! The fixture is `tests/fixtures/races.rs`; each scenario forces its
//! interleaving from inside (channels between a cleanup and a thread, a gate
//! file the test creates, readiness lines), so a run never depends on luck.
//! A signal during the installation of the handlers (item 1) is forced by
//! the fixture's own `sigaction`, which holds the installation open, and
//! also swept over a plain start-up; which of `main`'s return and a
//! worker's exit reaches the end first (item 10) is up to the runtime, so
//! that race is run many times. What the cleanups print is read from a
//! record file the fixture appends to (`O_APPEND`, one `write(2)` a line),
//! which survives any death.

mod common;

use std::any::Any;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    fixture_line, Ended, Running, Spawn, MARGIN, SIGABRT, SIGINT, SIGKILL, SIGTERM, TIMEOUT_SECS,
};

const FIXTURE: &str = "races";

fn scenario(name: &str) -> Spawn {
    Spawn::fixture(FIXTURE).arg(name)
}

/// The deadline given with `CLEANUP_TIMEOUT`, plus a generous margin.
fn deadline_and_margin() -> Duration {
    Duration::from_secs(TIMEOUT_SECS) + MARGIN
}

// ---- helpers ---------------------------------------------------------------

/// A path of our own under the temporary directory, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(what: &str) -> TempPath {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("cleanup-races-{}-{what}-{n}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn as_env(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary path")
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The record file a fixture appends its cleanup lines to.
struct Record(TempPath);

impl Record {
    fn new(test: &str) -> Record {
        Record(TempPath::new(&format!("{test}.log")))
    }

    /// `spawn`, writing its record here.
    fn to(&self, spawn: Spawn) -> Spawn {
        spawn.env("RACES_RECORD", self.0.as_env())
    }

    fn lines(&self) -> Vec<String> {
        match std::fs::read_to_string(self.0.path()) {
            Ok(text) => text.lines().map(str::to_owned).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Waits for `running` to end; how, with what the record holds.
    #[track_caller]
    fn finish(self, running: Running) -> Run {
        let ended = running.finish();
        Run {
            record: self.lines(),
            ended,
        }
    }
}

/// How a run ended, and what its cleanups recorded.
struct Run {
    ended: Ended,
    record: Vec<String>,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}--- record ---", self.ended)?;
        for line in &self.record {
            write!(f, "\n{line}")?;
        }
        write!(f, "\n---")
    }
}

impl Run {
    fn count(&self, line: &str) -> usize {
        self.record.iter().filter(|seen| *seen == line).count()
    }

    fn position(&self, line: &str) -> Option<usize> {
        self.record.iter().position(|seen| seen == line)
    }

    /// Each of these lines recorded exactly once.
    #[track_caller]
    fn assert_once(&self, lines: &[&str]) -> &Self {
        for line in lines {
            assert_eq!(
                self.count(line),
                1,
                "expected `{line}` exactly once in the record\n{self}"
            );
        }
        self
    }

    /// Exactly once each, in this order (others may come between).
    #[track_caller]
    fn assert_once_in_order(&self, lines: &[&str]) -> &Self {
        self.assert_once(lines);
        let positions: Vec<usize> = lines
            .iter()
            .filter_map(|line| self.position(line))
            .collect();
        assert!(
            positions.windows(2).all(|pair| pair[0] < pair[1]),
            "expected this order in the record: {lines:?}\n{self}"
        );
        self
    }

    #[track_caller]
    fn assert_absent(&self, lines: &[&str]) -> &Self {
        for line in lines {
            assert_eq!(
                self.count(line),
                0,
                "expected no `{line}` in the record\n{self}"
            );
        }
        self
    }

    /// The lines starting with `prefix`.
    fn starting(&self, prefix: &str) -> Vec<&str> {
        self.record
            .iter()
            .filter(|line| line.starts_with(prefix))
            .map(String::as_str)
            .collect()
    }
}

/// Runs each case on its own thread, all at once; fails with every case
/// that failed, by name.
fn in_parallel<'a>(cases: Vec<(String, Box<dyn FnOnce() + Send + 'a>)>) {
    let total = cases.len();
    let failures: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = cases
            .into_iter()
            .map(|(name, case)| (name, scope.spawn(case)))
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, handle)| {
                let payload = handle.join().err()?;
                Some(format!("[{name}] {}", panic_message(payload.as_ref())))
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)")
}

/// The number after `prefix` in a line such as `child:pid:1234`.
#[track_caller]
fn number_after(line: &str, prefix: &str) -> libc::pid_t {
    line.strip_prefix(prefix)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("expected `{prefix}<number>`, got `{line}`"))
}

/// Sends `sig` to the whole process group `running` leads (it was started
/// with `own_process_group`, and is not reaped yet, so the group is ours).
#[track_caller]
fn signal_group(running: &Running, sig: libc::c_int) {
    let pgid = running.pid();
    assert!(pgid > 1, "refusing to signal process group {pgid}");
    // SAFETY: kill(2) has no memory-safety preconditions; the group is the
    // one our own unreaped child leads.
    let result = unsafe { libc::kill(-pgid, sig) };
    assert_eq!(
        result,
        0,
        "kill(-{pgid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

// ---- 1. a signal during start-up -------------------------------------------

/// Where a SIGTERM sent `offset` after the spawn landed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Landed {
    /// Before the handlers: the default action killed the process.
    Before,
    /// After: the runtime said so and shut down.
    After,
}

/// Spawns `startup`, sends SIGTERM `offset` after the spawn returned (a busy
/// wait, for microsecond offsets), and checks it dies by SIGTERM.
#[track_caller]
fn sigterm_at(offset: Duration) -> Landed {
    let mut running = scenario("startup").start();
    let spawned = Instant::now();
    while spawned.elapsed() < offset {
        std::hint::spin_loop();
    }
    running.signal(SIGTERM);
    if !running.ends_within(Duration::from_secs(10)) {
        // Lost: take it down to see what it printed.
        running.signal(SIGKILL);
        panic!(
            "SIGTERM sent {offset:?} after the spawn was lost: still running 10 s later\n{}",
            running.finish()
        );
    }
    let ended = running.finish();
    ended.assert_killed_by(SIGTERM);
    // Steers the sweep only; never a verdict.
    if ended.stderr.contains("SIGTERM") {
        Landed::After
    } else {
        Landed::Before
    }
}

#[test]
fn a_sigterm_during_start_up_is_never_lost() {
    // Forced: the fixture holds the installation of the SIGTERM handler
    // open (its `sigaction` waits for the gate file once the handler is in
    // place) while the signal comes.
    let gate = TempPath::new("install.gate");
    let mut running = scenario("startup")
        .env("RACES_INSTALL_GATE", gate.as_env())
        .start();
    running.wait_stdout("installing:SIGTERM");
    running.signal(SIGTERM);
    std::fs::write(gate.path(), b"go").expect("creating the gate file");
    if !running.ends_within(Duration::from_secs(10)) {
        running.signal(SIGKILL);
        panic!(
            "SIGTERM sent while its handler was being installed was lost: \
             still running 10 s later\n{}",
            running.finish()
        );
    }
    running.finish().assert_killed_by(SIGTERM);
    // Swept: the signal at every moment of a plain start-up.
    const BUDGET: Duration = Duration::from_secs(20);
    const COARSE: u32 = 40;
    const FINE: u32 = 200;
    let began = Instant::now();
    // How long from the spawn to `ready` (the handlers are installed before).
    let mut to_ready: Vec<Duration> = (0..5)
        .map(|_| {
            let mut running = scenario("startup").start();
            let spawned = Instant::now();
            running.wait_stdout("ready");
            let took = spawned.elapsed();
            running.signal(SIGTERM);
            running.finish().assert_killed_by(SIGTERM);
            took
        })
        .collect();
    to_ready.sort();
    let ready = to_ready[to_ready.len() / 2];
    // Coarse: from the spawn to well past `ready`, to find where the
    // handlers come in.
    let span = ready * 3 / 2;
    let mut landed = Vec::new();
    for i in 0..COARSE {
        let offset = span * i / COARSE;
        landed.push((offset, sigterm_at(offset)));
    }
    let last_before = landed
        .iter()
        .filter(|(_, at)| *at == Landed::Before)
        .map(|&(offset, _)| offset)
        .max()
        .unwrap_or(Duration::ZERO);
    let first_after = landed
        .iter()
        .filter(|(_, at)| *at == Landed::After)
        .map(|&(offset, _)| offset)
        .min()
        .unwrap_or(span);
    // Fine: densely around the installation, where a signal can be lost.
    let slack = Duration::from_micros(100);
    let from = last_before.min(first_after).saturating_sub(slack);
    let to = last_before.max(first_after) + slack;
    let mut fine = 0;
    while fine < FINE && began.elapsed() < BUDGET {
        let offset = from + (to - from) * fine / FINE;
        landed.push((offset, sigterm_at(offset)));
        fine += 1;
    }
    let before = landed
        .iter()
        .filter(|(_, at)| *at == Landed::Before)
        .count();
    eprintln!(
        "start-up sweep: `ready` {ready:?} after the spawn; {} spawns, each sent SIGTERM \
         {COARSE} at 0..{span:?}, then {fine} at {from:?}..{to:?}; \
         {before} died by the default action, {} by a shutdown, none lost; {:?} in all",
        landed.len(),
        landed.len() - before,
        began.elapsed()
    );
    assert!(
        fine >= FINE / 4,
        "only {fine} fine-grained spawns fit in {BUDGET:?}: the sweep proves little"
    );
}

// ---- 2. a guard running on its own thread when the end comes ----------------

#[test]
fn a_guard_running_on_its_own_thread_is_waited_for_before_the_process_leaves() {
    let record = Record::new("thread-guard");
    let mut running = record
        .to(scenario("thread-guard"))
        .short_timeout()
        .start_ready();
    running.signal(SIGTERM);
    let run = record.finish(running);
    run.ended
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin());
    run.assert_once_in_order(&["guard:thread:start", "guard:thread:end"])
        .assert_once(&["finalizer:a"]);
}

// ---- 3. made after the drain took the lists ----------------------------------

#[test]
fn guards_and_finalizers_made_after_the_drain_took_the_lists_still_run() {
    let record = Record::new("late");
    let running = record.to(scenario("late")).short_timeout().start_ready();
    let run = record.finish(running);
    run.ended.assert_code(0);
    run.assert_once_in_order(&[
        "guard:first:start",
        "guard:late:made",
        "guard:first:end",
        "finalizer:a",
    ])
    // By a thread that then blocks forever holding it.
    .assert_once_in_order(&["guard:late:made", "guard:late"])
    // From inside a running guard, and from inside a running finalizer.
    .assert_once_in_order(&["guard:first:start", "finalizer:from-guard"])
    .assert_once_in_order(&["finalizer:a", "finalizer:from-finalizer"]);
}

// ---- 4. disarm/cancel after the drain began --------------------------------

#[test]
fn disarm_and_cancel_after_the_drain_took_the_cleanup_keep_it_from_ever_starting() {
    let record = Record::new("disarm-late");
    let running = record
        .to(scenario("disarm-late"))
        .short_timeout()
        .start_ready();
    let run = record.finish(running);
    run.ended.assert_code(0);
    // The scenario went as planned: each call returned during the drain.
    run.assert_once_in_order(&[
        "guard:disarmer:start",
        "disarmed:guard",
        "disarmed:thread",
        "cancelled:thread",
        "guard:disarmer:end",
        "guard:a",
        "finalizer:canceller",
        "cancelled:finalizer",
        "finalizer:a",
    ]);
    let bugs = run.starting("BUG");
    assert!(
        bugs.is_empty(),
        "closures ran after their disarm()/cancel() had returned: {bugs:?}\n{run}"
    );
}

// ---- 5. std::process::exit on another thread during the shutdown ------------

#[test]
fn std_process_exit_on_another_thread_waits_for_the_running_shutdown_whose_status_stands() {
    let case = |route: &'static str| {
        move || {
            let record = Record::new(&format!("exit-during-drain-{route}"));
            let mut running = record
                .to(scenario("exit-during-drain").arg(route))
                .short_timeout()
                .start_ready();
            if route == "term" {
                running.signal(SIGTERM);
            }
            let run = record.finish(running);
            match route {
                "term" => run.ended.assert_killed_by(SIGTERM),
                _ => run.ended.assert_code(0),
            };
            run.assert_once(&["thread:exit"]).assert_once_in_order(&[
                "finalizer:slow:start",
                "finalizer:slow:end",
                "finalizer:a",
            ]);
        }
    };
    in_parallel(
        ["term", "return"]
            .into_iter()
            .map(|route| {
                (
                    route.to_owned(),
                    Box::new(case(route)) as Box<dyn FnOnce() + Send>,
                )
            })
            .collect(),
    );
}

// ---- 6. one SIGINT during the cleanups -------------------------------------

/// The ways into the cleanups, and the status each must leave with.
const ROUTES: [(&str, Status); 5] = [
    ("return", Status::Code(0)),
    ("error", Status::Code(1)),
    ("panic", Status::Code(101)),
    ("exit", Status::Code(7)),
    ("term", Status::Killed(SIGTERM)),
];

#[derive(Clone, Copy, Debug)]
enum Status {
    Code(i32),
    Killed(libc::c_int),
}

impl Status {
    #[track_caller]
    fn assert(self, ended: &Ended) {
        match self {
            Status::Code(code) => ended.assert_code(code),
            Status::Killed(sig) => ended.assert_killed_by(sig),
        };
    }
}

/// Starts `sigint-during <route>` and waits until its slow finalizer runs
/// (after SIGTERM for `term`), then sends one SIGINT and waits for the
/// runtime to say it saw it.
fn one_sigint_during_the_cleanups(route: &str, record: &Record, gate: &TempPath) -> Running {
    let mut running = record
        .to(scenario("sigint-during").arg(route))
        .env("RACES_GATE", gate.as_env())
        .env("CLEANUP_TIMEOUT", "30s")
        .start_ready();
    if route == "term" {
        running.signal(SIGTERM);
    }
    running.wait_stdout("finalizer:slow:start");
    running.signal(SIGINT);
    // Without `; press Ctrl-C again to force` unless in a terminal's
    // foreground group (tests/terminal.rs).
    running.wait_stderr("SIGINT received while shutting down");
    running
}

#[test]
fn a_single_sigint_during_the_cleanups_of_any_route_never_forces_and_a_second_one_does() {
    let mut cases: Vec<(String, Box<dyn FnOnce() + Send>)> = Vec::new();
    for (route, status) in ROUTES {
        cases.push((
            format!("{route}, one SIGINT"),
            Box::new(move || {
                let record = Record::new(&format!("sigint-once-{route}"));
                let gate = TempPath::new(&format!("sigint-once-{route}.gate"));
                let running = one_sigint_during_the_cleanups(route, &record, &gate);
                // Lets the slow finalizer finish.
                std::fs::write(gate.path(), b"go").expect("creating the gate file");
                let run = record.finish(running);
                status.assert(&run.ended);
                run.assert_once_in_order(&[
                    "finalizer:slow:start",
                    "finalizer:slow:end",
                    "finalizer:a",
                ]);
            }),
        ));
        cases.push((
            format!("{route}, two SIGINTs"),
            Box::new(move || {
                let record = Record::new(&format!("sigint-twice-{route}"));
                let gate = TempPath::new(&format!("sigint-twice-{route}.gate"));
                let mut running = one_sigint_during_the_cleanups(route, &record, &gate);
                running.signal(SIGINT);
                // The gate never opens: only the force ends it this soon.
                let forced = running.ends_within(Duration::from_secs(5));
                let run = record.finish(running);
                assert!(forced, "a second SIGINT did not end it within 5 s\n{run}");
                run.ended.assert_killed_by(SIGINT);
                run.assert_absent(&["finalizer:slow:end", "finalizer:a"]);
            }),
        ));
    }
    in_parallel(cases);
}

// ---- 7. exit inside a cleanup ----------------------------------------------

#[test]
fn exit_inside_a_cleanup_sets_the_code_and_the_remaining_cleanups_still_run() {
    let case = |how: &'static str, code: i32| {
        move || {
            let record = Record::new(&format!("exit-in-cleanup-{how}"));
            let running = record
                .to(scenario("exit-in-cleanup").arg(how))
                .short_timeout()
                .start_ready();
            let run = record.finish(running);
            run.ended.assert_code(code);
            run.assert_once_in_order(&["guard:a", "finalizer:b", "finalizer:exit", "finalizer:a"]);
        }
    };
    in_parallel(vec![
        (
            "cleanup::exit(5)".to_owned(),
            Box::new(case("cleanup", 5)) as Box<dyn FnOnce() + Send>,
        ),
        (
            "std::process::exit(6)".to_owned(),
            Box::new(case("process", 6)),
        ),
    ]);
}

// ---- 8. a guard that panics while its thread unwinds ------------------------

/// `guard created at tests/fixtures/races.rs:LINE:COL`, the guard made on
/// the line marked `marker`.
fn guard_made_at(marker: &str) -> String {
    let line = fixture_line("races.rs", marker);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/races.rs");
    let source = std::fs::read_to_string(path).expect("the fixture's source");
    let text = source.lines().nth(line - 1).expect("the marked line");
    let column = text
        .find("cleanup::guard(")
        .unwrap_or_else(|| panic!("no `cleanup::guard(` on line {line}: {text}"))
        + 1;
    format!("guard created at tests/fixtures/races.rs:{line}:{column}")
}

#[test]
fn a_guard_that_panics_while_main_unwinds_is_contained_and_named_and_the_rest_run() {
    let record = Record::new("panic-in-guard");
    let running = record
        .to(scenario("panic-in-guard-while-unwinding"))
        .short_timeout()
        .start_ready();
    let run = record.finish(running);
    assert_ne!(
        std::os::unix::process::ExitStatusExt::signal(&run.ended.status),
        Some(SIGABRT),
        "a double panic aborted the process\n{run}"
    );
    run.ended
        .assert_code(101)
        .assert_stderr_contains("boom in main")
        .assert_stderr_line(&["panicked", &guard_made_at("at: panicking-guard")]);
    run.assert_once_in_order(&["guard:a", "finalizer:a"]);
}

// ---- 9. fork without exec --------------------------------------------------

#[test]
fn a_forked_child_runs_none_of_its_parents_cleanups_and_a_stuck_one_still_ends_on_sigterm() {
    let case = |how: &'static str| {
        move || {
            let record = Record::new(&format!("fork-{how}"));
            let mut running = record.to(scenario("fork").arg(how)).short_timeout().start();
            let parent = running.pid();
            let line = running.wait_stdout_starting("child:pid:");
            let child = number_after(&line, "child:pid:");
            let signalled = matches!(how, "term" | "stuck").then(|| {
                // Our grandchild, not reaped before its parent prints
                // `child:status:`.
                running.signal_pid(child, SIGTERM);
                Instant::now()
            });
            let status = running.wait_stdout_starting("child:status:");
            let took = signalled.map(|at| at.elapsed());
            let run = record.finish(running);
            run.ended.assert_code(0);
            let expected = match how {
                "return" => "child:status:exited with code 0",
                "exit" => "child:status:exited with code 4",
                _ => "child:status:killed by SIGTERM",
            };
            assert_eq!(status, expected, "how the forked child ended\n{run}");
            if let Some(took) = took {
                assert!(
                    took < deadline_and_margin(),
                    "the child took {took:?} to end after SIGTERM\n{run}"
                );
            }
            // The parent's cleanups ran once, in the parent.
            for name in ["guard:parent:", "finalizer:parent:"] {
                assert_eq!(
                    run.starting(name),
                    [format!("{name}{parent}")],
                    "`{name}…` must come from the parent ({parent}) alone, once; \
                     the child is {child}\n{run}"
                );
            }
            // The child's own guard ran, in the child, once it could.
            if how != "stuck" {
                run.assert_once(&[&format!("guard:child:{child}")]);
            }
        }
    };
    in_parallel(
        ["return", "exit", "term", "stuck"]
            .into_iter()
            .map(|how| {
                (
                    format!("child {how}"),
                    Box::new(case(how)) as Box<dyn FnOnce() + Send>,
                )
            })
            .collect(),
    );
}

// ---- 10. a worker's exit code against main's return --------------------------

#[test]
fn a_workers_exit_code_wins_over_mains_return_on_the_token() {
    // One after another: with many at once on a loaded machine, `main` is
    // rarely scheduled soon enough to race the worker at all.
    const RUNS: usize = 20;
    let mut runs = 0;
    let mut wrong = Vec::new();
    for n in 0..RUNS {
        for (how, code) in [("cleanup", 5), ("process", 6)] {
            let record = Record::new(&format!("worker-exit-{how}-{n}"));
            let running = record
                .to(scenario("worker-exit").arg(how))
                .short_timeout()
                .start();
            let run = record.finish(running);
            runs += 1;
            if run.ended.status.code() != Some(code) || run.count("finalizer:a") != 1 {
                wrong.push(format!("worker-exit {how}: expected code {code}\n{run}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {runs} runs ended with another code, or without their finalizer; \
         the first:\n{}",
        wrong.len(),
        wrong[0]
    );
}

// ---- 11. guards, then finalizers: a barrier ---------------------------------

#[test]
fn no_finalizer_starts_while_a_guard_still_runs_on_its_own_thread() {
    let record = Record::new("guard-barrier");
    let running = record
        .to(scenario("guard-barrier"))
        .short_timeout()
        .start_ready();
    let run = record.finish(running);
    run.ended.assert_code(0);
    run.assert_once_in_order(&["guard:thread:start", "guard:thread:end", "finalizer:a"]);
}

// ---- 12. the deadline runs from the signal -----------------------------------

#[test]
fn the_deadline_runs_from_the_signal_even_when_the_first_guard_comes_late() {
    // The program makes its first guard (one that hangs) 2.5 s after SIGTERM,
    // inside main's share of a 4 s budget, and gets stuck: it must be gone
    // 4 s after the signal, not 4 s after the guard (6.5 s).
    const LATE_TIMEOUT: &str = "4s";
    let record = Record::new("late-first-guard");
    let mut running = record
        .to(scenario("late-first-guard"))
        .env("CLEANUP_TIMEOUT", LATE_TIMEOUT)
        .start_ready();
    running.signal(SIGTERM);
    let run = record.finish(running);
    eprintln!(
        "ended {:?} after SIGTERM (timeout {LATE_TIMEOUT})",
        run.ended.after_signal
    );
    run.ended
        .assert_killed_by(SIGTERM)
        .assert_ended_within(Duration::from_millis(5200));
    // As planned: the first guard came 2.5 s after the signal, and the
    // drain ran it (it hangs, so the hard deadline ended the process).
    run.assert_once(&["guard:made", "guard:late:start"]);
}

// ---- 13. unflushed output at the hard deadline ------------------------------

#[test]
fn unflushed_print_output_is_not_lost_at_the_hard_deadline() {
    let case = |variant: &'static str| {
        move || {
            let record = Record::new(&format!("unflushed-{variant}"));
            let mut running = record
                .to(scenario("unflushed").arg(variant))
                .short_timeout()
                .start_ready();
            running.signal(SIGTERM);
            let run = record.finish(running);
            // Main never returns and, with `guarded`, the guard hangs: only
            // the hard deadline can end it.
            run.ended
                .assert_killed_by(SIGTERM)
                .assert_ended_within(deadline_and_margin());
            if variant == "guarded" {
                run.assert_once(&["guard:hang:start"]);
            }
            let partial = format!("partial:{variant}");
            assert!(
                run.ended.stdout.iter().any(|line| line.contains(&partial)),
                "`{partial}` (printed with `print!`, no newline) is lost\n{run}"
            );
        }
    };
    in_parallel(vec![
        (
            "a guard registered".to_owned(),
            Box::new(case("guarded")) as Box<dyn FnOnce() + Send>,
        ),
        ("nothing registered".to_owned(), Box::new(case("bare"))),
    ]);
}

// ---- 14. SIGINT to the whole group, a graceful child in it --------------------

#[test]
fn a_same_group_child_is_forwarded_sigterm_not_a_second_sigint_and_its_cleanups_run() {
    const RUNS: usize = 10;
    let case = |n: usize| {
        move || {
            let record = Record::new(&format!("group-{n}"));
            let mut running = record
                .to(scenario("group-parent"))
                .env("CLEANUP_TIMEOUT", "10s")
                .own_process_group()
                .start();
            // Both have their handlers: the child said so, then the parent.
            running.wait_stdout("child:ready");
            running.wait_stdout("ready");
            // As `kill -INT -PGID` or `timeout -s INT` would.
            signal_group(&running, SIGINT);
            let run = record.finish(running);
            run.ended.assert_killed_by(SIGINT);
            run.assert_once_in_order(&[
                "child:guard:start",
                "child:guard:end",
                // The group's SIGINT, then the forwarded SIGTERM.
                "child:signals:SIGINT=1,SIGTERM=1",
                "child:finalizer",
            ]);
            let status = run.starting("child:status:");
            assert!(
                matches!(
                    status[..],
                    ["child:status:killed by SIGINT"] | ["child:status:killed by SIGTERM"]
                ),
                "expected the child to die by its signal after its cleanups\n{run}"
            );
        }
    };
    in_parallel(
        (0..RUNS)
            .map(|n| {
                (
                    format!("run {n}"),
                    Box::new(case(n)) as Box<dyn FnOnce() + Send>,
                )
            })
            .collect(),
    );
}
