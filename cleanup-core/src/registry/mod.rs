//! Guards and finalizers: the cleanups that run exactly once.
//!
//! Each cleanup sits in a slot whose one atomic word says who runs it
//! (`slots`): its handle's drop, `disarm`/`cancel`, or the shutdown drain,
//! whichever claims it first; the others wait until it has finished. Guards
//! and finalizers share the mechanism, in per-thread lists, so making one
//! never contends with another thread.

mod owned;
#[allow(unsafe_code)]
mod slots;

use std::cell::Cell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::sync::lock;
use std::time::{Duration, Instant};

pub use owned::{owned_guard, Held, OwnedGuard};
pub(crate) use slots::{Armed, Claimed, Entry, Found, Kind, State, Sweep, Ticket};
use slots::{Lease, Slots};

static REGISTRY: Slots = Slots::new();
/// Creation order across threads: one increment each, so a creation that
/// happens after another (on its thread, or through any synchronization)
/// always gets a larger number. (A load and a store, as before issue 15, was
/// a few ns cheaper with two threads, but a thread preempted between them
/// moved the counter back, and newest-first broke, even on one thread.)
static SEQ: AtomicU64 = AtomicU64::new(0);
/// Guards that ran by their own drop once shutdown had started, and those
/// that panicked there (the end line counts them).
static DROPPED_DURING_SHUTDOWN: AtomicUsize = AtomicUsize::new(0);
/// Guards running by their own drop during a shutdown, and whether the
/// drain is running a finalizer: each side announces itself, then looks at
/// the other (the mutex orders the two), so a guard never starts while a
/// finalizer runs and a finalizer never starts while such a guard runs.
static TURNS: Mutex<Vec<(Ticket, Instant)>> = Mutex::new(Vec::new());
static FINALIZER_RUNNING: AtomicBool = AtomicBool::new(false);
/// How many entries `TURNS` has: the drain reads this, not the lock, before
/// each finalizer (none, nearly always).
static TURNS_TAKEN: AtomicUsize = AtomicUsize::new(0);
static PANICKED_DURING_SHUTDOWN: AtomicUsize = AtomicUsize::new(0);

// What this thread holds of the registry. Plain `const` thread-locals
// without a destructor, so the hot path reads them with no lazy set-up; the
// one with a destructor (which gives the list back when the thread ends) is
// touched once per thread.
thread_local! {
    static LEASE: Cell<Option<Lease>> = const { Cell::new(None) };
    /// This thread is the drain running a finalizer: a guard it drops
    /// inside it runs at once (it is part of that finalizer).
    static IN_FINALIZER: Cell<bool> = const { Cell::new(false) };
    static RELEASE_AT_EXIT: ReleaseAtExit = const { ReleaseAtExit };
}

/// Gives this thread's list back when the thread ends.
struct ReleaseAtExit;

impl Drop for ReleaseAtExit {
    fn drop(&mut self) {
        if let Some(lease) = LEASE.with(Cell::take) {
            lease.release();
        }
    }
}

/// This thread's list of slots, leased on first use.
#[inline]
fn my_lease() -> Lease {
    match LEASE.with(Cell::get) {
        Some(lease) => lease,
        None => new_lease(),
    }
}

/// Readies the registry for the cleanups to come. `#[graceful_main]`
/// calls this while the process still has one thread, before the guardian's
/// launch: the process-wide barrier is registered then for the cost of one
/// system call, where the first cleanup made once other threads run would
/// wait for the kernel's grace period (see `slots::init_barrier`). Without
/// it, the first cleanup does it.
pub(crate) fn prepare() {
    slots::init_barrier();
}

#[cold]
fn new_lease() -> Lease {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        slots::init_barrier();
        crate::runtime::after_fork(forget_all_after_fork);
    });
    let lease = REGISTRY.lease();
    // Kept only if it can be given back when the thread ends; in a
    // thread-local destructor it serves this once and stays leased.
    if RELEASE_AT_EXIT.try_with(|_| ()).is_ok() {
        LEASE.with(|cell| cell.set(Some(lease)));
    }
    lease
}

/// The bit of a cleanup's creation number that says it was made once the
/// shutdown had begun (see [`made_during_shutdown`]).
const LATE_SHIFT: u32 = 63;


