//! The registry's claims, raced on real threads. The loom models in
//! `slots/tests.rs` explore the same protocol exhaustively.

use super::*;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Barrier, Mutex};

/// How many times a race is tried: Miri (which also runs these tests, to
/// check the registry's lock-free slots) is a thousand times slower.
const TRIES: usize = if cfg!(miri) { 10 } else { 2_000 };

/// A finalizer, as `cleanup::on_exit` makes one (without the exit hook,
/// which these tests do not reach).
#[track_caller]
fn on_exit(f: impl FnOnce() + Send + 'static) -> Finalizer {
    finalizer(Location::caller(), 0, f)
}

/// The registry is global: these tests make cleanups one at a time.
static TEST_LOCK: Mutex<()> = Mutex::new(());

pub(super) fn serial() -> std::sync::MutexGuard<'static, ()> {
    TEST_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the drain does: claims every armed cleanup of `kind`, newest first,
/// and runs it.
fn drain(kind: Kind) -> usize {
    begin_claims();
    let sweep = sweep(false, Vec::new());
    let armed = match kind {
        Kind::Guard => sweep.guards,
        Kind::Finalizer => {
            assert!(sweep.guards.is_empty(), "the guards are drained first");
            sweep.finalizers
        }
    };
    let mut armed = [armed.early, armed.late].concat();
    armed.sort_unstable_by_key(|entry| std::cmp::Reverse(creation_order(entry)));
    armed
        .into_iter()
        .filter_map(|entry| entry.ticket.claim())
        .map(run)
        .filter(Result::is_ok)
        .count()
}

fn counter() -> (Arc<AtomicUsize>, impl Fn() -> Box<dyn FnOnce() + Send>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let make = {
        let runs = Arc::clone(&runs);
        move || -> Box<dyn FnOnce() + Send> {
            let runs = Arc::clone(&runs);
            Box::new(move || {
                runs.fetch_add(1, Ordering::SeqCst);
            })
        }
    };
    (runs, make)
}

#[test]
fn a_guard_runs_exactly_once_when_its_drop_races_the_drain() {
    let _serial = serial();
    for _ in 0..TRIES {
        let (runs, make) = counter();
        let guard = guard(make());
        let barrier = Arc::new(Barrier::new(2));
        let start = Arc::clone(&barrier);
        let dropper = std::thread::spawn(move || {
            start.wait();
            drop(guard);
        });
        barrier.wait();
        drain(Kind::Guard);
        dropper.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn after_disarm_returns_the_closure_never_starts() {
    let _serial = serial();
    for _ in 0..TRIES {
        let (runs, make) = counter();
        let guard = guard(make());
        let barrier = Arc::new(Barrier::new(2));
        let start = Arc::clone(&barrier);
        let disarmed = Arc::new(AtomicBool::new(false));
        let seen = Arc::clone(&disarmed);
        let disarmer = std::thread::spawn(move || {
            start.wait();
            guard.disarm();
            seen.store(true, Ordering::SeqCst);
        });
        barrier.wait();
        let ran = drain(Kind::Guard);
        disarmer.join().unwrap();
        // Either the drain ran it (and disarm waited), or it never runs.
        assert_eq!(runs.load(Ordering::SeqCst), ran);
        assert!(disarmed.load(Ordering::SeqCst));
        assert_eq!(drain(Kind::Guard), 0);
        assert_eq!(runs.load(Ordering::SeqCst), ran);
    }
}

#[test]
fn disarm_waits_for_a_closure_the_drain_has_started() {
    let _serial = serial();
    let finished = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&finished);
    let started = Arc::new(Barrier::new(2));
    let go = Arc::clone(&started);
    let guard = guard(move || {
        go.wait();
        std::thread::sleep(Duration::from_millis(50));
        done.store(true, Ordering::SeqCst);
    });
    let drainer = std::thread::spawn(|| drain(Kind::Guard));
    started.wait();
    guard.disarm();
    assert!(finished.load(Ordering::SeqCst), "disarm returned mid-run");
    assert_eq!(drainer.join().unwrap(), 1);
}

#[test]
fn a_stale_handle_never_claims_the_next_cleanup_in_its_slot() {
    let _serial = serial();
    let (runs, make) = counter();
    let first = guard(make());
    let ticket = first.ticket;
    // The drain runs it; the slot is free again and is reused.
    assert_eq!(drain(Kind::Guard), 1);
    drop(first);
    let (others, make_other) = counter();
    let second = guard(make_other());
    assert!(ticket.claim().is_none());
    drop(second);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(others.load(Ordering::SeqCst), 1);
}

#[test]
fn disarmed_and_cancelled_never_run_and_the_rest_run_newest_first() {
    let _serial = serial();
    let order = Arc::new(Mutex::new(Vec::new()));
    let push = |name: &'static str| {
        let order = Arc::clone(&order);
        move || order.lock().unwrap().push(name)
    };
    let f1 = on_exit(push("f1"));
    let g1 = guard(push("g1"));
    let f2 = on_exit(push("f2"));
    let g2 = guard(push("g2"));
    let g3 = std::thread::spawn({
        let push = push("g3");
        move || guard(push)
    })
    .join()
    .unwrap();
    guard(push("disarmed")).disarm();
    on_exit(push("cancelled")).cancel();
    drain(Kind::Guard);
    drain(Kind::Finalizer);
    assert_eq!(*order.lock().unwrap(), ["g3", "g2", "g1", "f2", "f1"]);
    // The handles find nothing left to run.
    drop((g1, g2, g3, f1, f2));
    assert_eq!(order.lock().unwrap().len(), 5);
}

#[test]
fn many_cleanups_on_one_thread_reuse_their_slots() {
    let _serial = serial();
    let (runs, make) = counter();
    let held: Vec<Guard> = (0..TRIES / 2).map(|_| guard(make())).collect();
    drop(held);
    for _ in 0..TRIES * 5 {
        drop(guard(make()));
    }
    assert_eq!(runs.load(Ordering::SeqCst), TRIES / 2 + TRIES * 5);
    assert_eq!(drain(Kind::Guard), 0);
}
