//! The shutdown's lines through a real `tracing` subscriber and a real `log`
//! logger (features `tracing` and `log`), with real processes and signals:
//! the start event carries the signal, the end event says "done" and how the
//! process leaves, a hung or panicking cleanup is named with where it was
//! made (also under `quiet`), nothing is left raw on stderr, and a logger
//! that blocks or panics does not keep the process from ending. Without a
//! subscriber or logger, the lines stay on stderr as they were.
//!
//! Run with `cargo test -p cleanup-integration --features tracing,log --test
//! logging`. The fixtures are `integration/fixtures/logging_*.rs`.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{Ended, Spawn, MARGIN, SIGTERM, TIMEOUT_SECS};
use serde_json::Value;
use std::time::Duration;

/// `integration/fixtures/logging_scenarios.rs:<line>:`, the line holding
/// `// at: <marker>`: where the log must say the cleanup was made.
fn made_at(marker: &str) -> String {
    let file = "fixtures/logging_scenarios.rs";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let source = std::fs::read_to_string(&path).expect("the scenarios' source");
    let line = source
        .lines()
        .position(|line| line.ends_with(&format!("// at: {marker}")))
        .unwrap_or_else(|| panic!("no `// at: {marker}` in {file}"));
    format!("integration/{file}:{}:", line + 1)
}

/// Runs `fixture scenario` with a 2 s timeout, SIGTERMs it once ready.
fn run(fixture: &str, scenario: &str, env: &[(&str, &str)]) -> Ended {
    let mut spawn = Spawn::fixture(fixture).arg(scenario).short_timeout();
    for (key, value) in env {
        spawn = spawn.env(key, value);
    }
    let mut running = spawn.start_ready();
    running.signal(SIGTERM);
    running.finish()
}

/// The JSON events of target `cleanup` on stdout.
fn events(ended: &Ended) -> Vec<Value> {
    ended
        .stdout
        .iter()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}")))
        .filter(|event: &Value| event["target"] == "cleanup")
        .collect()
}

fn message(event: &Value) -> &str {
    event["fields"]["message"].as_str().unwrap_or_default()
}

/// The one event whose message starts with `start`.
#[track_caller]
fn event<'a>(events: &'a [Value], start: &str, ended: &Ended) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|event| message(event).starts_with(start))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one event starting `{start}`\n{ended}"
    );
    found[0]
}

/// Nothing the runtime says is left on stderr.
#[track_caller]
fn no_raw_lines(ended: &Ended) {
    ended
        .assert_stderr_lacks("shutdown:")
        .assert_stderr_lacks("cleanup:");
}

#[test]
fn under_a_tracing_subscriber_the_start_event_has_the_signal_and_the_end_says_done_and_the_status()
{
    let ended = run("logging_tracing", "sigterm", &[]);
    ended
        .assert_killed_by(SIGTERM)
        .assert_once(&["guard:ran", "finalizer:ran"]);
    no_raw_lines(&ended);
    let events = events(&ended);
    let start = event(&events, "SIGTERM received, draining (2s)", &ended);
    assert_eq!(start["level"], "INFO", "{start}");
    assert_eq!(start["fields"]["signal"], "SIGTERM", "{start}");
    assert_eq!(start["fields"]["timeout_ms"], 2000, "{start}");
    let done = event(&events, "done in ", &ended);
    assert_eq!(done["level"], "INFO", "{done}");
    assert!(message(done).ends_with("exiting by SIGTERM"), "{done}");
    assert_eq!(done["fields"]["exit_signal"], "SIGTERM", "{done}");
    assert_eq!(done["fields"]["guards_ran"], 1, "{done}");
    assert_eq!(done["fields"]["finalizers_ran"], 1, "{done}");
    assert!(done["fields"]["elapsed_ms"].is_u64(), "{done}");
}

#[test]
fn under_a_tracing_subscriber_a_hung_finalizer_is_a_warning_naming_it_and_the_deadline_an_error() {
    let ended = run("logging_tracing", "hung", &[]);
    ended
        .assert_killed_by(SIGTERM)
        .assert_once(&["guard:ran"])
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN);
    no_raw_lines(&ended);
    let events = events(&ended);
    let at = made_at("hung");
    let hung = event(&events, "finalizer registered at", &ended);
    assert_eq!(hung["level"], "WARN", "{hung}");
    assert!(message(hung).contains("hung, abandoned after"), "{hung}");
    assert_eq!(hung["fields"]["cleanup"], "finalizer", "{hung}");
    let location = hung["fields"]["location"].as_str().unwrap_or_default();
    assert!(location.starts_with(&at), "{location} is not at {at}");
    let deadline = event(&events, "deadline of 2s reached", &ended);
    assert_eq!(deadline["level"], "ERROR", "{deadline}");
    assert!(message(deadline).contains(&at), "{deadline}");
    assert_eq!(deadline["fields"]["location"], location, "{deadline}");
    assert_eq!(deadline["fields"]["exit_signal"], "SIGTERM", "{deadline}");
    // The progress in between says the time left in tenths of a second.
    let progress = event(&events, "running finalizer registered at", &ended);
    assert!(
        message(progress).ends_with("s left") && progress["fields"]["left_ms"].is_u64(),
        "{progress}"
    );
}

