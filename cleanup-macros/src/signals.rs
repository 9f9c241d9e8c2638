//! `signals = "…"`: which signals start a graceful shutdown.

/// A signal a program may catch to shut down gracefully.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Signal {
    Hup,
    Int,
    Quit,
    Term,
    Usr1,
    Usr2,
    Alrm,
    Pipe,
}

const CATCHABLE: [(&str, Signal); 8] = [
    ("HUP", Signal::Hup),
    ("INT", Signal::Int),
    ("QUIT", Signal::Quit),
    ("TERM", Signal::Term),
    ("USR1", Signal::Usr1),
    ("USR2", Signal::Usr2),
    ("ALRM", Signal::Alrm),
    ("PIPE", Signal::Pipe),
];

/// The kernel never delivers these to a handler.
const UNCATCHABLE: [&str; 2] = ["KILL", "STOP"];

/// Sent by the CPU or by `abort()` about the program itself, not by someone
/// asking it to stop; cleanup from there is the panic hook's business.
const PROGRAM_ERRORS: [&str; 7] = ["SEGV", "ILL", "FPE", "BUS", "ABRT", "TRAP", "SYS"];

impl Signal {
    /// The name of the constant re-exported by `::cleanup::__private`.
    pub(crate) fn const_name(self) -> &'static str {
        match self {
            Signal::Hup => "SIGHUP",
            Signal::Int => "SIGINT",
            Signal::Quit => "SIGQUIT",
            Signal::Term => "SIGTERM",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
            Signal::Alrm => "SIGALRM",
            Signal::Pipe => "SIGPIPE",
        }
    }
}

/// Parses `"TERM,INT"`, `"SIGterm, int"`…: comma-separated names, `SIG`
/// prefix optional, any case. The error is the message to show on the literal.
pub(crate) fn parse_list(text: &str) -> Result<Vec<Signal>, String> {
    if text.trim().is_empty() {
        return Err("no signals given, expected a list such as `TERM,INT`".to_owned());
    }
    let mut signals = Vec::new();
    for item in text.split(',') {
        let signal = parse_one(item.trim()).map_err(|message| match message {
            Some(message) => message,
            None => format!("empty signal name in `{text}`"),
        })?;
        if signals.contains(&signal) {
            return Err(format!("`{}` is listed twice", signal.const_name()));
        }
        signals.push(signal);
    }
    Ok(signals)
}

/// `Err(None)` for an empty name, which needs the whole list to be shown.
fn parse_one(item: &str) -> Result<Signal, Option<String>> {
    if item.is_empty() {
        return Err(None);
    }
    let upper = item.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, signal)) = CATCHABLE.iter().find(|(known, _)| *known == name) {
        return Ok(signal);
    }
    Err(Some(if UNCATCHABLE.contains(&name) {
        format!("`SIG{name}` cannot be caught, so it cannot start a graceful shutdown")
    } else if PROGRAM_ERRORS.contains(&name) {
        format!("`SIG{name}` reports a program error, it is not a shutdown signal")
    } else {
        format!(
            "unknown signal `{item}`, expected one of `HUP`, `INT`, `QUIT`, `TERM`, `USR1`, `USR2`, `ALRM`, `PIPE`"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::{parse_list, Signal};

    #[test]
    fn names_prefixes_case_and_spaces() {
        assert_eq!(parse_list("TERM,INT"), Ok(vec![Signal::Term, Signal::Int]));
        assert_eq!(parse_list("TERM, INT"), Ok(vec![Signal::Term, Signal::Int]));
        assert_eq!(parse_list(" SIGterm "), Ok(vec![Signal::Term]));
        assert_eq!(
            parse_list("hup,int,quit,term,usr1,usr2,alrm,pipe"),
            Ok(vec![
                Signal::Hup,
                Signal::Int,
                Signal::Quit,
                Signal::Term,
                Signal::Usr1,
                Signal::Usr2,
                Signal::Alrm,
                Signal::Pipe,
            ])
        );
    }

    #[test]
    fn order_is_kept() {
        assert_eq!(parse_list("INT,TERM"), Ok(vec![Signal::Int, Signal::Term]));
    }

    #[test]
    fn const_names() {
        assert_eq!(Signal::Usr1.const_name(), "SIGUSR1");
        assert_eq!(Signal::Alrm.const_name(), "SIGALRM");
    }

    #[test]
    fn rejects_uncatchable() {
        assert_eq!(
            parse_list("TERM,KILL"),
            Err("`SIGKILL` cannot be caught, so it cannot start a graceful shutdown".into())
        );
        assert!(parse_list("sigstop")
            .unwrap_err()
            .starts_with("`SIGSTOP` cannot be caught"));
    }

    #[test]
    fn rejects_program_errors() {
        for name in [
            "SEGV", "ILL", "FPE", "BUS", "ABRT", "TRAP", "SYS", "sigsegv",
        ] {
            let err = parse_list(name).unwrap_err();
            assert!(err.ends_with("reports a program error, it is not a shutdown signal"));
        }
        assert!(parse_list("segv").unwrap_err().starts_with("`SIGSEGV`"));
    }

    #[test]
    fn rejects_unknown() {
        assert_eq!(
            parse_list("TERM,WINCH"),
            Err("unknown signal `WINCH`, expected one of `HUP`, `INT`, `QUIT`, `TERM`, `USR1`, `USR2`, `ALRM`, `PIPE`".into())
        );
        assert!(parse_list("SIG")
            .unwrap_err()
            .starts_with("unknown signal `SIG`"));
        assert!(parse_list("15")
            .unwrap_err()
            .starts_with("unknown signal `15`"));
    }

    #[test]
    fn rejects_empty() {
        assert_eq!(
            parse_list(""),
            Err("no signals given, expected a list such as `TERM,INT`".into())
        );
        assert!(parse_list(" ").unwrap_err().starts_with("no signals given"));
        assert_eq!(
            parse_list("TERM,,INT"),
            Err("empty signal name in `TERM,,INT`".into())
        );
        assert!(parse_list("TERM,").is_err());
    }

    #[test]
    fn rejects_duplicates() {
        assert_eq!(
            parse_list("TERM,INT,SIGTERM"),
            Err("`SIGTERM` is listed twice".into())
        );
    }
}
