//! The lock-free heart of the registry: one slot per cleanup, and one atomic
//! word per slot that decides, once, who runs it.
//!
//! This is the crate's only module with `unsafe` beyond syscalls. Its
//! protocol is model-checked with loom (`tests` below, under `--cfg loom`),
//! where the atomics and cells come from loom's shim instead of `std`.
//!
//! # The protocol
//!
//! ```text
//!             arm (the slot's owner thread)        claim (one CAS: Guard::drop,
//!   EMPTY(g) ─────────────────────────────▶ ARMED(g) ──────▶ the drain, disarm, cancel)
//!      ▲                                                        │
//!      │                  release (the claimer, once the        ▼
//!      └────── EMPTY(g+1) ◀─ closure has run or been dropped) CLAIMED(g)
//! ```
//!
//! - Every transition is one atomic operation on the slot's word
//!   (`generation << 3 | kind << 2 | state`); the claim is a compare-exchange
//!   from `ARMED(g)`, so among a drop, a disarm and the drain exactly one wins,
//!   and only the winner touches the closure.
//! - A handle ([`Ticket`]) names its slot *and* generation: once the slot has
//!   been released and armed again for another cleanup, an old handle's claim
//!   fails instead of running someone else's closure.
//! - A loser waits until the word leaves `CLAIMED(g)`: "after `disarm()`
//!   returns, the closure never starts; if the drain had started it, the call
//!   returns once it has finished".
//! - Slots live in chunks that are never freed while the registry lives, so a
//!   scan from another thread never reads freed memory; only the thread that
//!   leases a [`Local`] arms its slots, so arming needs no read-modify-write.
//! - A guard dropped on the thread that made it, while no drain claims, is
//!   claimed without the compare-exchange ([`Lease::claim_own`]): its owner
//!   marks the slot in its list (`dropping`), checks that no drain claims
//!   (`claiming`), and stores `CLAIMED`. The drain sets `claiming` before
//!   its first claim and leaves a marked slot to its owner; the mark and the
//!   flag are a Dekker pair, fenced as the arm and the close are (below).
//!   After an arm's stores, a locked compare-exchange waits for them to
//!   drain from the store buffer: a loop of guards made and dropped took
//!   31 ns with it, 17 ns without.
//! - Closing: once the shutdown has run everything, the registry is closed;
//!   an arm that then sees `closed` (outside a cleanup) is taken back. The
//!   arm's store and the close's store are ordered by a Dekker pair of
//!   fences, asymmetric where the kernel offers `membarrier`: the arming side
//!   pays a compiler fence, the (once per process) closing side the barrier.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::panic::Location;

use self::shim::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, UnsafeCell};

/// A cleanup's closure, kept in the slot itself when it fits in
/// [`JOB_WORDS`] words (no allocation: the usual closure captures a few
/// values or none), else boxed, and the box kept there.
pub(crate) struct Job {
    data: MaybeUninit<[usize; JOB_WORDS]>,
    /// How to call or drop what `data` holds.
    ops: &'static JobOps,
}

/// Room for a closure in the slot: three words, a `String` or a `PathBuf`
/// or three references.
const JOB_WORDS: usize = 3;

struct JobOps {
    /// Moves the closure out of the storage and calls it.
    call: unsafe fn(*mut u8),
    /// Drops the closure in the storage.
    drop: unsafe fn(*mut u8),
}

/// The operations of storage that holds nothing (an empty slot's, or a job
/// already called, dropped or forgotten).
const NONE: JobOps = JobOps {
    call: |_| {},
    drop: |_| {},
};

/// The operations for storage that holds a `T`.
struct Stored<T>(PhantomData<T>);

impl<T: FnOnce()> Stored<T> {
    const OPS: JobOps = JobOps {
        // SAFETY (both): called once, by `Job`, on storage that holds a
        // live `T` (see `Job::new`), which is not used again afterwards.
        call: |data| unsafe { data.cast::<T>().read()() },
        drop: |data| unsafe { data.cast::<T>().drop_in_place() },
    };
}

impl Job {
    /// No closure.
    const EMPTY: Job = Job {
        data: MaybeUninit::uninit(),
        ops: &NONE,
    };

    /// Keeps `f` in place if it fits, else in a box (whose pointer fits).
    #[inline]
    pub(crate) fn new<F: FnOnce() + Send + 'static>(f: F) -> Job {
        if Job::fits::<F>() {
            Job::store(f)
        } else {
            Job::store(Box::new(f))
        }
    }

    const fn fits<T>() -> bool {
        std::mem::size_of::<T>() <= std::mem::size_of::<[usize; JOB_WORDS]>()
            && std::mem::align_of::<T>() <= std::mem::align_of::<usize>()
    }

    #[inline]
    fn store<T: FnOnce() + Send + 'static>(value: T) -> Job {
        assert!(Job::fits::<T>(), "a job's storage holds it");
        let mut data = MaybeUninit::<[usize; JOB_WORDS]>::uninit();
        // SAFETY: the storage is large and aligned enough for a `T` (just
        // checked); it is written once, and owned by the `Job` from here.
        unsafe { data.as_mut_ptr().cast::<T>().write(value) };
        Job {
            data,
            ops: &Stored::<T>::OPS,
        }
    }

    /// Runs the closure (consuming it).
    #[cfg(test)]
    pub(crate) fn call(mut self) {
        self.call_in_place();
    }

    /// Runs the closure where it lies, once: from here on this holds
    /// nothing, also if the closure panics (it was moved out first).
    #[inline]
    fn call_in_place(&mut self) {
        let ops = std::mem::replace(&mut self.ops, &NONE);
        // SAFETY: the storage holds the live closure `ops` was made for, and
        // `self.ops` no longer names it: it is moved out exactly once.
        unsafe { (ops.call)(self.data.as_mut_ptr().cast()) }
    }

    /// Drops the closure where it lies, unrun; from here on this holds
    /// nothing.
    #[inline]
    fn drop_in_place(&mut self) {
        let ops = std::mem::replace(&mut self.ops, &NONE);
        // SAFETY: as in `call_in_place`, dropped exactly once.
        unsafe { (ops.drop)(self.data.as_mut_ptr().cast()) }
    }

    /// Lets the closure go, neither run nor dropped (the parent's, in the
    /// child of a `fork`).
    #[cfg(not(loom))]
    fn forget(&mut self) {
        self.ops = &NONE;
    }
}