#[test]
fn under_a_tracing_subscriber_a_panicking_guard_is_a_warning_naming_it() {
    let ended = run("logging_tracing", "panic", &[]);
    ended.assert_killed_by(SIGTERM);
    no_raw_lines(&ended);
    let events = events(&ended);
    let panicked = event(&events, "guard created at", &ended);
    assert_eq!(panicked["level"], "WARN", "{panicked}");
    assert!(
        message(panicked).ends_with("panicked: guard exploded"),
        "{panicked}"
    );
    assert_eq!(panicked["fields"]["cleanup"], "guard", "{panicked}");
    let location = panicked["fields"]["location"].as_str().unwrap_or_default();
    let at = made_at("panic");
    assert!(location.starts_with(&at), "{location} is not at {at}");
    let done = event(&events, "done in ", &ended);
    assert_eq!(done["level"], "WARN", "{done}");
    assert_eq!(done["fields"]["panicked"], 1, "{done}");
}

/// `scenario` under `quiet` and SIGTERM: its events, none of them INFO.
fn quiet_events(scenario: &str) -> (Ended, Vec<Value>) {
    let ended = run("logging_tracing_quiet", scenario, &[]);
    ended.assert_killed_by(SIGTERM);
    no_raw_lines(&ended);
    let events = events(&ended);
    assert!(
        events.iter().all(|event| event["level"] != "INFO"),
        "an INFO event under quiet\n{ended}"
    );
    (ended, events)
}

#[test]
fn quiet_drops_the_info_events_but_not_a_hung_cleanup() {
    let (ended, events) = quiet_events("hung");
    let hung = event(&events, "finalizer registered at", &ended);
    assert_eq!(hung["level"], "WARN", "{hung}");
    assert!(message(hung).contains("hung, abandoned after"), "{hung}");
    event(&events, "deadline of 2s reached", &ended);
}

#[test]
fn quiet_drops_the_info_events_but_not_a_panicking_guard() {
    let (ended, events) = quiet_events("panic");
    event(&events, "guard created at", &ended);
}

#[test]
fn without_a_subscriber_the_lines_stay_on_stderr() {
    for (fixture, env) in [
        ("logging_tracing", ("LOGGING_SUBSCRIBER", "none")),
        ("logging_log", ("LOGGING_LOGGER", "none")),
    ] {
        let ended = run(fixture, "sigterm", &[env]);
        ended
            .assert_killed_by(SIGTERM)
            .assert_stderr_contains("shutdown: SIGTERM received, draining (2s)\n")
            .assert_stderr_line(&[
                "shutdown: done in ",
                "1 guard and 1 finalizer ran, exiting by SIGTERM",
            ]);
        assert!(events(&ended).is_empty(), "{ended}");
        assert!(
            !ended.stdout.iter().any(|line| line.starts_with("log ")),
            "{ended}"
        );
    }
}

/// The records of target `cleanup` the fixture's logger printed.
fn records_of(ended: &Ended) -> Vec<&str> {
    ended
        .stdout
        .iter()
        .filter(|line| line.starts_with("log ") && line.contains(" target=cleanup "))
        .map(String::as_str)
        .collect()
}

#[track_caller]
fn record<'a>(records: &[&'a str], text: &str, ended: &Ended) -> &'a str {
    let found: Vec<&str> = records
        .iter()
        .copied()
        .filter(|record| record.contains(text))
        .collect();
    assert_eq!(found.len(), 1, "expected one record with `{text}`\n{ended}");
    found[0]
}

// The fixture's build has both features: with no tracing subscriber, the
// lines go to the logger.
#[test]
fn under_a_logger_the_records_carry_key_values() {
    let ended = run("logging_log", "sigterm", &[]);
    ended
        .assert_killed_by(SIGTERM)
        .assert_once(&["guard:ran", "finalizer:ran"]);
    no_raw_lines(&ended);
    let records = records_of(&ended);
    let start = record(&records, "message=\"SIGTERM received", &ended);
    assert!(start.starts_with("log level=INFO "), "{start}");
    assert!(start.contains(" signal=SIGTERM"), "{start}");
    let done = record(&records, "message=\"done in ", &ended);
    assert!(done.starts_with("log level=INFO "), "{done}");
    assert!(done.contains("exiting by SIGTERM\""), "{done}");
    assert!(done.contains(" exit_signal=SIGTERM"), "{done}");
}

#[test]
fn under_a_logger_a_hung_finalizer_and_a_panicking_guard_are_named() {
    let ended = run("logging_log", "hung", &[]);
    ended.assert_killed_by(SIGTERM);
    no_raw_lines(&ended);
    let records = records_of(&ended);
    let hung = record(&records, "hung, abandoned after", &ended);
    assert!(hung.starts_with("log level=WARN "), "{hung}");
    assert!(hung.contains(" cleanup=finalizer"), "{hung}");
    assert!(
        hung.contains(&format!(" location={}", made_at("hung"))),
        "{hung}"
    );
    let deadline = record(&records, "deadline of 2s reached", &ended);
    assert!(deadline.starts_with("log level=ERROR "), "{deadline}");

    let ended = run("logging_log", "panic", &[]);
    ended.assert_killed_by(SIGTERM);
    no_raw_lines(&ended);
    let panics = records_of(&ended);
    let panicked = record(&panics, "panicked: guard exploded", &ended);
    assert!(panicked.starts_with("log level=WARN "), "{panicked}");
    assert!(
        panicked.contains(&format!(" location={}", made_at("panic"))),
        "{panicked}"
    );
}

/// A logger that never returns, or panics, on the runtime's records: the
/// cleanups run and the process ends as it would have, in time.
#[test]
fn a_logger_that_blocks_or_panics_does_not_keep_the_process_from_ending() {
    for mode in ["block", "panic"] {
        let ended = run("logging_log", "sigterm", &[("LOGGING_LOGGER", mode)]);
        ended
            .assert_killed_by(SIGTERM)
            .assert_once(&["guard:ran", "finalizer:ran"])
            .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN);
    }
}
