//! How the timeout is shared between the body, each cleanup, and the exit.
//!
//! `timeout` is the grace period the orchestrator gives (docker's 10 s,
//! Kubernetes' `terminationGracePeriodSeconds`): from the first signal the
//! process is gone by `timeout` minus a safety margin, so it ends before the
//! orchestrator's SIGKILL even when a cleanup hangs. The body may use all of
//! that but a share kept for the cleanups; each cleanup may use what is left
//! but a small reserve for those still waiting to run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use once_cell::sync::OnceCell;

use crate::sys::clock::monotonic_ns;

/// The configured timeout in ms (the orchestrator's grace period), kept
/// where the signal handler can read it.
static TIMEOUT_MS: AtomicU64 = AtomicU64::new(10_000);
/// When the first handled signal arrived (on `Instant`'s clock, in ns), or
/// 0: the deadline runs from there.
static FIRST_SIGNAL_NS: AtomicU64 = AtomicU64::new(0);

/// Sets the configured timeout (at install).
pub(crate) fn set_timeout(timeout: Duration) {
    let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    TIMEOUT_MS.store(ms, Ordering::SeqCst);
}

/// Lowers the timeout to `limit` if it is longer: the system ends the
/// process that long after the event that starts the shutdown (a
/// console's close on Windows). Called by the handler before its claim.
pub(crate) fn clamp_timeout(limit: Duration) {
    let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    TIMEOUT_MS.fetch_min(ms, Ordering::SeqCst);
}

/// The configured timeout (the orchestrator's grace period).
/// Async-signal-safe.
pub(crate) fn timeout() -> Duration {
    Duration::from_millis(TIMEOUT_MS.load(Ordering::SeqCst))
}

/// The first handled signal arrived now: the deadline runs from here.
/// Called once, by the handler that claimed the shutdown. Async-signal-safe.
pub(crate) fn mark_first_signal() {
    FIRST_SIGNAL_NS.store(monotonic_ns(), Ordering::SeqCst);
}

/// [`mark_first_signal`]'s reading, or 0. Async-signal-safe.
pub(crate) fn first_signal_ns() -> u64 {
    FIRST_SIGNAL_NS.load(Ordering::SeqCst)
}

/// When the first handled signal arrived, if one did.
pub(crate) fn first_signal_at() -> Option<Instant> {
    first_signal_stamp().map(Stamp::instant)
}

/// [`first_signal_at`] as a [`Stamp`]: no `Instant` made. Async-signal-safe.
pub(crate) fn first_signal_stamp() -> Option<Stamp> {
    match first_signal_ns() {
        0 => None,
        at => Some(Stamp(at)),
    }
}

/// A moment on `Instant`'s clock, in nanoseconds (what `monotonic_ns`
/// reads): plain integers, where `Instant`'s arithmetic normalizes a
/// `timespec` at each step. The drain takes the time once per cleanup it
/// starts: that reading and the cleanup's share cost about 12 ns less this
/// way, a fifth of the drain's own work per cleanup. The budget is kept in
/// them too: a shutdown with nothing to run never makes an `Instant`,
/// whose first reading in a process (the C library's clock page and the
/// kernel's data page, both faulted in) cost 5 µs of the way out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(u64);

/// `Instant` and `monotonic_ns` read one clock: a pair read together turns
/// one into the other.
static BASE: OnceCell<(Instant, u64)> = OnceCell::new();

fn base() -> (Instant, u64) {
    *BASE.get_or_init(|| {
        // The pair is read between two readings of the clock: a thread
        // preempted in between (by as long as the scheduler likes) reads it
        // again, so a conversion is off by microseconds at most.
        let read = || {
            let before = monotonic_ns();
            let instant = Instant::now();
            let gap = monotonic_ns().saturating_sub(before);
            (instant, before + gap / 2, gap)
        };
        let mut best = read();
        for _ in 0..7 {
            if best.2 < 20_000 {
                break;
            }
            let again = read();
            if again.2 < best.2 {
                best = again;
            }
        }
        (best.0, best.1)
    })
}

impl Stamp {
    /// The clock's zero: before any time this process reads.
    pub(crate) const ZERO: Stamp = Stamp(0);

    pub(crate) fn now() -> Stamp {
        Stamp(monotonic_ns())
    }

    pub(crate) fn of(at: Instant) -> Stamp {
        let (instant, ns) = base();
        match at.checked_duration_since(instant) {
            Some(after) => Stamp(ns.saturating_add(duration_ns(after))),
            None => Stamp(ns.saturating_sub(duration_ns(instant - at))),
        }
    }

    pub(crate) fn instant(self) -> Instant {
        let (instant, ns) = base();
        match self.0.checked_sub(ns) {
            Some(after) => instant + Duration::from_nanos(after),
            None => instant - Duration::from_nanos(ns - self.0),
        }
    }

