//! The Windows backend, end to end under Wine: `tests/fixtures/windows.rs`
//! built for `x86_64-pc-windows-gnu` and run with `wine` (a prefix made by
//! `.ci/wine/setup`).
//!
//! What Wine can deliver is delivered for real: Ctrl-C, both as a console
//! sends it (`tests/fixtures/console_harness.c` attaches to the program's
//! console and generates `CTRL_C_EVENT` there) and as a Linux SIGINT to the
//! Wine process, which Wine turns into the console's `CTRL_C_EVENT`.
//! What it cannot (Ctrl-Break, a console's close, a logoff, a shutdown) is
//! run by calling the handler routine the program registered, with the
//! event's code, from a thread of the program, as Windows would; the
//! delivery itself needs a real Windows.
//!
//! Wine reports a Windows exit code's low byte as the Unix exit status:
//! `STATUS_CONTROL_C_EXIT` (0xC000013A) is 58 (0x3A).
//!
//! Without Wine, the MinGW linker or the target, each test says SKIPPED
//! on the terminal; under `CLEANUP_REQUIRE_WINE=1` (set by `.ci/run`) it
//! fails instead.

#![cfg(not(cleanup_portable))] // (the Windows build has no portable backend)

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use common::{Ended, Spawn, MARGIN, SIGINT};

const TARGET: &str = "x86_64-pc-windows-gnu";
const LINKER: &str = "x86_64-w64-mingw32-gcc";
const REQUIRE_WINE: &str = "CLEANUP_REQUIRE_WINE";
/// Set where the console's events can be sent for real (a Wine that can,
/// or a real Windows behind `wine` on PATH): the tests of their delivery
/// then fail where they say SKIPPED under Wine 8, which cannot send them.
const REQUIRE_EVENTS: &str = "CLEANUP_REQUIRE_CONSOLE_EVENTS";
/// `STATUS_CONTROL_C_EXIT`'s low byte, as Wine reports the exit code.
const CONTROL_C_EXIT: i32 = 0xC000_013A_u32 as i32 & 0xFF;

/// The fixture built for Windows with cargo's `profile` (`dev`, or `abort`:
/// `panic = "abort"`), or why it cannot be here.
fn fixture(profile: &str) -> Result<PathBuf, String> {
    static BUILT: Mutex<Vec<(String, Result<PathBuf, String>)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|err| err.into_inner());
    if let Some((_, result)) = built.iter().find(|(p, _)| p == profile) {
        return result.clone();
    }
    let result = build(profile);
    built.push((profile.to_owned(), result.clone()));
    result
}

fn build(profile: &str) -> Result<PathBuf, String> {
    let prefix = prefix();
    let on_path = |program: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if !on_path("wine") {
        return Err("no `wine` on PATH".to_owned());
    }
    if !on_path(LINKER) {
        return Err(format!("no `{LINKER}` on PATH"));
    }
    if !prefix
        .join("drive_c/windows/system32/bcryptprimitives.dll")
        .exists()
    {
        return Err(format!(
            "no Wine prefix made by .ci/wine/setup at {}",
            prefix.display()
        ));
    }
    let target_dir = target_dir();
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--target",
            TARGET,
            "--example",
            "fixture_windows",
            "--profile",
            profile,
        ])
        .env(format!("CARGO_TARGET_{}_LINKER", env_name(TARGET)), LINKER)
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .map_err(|err| format!("cannot run cargo: {err}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("target may not be installed") {
            return Err(format!(
                "the `{TARGET}` target is not installed (rustup target add)"
            ));
        }
        panic!("building fixture_windows for {TARGET} failed:\n{stderr}");
    }
    let dir = if profile == "dev" { "debug" } else { profile };
    Ok(target_dir
        .join(TARGET)
        .join(dir)
        .join("examples/fixture_windows.exe"))
}

/// The target directory this test binary was built in (`target/debug/deps/…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    exe.ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// `x86_64-pc-windows-gnu` → `X86_64_PC_WINDOWS_GNU`, as cargo's variables name it.
fn env_name(target: &str) -> String {
    target.to_uppercase().replace('-', "_")
}

fn prefix() -> PathBuf {
    match std::env::var_os("WINEPREFIX") {
        Some(prefix) => PathBuf::from(prefix),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".wine-cleanup"),
    }
}

