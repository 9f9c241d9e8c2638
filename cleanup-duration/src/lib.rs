//! The durations of [`cleanup`](https://docs.rs/graceful-cleanup): one parser
//! for `#[graceful_main(timeout = "1.5s")]`, read by the macro at compile
//! time, and for `CLEANUP_TIMEOUT=1.5s`, read by the runtime at start-up, so
//! that the two mean the same and are refused with the same words.
//!
//! Users do not need this crate: write the duration in the attribute or the
//! environment variable. It is a crate of its own because the macro crate
//! cannot call into the runtime and must not depend on it (that would build
//! the runtime for the host as well).
//!
//! The grammar is one or more `<number><unit>` parts with no space between,
//! the number an integer or a decimal, the unit `ms`, `s`, `m` or `h`:
//! `250ms`, `1.5s`, `1m30s`. The value must be a whole number of
//! milliseconds, above zero, and fit in a `u64`; the arithmetic is exact, so
//! `1.5ms` is refused rather than rounded. The environment also takes plain
//! seconds (`30`, `2.5`), as Kubernetes writes
//! `terminationGracePeriodSeconds`.
//!
//! ```
//! use cleanup_duration::{parse_env_millis, parse_millis};
//!
//! assert_eq!(parse_millis("1.5s"), Ok(1_500));
//! assert_eq!(parse_env_millis("1.5s"), Ok(1_500));
//! assert_eq!(parse_env_millis("30"), Ok(30_000));
//! assert!(parse_millis("30").is_err());
//! assert!(parse_env_millis("1.5ms").is_err());
//! ```

#![forbid(unsafe_code)]

use std::fmt;

/// A duration written in code (the attribute's `timeout = "…"`), in whole
/// milliseconds: `"10s"`, `"250ms"`, `"1.5s"`, `"1m30s"`. A unit is required.
///
/// The error is the message to show on the literal; when the text is close
/// to a duration (`10 secs`, `1m 30s`, `5min`) it shows the one meant.
///
/// ```
/// use cleanup_duration::parse_millis;
///
/// assert_eq!(parse_millis("1m30s"), Ok(90_000));
/// assert_eq!(
///     parse_millis("10 secs").unwrap_err().to_string(),
///     "`10 secs` is not a duration: write a number and a unit with no space between, \
///      the units are `ms`, `s`, `m` and `h`, such as `10s`"
/// );
/// ```
pub fn parse_millis(text: &str) -> Result<u64, Error> {
    parse(text, Source::Code)
}

/// A duration from the environment (`CLEANUP_TIMEOUT`,
/// `CLEANUP_DRAIN_DELAY`), in whole milliseconds: what [`parse_millis`]
/// takes, or plain seconds (`30`, `2.5`), the way orchestrators' manifests
/// write them.
///
/// ```
/// use cleanup_duration::parse_env_millis;
///
/// assert_eq!(parse_env_millis("2.5"), Ok(2_500));
/// assert_eq!(parse_env_millis("25s"), Ok(25_000));
/// // Zero is for the caller to allow: a drain delay of `0` is none.
/// assert!(parse_env_millis("0").unwrap_err().is_zero());
/// ```
pub fn parse_env_millis(text: &str) -> Result<u64, Error> {
    parse(text, Source::Env)
}

/// Why a text is not a duration; its `Display` is the message for the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
    zero: bool,
}