    /// Its nanoseconds on `monotonic_ns`'s clock.
    pub(crate) fn ns(self) -> u64 {
        self.0
    }

    /// `time` later (saturating).
    fn after(self, time: Duration) -> Stamp {
        Stamp(self.0.saturating_add(duration_ns(time)))
    }

    /// How long after `earlier` this is; zero if it is not after it.
    pub(crate) fn since(self, earlier: Stamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// How long ago this was.
    pub(crate) fn elapsed(self) -> Duration {
        Stamp::now().since(self)
    }
}

fn duration_ns(time: Duration) -> u64 {
    u64::try_from(time.as_nanos()).unwrap_or(u64::MAX)
}

/// The safety margin at the default 10 s timeout; a twentieth of shorter
/// ones (100 ms at 2 s).
const MAX_MARGIN: Duration = Duration::from_millis(500);
/// What each cleanup still to run keeps back from the one running now
/// (and from the late cleanups the drain starts before it, see
/// `shutdown::batch`).
pub(crate) const RESERVE_EACH: Duration = Duration::from_millis(25);
/// The least share a cleanup gets while that much is left: less would
/// abandon even a quick one that the scheduler paused a moment.
const MIN_SHARE: Duration = Duration::from_millis(5);
/// Never less than this kept for the cleanups when the body is stuck.
const MIN_CLEANUP_SHARE: Duration = Duration::from_millis(100);
/// How long before the hard deadline the runtime thread stops the cleanups
/// to say what did not run and leave, so it is gone by the deadline (a
/// fortieth of shorter timeouts); the deadline timer is the backstop.
const MAX_WRAP_UP: Duration = Duration::from_millis(25);

/// How long before the hard deadline the wrap-up starts, for `timeout`.
fn wrap_up_time(timeout: Duration) -> Duration {
    // Asked once per cleanup the drain starts: keep the divisions for the
    // rare short timeouts.
    if timeout >= Duration::from_secs(2) {
        return MAX_WRAP_UP;
    }
    (effective(timeout) / 40).min(MAX_WRAP_UP)
}

/// When the process will be gone, once a shutdown has started: a
/// [`Stamp`]'s nanoseconds plus one (0: not yet). It only moves earlier
/// ([`Budget::capped`]).
static HARD_NS: AtomicU64 = AtomicU64::new(0);

/// The hard deadline of the shutdown, once one has started. Lock-free, so
/// any module may ask while it waits.
pub(crate) fn hard() -> Option<Instant> {
    let ns = HARD_NS.load(Ordering::SeqCst).checked_sub(1)?;
    Some(Stamp(ns).instant())
}

/// Makes `budget`'s hard deadline the process's, unless it already has an
/// earlier one.
fn publish(budget: &Budget) {
    let ns = budget.hard_stamp().0.min(u64::MAX - 1) + 1;
    // Never 0 ("not yet"), and never later than one published before.
    let _ = HARD_NS.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |old| {
        (old == 0 || ns < old).then_some(ns)
    });
}

/// A cleanup's share of `left` (ns) with `after` more waiting: all but a
/// reserve for each of the others; when so little is left that those
/// reserves do not fit, an equal slice (at least a few milliseconds).
fn share(left: u64, after: usize) -> u64 {
    let reserve_each = duration_ns(RESERVE_EACH);
    let after = u64::try_from(after).unwrap_or(u64::MAX);
    let reserve = reserve_each.saturating_mul(after);
    // The usual case, asked once per cleanup: the reserves fit with one
    // more to spare, so all but them is more than an equal slice (and than
    // the least share), and needs no division.
    if left >= reserve.saturating_add(reserve_each) {
        return left - reserve;
    }
    left.saturating_sub(reserve)
        .max(left / after.saturating_add(1))
        .max(left.min(duration_ns(MIN_SHARE)))
}

/// How long after the first signal the process is gone: `timeout` less the
/// safety margin that keeps it ahead of the orchestrator's SIGKILL (500 ms
/// at 10 s; a twentieth of shorter timeouts).
pub(crate) fn effective(timeout: Duration) -> Duration {
    if timeout >= MAX_MARGIN * 20 {
        return timeout - MAX_MARGIN;
    }
    timeout - timeout / 20
}

/// When the process will be gone, once it is shutting down: `timeout` (less
/// a safety margin) after the first signal. `None` while it runs. A program
/// uses it to bound its own waits (a request, a flush) so they end in time.
///
/// ```
/// assert!(cleanup::deadline().is_none()); // not shutting down
/// ```
pub fn deadline() -> Option<Instant> {
    hard().or_else(|| {
        // The signal's timer keeps the deadline before any budget is made.
        let (timeout, at) = (timeout(), first_signal_at()?);
        Some(at + effective(timeout))
    })
}

