//! The orchestrators' side of a stop (DESIGN.md, "Fleet"): Kubernetes' drain
//! delay and readiness, and the deadline that ends the process before the
//! orchestrator's SIGKILL. Real processes, real signals.

mod common;

use std::time::Duration;

use common::{Spawn, SIGTERM};

#[test]
fn during_the_drain_delay_the_program_is_not_ready_but_serves_on() {
    let mut running = Spawn::fixture("fleet").arg("drain").start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&[
            "not-ready",
            // Not ready at once, but not shutting down either: serving on,
            // with the deadline already running from the signal.
            "during-delay:shutting_down=false,deadline=true",
        ])
        .assert_stderr_contains("not ready; serving 1s more, then draining (4s)");
    // The token fired only when the 1 s delay was over.
    let woke = ended.number("woke:");
    assert!(
        woke >= 900,
        "the token fired {woke} ms after not-ready\n{ended}"
    );
    // The deadline ran from the signal: 4 s less the margin (0.2 s) less
    // the delay leaves about 2.8 s, not 3.8 s.
    let left = ended.number("deadline-left:");
    assert!((2_000..=2_900).contains(&left), "{left} ms left\n{ended}");
}

#[test]
fn the_drain_delay_and_timeout_take_plain_seconds_from_the_environment() {
    let mut running = Spawn::fixture("fleet")
        .arg("drain")
        .env("CLEANUP_TIMEOUT", "6")
        .env("CLEANUP_DRAIN_DELAY", "2.5")
        .start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_stderr_contains("serving 2.5s more, then draining (6s)")
        .assert_stderr_lacks("ignoring");
    let woke = ended.number("woke:");
    assert!(
        woke >= 2_400,
        "the token fired {woke} ms after not-ready\n{ended}"
    );
}

#[test]
fn a_bad_drain_delay_is_refused_with_a_message_and_a_safe_value() {
    let mut running = Spawn::fixture("fleet")
        .arg("drain")
        .env("CLEANUP_DRAIN_DELAY", "soon")
        .start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_stderr_contains("ignoring CLEANUP_DRAIN_DELAY=\"soon\"");
}

#[test]
fn a_hung_finalizer_ends_before_the_orchestrators_sigkill() {
    // docker stop: SIGTERM, then SIGKILL 10 s later. With the default
    // margin the process is gone 9.5 s after the signal, by itself.
    let mut running = Spawn::fixture("fleet")
        .arg("hung")
        .env("CLEANUP_TIMEOUT", "10")
        .env("CLEANUP_DRAIN_DELAY", "0")
        .start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_once(&["finalizer:hang:start"])
        // The one that hung to the deadline is named, as any other.
        .assert_stderr_line(&[
            "finalizer registered at tests/fixtures/fleet.rs:",
            "hung, abandoned after",
        ])
        .assert_ended_within(Duration::from_millis(9_950));
    let after = ended.after_signal.expect("a signal was sent");
    assert!(
        after >= Duration::from_millis(9_300),
        "gone {after:?} after the signal: before its deadline\n{ended}"
    );
}
