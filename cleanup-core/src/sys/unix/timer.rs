//! The deadline timer of the POSIX baseline: `setitimer(ITIMER_REAL)`,
//! whose SIGALRM runs the handler's timer path (POSIX timers are missing on
//! macOS). With it, a program with nothing to clean has no runtime thread,
//! as on Linux.
//!
//! SIGALRM stays the program's until a shutdown needs the timer: the action
//! is set the first time the timer is armed (from the signal handler:
//! `sigaction` is async-signal-safe), never at start-up. From then on, an
//! alarm that is not the deadline (the program's own `alarm`, a `kill`) goes
//! to the handler the program had, if it had one; a default or ignored
//! SIGALRM is ignored, as the deadline ends the process anyway. There is one
//! `ITIMER_REAL` per process: an alarm the program had set that comes
//! before the deadline stays armed, and the deadline's is armed when it
//! fires (one due later is replaced, and a periodic one stops there); if
//! the program sets one during the shutdown, the deadline's is armed again
//! when that one fires.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Duration;

use once_cell::sync::OnceCell;

use super::clock::monotonic_ns;
use crate::sys::signals::Origin;

/// The process's one interval timer.
#[derive(Clone, Copy)]
pub(crate) struct Timer(());

/// The signal the timer stands for and the handler it runs when it fires.
static FIRE: OnceCell<Fire> = OnceCell::new();
type Fire = (i32, fn(i32, Origin));
/// When the timer is due (on `monotonic_ns`'s clock), or 0: not armed.
static DUE_NS: AtomicU64 = AtomicU64::new(0);
/// Whether SIGALRM's action is ours: not yet, being set, set.
static ACTION: AtomicU8 = AtomicU8::new(NOT_SET);
const NOT_SET: u8 = 0;
const SETTING: u8 = 1;
const SET: u8 = 2;
/// An alarm this much before the due time is the timer's own (its clock
/// and `monotonic_ns`'s may differ by a tick).
const EARLY: u64 = 2_000_000;

/// The action SIGALRM had before ours: written once, before ours is set
/// (`ACTION` tells when it may be read).
struct Previous(UnsafeCell<MaybeUninit<libc::sigaction>>);
// SAFETY: written once by the thread that moved `ACTION` from NOT_SET to
// SETTING, before it stores SET; read only after SET is seen.
unsafe impl Sync for Previous {}
static PREVIOUS: Previous = Previous(UnsafeCell::new(MaybeUninit::uninit()));

impl Timer {
    /// The timer that runs `handler(signal, Origin::Timer)` when it fires.
    /// Disarmed; SIGALRM is untouched until it is armed. Called again in
    /// the child of a `fork`, which has no timer armed.
    pub(crate) fn create(signal: i32, handler: fn(i32, Origin)) -> Option<Timer> {
        let _ = FIRE.set((signal, handler));
        DUE_NS.store(0, Ordering::SeqCst);
        Some(Timer(()))
    }

    /// Raw form, for an atomic. Async-signal-safe.
    pub(crate) fn to_raw(self) -> usize {
        0
    }

    /// Back from [`Timer::to_raw`].
    pub(crate) fn from_raw(_raw: usize) -> Timer {
        Timer(())
    }

    /// Fires once at `at_ns` on `monotonic_ns`'s clock, a microsecond
    /// from now if that has passed; 0 disarms (an alarm of the program's
    /// is left alone if the timer was not armed). Async-signal-safe.
    pub(crate) fn arm_at(self, at_ns: u64) {
        if at_ns == 0 {
            if DUE_NS.swap(0, Ordering::SeqCst) != 0 {
                set_itimer(Duration::ZERO);
            }
            return;
        }
        if !take_sigalrm() {
            // SIGALRM is not ours: the runtime thread, once one runs, keeps
            // the deadline.
            return;
        }
        // `ITIMER_REAL` counts from now.
        let now = monotonic_ns();
        let after = Duration::from_nanos(at_ns.saturating_sub(now)).max(Duration::from_micros(1));
        let due = at_ns.max(now);
        let armed_before = DUE_NS.swap(due.max(1), Ordering::SeqCst) != 0;
        if !armed_before && pending().is_some_and(|left| left < after) {
            // An alarm of the program's comes first: it stays, and when it
            // fires, `on_alarm` arms the deadline's behind it.
            return;
        }
        set_itimer(after);
    }
}

