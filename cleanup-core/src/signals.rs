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
//! is a timer that the handler arms: on Linux a POSIX timer, which delivers
//! the first configured signal with `si_code == SI_TIMER` (the handler tells
//! it apart from a signal sent by someone); elsewhere on Unix
//! `setitimer`, whose SIGALRM runs the same path (`sys::unix::timer`).

use std::io;
use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;

use crate::config::Exit;
use crate::exit_status::{Ending, Facts};
use crate::signal::SIGTERM;
use crate::log::Text;
use crate::state::{mark_shutting_down, shutting_down_seqcst, ExitReason};

/// The write end of the runtime thread's wake-up pipe, or -1.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The drain delay in ms (0: none): how long the program keeps serving
/// after the first signal before it sees the shutdown.
static DRAIN_MS: AtomicU64 = AtomicU64::new(0);
/// A signal came, and the shutdown waits for the drain delay to pass.
static DELAYING: AtomicBool = AtomicBool::new(false);
/// How many interrupts (SIGINT; on Windows Ctrl-Break too) arrived: the
/// second one forces the exit.
static SIGINTS: AtomicU32 = AtomicU32::new(0);
/// This process's parent is a `cleanup` program (it started us with
/// `cleanup::spawn`), which forwards its shutdown signal to us.
static FORWARDING_PARENT: AtomicBool = AtomicBool::new(false);
/// A runtime thread watches the deadline: the timer is not needed.
static WATCHED: AtomicBool = AtomicBool::new(false);
/// The deadline timer (a `timer_t`), once created.
static TIMER: AtomicUsize = AtomicUsize::new(0);
static TIMER_READY: AtomicBool = AtomicBool::new(false);
/// When the timer is armed to fire (on `monotonic_ns`'s clock), or 0: a
/// shutdown that finds it armed for its own deadline (the handler's, from
/// the signal) does not arm it again.
static TIMER_AT_NS: AtomicU64 = AtomicU64::new(0);
/// The first handled signal, which the deadline timer delivers (0: none
/// installed).
static TIMER_SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The start line the handler left to the runtime thread because a
/// subscriber or logger takes the lines: its signal; 0 once emitted (or when
/// none is owed).
static DEFERRED_START: AtomicI32 = AtomicI32::new(0);
/// Handlers running now, counted from before they may claim the shutdown
/// until their start line is written or handed over. The first ordinary
/// thread to start the shutdown waits for them (see [`take_deferred_start`]).
static IN_HANDLER: AtomicU32 = AtomicU32::new(0);
/// How long that thread waits at most. A handler waits for nothing (no
/// lock) and takes microseconds, preempted or not, but for its `write(2)`
/// to stderr, which blocks while stderr is a full pipe nobody reads: then
/// the deadline must still hold, so the wait is bounded.
const HANDLER_PATIENCE: Duration = Duration::from_millis(200);

pub(crate) fn set_watched() {
    WATCHED.store(true, Ordering::SeqCst);
    if crate::exit_status::deadline_ending().is_none() {
        // Before a shutdown: the runtime thread keeps the deadline. (Once
        // one has begun, the timer stays armed as the backstop; the runtime
        // thread arms it again when it first looks, in case this raced.)
        arm_timer_at(0);
    }
}

pub(crate) fn set_wake_fd(fd: i32) {
    WAKE_FD.store(fd, Ordering::SeqCst);
}

use crate::deadline::Stamp;
use crate::sys::clock::monotonic_ns;
use crate::sys::signals::Origin;
use crate::sys::timer::Timer;

/// In the child of a `fork`: no runtime thread watches here, and the
/// parent's timer and wake-up pipe are not ours.
fn reset_after_fork() {
    let fd = WAKE_FD.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // The child's copy of the parent's pipe end.
        crate::sys::fd::close(fd);
    }
    WATCHED.store(false, Ordering::SeqCst);
    TIMER_READY.store(false, Ordering::SeqCst);
    TIMER_AT_NS.store(0, Ordering::SeqCst);
    crate::exit_status::reset_deadline_ending();
    SIGINTS.store(0, Ordering::SeqCst);
    // A handler under way on another thread of the parent is not here.
    IN_HANDLER.store(0, Ordering::SeqCst);
    find_own_group();
    // The child's parent is the process that forked it.
    FORWARDING_PARENT.store(false, Ordering::Relaxed);
    crate::sys::signals::tell_parent_apart(false);
    // POSIX timers are not inherited: make this process its own.
    let first = TIMER_SIGNAL.load(Ordering::SeqCst);
    if first != 0 {
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
    let previous = crate::sys::signals::block(signals);
    let installed = install_blocked(signals, timeout, drain_delay, exit);
    crate::sys::signals::restore(&previous);
    installed
}

