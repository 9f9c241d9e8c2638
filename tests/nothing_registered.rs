//! Programs with nothing to clean run without a runtime thread (so they die
//! as fast as the default action would kill them); the deadline is then kept
//! by a timer that the signal handler arms. (With the features `tracing` or
//! `log`, the runtime thread runs from the start, to emit the start event
//! the handler cannot: `cargo test --all-features` checks that case.)

mod common;

use std::time::Duration;

use common::*;

/// Built with a feature that keeps the runtime thread from the start.
const LOGGING: bool = cfg!(any(feature = "tracing", feature = "log"));

fn program(scenario: &str) -> Spawn {
    Spawn::fixture("nothing_registered").arg(scenario)
}

#[test]
fn with_nothing_registered_sigterm_noticed_by_sleep_unwinds_main_and_dies_by_sigterm() {
    let mut running = program("sleep").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once(&["stack:main"])
        .assert_stderr_contains("shutdown: SIGTERM received, draining (10s)")
        .assert_stderr_contains("exiting by SIGTERM")
        .assert_ended_within(MARGIN);
}

#[test]
fn with_nothing_registered_a_stuck_main_is_ended_by_the_deadline_timer() {
    let mut running = program("stuck").short_timeout().start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_absent(&["stack:main"])
        .assert_stderr_contains(if LOGGING {
            // The runtime thread, there from the start (to emit the start
            // event), stops waiting for `main` at its share and leaves.
            "main did not return within"
        } else {
            "deadline reached before main returned"
        })
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN);
}

#[test]
fn a_guard_made_after_the_signal_starts_the_runtime_which_runs_it_at_the_deadline() {
    let mut running = program("late-guard").short_timeout().start_ready();
    running.signal(SIGTERM);
    running.wait_stdout("guard made");
    let ended = running.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_once(&["guard:late"])
        .assert_absent(&["stack:main"])
        .assert_stderr_contains("main did not return within")
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN);
}

#[test]
fn as_a_second_sigint_with_nothing_registered_kills_by_sigint_at_once() {
    let mut running = program("stuck").env("CLEANUP_TIMEOUT", "60s").start_ready();
    running.signal(SIGINT);
    // Not `press Ctrl-C again`: that hint is for a terminal's foreground group.
    running.wait_stderr("shutdown: SIGINT received");
    running.signal(SIGINT);
    running
        .finish()
        .assert_killed_by(SIGINT)
        .assert_ended_within(MARGIN);
}

#[test]
fn sigalrm_is_the_program_s_until_a_shutdown_begins() {
    // Nothing of ours watches SIGALRM before a shutdown: the program's
    // alarm does what it would without us.
    program("alarm-before")
        .start_ready()
        .finish()
        .assert_killed_by(libc::SIGALRM);
}

/// `scenario` (a SIGALRM handler and an alarm of the program's) gets
/// SIGTERM and gets stuck: the alarm reaches its handler, once, and the
/// deadline still ends the process.
fn alarm_reaches_its_handler_and_the_deadline_holds(scenario: &str) {
    let mut running = program(scenario).short_timeout().start_ready();
    running.signal(SIGTERM);
    running.wait_stdout("alarm:mine");
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once(&["alarm:mine"])
        .assert_absent(&["stack:main"])
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN);
}

#[test]
fn the_program_s_own_alarm_during_a_shutdown_reaches_its_handler_and_the_deadline_still_holds() {
    // Where the deadline is `setitimer` (macOS, the BSDs: the portable
    // backend), the program's alarm replaces it: its handler still runs,
    // and the deadline is armed again behind it.
    alarm_reaches_its_handler_and_the_deadline_holds("alarm-during");
}

#[test]
fn the_program_s_alarm_set_before_a_shutdown_still_fires_when_due_before_the_deadline() {
    // Where the deadline is `setitimer`, arming it must not take the place
    // of the program's earlier alarm.
    alarm_reaches_its_handler_and_the_deadline_holds("alarm-pending");
}
