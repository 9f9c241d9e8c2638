//! The program as PID 1 of a PID namespace, as in a container: a signal it
//! raises on itself is ignored there, so after cleanup it must exit with
//! `128 + n` instead. Run under `unshare --pid --fork`; skipped (with the
//! reason on stderr) where a PID namespace cannot be made.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{fixture_path, Profile, Running, Spawn, MARGIN, SIGTERM, TIMEOUT, TIMEOUT_SECS};

/// Why a PID namespace cannot be made here, if it cannot.
fn cannot_unshare() -> Option<String> {
    match Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Err(err) => Some(format!("cannot run `unshare`: {err}")),
        Ok(output) if !output.status.success() => Some(format!(
            "`unshare --pid --fork true` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// `unshare --pid --fork --kill-child fixture_exit_paths <scenario>`.
fn as_pid_one(scenario: &str) -> Spawn {
    Spawn::program("unshare", "unshare")
        .arg("--pid")
        .arg("--fork")
        .arg("--kill-child")
        .arg(fixture_path("exit_paths", Profile::Current))
        .arg(scenario)
}

/// The pid, seen from here, of the one child `unshare` forked: the fixture,
/// which is PID 1 inside its namespace.
fn forked_child(running: &Running) -> libc::pid_t {
    let parent = running.pid();
    let listed = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        .ok()
        .and_then(|list| list.split_whitespace().next()?.parse().ok());
    listed
        .or_else(|| child_by_scanning_proc(parent))
        .unwrap_or_else(|| panic!("no child of the unshare process {parent} found in /proc"))
}

/// For kernels without `/proc/<pid>/task/<tid>/children`.
fn child_by_scanning_proc(parent: libc::pid_t) -> Option<libc::pid_t> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: libc::pid_t = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat =
            std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let ppid: libc::pid_t = stat
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        (ppid == parent).then_some(pid)
    })
}

#[test]
fn as_pid_1_sigterm_runs_every_cleanup_and_exits_with_143() {
    if let Some(why) = cannot_unshare() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut running = as_pid_one("sleep").start_ready();
    let fixture = forked_child(&running);
    running.signal_pid(fixture, SIGTERM);
    running
        .finish()
        // `unshare` exits with its child's code.
        .assert_code(143)
        .assert_once_in_order(&[
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:a",
        ]);
}

#[test]
fn as_pid_1_stuck_sigterm_runs_the_cleanups_and_exits_with_143_by_the_deadline() {
    if let Some(why) = cannot_unshare() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut running = as_pid_one("stuck")
        .env("CLEANUP_TIMEOUT", TIMEOUT)
        .start_ready();
    let fixture = forked_child(&running);
    running.signal_pid(fixture, SIGTERM);
    running
        .finish()
        .assert_code(143)
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN)
        .assert_once_in_order(&["guard:b", "guard:a", "finalizer:b", "finalizer:a"])
        .assert_absent(&["stack:main"])
        .assert_stderr_contains("exiting with code 143 (PID 1)");
}
