//! File descriptors: writes that a signal handler may make, reads, waits
//! for input, duplicates and closes.

use std::io;
use std::time::Duration;

/// Writes `bytes` to stderr, retrying short writes; gives up on an error.
/// Async-signal-safe.
pub(crate) fn write_stderr(bytes: &[u8]) {
    let _ = write_all(2, bytes);
}

/// Writes all of `bytes` to `fd`, retrying short and interrupted writes.
/// Async-signal-safe.
pub(crate) fn write_all(fd: i32, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match write(fd, bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// One write(2) of `bytes` to `fd`. Async-signal-safe.
pub(crate) fn write(fd: i32, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: write(2) with a pointer and length taken from a live slice.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Closes `fd`, a descriptor this process owns and no `OwnedFd` holds.
/// Async-signal-safe.
pub(crate) fn close(fd: i32) {
    // SAFETY: close(2) of a descriptor the caller owns; nothing else
    // closes it (it is kept as a raw number, not in an `OwnedFd`).
    unsafe { libc::close(fd) };
}

/// One read(2) from `fd` into `buf`; `Ok(0)` at the end of the input.
/// Async-signal-safe.
pub(crate) fn read(fd: i32, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: read(2) into a pointer and length taken from a live slice.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// A duplicate of `fd`, numbered `at_least` or above, closed on `exec`.
/// Async-signal-safe.
pub(crate) fn duplicate(fd: i32, at_least: i32) -> io::Result<i32> {
    // SAFETY: fcntl(2) F_DUPFD_CLOEXEC takes and makes descriptor numbers
    // only, no pointers.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, at_least) };
    if copy < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(copy)
}

/// Waits until one of `fds` has something to read, has reached its end or
/// is in error, or `timeout` has passed (`None`: no limit); which of them
/// are. A negative number is skipped (never ready). A signal ends the wait
/// with an error (`Interrupted`).
pub(crate) fn poll_readable<const N: usize>(
    fds: [i32; N],
    timeout: Option<Duration>,
) -> io::Result<[bool; N]> {
    let mut polled = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    let ms = timeout.map_or(-1, |timeout| {
        i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX)
    });
    // SAFETY: poll(2) on a live array of `N` pollfds, which it writes into.
    let n = unsafe { libc::poll(polled.as_mut_ptr(), N as libc::nfds_t, ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(polled.map(|fd| fd.revents != 0))
}

/// A pipe whose two ends are closed on exec: `(read, write)`. (Made by
/// `pipe` and `fcntl`: macOS has no `pipe2`.)
pub(crate) fn pipe_cloexec() -> io::Result<(i32, i32)> {
    let mut ends = [0; 2];
    // SAFETY: pipe(2) fills the two-element array.
    if unsafe { libc::pipe(ends.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for end in ends {
        // SAFETY: fcntl(2) on a descriptor just made, setting its flags.
        unsafe { libc::fcntl(end, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok((ends[0], ends[1]))
}

/// Makes writes to `fd` return at once rather than block (a full pipe).
pub(crate) fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl(2) reading and setting a descriptor's status flags.
    let done = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if done {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