fn install_blocked(
    signals: &[i32],
    timeout: Duration,
    drain_delay: Duration,
    exit: Exit,
) -> io::Result<()> {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    crate::deadline::set_timeout(timeout);
    crate::runtime::after_fork(reset_after_fork);
    DRAIN_MS.store(ms(drain_delay), Ordering::SeqCst);
    crate::exit_status::set_policy(exit);
    find_own_group();
    find_forwarding_parent();
    // Made now, for the handler's lines (which it builds as it runs).
    crate::log::prefix();
    if let Some(&first) = signals.first() {
        TIMER_SIGNAL.store(first, Ordering::SeqCst);
        create_timer(first);
    }
    for &sig in signals {
        // `on_signal` is async-signal-safe.
        crate::sys::signals::register(sig, on_signal)?;
    }
    Ok(())
}

/// Creates the deadline timer (disarmed), where the platform has one.
/// Without it, a program with nothing to clean gets a runtime thread at
/// start-up instead.
fn create_timer(signal: i32) {
    if let Some(timer) = Timer::create(signal, on_signal) {
        TIMER.store(timer.to_raw(), Ordering::SeqCst);
        TIMER_READY.store(true, Ordering::SeqCst);
    }
}

/// As PID 1, wakes the runtime thread on SIGCHLD so it reaps orphans.
pub(crate) fn install_reaper() -> io::Result<()> {
    // `wake` is async-signal-safe.
    crate::sys::signals::register_plain(crate::signal::SIGCHLD, wake)
}

/// Whether the deadline is covered without a runtime thread.
pub(crate) fn has_timer() -> bool {
    TIMER_READY.load(Ordering::SeqCst)
}

/// Arms the deadline timer to fire once at `at_ns` (on `monotonic_ns`'s
/// clock); 0 disarms it. Async-signal-safe.
fn arm_timer_at(at_ns: u64) {
    if TIMER_READY.load(Ordering::SeqCst) {
        TIMER_AT_NS.store(at_ns, Ordering::SeqCst);
        Timer::from_raw(TIMER.load(Ordering::SeqCst)).arm_at(at_ns);
    }
}

/// Arms the deadline timer to fire `after` the first signal (which the
/// handler that claimed the shutdown has just stamped): no clock to read.
/// Async-signal-safe.
fn arm_timer_after_signal(after: Duration) {
    let from = match crate::deadline::first_signal_ns() {
        0 => monotonic_ns(),
        at => at,
    };
    arm_timer_at(from.saturating_add(duration_ns(after)).max(1));
}

fn duration_ns(time: Duration) -> u64 {
    u64::try_from(time.as_nanos()).unwrap_or(u64::MAX)
}

/// Arms the deadline timer for the shutdown's hard deadline `at`, so the
/// process is gone by then even if the thread that should end it is late
/// (the ending is set first, see `exit_status::set_deadline_ending`).
pub(crate) fn arm_deadline(at: Stamp) {
    let armed = TIMER_AT_NS.load(Ordering::SeqCst);
    if armed != 0 && armed.abs_diff(at.ns()) <= ARMED_CLOSE_ENOUGH {
        // Armed by the handler for this same deadline (a system call saved
        // on the way out).
        return;
    }
    // Absolute: a deadline already passed fires at once.
    arm_timer_at(at.ns().max(1));
}

/// A timer armed this close to a deadline is armed for it: the handler
/// counts from its own reading of the clock, the shutdown from the
/// signal's, microseconds apart; the timer is the backstop, well behind
/// the runtime's own wrap-up.
const ARMED_CLOSE_ENOUGH: u64 = 1_000_000;

/// The hard deadline's enforcer, where the platform has the timer: the
/// deadline passed and the process is still here, so it ends now. As the
/// shutdown settled (the ending its thread recorded) when a thread started
/// it; else (a signal came and nothing else ran: `main` stuck, nothing to
/// clean) as the exit policy says for that signal, once stdout's pending
/// output is flushed where that cannot block. Async-signal-safe.
fn hard_deadline() -> ! {
    let quiet = crate::log::quiet();
    if let Some(ending) = crate::exit_status::deadline_ending() {
        if !quiet {
            write_line(|line| {
            line.str("deadline reached, exiting now");
        });
        }
        end_now(ending);
    }
    if !quiet {
        write_line(|line| {
            line.str("deadline reached before main returned, exiting");
        });
    }
    crate::exit_status::flush_stdout_isolated(true);
    // A route that is no signal (none reaches here without a runtime
    // thread) ends as SIGTERM would.
    let first = match crate::state::first() {
        Some((ExitReason::Signal(sig), _)) => (ExitReason::Signal(sig), sig),
        _ => (ExitReason::Signal(SIGTERM), SIGTERM),
    };
    end_now(crate::exit_status::decide(Some(first), Facts::default()))
}

