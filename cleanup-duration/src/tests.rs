use super::{parse_env_millis, parse_millis};

/// In code, with the message as the user sees it.
fn code(text: &str) -> Result<u64, String> {
    parse_millis(text).map_err(|error| error.to_string())
}

/// From the environment, with the message as the user sees it.
fn env(text: &str) -> Result<u64, String> {
    parse_env_millis(text).map_err(|error| error.to_string())
}

#[test]
fn units() {
    assert_eq!(code("250ms"), Ok(250));
    assert_eq!(code("5s"), Ok(5_000));
    assert_eq!(code("2m"), Ok(120_000));
    assert_eq!(code("1h"), Ok(3_600_000));
}

#[test]
fn decimals() {
    assert_eq!(code("1.5s"), Ok(1_500));
    assert_eq!(code("0.25s"), Ok(250));
    assert_eq!(code("1.0ms"), Ok(1));
    assert_eq!(code("0.5h"), Ok(1_800_000));
    assert_eq!(code("1.000000000000000000000000000000000s"), Ok(1_000));
}

#[test]
fn compounds_and_surrounding_whitespace() {
    assert_eq!(code("1m30s"), Ok(90_000));
    assert_eq!(code("1h1m1s1ms"), Ok(3_661_001));
    assert_eq!(code("  10s  "), Ok(10_000));
}

#[test]
fn largest() {
    assert_eq!(code("18446744073709551615ms"), Ok(u64::MAX));
}

#[test]
fn rejects_malformed() {
    for text in [
        "s", "fast", "-5s", ".5s", "1.s", "1..5s", "5s!", "1.5.3s", "5_000ms",
    ] {
        assert_eq!(
            code(text),
            Err(format!(
                "`{text}` is not a duration: write a number and a unit, the units are `ms`, \
                 `s`, `m` and `h`, such as `10s` or `1m30s`"
            )),
        );
    }
    for text in ["", "  "] {
        assert_eq!(
            code(text),
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
            code(text),
            Err(format!("`{text}` {}", message(meant))),
            "{text:?}"
        );
    }
    // No duration to show: the general example.
    for text in ["10 apples", "1.5 ms", "5 - 3s", "0 s"] {
        assert_eq!(
            code(text),
            Err(format!("`{text}` {}", message("10s` or `1m30s"))),
            "{text:?}"
        );
    }
}

#[test]
fn rejects_missing_unit() {
    assert_eq!(
        code("10"),
        Err("missing unit after `10`, expected `ms`, `s`, `m` or `h`, such as `10s`".into())
    );
    assert_eq!(
        code("1m30"),
        Err("missing unit after `30`, expected `ms`, `s`, `m` or `h`, such as `30s`".into())
    );
}

#[test]
fn rejects_unknown_unit() {
    assert_eq!(
        code("5x"),
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
            code(text),
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
        code("1.5ms"),
        Err("`1.5ms` is not a whole number of milliseconds".into())
    );
    assert!(code("0.0001s").is_err());
    assert!(code("1.00000001h").is_err());
}

#[test]
fn rejects_zero() {
    for text in ["0s", "0ms", "0.0h", "0m0s"] {
        assert_eq!(
            code(text),
            Err("a zero timeout would skip all cleanup, use at least `1ms`".into()),
            "{text:?}"
        );
        assert!(parse_millis(text).unwrap_err().is_zero(), "{text:?}");
    }
    for text in ["0 s", "-0s", "1.5ms", "10"] {
        assert!(!parse_millis(text).unwrap_err().is_zero(), "{text:?}");
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
        assert_eq!(code(text), Err(format!("timeout `{text}` is too large")));
    }
}

// The environment.

#[test]
fn the_environment_takes_the_documented_forms() {
    assert_eq!(env("25s"), Ok(25_000));
    assert_eq!(env("500ms"), Ok(500));
    assert_eq!(env("1.5s"), Ok(1_500));
    assert_eq!(env("2m"), Ok(120_000));
    assert_eq!(env("1h"), Ok(3_600_000));
    assert_eq!(env(" 1m30s "), Ok(90_000));
}

