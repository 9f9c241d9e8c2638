//! Paths and arguments as bytes, for the guardian's pipe and its
//! command line: on Unix an `OsStr` is its bytes.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};

/// The bytes of `text`, as the system has them.
pub(crate) fn bytes(text: &OsStr) -> &[u8] {
    text.as_bytes()
}

/// Back from [`bytes`].
pub(crate) fn from_bytes(bytes: Vec<u8>) -> OsString {
    OsString::from_vec(bytes)
}