/// Ends the process as `ending` says, from a handler. Async-signal-safe.
fn end_now(ending: Ending) -> ! {
    match ending {
        Ending::Raise(sig) => crate::exit_status::die_by(sig),
        Ending::Code(code) => crate::exit_status::hard_exit(code),
        Ending::Abort => crate::exit_status::die_by(crate::signal::SIGABRT),
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
fn on_signal(sig: i32, origin: Origin) {
    if origin == Origin::Timer {
        TIMER_AT_NS.store(0, Ordering::SeqCst);
        if crate::exit_status::deadline_ending().is_some() {
            // A shutdown's hard deadline, armed by an ordinary thread: the
            // process is gone now, whoever was to end it.
            hard_deadline();
        }
        if DELAYING.swap(false, Ordering::SeqCst) {
            return begin_after_delay();
        }
        if shutting_down_seqcst() && !WATCHED.load(Ordering::SeqCst) {
            hard_deadline();
        }
        return;
    }
    // (Not in a signal context: Windows' handler thread.)
    let closing_since = matches!(origin, Origin::Closing(_)).then(Instant::now);
    if let Origin::Closing(limit) = origin {
        // The system ends the process `limit` after this event: the
        // deadline, counted from now, keeps within it.
        crate::deadline::clamp_timeout(limit);
    }
    // A SIGINT that a `cleanup` parent forwards is not a person's second
    // Ctrl-C: a tool that signals the whole process tree (pm2) reaches a
    // child in its own group too, and then the parent forwards it again.
    let forwarded = origin == Origin::Parent && FORWARDING_PARENT.load(Ordering::Relaxed);
    let sigints = if is_interrupt(sig) && !forwarded {
        SIGINTS.fetch_add(1, Ordering::SeqCst)
    } else {
        0
    };
    if is_interrupt(sig) && sigints > 0 {
        if !crate::log::quiet() {
            write_line(|line| {
            line.str("second ").signal(sig).str(", exiting now without cleanup");
        });
        }
        crate::exit_status::die_by(sig);
    }
    // Counted before the claim: a thread that sees this signal's shutdown
    // (its claim, the flag) sees the count too, and does not end the
    // process before the start line is out. This handler may run on any
    // thread (a thread just created takes a signal that came while its
    // creator had every signal blocked), and be preempted half-way while
    // `main`, woken by the flag, runs the whole shutdown.
    IN_HANDLER.fetch_add(1, Ordering::SeqCst);
    claim_and_announce(sig, matches!(origin, Origin::Closing(_)));
    IN_HANDLER.fetch_sub(1, Ordering::SeqCst);
    if let (Origin::Closing(limit), Some(since)) = (origin, closing_since) {
        // Windows ends the process `limit` after the event, and at once
        // should this return. A shutdown this event began is clamped to it
        // already; one that began before it (a Ctrl-C, then the window
        // closed) has its budget cut to it now, so its cleanups share what
        // is left. This thread (an ordinary one Windows started) stays as
        // the backstop: at the limit less the margin, the process ends as
        // the shutdown settled, not as Windows would kill it.
        if let Some(cap) = CAP.get() {
            cap(since, limit);
        }
        std::thread::sleep(crate::deadline::effective(limit).saturating_sub(since.elapsed()));
        hard_deadline();
    }
}

/// What cuts the shutdown's budget to a limit the system sets later (see
/// [`Origin::Closing`]): installed by the shutdown at set-up.
static CAP: OnceCell<fn(Instant, Duration)> = OnceCell::new();

/// Installs `cap` (see [`CAP`]).
pub(crate) fn on_cap(cap: fn(Instant, Duration)) {
    let _ = CAP.set(cap);
}

/// The part of [`on_signal`] that may start the shutdown and owes its start
/// line. Async-signal-safe, but for a `closing` event (Windows' close,
/// logoff or shutdown, on an ordinary thread), whose start line is written
/// afresh: its timeout was just clamped.
fn claim_and_announce(sig: i32, closing: bool) {
    if DELAYING.load(Ordering::SeqCst) {
        // More TERM/HUP while serving the drain delay change nothing; a
        // Ctrl-C (a person, not an orchestrator) ends the delay now.
        if is_interrupt(sig) && DELAYING.swap(false, Ordering::SeqCst) {
            begin_after_delay();
        }
        return;
    }
    let claimed = crate::state::claim(ExitReason::Signal(sig), sig);
    if claimed {
        crate::deadline::mark_first_signal();
    }
    let delay = DRAIN_MS.load(Ordering::SeqCst);
    if claimed && delay > 0 && !shutting_down_seqcst() {
        // Kubernetes: not ready at once (the claim did that), but the
        // program serves on until the endpoints have caught up.
        DELAYING.store(true, Ordering::SeqCst);
        announce_start(sig, closing);
        if !WATCHED.load(Ordering::SeqCst) {
            arm_timer_after_signal(Duration::from_millis(delay));
        }
        wake();
        return;
    }
    let was_shutting_down = mark_shutting_down();
    if claimed {
        announce_start(sig, closing);
        if !WATCHED.load(Ordering::SeqCst) {
            arm_timer_after_signal(crate::deadline::effective(crate::deadline::timeout()));
        }
    } else if is_interrupt(sig) {
        // The hint is for a person at the terminal, raw even under a
        // subscriber (the handler cannot emit an event).
        if !crate::log::quiet() {
            let again = |line: &mut Text| {
                line.signal(sig).str(" received while shutting down");
            };
            if in_foreground() {
                write_line(|line| {
                    again(line);
                    force_hint(line, sig);
                });
            } else if !crate::log::routed() {
                write_line(again);
            }
        }
    }
    if claimed || !was_shutting_down {
        // Sleepers in `sleep`/`wait` learn of it now, without a hand-off.
        crate::park::wake_from_handler();
        wake();
    }
}

/// Says that `sig` starts the shutdown.
/// With a subscriber or logger installed and a runtime thread to emit the
/// event, the line is left to that thread; otherwise it is written here.
/// Async-signal-safe: atomic loads and `write(2)`.
fn announce_start(sig: i32, closing: bool) {
    if crate::log::quiet() {
        return;
    }
    if crate::log::routed() && WATCHED.load(Ordering::SeqCst) {
        DEFERRED_START.store(sig, Ordering::SeqCst);
        return;
    }
    if closing {
        // Not in a signal context (see `claim_and_announce`).
        let delayed = DRAIN_MS.load(Ordering::SeqCst) > 0;
        write_line(|line| start_text(line, sig, delayed, false));
        return;
    }
    let delayed = DRAIN_MS.load(Ordering::SeqCst) > 0;
    let hint = is_interrupt(sig) && in_foreground();
    write_line(|line| start_text(line, sig, delayed, hint));
}

/// Writes one line of the handler's (see `log::write_shutdown_line`).
/// Async-signal-safe.
fn write_line(text: impl FnOnce(&mut Text)) {
    crate::log::write_shutdown_line(crate::log::prefix_made(), text);
}

/// The key a person presses for `sig`, if it is an interrupt: SIGINT is
/// Ctrl-C (and, on Windows, SIGBREAK Ctrl-Break). Async-signal-safe.
fn interrupt_key(sig: i32) -> Option<&'static str> {
    crate::sys::signals::INTERRUPTS
        .iter()
        .find(|(interrupt, _)| *interrupt == sig)
        .map(|(_, key)| *key)
}

/// Whether `sig` is an interrupt, which a second time forces the exit.
/// Async-signal-safe.
fn is_interrupt(sig: i32) -> bool {
    interrupt_key(sig).is_some()
}

/// `; press Ctrl-C again to force` for an interrupt; nothing for the rest.
fn force_hint(text: &mut Text, sig: i32) {
    if let Some(key) = interrupt_key(sig) {
        text.str("; press ").str(key).str(" again to force");
    }
}

/// `SIGTERM received, draining (10s)`, with the drain delay if there is one
/// and, for a person at the terminal, how to force the exit.
/// Async-signal-safe.
fn start_text(text: &mut Text, sig: i32, delayed: bool, hint: bool) {
    text.signal(sig).str(" received, ");
    if delayed {
        text.str("not ready; serving ")
            .secs(Duration::from_millis(DRAIN_MS.load(Ordering::SeqCst)))
            .str(" more, then draining (");
    } else {
        text.str("draining (");
    }
    text.secs(crate::deadline::timeout()).str(")");
    if hint {
        force_hint(text, sig);
    }
}

/// The start line the handler left to the runtime thread, once: its text
/// and signal. For the first thread that reaches the start of the shutdown.
///
/// First waits for the handlers under way: the one that claimed the
/// shutdown may not have written its line, or handed it over, yet. The
/// caller is the thread that starts the shutdown, before any other line of
/// it, so the start line always comes first, and is never lost to a
/// process that leaves before a preempted handler is done.
pub(crate) fn take_deferred_start() -> Option<(String, i32)> {
    wait_for_handlers();
    let sig = DEFERRED_START.swap(0, Ordering::SeqCst);
    if sig == 0 {
        return None;
    }
    let delayed = DRAIN_MS.load(Ordering::SeqCst) > 0;
    let mut text = Text::new();
    start_text(&mut text, sig, delayed, in_foreground());
    Some((text.as_str().to_owned(), sig))
}

/// Waits until no handler is between its claim and its start line (at most
/// [`HANDLER_PATIENCE`]). Never called in a handler: a handler that
/// interrupts this thread runs to its end before the wait goes on, so it
/// cannot be waited for by its own thread.
fn wait_for_handlers() {
    if IN_HANDLER.load(Ordering::SeqCst) == 0 {
        return;
    }
    let since = Instant::now();
    let mut spins = 0u32;
    while IN_HANDLER.load(Ordering::SeqCst) > 0 && since.elapsed() < HANDLER_PATIENCE {
        // The handler's thread may need this CPU (two cores, busy).
        if spins < 64 {
            std::thread::yield_now();
            spins += 1;
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Whether a person may have pressed Ctrl-C, and so is told that a second
/// one forces the exit. With a controlling terminal: when this process's
/// group is its foreground group (a background job or a child in its own
/// group is not told). With none (a pipe, CI, a test harness): unless the
/// process runs in a group of its own, apart from its parent's, which no
/// terminal's Ctrl-C reaches ([`OWN_GROUP`], found at install). The terminal
/// is asked through `/dev/tty`, so redirected stdio changes nothing.
/// Async-signal-safe: open(2), tcgetpgrp, getpgrp(2) and close(2) (the
/// handler's caller keeps `errno`).
pub(crate) fn in_foreground() -> bool {
    crate::sys::signals::terminal_foreground().unwrap_or_else(|| !OWN_GROUP.load(Ordering::Relaxed))
}

/// Whether this process leads a process group other than its parent's, set
/// at install: a child started in its own group, a daemon.
static OWN_GROUP: AtomicBool = AtomicBool::new(false);

fn find_forwarding_parent() {
    let forwarding = crate::log::spawned_by_parent();
    FORWARDING_PARENT.store(forwarding, Ordering::Relaxed);
    crate::sys::signals::tell_parent_apart(forwarding);
}

fn find_own_group() {
    OWN_GROUP.store(crate::sys::signals::leads_own_group(), Ordering::Relaxed);
}

/// The drain delay is over: the program sees the shutdown now (token,
/// `checkpoint`, `sleep`), with what is left of the deadline, which ran
/// from the signal. Async-signal-safe.
fn begin_after_delay() {
    mark_shutting_down();
    if !WATCHED.load(Ordering::SeqCst) {
        // What is left of the deadline, but a millisecond at least.
        let now = monotonic_ns();
        let due = crate::deadline::first_signal_ns()
            .saturating_add(duration_ns(crate::deadline::effective(crate::deadline::timeout())));
        arm_timer_at(due.max(now.saturating_add(1_000_000)));
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
    Some(crate::deadline::first_signal_at()? + delay)
}

/// For the runtime thread: ends the drain delay (if the handler's timer has
/// not already).
pub(crate) fn end_delay() {
    if DELAYING.swap(false, Ordering::SeqCst) {
        begin_after_delay();
        crate::park::wake_all();
    }
}

/// Runs the console handler for `event` (a `CTRL_*_EVENT` code) as Windows
/// would, on the calling thread: for a close, logoff or shutdown it does
/// not return (the drain ends the process). Whether a handler took it.
#[cfg(windows)]
pub fn console_event(event: u32) -> bool {
    crate::sys::signals::deliver(event)
}

/// Blocks `signals` on the calling thread for good. The runtime thread
/// blocks the handled signals, so the kernel delivers them to a thread of
/// the program, where the handler wakes a sleeping `main` directly.
pub(crate) fn block_on_this_thread(signals: &[i32]) {
    crate::sys::signals::block(signals);
}

/// Wakes the runtime thread. Async-signal-safe; never blocks (the pipe is
/// non-blocking, and a full pipe already holds a wake-up).
pub(crate) fn wake() {
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        crate::sys::bell::ring(fd);
    }
}
