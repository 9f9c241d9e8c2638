//! `errno`, kept across a handler of our own: the code it interrupted may be
//! about to read it.

/// Where the calling thread's `errno` lives.
fn location() -> *mut libc::c_int {
    // SAFETY: each returns the calling thread's `errno` address; no
    // arguments.
    unsafe {
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "emscripten"))]
        return libc::__errno_location();
        #[cfg(any(target_vendor = "apple", target_os = "freebsd", target_os = "dragonfly"))]
        return libc::__error();
        #[cfg(any(target_os = "openbsd", target_os = "netbsd"))]
        return libc::__errno();
        #[cfg(any(target_os = "solaris", target_os = "illumos"))]
        return libc::___errno();
        #[allow(unreachable_code)]
        std::ptr::null_mut()
    }
}

/// The calling thread's `errno`. Async-signal-safe.
pub(crate) fn get() -> libc::c_int {
    let at = location();
    if at.is_null() {
        return 0;
    }
    // SAFETY: the thread's own `errno`, valid for the thread's life.
    unsafe { *at }
}

/// Sets the calling thread's `errno`. Async-signal-safe.
pub(crate) fn set(value: libc::c_int) {
    let at = location();
    if !at.is_null() {
        // SAFETY: as in `get`.
        unsafe { *at = value };
    }
}