/// The fixture under Wine with `args`; `None` (said on the terminal) where
/// it cannot run.
fn wine(test: &str, args: &[&str]) -> Option<Spawn> {
    wine_with("dev", test, args)
}

/// The same, built with cargo's `profile`.
fn wine_with(profile: &str, test: &str, args: &[&str]) -> Option<Spawn> {
    let path = match fixture(profile) {
        Ok(path) => path,
        Err(why) => return skip(test, &why),
    };
    let mut spawn = under_wine(&format!("fixture_windows ({test})")).arg(path);
    for arg in args {
        spawn = spawn.arg(arg);
    }
    Some(spawn)
}

/// `wine`, in the prefix, quiet: the program (`what`) comes as its first
/// argument.
fn under_wine(what: &str) -> Spawn {
    Spawn::program("wine", &format!("wine {what}"))
        .env("WINEPREFIX", &prefix().to_string_lossy())
        .env("WINEDEBUG", "-all")
}

fn skip<T>(test: &str, why: &str) -> Option<T> {
    if std::env::var_os(REQUIRE_WINE).is_some_and(|value| value == "1") {
        panic!("{why} ({REQUIRE_WINE}=1: a Wine test may not skip)");
    }
    let line =
        format!("\ntests/windows.rs: `{test}` SKIPPED, did not run: {why}; run .ci/wine/setup\n");
    // Not `eprintln!`: the harness captures that and prints it only on failure.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    None
}

