//! The options of `#[graceful_main]`, and the run-time override of the timeout.

use std::time::Duration;


/// The environment variable that overrides the `timeout` option at run time,
/// so operators can fit the deadline under an orchestrator's grace period:
/// with a unit (`25s`, `1m30s`) or in plain seconds (`30`, `2.5`, as
/// Kubernetes writes `terminationGracePeriodSeconds`). A value that does not
/// parse is reported on stderr and the compiled-in `timeout` is kept.
///
/// ```
/// use std::process::Command;
///
/// // A supervisor gives the program it starts 30 s, without a rebuild.
/// let mut server = Command::new("my-server");
/// server.env(cleanup::TIMEOUT_ENV, "30");
/// # assert_eq!(cleanup::TIMEOUT_ENV, "CLEANUP_TIMEOUT");
/// ```
pub const TIMEOUT_ENV: &str = "CLEANUP_TIMEOUT";

/// The environment variable that overrides the `drain_delay` option at run
/// time (`5s`, or plain seconds: `5`, `2.5`; `0` for none).
///
/// ```
/// use std::process::Command;
///
/// // Behind a Kubernetes Service: keep serving 5 s after SIGTERM.
/// let mut server = Command::new("my-server");
/// server.env(cleanup::DRAIN_DELAY_ENV, "5s");
/// # assert_eq!(cleanup::DRAIN_DELAY_ENV, "CLEANUP_DRAIN_DELAY");
/// ```
pub const DRAIN_DELAY_ENV: &str = "CLEANUP_DRAIN_DELAY";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// TERM, INT and HUP (on Windows, BREAK instead of HUP).
const DEFAULT_SIGNALS: &[i32] = crate::sys::signals::DEFAULT;

/// How the process reports a signal-triggered shutdown to its parent.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Restore the default action and re-raise the signal (`WIFSIGNALED`).
    Signal,
    /// Exit with `128 + n`, the shell's convention, as a plain exit code.
    Code,
    /// Exit with 0 after a clean shutdown; non-zero if cleanup failed or the
    /// deadline was hit.
    Zero,
}

/// The settings `#[graceful_main]` passes to [`run`](crate::__private::run).
///
/// Built with `const` methods so the expansion stays one readable expression.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub(crate) timeout: Duration,
    /// How long the program keeps serving after the first signal before it
    /// sees the shutdown (Kubernetes: while the endpoints catch up).
    pub(crate) drain_delay: Duration,
    pub(crate) signals: &'static [i32],
    pub(crate) exit: Exit,
    pub(crate) quiet: bool,
    /// Whether a guardian process does the durable cleanups if the program
    /// dies without running them (SIGKILL, the OOM killer, a crash): its
    /// code, named only here, so a program without one links none of it
    /// (the guardian runs commands and removes trees: 43 more symbols for
    /// the dynamic loader to bind and 150 KB, 16 µs of every start).
    pub(crate) guardian: Option<Guardian>,
}

/// The guardian's two doors: serve (when this process is one), and start
/// one for this program. `#[graceful_main(guardian)]` passes
/// `__private::GUARDIAN`.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Guardian {
    pub(crate) serve_if_asked: fn(),
    pub(crate) start: fn(Duration),
}

impl std::fmt::Debug for Guardian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Guardian")
    }
}

impl Config {
    /// The defaults: 10 s, SIGTERM + SIGINT + SIGHUP (Windows: SIGBREAK for
    /// SIGHUP), re-raise, log on stderr.
    pub const fn new() -> Self {
        Config {
            timeout: DEFAULT_TIMEOUT,
            drain_delay: Duration::ZERO,
            signals: DEFAULT_SIGNALS,
            exit: Exit::Signal,
            quiet: false,
            guardian: None,
        }
    }

    pub const fn timeout_ms(mut self, ms: u64) -> Self {
        self.timeout = Duration::from_millis(ms);
        self
    }

    pub const fn drain_delay_ms(mut self, ms: u64) -> Self {
        self.drain_delay = Duration::from_millis(ms);
        self
    }

    pub const fn signals(mut self, signals: &'static [i32]) -> Self {
        self.signals = signals;
        self
    }

    pub const fn exit(mut self, exit: Exit) -> Self {
        self.exit = exit;
        self
    }

    pub const fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    pub const fn guardian(mut self, guardian: Guardian) -> Self {
        self.guardian = Some(guardian);
        self
    }

