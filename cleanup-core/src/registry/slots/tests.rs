//! Loom models of the claim protocol: each explores every interleaving of
//! one race (drop vs drain vs disarm vs late registration vs close).
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test -p cleanup-core --lib --release
//! ```

use super::*;
use loom::sync::atomic::AtomicUsize;
use loom::sync::Arc;
use loom::thread;

fn registry() -> &'static Slots {
    Box::leak(Box::new(Slots::new()))
}

/// A closure that counts its runs.
fn counting(runs: &Arc<AtomicUsize>) -> Job {
    let runs = Arc::clone(runs);
    Job::new(move || {
        runs.fetch_add(1, Ordering::SeqCst);
    })
}

/// What the registry's callers do with a claim: run it, then release.
fn run(mut claimed: Claimed) {
    claimed.call();
}

/// What the drain does: claim every armed cleanup it finds and run it.
fn drain(slots: &Slots) {
    for found in slots.scan() {
        if found.state == State::Armed {
            if let Some(claimed) = found.ticket.claim() {
                run(claimed);
            }
        }
    }
}

/// A handle that lost the claim waits for the winner to finish.
fn wait_released(ticket: &Ticket) {
    while ticket.is_claimed() {
        thread::yield_now();
    }
}

/// A guard's drop racing the drain, with the drain's preparation before its
/// first claim and the drop's own claim: the closure runs once, and before
/// the drop returns.
fn drop_racing_the_drain(
    before_claims: fn(&Slots),
    claim: fn(&Slots, &Lease, &Ticket) -> Option<Claimed>,
) {
    loom::model(move || {
        let slots = registry();
        let runs = Arc::new(AtomicUsize::new(0));
        let lease = slots.lease();
        let ticket = lease.arm(Kind::Guard, 1, Location::caller(), counting(&runs));
        let drainer = thread::spawn(move || {
            before_claims(slots);
            drain(slots);
        });
        // Guard::drop: claim and run, or wait for the drain's run.
        match claim(slots, &lease, &ticket) {
            Some(claimed) => run(claimed),
            None => wait_released(&ticket),
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the drop returned before one run"
        );
        drainer.join().unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_drop_racing_the_drain_runs_the_closure_exactly_once() {
    drop_racing_the_drain(|_| {}, |_, _, ticket| ticket.claim());
}

#[test]
fn an_owner_s_drop_without_a_compare_exchange_racing_the_drain_runs_once() {
    drop_racing_the_drain(
        // What the shutdown does before its first claim.
        Slots::begin_claims,
        // On the thread that made it: the plain claim while no drain
        // claims, else the compare-exchange.
        |slots, lease, ticket| lease.claim_own(slots, ticket).or_else(|| ticket.claim()),
    );
}

#[test]
fn after_disarm_returns_the_closure_never_starts() {
    loom::model(|| {
        let slots = registry();
        let disarmed = Arc::new(AtomicUsize::new(0));
        let started = Arc::new(AtomicUsize::new(0));
        let job: Job = {
            let (disarmed, started) = (Arc::clone(&disarmed), Arc::clone(&started));
            Job::new(move || {
                assert_eq!(disarmed.load(Ordering::SeqCst), 0, "started after disarm");
                started.fetch_add(1, Ordering::SeqCst);
            })
        };
        let lease = slots.lease();
        let ticket = lease.arm(Kind::Guard, 1, Location::caller(), job);
        let drainer = thread::spawn(move || drain(slots));
        // Guard::disarm: take it back unrun, or wait for the drain's run.
        match ticket.claim() {
            Some(claimed) => drop(claimed),
            None => wait_released(&ticket),
        }
        disarmed.store(1, Ordering::SeqCst);
        drainer.join().unwrap();
        assert!(started.load(Ordering::SeqCst) <= 1);
    });
}

#[test]
fn a_cleanup_armed_while_the_registry_closes_is_seen_by_the_last_scan() {
    loom::model(|| {
        let slots = registry();
        let runs = Arc::new(AtomicUsize::new(0));
        let armer = {
            let runs = Arc::clone(&runs);
            thread::spawn(move || {
                let lease = slots.lease();
                let ticket = lease.arm(Kind::Finalizer, 1, Location::caller(), counting(&runs));
                if ticket.arm_visible(slots) {
                    return true;
                }
                // Closed first: take it back (or find the drain ran it).
                match ticket.claim() {
                    Some(claimed) => drop(claimed),
                    None => wait_released(&ticket),
                }
                false
            })
        };
        slots.close();
        drain(slots);
        let kept = armer.join().unwrap();
        if kept {
            assert_eq!(runs.load(Ordering::SeqCst), 1, "an accepted arm was missed");
        }
        assert!(runs.load(Ordering::SeqCst) <= 1);
    });
}

#[test]
fn a_stale_handle_never_claims_the_slot_armed_again() {
    loom::model(|| {
        let slots = registry();
        let first = Arc::new(AtomicUsize::new(0));
        let second = Arc::new(AtomicUsize::new(0));
        let lease = slots.lease();
        let old = lease.arm(Kind::Guard, 1, Location::caller(), counting(&first));
        // The drain runs the first cleanup while its handle is elsewhere.
        let stale = thread::spawn(move || old.claim().map(run).is_some());
        drain(slots);
        // The slot comes back free and is armed for another cleanup.
        let new = lease.arm(Kind::Guard, 2, Location::caller(), counting(&second));
        let stale_claimed = stale.join().unwrap();
        if let Some(claimed) = new.claim() {
            run(claimed);
        }
        assert_eq!(first.load(Ordering::SeqCst), 1);
        assert_eq!(second.load(Ordering::SeqCst), 1);
        let _ = stale_claimed;
    });
}

#[test]
fn two_threads_never_share_a_list() {
    loom::model(|| {
        let slots = registry();
        let other = thread::spawn(move || {
            let lease = slots.lease();
            lease.0 as *const Local as usize
        });
        let lease = slots.lease();
        let mine = lease.0 as *const Local as usize;
        assert_ne!(mine, other.join().unwrap());
    });
}
