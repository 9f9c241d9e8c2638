//! The exit-path table of DESIGN.md, row by row, with real processes and real
//! signals: what ran (stack values, guards, finalizers — each exactly once,
//! in order) and how the process ended (code, or death by which signal).
//!
//! The fixture is `tests/fixtures/exit_paths.rs`. It makes, in this order, a
//! stack value `main`, guard `a`, finalizer `a`, an optional cleanup in the
//! middle, guard `b`, finalizer `b`. So a full, orderly end prints:
//! `guard:b`, `guard:a`, `stack:main` (dropped after the guards made after
//! it), `finalizer:b`, `finalizer:a`.

mod common;

use std::time::Duration;

use common::{
    fixture_line, Profile, Spawn, MARGIN, SIGABRT, SIGHUP, SIGINT, SIGTERM, TIMEOUT, TIMEOUT_SECS,
};

const FIXTURE: &str = "exit_paths";

/// What an orderly end prints: main's frame unwinds (guards, then the stack
/// value made before them), then the finalizers, newest first.
const EVERYTHING: [&str; 5] = [
    "guard:b",
    "guard:a",
    "stack:main",
    "finalizer:b",
    "finalizer:a",
];

/// What runs when `main`'s frame is never unwound.
const CLEANUPS: [&str; 4] = ["guard:b", "guard:a", "finalizer:b", "finalizer:a"];

fn scenario(name: &str) -> Spawn {
    Spawn::fixture(FIXTURE).arg(name)
}

/// The deadline given with `CLEANUP_TIMEOUT`, plus a generous margin.
fn deadline_and_margin() -> Duration {
    Duration::from_secs(TIMEOUT_SECS) + MARGIN
}

/// `tests/fixtures/exit_paths.rs:<line>:`, how the log names a cleanup made
/// on the line marked `marker`.
fn made_at(marker: &str) -> String {
    format!(
        "tests/fixtures/exit_paths.rs:{}:",
        fixture_line("exit_paths.rs", marker)
    )
}

// ---- main returns ----------------------------------------------------------

#[test]
fn main_returning_ok_runs_every_cleanup_once_in_order_and_exits_0() {
    scenario("ok")
        .run()
        .assert_code(0)
        .assert_once_in_order(&EVERYTHING)
        // Nothing to report when nothing went wrong and no signal came.
        .assert_stderr_lacks("shutdown:");
}

#[test]
fn main_returning_unit_runs_every_cleanup_once_in_order_and_exits_0() {
    Spawn::fixture("return_unit")
        .run()
        .assert_code(0)
        .assert_once_in_order(&EVERYTHING);
}

#[test]
fn main_returning_exit_code_3_runs_every_cleanup_once_in_order_and_exits_3() {
    Spawn::fixture("return_exit_code")
        .run()
        .assert_code(3)
        .assert_once_in_order(&EVERYTHING);
}

#[test]
fn main_returning_err_prints_it_as_std_does_runs_every_cleanup_and_exits_1() {
    scenario("err")
        .run()
        .assert_code(1)
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_contains("Error: DiskFull { path: \"/var/data\" }");
}

// ---- panics ----------------------------------------------------------------

#[test]
fn a_panic_that_unwinds_runs_every_cleanup_once_in_order_and_exits_101() {
    scenario("panic")
        .run()
        .assert_code(101)
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_contains("boom in main");
}

#[test]
fn a_panic_with_panic_abort_runs_guards_and_finalizers_then_dies_by_sigabrt() {
    // `cargo build --profile abort --example fixture_exit_paths`, from here.
    let ended = Spawn::fixture_with(FIXTURE, Profile::Abort)
        .arg("panic")
        .run();
    ended
        .assert_killed_by(SIGABRT)
        .assert_once_in_order(&CLEANUPS)
        .assert_stderr_contains("boom in main")
        // An abort unwinds nothing.
        .assert_absent(&["stack:main"]);
}

// ---- exit calls ------------------------------------------------------------

#[test]
fn cleanup_exit_on_mains_thread_unwinds_main_runs_every_cleanup_and_exits_with_its_code() {
    scenario("cleanup-exit")
        .run()
        .assert_code(7)
        .assert_once_in_order(&EVERYTHING);
}

#[test]
fn cleanup_exit_on_another_thread_runs_every_cleanup_and_exits_with_its_code() {
    scenario("cleanup-exit-thread")
        .run()
        .assert_code(7)
        .assert_once_in_order(&CLEANUPS)
        // `main`'s thread is blocked in `join`: its frame is not unwound.
        .assert_absent(&["stack:main", "BUG: main's thread came back from join"]);
}

