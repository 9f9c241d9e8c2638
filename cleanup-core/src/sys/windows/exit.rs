//! Leaving the process without the C library's exit.


use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};

/// Ends the process now with `code`, as `_exit` does on Unix: no exit
/// hooks, no DLL notifications, no locks.
pub(crate) fn hard_exit(code: i32) -> ! {
    // SAFETY: terminates the calling process (the pseudo-handle needs no
    // closing); the call does not return for the current process.
    unsafe { TerminateProcess(GetCurrentProcess(), code as u32) };
    unreachable!("TerminateProcess of the current process returned")
}

/// Whether [`flush_stdout_isolated`] may be called from the handler.
pub(crate) const FLUSH_FROM_HANDLER: bool = false;

/// The bounded flush thread (see `std_only`).
pub(crate) use crate::sys::std_only::flush_stdout_isolated;
