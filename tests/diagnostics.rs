//! Lines a user can act on (`tests/fixtures/diagnostics.rs`): workers named
//! by their `thread::Builder` name, or counted when spawned in a loop; the
//! finalizer that hangs to the hard deadline named in the deadline's line;
//! time left always in tenths of a second; a child's lines saying which
//! process speaks; no "press Ctrl-C again" outside the terminal's
//! foreground group (the foreground case is in tests/terminal.rs).

mod common;

use std::time::Duration;

use common::*;

fn scenario(name: &str) -> Spawn {
    Spawn::fixture("diagnostics").arg(name)
}

/// `tests/fixtures/diagnostics.rs:<line>:`, where `// at: <marker>` is.
fn at(marker: &str) -> String {
    format!(
        "tests/fixtures/diagnostics.rs:{}:",
        fixture_line("diagnostics.rs", &format!("// at: {marker}"))
    )
}

/// The stderr lines that contain `text`.
fn lines_with<'a>(ended: &'a Ended, text: &str) -> Vec<&'a str> {
    ended
        .stderr
        .lines()
        .filter(|line| line.contains(text))
        .collect()
}

#[test]
fn workers_left_behind_are_named_or_counted_once_per_place() {
    let mut running = scenario("workers").short_timeout().start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN);
    let behind = lines_with(&ended, "did not return in time");
    let looped = format!("shutdown: 4 worker threads spawned at {}", at("loop"));
    let named = format!(
        "shutdown: worker thread `db-writer` (spawned at {}",
        at("named")
    );
    assert_eq!(behind.len(), 2, "one line per place and name\n{ended}");
    assert!(
        behind.iter().any(|line| line.starts_with(&looped)),
        "expected `{looped}…`\n{ended}"
    );
    assert!(
        behind.iter().any(|line| line.starts_with(&named)
            && line.ends_with(") did not return in time, left behind")),
        "expected `{named}…`\n{ended}"
    );
    ended.assert_stderr_contains("5 abandoned");
}

#[test]
fn a_builder_name_with_a_nul_byte_is_an_error_and_nothing_is_waited_for() {
    let mut running = scenario("bad-name").start();
    running.wait_stdout_starting("spawn-error:a thread name may not contain a NUL byte");
    running.wait_stdout("ready");
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_stderr_lacks("did not return")
        .assert_stderr_lacks("panicked")
        .assert_ended_within(MARGIN);
}

#[test]
fn the_finalizer_that_hangs_to_the_hard_deadline_is_named_in_the_deadline_line() {
    let mut running = scenario("hung-finalizer").short_timeout().start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended.assert_killed_by(SIGTERM).assert_stderr_line(&[
        "shutdown: deadline of 2s reached with finalizer registered at ",
        &at("hung-finalizer"),
        " still running, 0 cleanups not run, exiting by SIGTERM",
    ]);
}

#[test]
fn time_left_is_always_seconds_with_one_decimal() {
    let mut running = scenario("hung-finalizer").short_timeout().start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    let left = lines_with(&ended, " left");
    assert!(!left.is_empty(), "no line with the time left\n{ended}");
    for line in left {
        let (before, _) = line.rsplit_once(" left").expect("` left` is there");
        let amount = before.rsplit(' ').next().unwrap_or_default();
        let number = amount.strip_suffix('s').unwrap_or("no unit");
        let (whole, tenths) = number.split_once('.').unwrap_or(("", ""));
        assert!(
            !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && tenths.len() == 1
                && tenths.bytes().all(|b| b.is_ascii_digit()),
            "`{amount}` in `{line}` is not seconds with one decimal\n{ended}"
        );
    }
}

#[test]
fn a_child_started_with_spawn_says_who_it_is_and_its_parent_does_not() {
    let mut running = scenario("parent").start();
    let pid = running.wait_stdout_starting("child:");
    let pid = pid.strip_prefix("child:").expect("the prefix").to_owned();
    running.wait_stdout("ready");
    running.signal(SIGTERM);
    let ended = running.finish();
    let child = format!("fixture_diagnostics[{pid}]: shutdown: ");
    ended
        .assert_killed_by(SIGTERM)
        // The time its parent waits for it: 7.125 s of the parent's 10 s.
        .assert_stderr_contains(&format!("{child}SIGTERM received, draining (7.1s)\n"))
        .assert_stderr_line(&[&child, "done in ", "exiting by SIGTERM"]);
    let shutdown = lines_with(&ended, "shutdown: ");
    let parents: Vec<&&str> = shutdown
        .iter()
        .filter(|line| line.starts_with("shutdown: "))
        .collect();
    assert!(
        parents
            .iter()
            .any(|line| line.starts_with("shutdown: SIGTERM received"))
            && parents
                .iter()
                .any(|line| line.starts_with("shutdown: done in")),
        "the parent's lines have no prefix\n{ended}"
    );
    assert_eq!(
        shutdown.len(),
        parents.len() + lines_with(&ended, &child).len(),
        "every line is the parent's or the child's\n{ended}"
    );
}

/// The variable alone is not enough: a process whose parent is not the pid
/// it names (a grandchild started some other way) has no prefix.
#[test]
fn a_process_whose_parent_is_not_the_one_named_has_no_prefix() {
    let mut running = scenario("plain")
        .env("CLEANUP_PARENT_PID", "1")
        .start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_stderr_contains("\nshutdown: done in ")
        .assert_stderr_lacks("]: shutdown:");
}

/// In its own process group, the process is not the terminal's foreground
/// group (whatever terminal the tests run in): no hint to press Ctrl-C again,
/// for the first SIGINT or one during the shutdown; a second still forces.
#[test]
fn outside_the_foreground_group_no_hint_to_press_ctrl_c_again() {
    let mut running = scenario("hung-finalizer")
        .env("CLEANUP_TIMEOUT", "30s")
        .own_process_group()
        .start_ready();
    running.signal(SIGINT);
    running.wait_stderr("shutdown: SIGINT received, draining (30s)");
    running.wait_stderr("running finalizer registered at");
    running.signal(SIGINT);
    running
        .finish()
        .assert_killed_by(SIGINT)
        .assert_stderr_contains("shutdown: SIGINT received, draining (30s)\n")
        .assert_stderr_contains("second SIGINT, exiting now without cleanup")
        .assert_stderr_lacks("again to force")
        .assert_ended_within(MARGIN);
}

/// A SIGINT while a shutdown started otherwise says it was seen, without
/// the hint.
#[test]
fn a_sigint_during_a_shutdown_outside_the_foreground_group_is_seen_without_the_hint() {
    let mut running = scenario("hung-finalizer")
        .env("CLEANUP_TIMEOUT", "30s")
        .own_process_group()
        .start_ready();
    running.signal(SIGTERM);
    running.wait_stderr("running finalizer registered at");
    running.signal(SIGINT);
    running.wait_stderr("shutdown: SIGINT received while shutting down");
    running.signal(SIGINT);
    running
        .finish()
        .assert_killed_by(SIGINT)
        .assert_stderr_lacks("again to force");
}
