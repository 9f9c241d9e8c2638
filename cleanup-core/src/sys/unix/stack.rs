//! The calling thread's stack, as addresses: how the registry tells a
//! cleanup this thread claimed (its claim records an address in the
//! claimer's frame).

use std::ops::Range;

/// The calling thread's stack; `None` where the system cannot say (the
/// registry then treats no claim as this thread's).
pub(crate) fn current() -> Option<Range<usize>> {
    if cfg!(miri) {
        return None;
    }
    imp()
}

#[cfg(any(target_os = "linux", target_os = "freebsd"))]
fn imp() -> Option<Range<usize>> {
    // SAFETY: the thread's attributes are read into an attribute object
    // on this stack (initialized first where the system asks it), then the
    // stack's base and size are read from it and it is destroyed.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        #[cfg(target_os = "freebsd")]
        {
            if libc::pthread_attr_init(&mut attr) != 0 {
                return None;
            }
            if libc::pthread_attr_get_np(libc::pthread_self(), &mut attr) != 0 {
                libc::pthread_attr_destroy(&mut attr);
                return None;
            }
        }
        #[cfg(target_os = "linux")]
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut base: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let got = libc::pthread_attr_getstack(&attr, &mut base, &mut size);
        libc::pthread_attr_destroy(&mut attr);
        (got == 0).then(|| base as usize..base as usize + size)
    }
}

#[cfg(target_vendor = "apple")]
fn imp() -> Option<Range<usize>> {
    // SAFETY: both take the calling thread's own handle and read its
    // stack's top address and size.
    let (top, size) = unsafe {
        let me = libc::pthread_self();
        (
            libc::pthread_get_stackaddr_np(me) as usize,
            libc::pthread_get_stacksize_np(me),
        )
    };
    Some(top.checked_sub(size)?..top)
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_vendor = "apple")))]
fn imp() -> Option<Range<usize>> {
    None
}