impl Drop for Job {
    #[inline]
    fn drop(&mut self) {
        self.drop_in_place();
    }
}

// SAFETY: a `Job` only ever holds an `F: Send` or a `Box` of one.
unsafe impl Send for Job {}

/// Slots per chunk: a chunk is allocated when a thread holds this many
/// cleanups at once, and kept.
#[cfg(not(loom))]
const CHUNK: usize = 32;
#[cfg(loom)]
const CHUNK: usize = 2;

const EMPTY: u64 = 0;
const ARMED: u64 = 1;
const CLAIMED: u64 = 2;
const STATE: u64 = 0b11;
const FINALIZER_BIT: u64 = 0b100;
const GEN_SHIFT: u32 = 3;

/// Whether a cleanup came from `guard` or `on_exit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Guard,
    Finalizer,
}

fn word(generation: u64, kind: Kind, state: u64) -> u64 {
    let kind = match kind {
        Kind::Guard => 0,
        Kind::Finalizer => FINALIZER_BIT,
    };
    generation << GEN_SHIFT | kind | state
}

fn generation(word: u64) -> u64 {
    word >> GEN_SHIFT
}

fn kind(word: u64) -> Kind {
    if word & FINALIZER_BIT == 0 {
        Kind::Guard
    } else {
        Kind::Finalizer
    }
}

/// One cleanup's place.
pub(crate) struct Slot {
    word: AtomicU64,
    /// Creation order across threads, for the drain's newest-first order.
    seq: AtomicU64,
    /// Where it was made, for the log. Always a `&'static Location`.
    at: AtomicPtr<Location<'static>>,
    /// The list it belongs to: set when its chunk is made, never changed.
    owner: AtomicPtr<Local>,
    /// While it is claimed, an address on the claiming thread's stack (see
    /// [`Found::mine`]), else 0: so a thread that ends the process from
    /// inside a cleanup is not waited for by its own end.
    claimer: AtomicUsize,
    /// Written by the owner while the slot is `EMPTY` and leased to it; taken
    /// by the winner of the claim. Nobody else touches it.
    job: UnsafeCell<Job>,
}

// SAFETY: `job` is only accessed by the thread that owns the slot's state at
// that moment (the arming leaseholder while EMPTY, the claimer while CLAIMED),
// and ownership passes through the slot's atomic word with Release/Acquire.
unsafe impl Sync for Slot {}
// SAFETY: as above; a `Job` is `Send`.
unsafe impl Send for Slot {}

impl Slot {
    fn new() -> Self {
        Slot {
            word: AtomicU64::new(EMPTY),
            seq: AtomicU64::new(0),
            at: AtomicPtr::new(std::ptr::null_mut()),
            owner: AtomicPtr::new(std::ptr::null_mut()),
            claimer: AtomicUsize::new(0),
            job: UnsafeCell::new(Job::EMPTY),
        }
    }

    /// Its owner is claiming it for its own drop ([`Lease::claim_own`]):
    /// as good as claimed. Acquire: a cleared mark shows the claim made
    /// before it.
    fn claimed_by_owner(&self) -> bool {
        // SAFETY: `owner` is null or a leaked `Local`, set before the
        // chunk was published and never freed while the registry lives.
        let Some(owner) = (unsafe { self.owner.load(Ordering::Relaxed).as_ref() }) else {
            return false;
        };
        std::ptr::eq(owner.dropping.load(Ordering::Acquire), self)
    }

    fn location(&self) -> Option<&'static Location<'static>> {
        let at = self.at.load(Ordering::Relaxed);
        // SAFETY: `at` only ever holds null or a pointer made from a
        // `&'static Location`, which lives for the whole program.
        unsafe { at.as_ref() }
    }
}

struct Chunk {
    slots: [Slot; CHUNK],
    next: AtomicPtr<Chunk>,
}

impl Chunk {
    fn new() -> Box<Self> {
        Box::new(Chunk {
            slots: std::array::from_fn(|_| Slot::new()),
            next: AtomicPtr::new(std::ptr::null_mut()),
        })
    }

    /// Marks its slots as `owner`'s, before the chunk is published.
    fn own(&self, owner: &Local) {
        for slot in &self.slots {
            slot.owner
                .store(owner as *const Local as *mut Local, Ordering::Relaxed);
        }
    }
}

/// A thread's slots. Leased by one thread at a time (a finished thread's
/// list goes to the next thread), never freed while the registry lives.
pub(crate) struct Local {
    first: Box<Chunk>,
    /// The next list in the registry's list of all lists.
    next: AtomicPtr<Local>,
    leased: AtomicBool,
    /// Slots known to be `EMPTY`: the leaseholder's alone.
    free: UnsafeCell<Vec<&'static Slot>>,
    /// The slot the leaseholder is claiming for its own drop without a
    /// compare-exchange ([`Lease::claim_own`]), from before it checks that
    /// no drain claims yet until it has marked the slot claimed; else null.
    dropping: AtomicPtr<Slot>,
}

// SAFETY: `free` is only touched by the leaseholder; the lease passes between
// threads through `leased` with Release/Acquire.
unsafe impl Sync for Local {}
// SAFETY: as above.
unsafe impl Send for Local {}

impl Local {
    fn chunks(&self) -> impl Iterator<Item = &Chunk> {
        let mut chunk: Option<&Chunk> = Some(&self.first);
        std::iter::from_fn(move || {
            let this = chunk?;
            let next = this.next.load(Ordering::Acquire);
            // SAFETY: `next` is null or a leaked chunk, published with Release
            // after it was fully built, and never freed while `self` lives.
            chunk = unsafe { next.as_ref() };
            Some(this)
        })
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.chunks().flat_map(|chunk| chunk.slots.iter())
    }
}

