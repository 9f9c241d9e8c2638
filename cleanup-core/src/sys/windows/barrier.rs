//! No process-wide memory barrier is used on Windows
//! (`FlushProcessWriteBuffers` would do, but the baseline's full fence on
//! both sides of the registry's close is what is proven): both sides pay it.

/// Registers for a process-wide barrier; `false`: none here.
pub(crate) fn register() -> bool {
    false
}

/// Only called after [`register`] returned `true`.
pub(crate) fn heavy() {}
