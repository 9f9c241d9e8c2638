//! The pattern of "Testing code that uses cleanup" (README.md and the crate
//! docs), run for real. The shutdown state is process-global, so a program
//! is tested as a child process, and the code under a unit test is handed
//! how to learn of a stop. The docs show the parts between the `README:`
//! markers as they are here, but for the program's path (for a binary,
//! `env!("CARGO_BIN_EXE_myapp")`); the last test checks that.

// README: from here
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn sigterm_runs_the_cleanups_and_the_program_dies_by_it() {
    let program = quickstart();
    let mut child = Command::new(program)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();

    // Its stdout, line by line, on a channel, so that every wait has a bound.
    let (sender, lines) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let within = Duration::from_secs(30);

    // Its readiness line, never a sleep: by then its signal handlers are in.
    while !lines
        .recv_timeout(within)
        .expect("the readiness line")
        .starts_with("worker started")
    {}

    // SIGTERM, as `docker stop` or Kubernetes sends it.
    // SAFETY: kill(2) on our own child, not waited for yet.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);

    // A watchdog: a program that does not end in time fails the test.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > within {
            child.kill().unwrap();
            panic!("still running {within:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(10));
    };

    // What it printed once stopped, and how it ended.
    let printed: Vec<String> = lines.iter().collect();
    let guard = printed
        .iter()
        .position(|line| line == "guard: work queue lock released");
    let finalizer = printed
        .iter()
        .position(|line| line == "finalizer: log flushed");
    assert!(guard.is_some() && guard < finalizer, "{printed:?}");
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}
// README: to here

mod common;

/// The quickstart example, built by cargo. The docs show a binary's path
/// instead: `env!("CARGO_BIN_EXE_myapp")`.
fn quickstart() -> std::path::PathBuf {
    common::example_path("quickstart", common::Profile::Current)
}

// README: from here
/// Copies `batches` until a stop is asked; the caller says how it learns of
/// one: `&cleanup::is_shutting_down` in the program, anything in a test.
fn copy_batches(batches: &[&str], out: &mut Vec<String>, stopping: &dyn Fn() -> bool) {
    for batch in batches {
        if stopping() {
            return;
        }
        out.push(batch.to_uppercase());
    }
}

#[test]
fn copy_stops_between_batches() {
    let asked = std::cell::Cell::new(0);
    let stop_at_the_third = || {
        asked.set(asked.get() + 1);
        asked.get() == 3
    };
    let mut out = Vec::new();
    copy_batches(&["a", "b", "c", "d"], &mut out, &stop_at_the_third);
    assert_eq!(out, ["A", "B"]);
}
// README: to here

#[test]
fn the_program_passes_the_global_state() {
    let mut out = Vec::new();
    copy_batches(&["a", "b"], &mut out, &cleanup::is_shutting_down);
    assert_eq!(out, ["A", "B"]); // this test binary is not shutting down
}

/// The parts between the markers, as the docs must show them.
fn shown_parts() -> Vec<String> {
    let this = include_str!("testing_pattern.rs");
    let mut parts = Vec::new();
    for part in this.split("// README: from here\n").skip(1) {
        let (shown, _) = part
            .split_once("// README: to here\n")
            .expect("every `from here` has its `to here`");
        let shown = shown.replace(
            "let program = quickstart();",
            "let program = env!(\"CARGO_BIN_EXE_myapp\");",
        );
        parts.push(shown);
    }
    parts
}

#[test]
fn readme_and_crate_docs_show_these_tests_as_they_are() {
    let parts = shown_parts();
    assert_eq!(parts.len(), 2);
    let readme = include_str!("../README.md");
    let crate_docs: String = include_str!("../src/lib.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| format!("{}\n", line.strip_prefix(' ').unwrap_or(line)))
        .collect();
    for part in &parts {
        assert!(readme.contains(part.as_str()), "README.md lacks:\n{part}");
        assert!(
            crate_docs.contains(part.as_str()),
            "src/lib.rs lacks:\n{part}"
        );
    }
}