#[test]
fn std_process_exit_on_mains_thread_runs_guards_and_finalizers_but_drops_no_stack_value() {
    scenario("process-exit")
        .run()
        .assert_code(9)
        .assert_once_in_order(&CLEANUPS)
        .assert_absent(&["stack:main"]);
}

#[test]
fn std_process_exit_on_another_thread_runs_guards_and_finalizers_but_drops_no_stack_value() {
    scenario("process-exit-thread")
        .run()
        .assert_code(9)
        .assert_once_in_order(&CLEANUPS)
        .assert_absent(&["stack:main", "BUG: main's thread came back from join"]);
}

// ---- a handled signal, and main notices --------------------------------------

/// Starts `name`, waits for `ready`, sends `sig`, checks the orderly end.
fn noticed(name: &str, sig: libc::c_int) -> common::Ended {
    let mut running = scenario(name).start_ready();
    running.signal(sig);
    let ended = running.finish();
    ended
        .assert_killed_by(sig)
        .assert_once_in_order(&EVERYTHING);
    ended
}

#[test]
fn sigterm_noticed_by_sleep_unwinds_main_runs_every_cleanup_and_dies_by_sigterm() {
    noticed("sleep", SIGTERM);
}

#[test]
fn sigterm_noticed_by_checkpoint_in_a_busy_loop_unwinds_main_and_dies_by_sigterm() {
    noticed("checkpoint", SIGTERM);
}

#[test]
fn sigterm_wakes_a_thread_waiting_on_the_token_and_main_returns_and_dies_by_sigterm() {
    let ended = noticed("token", SIGTERM);
    ended.assert_once_in_order(&["worker:woke", "guard:b"]);
}

#[test]
fn sigint_noticed_by_sleep_runs_every_cleanup_and_dies_by_sigint() {
    noticed("sleep", SIGINT);
}

#[test]
fn sighup_noticed_by_sleep_runs_every_cleanup_and_dies_by_sighup() {
    noticed("sleep", SIGHUP);
}

#[test]
fn every_signal_shutdown_announces_its_start_and_its_end_on_stderr() {
    // Many short runs: the lines must be there every time, not most times
    // (main returning at once must not race the runtime's announcement).
    let mut runs = 0;
    let mut silent = Vec::new();
    for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")] {
        // The tests' children share the test's process group: with no
        // terminal, or in its foreground group, a SIGINT may be a person's
        // Ctrl-C, so the hint follows (not in a group of their own:
        // tests/diagnostics.rs, nor in a background job: tests/terminal.rs).
        let start = match sig {
            SIGINT => {
                "shutdown: SIGINT received, draining (10s); press Ctrl-C again to force".to_owned()
            }
            _ => format!("shutdown: {name} received, draining (10s)"),
        };
        let end = format!("exiting by {name}");
        for _ in 0..RUNS_PER_SIGNAL {
            let mut running = scenario("sleep").start_ready();
            running.signal(sig);
            let ended = running.finish();
            ended.assert_killed_by(sig);
            runs += 1;
            let has_end = ended
                .stderr
                .lines()
                .any(|line| line.starts_with("shutdown: done in") && line.contains(&end));
            if !ended.stderr.contains(&start) || !has_end {
                silent.push(ended);
            }
        }
    }
    assert!(
        silent.is_empty(),
        "{} of {runs} shutdowns lacked their start or end line; the first of them:\n{}",
        silent.len(),
        silent[0]
    );
}

/// Enough runs of a fast shutdown that a race shows up nearly every time.
const RUNS_PER_SIGNAL: usize = 30;

// ---- a handled signal, and main never returns --------------------------------

#[test]
fn sigterm_while_stuck_runs_cleanups_from_the_runtime_thread() {
    let mut running = scenario("stuck").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin())
        .assert_once_in_order(&CLEANUPS)
        // Nobody unwound main's frame.
        .assert_absent(&["stack:main"])
        .assert_stderr_contains(&format!("shutdown: SIGTERM received, draining ({TIMEOUT})"))
        .assert_stderr_contains("main did not return")
        .assert_stderr_contains("exiting by SIGTERM");
}

// ---- a handled signal, and a cleanup hangs ----------------------------------

#[test]
fn a_hanging_finalizer_is_abandoned_and_named_and_the_rest_still_run_in_order() {
    let mut running = scenario("hang-finalizer").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin())
        .assert_once_in_order(&[
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:hang:start",
            "finalizer:a",
        ])
        .assert_absent(&["finalizer:hang:end"])
        .assert_stderr_line(&[
            &format!("finalizer registered at {}", made_at("at: hang-finalizer")),
            "hung, abandoned after",
        ]);
}