/// How long after the first signal the body (and the children, which are
/// waited for with it) may take: the effective time less a quarter of it
/// (at least 100 ms, at most all of it), kept for the cleanups.
pub(crate) fn body_time(timeout: Duration) -> Duration {
    let time = effective(timeout);
    time - (time / 4).max(MIN_CLEANUP_SHARE).min(time)
}

/// The shutdown's time, counted from its start, in [`Stamp`]s; what the
/// rest of the crate asks in `Instant`s is turned into them on the way out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    start: Stamp,
    pub(crate) timeout: Duration,
    /// A shorter time the system gave later, from when it gave it (on
    /// Windows, a console's close during a shutdown): the budget then ends
    /// by whichever ends first.
    cap: Option<(Stamp, Duration)>,
    /// [`Budget::wrap_up`], asked once per cleanup: computed once.
    wrap_up: Stamp,
}

impl Budget {
    /// The budget of the shutdown: the first one made is the process's.
    pub(crate) fn new(start: Instant, timeout: Duration) -> Self {
        Budget::from(Stamp::of(start), timeout)
    }

    /// [`Budget::new`] from a [`Stamp`].
    pub(crate) fn from(start: Stamp, timeout: Duration) -> Self {
        let budget = Budget::of(start, timeout, None);
        publish(&budget);
        budget
    }

    fn of(start: Stamp, timeout: Duration, cap: Option<(Stamp, Duration)>) -> Self {
        let mut budget = Budget {
            start,
            timeout,
            cap,
            wrap_up: start,
        };
        budget.wrap_up = Stamp(
            budget
                .hard_stamp()
                .0
                .saturating_sub(duration_ns(wrap_up_time(timeout))),
        );
        budget
    }

    /// This budget, cut to end by `timeout` from `since` (less the margin)
    /// if that is sooner, and published as the process's hard deadline.
    pub(crate) fn capped(self, since: Instant, timeout: Duration) -> Self {
        let since = Stamp::of(since);
        let cap = Budget::from(since, timeout);
        if cap.hard_stamp() >= self.hard_stamp() {
            return self;
        }
        let budget = Budget::of(self.start, self.timeout, Some((since, timeout)));
        publish(&budget);
        budget
    }

    /// The budget of the cap, if there is one.
    fn cap(&self) -> Option<Budget> {
        let (start, timeout) = self.cap?;
        Some(Budget::of(start, timeout, None))
    }

    /// When the shutdown started: the deadline counts from here.
    pub(crate) fn start(&self) -> Instant {
        self.start.instant()
    }

    /// [`Budget::start`] as a [`Stamp`].
    pub(crate) fn start_stamp(&self) -> Stamp {
        self.start
    }

    /// The process is gone by then, whatever hangs: the timeout less its
    /// safety margin.
    pub(crate) fn hard(&self) -> Instant {
        self.hard_stamp().instant()
    }

    /// [`Budget::hard`] as a [`Stamp`].
    pub(crate) fn hard_stamp(&self) -> Stamp {
        let own = self.start.after(effective(self.timeout));
        self.cap().map_or(own, |cap| own.min(cap.hard_stamp()))
    }

    /// Until then the body may finish on its own; after it, the cleanups run
    /// without it. A quarter of the time (at least 100 ms, at most all of
    /// it) is kept for them.
    pub(crate) fn body_until(&self) -> Instant {
        self.body_until_stamp().instant()
    }

    fn body_until_stamp(&self) -> Stamp {
        let own = self.start.after(body_time(self.timeout));
        self.cap().map_or(own, |cap| own.min(cap.body_until_stamp()))
    }

    /// When the runtime thread stops whatever still runs, says so, and
    /// leaves: a moment before [`Budget::hard`], so the process is gone by
    /// then.
    pub(crate) fn wrap_up(&self) -> Instant {
        self.wrap_up.instant()
    }

    /// When a cleanup started at `now`, with `after` more waiting (guards
    /// and finalizers alike), is abandoned: it may use all that is left but
    /// a reserve for the others. When so little is left that those reserves
    /// do not fit, it gets an equal slice of it (at least a few
    /// milliseconds), as each of the others will should it hang too: a row
    /// of cleanups that hang cannot eat the time of those behind them.
    pub(crate) fn cleanup_until(&self, now: Instant, after: usize) -> Instant {
        self.cleanup_until_stamp(Stamp::of(now), after).instant()
    }

    /// [`Budget::cleanup_until`] in [`Stamp`]s, as the drain asks it.
    pub(crate) fn cleanup_until_stamp(&self, now: Stamp, after: usize) -> Stamp {
        let left = self.wrap_up.0.saturating_sub(now.0);
        Stamp(now.0 + share(left, after))
    }

