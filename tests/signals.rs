//! Signals meeting other signal users and critical sections: handlers set by
//! other code before or after ours all run (signal-hook chains), and a shield
//! lets a critical section finish before the program notices the shutdown.

mod common;

use common::{Spawn, SIGTERM};

#[test]
fn a_handler_registered_with_signal_hook_after_ours_runs_and_so_does_our_shutdown() {
    let mut running = Spawn::fixture("hook_after").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        // The library's flag was set by its own handler, before ours ended
        // the process; and ours ran the cleanups.
        .assert_once_in_order(&["guard:a", "stack:main", "finalizer:library-flag=true"]);
}

#[test]
fn a_raw_sigaction_handler_installed_before_ours_still_runs_and_our_shutdown_happens() {
    let mut running = Spawn::fixture("hook_before").arg("raw").start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&["guard:a", "stack:main", "finalizer:earlier-handler=true"]);
}

#[test]
fn a_signal_hook_handler_registered_before_ours_still_runs_and_our_shutdown_happens() {
    let mut running = Spawn::fixture("hook_before")
        .arg("signal-hook")
        .start_ready();
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&["guard:a", "stack:main", "finalizer:earlier-handler=true"]);
}

#[test]
fn sigterm_inside_a_shield_lets_every_step_finish_then_main_notices_after_the_shield() {
    let mut running = Spawn::fixture("exit_paths").arg("shield").start_ready();
    // The fixture is inside its shield, at step 1, waiting for the signal.
    running.wait_stdout("step:1");
    running.signal(SIGTERM);
    running
        .finish()
        .assert_killed_by(SIGTERM)
        .assert_once_in_order(&[
            "step:1",
            // The truth is told inside the shield…
            "inside:shutting_down=true",
            // …but `checkpoint()` and `sleep()` said Ok, so the steps went on.
            "step:2",
            "step:3",
            "shield:dropped",
            // The first checkpoint after the shield returned `Err(Shutdown)`.
            "guard:b",
            "guard:a",
            "stack:main",
            "finalizer:b",
            "finalizer:a",
        ])
        .assert_absent(&["BUG: checkpoint after the shield said Ok"]);
}