#[inline]
fn next_seq() -> u64 {
    SEQ.fetch_add(1, Ordering::Relaxed) + 1
}

/// Arms a slot of this thread's list with `job`. If the registry is already
/// closed (the drain has run the guards it found first, see
/// `shutdown::next_step`) and this is not a cleanup adding another, the call
/// never returns: the process is about to end, and a thread that kept
/// making cleanups now could keep the drain from ever finishing.
#[inline]
fn arm(kind: Kind, at: &'static Location<'static>, job: slots::Job) -> Ticket {
    let late = u64::from(crate::state::is_shutting_down()) << LATE_SHIFT;
    let ticket = my_lease().arm(kind, next_seq() | late, at, job);
    if !ticket.arm_visible(&REGISTRY) {
        closed(ticket);
    }
    ticket
}

/// The registry closed before `ticket`'s arm was seen: unless this is a
/// cleanup adding another (or the thread leaving the process), the arm is
/// taken back and the thread stops here.
#[cold]
fn closed(ticket: Ticket) {
    if crate::exit_status::leaving_here() || in_cleanup() {
        return;
    }
    take_back(&ticket);
    loop {
        std::thread::park();
    }
}

/// Gives the slot of a cleanup this thread has just finished with back to
/// this thread's list, if it is this thread's.
#[inline]
fn give_back(ticket: &Ticket) {
    if let Some(lease) = LEASE.with(Cell::get) {
        if lease.holds(ticket) {
            lease.give_back(ticket);
        }
    }
}

/// `disarm` and `cancel`: the closure is dropped unrun if it is still
/// armed; if someone else claimed it (the drain), waits until it has
/// finished. Either way, once this returns it never starts.
/// Whether it took the cleanup back before it ran (`false`: it had run, or
/// was running and has now finished).
fn take_back(ticket: &Ticket) -> bool {
    match ticket.claim() {
        Some(claimed) => {
            drop(claimed);
            give_back(ticket);
            true
        }
        None => {
            wait_released(ticket);
            false
        }
    }
}

