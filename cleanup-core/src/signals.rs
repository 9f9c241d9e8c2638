//! The signal handler: the only code here that runs in a signal context.
//!
//! Rules for everything reachable from [`on_signal`]: no locks, no
//! allocation, no panics; atomics and async-signal-safe syscalls only. The
//! rest of the work happens on ordinary threads: the program's own, which the
//! handler wakes through [`park`](crate::park), and the runtime thread, which
//! it wakes by writing one byte to a pipe.
//!
//! The runtime thread exists only once there is something to watch (a guard,
//! a finalizer): a program with nothing to clean keeps a single thread and
//! dies as fast as the default action would kill it. Until then, the deadline
//! is a POSIX timer that the handler arms; it delivers the first configured
//! signal with `si_code == SI_TIMER`, which the handler tells apart from a
//! signal sent by someone.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use once_cell::sync::OnceCell;

use crate::config::Exit;
use crate::log::{Secs, SignalName};
use crate::state::{SHUTTING_DOWN, SIGNAL};

/// The write end of the runtime thread's wake-up pipe, or -1.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The first signal came from the kernel: a terminal's Ctrl-C (or ^\\, or a
/// hang-up), which the whole foreground process group received.
static FROM_TERMINAL: AtomicBool = AtomicBool::new(false);
/// A runtime thread watches the deadline: the timer is not needed.
static WATCHED: AtomicBool = AtomicBool::new(false);
/// The deadline timer (a `timer_t`), once created.
static TIMER: AtomicUsize = AtomicUsize::new(0);
static TIMER_READY: AtomicBool = AtomicBool::new(false);
static TIMEOUT_MS: AtomicU64 = AtomicU64::new(10_000);
/// The exit policy, for the timer's exit: 0 signal, 1 code, 2 zero.
static POLICY: AtomicU8 = AtomicU8::new(0);
/// The start line for each handled signal, formatted before the handlers are
/// installed, so the handler can print it with one `write(2)`: the line shows
/// at once, even when every thread of the program is stuck.
static START_LINES: OnceCell<Vec<(i32, Box<[u8]>)>> = OnceCell::new();

pub(crate) fn set_watched() {
    WATCHED.store(true, Ordering::SeqCst);
    arm_timer(Duration::ZERO);
}

pub(crate) fn set_wake_fd(fd: i32) {
    WAKE_FD.store(fd, Ordering::SeqCst);
}

/// Installs the handler for each signal through signal-hook, which chains:
/// handlers set before ours still run, and later signal-hook users coexist.
pub(crate) fn install(signals: &[i32], timeout: Duration, exit: Exit) -> io::Result<()> {
    TIMEOUT_MS.store(
        u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        Ordering::SeqCst,
    );
    POLICY.store(exit as u8, Ordering::SeqCst);
    let _ = START_LINES.set(
        signals
            .iter()
            .map(|&sig| {
                let force = if sig == libc::SIGINT {
                    "; press Ctrl-C again to force"
                } else {
                    ""
                };
                let line = format!(
                    "shutdown: {} received, draining ({}){force}\n",
                    SignalName(sig),
                    Secs(timeout)
                );
                (sig, line.into_bytes().into_boxed_slice())
            })
            .collect(),
    );
    if let Some(&first) = signals.first() {
        create_timer(first);
    }
    for &sig in signals {
        // SAFETY: registering a handler (sigaction); the action is
        // async-signal-safe: see `on_signal`.
        unsafe { signal_hook_registry::register_sigaction(sig, move |info| on_signal(sig, info)) }?;
    }
    Ok(())
}

/// Creates the deadline timer (disarmed). Without it, a program with nothing
/// to clean gets a runtime thread at start-up instead.
fn create_timer(signal: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: timer_create(2) with a zeroed sigevent set to deliver
        // `signal` to the process, writing the id to a local.
        let created = unsafe {
            let mut event: libc::sigevent = std::mem::zeroed();
            event.sigev_notify = libc::SIGEV_SIGNAL;
            event.sigev_signo = signal;
            let mut timer: libc::timer_t = std::mem::zeroed();
            (libc::timer_create(libc::CLOCK_MONOTONIC, &mut event, &mut timer) == 0)
                .then_some(timer as usize)
        };
        if let Some(timer) = created {
            TIMER.store(timer, Ordering::SeqCst);
            TIMER_READY.store(true, Ordering::SeqCst);
        }
    }
    let _ = signal;
}