    /// What is left at `now` until [`Budget::hard`].
    pub(crate) fn left(&self, now: Instant) -> Duration {
        self.left_at(Stamp::of(now))
    }

    /// [`Budget::left`] at a [`Stamp`].
    pub(crate) fn left_at(&self, now: Stamp) -> Duration {
        self.hard_stamp().since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_is_gone_before_the_orchestrators_sigkill() {
        let start = Instant::now();
        let docker = Budget::new(start, Duration::from_secs(10));
        assert_eq!(docker.hard() - start, Duration::from_millis(9500));
        let kubernetes = Budget::new(start, Duration::from_secs(30));
        assert_eq!(kubernetes.hard() - start, Duration::from_millis(29_500));
        let short = Budget::new(start, Duration::from_secs(2));
        assert_eq!(short.hard() - start, Duration::from_millis(1900));
    }

    #[test]
    fn a_cap_cuts_the_budget_and_never_lengthens_it() {
        let start = Instant::now();
        let budget = Budget::new(start, Duration::from_secs(30));
        let since = start + Duration::from_secs(1);
        let capped = budget.capped(since, Duration::from_secs(5));
        assert_eq!(capped.hard(), since + Duration::from_millis(4750));
        assert_eq!(capped.body_until(), since + body_time(Duration::from_secs(5)));
        assert_eq!(capped.wrap_up(), capped.hard() - MAX_WRAP_UP);
        // A later, longer limit changes nothing; the start stays the first.
        let same = capped.capped(since, Duration::from_secs(60));
        assert_eq!(same.hard(), capped.hard());
        assert_eq!(same.start(), start);
        // A cap later than the budget's own end changes nothing either.
        let late = budget.capped(start + Duration::from_secs(29), Duration::from_secs(5));
        assert_eq!(late.hard(), budget.hard());
        assert_eq!(late.body_until(), budget.body_until());
    }

    #[test]
    fn the_body_leaves_a_quarter_for_the_cleanups() {
        let start = Instant::now();
        let budget = Budget::new(start, Duration::from_secs(10));
        assert_eq!(budget.hard() - budget.body_until(), Duration::from_millis(2375));
        let tiny = Budget::new(start, Duration::from_millis(50));
        assert_eq!(tiny.body_until(), start);
    }

    #[test]
    fn a_stamp_is_the_instant_it_was_made_from() {
        let now = Instant::now();
        for at in [now, now + Duration::from_millis(1500), now - Duration::from_millis(3)] {
            let back = Stamp::of(at).instant();
            let off = back.max(at) - back.min(at);
            assert!(off < Duration::from_micros(1), "{off:?}");
        }
        // The pair that maps one to the other is two readings in a row.
        let (before, stamp, after) = (Instant::now(), Stamp::now(), Instant::now());
        let slack = 100_000;
        assert!(Stamp::of(before).0 <= stamp.0 + slack && stamp.0 <= Stamp::of(after).0 + slack);
    }

    #[test]
    fn a_share_in_stamps_is_the_share_in_instants() {
        let start = Instant::now();
        let budget = Budget::new(start, Duration::from_secs(10));
        for after in [0, 3, 379, 380, 100_000, usize::MAX] {
            for at in [start, start + Duration::from_millis(9400), budget.hard()] {
                let stamp = budget.cleanup_until_stamp(Stamp::of(at), after);
                let instant = Stamp::of(budget.cleanup_until(at, after));
                assert!(stamp.0.abs_diff(instant.0) <= 1, "{after} {stamp:?} {instant:?}");
            }
        }
    }

    #[test]
    fn a_cleanup_keeps_a_reserve_for_the_others() {
        let start = Instant::now();
        let budget = Budget::new(start, Duration::from_secs(2));
        // The wrap-up: 25 ms before the hard deadline.
        let end = budget.hard() - Duration::from_millis(25);
        assert_eq!(budget.wrap_up(), end);
        // The last one may use everything up to it.
        assert_eq!(budget.cleanup_until(start, 0), end);
        // Three more waiting: 75 ms kept back.
        assert_eq!(
            budget.cleanup_until(start, 3),
            end - Duration::from_millis(75)
        );
        // A hundred more: the reserves do not fit; an equal slice each.
        assert_eq!(
            budget.cleanup_until(start, 100),
            start + (end - start) / 101
        );
        // A million more: still a few milliseconds.
        assert_eq!(
            budget.cleanup_until(start, 1_000_000),
            start + Duration::from_millis(5)
        );
        // A fortieth of a short one: 285 ms / 40.
        let short = Budget::new(start, Duration::from_millis(300));
        assert_eq!(short.hard() - short.wrap_up(), Duration::from_micros(7125));
    }
}
