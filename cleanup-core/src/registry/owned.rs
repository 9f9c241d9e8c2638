//! A guard that owns the value its closure cleans up (`owned_guard`).
//!
//! The value lives behind a mutex shared with an ordinary [`Guard`], whose
//! closure takes it and hands it to the user's. So the exactly-once claim is
//! the guard's own, and the drain can run it from another thread when the
//! owner is stuck: it takes the value, as the owner's drop would have.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};

use super::Guard;
use crate::sync::lock;

/// A guard that owns a value: the program uses the value while it holds the
/// guard, and the closure gets the value when the guard drops — at the end
/// of its scope, while a panic unwinds, or, if the process is shutting down
/// and the owner never gets there (stuck in a call that does not check), from
/// the shutdown drain on another thread. Exactly once, unless disarmed. Made
/// by [`owned_guard`].
///
/// A closure guard made with [`guard`](crate::guard) cannot borrow what it
/// cleans up; this one owns it, as scopeguard's `guard(value, f)` does, and
/// unlike a plain `Drop` it still runs when `main` never returns.
///
/// ```
/// let mut pending = cleanup::owned_guard(Vec::new(), |lines: Vec<String>| {
///     println!("flushing {} lines", lines.len());
/// });
/// if let Some(mut lines) = pending.get() {
///     lines.push("first".to_owned());
/// }
/// drop(pending); // prints "flushing 1 lines"
/// ```
#[must_use = "the guard hands its value to the closure when dropped: bind it to a name, `let pending = owned_guard(..)`; `let _ = owned_guard(..)` does it at once"]
pub struct OwnedGuard<T> {
    guard: Guard,
    value: Arc<Mutex<Option<T>>>,
}

/// Makes an [`OwnedGuard`] that owns `value` and calls `f(value)` when
/// dropped (or from the shutdown drain, if its owner is stuck).
///
/// Here a scratch directory is removed however the scope ends:
///
/// ```
/// use std::path::PathBuf;
///
/// let dir = std::env::temp_dir().join(format!("scratch-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// {
///     let mut scratch = cleanup::owned_guard(dir.clone(), |dir: PathBuf| {
///         let _ = std::fs::remove_dir_all(dir);
///     });
///     if let Some(dir) = scratch.get() {
///         std::fs::write(dir.join("partial"), b"work in progress")?;
///     }
///     assert!(dir.join("partial").exists());
/// }
/// assert!(!dir.exists());
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn owned_guard<T, F>(value: T, f: F) -> OwnedGuard<T>
where
    T: Send + 'static,
    F: FnOnce(T) + Send + 'static,
{
    let value = Arc::new(Mutex::new(Some(value)));
    let shared = Arc::clone(&value);
    // `guard` is `#[track_caller]` too: the log names the user's call site.
    let guard = super::guard(move || {
        // Taken under the lock, handed over outside it: `f` may take as long
        // as it needs without holding anyone up.
        let taken = lock(&shared).take();
        if let Some(value) = taken {
            f(value);
        }
    });
    OwnedGuard { guard, value }
}

impl<T> OwnedGuard<T> {
    /// The value, while the closure has not taken it; `None` once it has
    /// (the drain ran it because the process is ending). Never panics.
    ///
    /// While the returned [`Held`] lives the drain cannot take the value: a
    /// drain that reaches this guard then waits for it within its share of
    /// the deadline, and names the guard as hung if it is not let go in
    /// time. So hold it for a step of work, not across a call that blocks
    /// (a read from the network, a `join`): take it again after.
    ///
    /// ```
    /// let mut counter = cleanup::owned_guard(0_u32, |n| println!("{n} items done"));
    /// for _ in 0..3 {
    ///     if let Some(mut n) = counter.get() {
    ///         *n += 1;
    ///     }
    /// }
    /// assert_eq!(counter.get().map(|n| *n), Some(3));
    /// ```
    pub fn get(&mut self) -> Option<Held<'_, T>> {
        let held = lock(&self.value);
        if held.is_some() {
            Some(Held(held))
        } else {
            None
        }
    }

    /// Disarms the guard: its closure will never run, and the value comes
    /// back, unless the shutdown drain had already handed it to the closure
    /// (then this waits until the closure has finished, and returns `None`).
    ///
    /// ```
    /// let guard = cleanup::owned_guard(String::from("keep me"), |_| unreachable!());
    /// assert_eq!(guard.disarm().as_deref(), Some("keep me"));
    /// ```
    pub fn disarm(self) -> Option<T> {
        let OwnedGuard { guard, value } = self;
        guard.disarm();
        // From here the closure never starts (or has finished): what is left
        // in the cell is ours alone.
        let taken = lock(&value).take();
        taken
    }
}

