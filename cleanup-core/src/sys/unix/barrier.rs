//! The process-wide memory barrier of the registry's close: none in the
//! baseline, so both sides of the close/arm pair pay a full fence.

/// Registers for a process-wide barrier; `false`: there is none here.
pub(crate) fn register() -> bool {
    false
}

/// Makes every running thread of the process execute a full memory
/// barrier. Only called after [`register`] returned `true`.
pub(crate) fn heavy() {}
