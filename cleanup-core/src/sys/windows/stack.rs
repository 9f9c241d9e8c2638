//! The calling thread's stack, as addresses (see the Unix backend).

use std::ops::Range;

use windows_sys::Win32::System::Threading::GetCurrentThreadStackLimits;

/// The calling thread's stack.
pub(crate) fn current() -> Option<Range<usize>> {
    let (mut low, mut high) = (0usize, 0usize);
    // SAFETY: writes the calling thread's stack bounds into two locals.
    unsafe { GetCurrentThreadStackLimits(&mut low, &mut high) };
    (low < high).then_some(low..high)
}
