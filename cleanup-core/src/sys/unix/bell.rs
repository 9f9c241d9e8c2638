//! The runtime thread's bell: a pipe whose write end a signal handler rings
//! (one byte, never blocking) and whose read end the thread sleeps on.

use std::io::{self, Read as _};
use std::os::unix::io::IntoRawFd as _;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The read end, for the thread that sleeps until the bell rings.
pub(crate) struct Listener(UnixStream);

/// What woke the listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Heard {
    /// The bell rang (or the sleep was interrupted: look again).
    Rung,
    /// The timeout passed.
    TimedOut,
    /// The write end is gone, or the pipe failed: nothing will ring.
    Closed,
}

/// A new bell: the write end as a raw descriptor, kept open for the
/// process's life (see [`ring`]), and its listener.
pub(crate) fn new() -> io::Result<(i32, Listener)> {
    let (ringer, listener) = UnixStream::pair()?;
    ringer.set_nonblocking(true)?;
    Ok((ringer.into_raw_fd(), Listener(listener)))
}

/// Rings the bell whose write end is `fd`. Async-signal-safe; never blocks
/// (a full pipe already holds a ring).
pub(crate) fn ring(fd: i32) {
    let _ = super::fd::write(fd, &[1]);
}

impl Listener {
    /// Sleeps until the bell rings, or `timeout` passes.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Heard {
        if self.0.set_read_timeout(timeout).is_err() {
            return Heard::Closed;
        }
        let mut buf = [0u8; 64];
        match self.0.read(&mut buf) {
            Ok(0) => Heard::Closed,
            Ok(_) => Heard::Rung,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => Heard::Rung,
            Err(err)
                if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) =>
            {
                Heard::TimedOut
            }
            Err(_) => Heard::Closed,
        }
    }
}
