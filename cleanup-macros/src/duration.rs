//! `timeout = "…"`: a human duration, turned into whole milliseconds at
//! compile time so the runtime never parses it.

/// Parses `"10s"`, `"250ms"`, `"1.5s"` or `"1m30s"` into milliseconds.
///
/// The grammar is one or more `<number><unit>` parts, the number an integer or
/// a decimal, the unit `ms`, `s`, `m` or `h`, as `CLEANUP_TIMEOUT` takes it at
/// run time. The result must be a whole number of milliseconds, above zero,
/// and fit in a `u64`. The error is the message to show on the literal; when
/// the text is close to a duration (`10 secs`, `1m 30s`, `5min`) it shows the
/// one meant.
pub(crate) fn parse_millis(text: &str) -> Result<u64, String> {
    parse_exact(text).map_err(|mistake| match mistake {
        Mistake::Message(message) => message,
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
            let example = meant(text).unwrap_or_else(|| "10s` or `1m30s".to_owned());
            format!(
                "{subject} is not a duration: write a number and a unit{space}, the units are \
                 `ms`, `s`, `m` and `h`, such as `{example}`"
            )
        }
    })
}

/// Why a text is not a duration.
enum Mistake {
    /// Not `<number><unit>…`: the message names the form and the units.
    Form,
    /// An alphabetic unit that is not one of ours.
    Unit(String),
    /// Anything else, said in full.
    Message(String),
}

fn parse_exact(text: &str) -> Result<u64, Mistake> {
    let mut rest = text.trim();
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(Mistake::Form);
    }
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
        let unit_ms = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
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
        Ok(0) => Err(Mistake::Message(
            "a zero timeout would skip all cleanup, use at least `1ms`".to_owned(),
        )),
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
    (meant != text.trim() && parse_exact(&meant).is_ok()).then_some(meant)
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
mod tests {
    use super::parse_millis;

    #[test]
    fn units() {
        assert_eq!(parse_millis("250ms"), Ok(250));
        assert_eq!(parse_millis("5s"), Ok(5_000));
        assert_eq!(parse_millis("2m"), Ok(120_000));
        assert_eq!(parse_millis("1h"), Ok(3_600_000));
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_millis("1.5s"), Ok(1_500));
        assert_eq!(parse_millis("0.25s"), Ok(250));
        assert_eq!(parse_millis("1.0ms"), Ok(1));
        assert_eq!(parse_millis("0.5h"), Ok(1_800_000));
        assert_eq!(
            parse_millis("1.000000000000000000000000000000000s"),
            Ok(1_000)
        );
    }

    #[test]
    fn compounds_and_surrounding_whitespace() {
        assert_eq!(parse_millis("1m30s"), Ok(90_000));
        assert_eq!(parse_millis("1h1m1s1ms"), Ok(3_661_001));
        assert_eq!(parse_millis("  10s  "), Ok(10_000));
    }

    #[test]
    fn largest() {
        assert_eq!(parse_millis("18446744073709551615ms"), Ok(u64::MAX));
    }

    #[test]
    fn rejects_malformed() {
        for text in [
            "s", "fast", "-5s", ".5s", "1.s", "1..5s", "5s!", "1.5.3s", "5_000ms",
        ] {
            assert_eq!(
                parse_millis(text),
                Err(format!(
                    "`{text}` is not a duration: write a number and a unit, the units are `ms`, \
                     `s`, `m` and `h`, such as `10s` or `1m30s`"
                )),
            );
        }
        for text in ["", "  "] {
            assert_eq!(
                parse_millis(text),
                Err(
                    "an empty string is not a duration: write a number and a unit, the units \
                     are `ms`, `s`, `m` and `h`, such as `10s` or `1m30s`"
                        .into()
                ),
            );
        }
    }

    #[test]
    fn a_space_inside_shows_the_duration_meant() {
        let message = |example: &str| {
            format!(
                "is not a duration: write a number and a unit with no space between, the units \
                 are `ms`, `s`, `m` and `h`, such as `{example}`"
            )
        };
        for (text, meant) in [
            ("10 secs", "10s"),
            ("1m 30s", "1m30s"),
            ("5 s", "5s"),
            (" 2 Minutes ", "2m"),
            ("1 h 1 m", "1h1m"),
            ("250 millis", "250ms"),
            ("1.5 hours", "1.5h"),
        ] {
            assert_eq!(
                parse_millis(text),
                Err(format!("`{text}` {}", message(meant))),
                "{text:?}"
            );
        }
        // No duration to show: the general example.
        for text in ["10 apples", "1.5 ms", "5 - 3s", "0 s"] {
            assert_eq!(
                parse_millis(text),
                Err(format!("`{text}` {}", message("10s` or `1m30s"))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_missing_unit() {
        assert_eq!(
            parse_millis("10"),
            Err("missing unit after `10`, expected `ms`, `s`, `m` or `h`, such as `10s`".into())
        );
        assert_eq!(
            parse_millis("1m30"),
            Err("missing unit after `30`, expected `ms`, `s`, `m` or `h`, such as `30s`".into())
        );
    }

    #[test]
    fn rejects_unknown_unit() {
        assert_eq!(
            parse_millis("5x"),
            Err("unknown unit `x` in `5x`, expected `ms`, `s`, `m` or `h`".into())
        );
        for (text, unit, meant) in [
            ("5min", "min", "5m"),
            ("10secs", "secs", "10s"),
            ("5S", "S", "5s"),
            ("1h30mins", "mins", "1h30m"),
            ("100MS", "MS", "100ms"),
        ] {
            assert_eq!(
                parse_millis(text),
                Err(format!(
                    "unknown unit `{unit}` in `{text}`, expected `ms`, `s`, `m` or `h`, such as \
                     `{meant}`"
                )),
            );
        }
    }

    #[test]
    fn rejects_fractions_of_a_millisecond() {
        assert_eq!(
            parse_millis("1.5ms"),
            Err("`1.5ms` is not a whole number of milliseconds".into())
        );
        assert!(parse_millis("0.0001s").is_err());
        assert!(parse_millis("1.00000001h").is_err());
    }

    #[test]
    fn rejects_zero() {
        for text in ["0s", "0ms", "0.0h", "0m0s"] {
            assert_eq!(
                parse_millis(text),
                Err("a zero timeout would skip all cleanup, use at least `1ms`".into()),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_overflow() {
        for text in [
            "18446744073709551616ms",
            "5124095576030432h",
            "99999999999999999999999999999999999999999h",
            "18446744073709551615ms1ms",
        ] {
            assert_eq!(
                parse_millis(text),
                Err(format!("timeout `{text}` is too large"))
            );
        }
    }
}