impl<T> fmt::Debug for OwnedGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedGuard")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

/// Access to the value of an [`OwnedGuard`], from [`OwnedGuard::get`]. Derefs
/// to the value; while it lives, the closure cannot take the value (see
/// [`OwnedGuard::get`] for why not to hold it across a blocking call).
///
/// ```
/// let mut file = cleanup::owned_guard(String::from("draft"), |name| println!("removing {name}"));
/// if let Some(mut name) = file.get() {
///     name.push_str(".txt");
///     assert_eq!(name.as_str(), "draft.txt");
/// }
/// drop(file); // prints "removing draft.txt"
/// ```
pub struct Held<'a, T>(MutexGuard<'a, Option<T>>);

impl<T> Deref for Held<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match &*self.0 {
            Some(value) => value,
            // `get` makes a `Held` only over a value, and only the closure
            // takes it, under this same lock.
            None => unreachable!("an owned guard's value taken while held"),
        }
    }
}

impl<T> DerefMut for Held<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut *self.0 {
            Some(value) => value,
            None => unreachable!("an owned guard's value taken while held"),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Held<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::serial;
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    /// An owned guard whose closure records the value it got.
    fn recorded(value: u32) -> (OwnedGuard<u32>, Arc<Mutex<Vec<u32>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        let guard = owned_guard(value, move |value| lock(&sink).push(value));
        (guard, got)
    }

    /// What the drain does to a guard whose owner is stuck: claims it and
    /// runs its closure, here on another thread. Whether it ran it.
    fn drain_from_another_thread<T>(guard: &OwnedGuard<T>) -> bool {
        let ticket = guard.guard.ticket;
        std::thread::spawn(move || {
            ticket
                .claim()
                .is_some_and(|claimed| super::super::run(claimed).is_ok())
        })
        .join()
        .expect("the drain thread")
    }

    #[test]
    fn the_closure_gets_the_value_once_when_the_guard_drops() {
        let _serial = serial();
        let (mut guard, got) = recorded(1);
        if let Some(mut value) = guard.get() {
            *value += 41;
        }
        assert!(lock(&got).is_empty());
        drop(guard);
        assert_eq!(*lock(&got), [42]);
    }

    #[test]
    fn the_drain_takes_the_value_from_another_thread_and_the_drop_then_does_nothing() {
        let _serial = serial();
        let (mut guard, got) = recorded(7);
        assert!(drain_from_another_thread(&guard));
        assert_eq!(*lock(&got), [7]);
        assert!(guard.get().is_none(), "the value is gone, and no panic");
        drop(guard);
        assert_eq!(*lock(&got), [7], "ran exactly once");
    }

    #[test]
    fn disarm_gives_the_value_back_and_the_closure_never_runs() {
        let _serial = serial();
        let (guard, got) = recorded(3);
        let ticket = guard.guard.ticket;
        assert_eq!(guard.disarm(), Some(3));
        assert!(ticket.claim().is_none(), "disarmed: nothing left to claim");
        assert!(lock(&got).is_empty());
    }

    #[test]
    fn disarm_after_the_drain_ran_it_returns_none() {
        let _serial = serial();
        let (guard, got) = recorded(5);
        assert!(drain_from_another_thread(&guard));
        assert_eq!(guard.disarm(), None);
        assert_eq!(*lock(&got), [5]);
    }

    #[test]
    fn a_panic_while_the_value_is_held_does_not_keep_the_closure_from_it() {
        let _serial = serial();
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        let unwound = std::thread::spawn(move || {
            let mut guard = owned_guard(String::from("x"), move |value| {
                assert_eq!(value, "x!");
                counted.fetch_add(1, SeqCst);
            });
            let mut held = guard.get().expect("the value");
            held.push('!');
            // Poisons the lock while it is held: the guard still drops
            // after `held`, and must not panic a second time on the lock.
            panic!("while holding the value");
        })
        .join();
        assert!(unwound.is_err());
        assert_eq!(runs.load(SeqCst), 1);
    }

    #[test]
    fn a_poisoned_lock_still_gives_access_and_the_value_back() {
        let _serial = serial();
        let mut guard = owned_guard(9_u32, |_| unreachable!());
        std::thread::scope(|scope| {
            let guard = &mut guard;
            let poisoner = scope.spawn(move || {
                let _held = guard.get();
                panic!("poison it");
            });
            assert!(poisoner.join().is_err());
        });
        assert_eq!(guard.get().map(|v| *v), Some(9));
        assert_eq!(guard.disarm(), Some(9));
    }
}