/// The registry: every thread's slots, and whether it is closed.
pub(crate) struct Slots {
    head: AtomicPtr<Local>,
    closed: AtomicBool,
    /// A claimer other than a slot's owner may be at work (the drain): an
    /// owner's own drop then claims with a compare-exchange too.
    claiming: AtomicBool,
}

impl Slots {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        Slots {
            head: AtomicPtr::new(std::ptr::null_mut()),
            closed: AtomicBool::new(false),
            claiming: AtomicBool::new(false),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        Slots {
            head: AtomicPtr::new(std::ptr::null_mut()),
            closed: AtomicBool::new(false),
            claiming: AtomicBool::new(false),
        }
    }

    fn locals(&self) -> impl Iterator<Item = &'static Local> {
        let mut local = self.head.load(Ordering::Acquire);
        std::iter::from_fn(move || {
            // SAFETY: the list holds leaked `Local`s, each published with
            // Release after it was built, never freed.
            let this: &'static Local = unsafe { local.as_ref()? };
            local = this.next.load(Ordering::Acquire);
            Some(this)
        })
    }

    /// A list of slots for the calling thread: a free one, or a new one.
    /// The caller keeps the [`Lease`] on its thread and gives it back with
    /// [`Lease::release`] when the thread ends.
    pub(crate) fn lease(&'static self) -> Lease {
        barrier::leasing();
        for local in self.locals() {
            if local
                .leased
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Lease(local, PhantomData);
            }
        }
        let local: &'static Local = Box::leak(Box::new(Local {
            first: Chunk::new(),
            next: AtomicPtr::new(std::ptr::null_mut()),
            leased: AtomicBool::new(true),
            free: UnsafeCell::new(Vec::new()),
            dropping: AtomicPtr::new(std::ptr::null_mut()),
        }));
        local.first.own(local);
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            local.next.store(head, Ordering::Relaxed);
            let new = local as *const Local as *mut Local;
            match self
                .head
                .compare_exchange(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return Lease(local, PhantomData),
                Err(current) => head = current,
            }
        }
    }

    /// Every cleanup armed or running right now, in no particular order.
    pub(crate) fn scan(&self) -> Vec<Found> {
        let mut found = Vec::new();
        // Asked only if some slot is claimed: it may read /proc (the main
        // thread's stack), too slow for every scan.
        let mut stack = None;
        for local in self.locals() {
            for slot in local.slots() {
                let word = slot.word.load(Ordering::Acquire);
                let state = match word & STATE {
                    ARMED if slot.claimed_by_owner() => State::Claimed,
                    ARMED => State::Armed,
                    CLAIMED => State::Claimed,
                    _ => continue,
                };
                found.push(Found {
                    ticket: Ticket {
                        slot: slot_ref(slot),
                        generation: generation(word),
                    },
                    kind: kind(word),
                    at: slot.location(),
                    state,
                    mine: state == State::Claimed
                        && stack.get_or_insert_with(my_stack).as_ref().is_some_and(
                            |stack: &std::ops::Range<usize>| {
                                stack.contains(&slot.claimer.load(Ordering::Relaxed))
                            },
                        ),
                });
            }
        }
        found
    }

    /// Whether any slot holds a cleanup (armed or claimed): a scan that
    /// stops at the first.
    pub(crate) fn any(&self) -> bool {
        self.locals().any(|local| {
            local
                .slots()
                .any(|slot| slot.word.load(Ordering::Acquire) & STATE != EMPTY)
        })
    }

    /// The drain's scan: the armed cleanups as compact entries, by kind,
    /// each split by `made_late` (those left out with `cut`); the claimed
    /// ones in full, as [`Slots::scan`] gives them. The finalizers are only
    /// counted while a guard is armed (they run after every guard): before
    /// the close (when the drain's first scan finds the guards of a
    /// program still running), a second pass collects them when no guard
    /// is; once closed (when guards are rare: only cleanups make them), one
    /// pass collects both, and drops the finalizers if a guard was found.
    ///
    /// `spare` is an empty list to fill first (the last batch's): memory
    /// already touched, where a fresh allocation's page faults would cost
    /// about as much as the rest of the pass.
    pub(crate) fn sweep(
        &self,
        made_late: impl Fn(u64) -> bool,
        cut: bool,
        spare: Vec<Entry>,
    ) -> Sweep {
        let mut sweep = Sweep::default();
        #[cfg(not(loom))]
        let spare = match spare.capacity() {
            0 => scratch::take(),
            _ => spare,
        };
        if self.closed.load(Ordering::Relaxed) {
            sweep.finalizers.early = spare;
            self.pass(&made_late, cut, &mut sweep, Pass::Both);
            if !sweep.guards.is_empty() {
                sweep.finalizers = Armed::default();
            }
            return sweep;
        }
        sweep.guards.early = spare;
        self.pass(&made_late, cut, &mut sweep, Pass::Guards);
        if sweep.guards.is_empty() && sweep.finalizers_armed > 0 {
            sweep.finalizers.early = std::mem::take(&mut sweep.guards.early);
            self.pass(&made_late, cut, &mut sweep, Pass::Finalizers);
        }
        sweep
    }

    /// One pass of [`Slots::sweep`]: see [`Pass`].
    fn pass(&self, made_late: &impl Fn(u64) -> bool, cut: bool, sweep: &mut Sweep, what: Pass) {
        let mut stack = None;
        for local in self.locals() {
            for slot in local.slots() {
                let word = slot.word.load(Ordering::Acquire);
                let state = match word & STATE {
                    ARMED if slot.claimed_by_owner() => CLAIMED,
                    state => state,
                };
                let kind = kind(word);
                let (count, collect) = match (state, kind, what) {
                    (ARMED, Kind::Finalizer, Pass::Guards) => (true, false),
                    (ARMED, Kind::Finalizer, Pass::Both) => (true, true),
                    (ARMED, Kind::Guard, Pass::Guards | Pass::Both)
                    | (ARMED, Kind::Finalizer, Pass::Finalizers) => (false, true),
                    (CLAIMED, _, Pass::Guards | Pass::Both) => {
                        sweep
                            .claimed
                            .push(claimed(slot_ref(slot), word, &mut stack));
                        (false, false)
                    }
                    _ => (false, false),
                };
                if count || collect {
                    let seq = slot.seq.load(Ordering::Relaxed);
                    let late = made_late(seq);
                    if count && (!late || !cut) {
                        sweep.finalizers_armed += 1;
                        sweep.finalizers_early += usize::from(!late);
                    }
                    if collect {
                        let armed = match kind {
                            Kind::Guard => &mut sweep.guards,
                            Kind::Finalizer => &mut sweep.finalizers,
                        };
                        let list = match late {
                            false => &mut armed.early,
                            true if cut => continue,
                            true => &mut armed.late,
                        };
                        list.push(Entry {
                            seq,
                            ticket: Ticket {
                                slot: slot_ref(slot),
                                generation: generation(word),
                            },
                        });
                    }
                }
            }
        }
    }

    /// The claimed cleanups alone (few, against the armed).
    pub(crate) fn claimed(&self) -> Vec<Found> {
        let mut found = Vec::new();
        let mut stack = None;
        for local in self.locals() {
            for slot in local.slots() {
                let word = slot.word.load(Ordering::Acquire);
                if word & STATE == CLAIMED {
                    found.push(claimed(slot_ref(slot), word, &mut stack));
                }
            }
        }
        found
    }

    /// From now on the owners' drops claim with a compare-exchange (see
    /// [`Lease::claim_own`]); once this returns, the caller may claim any
    /// slot: an owner's claim under way is seen (the slot claimed, or its
    /// owner's `dropping`). For the drain, before its first claim.
    pub(crate) fn begin_claims(&self) {
        self.claiming.store(true, Ordering::Relaxed);
        barrier::heavy();
    }

    /// From now on an arm outside a cleanup is taken back. A scan that starts
    /// after this returns sees every arm that was not.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        barrier::heavy();
    }

    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// In a child made by `fork`: the cleanups here belong to the parent.
    /// Forgets every one (their closures are leaked, not run, not dropped:
    /// they hold the parent's resources), and frees the lists of the threads
    /// that do not exist in the child. Runs with one thread alive.
    #[cfg(not(loom))]
    pub(crate) fn forget_all_after_fork(&self, mine: Option<&Lease>) {
        let mine = mine.map(|lease| lease.0);
        for local in self.locals() {
            for slot in local.slots() {
                let word = slot.word.load(Ordering::Relaxed);
                if word & STATE != EMPTY {
                    // SAFETY: the only thread alive; the closure is the
                    // parent's, so it is leaked rather than run or dropped.
                    unsafe { slot.job.with_mut(|job| (*job).forget()) };
                    slot.word
                        .store(next_empty(generation(word)), Ordering::Release);
                }
            }
            // A thread of the parent caught inside `claim_own`.
            local
                .dropping
                .store(std::ptr::null_mut(), Ordering::Relaxed);
            if !mine.is_some_and(|mine| std::ptr::eq(mine, local)) {
                // SAFETY: the only thread alive: no leaseholder is running.
                unsafe { local.free.with_mut(|free| (*free).clear()) };
                local.leased.store(false, Ordering::Release);
            }
        }
        self.closed.store(false, Ordering::Relaxed);
        self.claiming.store(false, Ordering::Relaxed);
    }
}

