//! The guardian is not on Windows yet (DESIGN "Windows"): [`launch`] says
//! so, and the rest, which only a launched guardian reaches, does nothing.
//! A child of `cleanup::spawn` still dies with the program here, whatever
//! ends it: the job object holds it (see `process`).

use std::ffi::CStr;
use std::io;
use std::process::Command;
use std::time::Instant;

/// How the program ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Death {
    /// Killed by a signal (never here).
    #[allow(dead_code)]
    Signal { signal: i32, core_dumped: bool },
    /// Exited with a status (never here).
    #[allow(dead_code)]
    Exit(i32),
    /// Ended, how not known.
    Unknown(&'static str),
}

/// The guardian cannot be started on Windows: an `Unsupported` error the
/// program reports on stderr, and it runs on without one.
pub(crate) fn launch(_arg0: &CStr, _spec: &CStr) -> io::Result<i32> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the guardian is not available on Windows yet; the children of `cleanup::spawn` \
         still end with the program (a job object holds them)",
    ))
}

/// Nothing to write: no guardian here.
pub(crate) fn write_in_child(_command: &mut Command, _fd: i32, _bytes: Vec<u8>) {}

/// Never a guardian's pipe here.
pub(crate) fn given_pipe() -> bool {
    false
}

/// Nothing inherited to close: no guardian here.
pub(crate) fn close_inherited() {}

/// No guardian to name here.
pub(crate) fn set_name(_name: &CStr) {}

/// Not known here.
pub(crate) fn program_name(_program: i32) -> Option<String> {
    None
}

/// Not known here.
pub(crate) fn oom_kills() -> Option<u64> {
    None
}

/// Nothing to trim here.
pub(crate) fn trim_code_pages() {}

/// No guardian watches here.
pub(crate) fn watch(_program: i32, _read: impl FnMut(&[u8])) -> Death {
    Death::Unknown("the guardian is not available on Windows")
}

/// A child of the program (no guardian kills it here).
pub(crate) struct Child(());

/// What [`Child::kill`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Killed {
    /// Never here.
    #[allow(dead_code)]
    WithGroup,
    /// Never here.
    #[allow(dead_code)]
    Alone,
    /// Nothing done.
    Not,
}

impl Child {
    /// No guardian tracks children here.
    pub(crate) fn track(_pid: i32) -> Child {
        Child(())
    }

    /// No guardian kills here.
    pub(crate) fn kill(&self, _own_group: bool) -> Killed {
        Killed::Not
    }

    /// Nothing to wait for.
    pub(crate) fn wait_exit(&self, _until: Instant) {}
}

/// The program's stderr, for a guardian's lines (its own here).
pub(crate) struct Stderr(());

impl Stderr {
    /// This process's stderr.
    pub(crate) fn remember() -> Stderr {
        Stderr(())
    }

    /// Writes `line` to this process's stderr.
    pub(crate) fn write_line(&self, line: &[u8]) {
        super::fd::write_stderr(line);
    }
}

/// Nothing held to let go of here.
pub(crate) fn let_go_of_stderr() {}
