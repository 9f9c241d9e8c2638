//! File descriptors: writes that a signal handler may make, and closes.

use std::io;

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