#[test]
fn the_environment_takes_plain_seconds() {
    assert_eq!(env("30"), Ok(30_000));
    assert_eq!(env(" 2.5 "), Ok(2_500));
    assert_eq!(env("0.347"), Ok(347));
    assert_eq!(env("18446744073709551"), Ok(18_446_744_073_709_551_000));
    // Exactly, as with a unit.
    assert_eq!(
        env("0.0015"),
        Err("`0.0015` is not a whole number of milliseconds".into())
    );
    assert_eq!(
        env("18446744073709552"),
        Err("timeout `18446744073709552` is too large".into())
    );
    // A number alone is seconds only when it is the whole value.
    assert_eq!(
        env("1m30"),
        Err("missing unit after `30`, expected `ms`, `s`, `m` or `h`, such as `30s`".into())
    );
}

#[test]
fn the_environment_is_told_about_plain_seconds() {
    let form = "is not a duration: write a number and a unit, the units are `ms`, `s`, `m` \
                and `h`, such as `25s` or `1m30s`, or plain seconds such as `25`";
    for text in ["soon", "abc", "s", "-1s", ".", "1.2.3", "1..5s", "5.", ".5"] {
        assert_eq!(env(text), Err(format!("`{text}` {form}")), "{text:?}");
    }
    assert_eq!(env("  "), Err(format!("an empty string {form}")));
    assert_eq!(
        env("2 .5"),
        Err(
            "`2 .5` is not a duration: write a number and a unit with no space between, the \
             units are `ms`, `s`, `m` and `h`, such as `25s` or `1m30s`, or plain seconds such \
             as `25`"
                .into()
        )
    );
    // A near miss shows the duration meant, as in code.
    for (text, meant) in [("10 secs", "10s"), ("1m 30s", "1m30s"), ("10 s", "10s")] {
        assert_eq!(
            env(text),
            Err(format!(
                "`{text}` is not a duration: write a number and a unit with no space between, \
                 the units are `ms`, `s`, `m` and `h`, such as `{meant}`"
            )),
        );
    }
    assert_eq!(
        env("5min"),
        Err("unknown unit `min` in `5min`, expected `ms`, `s`, `m` or `h`, such as `5m`".into())
    );
    assert_eq!(
        env("10x"),
        Err("unknown unit `x` in `10x`, expected `ms`, `s`, `m` or `h`".into())
    );
}

#[test]
fn zero_from_the_environment_is_the_callers_to_allow() {
    for text in ["0", "0.0", "0s", "0ms", "0m0s"] {
        let error = parse_env_millis(text).unwrap_err();
        assert!(error.is_zero(), "{text:?}");
        assert_eq!(
            error.to_string(),
            "a zero timeout would skip all cleanup, use at least `1ms`"
        );
    }
    assert!(!parse_env_millis("0.0001").unwrap_err().is_zero());
}

// One grammar: what code and the environment both take, they read alike.

#[test]
fn code_and_environment_read_a_duration_with_a_unit_alike() {
    assert_eq!(code("1.5s"), Ok(1_500));
    assert_eq!(env("1.5s"), Ok(1_500));
    assert_eq!(
        code("1.5ms"),
        Err("`1.5ms` is not a whole number of milliseconds".into())
    );
    assert_eq!(env("1.5ms"), code("1.5ms"));
    for text in [
        "250ms",
        "1m30s",
        "0.5h",
        " 10s ",
        "1h1m1s1ms",
        "18446744073709551615ms",
        "0s",
        "0.1ms",
        "5min",
        "10 secs",
        "1m30",
        "5x",
        "99999999999999999999h",
    ] {
        assert_eq!(env(text), code(text), "{text:?}");
    }
}

#[test]
fn plain_seconds_only_from_the_environment() {
    assert_eq!(env("25"), Ok(25_000));
    assert_eq!(
        code("25"),
        Err("missing unit after `25`, expected `ms`, `s`, `m` or `h`, such as `25s`".into())
    );
    assert_eq!(env("2.5"), Ok(2_500));
    assert!(code("2.5").is_err());
}
