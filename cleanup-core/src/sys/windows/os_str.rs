//! Paths and arguments as bytes. Only the guardian's pipe uses them, and
//! the guardian is not on Windows yet: its encoding (WTF-8) is kept as
//! std has it, and read back as UTF-8.

use std::ffi::{OsStr, OsString};

/// The bytes of `text` (std's encoding of it).
pub(crate) fn bytes(text: &OsStr) -> &[u8] {
    text.as_encoded_bytes()
}

/// Back from [`bytes`] (what is not UTF-8 becomes U+FFFD).
pub(crate) fn from_bytes(bytes: Vec<u8>) -> OsString {
    String::from_utf8_lossy(&bytes).into_owned().into()
}