#[test]
fn a_hanging_guard_run_by_the_runtime_is_abandoned_and_named_and_the_rest_still_run() {
    // main is stuck, so the runtime's drain runs the guards.
    let mut running = scenario("hang-guard-stuck").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin())
        .assert_once_in_order(&[
            "guard:b",
            "guard:hang:start",
            "guard:a",
            "finalizer:b",
            "finalizer:a",
        ])
        .assert_absent(&["stack:main", "guard:hang:end"])
        .assert_stderr_line(&[
            &format!("guard created at {}", made_at("at: hang-guard")),
            "hung, abandoned after",
        ]);
}

#[test]
fn a_hanging_guard_dropped_by_main_is_named_and_the_rest_still_run() {
    // main notices the signal and returns; dropping its frame runs the guard
    // that hangs, on main's own thread.
    let mut running = scenario("hang-guard").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin())
        .assert_once_in_order(&[
            "guard:b",
            "guard:hang:start",
            "guard:a",
            "finalizer:b",
            "finalizer:a",
        ])
        .assert_absent(&["guard:hang:end"])
        .assert_stderr_line(&[
            &format!("guard created at {}", made_at("at: hang-guard")),
            "hung",
        ]);
}

// ---- a handled signal, and a cleanup panics ---------------------------------

#[test]
fn a_panicking_finalizer_is_named_with_its_message_and_the_rest_still_run() {
    let mut running = scenario("panic-finalizer").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_line(&[
            &format!("finalizer registered at {}", made_at("at: panic-finalizer")),
            "panicked: finalizer exploded",
        ]);
}

#[test]
fn a_panicking_guard_run_by_the_runtime_is_named_with_its_message_and_the_rest_still_run() {
    let mut running = scenario("panic-guard-stuck").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&CLEANUPS)
        .assert_absent(&["stack:main"])
        .assert_stderr_line(&[
            &format!("guard created at {}", made_at("at: panic-guard")),
            "panicked: guard exploded",
        ]);
}

#[test]
fn a_panicking_guard_dropped_by_main_is_reported_and_the_rest_still_run() {
    let mut running = scenario("panic-guard").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        // The signal started it: the process still dies by it.
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_contains("guard exploded");
}

// ---- request_shutdown -------------------------------------------------------

#[test]
fn request_shutdown_then_err_shutdown_from_checkpoint_runs_every_cleanup_and_exits_0() {
    scenario("request")
        .run()
        .assert_code(0)
        .assert_once(&["requested:true"])
        .assert_once_in_order(&EVERYTHING)
        // `Err(Shutdown)` is the program doing as asked, not an error.
        .assert_stderr_lacks("Error:");
}

#[test]
fn request_shutdown_then_a_real_error_runs_every_cleanup_and_exits_1() {
    scenario("request-error")
        .run()
        .assert_code(1)
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_contains("Error: DiskFull { path: \"/var/data\" }");
}

// ---- a second signal during shutdown ----------------------------------------

#[test]
fn a_second_sigint_while_a_finalizer_hangs_kills_by_sigint_at_once_without_the_rest() {
    // A long deadline, so only the second SIGINT can end it soon.
    let mut running = scenario("hang-finalizer")
        .env("CLEANUP_TIMEOUT", "60s")
        .start_ready();
    running.signal(SIGINT);
    running.wait_stderr("shutdown: SIGINT received");
    running.wait_stdout("finalizer:hang:start");
    running.signal(SIGINT);
    running
        .finish()
        .assert_killed_by(SIGINT)
        .assert_ended_within(Duration::from_secs(30))
        .assert_once_in_order(&EVERYTHING[..4])
        .assert_absent(&["finalizer:a", "finalizer:hang:end"])
        .assert_stderr_contains("second SIGINT");
}

#[test]
fn a_second_sigint_while_main_is_stuck_kills_by_sigint_at_once_without_any_cleanup() {
    let mut running = scenario("stuck")
        .env("CLEANUP_TIMEOUT", "60s")
        .start_ready();
    running.signal(SIGINT);
    running.wait_stderr("shutdown: SIGINT received");
    running.signal(SIGINT);
    running
        .finish()
        .assert_killed_by(SIGINT)
        .assert_ended_within(Duration::from_secs(30))
        .assert_absent(&EVERYTHING)
        .assert_stderr_contains("second SIGINT");
}

#[test]
fn a_second_sigterm_and_a_sighup_during_shutdown_change_nothing_and_the_cleanups_finish() {
    let mut running = scenario("slow-finalizer").start_ready();
    running.signal(SIGTERM);
    running.wait_stdout("finalizer:slow:start");
    running.signal(SIGTERM);
    running.signal(SIGHUP);
    running
        .finish()
        // By the first signal, after every cleanup, the slow one included.
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&[
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:slow:start",
            "finalizer:slow:end",
            "finalizer:a",
        ]);
}