/// `tests/fixtures/console_harness.c` built with MinGW (once), or why it
/// cannot be.
fn console_harness() -> Result<PathBuf, String> {
    static BUILT: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|err| err.into_inner());
    built
        .get_or_insert_with(|| {
            let source =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/console_harness.c");
            let exe = target_dir().join(TARGET).join("console_harness.exe");
            std::fs::create_dir_all(exe.parent().expect("a parent"))
                .map_err(|err| err.to_string())?;
            let output = Command::new(LINKER)
                .args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
                .arg(&exe)
                .arg(&source)
                .output()
                .map_err(|err| format!("no `{LINKER}`: {err}"))?;
            if !output.status.success() {
                panic!(
                    "building the console harness failed:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Ok(exe)
        })
        .clone()
}

/// The fixture `scenario` on a console of its own, under the console
/// harness, which sends it Ctrl-C through that console each time the next
/// of `lines` appears on its stdout.
fn on_a_console(test: &str, lines: &[&str], scenario: &str) -> Option<Ended> {
    let harness = match console_harness() {
        Ok(harness) => harness,
        Err(why) => return skip(test, &why),
    };
    let fixture = match fixture("dev") {
        Ok(fixture) => fixture,
        Err(why) => return skip(test, &why),
    };
    let mut spawn = under_wine(&format!("console_harness ({test})")).arg(harness);
    for line in lines {
        spawn = spawn.arg(line);
    }
    Some(spawn.arg("--").arg(fixture).arg(scenario).run())
}

/// Ctrl-C as a console sends it (`GenerateConsoleCtrlEvent` on the
/// program's own console, from another process attached to it): the
/// cleanups run in reverse order, and the exit code, read by a Windows
/// parent in all its 32 bits, is `STATUS_CONTROL_C_EXIT`.
#[test]
fn ctrl_c_on_a_console_runs_the_cleanups_and_exits_with_status_control_c_exit() {
    let test = "ctrl_c_on_a_console";
    let Some(ended) = on_a_console(test, &["ready"], "order") else {
        return;
    };
    ended
        .assert_code(0)
        .assert_once_in_order(&[
            "ready",
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:a",
            "exit code 0xC000013A",
        ])
        .assert_stderr_contains("shutdown: SIGINT received");
}

/// A second Ctrl-C on the console, while a guard hangs, ends the program at
/// once: the finalizer after the guard never runs.
#[test]
fn a_second_ctrl_c_on_a_console_forces_the_exit() {
    let Some(ended) = on_a_console(
        "second_ctrl_c_on_a_console",
        &["ready", "guard:hang"],
        "force",
    ) else {
        return;
    };
    ended
        .assert_code(0)
        .assert_once_in_order(&["guard:hang", "exit code 0xC000013A"])
        .assert_absent(&["finalizer:after"])
        .assert_stderr_contains("second SIGINT, exiting now without cleanup");
}

/// A Linux path as a Windows program under Wine names it (drive Z: is /).
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

#[test]
fn ctrl_c_runs_the_cleanups_in_reverse_order_and_exits_with_status_control_c_exit() {
    let Some(spawn) = wine("ctrl_c", &["order"]) else {
        return;
    };
    let mut running = spawn.start_ready();
    running.signal(SIGINT);
    let ended = running.finish();
    ended
        .assert_code(CONTROL_C_EXIT)
        .assert_once_in_order(&[
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:a",
        ])
        .assert_stderr_contains("shutdown: SIGINT received, draining (30s)")
        .assert_stderr_contains("2 guards and 2 finalizers ran, exiting by SIGINT");
}

#[test]
fn a_second_ctrl_c_forces_the_exit() {
    let Some(spawn) = wine("second_ctrl_c", &["force"]) else {
        return;
    };
    let mut running = spawn.start_ready();
    running.signal(SIGINT);
    running.wait_stdout("guard:hang");
    running.signal(SIGINT);
    let ended = running.finish();
    ended
        .assert_code(CONTROL_C_EXIT)
        .assert_absent(&["finalizer:after"])
        .assert_stderr_contains("second SIGINT, exiting now without cleanup");
    let after = ended.after_signal.expect("signalled");
    assert!(
        after < Duration::from_secs(30),
        "the second Ctrl-C did not force it\n{ended}"
    );
}

/// Ctrl-Break starts the shutdown as Ctrl-C does, as SIGBREAK, and a
/// second one forces the exit. (Wine cannot send Ctrl-Break: the fixture
/// runs the registered handler for `CTRL_BREAK_EVENT` as Windows would.)
#[test]
fn ctrl_break_starts_the_shutdown_and_a_second_forces_the_exit() {
    let Some(spawn) = wine("ctrl_break", &["break-twice"]) else {
        return;
    };
    let ended = spawn.run();
    ended
        .assert_code(CONTROL_C_EXIT)
        .assert_once(&["guard:hang"])
        .assert_absent(&["finalizer:after"])
        .assert_stderr_contains("shutdown: SIGBREAK received, draining (30s)")
        .assert_stderr_contains("second SIGBREAK, exiting now without cleanup");
    assert!(
        ended.run_time < Duration::from_secs(25),
        "not forced\n{ended}"
    );
}

#[test]
fn std_process_exit_runs_the_cleanups() {
    let Some(spawn) = wine("process_exit", &["exit"]) else {
        return;
    };
    spawn
        .run()
        .assert_code(3)
        .assert_once_in_order(&["guard:a", "finalizer:a"]);
}

#[test]
fn a_panic_in_main_runs_the_cleanups() {
    let Some(spawn) = wine("panic", &["panic"]) else {
        return;
    };
    spawn
        .run()
        .assert_code(101)
        .assert_once_in_order(&["guard:a", "finalizer:a"])
        .assert_stderr_contains("boom");
}

/// With `panic = "abort"` the panic hook runs the cleanups before the
/// abort, whose status Windows gives as `STATUS_STACK_BUFFER_OVERRUN`
/// (0xC0000409, Rust's `__fastfail`): 9 under Wine.
#[test]
fn a_panic_that_aborts_runs_the_cleanups_first() {
    let Some(spawn) = wine_with("abort", "panic_abort", &["panic"]) else {
        return;
    };
    spawn
        .run()
        .assert_code(0xC000_0409_u32 as i32 & 0xFF)
        .assert_once_in_order(&["guard:a", "finalizer:a"])
        .assert_stderr_contains("boom");
}

/// The drain's own "done in …s" figure.
fn done_in(stderr: &str) -> Option<f64> {
    let rest = stderr.split("shutdown: done in ").nth(1)?;
    rest.split("s,").next()?.parse().ok()
}

/// The drain said it was done within `limit` seconds of the event.
#[track_caller]
fn assert_drained_within(ended: &Ended, limit: f64) {
    let took = done_in(&ended.stderr).unwrap_or_else(|| panic!("no `done in`\n{ended}"));
    assert!(
        took <= limit,
        "the drain took {took}s, past {limit} s\n{ended}"
    );
}

/// The tests of the close limit, which Windows reads from the prefix's
/// registry (one for every test here): one at a time.
static LIMITS: Mutex<()> = Mutex::new(());

fn limits() -> std::sync::MutexGuard<'static, ()> {
    LIMITS.lock().unwrap_or_else(|err| err.into_inner())
}

