//! The examples, run as a user runs them: real processes, real signals.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A fresh directory for one test's pid file and temporary directory.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cleanup-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// What the example left behind.
    fn leftovers(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read the scratch directory")
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn quickstart_on_ctrl_c_returns_cleans_up_in_order_and_dies_by_sigint() {
    let mut worker = Spawn::example("quickstart").start();
    worker.wait_stdout_starting("worker started");
    worker.wait_stdout("job 1 done");
    worker.signal(SIGINT);
    worker
        .finish()
        .assert_killed_by(SIGINT)
        .assert_once_in_order(&[
            "heartbeat: stopped",
            "stack value: connection closed",
            "guard: work queue lock released",
            "finalizer: log flushed",
        ])
        .assert_stderr_contains("shutdown: SIGINT received, draining (5s)")
        .assert_stderr_contains("exiting by SIGINT")
        .assert_ended_within(MARGIN);
}

fn pidfile(scratch: &Scratch, end: &str) -> Spawn {
    Spawn::example("pidfile_tempdir")
        .arg("--dir")
        .arg(scratch.path())
        .arg("--end")
        .arg(end)
}

#[test]
fn pidfile_tempdir_leaves_nothing_behind_on_every_exit_path() {
    for (end, code) in [
        ("return", 0),
        ("error", 1),
        ("panic", 101),
        ("exit", 3),
        ("process-exit", 4),
    ] {
        let scratch = Scratch::new(&format!("pidfile-{end}"));
        let ended = pidfile(&scratch, end).run();
        ended
            .assert_code(code)
            .assert_once_in_order(&["temporary directory removed", "pid file removed"]);
        assert_eq!(
            scratch.leftovers(),
            Vec::<String>::new(),
            "--end {end}\n{ended}"
        );
    }
}

#[test]
fn pidfile_tempdir_on_sigterm_cleans_up_and_dies_by_sigterm() {
    let scratch = Scratch::new("pidfile-signal");
    let mut running = pidfile(&scratch, "signal").start();
    running.wait_stdout_starting("ready:");
    assert_eq!(
        scratch.leftovers().len(),
        2,
        "the pid file and the temporary directory exist while it runs"
    );
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&["temporary directory removed", "pid file removed"]);
    assert_eq!(scratch.leftovers(), Vec::<String>::new());
}

#[test]
fn pidfile_tempdir_refuses_a_second_instance_and_replaces_a_stale_pid_file() {
    let scratch = Scratch::new("pidfile-second");
    let mut first = pidfile(&scratch, "signal").start();
    first.wait_stdout_starting("ready:");

    let second = pidfile(&scratch, "return").run();
    second
        .assert_code(1)
        .assert_stderr_contains("which is running: another instance is active");

    // SIGKILL: nothing can clean up; the pid file stays, naming a dead pid.
    first.signal(SIGKILL);
    first.finish().assert_killed_by(SIGKILL);
    assert!(scratch
        .leftovers()
        .contains(&"pidfile_tempdir.pid".to_owned()));

    let third = pidfile(&scratch, "return").run();
    third.assert_code(0);
    assert!(
        third
            .stdout
            .iter()
            .any(|line| line.starts_with("stale pid file from pid")),
        "{third}"
    );
    // Only the SIGKILLed run's temporary directory is left.
    assert_eq!(scratch.leftovers().len(), 1, "{third}");
}

fn builder() -> Spawn {
    // Six steps of 300 ms each.
    Spawn::example("critical_section").arg("6").arg("300")
}

#[test]
fn critical_section_finishes_the_build_on_ctrl_c_then_dies_by_sigint() {
    let mut running = builder().start();
    running.wait_stdout_starting("builder ready");
    running.wait_stdout("build 1: step 2/6");
    running.signal(SIGINT);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGINT)
        .assert_once_in_order(&[
            "build 1: step 2/6",
            "build 1: shutdown requested, finishing the build first",
            "build 1: step 6/6",
            "build 1: done, output complete",
        ])
        .assert_absent(&["build 2: step 1/6", "build 1: partial output removed"]);
}

#[test]
fn critical_section_second_ctrl_c_cuts_the_build_at_once() {
    let mut running = builder().start();
    running.wait_stdout_starting("builder ready");
    running.wait_stdout("build 1: step 2/6");
    running.signal(SIGINT);
    // The hint to press Ctrl-C again is only for a terminal's foreground
    // group (tests/terminal.rs); the start line is there either way.
    running.wait_stderr("shutdown: SIGINT received");
    running.signal(SIGINT);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGINT)
        .assert_absent(&["build 1: done, output complete", "build 1: step 6/6"])
        .assert_stderr_contains("second SIGINT, exiting now without cleanup");
}

/// `cargo run --example quickstart` on a fresh clone builds the crate and
/// the facade's light dev-dependencies only: what needs tokio, axum,
/// trybuild or divan lives in other workspace members. The dependency tree
/// of the facade, dev-dependencies included, is what that command can build.
#[test]
fn quickstart_builds_no_heavy_dependency() {
    let output = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--package",
            "graceful-cleanup",
            "--edges",
            "normal,build,dev",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("run `cargo tree`");
    assert!(
        output.status.success(),
        "`cargo tree` failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tree = String::from_utf8_lossy(&output.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split(' ').next())
        .collect();
    assert!(crates.contains(&"cleanup-core"), "unexpected tree:\n{tree}");
    for heavy in ["axum", "tokio", "hyper", "trybuild", "divan", "insta"] {
        assert!(
            !crates.contains(&heavy),
            "the quick start would build `{heavy}`:\n{tree}"
        );
    }
}
