//! The cleanups one scan found armed, in the order the drain takes them.
//!
//! Newest first; those made once the shutdown had begun ("late": by a
//! thread still running, or from inside a cleanup) are newer than every
//! other of their thread, so they come first. A thread that keeps
//! registering can leave a great many of them, so they sit in a heap, which
//! orders only as many as the time lets run; and they may start only while
//! what is left still keeps, for each cleanup that existed before the
//! shutdown and waits behind them, the reserve a cleanup's share keeps for
//! it (`deadline::RESERVE_EACH`, at most half of what was left when the
//! batch was made): those always run, and a late one never eats the time
//! a slow early one behind it was promised. (A first version kept only
//! what the early ones had taken on average, a few milliseconds each: a
//! slow one behind a flood of late ones then ran out of time, and the
//! quick ones after it never started.)

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::deadline::{Budget, RESERVE_EACH};
use crate::registry::{self, Armed, Entry, Kind};

pub(super) struct Batch {
    /// Guards or finalizers.
    pub(super) kind: Kind,
    late: BinaryHeap<Newest>,
    /// Oldest first: `pop` takes the newest.
    early: Vec<Entry>,
    /// Earlier cleanups waiting behind this batch.
    early_after: usize,
    /// The drain's wrap-up, and the most kept back for the earlier ones
    /// (half of what was left when the batch was made); `None` without a
    /// budget.
    keep_within: Option<(Instant, Duration)>,
}

/// What the drain takes next.
pub(super) enum Next {
    Run(Entry),
    /// The time left is the earlier cleanups' now: these late ones, and
    /// every late one found from now on, are left unrun.
    CutLate(usize),
    Empty,
}

impl Batch {
    pub(super) const EMPTY: Batch = Batch {
        kind: Kind::Guard,
        late: BinaryHeap::new(),
        early: Vec::new(),
        early_after: 0,
        keep_within: None,
    };

    /// The cleanups of one kind that a scan found armed. `early_after`
    /// earlier ones wait behind them (the finalizers behind a batch of
    /// guards).
    pub(super) fn new(
        kind: Kind,
        armed: Armed,
        early_after: usize,
        budget: Option<Budget>,
        now: Instant,
    ) -> Batch {
        let Armed { mut early, late } = armed;
        early.sort_unstable_by_key(registry::creation_order);
        let late: BinaryHeap<Newest> = late.into_iter().map(Newest).collect();
        let keep_within = budget.map(|budget| {
            let end = budget.wrap_up();
            (end, end.saturating_duration_since(now) / 2)
        });
        Batch {
            kind,
            late,
            early,
            early_after,
            keep_within,
        }
    }

    /// The next to run, newest first. A late one only while what is left
    /// still keeps the earlier ones' reserves.
    #[inline]
    pub(super) fn next(&mut self, now: impl FnOnce() -> Instant) -> Next {
        if self.late.is_empty() {
            // Nearly always: no late one, no reserve to keep.
            return self.early.pop().map_or(Next::Empty, Next::Run);
        }
        let waiting = self.early.len() + self.early_after;
        let keep_within = self.keep_within.filter(|_| waiting > 0);
        if let Some((end, most)) = keep_within {
            let keep = RESERVE_EACH
                .saturating_mul(u32::try_from(waiting).unwrap_or(u32::MAX))
                .min(most);
            if now() + keep >= end {
                let cut = self.late.len();
                self.late.clear();
                return Next::CutLate(cut);
            }
        }
        match self.late.pop() {
            Some(Newest(found)) => Next::Run(found),
            None => self.early.pop().map_or(Next::Empty, Next::Run),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.late.len() + self.early.len()
    }

    /// How many are still to run: those not taken meanwhile by their own
    /// drop, disarm or cancel. Counted one by one for a short batch (what a
    /// share's reserve is made of); a long one is taken as it is.
    pub(super) fn waiting(&self) -> usize {
        const COUNTED: usize = 256;
        if self.len() > COUNTED {
            return self.len();
        }
        let armed = |entry: &Entry| entry.ticket.is_armed();
        self.late.iter().filter(|newest| armed(&newest.0)).count()
            + self.early.iter().filter(|found| armed(found)).count()
    }

    /// The batch's list, emptied, for the next scan to fill.
    pub(super) fn take_list(&mut self) -> Vec<Entry> {
        let mut list = std::mem::take(&mut self.early);
        list.clear();
        list
    }

    pub(super) fn clear(&mut self) {
        *self = Batch::EMPTY;
    }
}

/// A heap entry: the newest on top.
struct Newest(Entry);

impl PartialEq for Newest {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Newest {}

impl PartialOrd for Newest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Newest {
    fn cmp(&self, other: &Self) -> Ordering {
        registry::creation_order(&self.0).cmp(&registry::creation_order(&other.0))
    }
}
