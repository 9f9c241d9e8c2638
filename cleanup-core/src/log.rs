//! The lines on stderr that say what shutdown is doing.
//!
//! Written with one `write(2)` per line, not through `std::io::stderr()`: a
//! thread stuck while holding stderr's lock must not stop the shutdown from
//! saying why it is slow.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static QUIET: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// `shutdown: …` on stderr, unless `quiet`.
pub(crate) fn line(args: fmt::Arguments<'_>) {
    if !QUIET.load(Ordering::Relaxed) {
        always(format_args!("shutdown: {args}"));
    }
}

/// A line that `quiet` does not silence: a setting the program cannot honour.
pub(crate) fn always(args: fmt::Arguments<'_>) {
    let mut text = String::with_capacity(96);
    let _ = writeln!(text, "{args}");
    write_stderr(text.as_bytes());
}

/// Writes raw bytes to fd 2, retrying short writes. Async-signal-safe.
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write(2) on fd 2 with a pointer and length taken from a live slice.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

pub(crate) fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// A duration the way an operator reads it: `12ms`, `2.5s`.
pub(crate) struct Secs(pub(crate) Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms < 1000 {
            write!(f, "{ms}ms")
        } else if ms % 1000 == 0 {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{:.1}s", self.0.as_secs_f64())
        }
    }
}

/// `1 guard`, `3 finalizers`, `2 children`.
pub(crate) struct Count(pub(crate) usize, pub(crate) &'static str);

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (1, one) => write!(f, "1 {one}"),
            (n, "child") => write!(f, "{n} children"),
            (n, one) => write!(f, "{n} {one}s"),
        }
    }
}

/// `SIGTERM`, or `signal 42` for one without a name.
pub(crate) struct SignalName(pub(crate) i32);

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match signal_hook::low_level::signal_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_for_operators() {
        assert_eq!(Secs(Duration::from_millis(12)).to_string(), "12ms");
        assert_eq!(Secs(Duration::from_secs(10)).to_string(), "10s");
        assert_eq!(Secs(Duration::from_millis(2500)).to_string(), "2.5s");
        assert_eq!(Count(1, "guard").to_string(), "1 guard");
        assert_eq!(Count(3, "finalizer").to_string(), "3 finalizers");
        assert_eq!(Count(2, "child").to_string(), "2 children");
        assert_eq!(SignalName(libc::SIGTERM).to_string(), "SIGTERM");
    }
}