impl Error {
    /// The text is a well-formed duration of zero, refused because a zero
    /// timeout would skip every cleanup. A setting for which zero means
    /// "none" (the drain delay) takes it as 0.
    ///
    /// ```
    /// use cleanup_duration::parse_millis;
    ///
    /// assert!(parse_millis("0s").unwrap_err().is_zero());
    /// assert!(!parse_millis("soon").unwrap_err().is_zero());
    /// ```
    pub fn is_zero(&self) -> bool {
        self.zero
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Where the text was written: the environment also takes plain seconds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Code,
    Env,
}

/// Why a text is not a duration, before it is worded.
enum Mistake {
    /// Not `<number><unit>…`: the message names the form and the units.
    Form,
    /// An alphabetic unit that is not one of ours.
    Unit(String),
    /// A well-formed zero.
    Zero,
    /// Anything else, said in full.
    Message(String),
}

fn parse(text: &str, source: Source) -> Result<u64, Error> {
    parse_exact(text, source).map_err(|mistake| Error {
        zero: matches!(mistake, Mistake::Zero),
        message: describe(mistake, text, source),
    })
}

fn describe(mistake: Mistake, text: &str, source: Source) -> String {
    match mistake {
        Mistake::Message(message) => message,
        Mistake::Zero => "a zero timeout would skip all cleanup, use at least `1ms`".to_owned(),
        Mistake::Unit(unit) => {
            let mut message =
                format!("unknown unit `{unit}` in `{text}`, expected `ms`, `s`, `m` or `h`");
            if let Some(meant) = meant(text) {
                message.push_str(&format!(", such as `{meant}`"));
            }
            message
        }
        Mistake::Form => {
            let (subject, space) = match text.trim() {
                "" => ("an empty string".to_owned(), ""),
                trimmed if trimmed.contains(char::is_whitespace) => {
                    (format!("`{text}`"), " with no space between")
                }
                _ => (format!("`{text}`"), ""),
            };
            let examples = match (meant(text), source) {
                (Some(meant), _) => format!("`{meant}`"),
                (None, Source::Code) => "`10s` or `1m30s`".to_owned(),
                // Not `10s`: the line on stderr ends with the timeout kept,
                // often that one, which would read as the value suggested.
                (None, Source::Env) => "`25s` or `1m30s`, or plain seconds such as `25`".to_owned(),
            };
            format!(
                "{subject} is not a duration: write a number and a unit{space}, the units are \
                 `ms`, `s`, `m` and `h`, such as {examples}"
            )
        }
    }
}

fn parse_exact(text: &str, source: Source) -> Result<u64, Mistake> {
    let whole_text = text.trim();
    if whole_text.is_empty() || whole_text.contains(char::is_whitespace) {
        return Err(Mistake::Form);
    }
    let mut rest = whole_text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, after) = split_digits(rest);
        if whole.is_empty() {
            return Err(Mistake::Form);
        }
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => match split_digits(after) {
                ("", _) => return Err(Mistake::Form),
                found => found,
            },
            None => ("", after),
        };
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let alone = rest.len() == whole_text.len() && after.is_empty();
        let unit_ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            // A number alone, in plain seconds.
            "" if alone && source == Source::Env => 1_000,
            "" if after.is_empty() => {
                let number = &rest[..rest.len() - after.len()];
                return Err(Mistake::Message(format!(
                    "missing unit after `{number}`, expected `ms`, `s`, `m` or `h`, such as `{number}s`"
                )));
            }
            "" => return Err(Mistake::Form),
            unit => return Err(Mistake::Unit(unit.to_owned())),
        };
        let part = millis(whole, fraction, unit_ms).ok_or_else(|| match fraction {
            "" => too_large(text),
            _ => Mistake::Message(format!("`{text}` is not a whole number of milliseconds")),
        })?;
        total = total.checked_add(part).ok_or_else(|| too_large(text))?;
        rest = after;
    }
    match u64::try_from(total) {
        Ok(0) => Err(Mistake::Zero),
        Ok(ms) => Ok(ms),
        Err(_) => Err(too_large(text)),
    }
}

/// The duration a near miss means: spaces dropped, units spelled out or in
/// capitals (`10 secs`, `1m 30s`, `5 MIN`) written as ours. `None` when that
/// is not a duration either, or is the text itself.
fn meant(text: &str) -> Option<String> {
    let compact: String = text.split_whitespace().collect();
    let mut meant = String::new();
    let mut rest = compact.as_str();
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit = match unit.to_ascii_lowercase().as_str() {
            "" => "",
            "ms" | "msec" | "msecs" | "milli" | "millis" | "millisecond" | "milliseconds" => "ms",
            "s" | "sec" | "secs" | "second" | "seconds" => "s",
            "m" | "min" | "mins" | "minute" | "minutes" => "m",
            "h" | "hr" | "hrs" | "hour" | "hours" => "h",
            _ => return None,
        };
        meant.push_str(number);
        meant.push_str(unit);
        rest = after;
    }
    // Always with its units, so that it reads the same in code and in the
    // environment.
    (meant != text.trim() && parse_exact(&meant, Source::Code).is_ok()).then_some(meant)
}

/// `whole.fraction` × `unit_ms`, or `None` when it overflows or is not whole.
fn millis(whole: &str, fraction: &str, unit_ms: u128) -> Option<u128> {
    let mut ms = number(whole)?.checked_mul(unit_ms)?;
    let fraction = fraction.trim_end_matches('0');
    if !fraction.is_empty() {
        // With its last digit non-zero, `0.fraction × unit_ms` can only be
        // whole when 10^len divides it; unit_ms ≤ 3.6e6 allows len ≤ 7, so a
        // longer fraction is never whole (and 10^len would overflow later).
        if fraction.len() > 7 {
            return None;
        }
        let scale = 10u128.pow(fraction.len() as u32);
        let scaled = number(fraction)? * unit_ms;
        if scaled % scale != 0 {
            return None;
        }
        ms = ms.checked_add(scaled / scale)?;
    }
    Some(ms)
}

fn number(digits: &str) -> Option<u128> {
    digits.bytes().try_fold(0u128, |n, digit| {
        n.checked_mul(10)?.checked_add(u128::from(digit - b'0'))
    })
}

fn split_digits(text: &str) -> (&str, &str) {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

fn too_large(text: &str) -> Mistake {
    Mistake::Message(format!("timeout `{text}` is too large"))
}

#[cfg(test)]
mod tests;
