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
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;

use crate::config::Exit;
use crate::log::{Secs, SignalName};
use crate::state::{ExitReason, SHUTTING_DOWN};

/// The write end of the runtime thread's wake-up pipe, or -1.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The drain delay in ms (0: none): how long the program keeps serving
/// after the first signal before it sees the shutdown.
static DRAIN_MS: AtomicU64 = AtomicU64::new(0);
/// A signal came, and the shutdown waits for the drain delay to pass.
static DELAYING: AtomicBool = AtomicBool::new(false);
/// How many SIGINTs arrived: the second one forces the exit.
static SIGINTS: AtomicU32 = AtomicU32::new(0);
/// When the first handled signal arrived (CLOCK_MONOTONIC, in ns), or 0: the
/// deadline runs from there.
static FIRST_SIGNAL_NS: AtomicU64 = AtomicU64::new(0);
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

/// CLOCK_MONOTONIC in nanoseconds, the clock `Instant` reads. Async-signal-safe.
fn monotonic_ns() -> u64 {
    // SAFETY: clock_gettime(2) writing into a zeroed timespec on this stack.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts
    };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// The configured timeout (the orchestrator's grace period).
/// Async-signal-safe.
pub(crate) fn timeout() -> Duration {
    Duration::from_millis(TIMEOUT_MS.load(Ordering::SeqCst))
}

/// When the first handled signal arrived, if one did.
pub(crate) fn first_signal_at() -> Option<Instant> {
    let at = FIRST_SIGNAL_NS.load(Ordering::SeqCst);
    if at == 0 {
        return None;
    }
    let now = Instant::now();
    let ago = monotonic_ns().saturating_sub(at);
    now.checked_sub(Duration::from_nanos(ago))
}

/// In the child of a `fork`: no runtime thread watches here, and the
/// parent's timer and wake-up pipe are not ours.
pub(crate) fn reset_after_fork() {
    let fd = WAKE_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: close(2) of the child's copy of the parent's pipe end.
        unsafe { libc::close(fd) };
    }
    WATCHED.store(false, Ordering::SeqCst);
    TIMER_READY.store(false, Ordering::SeqCst);
    SIGINTS.store(0, Ordering::SeqCst);
    // POSIX timers are not inherited: make this process its own.
    if let Some(&(first, _)) = START_LINES.get().and_then(|lines| lines.first()) {
        create_timer(first);
    }
}

/// Installs the handler for each signal through signal-hook, which chains:
/// handlers set before ours still run, and later signal-hook users coexist.
pub(crate) fn install(
    signals: &[i32],
    timeout: Duration,
    drain_delay: Duration,
    exit: Exit,
) -> io::Result<()> {
    // A signal that arrives while the handlers are being registered stays
    // pending until they all are (signal-hook-registry has a window where a
    // handler is set but not yet published), then runs ours.
    let previous = block_on_this_thread(signals);
    let installed = install_blocked(signals, timeout, drain_delay, exit);
    restore_mask(&previous);
    installed
}

fn install_blocked(
    signals: &[i32],
    timeout: Duration,
    drain_delay: Duration,
    exit: Exit,
) -> io::Result<()> {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    TIMEOUT_MS.store(ms(timeout), Ordering::SeqCst);
    DRAIN_MS.store(ms(drain_delay), Ordering::SeqCst);
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
                let line = if drain_delay.is_zero() {
                    format!(
                        "shutdown: {} received, draining ({}){force}\n",
                        SignalName(sig),
                        Secs(timeout)
                    )
                } else {
                    format!(
                        "shutdown: {} received, not ready; serving {} more, then draining ({}){force}\n",
                        SignalName(sig),
                        Secs(drain_delay),
                        Secs(timeout)
                    )
                };
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
    crate::exit_status::flush_stdout_isolated();
    let sig = match crate::state::first() {
        Some((ExitReason::Signal(sig), _)) => sig,
        _ => libc::SIGTERM,
    };
    match POLICY.load(Ordering::SeqCst) {
        0 => crate::exit_status::die_by(sig),
        _ => crate::exit_status::hard_exit(128 + sig),
    }
}