/// `wine reg …` in the prefix; whether it succeeded.
fn reg(args: &[&str]) -> bool {
    Command::new("wine")
        .arg("reg")
        .args(args)
        .env("WINEPREFIX", prefix())
        .env("WINEDEBUG", "-all")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// The user's `HungAppTimeout` set to `ms` while this lives.
struct HungAppTimeout;

const DESKTOP: &str = "HKCU\\Control Panel\\Desktop";

impl HungAppTimeout {
    fn set(ms: &str) -> HungAppTimeout {
        assert!(
            reg(&[
                "add",
                DESKTOP,
                "/v",
                "HungAppTimeout",
                "/t",
                "REG_SZ",
                "/d",
                ms,
                "/f"
            ]),
            "wine reg add failed"
        );
        HungAppTimeout
    }
}

impl Drop for HungAppTimeout {
    fn drop(&mut self) {
        reg(&["delete", DESKTOP, "/v", "HungAppTimeout", "/f"]);
    }
}

/// The close limit is the user's `HungAppTimeout` when it is set (what
/// Windows waits before it ends the program): 3 s here.
#[test]
fn the_close_limit_is_the_users_hung_app_timeout() {
    let Some(spawn) = wine("hung_app_timeout", &["close", "2"]) else {
        return;
    };
    let _one_at_a_time = limits();
    let _set = HungAppTimeout::set("3000");
    let ended = spawn.run();
    ended
        .assert_code(CONTROL_C_EXIT)
        .assert_once(&["finalizer:after"])
        .assert_stderr_contains("shutdown: SIGTERM received, draining (3s)");
    assert_drained_within(&ended, 3.0);
}

/// A close (2), a logoff (5) and a shutdown (6), each with a cleanup that
/// hangs and a 30 s timeout: Windows ends the process 5 s after the event,
/// so the drain is clamped to that (less its margin), abandons the hung
/// guard, runs the finalizer after it, and ends the process itself, by the
/// event's status; the handler never returns (Windows would end the
/// process the moment it did).
#[test]
fn a_close_logoff_or_shutdown_drains_within_what_windows_allows() {
    let _one_at_a_time = limits();
    for (event, name) in [("2", "close"), ("5", "logoff"), ("6", "shutdown")] {
        let Some(spawn) = wine(name, &["close", event]) else {
            return;
        };
        let ended = spawn.run();
        ended
            .assert_code(CONTROL_C_EXIT)
            .assert_once(&["guard:hang", "finalizer:after"])
            .assert_absent(&["handler returned"])
            .assert_stderr_contains("shutdown: SIGTERM received, draining (5s)")
            .assert_stderr_contains("hung, abandoned")
            .assert_stderr_contains("exiting by SIGTERM");
        assert_drained_within(&ended, 5.0);
    }
}

/// A close after a Ctrl-C: the shutdown the Ctrl-C began has 30 s, but
/// Windows ends the process 5 s after the close. The shutdown's budget is
/// cut to that: the guard that hangs is abandoned at its share of what is
/// left, the finalizer after it still runs, and the process leaves by its
/// own status within the 5 s.
#[test]
fn a_close_during_a_shutdown_cuts_its_budget_to_what_windows_allows() {
    let Some(spawn) = wine("late_close", &["late-close"]) else {
        return;
    };
    let _one_at_a_time = limits();
    let mut running = spawn.start_ready();
    running.signal(SIGINT);
    running.wait_stdout("closing");
    let closed = std::time::Instant::now();
    let ended = running.finish();
    let after_close = closed.elapsed();
    ended
        .assert_code(CONTROL_C_EXIT)
        .assert_once_in_order(&["guard:hang", "closing", "finalizer:after"])
        .assert_stderr_contains("shutdown: SIGINT received, draining (30s)")
        .assert_stderr_contains("the system ends this process 5s after its event")
        .assert_stderr_contains("instead of 29")
        .assert_stderr_contains("hung, abandoned")
        .assert_stderr_lacks("deadline reached");
    // 4.75 s after the close; the rest is this machine's noise (the
    // watchdog is 60 s, the Ctrl-C's own budget 30 s).
    assert!(
        after_close < Duration::from_secs(5) + MARGIN,
        "ended {after_close:?} after the close\n{ended}"
    );
}

/// How many heartbeats the child has written; `None` before the first.
fn beats(file: &Path) -> Option<u64> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Whether the heartbeat has stopped: the count stays the same for a
/// while (the child writes every 20 ms).
fn has_stopped(file: &Path) -> bool {
    let before = beats(file);
    std::thread::sleep(Duration::from_millis(500));
    before == beats(file)
}

/// A child of `cleanup::spawn` is in the program's job object: when the
/// program is ended at once (a second Ctrl-C terminates it, with no time
/// to stop anything), closing the job ends the child too.
#[test]
fn a_child_ends_with_its_job_when_the_program_is_terminated() {
    let dir = std::env::temp_dir().join(format!("cleanup-windows-job-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let file = dir.join("heartbeat");
    let Some(spawn) = wine("job", &["child", &windows_path(&file)]) else {
        return;
    };
    let mut running = spawn.start_ready();
    let until = std::time::Instant::now() + MARGIN;
    while beats(&file).is_none_or(|n| n < 3) {
        assert!(std::time::Instant::now() < until, "the child never beat");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!has_stopped(&file), "the child is not beating");
    // The first Ctrl-C starts the shutdown, which waits for the child (it
    // is not signalled under Wine); the second ends the program at once.
    running.signal(SIGINT);
    running.wait_stderr("SIGINT received");
    running.signal(SIGINT);
    running.finish().assert_code(CONTROL_C_EXIT);
    let until = std::time::Instant::now() + MARGIN;
    while !has_stopped(&file) {
        assert!(
            std::time::Instant::now() < until,
            "the child outlived its job"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Whether a test of an event's delivery may go on: `false` (said on the
/// terminal) when the platform could not send it, as Wine 8 cannot send
/// Ctrl-Break; a failure instead under `CLEANUP_REQUIRE_CONSOLE_EVENTS=1`.
fn delivered(test: &str, ended: &Ended, refused: &str) -> bool {
    if !ended.stderr.contains(refused) {
        return true;
    }
    if std::env::var_os(REQUIRE_EVENTS).is_some_and(|value| value == "1") {
        panic!("the event was not delivered ({REQUIRE_EVENTS}=1)\n{ended}");
    }
    let line = format!(
        "\ntests/windows.rs: `{test}` SKIPPED past the send: this Windows (Wine 8?) \
         cannot send Ctrl-Break; needs a real Windows ({REQUIRE_EVENTS}=1 there)\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
    false
}

/// A child started in a process group of its own is taken for its group's
/// leader, and one in ours is not (read from their process parameters);
/// the shutdown sends the leader Ctrl-Break, and the `cleanup` child runs
/// its cleanups in order and ends as Ctrl-C's default would. Wine 8 cannot
/// send Ctrl-Break: there the program says it could not, and the rest needs
/// a real Windows.
#[test]
fn a_child_in_its_own_process_group_is_sent_ctrl_break() {
    let Some(spawn) = wine("groups", &["groups"]) else {
        return;
    };
    let mut running = spawn.start_ready();
    running.signal(SIGINT);
    let line = running.wait_stderr("SIGBREAK to");
    if line.contains("could not send") {
        // Not delivered (Wine 8): end the wait for the child at once.
        running.wait_stderr("SIGINT received");
        running.signal(SIGINT);
    }
    let ended = running.finish();
    ended.assert_once_in_order(&[
        "leader leads its group: true",
        "plain leads its group: false",
    ]);
    if !delivered(
        "a_child_in_its_own_process_group_is_sent_ctrl_break",
        &ended,
        "could not send SIGBREAK to child",
    ) {
        return;
    }
    ended
        .assert_stderr_contains("forwarding SIGBREAK to 1 child")
        .assert_stderr_contains("SIGBREAK received")
        .assert_once_in_order(&[
            "child: guard:b",
            "child: guard:a",
            "child: finalizer:b",
            "child: finalizer:a",
        ])
        .assert_code(CONTROL_C_EXIT);
}
