//! `fn main() -> anyhow::Result<()>` and `eyre::Result<()>` under
//! `#[graceful_main]` (features `anyhow`, `eyre`), with real processes and
//! real signals. A `Shutdown` inside their error types, under context too,
//! ends `main` as `Err(Shutdown)` does: no `Error:` line, killed by the
//! signal (or 0 with `exit = "zero"`), and 0 after `request_shutdown()`. A
//! real error, or a `Shutdown` made by hand with no shutdown under way, is
//! reported as std reports it.
//!
//! The fixtures are `integration/fixtures/errors_anyhow.rs` and
//! `errors_eyre.rs`, the same scenarios for each crate.

#[path = "../../tests/common/mod.rs"]
mod common;

use common::{Spawn, SIGTERM};

/// What std's `Termination` prints for an `Err` returned from `main`.
const ERROR_LINE: &str = "Error:";

/// Starts `scenario` (under the `main` named by `variant`, if any), waits
/// for `ready`, sends SIGTERM.
fn terminated(fixture: &str, scenario: &str, variant: Option<&str>) -> common::Ended {
    let mut spawn = Spawn::fixture(fixture).arg(scenario);
    if let Some(variant) = variant {
        spawn = spawn.arg(variant);
    }
    let mut running = spawn.start_ready();
    running.signal(SIGTERM);
    running.finish()
}

/// The same scenarios for each error crate.
macro_rules! scenarios {
    ($module:ident, $fixture:literal) => {
        mod $module {
            use super::*;

            const FIXTURE: &str = $fixture;

            #[test]
            fn sigterm_while_main_sleeps_with_question_mark_dies_by_sigterm_without_an_error_line()
            {
                terminated(FIXTURE, "sleep", None)
                    .assert_killed_by(SIGTERM)
                    .assert_once(&["guard:a"])
                    .assert_stderr_lacks(ERROR_LINE);
            }

            #[test]
            fn sigterm_under_a_layer_of_context_dies_by_sigterm_without_an_error_line() {
                terminated(FIXTURE, "context", None)
                    .assert_killed_by(SIGTERM)
                    .assert_once(&["guard:a"])
                    .assert_stderr_lacks(ERROR_LINE)
                    .assert_stderr_lacks("while waiting for work");
            }

            #[test]
            fn sigterm_under_several_layers_of_context_dies_by_sigterm_without_an_error_line() {
                terminated(FIXTURE, "layers", None)
                    .assert_killed_by(SIGTERM)
                    .assert_once(&["guard:a"])
                    .assert_stderr_lacks(ERROR_LINE)
                    .assert_stderr_lacks("nightly job");
            }

            #[test]
            fn request_shutdown_then_question_mark_under_context_exits_zero_without_an_error_line()
            {
                Spawn::fixture(FIXTURE)
                    .arg("requested")
                    .run()
                    .assert_code(0)
                    .assert_once(&["guard:a"])
                    .assert_stderr_lacks(ERROR_LINE);
            }

            #[test]
            fn exit_zero_and_sigterm_exits_zero_without_an_error_line() {
                terminated(FIXTURE, "sleep", Some("zero"))
                    .assert_code(0)
                    .assert_once(&["guard:a"])
                    .assert_stderr_lacks(ERROR_LINE);
                terminated(FIXTURE, "context", Some("zero"))
                    .assert_code(0)
                    .assert_once(&["guard:a"])
                    .assert_stderr_lacks(ERROR_LINE);
            }

            #[test]
            fn a_real_error_exits_one_with_std_error_line() {
                Spawn::fixture(FIXTURE)
                    .arg("error")
                    .run()
                    .assert_code(1)
                    .assert_once(&["guard:a"])
                    .assert_stderr_contains("Error: while saving the report")
                    .assert_stderr_contains("disk full");
            }

            #[test]
            fn a_shutdown_error_made_by_hand_outside_a_shutdown_is_an_ordinary_error() {
                Spawn::fixture(FIXTURE)
                    .arg("handmade")
                    .run()
                    .assert_code(1)
                    .assert_once(&["guard:a"])
                    .assert_stderr_contains("Error: made up");
            }

            #[cfg(feature = "tokio")]
            #[test]
            fn async_main_sigterm_under_context_dies_by_sigterm_without_an_error_line() {
                terminated(FIXTURE, "context", Some("async"))
                    .assert_killed_by(SIGTERM)
                    .assert_once(&["guard:a"])
                    .assert_stderr_lacks(ERROR_LINE);
            }

            #[cfg(feature = "tokio")]
            #[test]
            fn async_main_request_shutdown_exits_zero_without_an_error_line() {
                Spawn::fixture(FIXTURE)
                    .arg("requested")
                    .arg("async")
                    .run()
                    .assert_code(0)
                    .assert_once(&["guard:a"])
                    .assert_stderr_lacks(ERROR_LINE);
            }
        }
    };
}

scenarios!(anyhow, "errors_anyhow");
scenarios!(eyre, "errors_eyre");
