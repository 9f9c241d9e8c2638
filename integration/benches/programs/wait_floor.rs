//! The floor of kill to exit: the least a SIGTERM handler that keeps a
//! deadline must do, written with `libc` alone (no `cleanup` in it). Its
//! handler does the three musts, and no more: it reads the signal's time
//! (`CLOCK_MONOTONIC`), arms the deadline's timer (one-shot, 9.5 s), and
//! wakes the main thread (a futex). The main thread then dies by the
//! signal, as the plain program does: SIGTERM back to its default action,
//! unblocked, raised. Whatever implements `#[graceful_main]`'s contract
//! does at least this between the kill and the exit.
//!
//! Linux only (a futex; the timer's signal). Elsewhere it only says so, so
//! that the examples still build on every platform.

#[cfg(target_os = "linux")]
fn main() {
    floor::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("wait_floor is Linux only");
    std::process::exit(1);
}

#[cfg(target_os = "linux")]
pub mod floor {
    use std::ptr;
    use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

    /// How long the shutdown may take from the signal on. The harness's
    /// program dies long before: the timer is armed, never fired.
    const DEADLINE: libc::timespec = libc::timespec {
        tv_sec: 9,
        tv_nsec: 500_000_000,
    };

    /// The deadline's timer, made before the handler is set: making one
    /// is not async-signal-safe, arming it is.
    static TIMER: AtomicUsize = AtomicUsize::new(0);
    /// When the signal came, in ns of `CLOCK_MONOTONIC`: where a shutdown's
    /// length is counted from. Only the write counts here.
    static SIGNALED_AT: AtomicU64 = AtomicU64::new(0);
    /// 1 once the handler has run: the futex word the main thread waits on.
    static SIGNALED: AtomicU32 = AtomicU32::new(0);

    pub fn main() {
        let mut timer: libc::timer_t = ptr::null_mut();
        // SAFETY: timer_create(2) with a zeroed sigevent (plain C data) on
        // this stack, set to deliver SIGTERM to the process, writing the id
        // into a local.
        let made = unsafe {
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_SIGNAL;
            event.sigev_signo = libc::SIGTERM;
            libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer)
        };
        assert_eq!(made, 0, "timer_create failed");
        TIMER.store(timer as usize, Ordering::Relaxed);

        // SAFETY: sigaction(2) with an action on this stack, empty mask;
        // the handler is async-signal-safe (see `on_sigterm`).
        let set = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigterm as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGTERM, &action, ptr::null_mut())
        };
        assert_eq!(set, 0, "sigaction failed");

        // Line-buffered: the line is written out (flushed) at its newline.
        println!("ready");
        while SIGNALED.load(Ordering::Acquire) == 0 {
            // SAFETY: FUTEX_WAIT on a live static word, sleeping only while
            // it is still 0, with no timeout. A wake, a signal or a word
            // already 1 each return, and the loop looks again.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    SIGNALED.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    0,
                    ptr::null::<libc::timespec>(),
                )
            };
        }
        die_by_sigterm();
        unreachable!("SIGTERM's default action ends the process");
    }

    /// The handler: the signal's time, the deadline's timer, the wake.
    /// Async-signal-safe: clock_gettime, timer_settime, a futex wake and
    /// atomics. None of them fails here, so `errno`, which the code it
    /// interrupted may be about to read, is left as it was.
    extern "C" fn on_sigterm(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel hands an SA_SIGINFO handler a valid siginfo.
        if unsafe { (*info).si_code } == libc::SI_TIMER {
            // The deadline passed with the main thread not done: its end.
            die_by_sigterm();
            return;
        }
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // The system call, not the vDSO: a process's first vDSO reading
        // faults in two pages (5 µs here), the system call none.
        // SAFETY: clock_gettime(2) into a timespec on this stack, whose
        // layout is the kernel's on 64-bit Linux (the bench's platform).
        unsafe {
            libc::syscall(
                libc::SYS_clock_gettime,
                libc::CLOCK_MONOTONIC,
                &mut now as *mut libc::timespec,
            )
        };
        SIGNALED_AT.store(
            now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64,
            Ordering::Relaxed,
        );
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: DEADLINE,
        };
        // SAFETY: timer_settime(2) on the timer `main` made before setting
        // this handler, with a spec on this stack.
        unsafe {
            libc::timer_settime(
                TIMER.load(Ordering::Relaxed) as libc::timer_t,
                0,
                &spec,
                ptr::null_mut(),
            )
        };
        SIGNALED.store(1, Ordering::Release);
        // SAFETY: FUTEX_WAKE on a live static word; nothing is written
        // through the pointer.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                SIGNALED.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                i32::MAX,
            )
        };
    }

    /// SIGTERM back to its default action, unblocked and raised: the
    /// process dies by it. Async-signal-safe.
    fn die_by_sigterm() {
        // SAFETY: sigaction(2) with a zeroed action (SIG_DFL, empty mask),
        // then a set on this stack, pthread_sigmask and raise with valid
        // arguments.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGTERM, &action, ptr::null_mut());
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, ptr::null_mut());
            libc::raise(libc::SIGTERM);
        }
    }
}