/// Waits until the claimer of `ticket` has finished with it. Never gives
/// up: a claimer that hangs past the deadline is cut short by the end of
/// the process, which this thread then shares.
fn wait_released(ticket: &Ticket) {
    let mut pause = Duration::from_micros(20);
    while ticket.is_claimed() {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// Whether this thread is running a cleanup (its own drop, or the drain's).
/// A scan: for the rare paths (an `exit`, a registration after the close).
pub(crate) fn in_cleanup() -> bool {
    REGISTRY.claimed().iter().any(|found| found.mine)
}

/// The cleanups this thread is running (nested: a cleanup may drop a guard
/// of its own): those an `exit` from inside them ends.
pub(crate) fn mine() -> Vec<Ticket> {
    REGISTRY
        .claimed()
        .into_iter()
        .filter(|found| found.mine)
        .map(|found| found.ticket)
        .collect()
}

/// Runs a claimed cleanup's closure on this thread, marked as a cleanup (so
/// it may add cleanups even after the registry closed), then releases it
/// and gives its slot back. A panic is caught and returned instead of
/// unwinding.
#[inline]
pub(crate) fn run(mut claimed: Claimed) -> Result<(), Box<dyn std::any::Any + Send>> {
    let ticket = claimed.ticket();
    let result = catch_unwind(AssertUnwindSafe(|| claimed.call()));
    drop(claimed);
    give_back(&ticket);
    result
}

/// [`run`] for the drain: the slot is released but not given back to this
/// thread's free list. The process is ending, and the list would only grow (a push each, and its reallocations: a
/// tenth of the time of 50 000 finalizers this thread had made); should a
/// cleanup make another here, the list's refill finds the slot. (Its own
/// body, not a part shared with [`run`]: sharing it changed how a guard's
/// drop was compiled, 3 ns slower.)
pub(crate) fn run_drained(mut claimed: Claimed) -> Result<(), Box<dyn std::any::Any + Send>> {
    let result = catch_unwind(AssertUnwindSafe(|| claimed.call()));
    drop(claimed);
    result
}

/// `guard created at src/main.rs:12:5`: how the log names a cleanup.
#[derive(Clone, Copy)]
pub(crate) struct Name(
    pub(crate) Kind,
    pub(crate) Option<&'static Location<'static>>,
);

impl Name {
    pub(crate) fn of(found: &Found) -> Self {
        Name(found.kind, found.at)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.0 {
            Kind::Guard => "guard created",
            Kind::Finalizer => "finalizer registered",
        };
        match self.1 {
            Some(at) => write!(f, "{what} at {at}"),
            None => f.write_str(what),
        }
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// A closure that runs when this value is dropped — at the end of its scope,
/// while a panic unwinds, or, if the process is shutting down and the scope
/// never ends, from the shutdown drain. Exactly once, unless disarmed.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
/// use std::sync::Arc;
///
/// let cleaned = Arc::new(AtomicBool::new(false));
/// {
///     let flag = cleaned.clone();
///     let _guard = cleanup::guard(move || flag.store(true, SeqCst));
/// }
/// assert!(cleaned.load(SeqCst));
/// ```
///
/// If the drain has already started the closure when the guard is dropped
/// (its thread was late), the drop waits for it to finish. A closure that
/// panics while its thread is already unwinding is contained and named on
/// stderr, not a double panic.
///
/// Made during a shutdown, a guard still runs before the process leaves;
/// but once the drain has run the guards it found when it began, a thread
/// that is not itself running a cleanup and makes a new one (guard or
/// finalizer) is parked in that call for good: the process is about to
/// end, and a thread that kept making cleanups could otherwise hold the
/// drain past its deadline.
///
/// What a guard does not cover: SIGKILL, an OOM kill, power loss; and a
/// second Ctrl-C, which asks for an exit without cleanup.
#[must_use = "the guard runs its closure when dropped: bind it to a name, `let _guard = guard(..)`; `let _ = guard(..)` runs it at once"]
pub struct Guard {
    ticket: Ticket,
}

/// Makes a [`Guard`] that runs `f` when dropped.
///
/// Bind it to a name that lives as long as the work it covers (`let
/// _unlock = …`). `_` is not a name: `let _ = cleanup::guard(f)` drops the
/// guard at once and runs `f` there (`#[graceful_main]` refuses it in
/// `main`).
///
/// ```
/// let lock = std::env::temp_dir().join(format!("guard-doc-{}.lock", std::process::id()));
/// std::fs::write(&lock, b"")?;
/// {
///     let path = lock.clone();
///     let _unlock = cleanup::guard(move || {
///         let _ = std::fs::remove_file(&path);
///     });
///     // Work under the lock: a return, `?`, a panic or a SIGTERM all remove it.
/// }
/// assert!(!lock.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn guard<F>(f: F) -> Guard
where
    F: FnOnce() + Send + 'static,
{
    let ticket = arm(Kind::Guard, Location::caller(), slots::Job::new(f));
    // After the arm: a runtime thread started now finds it at once.
    crate::runtime::ensure();
    Guard { ticket }
}

impl Guard {
    /// Disarms the guard: its closure will never run (it is dropped unrun).
    /// If the shutdown drain has already started it, waits until it has
    /// finished; either way, once this returns the closure never starts.
    ///
    /// ```
    /// let guard = cleanup::guard(|| unreachable!());
    /// guard.disarm();
    /// ```
    pub fn disarm(self) {
        let ticket = self.ticket;
        std::mem::forget(self);
        take_back(&ticket);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // On the thread that made it, until a drain claims: no
        // read-modify-write (see `Lease::claim_own`).
        let own = LEASE
            .with(Cell::get)
            .filter(|lease| lease.holds(&self.ticket))
            .and_then(|lease| lease.claim_own(&REGISTRY, &self.ticket));
        let Some(claimed) = own.or_else(|| self.ticket.claim()) else {
            // The drain took it: it runs there; the scope ends once it has.
            return wait_released(&self.ticket);
        };
        if crate::state::shutting_down_seqcst() {
            return self.drop_during_shutdown(claimed);
        }
        // Always caught (free unless it panics): whether the thread was
        // already unwinding is asked only then (`std::thread::panicking`
        // costs as much as the rest of a guard).
        if let Err(payload) = run(claimed) {
            self.panicked(payload, false);
        }
    }
}

impl Guard {
    /// The drop of a guard once the process is ending: guards and
    /// finalizers take turns, and the end line counts it.
    #[cold]
    #[inline(never)]
    fn drop_during_shutdown(&self, claimed: Claimed) {
        let _turn = GuardsTurn::take(self.ticket);
        if let Err(payload) = run(claimed) {
            self.panicked(payload, true);
        }
        DROPPED_DURING_SHUTDOWN.fetch_add(1, Ordering::Relaxed);
    }
}

/// A guard running by its own drop during a shutdown: while it lives, no
/// finalizer starts; it waits for a finalizer already running (within the
/// deadline).
struct GuardsTurn(Ticket);

impl GuardsTurn {
    fn take(ticket: Ticket) -> GuardsTurn {
        let mut pause = Duration::from_micros(20);
        let since = Instant::now();
        loop {
            lock(&TURNS).push((ticket, since));
            // The Dekker pair with `finalizers_turn`: each side stores, then
            // loads the other's word, both SeqCst: one of them sees the other.
            TURNS_TAKEN.fetch_add(1, Ordering::SeqCst);
            let inside = IN_FINALIZER.with(Cell::get);
            if inside || !FINALIZER_RUNNING.load(Ordering::SeqCst) {
                return GuardsTurn(ticket);
            }
            GuardsTurn::give_back(ticket);
            while FINALIZER_RUNNING.load(Ordering::SeqCst) {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(1));
            }
        }
    }
}

impl GuardsTurn {
    fn give_back(ticket: Ticket) {
        lock(&TURNS).retain(|turn| turn.0 != ticket);
        TURNS_TAKEN.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for GuardsTurn {
    fn drop(&mut self) {
        GuardsTurn::give_back(self.0);
    }
}

/// Since when the guard `ticket` has been running by its own drop during
/// the shutdown; `None` if its drop began before the shutdown did.
pub(crate) fn dropping_since(ticket: Ticket) -> Option<Instant> {
    lock(&TURNS)
        .iter()
        .find(|turn| turn.0 == ticket)
        .map(|turn| turn.1)
}

/// For the drain, before it starts a finalizer: `true` if it may (and from
/// now until [`finalizer_done`], no guard starts by its own drop); `false`
/// while such a guard runs, but for those given up on (`settled`: hung).
pub(crate) fn finalizers_turn(settled: &[Ticket]) -> bool {
    FINALIZER_RUNNING.store(true, Ordering::SeqCst);
    let busy = TURNS_TAKEN.load(Ordering::SeqCst) > 0
        && lock(&TURNS).iter().any(|turn| !settled.contains(&turn.0));
    if busy {
        FINALIZER_RUNNING.store(false, Ordering::SeqCst);
    }
    !busy
}

/// Runs a finalizer the drain claimed (see [`run_drained`]), in its turn.
pub(crate) fn run_finalizer(claimed: Claimed) -> Result<(), Box<dyn std::any::Any + Send>> {
    struct Inside;
    impl Drop for Inside {
        fn drop(&mut self) {
            IN_FINALIZER.with(|inside| inside.set(false));
        }
    }
    IN_FINALIZER.with(|inside| inside.set(true));
    let _inside = Inside;
    run_drained(claimed)
}

/// The finalizer the drain ran (or abandoned) is over.
pub(crate) fn finalizer_done() {
    // Not half of a Dekker pair: a guard waiting for this only loops until
    // it sees it, then takes its turn again.
    FINALIZER_RUNNING.store(false, Ordering::Release);
}

impl Guard {
    /// The closure unwound. `cleanup::exit` inside it during a shutdown ends
    /// the closure (its code is recorded); a panic while the thread already
    /// unwinds is contained and named (a second panic would abort the
    /// process); anything else goes on unwinding as it would have.
    #[cold]
    fn panicked(&self, payload: Box<dyn std::any::Any + Send>, shutting_down: bool) {
        let exit = payload.is::<crate::state::ExitUnwind>();
        if exit && (shutting_down || std::thread::panicking()) {
            return;
        }
        if std::thread::panicking() {
            crate::log::event(
                crate::log::Level::Warn,
                crate::log::Fields::new().cleanup("guard", self.ticket.location()),
                format_args!(
                    "{} panicked: {}",
                    Name(Kind::Guard, self.ticket.location()),
                    panic_message(&*payload)
                ),
            );
            PANICKED_DURING_SHUTDOWN.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if shutting_down {
            PANICKED_DURING_SHUTDOWN.fetch_add(1, Ordering::Relaxed);
        }
        std::panic::resume_unwind(payload)
    }
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("armed", &!self.ticket.is_released())
            .finish()
    }
}

/// A handle on a closure registered with [`on_exit`](crate::on_exit). Dropping the handle does
/// not cancel it; [`Finalizer::cancel`] does.
///
/// ```
/// let dir = std::env::temp_dir();
/// let partial = dir.join(format!("upload-{}.part", std::process::id()));
/// let done = dir.join(format!("upload-{}.done", std::process::id()));
/// std::fs::write(&partial, b"first chunk")?;
/// let path = partial.clone();
/// // However the process ends, a half-written upload does not stay behind…
/// let remove_partial = cleanup::on_exit(move || {
///     let _ = std::fs::remove_file(&path);
/// });
/// std::fs::rename(&partial, &done)?;
/// // …but a finished one does.
/// remove_partial.cancel();
/// # std::fs::remove_file(&done)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Finalizer {
    ticket: Ticket,
    /// The guardian's id of a durable one (`remove_on_exit`, `run_on_exit`);
    /// 0 for a closure.
    durable: u64,
}

/// A finalizer made at `at` (see [`on_exit`](crate::on_exit)); `durable`
/// is the guardian's id of its work (`remove_on_exit`, `run_on_exit`), or 0
/// for a closure: its `cancel` tells the guardian too. Whoever makes one
/// also sees that the process's exit hook is installed.
pub(crate) fn finalizer(
    at: &'static Location<'static>,
    durable: u64,
    f: impl FnOnce() + Send + 'static,
) -> Finalizer {
    let ticket = arm(Kind::Finalizer, at, slots::Job::new(f));
    crate::runtime::ensure();
    Finalizer { ticket, durable }
}

impl Finalizer {
    /// Cancels the finalizer: it will not run. Does nothing if it already
    /// ran; if the shutdown drain has started it, waits until it has
    /// finished. Once this returns, the closure never starts.
    ///
    /// ```
    /// let finalizer = cleanup::on_exit(|| unreachable!());
    /// finalizer.cancel();
    /// ```
    pub fn cancel(self) {
        if take_back(&self.ticket) && self.durable != 0 {
            crate::guardian_link::send(&crate::guardian_link::Record::Cancel(self.durable));
        }
    }
}

impl fmt::Debug for Finalizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finalizer")
            .field("armed", &!self.ticket.is_released())
            .finish()
    }
}

/// Every cleanup armed or running right now.
pub(crate) fn scan() -> Vec<Found> {
    REGISTRY.scan()
}

/// Whether any cleanup is armed or claimed.
pub(crate) fn any() -> bool {
    REGISTRY.any()
}

/// The drain's scan: the armed cleanups by kind, made before the shutdown
/// and during it (those made during it left out with `cut`), and the
/// claimed ones. Those made during it (their creation number has the late
/// bit) the drain runs, newest first as any, only while the time left still
/// covers the cleanups that existed before, which always run.
pub(crate) fn sweep(cut: bool, spare: Vec<Entry>) -> Sweep {
    REGISTRY.sweep(|seq| seq >> LATE_SHIFT == 1, cut, spare)
}

/// Where `entry` stands in creation order: the larger, the newer.
pub(crate) fn creation_order(entry: &Entry) -> u64 {
    entry.seq & !(1 << LATE_SHIFT)
}

/// The drain is about to claim: from now on the owners' drops claim with a
/// compare-exchange too (see `slots::Lease::claim_own`).
pub(crate) fn begin_claims() {
    REGISTRY.begin_claims();
}

/// No cleanup made from now on outside a cleanup is accepted (see [`arm`]:
/// the thread is parked in the call); a scan after this sees every one
/// that was.
pub(crate) fn close() {
    REGISTRY.close();
}

pub(crate) fn dropped_during_shutdown() -> usize {
    DROPPED_DURING_SHUTDOWN.load(Ordering::Relaxed)
}

pub(crate) fn panicked_during_shutdown() -> usize {
    PANICKED_DURING_SHUTDOWN.load(Ordering::Relaxed)
}

/// In the child of a `fork`: the parent's cleanups are not ours to run.
fn forget_all_after_fork() {
    REGISTRY.forget_all_after_fork(LEASE.with(Cell::get).as_ref());
}

#[cfg(test)]
mod tests;
