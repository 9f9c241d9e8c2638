//! `#[graceful_main] async fn main` on tokio (feature `tokio`), with real
//! processes and real signals: the async row of DESIGN.md's exit-path table.
//! A signal cancels the token; a future that does not finish by the body's
//! share of the budget is dropped, which drops every value it holds; spawned
//! tasks get the rest of that share, blocking tasks are not waited for.
//!
//! The fixtures are `integration/fixtures/async_paths.rs` (one scenario per run)
//! and `integration/fixtures/async_current_thread.rs`. Both hold, in this order, a
//! stack value `main`, guard `a`, finalizer `a`, guard `b`, finalizer `b`.

#![cfg(feature = "tokio")]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{Spawn, MARGIN, SIGINT, SIGTERM, TIMEOUT, TIMEOUT_SECS};

const FIXTURE: &str = "async_paths";

/// What an orderly end prints: the future's values drop (guards, then the
/// stack value made before them), then the finalizers, newest first.
const EVERYTHING: [&str; 5] = [
    "guard:b",
    "guard:a",
    "stack:main",
    "finalizer:b",
    "finalizer:a",
];

fn scenario(name: &str) -> Spawn {
    Spawn::fixture(FIXTURE).arg(name)
}

/// The deadline given with `CLEANUP_TIMEOUT`, plus a generous margin.
fn deadline_and_margin() -> Duration {
    Duration::from_secs(TIMEOUT_SECS) + MARGIN
}

// ---- a signal, and the future notices -----------------------------------------

/// Starts `token`, waits for `ready`, sends `sig`, checks the orderly end.
fn token_noticed(sig: libc::c_int) {
    let mut running = scenario("token").start_ready();
    running.signal(sig);
    running
        .finish()
        .assert_killed_by(sig)
        .assert_once_in_order(&[
            "main:woke",
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:a",
        ])
        // It returned: nothing was dropped for it.
        .assert_stderr_lacks("dropped")
        .assert_stderr_lacks("did not return");
}

#[test]
fn sigterm_wakes_a_future_awaiting_the_token_which_returns_and_dies_by_sigterm() {
    token_noticed(SIGTERM);
}

#[test]
fn sigint_wakes_a_future_awaiting_the_token_which_returns_and_dies_by_sigint() {
    token_noticed(SIGINT);
}

#[test]
fn a_busy_future_that_notices_the_token_is_given_time_to_drain_and_is_not_dropped() {
    // Busy on the runtime (it yields in a loop until it sees the token), so
    // it is polled in the very moment the signal lands. It needs 200 ms to
    // drain, far less than its share of the 10 s budget. Several runs at
    // once: it must hold every time, not most times.
    let mut runs: Vec<_> = (0..DRAIN_RUNS)
        .map(|_| scenario("drain").start_ready())
        .collect();
    for running in &mut runs {
        running.signal(SIGTERM);
    }
    let mut dropped = Vec::new();
    for running in runs {
        let ended = running.finish();
        ended.assert_killed_by(SIGTERM);
        if ended.count("main:drained") != 1 || ended.stderr.contains("was dropped") {
            dropped.push(ended);
        }
    }
    assert!(
        dropped.is_empty(),
        "{} of {DRAIN_RUNS} futures were dropped before they could drain; the first of them:\n{}",
        dropped.len(),
        dropped[0]
    );
}

/// Runs of the `drain` scenario, all at once: enough that a race between the
/// signal handler and the runtime thread shows up nearly every time.
const DRAIN_RUNS: usize = 12;

// ---- a signal, and the future never looks -------------------------------------

#[test]
fn a_future_that_never_checks_the_token_is_dropped_at_the_deadline_and_its_values_with_it() {
    let mut running = scenario("pending").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin())
        // Dropping the future is the unwinding: its guards and its stack
        // value drop, in the order a return would drop them.
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_contains(&format!("shutdown: SIGTERM received, draining ({TIMEOUT})"))
        .assert_stderr_contains("main's future did not finish in time and was dropped")
        .assert_stderr_contains("exiting by SIGTERM");
}

#[test]
fn a_spawned_task_that_never_finishes_is_dropped_before_the_finalizers() {
    let mut running = scenario("task").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin())
        .assert_once_in_order(&[
            "guard:b",
            "guard:a",
            "stack:main",
            // The task's own value drops when the runtime drops the task.
            "stack:task",
            "finalizer:b",
            "finalizer:a",
        ]);
}

#[test]
fn a_blocking_task_that_never_returns_does_not_keep_the_process_past_the_deadline() {
    let mut running = scenario("blocking").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin())
        .assert_once_in_order(&EVERYTHING);
}

#[test]
fn a_future_awaiting_a_blocking_task_that_never_returns_is_dropped_and_the_process_ends() {
    let mut running = scenario("await-blocking").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(deadline_and_margin())
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_contains("main's future did not finish in time and was dropped");
}

// ---- a second signal during shutdown -------------------------------------------

#[test]
fn a_second_sigint_while_the_future_is_pending_kills_by_sigint_at_once_without_any_cleanup() {
    // A long deadline, so only the second SIGINT can end it soon.
    let mut running = scenario("pending")
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

// ---- main returns on its own ---------------------------------------------------

#[test]
fn an_async_main_returning_err_prints_it_as_std_does_runs_every_cleanup_and_exits_1() {
    scenario("err")
        .run()
        .assert_code(1)
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_contains("Error: DiskFull { path: \"/var/data\" }");
}

#[test]
fn an_async_main_returning_ok_exits_0_after_a_task_watching_the_token_finishes() {
    scenario("ok-task")
        .run()
        .assert_code(0)
        .assert_once_in_order(&[
            "guard:b",
            "guard:a",
            "stack:main",
            // Told by the token that main is done, it finishes its work
            // before the finalizers pull anything from under it.
            "task:done",
            "finalizer:b",
            "finalizer:a",
        ])
        // Nothing to report when nothing went wrong and no signal came.
        .assert_stderr_lacks("shutdown:");
}

// ---- flavor = "current_thread" --------------------------------------------------

const CURRENT_THREAD: &str = "async_current_thread";

#[test]
fn a_current_thread_async_main_woken_by_sigterm_runs_every_cleanup_and_dies_by_sigterm() {
    let mut running = Spawn::fixture(CURRENT_THREAD).start();
    // The runtime really is the one asked for.
    running.wait_stdout("flavor:CurrentThread");
    running.wait_stdout("ready");
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&[
            "main:woke",
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:a",
        ])
        .assert_stderr_contains("exiting by SIGTERM");
}

#[test]
fn a_current_thread_runtime_still_runs_a_task_watching_the_token_after_main_returns() {
    // The task is woken with main; once main's future is done, only the
    // runtime's one thread can drive the task to its end.
    let mut running = Spawn::fixture(CURRENT_THREAD).arg("task").start();
    running.wait_stdout("flavor:CurrentThread");
    running.wait_stdout("ready");
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&["task:done", "finalizer:b", "finalizer:a"])
        .assert_once_in_order(&[
            "main:woke",
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
        ])
        // A 50 ms task, not the body's whole share of the 10 s budget (7.5 s).
        .assert_ended_within(Duration::from_secs(5));
}
