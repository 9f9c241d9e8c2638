//! `timeout = "…"`: a human duration, turned into whole milliseconds at
//! compile time so the runtime never parses it.

/// Parses `"10s"`, `"250ms"`, `"1.5s"` or `"1m30s"` into milliseconds.
///
/// The grammar is one or more `<number><unit>` parts, the number an integer or
/// a decimal, the unit `ms`, `s`, `m` or `h`, as `CLEANUP_TIMEOUT` takes it at
/// run time. The result must be a whole number of milliseconds, above zero,
/// and fit in a `u64`. The error is the message to show on the literal.
pub(crate) fn parse_millis(text: &str) -> Result<u64, String> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(expected(text));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, after) = split_digits(rest);
        if whole.is_empty() {
            return Err(expected(text));
        }
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => match split_digits(after) {
                ("", _) => return Err(expected(text)),
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
            "" => {
                let number = &rest[..rest.len() - after.len()];
                return Err(format!(
                    "missing unit after `{number}`, expected `ms`, `s`, `m` or `h`, such as `{number}s`"
                ));
            }
            unit => {
                return Err(format!(
                    "unknown unit `{unit}` in `{text}`, expected `ms`, `s`, `m` or `h`"
                ))
            }
        };
        let part = millis(whole, fraction, unit_ms).ok_or_else(|| match fraction {
            "" => too_large(text),
            _ => format!("`{text}` is not a whole number of milliseconds"),
        })?;
        total = total.checked_add(part).ok_or_else(|| too_large(text))?;
        rest = after;
    }
    match u64::try_from(total) {
        Ok(0) => Err("a zero timeout would skip all cleanup, use at least `1ms`".to_owned()),
        Ok(ms) => Ok(ms),
        Err(_) => Err(too_large(text)),
    }
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

fn expected(text: &str) -> String {
    format!("expected a duration such as `10s`, `250ms` or `1m30s`, found `{text}`")
}

fn too_large(text: &str) -> String {
    format!("timeout `{text}` is too large")
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
            "", "  ", "s", "fast", "-5s", ".5s", "1.s", "1..5s", "5s!", "1m 30s",
        ] {
            let err = parse_millis(text).unwrap_err();
            assert!(err.starts_with("expected a duration"), "{text:?}: {err}");
        }
    }

    #[test]
    fn rejects_missing_unit() {
        assert_eq!(
            parse_millis("10"),
            Err("missing unit after `10`, expected `ms`, `s`, `m` or `h`, such as `10s`".into())
        );
        assert!(parse_millis("1m30")
            .unwrap_err()
            .starts_with("missing unit after `30`"));
        assert!(parse_millis("5 s")
            .unwrap_err()
            .starts_with("missing unit after `5`"));
    }

    #[test]
    fn rejects_unknown_unit() {
        assert_eq!(
            parse_millis("5min"),
            Err("unknown unit `min` in `5min`, expected `ms`, `s`, `m` or `h`".into())
        );
        assert!(parse_millis("5S")
            .unwrap_err()
            .starts_with("unknown unit `S`"));
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