fn next_empty(generation: u64) -> u64 {
    word(generation + 1, Kind::Guard, EMPTY)
}

/// Extends a slot borrowed from a `'static` list to `'static`.
fn slot_ref(slot: &Slot) -> &'static Slot {
    // SAFETY: every slot lives in a chunk of a leaked `Local` (see `lease`),
    // never freed while the program runs.
    unsafe { &*(slot as *const Slot) }
}

/// A cleanup seen by [`Slots::scan`].
#[derive(Clone, Copy)]
pub(crate) struct Found {
    pub(crate) ticket: Ticket,
    pub(crate) kind: Kind,
    pub(crate) at: Option<&'static Location<'static>>,
    pub(crate) state: State,
    /// Claimed by the calling thread: it is running it (or inside it).
    pub(crate) mine: bool,
}

/// An armed cleanup as the drain orders it: its creation number (with the
/// late bit, see `registry::made_during_shutdown`) and its handle.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) seq: u64,
    pub(crate) ticket: Ticket,
}

/// The armed cleanups of one kind a sweep found: made before the shutdown
/// (`early`), and during it (`late`).
#[derive(Default)]
pub(crate) struct Armed {
    pub(crate) early: Vec<Entry>,
    pub(crate) late: Vec<Entry>,
}

impl Armed {
    pub(crate) fn len(&self) -> usize {
        self.early.len() + self.late.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What [`Slots::sweep`] found.
#[derive(Default)]
pub(crate) struct Sweep {
    pub(crate) guards: Armed,
    /// Collected only when no guard is armed; else empty.
    pub(crate) finalizers: Armed,
    /// How many finalizers the first pass found armed (but the late ones
    /// with `cut`), and how many of those were made before the shutdown.
    pub(crate) finalizers_armed: usize,
    pub(crate) finalizers_early: usize,
    pub(crate) claimed: Vec<Found>,
}

/// What one pass of [`Slots::sweep`] collects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The armed guards and the claimed cleanups; the finalizers counted.
    Guards,
    /// The armed finalizers alone.
    Finalizers,
    /// All of them, the finalizers both counted and collected.
    Both,
}

/// A claimed slot as a scan reports it; `stack` is the calling thread's,
/// asked on first use.
fn claimed(
    slot: &'static Slot,
    word: u64,
    stack: &mut Option<Option<std::ops::Range<usize>>>,
) -> Found {
    Found {
        ticket: Ticket {
            slot,
            generation: generation(word),
        },
        kind: kind(word),
        at: slot.location(),
        state: State::Claimed,
        mine: stack
            .get_or_insert_with(my_stack)
            .as_ref()
            .is_some_and(|stack| stack.contains(&slot.claimer.load(Ordering::Relaxed))),
    }
}

/// The calling thread's stack, as addresses: a claim records an address in
/// its claimer's frame, so a claim whose address lies here is this
/// thread's. (A claim clears it before the slot is released, so a stale
/// address is never read as a new claim.) Only the rare paths ask.
fn my_stack() -> Option<std::ops::Range<usize>> {
    #[cfg(not(loom))]
    return crate::sys::stack::current();
    #[cfg(loom)]
    None
}

/// What a slot held when scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    /// Waiting to run.
    Armed,
    /// Running (or being disarmed) on some thread.
    Claimed,
}