/// Whether the first signal came from the terminal (see `children`).
pub(crate) fn first_from_terminal() -> bool {
    FROM_TERMINAL.load(Ordering::SeqCst)
}

/// As PID 1, wakes the runtime thread on SIGCHLD so it reaps orphans.
pub(crate) fn install_reaper() -> io::Result<()> {
    // SAFETY: registering a handler (sigaction); `wake` is async-signal-safe.
    unsafe { signal_hook_registry::register(libc::SIGCHLD, wake) }?;
    Ok(())
}

/// Whether the deadline is covered without a runtime thread.
pub(crate) fn has_timer() -> bool {
    TIMER_READY.load(Ordering::SeqCst)
}

/// Arms the deadline timer to fire once after `after`; zero disarms it.
/// Async-signal-safe (`timer_settime` is).
fn arm_timer(after: Duration) {
    #[cfg(target_os = "linux")]
    if TIMER_READY.load(Ordering::SeqCst) {
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs().try_into().unwrap_or(libc::time_t::MAX),
                tv_nsec: after.subsec_nanos().into(),
            },
        };
        // SAFETY: timer_settime(2) on the timer created above, with a spec
        // that lives on this stack for the call.
        unsafe {
            libc::timer_settime(
                TIMER.load(Ordering::SeqCst) as libc::timer_t,
                0,
                &spec,
                std::ptr::null_mut(),
            )
        };
    }
    let _ = after;
}

/// The deadline passed with no runtime thread to end the process: end it
/// from here, as the policy says. Async-signal-safe.
fn deadline_reached() -> ! {
    if !crate::log::quiet() {
        crate::log::write_stderr(b"shutdown: deadline reached before main returned, exiting\n");
    }
    let sig = SIGNAL.load(Ordering::SeqCst);
    match POLICY.load(Ordering::SeqCst) {
        0 => crate::exit_status::die_by(sig),
        _ => crate::exit_status::hard_exit(128 + sig),
    }
}

/// What the handler does. Async-signal-safe.
///
/// The first signal marks the process as shutting down and wakes the runtime
/// thread. A SIGINT once shutdown has started (the user pressing Ctrl-C again)
/// forces the exit at once, by SIGINT, with no more cleanup. Repeated SIGTERM
/// or SIGHUP change nothing: orchestrators may send several.
fn on_signal(sig: i32, info: &libc::siginfo_t) {
    #[cfg(target_os = "linux")]
    if info.si_code == libc::SI_TIMER {
        if SHUTTING_DOWN.load(Ordering::SeqCst) && !WATCHED.load(Ordering::SeqCst) {
            deadline_reached();
        }
        return;
    }
    let first = SIGNAL
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    #[cfg(target_os = "linux")]
    if first && info.si_code == libc::SI_KERNEL {
        FROM_TERMINAL.store(true, Ordering::SeqCst);
    }
    let _ = info;
    let was_shutting_down = SHUTTING_DOWN.swap(true, Ordering::SeqCst);
    if sig == libc::SIGINT && (!first || was_shutting_down) {
        if !crate::log::quiet() {
            crate::log::write_stderr(b"shutdown: second SIGINT, exiting now without cleanup\n");
        }
        crate::exit_status::die_by(sig);
    }
    if first {
        if let Some(lines) = START_LINES.get().filter(|_| !crate::log::quiet()) {
            if let Some((_, line)) = lines.iter().find(|(s, _)| *s == sig) {
                crate::log::write_stderr(line);
            }
        }
        if !WATCHED.load(Ordering::SeqCst) {
            arm_timer(Duration::from_millis(TIMEOUT_MS.load(Ordering::SeqCst)));
        }
        // Sleepers in `sleep`/`wait` learn of it now, without a hand-off.
        crate::park::wake_from_handler();
        wake();
    }
}

/// Blocks the handled signals on the calling thread (the runtime thread), so
/// the kernel delivers them to a thread of the program, where the handler
/// wakes a sleeping `main` directly.
pub(crate) fn block_on_this_thread(signals: &[i32]) {
    // SAFETY: sigemptyset/sigaddset on a local set, then pthread_sigmask on
    // the calling thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Wakes the runtime thread. Async-signal-safe; never blocks (the pipe is
/// non-blocking, and a full pipe already holds a wake-up).
pub(crate) fn wake() {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write(2) of one byte from a live stack buffer to our pipe.
        unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    }
}
