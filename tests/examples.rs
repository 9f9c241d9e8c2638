//! The examples, run as a user runs them: real processes, real signals.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// The example `guardian`, its stderr into `log` rather than a pipe: the
/// guardian reports after the program is dead, when a pipe's reader may
/// already have seen its end (as the guardian means it to: it keeps no
/// writer open), and the test must read every line.
fn guardian_example(run_dir: &Path, log: &Path) -> Spawn {
    Spawn::program("sh", "guardian")
        .arg("-c")
        .arg(r#"exec "$0" --dir "$1" 2>"$2""#)
        .arg(example_path("guardian", Profile::Current))
        .arg(run_dir)
        .arg(log)
}

/// The children of `pid` whose name (`/proc/<pid>/comm`) is `comm`.
fn children_named(pid: libc::pid_t, comm: &str) -> Vec<libc::pid_t> {
    proc_children(pid)
        .into_iter()
        .filter(|child| {
            std::fs::read_to_string(format!("/proc/{child}/comm"))
                .is_ok_and(|name| name.trim_end() == comm)
        })
        .collect()
}

/// The live (not zombie) processes of process group `pgid`. A zombie is
/// dead: orphans are reaped by init, not by us, and not at once.
fn live_in_group(pgid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // `pid (comm) state ppid pgrp …`
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            fields.first() != Some(&"Z") && fields.get(2) == Some(&pgid.to_string().as_str())
        })
        .collect()
}

/// The guardian of `pid`: its child whose argv[0] is `cleanup-guardian`
/// (on both backends; Linux also renames its thread `cleanup-guard`),
/// maybe only after the program's first line.
fn guardian_of(pid: libc::pid_t) -> libc::pid_t {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let guardians: Vec<libc::pid_t> = proc_children(pid)
            .into_iter()
            .filter(|child| {
                std::fs::read(format!("/proc/{child}/cmdline"))
                    .is_ok_and(|argv| argv.starts_with(b"cleanup-guardian\0"))
            })
            .collect();
        if guardians.len() == 1 || Instant::now() >= deadline {
            assert_eq!(guardians.len(), 1, "one guardian, a child of the program");
            return guardians[0];
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The example's server: its child named `sh`. Named so once its `exec`
/// is done, which may be a moment after `spawn` returned (`posix_spawn`
/// resumes the parent as the child's `execve` begins).
fn server_of(pid: libc::pid_t) -> libc::pid_t {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let servers = children_named(pid, "sh");
        if servers.len() == 1 || Instant::now() >= deadline {
            assert_eq!(servers.len(), 1, "one server, a child of the program");
            return servers[0];
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether `pid` is gone or a zombie.
fn dead(pid: libc::pid_t) -> bool {
    proc_stat(pid).is_none_or(|stat| stat.state == 'Z')
}

#[test]
fn guardian_example_leaves_nothing_after_kill_9() {
    let scratch = Scratch::new("guardian-kill9");
    let run_dir = scratch.path().join("run");
    std::fs::create_dir(&run_dir).expect("create the run directory");
    let log = scratch.path().join("stderr.log");
    let mut running = guardian_example(&run_dir, &log).start();
    running.wait_stdout_starting("ready:");
    let pid = running.pid();

    let guardian = guardian_of(pid);
    let server = server_of(pid);
    let leftovers = || {
        let mut names: Vec<String> = std::fs::read_dir(&run_dir)
            .expect("read the run directory")
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        leftovers(),
        [format!("guardian.{pid}"), "guardian.pid".to_owned()],
        "the pid file and the temporary directory exist while it runs"
    );
    // The shell and what it runs (`date`, `sleep`); the loop may be
    // between two.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut group = live_in_group(server);
    while group.len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        group = live_in_group(server);
    }
    assert_eq!(
        group.len(),
        2,
        "the server's group: the shell and its command"
    );

    running.signal(SIGKILL);
    let killed = Instant::now();
    // Not reaped yet: the guardian reads how the program died from its zombie.
    let mut done = false;
    while killed.elapsed() < Duration::from_secs(1) {
        if leftovers().is_empty() && live_in_group(server).is_empty() && dead(guardian) {
            done = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let took = killed.elapsed();
    let ended = running.finish();
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        done,
        "a second after kill -9: left {:?}, server group {:?}, guardian dead: {}\n{ended}\n--- stderr.log ---\n{report}",
        leftovers(),
        live_in_group(server),
        dead(guardian),
    );
    ended.assert_killed_by(SIGKILL);
    // The portable backend (macOS's) cannot learn how a process that is not
    // its child died: POSIX tells the parent alone.
    let how = if cfg!(cleanup_portable) {
        "ended (this system tells only its parent how a process ended)"
    } else {
        "was killed by SIGKILL"
    };
    for line in [
        format!(
            "cleanup-guardian[{guardian}]: guardian[{pid}] {how} without doing 3 durable cleanups; doing them now"
        ),
        format!("cleanup-guardian[{guardian}]: killed child {server} and its process group"),
        format!(
            "cleanup-guardian[{guardian}]: removed {}",
            run_dir.join(format!("guardian.{pid}")).display()
        ),
        format!(
            "cleanup-guardian[{guardian}]: removed {}",
            run_dir.join("guardian.pid").display()
        ),
    ] {
        assert_eq!(
            report.lines().filter(|seen| seen.starts_with(&line)).count(),
            1,
            "once, as a line or the start of one: `{line}` (all gone after {took:?})\n--- stderr.log ---\n{report}"
        );
    }
}

#[test]
fn guardian_example_on_sigterm_cleans_up_itself() {
    let scratch = Scratch::new("guardian-sigterm");
    let run_dir = scratch.path().join("run");
    std::fs::create_dir(&run_dir).expect("create the run directory");
    let log = scratch.path().join("stderr.log");
    let mut running = guardian_example(&run_dir, &log).start();
    running.wait_stdout_starting("ready:");
    let guardian = guardian_of(running.pid());
    let server = server_of(running.pid());
    running.signal(SIGTERM);
    running.finish().assert_killed_by(SIGTERM);
    // The program did it all before it died.
    assert_eq!(std::fs::read_dir(&run_dir).unwrap().count(), 0);
    assert!(
        live_in_group(server).is_empty(),
        "the server's group is gone"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !dead(guardian) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(dead(guardian), "the guardian exited");
    let report = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        report.contains("shutdown: SIGTERM received") && !report.contains("cleanup-guardian["),
        "the program's own shutdown, no word from the guardian:\n{report}"
    );
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
