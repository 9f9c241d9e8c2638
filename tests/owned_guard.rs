//! `cleanup::owned_guard`, with real processes and real signals: a guard
//! that owns a scratch directory removes it exactly once on a return, never
//! once disarmed, and — the reason it exists — from the shutdown drain when
//! `main` is stuck in a call that never checks, so nothing is left behind.
//!
//! The fixture is `tests/fixtures/owned_guard.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{fixture_line, Spawn, MARGIN, SIGTERM, TIMEOUT_SECS};

const FIXTURE: &str = "owned_guard";

/// A directory of this test's own for the fixture to create, gone (by
/// whatever means) when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cleanup-owned-guard-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scenario(name: &str, scratch: &Scratch) -> Spawn {
    Spawn::fixture(FIXTURE).arg(name).arg(scratch.path())
}

#[test]
fn sigterm_with_main_stuck_the_drain_takes_the_value_and_removes_the_directory() {
    let scratch = Scratch::new("stuck");
    let mut running = scenario("stuck", &scratch).short_timeout().start_ready();
    assert!(scratch.path().join("partial").exists());
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN)
        .assert_once(&["removed"])
        .assert_stderr_lacks("hung");
    assert!(
        !scratch.path().exists(),
        "the drain should have removed {}",
        scratch.path().display()
    );
}

#[test]
fn sigterm_with_main_stuck_holding_the_value_names_the_guard_as_hung_and_still_ends() {
    let scratch = Scratch::new("stuck-holding");
    let mut running = scenario("stuck-holding", &scratch)
        .short_timeout()
        .start_ready();
    running.signal(SIGTERM);
    let made_at = format!(
        "owned_guard.rs:{}:",
        fixture_line("owned_guard.rs", "owned guard made here")
    );
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN)
        .assert_absent(&["removed"])
        .assert_stderr_line(&["guard created at", &made_at, "hung"]);
    assert!(
        scratch.path().exists(),
        "held across the block: left behind"
    );
}

#[test]
fn a_normal_return_removes_the_directory_once() {
    let scratch = Scratch::new("return");
    scenario("return", &scratch)
        .run()
        .assert_code(0)
        .assert_once_in_order(&["main:returning", "removed"]);
    assert!(!scratch.path().exists());
}

#[test]
fn disarm_gives_the_directory_back_and_the_closure_never_runs() {
    let scratch = Scratch::new("disarm");
    scenario("disarm", &scratch)
        .run()
        .assert_code(0)
        .assert_once(&["kept:true"])
        .assert_absent(&["removed"]);
    assert!(scratch.path().join("partial").exists());
}
