//! Threads and the shutdown, with real processes and real signals: the token's
//! future on an executor that is not tokio's, and the workers of
//! `cleanup::thread::spawn`, which are joined within the budget before the
//! cleanups run.
//!
//! The fixtures are `tests/fixtures/token_executor.rs` and
//! `tests/fixtures/threads.rs`; both hold a stack value `main`, and (but for
//! `token_executor bare`) guard `a` and finalizer `a`.

mod common;

use std::time::Duration;

use common::{fixture_line, Spawn, MARGIN, SIGINT, SIGTERM, TIMEOUT, TIMEOUT_SECS};

/// The deadline given with `CLEANUP_TIMEOUT`, plus a generous margin.
fn deadline_and_margin() -> Duration {
    Duration::from_secs(TIMEOUT_SECS) + MARGIN
}

// ---- token().cancelled() on a minimal executor ------------------------------------

#[test]
fn sigterm_completes_the_tokens_future_on_pollster_and_main_returns_and_dies_by_sigterm() {
    let mut running = Spawn::fixture("token_executor")
        .arg("registered")
        .start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&["main:woke", "guard:a", "stack:main", "finalizer:a"]);
}

#[test]
fn the_tokens_future_on_pollster_wakes_when_nothing_else_is_registered() {
    // No guard, no finalizer: nothing but the future has asked for the
    // thread that wakes it.
    for sig in [SIGTERM, SIGINT] {
        let mut running = Spawn::fixture("token_executor").arg("bare").start_ready();
        running.signal(sig);
        running
            .finish()
            .assert_killed_by(sig)
            .assert_once_in_order(&["main:woke", "stack:main"]);
    }
}

// ---- the first cleanup ----------------------------------------------------------------

#[test]
fn the_first_cleanup_made_while_other_threads_run_does_not_wait_for_the_kernel() {
    // The registry's process-wide barrier (`membarrier(2)` on Linux) is
    // registered before `main`'s body: registered by the first cleanup once
    // a second thread runs, it waited for an RCU grace period, 10 to 24 ms
    // here. Made now, the first guard takes about 0.1 ms; the
    // best of three runs keeps a noisy machine from failing this.
    let best = (0..3)
        .map(|_| {
            let ended = Spawn::fixture("threads").arg("first-guard-threaded").run();
            ended.assert_code(0).assert_once(&["guard:first"]);
            ended.number("first_guard_us:")
        })
        .min()
        .expect("three runs");
    assert!(
        best < 2_000,
        "the first guard took {best} us in the best of three runs"
    );
}

// ---- cleanup::thread::spawn ---------------------------------------------------------

#[test]
fn sigterm_stops_cooperative_workers_and_joins_them_before_any_finalizer_runs() {
    let mut running = Spawn::fixture("threads").arg("cooperative").start_ready();
    running.signal(SIGTERM);
    let ended = running.finish();
    ended
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&["guard:a", "stack:main", "finalizer:a"]);
    for n in [1, 2] {
        // Each worker returns, its guard runs, and only then the finalizers.
        ended.assert_once_in_order(&[
            &format!("worker:{n}:stopped"),
            &format!("guard:worker:{n}"),
            "finalizer:a",
        ]);
    }
    ended
        .assert_stderr_lacks("left behind")
        .assert_stderr_lacks("did not return");
}

#[test]
fn a_worker_that_ignores_the_token_is_named_and_left_behind_and_the_cleanups_still_run() {
    // Several runs at once: main's thread gives up on the worker at the very
    // moment the runtime's watchdog gives up on main, so what the log says
    // must hold every time, not most times.
    let mut runs: Vec<_> = (0..IGNORES_RUNS)
        .map(|_| {
            Spawn::fixture("threads")
                .arg("ignores")
                .short_timeout()
                .start_ready()
        })
        .collect();
    let named = format!(
        "worker thread spawned at tests/fixtures/threads.rs:{}:",
        fixture_line("threads.rs", "at: stuck-worker")
    );
    let (mut unnamed, mut blamed) = (0, 0);
    let mut first_wrong = None;
    for running in &mut runs {
        running.signal(SIGTERM);
    }
    for running in runs {
        let ended = running.finish();
        // What must hold; the first run that breaks one is shown whole.
        ended
            .assert_killed_by(SIGTERM)
            .assert_ended_within(deadline_and_margin())
            // The worker that did look at the token still stopped in time.
            .assert_once_in_order(&["worker:1:stopped", "guard:worker:1", "finalizer:a"])
            .assert_once_in_order(&["guard:a", "stack:main", "finalizer:a"])
            .assert_stderr_contains(&format!("shutdown: SIGTERM received, draining ({TIMEOUT})"))
            .assert_stderr_contains("exiting by SIGTERM");
        let names_it = ended
            .stderr
            .lines()
            .any(|line| line.contains(&named) && line.contains("left behind"));
        // main returned at once; it is the worker that overstayed.
        let blames_main = ended.stderr.contains("main did not return");
        unnamed += usize::from(!names_it);
        blamed += usize::from(blames_main);
        if !names_it || blames_main {
            first_wrong.get_or_insert(ended);
        }
    }
    if let Some(ended) = first_wrong {
        panic!(
            "of {IGNORES_RUNS} runs, {unnamed} did not name `{named}…` as left behind \
             and {blamed} said main did not return (it had); the first of them:\n{ended}"
        );
    }
}

/// `main` returns while a worker takes a second and a half: the progress
/// line that comes meanwhile follows a line saying the shutdown began, and
/// an end line closes it.
#[test]
fn a_shutdown_that_main_began_says_so_before_its_progress_lines() {
    let ended = Spawn::fixture("threads")
        .arg("slow-worker")
        .start_ready()
        .finish();
    ended
        .assert_code(0)
        .assert_once_in_order(&["worker:slow:returned", "finalizer:a"])
        .assert_stderr_contains("waiting for worker threads to finish");
    let lines: Vec<&str> = ended.stderr.lines().collect();
    let began = lines
        .iter()
        .position(|line| line.contains("shutdown: main returned, draining ("));
    let waiting = lines
        .iter()
        .position(|line| line.contains("waiting for worker threads to finish"));
    assert!(
        began.is_some() && began < waiting,
        "no start line before the progress line\n{ended}"
    );
    ended.assert_stderr_contains("shutdown: done in");
}

/// Runs of the `ignores` scenario, all at once: enough that a race between
/// main's thread and the watchdog shows up nearly every time.
const IGNORES_RUNS: usize = 12;

#[test]
fn a_worker_joined_by_main_itself_returns_its_value() {
    Spawn::fixture("threads")
        .arg("join")
        .run()
        .assert_code(0)
        .assert_once_in_order(&["joined:42", "guard:a", "stack:main", "finalizer:a"])
        .assert_stderr_lacks("left behind");
}

#[test]
fn a_worker_joined_by_main_after_sigterm_returns_its_value_and_main_dies_by_sigterm() {
    let mut running = Spawn::fixture("threads")
        .arg("join-after-signal")
        .start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&[
            "joined:stopped-by-token",
            "guard:a",
            "stack:main",
            "finalizer:a",
        ])
        .assert_stderr_lacks("left behind");
}