/// The calling thread's use of a [`Local`]. Not `Send`: only the thread
/// that leased it arms its slots and touches its free list.
#[derive(Clone, Copy)]
pub(crate) struct Lease(&'static Local, PhantomData<*const ()>);

impl Lease {
    /// Arms a free slot with `job`. The caller then checks [`Slots::is_closed`]
    /// through [`Ticket::arm_visible`].
    #[inline]
    pub(crate) fn arm(
        &self,
        kind: Kind,
        seq: u64,
        at: &'static Location<'static>,
        job: Job,
    ) -> Ticket {
        let slot = self.free_slot();
        let current = generation(slot.word.load(Ordering::Relaxed));
        slot.seq.store(seq, Ordering::Relaxed);
        slot.at
            .store(at as *const Location<'static> as *mut _, Ordering::Relaxed);
        // SAFETY: the slot is EMPTY and was handed to this leaseholder alone
        // by `free_slot`: no other thread touches its job until the Release
        // store below publishes it as ARMED.
        unsafe { slot.job.with_mut(|cell| *cell = job) };
        slot.word
            .store(word(current, kind, ARMED), Ordering::Release);
        Ticket {
            slot,
            generation: current,
        }
    }

    /// Whether `ticket`'s slot belongs to this lease.
    #[inline]
    pub(crate) fn holds(&self, ticket: &Ticket) -> bool {
        std::ptr::eq(self.0, ticket.slot.owner.load(Ordering::Relaxed))
    }

    /// Claims `ticket`, a slot of this lease, for this thread's own drop
    /// without a compare-exchange: while no drain claims ([`Slots::begin_claims`]
    /// not called), the drop is the only claimer of a guard's slot, so a
    /// mark, a check and a plain store do. The mark and the drain's flag
    /// are a Dekker pair (a compiler fence here, `membarrier` there, as for
    /// the arm): either this sees the flag and returns `None` (the caller
    /// then claims with [`Ticket::claim`]), or the drain sees the mark, or
    /// the slot claimed, and leaves it to its owner.
    #[inline]
    pub(crate) fn claim_own(&self, registry: &Slots, ticket: &Ticket) -> Option<Claimed> {
        let slot = ticket.slot;
        self.0
            .dropping
            .store(slot as *const Slot as *mut Slot, Ordering::Relaxed);
        barrier::light();
        let armed = word(ticket.generation, Kind::Guard, ARMED);
        if registry.claiming.load(Ordering::Relaxed) || slot.word.load(Ordering::Relaxed) != armed {
            self.0
                .dropping
                .store(std::ptr::null_mut(), Ordering::Relaxed);
            return None;
        }
        slot.word.store(armed & !STATE | CLAIMED, Ordering::Relaxed);
        let frame = 0u8;
        slot.claimer
            .store(std::ptr::addr_of!(frame) as usize, Ordering::Relaxed);
        // Release: a drain that reads the mark cleared sees the slot claimed.
        self.0
            .dropping
            .store(std::ptr::null_mut(), Ordering::Release);
        Some(Claimed { ticket: *ticket })
    }

    /// Gives back a slot this thread has just released itself (see
    /// [`Claimed`]); the caller must have checked [`Lease::holds`].
    #[inline]
    pub(crate) fn give_back(&self, ticket: &Ticket) {
        // SAFETY: the leaseholder's own list, touched by no other thread. The
        // slot was released by this thread's own claim, so it is in no list
        // yet and no rescan (which only runs when the list is empty) added it.
        unsafe { self.0.free.with_mut(|free| (*free).push(ticket.slot)) };
    }

    /// A slot that is EMPTY, taken off this lease's free list; when the list
    /// is empty, found by a scan, or in a new chunk.
    #[inline]
    fn free_slot(&self) -> &'static Slot {
        // SAFETY: the free list is this leaseholder's alone.
        let slot = unsafe { self.0.free.with_mut(|free| (*free).pop()) };
        match slot {
            Some(slot) => slot,
            None => self.refill(),
        }
    }

    /// The free list is empty: finds the slots released elsewhere (by the
    /// drain, or a drop on another thread), or adds a chunk.
    #[cold]
    fn refill(&self) -> &'static Slot {
        // SAFETY: the free list is this leaseholder's alone.
        unsafe {
            self.0.free.with_mut(|free| {
                #[cfg(all(test, not(loom)))]
                growth_tests::RESCANS.with(|n| n.set(n.get() + 1));
                let free = &mut *free;
                let mut last: &Chunk = &self.0.first;
                let mut slots = 0;
                let mut found = Vec::new();
                for chunk in self.0.chunks() {
                    for slot in &chunk.slots {
                        if slot.word.load(Ordering::Acquire) & STATE == EMPTY {
                            found.push(slot_ref(slot));
                        }
                    }
                    slots += CHUNK;
                    last = chunk;
                }
                // Grow until a quarter of all the slots are free (at least
                // one chunk when none is): the next rescan then comes that
                // many arms later, so a thread that keeps many cleanups pays
                // a constant share of a scan per arm, not a whole scan per
                // chunk (100 000 cleanups held took 90 ms, not 3).
                let mut added = Vec::new();
                while found.len() + added.len() * CHUNK == 0
                    || found.len() + added.len() * CHUNK < slots / 4
                {
                    let chunk: &'static Chunk = Box::leak(Chunk::new());
                    chunk.own(self.0);
                    last.next
                        .store(chunk as *const Chunk as *mut Chunk, Ordering::Release);
                    added.push(chunk);
                    last = chunk;
                    slots += CHUNK;
                }
                // Handed out in list order (`pop` takes the last): cleanups
                // made in a row then lie in their creation order, which the
                // drain's sort finds already done.
                for chunk in added.iter().rev() {
                    free.extend(chunk.slots.iter().rev());
                }
                #[cfg(not(loom))]
                scratch::grow(added.len() * CHUNK);
                free.extend(found.iter().rev());
                free.pop().expect("a chunk was just added")
            })
        }
    }
}

