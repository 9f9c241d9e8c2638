//! Children started with `cleanup::spawn`, with real processes and real
//! signals: on shutdown the signal is forwarded to each (to its process
//! group when it leads one), the runtime waits for them within the body's
//! share of the budget, then SIGKILLs and reaps the rest — no orphans, no
//! zombies; as PID 1 it also reaps the orphans the kernel hands it.
//!
//! The fixture is `tests/fixtures/children.rs`. It holds guard `a`,
//! finalizer `a` and a stack value `main`, prints `child:<pid>` for each
//! child it starts, and, from a finalizer, `reaped:<pid>` (or `zombie:` or
//! `running:`) for what became of each by the time the cleanups ran. The Ctrl-C
//! cases, which need a real terminal, are in `tests/terminal.rs`.

mod common;

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    fixture_path, proc_children, Ended, ProcStat, Process, Profile, Running, Spawn, MARGIN, SIGINT,
    SIGKILL, SIGTERM, TIMEOUT_SECS,
};

const FIXTURE: &str = "children";

/// What the fixture's `main` holds, each printed once on an orderly end.
const PARENT_CLEANUPS: [&str; 3] = ["guard:a", "stack:main", "finalizer:a"];

/// How long the processes the fixture's child started may take to die
/// once the fixture has ended.
const GONE_WITHIN: Duration = Duration::from_secs(10);

fn scenario(name: &str) -> Spawn {
    Spawn::fixture(FIXTURE).arg(name)
}

/// The pid in the `child:<pid>` line the fixture printed.
#[track_caller]
fn child_pid(running: &mut Running) -> libc::pid_t {
    let line = running.wait_stdout_starting("child:");
    line["child:".len()..]
        .parse()
        .unwrap_or_else(|err| panic!("bad line `{line}`: {err}"))
}

/// The child `sh` and its children, listed while they run. The shell
/// forks its two `sleep`s before it prints `started`, and the fixture
/// prints `ready` only after that line.
#[track_caller]
fn shell_and_sleeps(shell: libc::pid_t, sleeps: usize) -> Vec<Process> {
    let mut tree = vec![Process::of(shell, "sh")];
    let children = proc_children(shell);
    assert_eq!(
        children.len(),
        sleeps,
        "expected {sleeps} children of sh {shell}, found {children:?}"
    );
    tree.extend(children.into_iter().map(|pid| Process::of(pid, "sleep")));
    tree
}

