//! The options of `#[graceful_main]`, and the run-time override of the timeout.

use std::time::Duration;

use libc::c_int;

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
const DEFAULT_SIGNALS: &[c_int] = &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

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
    pub(crate) signals: &'static [c_int],
    pub(crate) exit: Exit,
    pub(crate) quiet: bool,
    /// Whether a guardian process does the durable cleanups if the program
    /// dies without running them (SIGKILL, the OOM killer, a crash).
    pub(crate) guardian: bool,
}

impl Config {
    /// The defaults: 10 s, SIGTERM + SIGINT + SIGHUP, re-raise, log on stderr.
    pub const fn new() -> Self {
        Config {
            timeout: DEFAULT_TIMEOUT,
            drain_delay: Duration::ZERO,
            signals: DEFAULT_SIGNALS,
            exit: Exit::Signal,
            quiet: false,
            guardian: false,
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

    pub const fn signals(mut self, signals: &'static [c_int]) -> Self {
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

    pub const fn guardian(mut self) -> Self {
        self.guardian = true;
        self
    }

    /// Applies `CLEANUP_TIMEOUT` and `CLEANUP_DRAIN_DELAY`; a value that
    /// does not parse keeps the compiled-in one and says so on stderr (a bad
    /// setting must never stop the program from starting).
    pub(crate) fn with_env(mut self) -> Self {
        if let Some(timeout) = from_env(TIMEOUT_ENV, self.timeout, parse_env_duration) {
            self.timeout = timeout;
        }
        let delay = from_env(DRAIN_DELAY_ENV, self.drain_delay, |text| {
            match text.trim() {
                "0" | "0s" | "0ms" => Ok(Duration::ZERO),
                _ => parse_env_duration(text),
            }
        });
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

/// A duration from the environment: `10s`, `500ms`, `1m30s`, or plain
/// seconds (`30`, `2.5`), as Kubernetes writes `terminationGracePeriodSeconds`.
pub(crate) fn parse_env_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let plain_seconds = !trimmed.is_empty()
        && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.')
        && trimmed.chars().any(|c| c.is_ascii_digit());
    if plain_seconds {
        return parse_duration(&format!("{trimmed}s"));
    }
    parse_duration(text)
}

/// Parses `10s`, `500ms`, `1.5s`, `2m`, `1h`, `1m30s`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    // The value is quoted before this in the line on stderr. No `30s` in the
    // examples: the line ends with the timeout kept, often that one.
    const EXPECTED: &str = "write a number and a unit with no space between, the units are \
                            `ms`, `s`, `m` and `h`, such as `25s`, `500ms` or `1m15s`, or \
                            plain seconds such as `25`";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty value, {EXPECTED}"));
    }
    if text.contains(char::is_whitespace) {
        return Err(format!("not a duration, {EXPECTED}"));
    }
    let mut total_ms = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let unit_len = rest[number_len..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len() - number_len);
        let (number, unit) = (
            &rest[..number_len],
            &rest[number_len..number_len + unit_len],
        );
        let value: f64 = number
            .parse()
            .map_err(|_| format!("not a duration, {EXPECTED}"))?;
        let scale = match unit {
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            "" => return Err(format!("missing unit, {EXPECTED}")),
            other => return Err(format!("unknown unit `{other}`, {EXPECTED}")),
        };
        total_ms += value * scale;
        rest = &rest[number_len + unit_len..];
    }
    if !total_ms.is_finite() || total_ms > u64::MAX as f64 {
        return Err(format!("too large, {EXPECTED}"));
    }
    if total_ms < 1.0 {
        return Err(format!(
            "shorter than 1ms, which would skip every cleanup; {EXPECTED}"
        ));
    }
    Ok(Duration::from_millis(total_ms.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_duration("25s"), Ok(Duration::from_secs(25)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration(" 1m30s "), Ok(Duration::from_secs(90)));
    }

    #[test]
    fn rejects_with_a_reason() {
        for bad in ["", "abc", "10x", "s", "1..5s", "-1s", "0s", "0.1ms", "0", "1.2.3", "."] {
            let err = parse_env_duration(bad).unwrap_err();
            assert!(err.contains("such as `25s`"), "{bad:?}: {err}");
        }
        // A unit is required in code (the attribute), not in the environment.
        assert!(parse_duration("10").is_err());
    }

    #[test]
    fn a_bad_value_is_told_the_form_and_the_units() {
        let expected = "write a number and a unit with no space between, the units are `ms`, \
                        `s`, `m` and `h`, such as `25s`, `500ms` or `1m15s`, or plain seconds \
                        such as `25`";
        for (bad, why) in [
            ("10 secs", "not a duration"),
            ("1m 30s", "not a duration"),
            ("10 s", "not a duration"),
            ("-1s", "not a duration"),
            ("soon", "not a duration"),
            ("10secs", "unknown unit `secs`"),
            ("5min", "unknown unit `min`"),
            ("  ", "empty value"),
        ] {
            assert_eq!(
                parse_env_duration(bad),
                Err(format!("{why}, {expected}")),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_duration("1m30"),
            Err(format!("missing unit, {expected}"))
        );
    }

    #[test]
    fn the_environment_takes_plain_seconds() {
        assert_eq!(parse_env_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_env_duration(" 2.5 "), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_env_duration("25s"), Ok(Duration::from_secs(25)));
    }
}
