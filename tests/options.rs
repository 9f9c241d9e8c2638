//! The options of `#[graceful_main]` (`exit`, `quiet`, `signals`, `timeout`)
//! and the run-time override `CLEANUP_TIMEOUT`, each seen from outside: how
//! the process ends and what it prints.

mod common;

use std::time::Duration;

use common::{Spawn, MARGIN, SIGINT, SIGKILL, SIGTERM, SIGUSR1};

/// What the option fixtures print on an orderly end.
const EVERYTHING: [&str; 3] = ["guard:a", "stack:main", "finalizer:a"];

#[test]
fn exit_code_exits_with_128_plus_the_signal_instead_of_dying_by_it() {
    for (sig, code) in [(SIGTERM, 143), (SIGINT, 130)] {
        let mut running = Spawn::fixture("option_exit_code").start_ready();
        running.signal(sig);
        running
            .finish()
            .assert_code(code)
            .assert_once_in_order(&EVERYTHING);
    }
}

/// Leaving by code goes through `std::process::exit`, which flushes what
/// `print!` left in stdout's buffer.
#[test]
fn exit_code_keeps_what_print_left_in_stdout_s_buffer() {
    let mut running = Spawn::fixture("option_exit_code")
        .arg("unflushed")
        .start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended.assert_code(143);
    assert!(
        ended
            .stdout
            .iter()
            .any(|line| line.contains("unflushed:code")),
        "what `print!` left in the buffer is lost\n{ended}"
    );
}

#[test]
fn exit_zero_exits_with_0_after_a_clean_sigterm_shutdown() {
    let mut running = Spawn::fixture("option_exit_zero").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_code(0)
        .assert_once_in_order(&EVERYTHING);
}

#[test]
fn exit_zero_still_fails_when_a_cleanup_hung() {
    let mut running = Spawn::fixture("option_exit_zero")
        .arg("hang")
        .short_timeout()
        .start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_contains("hung, abandoned after");
    assert!(
        ended.status.code().is_some_and(|code| code != 0),
        "expected a non-zero exit code\n{ended}"
    );
}

#[test]
fn quiet_prints_no_shutdown_line_and_still_cleans_up_and_dies_by_the_signal() {
    let mut running = Spawn::fixture("option_quiet").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&EVERYTHING)
        .assert_stderr_lacks("shutdown:");
}

#[test]
fn a_custom_signal_set_starts_the_shutdown_on_sigusr1_and_dies_by_it() {
    let mut running = Spawn::fixture("option_signals").start_ready();
    running.signal(SIGUSR1);
    running
        .finish()
        // SIGUSR1's default action would have run nothing.
        .assert_killed_by(SIGUSR1)
        .assert_once_in_order(&EVERYTHING);
}

#[test]
fn a_custom_signal_set_leaves_sigterm_to_its_default_action() {
    let mut running = Spawn::fixture("option_signals").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        // Not one of its signals: the kernel ended it, nothing ran.
        .assert_absent(&EVERYTHING)
        .assert_stderr_lacks("shutdown:");
}

/// The `draining (…)` line of a stuck `fixture_option_timeout` (stuck, so
/// the process lives on to print it), then SIGKILL: the rest would take 30 s.
fn announced_deadline(running: &mut common::Running, expected: &str) {
    running.signal(SIGTERM);
    running.wait_stderr(&format!(
        "shutdown: SIGTERM received, draining ({expected})"
    ));
    running.signal(SIGKILL);
}

#[test]
fn the_timeout_option_sets_the_deadline_announced_at_the_start() {
    let mut running = Spawn::fixture("option_timeout").arg("stuck").start_ready();
    announced_deadline(&mut running, "30s");
    running.finish().assert_killed_by(SIGKILL);
}

#[test]
fn a_bad_cleanup_timeout_is_ignored_with_a_message_and_the_compiled_timeout_kept() {
    let mut running = Spawn::fixture("option_timeout")
        .arg("stuck")
        .env("CLEANUP_TIMEOUT", "abc")
        .start_ready();
    announced_deadline(&mut running, "30s");
    running
        .finish()
        .assert_killed_by(SIGKILL)
        .assert_stderr_line(&["cleanup: ignoring CLEANUP_TIMEOUT", "abc", "30s"]);
}

#[test]
fn cleanup_timeout_shortens_the_end_of_a_stuck_program() {
    // Compiled with 30 s; told 1 s at run time.
    let mut running = Spawn::fixture("option_timeout")
        .arg("stuck")
        .env("CLEANUP_TIMEOUT", "1s")
        .start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        // Far sooner than the compiled 30 s, with room for a slow machine.
        .assert_ended_within(Duration::from_secs(1) + MARGIN)
        .assert_once_in_order(&["guard:a", "finalizer:a"])
        .assert_absent(&["stack:main"])
        .assert_stderr_contains("shutdown: SIGTERM received, draining (1s)")
        .assert_stderr_contains("main did not return");
}