    /// Applies `CLEANUP_TIMEOUT` and `CLEANUP_DRAIN_DELAY`; a value that
    /// does not parse keeps the compiled-in one and says so on stderr (a bad
    /// setting must never stop the program from starting).
    pub(crate) fn with_env(mut self) -> Self {
        if let Some(timeout) = from_env(TIMEOUT_ENV, self.timeout, parse_env_duration) {
            self.timeout = timeout;
        }
        let delay = from_env(DRAIN_DELAY_ENV, self.drain_delay, parse_env_delay);
        if let Some(delay) = delay {
            self.drain_delay = delay;
        }
        // The delay comes out of the deadline, which runs from the signal:
        // the cleanups need what is left after it.
        let time = crate::deadline::effective(self.timeout);
        if self.drain_delay >= time {
            let fallback = time / 2;
            crate::log::always(format_args!(
                "cleanup: a drain delay of {} leaves no time to clean up within the timeout \
                 of {}; using {}",
                crate::log::Secs(self.drain_delay),
                crate::log::Secs(self.timeout),
                crate::log::Secs(fallback)
            ));
            self.drain_delay = fallback;
        }
        self
    }
}

/// The variable `name`, parsed; `None` if unset or bad (then said on stderr,
/// keeping `current`).
fn from_env(
    name: &str,
    current: Duration,
    parse: impl Fn(&str) -> Result<Duration, String>,
) -> Option<Duration> {
    let raw = std::env::var_os(name)?;
    let text = raw.to_string_lossy();
    match parse(&text) {
        Ok(value) => Some(value),
        Err(why) => {
            crate::log::always(format_args!(
                "cleanup: ignoring {name}={text:?}: {why}; using {}",
                crate::log::Secs(current)
            ));
            None
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// `CLEANUP_TIMEOUT`: a duration as the `timeout` option takes it (`25s`,
/// `500ms`, `1m30s`), or plain seconds (`30`, `2.5`), as Kubernetes writes
/// `terminationGracePeriodSeconds`. The error is the parser's message, the
/// one the macro shows for the same text.
pub(crate) fn parse_env_duration(text: &str) -> Result<Duration, String> {
    match cleanup_duration::parse_env_millis(text) {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(error) => Err(error.to_string()),
    }
}

/// `CLEANUP_DRAIN_DELAY`: the same, and zero (`0`, `0s`) for no delay.
pub(crate) fn parse_env_delay(text: &str) -> Result<Duration, String> {
    match cleanup_duration::parse_env_millis(text) {
        Ok(ms) => Ok(Duration::from_millis(ms)),
        Err(error) if error.is_zero() => Ok(Duration::ZERO),
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The grammar and its messages are tested in cleanup-duration; these
    // are what the two variables make of it.

    #[test]
    fn the_timeout_takes_a_unit_or_plain_seconds() {
        assert_eq!(parse_env_duration("25s"), Ok(Duration::from_secs(25)));
        assert_eq!(parse_env_duration(" 1m30s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse_env_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_env_duration(" 2.5 "), Ok(Duration::from_millis(2500)));
        // As `timeout = "1.5s"` in the attribute.
        assert_eq!(parse_env_duration("1.5s"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn the_timeout_is_refused_as_the_attribute_refuses_it() {
        // Whole milliseconds, exactly: not rounded to 2 ms.
        assert_eq!(
            parse_env_duration("1.5ms"),
            Err("`1.5ms` is not a whole number of milliseconds".into())
        );
        for zero in ["0", "0s", "0ms", "0.0"] {
            assert_eq!(
                parse_env_duration(zero),
                Err("a zero timeout would skip all cleanup, use at least `1ms`".into()),
                "{zero:?}"
            );
        }
        assert_eq!(
            parse_env_duration("10 secs"),
            Err(
                "`10 secs` is not a duration: write a number and a unit with no space \
                 between, the units are `ms`, `s`, `m` and `h`, such as `10s`"
                    .into()
            )
        );
        for bad in ["", "abc", "10x", "s", "1..5s", "-1s", "0.1ms", "1.2.3", ".", "1m30"] {
            assert!(parse_env_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_drain_delay_takes_zero_for_none() {
        for zero in ["0", "0s", "0ms", "0.0", "0m0s"] {
            assert_eq!(parse_env_delay(zero), Ok(Duration::ZERO), "{zero:?}");
        }
        assert_eq!(parse_env_delay("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_env_delay("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(
            parse_env_delay("soon"),
            Err(
                "`soon` is not a duration: write a number and a unit, the units are `ms`, \
                 `s`, `m` and `h`, such as `25s` or `1m30s`, or plain seconds such as `25`"
                    .into()
            )
        );
    }
}
