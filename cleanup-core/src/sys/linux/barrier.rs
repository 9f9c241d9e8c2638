//! `membarrier(2)`: the registry's arms pay a compiler fence, the (once per
//! process) close pays this barrier.

const GLOBAL: libc::c_long = 1;
const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

/// Registers for the expedited barrier; whether it may be used. (Miri has
/// no `membarrier`: there the arms use a full fence.)
pub(crate) fn register() -> bool {
    if cfg!(miri) {
        return false;
    }
    // SAFETY: membarrier(2) registration takes no pointers.
    unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 }
}

/// Makes every running thread of this process execute a full memory
/// barrier. Only called after [`register`] returned `true`.
pub(crate) fn heavy() {
    // SAFETY: membarrier(2) takes no pointers.
    let done = unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0, 0) } == 0;
    if !done {
        // The arms rely on this barrier: never let them go unfenced.
        // SAFETY: as above, for every thread of the system.
        unsafe { libc::syscall(libc::SYS_membarrier, GLOBAL, 0, 0) };
    }
}