impl Lease {
    /// Gives the list back for the next thread (this one is ending).
    pub(crate) fn release(self) {
        self.0.leased.store(false, Ordering::Release);
    }
}

/// Memory for the drain's first list, touched as the registry grows, so
/// that the drain does not fault it in. The drain's first scan lists every
/// armed cleanup (24 bytes each) in memory never used before: 50 000 of
/// them took 0.6 to 0.9 ms of page faults here, a sixth of a drain of
/// 100 000, where growing the registry pays a few nanoseconds per slot.
#[cfg(not(loom))]
mod scratch {
    use std::mem::MaybeUninit;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::Entry;

    /// Slots made so far, in every list.
    static SLOTS: AtomicUsize = AtomicUsize::new(0);
    /// Room for an entry per slot; empty once the drain took it.
    static SCRATCH: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    static TAKEN: AtomicBool = AtomicBool::new(false);

    /// `added` slots were made: the room grows to match, its pages touched.
    /// Never waits: a thread that finds it busy (or a child of `fork` whose
    /// parent held it) leaves the growth to the next one.
    pub(super) fn grow(added: usize) {
        let slots = SLOTS.fetch_add(added, Ordering::Relaxed) + added;
        if TAKEN.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut scratch) = SCRATCH.try_lock() {
            make_room(&mut scratch, slots);
        }
    }

    /// Room for `slots` entries in the empty `scratch`, its pages touched.
    /// It at least doubles when it grows: many threads that each make a
    /// few slots do not copy it each time.
    fn make_room(scratch: &mut Vec<Entry>, slots: usize) {
        if scratch.capacity() >= slots {
            return;
        }
        scratch.reserve(slots.max(2 * scratch.capacity()));
        // One write per page (of 4 KiB or more) faults it in.
        let step = (4096 / std::mem::size_of::<Entry>()).max(1);
        for entry in scratch.spare_capacity_mut().iter_mut().step_by(step) {
            *entry = MaybeUninit::zeroed();
        }
    }

    /// The room, for the drain's first scan (empty if busy or taken).
    pub(super) fn take() -> Vec<Entry> {
        TAKEN.store(true, Ordering::Relaxed);
        SCRATCH
            .try_lock()
            .map(|mut scratch| std::mem::take(&mut *scratch))
            .unwrap_or_default()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_room_grows_to_an_entry_per_slot_and_never_shrinks() {
            let mut scratch = Vec::new();
            make_room(&mut scratch, 1000);
            assert!(scratch.is_empty() && scratch.capacity() >= 1000);
            make_room(&mut scratch, 10);
            assert!(scratch.capacity() >= 1000);
            make_room(&mut scratch, 5000);
            assert!(scratch.capacity() >= 5000);
            let before = scratch.capacity();
            make_room(&mut scratch, before + 1);
            assert!(scratch.capacity() >= 2 * before, "grown by one");
        }
    }
}

/// Names one arming of one slot: a handle's claim to its cleanup.
#[derive(Clone, Copy)]
pub(crate) struct Ticket {
    slot: &'static Slot,
    generation: u64,
}

impl PartialEq for Ticket {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.slot, other.slot) && self.generation == other.generation
    }
}

impl Eq for Ticket {}

impl Ticket {
    /// The Dekker half of arming: `false` if the registry was closed before
    /// this arm became visible to its final scan. Then the caller takes the
    /// arm back with [`Ticket::claim`] (or finds the drain ran it).
    #[inline]
    pub(crate) fn arm_visible(&self, registry: &Slots) -> bool {
        barrier::light();
        !registry.is_closed()
    }

    /// Takes the cleanup for the caller alone; `None` if someone else did
    /// (or it is gone).
    #[inline]
    pub(crate) fn claim(&self) -> Option<Claimed> {
        let armed = self.slot.word.load(Ordering::Relaxed);
        if armed & STATE != ARMED || generation(armed) != self.generation {
            return None;
        }
        if self.slot.claimed_by_owner() {
            // Its owner's drop is claiming it (see `Lease::claim_own`).
            return None;
        }
        self.slot
            .word
            .compare_exchange(
                armed,
                armed & !STATE | CLAIMED,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()?;
        let frame = 0u8;
        let mark = std::ptr::addr_of!(frame) as usize;
        self.slot.claimer.store(mark, Ordering::Relaxed);
        // The claim made this thread the slot's only user until `Claimed`
        // releases it; the Acquire pairs with the arm's Release, so the job
        // written before it is visible. It stays in the slot, and is run or
        // dropped there.
        Some(Claimed { ticket: *self })
    }

    /// Whether the cleanup is still claimed by someone (running, or being
    /// disarmed), so that a caller must wait for it.
    pub(crate) fn is_claimed(&self) -> bool {
        self.slot.word.load(Ordering::Acquire) == self.claimed_word()
    }

    /// Whether the cleanup is still armed: nobody has claimed it yet.
    pub(crate) fn is_armed(&self) -> bool {
        let word = self.slot.word.load(Ordering::Relaxed);
        word & STATE == ARMED && generation(word) == self.generation
    }

    /// Whether this arming is over: run, disarmed, or taken back.
    pub(crate) fn is_released(&self) -> bool {
        generation(self.slot.word.load(Ordering::Acquire)) != self.generation
    }

    fn claimed_word(&self) -> u64 {
        let current = self.slot.word.load(Ordering::Relaxed);
        word(self.generation, kind(current), CLAIMED)
    }

    pub(crate) fn location(&self) -> Option<&'static Location<'static>> {
        self.slot.location()
    }
}

/// A cleanup taken by its claimer: run it or drop it; either way the slot is
/// released when this value is dropped (also by unwinding, so a closure that
/// panics still counts as finished).
pub(crate) struct Claimed {
    ticket: Ticket,
}

impl Claimed {
    #[inline]
    pub(crate) fn ticket(&self) -> Ticket {
        self.ticket
    }