/// What the handler does. Async-signal-safe.
///
/// The first signal, if nothing else started the shutdown, claims it: the
/// deadline runs from now, sleepers wake, the runtime thread is told. A
/// SIGINT that comes second (the user pressing Ctrl-C again) forces the exit
/// at once, by SIGINT, with no more cleanup; a first SIGINT during a shutdown
/// something else started only says how to force it. Repeated SIGTERM or
/// SIGHUP change nothing: orchestrators may send several.
fn on_signal(sig: i32, info: &libc::siginfo_t) {
    #[cfg(target_os = "linux")]
    if info.si_code == libc::SI_TIMER {
        if DELAYING.swap(false, Ordering::SeqCst) {
            return begin_after_delay();
        }
        if SHUTTING_DOWN.load(Ordering::SeqCst) && !WATCHED.load(Ordering::SeqCst) {
            deadline_reached();
        }
        return;
    }
    let _ = info;
    let sigints = if sig == libc::SIGINT {
        SIGINTS.fetch_add(1, Ordering::SeqCst)
    } else {
        0
    };
    if sig == libc::SIGINT && sigints > 0 {
        if !crate::log::quiet() {
            crate::log::write_stderr(b"shutdown: second SIGINT, exiting now without cleanup\n");
        }
        crate::exit_status::die_by(sig);
    }
    if DELAYING.load(Ordering::SeqCst) {
        // More TERM/HUP while serving the drain delay change nothing; a
        // Ctrl-C (a person, not an orchestrator) ends the delay now.
        if sig == libc::SIGINT && DELAYING.swap(false, Ordering::SeqCst) {
            begin_after_delay();
        }
        return;
    }
    let claimed = crate::state::claim(ExitReason::Signal(sig), sig);
    if claimed {
        FIRST_SIGNAL_NS.store(monotonic_ns(), Ordering::SeqCst);
    }
    let delay = DRAIN_MS.load(Ordering::SeqCst);
    if claimed && delay > 0 && !SHUTTING_DOWN.load(Ordering::SeqCst) {
        // Kubernetes: not ready at once (the claim did that), but the
        // program serves on until the endpoints have caught up.
        DELAYING.store(true, Ordering::SeqCst);
        print_start_line(sig);
        if !WATCHED.load(Ordering::SeqCst) {
            arm_timer(Duration::from_millis(delay));
        }
        wake();
        return;
    }
    let was_shutting_down = SHUTTING_DOWN.swap(true, Ordering::SeqCst);
    if claimed {
        print_start_line(sig);
        if !WATCHED.load(Ordering::SeqCst) {
            arm_timer(crate::deadline::effective(timeout()));
        }
    } else if sig == libc::SIGINT && !crate::log::quiet() {
        crate::log::write_stderr(
            b"shutdown: SIGINT received while shutting down; press Ctrl-C again to force\n",
        );
    }
    if claimed || !was_shutting_down {
        // Sleepers in `sleep`/`wait` learn of it now, without a hand-off.
        crate::park::wake_from_handler();
        wake();
    }
}

/// The start line for `sig`, formatted at install. Async-signal-safe.
fn print_start_line(sig: i32) {
    if let Some(lines) = START_LINES.get().filter(|_| !crate::log::quiet()) {
        if let Some((_, line)) = lines.iter().find(|(s, _)| *s == sig) {
            crate::log::write_stderr(line);
        }
    }
}

/// The drain delay is over: the program sees the shutdown now (token,
/// `checkpoint`, `sleep`), with what is left of the deadline, which ran
/// from the signal. Async-signal-safe.
fn begin_after_delay() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    if !WATCHED.load(Ordering::SeqCst) {
        let since = Duration::from_nanos(
            monotonic_ns().saturating_sub(FIRST_SIGNAL_NS.load(Ordering::SeqCst)),
        );
        let left = crate::deadline::effective(timeout()).saturating_sub(since);
        arm_timer(left.max(Duration::from_millis(1)));
    }
    crate::park::wake_from_handler();
    wake();
}

/// For the runtime thread: when the drain delay ends, if one is running.
pub(crate) fn delay_until() -> Option<std::time::Instant> {
    if !DELAYING.load(Ordering::SeqCst) {
        return None;
    }
    let delay = Duration::from_millis(DRAIN_MS.load(Ordering::SeqCst));
    Some(first_signal_at()? + delay)
}

/// For the runtime thread: ends the drain delay (if the handler's timer has
/// not already).
pub(crate) fn end_delay() {
    if DELAYING.swap(false, Ordering::SeqCst) {
        begin_after_delay();
        crate::park::wake_all();
    }
}

/// Blocks `signals` on the calling thread; returns the mask it had. The
/// runtime thread blocks the handled signals for good, so the kernel
/// delivers them to a thread of the program, where the handler wakes a
/// sleeping `main` directly.
pub(crate) fn block_on_this_thread(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset on local sets, then pthread_sigmask on
    // the calling thread, writing the old mask into a local.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous);
        previous
    }
}

/// Puts back a mask saved by [`block_on_this_thread`]; pending signals are
/// delivered now.
fn restore_mask(previous: &libc::sigset_t) {
    // SAFETY: pthread_sigmask on the calling thread with a mask it had.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, previous, std::ptr::null_mut()) };
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
