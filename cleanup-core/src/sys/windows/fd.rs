//! Writes to stderr from the console handler, and the C runtime's
//! descriptors where the platform-free code names one. No pipes or polls:
//! sleepers and the runtime thread wait otherwise here (see `park` and
//! `bell`), and the guardian, which reads a pipe, is not on Windows yet.

use std::io;

use windows_sys::Win32::Storage::FileSystem::WriteFile;
use windows_sys::Win32::System::Console::{GetStdHandle, STD_ERROR_HANDLE};

/// Writes `bytes` to the process's standard error handle, retrying short
/// writes; gives up on an error. Takes no lock.
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    // SAFETY: GetStdHandle takes a constant and returns a handle we do not own.
    let handle = unsafe { GetStdHandle(STD_ERROR_HANDLE) };
    if handle.is_null() || handle == windows_sys::Win32::Foundation::INVALID_HANDLE_VALUE {
        return;
    }
    while !bytes.is_empty() {
        let chunk = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let mut written = 0u32;
        // SAFETY: writes from a live slice of at least `chunk` bytes to a
        // handle the process holds; `written` is a local.
        let ok = unsafe {
            WriteFile(handle, bytes.as_ptr(), chunk, &mut written, std::ptr::null_mut())
        };
        if ok == 0 || written == 0 {
            return;
        }
        bytes = &bytes[written as usize..];
    }
}

/// Writes all of `bytes` to the C runtime's descriptor `fd`.
pub(crate) fn write_all(fd: i32, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match write(fd, bytes)? {
            0 => return Err(io::ErrorKind::WriteZero.into()),
            n => bytes = &bytes[n..],
        }
    }
    Ok(())
}

/// One `_write` of `bytes` to the C runtime's descriptor `fd`.
pub(crate) fn write(fd: i32, bytes: &[u8]) -> io::Result<usize> {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    // SAFETY: _write with a pointer and length taken from a live slice.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), len) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// Closes the C runtime's descriptor `fd`, which the caller owns.
pub(crate) fn close(fd: i32) {
    // SAFETY: _close of a descriptor the caller owns.
    unsafe { libc::close(fd) };
}

fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what} is not available on Windows"),
    )
}

/// Not on Windows (only the guardian's pipe asks for it).
pub(crate) fn duplicate(_fd: i32, _at_least: i32) -> io::Result<i32> {
    Err(unsupported("duplicating a descriptor above a number"))
}