    /// Runs the closure, where it lies in the slot (not copied out). The
    /// slot is released when `self` is dropped, which the caller does once
    /// the closure has returned.
    #[inline]
    pub(crate) fn call(&mut self) {
        // SAFETY: claimed: this thread is the slot's only user until the
        // release in `drop` (see `Ticket::claim`).
        unsafe { self.ticket.slot.job.with_mut(|job| (*job).call_in_place()) }
    }
}

impl Drop for Claimed {
    #[inline]
    fn drop(&mut self) {
        // An unrun closure (disarm, cancel) is dropped before the release, so
        // its captures are gone when the handle's call returns.
        // SAFETY: as in `call`: still this thread's alone.
        unsafe { self.ticket.slot.job.with_mut(|job| (*job).drop_in_place()) };
        self.ticket.slot.claimer.store(0, Ordering::Relaxed);
        self.ticket
            .slot
            .word
            .store(next_empty(self.ticket.generation), Ordering::Release);
    }
}

/// The shim: loom's atomics and cells under `--cfg loom`, std's otherwise.
mod shim {
    #[cfg(loom)]
    pub(crate) use loom::cell::UnsafeCell;
    #[cfg(loom)]
    pub(crate) use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
    };

    #[cfg(not(loom))]
    pub(crate) use std::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering,
    };

    /// `std::cell::UnsafeCell` with loom's access API.
    #[cfg(not(loom))]
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    #[cfg(not(loom))]
    impl<T> UnsafeCell<T> {
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(std::cell::UnsafeCell::new(value))
        }

        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// The fences of the close/arm Dekker pair.
mod barrier {
    #[cfg(not(loom))]
    use std::sync::atomic::{compiler_fence, AtomicBool};

    use super::shim::{fence, Ordering};

    /// The process-wide barrier is registered: the arming side may use a
    /// compiler fence.
    #[cfg(not(loom))]
    static ASYMMETRIC: AtomicBool = AtomicBool::new(false);

    /// Registers for the platform's process-wide barrier (`membarrier(2)`)
    /// so arms pay a compiler fence only. Once per process, before the first
    /// lease; harmless if unavailable.
    ///
    /// Cheap while the process has one thread: Linux then only marks the
    /// process. With a second thread alive it first waits for an RCU grace
    /// period, 10 to 24 ms here, so `#[graceful_main]` registers before
    /// `main`'s body starts any thread (see `registry::prepare`).
    #[cfg(not(loom))]
    pub(crate) fn init() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            if crate::sys::barrier::register() {
                ASYMMETRIC.store(true, Ordering::SeqCst);
            }
        });
    }

    /// The arming side, between its store and its load of `closed`.
    #[inline]
    pub(super) fn light() {
        #[cfg(not(loom))]
        if ASYMMETRIC.load(Ordering::Relaxed) {
            compiler_fence(Ordering::SeqCst);
            return;
        }
        fence(Ordering::SeqCst);
    }

    /// A list was leased: some thread may arm. Until then the closing side
    /// needs no process-wide barrier (a program that never made a cleanup
    /// saves two system calls on its way out).
    #[cfg(not(loom))]
    static LEASED: AtomicBool = AtomicBool::new(false);

    /// Before a list is leased, so before the first arm of its thread.
    /// With [`heavy`]'s, this fence makes a pair: either the closing side
    /// sees the mark (and uses the barrier), or this fence comes after its
    /// fence, and every arm after it sees the registry closed.
    pub(super) fn leasing() {
        #[cfg(not(loom))]
        {
            LEASED.store(true, Ordering::Relaxed);
            fence(Ordering::SeqCst);
        }
    }

    /// The closing side, between its store of `closed` and its scan.
    pub(super) fn heavy() {
        fence(Ordering::SeqCst);
        #[cfg(not(loom))]
        if ASYMMETRIC.load(Ordering::SeqCst) && LEASED.load(Ordering::Relaxed) {
            crate::sys::barrier::heavy();
        }
    }
}

#[cfg(not(loom))]
pub(crate) use barrier::init as init_barrier;

// Loaded (by `lib.rs`) as the crate's only module under loom, so the path
// is relative to this file's directory.
#[cfg(all(test, loom))]
#[path = "slots/tests.rs"]
mod tests;

#[cfg(all(test, not(loom)))]
mod growth_tests {
    use super::*;