/// Whether a signal with `info` is the timer firing: never through the
/// handled signals here (it comes as SIGALRM, see `on_alarm`).
/// Async-signal-safe.
pub(crate) fn fired(_info: &libc::siginfo_t) -> bool {
    false
}

/// Sets SIGALRM's action to `on_alarm`, keeping the previous one, the
/// first time; whether it is (or is being) ours. Async-signal-safe.
fn take_sigalrm() -> bool {
    if ACTION
        .compare_exchange(NOT_SET, SETTING, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return true;
    }
    // SAFETY: sigaction(2) with an action zeroed then filled on this stack
    // (a handler of the SA_SIGINFO form, an empty mask), saving the old
    // action into `PREVIOUS`, which only this thread writes (it won the
    // exchange above) and nobody reads before `SET`.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_alarm as SigInfoAction as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let previous = (*PREVIOUS.0.get()).as_mut_ptr();
        if libc::sigaction(libc::SIGALRM, &action, previous) != 0 {
            ACTION.store(NOT_SET, Ordering::SeqCst);
            return false;
        }
    }
    ACTION.store(SET, Ordering::SeqCst);
    true
}

/// How long until `ITIMER_REAL` fires, if it is armed. Async-signal-safe.
fn pending() -> Option<Duration> {
    // SAFETY: getitimer(2) writing into a zeroed value on this stack.
    let value = unsafe {
        let mut value: libc::itimerval = std::mem::zeroed();
        if libc::getitimer(libc::ITIMER_REAL, &mut value) != 0 {
            return None;
        }
        value.it_value
    };
    let secs = u64::try_from(value.tv_sec).unwrap_or(0);
    let micros = u32::try_from(value.tv_usec).unwrap_or(0);
    let left = Duration::from_secs(secs) + Duration::from_micros(micros.into());
    (!left.is_zero()).then_some(left)
}

/// Arms `ITIMER_REAL` to fire once after `after` (rounded up to a
/// microsecond); zero disarms. Async-signal-safe.
fn set_itimer(after: Duration) {
    let micros = after.as_nanos().div_ceil(1000);
    let secs = u64::try_from(micros / 1_000_000).unwrap_or(u64::MAX);
    let spec = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            // Capped where `time_t` has 32 bits.
            tv_sec: secs.try_into().unwrap_or(i32::MAX.into()),
            // Below 10^6: fits every `suseconds_t`.
            tv_usec: (micros % 1_000_000).try_into().unwrap_or(0),
        },
    };
    // SAFETY: setitimer(2) with a value on this stack and no old value. A
    // system call on every Unix (`alarm`, which POSIX lists as
    // async-signal-safe, is this same call with whole seconds).
    unsafe { libc::setitimer(libc::ITIMER_REAL, &spec, std::ptr::null_mut()) };
}

/// A signal action of the `SA_SIGINFO` form.
type SigInfoAction = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// SIGALRM's action once the timer was armed: the deadline, or an alarm of
/// the program's, handed to the handler it had. Async-signal-safe.
extern "C" fn on_alarm(sig: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let errno = super::errno::get();
    let due = DUE_NS.load(Ordering::SeqCst);
    if due != 0 {
        let now = monotonic_ns();
        if now.saturating_add(EARLY) >= due {
            DUE_NS.store(0, Ordering::SeqCst);
            if let Some(&(signal, handler)) = FIRE.get() {
                handler(signal, Origin::Timer);
            }
            super::errno::set(errno);
            return;
        }
        // The program's own alarm (or a `kill`): the deadline's is due
        // later, and the program's replaced it.
        set_itimer(Duration::from_nanos(due - now));
    }
    if ACTION.load(Ordering::SeqCst) == SET {
        // SAFETY: `PREVIOUS` was written before `SET` was stored; the
        // previous action is called as the kernel would have, in the form
        // its flags say.
        unsafe {
            let previous = &*(*PREVIOUS.0.get()).as_ptr();
            let handler = previous.sa_sigaction;
            if handler != libc::SIG_DFL && handler != libc::SIG_IGN {
                if previous.sa_flags & libc::SA_SIGINFO != 0 {
                    let action: SigInfoAction = std::mem::transmute(handler);
                    action(sig, info, context);
                } else {
                    let action: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
                    action(sig);
                }
            }
        }
    }
    super::errno::set(errno);
}