/// Checks that nothing of `tree` (the fixture's child first, then the
/// child's children) is left once the fixture has ended. The child must be
/// gone at once: the fixture reaped it before it exited. Its children are
/// polled for until each is gone or dead — a zombie whose parent is outside
/// the tree: it lost its parent, the child, and reaping it falls to the
/// system's init (this machine's takes up to 2 s; a container's PID 1 that
/// never reaps would take forever, which is no fault of the fixture's).
#[track_caller]
fn assert_tree_gone(tree: &[Process], ended: &Ended) {
    let describe = |process: &Process, stat: ProcStat| {
        format!(
            "{} {}: state {}, parent {}",
            process.what, process.pid, stat.state, stat.ppid
        )
    };
    let (child, grandchildren) = tree.split_first().expect("the child, at least");
    if let Some(stat) = child.stat() {
        panic!(
            "the fixture ended without reaping its child:\n{}\n{ended}",
            describe(child, stat)
        );
    }
    let in_tree = |pid: libc::pid_t| tree.iter().any(|process| process.pid == pid);
    let until = Instant::now() + GONE_WITHIN;
    loop {
        let left: Vec<String> = grandchildren
            .iter()
            .filter_map(|process| Some((process, process.stat()?)))
            .filter(|(_, stat)| stat.state != 'Z' || in_tree(stat.ppid))
            .map(|(process, stat)| describe(process, stat))
            .collect();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= until {
            panic!(
                "{GONE_WITHIN:?} after the fixture ended, these still live:\n{}\n{ended}",
                left.join("\n")
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A stderr line that names `pid` as a number of its own (not `12` in `123`).
#[track_caller]
fn assert_stderr_names(ended: &Ended, pid: libc::pid_t) {
    let pid = pid.to_string();
    let names = |line: &str| {
        line.split(|c: char| !c.is_ascii_digit())
            .any(|word| word == pid)
    };
    assert!(
        ended.stderr.lines().any(names),
        "expected a stderr line naming pid {pid}\n{ended}"
    );
}

// ---- forwarding ------------------------------------------------------------

#[test]
fn sigterm_reaches_a_childs_whole_group_and_leaves_no_process_behind() {
    let mut running = scenario("tree").start_ready();
    let shell = child_pid(&mut running);
    let tree = shell_and_sleeps(shell, 2);
    running.signal(SIGTERM);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_stderr_contains("shutdown: forwarding SIGTERM to 1 child")
        .assert_once(&PARENT_CLEANUPS)
        // The fixture's last finalizer saw its child reaped already.
        .assert_once(&[&format!("reaped:{shell}")]);
    assert_tree_gone(&tree, &ended);
}

#[test]
fn a_child_that_ignores_sigterm_is_killed_and_reaped_within_the_budget_and_named() {
    let mut running = scenario("stubborn").short_timeout().start_ready();
    let shell = child_pid(&mut running);
    let tree = shell_and_sleeps(shell, 1);
    running.signal(SIGTERM);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_ended_within(Duration::from_secs(TIMEOUT_SECS) + MARGIN)
        .assert_stderr_contains("shutdown: forwarding SIGTERM to 1 child")
        .assert_once(&PARENT_CLEANUPS)
        // Killed and reaped before the cleanups ran, within the budget.
        .assert_once(&[&format!("reaped:{shell}")]);
    assert_stderr_names(&ended, shell);
    assert_tree_gone(&tree, &ended);
}

/// The child is this fixture too (`inner`): its own guard and finalizer
/// must run exactly once, then the parent's, after the child has ended.
#[track_caller]
fn assert_child_then_parent_cleaned_up(ended: &Ended, sig: &str) {
    ended
        .assert_once_in_order(&[
            "child-ready",
            "ready",
            "child-guard",
            "child-finalizer",
            &format!("child-status:killed by {sig}"),
            "guard:a",
            "finalizer:a",
        ])
        .assert_once(&["stack:main"])
        .assert_stderr_contains(&format!("shutdown: forwarding {sig} to 1 child"));
}

#[test]
fn sigterm_is_forwarded_to_a_child_in_its_own_group_whose_cleanups_run_once() {
    let mut running = scenario("self-group").start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended.assert_killed_by(SIGTERM);
    assert_child_then_parent_cleaned_up(&ended, "SIGTERM");
    // The child plans with the time its parent waits for it (7.125 s of the
    // parent's 10 s), not the parent's own.
    ended.assert_stderr_contains("]: shutdown: SIGTERM received, draining (7.1s)");
}

#[test]
fn sigterm_from_a_process_is_forwarded_to_a_child_in_our_group() {
    // Only a terminal's signal reaches the whole group by itself; one sent
    // with kill() reaches the parent alone and must be passed on. (The
    // fixture leads a group of its own: a signal sent to the group by
    // mistake cannot reach the test runner.)
    let mut running = scenario("self").own_process_group().start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended.assert_killed_by(SIGTERM);
    assert_child_then_parent_cleaned_up(&ended, "SIGTERM");
}

#[test]
fn sigint_reaches_a_child_in_our_group_as_sigterm_never_a_second_sigint() {
    // The child may have had the group's SIGINT already (`kill -INT -PGID`,
    // a terminal): a second SIGINT would force it to stop without cleanup.
    let mut running = scenario("self").own_process_group().start_ready();
    running.signal(SIGINT);
    let ended = running.finish();
    ended.assert_killed_by(SIGINT);
    assert_child_then_parent_cleaned_up(&ended, "SIGTERM");
}

#[test]
fn a_sigint_to_the_whole_tree_does_not_force_a_child_in_its_own_group() {
    // pm2 (`treekill`) sends SIGINT to every process of the tree: the child
    // in its own group gets it from pm2, then again from its parent, which
    // forwards its own. That is one stop, not a person's second Ctrl-C.
    let mut running = scenario("self-group").start();
    let child = child_pid(&mut running);
    running.wait_stdout("ready");
    running.signal_pid(child, SIGINT);
    running.signal(SIGINT);
    let ended = running.finish();
    // (The child may be done before its parent looks: then there is
    // nothing left to forward, and no line says so.)
    ended
        .assert_killed_by(SIGINT)
        .assert_once_in_order(&[
            "child-guard",
            "child-finalizer",
            "child-status:killed by SIGINT",
            "guard:a",
            "finalizer:a",
        ])
        .assert_stderr_lacks("exiting now without cleanup");
}

/// Linux's parent-death signal (FreeBSD has one too). The portable backend,
/// what macOS runs, has none: there the guardian kills a SIGKILLed
/// program's children (`tests/guardian.rs`), and this cannot hold.
#[test]
#[cfg_attr(
    cleanup_portable,
    ignore = "no parent-death signal in the portable backend (as on macOS): the guardian covers it"
)]
fn a_child_never_outlives_a_sigkilled_parent_even_one_started_from_an_ended_thread() {
    // `timeout -k`, a Heroku-like group kill: nothing runs in the parent,
    // and a child in its own group is not in the killed group either.
    let mut running = scenario("from-worker").start_ready();
    let pid = child_pid(&mut running);
    // The thread that started it ended; the child did not die with it.
    running.wait_stdout(&format!("after-worker:running:{pid}"));
    let child = Process::of(pid, "sleep");
    running.signal(SIGKILL);
    let ended = running.finish();
    ended.assert_killed_by(SIGKILL);
    // Killed by its death signal; reaped by init, which may take a moment.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while child.stat().is_some_and(|stat| stat.state != 'Z') {
        assert!(
            std::time::Instant::now() < until,
            "the child {pid} outlived its SIGKILLed parent\n{ended}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- an orchestrator: coreutils `timeout` ------------------------------------

#[test]
fn timeout_sends_sigterm_and_the_slow_finalizer_finishes_before_the_kill() {
    if let Err(why) = Command::new("timeout")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
    {
        eprintln!("skipped: cannot run `timeout`: {why}");
        return;
    }
    // SIGTERM at 1 s; SIGKILL 5 s later, if it is still running then.
    let ended = Spawn::program("timeout", "timeout")
        .arg("-k")
        .arg("5")
        .arg("1")
        .arg(fixture_path(FIXTURE, Profile::Current))
        .arg("finalizer-slow")
        .run();
    eprintln!(
        "`timeout -k 5 1 … finalizer-slow` ended {:?} after its start",
        ended.run_time
    );
    let sleep = ended
        .stdout
        .iter()
        .find_map(|line| line.strip_prefix("child:"))
        .unwrap_or_else(|| panic!("no `child:` line\n{ended}"))
        .to_owned();
    ended
        // 124: it timed out and signalled the command, which then ended;
        // 137 would mean it had to SIGKILL it.
        .assert_code(124)
        .assert_once_in_order(&["finalizer:slow:start", "finalizer:slow:end"])
        .assert_once(&PARENT_CLEANUPS)
        .assert_once(&[&format!("reaped:{sleep}")])
        .assert_stderr_contains("shutdown: forwarding SIGTERM to 1 child");
    assert!(
        ended.run_time < Duration::from_secs(6),
        "expected the end before timeout's SIGKILL at 6 s, took {:?}\n{ended}",
        ended.run_time
    );
}

// ---- as PID 1 of a PID namespace ---------------------------------------------

/// A PID namespace, as the tests of `tests/pid1.rs` make it: `/proc` stays
/// the one of the outer namespace, so its pids are not the fixture's.
const PID_NAMESPACE: &[&str] = &["--pid", "--fork", "--kill-child"];

/// A PID namespace with its own `/proc`, as a container has.
const PID_NAMESPACE_AND_PROC: &[&str] = &["--pid", "--fork", "--kill-child", "--mount-proc"];

/// Why `unshare <flags>` cannot be run here, if it cannot.
fn cannot_unshare(flags: &[&str]) -> Option<String> {
    match Command::new("unshare")
        .args(flags)
        .arg("true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Err(err) => Some(format!("cannot run `unshare`: {err}")),
        Ok(output) if !output.status.success() => Some(format!(
            "`unshare {} true` failed ({}): {}",
            flags.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Ok(_) => None,
    }
}

/// `unshare <flags> fixture_children <scenario>`.
fn as_pid_one(flags: &[&str], scenario: &str) -> Spawn {
    flags
        .iter()
        .fold(Spawn::program("unshare", "unshare"), |spawn, flag| {
            spawn.arg(flag)
        })
        .arg(fixture_path(FIXTURE, Profile::Current))
        .arg(scenario)
}

/// The pid, seen from here, of the one child `unshare` forked: the fixture,
/// PID 1 inside its namespace.
#[track_caller]
fn forked_child(running: &Running) -> libc::pid_t {
    let unshare = running.pid();
    match proc_children(unshare)[..] {
        [fixture] => fixture,
        ref other => panic!("expected one child of unshare {unshare}, found {other:?}"),
    }
}

/// The `orphan` scenario as PID 1 of a namespace made with `flags`.
fn orphan_is_reaped_and_sigterm_ends_it_with_143(flags: &[&str]) {
    if let Some(why) = cannot_unshare(flags) {
        eprintln!("skipped: {why}");
        return;
    }
    let mut running = as_pid_one(flags, "orphan").start_ready();
    let fixture = forked_child(&running);
    running.signal_pid(fixture, SIGTERM);
    running
        .finish()
        // `unshare` exits with its child's code: PID 1 cannot re-raise.
        .assert_code(143)
        .assert_once_in_order(&[
            "child-status:exited with code 0",
            // The shell's `sleep` became ours when the shell exited…
            "adopted:1",
            // …and was reaped once it ended.
            "children:0",
            "zombies:0",
            "ready",
        ])
        .assert_once(&PARENT_CLEANUPS);
}

#[test]
fn as_pid_1_an_orphaned_grandchild_is_reaped_and_sigterm_ends_it_with_143() {
    orphan_is_reaped_and_sigterm_ends_it_with_143(PID_NAMESPACE);
}

#[test]
fn as_pid_1_with_its_own_proc_an_orphaned_grandchild_is_reaped() {
    orphan_is_reaped_and_sigterm_ends_it_with_143(PID_NAMESPACE_AND_PROC);
}

#[test]
fn as_pid_1_a_container_stop_ends_in_well_under_its_grace_period() {
    if let Some(why) = cannot_unshare(PID_NAMESPACE) {
        eprintln!("skipped: {why}");
        return;
    }
    let mut running = as_pid_one(PID_NAMESPACE, "tree").start_ready();
    let shell = child_pid(&mut running);
    let fixture = forked_child(&running);
    // `docker stop`: SIGTERM to PID 1, SIGKILL 10 s later.
    running.signal_pid(fixture, SIGTERM);
    if !running.ends_within(Duration::from_secs(10)) {
        // `--kill-child`: the fixture dies with `unshare`.
        running.signal(SIGKILL);
    }
    let ended = running.finish();
    let took = ended.after_signal.expect("a signal was sent");
    eprintln!("container stop: ended {took:?} after SIGTERM");
    ended
        .assert_code(143)
        .assert_once(&PARENT_CLEANUPS)
        .assert_once(&[&format!("reaped:{shell}")])
        .assert_stderr_contains("shutdown: forwarding SIGTERM to 1 child")
        // Nothing to wait for: it should take milliseconds, not seconds.
        .assert_ended_within(Duration::from_secs(3));
}