    thread_local! {
        /// How many times this thread's lease rescanned its slots.
        pub(super) static RESCANS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[test]
    // A count of scans, not a proof about memory; its registry and chunks
    // are leaked by design, which Miri would report.
    #[cfg_attr(miri, ignore)]
    fn a_thread_that_holds_many_cleanups_rescans_its_slots_rarely() {
        let slots: &'static Slots = Box::leak(Box::new(Slots::new()));
        let lease = slots.lease();
        const HELD: usize = 20_000;
        let tickets: Vec<Ticket> = (0..HELD as u64)
            .map(|seq| lease.arm(Kind::Guard, seq, Location::caller(), Job::new(|| {})))
            .collect();
        let rescans = RESCANS.with(std::cell::Cell::get);
        // Growing by a quarter of all the slots each time: about
        // log(HELD / CHUNK) / log(4/3) rescans (23 here); growing by one
        // chunk a time rescanned once per chunk (625).
        assert!(rescans <= 40, "{rescans} rescans for {HELD} cleanups held");
        // Every slot is a distinct one, still armed.
        assert!(tickets.iter().all(Ticket::is_armed));
        for ticket in &tickets {
            if let Some(claimed) = ticket.claim() {
                drop(claimed);
            }
        }
        lease.release();
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn cleanups_made_in_a_row_lie_in_creation_order() {
        let slots: &'static Slots = Box::leak(Box::new(Slots::new()));
        let lease = slots.lease();
        // Many growths, each of several chunks; then some slots freed and
        // taken again (a rescan finds them).
        let mut tickets: Vec<Ticket> = (0..5_000)
            .map(|seq| lease.arm(Kind::Guard, seq, Location::caller(), Job::new(|| {})))
            .collect();
        for ticket in tickets.drain(1_000..3_000) {
            drop(ticket.claim().expect("armed"));
        }
        tickets.extend(
            (5_000..12_000)
                .map(|seq| lease.arm(Kind::Guard, seq, Location::caller(), Job::new(|| {}))),
        );
        let sweep = slots.sweep(|_| false, false, Vec::new());
        let seqs: Vec<u64> = sweep.guards.early.iter().map(|entry| entry.seq).collect();
        assert_eq!(seqs.len(), 10_000);
        // The drain's sort finds a list in order (with the chunks of a
        // growth handed out last first, it had hundreds of runs).
        let runs = 1 + seqs.windows(2).filter(|pair| pair[0] > pair[1]).count();
        assert!(runs <= 2, "{runs} ascending runs");
        for ticket in &tickets {
            drop(ticket.claim());
        }
        lease.release();
    }

    /// The race of [`Lease::claim_own`] against a drain's first claims, on
    /// real threads (loom proves it: `an_owner_s_drop_without_a_compare_exchange_racing_the_drain_runs_once`).
    #[test]
    #[cfg_attr(miri, ignore)]
    fn an_owner_s_plain_claim_racing_the_drain_runs_once() {
        use std::sync::atomic::AtomicUsize;
        use std::sync::{Arc, Barrier};
        for _ in 0..300 {
            let slots: &'static Slots = Box::leak(Box::new(Slots::new()));
            let runs = Arc::new(AtomicUsize::new(0));
            let lease = slots.lease();
            let tickets: Vec<Ticket> = (0..64)
                .map(|seq| {
                    let runs = Arc::clone(&runs);
                    let job = Job::new(move || {
                        runs.fetch_add(1, Ordering::SeqCst);
                    });
                    lease.arm(Kind::Guard, seq, Location::caller(), job)
                })
                .collect();
            let start = Arc::new(Barrier::new(2));
            let drainer = {
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    slots.begin_claims();
                    let sweep = slots.sweep(|_| false, false, Vec::new());
                    for entry in sweep.guards.early {
                        if let Some(mut claimed) = entry.ticket.claim() {
                            claimed.call();
                        }
                    }
                })
            };
            start.wait();
            for ticket in &tickets {
                match lease.claim_own(slots, ticket).or_else(|| ticket.claim()) {
                    Some(mut claimed) => claimed.call(),
                    None => {
                        while ticket.is_claimed() {
                            std::hint::spin_loop();
                        }
                    }
                }
            }
            drainer.join().unwrap();
            assert_eq!(runs.load(Ordering::SeqCst), 64);
            lease.release();
        }
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn finalizers_are_only_counted_while_a_guard_is_armed() {
        let slots: &'static Slots = Box::leak(Box::new(Slots::new()));
        let lease = slots.lease();
        let arm = |kind, seq| lease.arm(kind, seq, Location::caller(), Job::new(|| {}));
        let late = 1 << 40;
        let finalizers = [
            arm(Kind::Finalizer, 1),
            arm(Kind::Finalizer, 2),
            arm(Kind::Finalizer, late),
        ];
        let guard = arm(Kind::Guard, 3);
        let sweep = slots.sweep(|seq| seq >= late, false, Vec::new());
        assert_eq!(sweep.guards.len(), 1);
        assert!(sweep.finalizers.is_empty());
        assert_eq!((sweep.finalizers_armed, sweep.finalizers_early), (3, 2));
        // Late ones left out are not counted either.
        let cut = slots.sweep(|seq| seq >= late, true, Vec::new());
        assert_eq!((cut.finalizers_armed, cut.finalizers_early), (2, 2));
        drop(guard.claim());
        let sweep = slots.sweep(|seq| seq >= late, false, Vec::with_capacity(8));
        assert!(sweep.guards.is_empty());
        assert_eq!(
            (sweep.finalizers.early.len(), sweep.finalizers.late.len()),
            (2, 1)
        );
        for ticket in &finalizers {
            drop(ticket.claim());
        }
        lease.release();
    }
}

#[cfg(all(test, not(loom)))]
mod job_tests {
    use super::*;
    use std::sync::Arc;

    /// A capture whose drops are counted through the `Arc`.
    fn tracked() -> (Arc<()>, Arc<()>) {
        let counter = Arc::new(());
        (Arc::clone(&counter), counter)
    }

    #[test]
    fn a_small_closure_is_kept_in_place_and_runs_once() {
        let (capture, counter) = tracked();
        let text = String::from("in place");
        assert!(Job::fits::<(Arc<()>, usize)>());
        let job = Job::new(move || {
            assert_eq!(text.len(), 8);
            drop(capture);
        });
        assert_eq!(Arc::strong_count(&counter), 2);
        job.call();
        assert_eq!(Arc::strong_count(&counter), 1, "its captures are gone once");
    }

    #[test]
    fn a_large_closure_is_boxed_and_runs_once() {
        let (capture, counter) = tracked();
        let big = [7u64; 16];
        assert!(!Job::fits::<[u64; 16]>());
        let job = Job::new(move || {
            assert_eq!(big.iter().sum::<u64>(), 112);
            drop(capture);
        });
        job.call();
        assert_eq!(Arc::strong_count(&counter), 1);
    }

    #[test]
    fn a_job_dropped_unrun_drops_its_captures_once() {
        for big in [false, true] {
            let (capture, counter) = tracked();
            let job = if big {
                let pad = [0u8; 64];
                Job::new(move || drop((capture, pad)))
            } else {
                Job::new(move || drop(capture))
            };
            drop(job);
            assert_eq!(Arc::strong_count(&counter), 1, "big: {big}");
        }
    }

    #[test]
    fn a_job_that_panics_drops_its_captures_once() {
        let (capture, counter) = tracked();
        let job = Job::new(move || {
            let _capture = capture;
            panic!("inside the job");
        });
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.call()));
        assert!(result.is_err());
        assert_eq!(Arc::strong_count(&counter), 1);
    }
}
